#pragma once
// For tests of servers running in the test process: this process's resident memory (to bound
// what hostile input costs) and waiting for a condition with a generous limit that only turns
// "never" into a failure (never a timing assertion).

#include <chrono>
#include <cstddef>
#include <functional>

namespace ww::test_support {

// Resident set size of this process in bytes (/proc/self/statm).
std::size_t ResidentBytes();

// Polls `condition` every millisecond until it holds (true) or `limit` passes (false).
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit = std::chrono::seconds(20));

}  // namespace ww::test_support
