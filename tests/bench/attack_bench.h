#pragma once
// The attack benches against one reconciler with a small fleet and both listeners on:
// API latency on a kept-alive connection, hostile connections while legitimate requests are
// timed, and request floods with the reconciler's RSS rise. Prints as it goes.

#include <vector>
#include <string>

#include "tests/bench/bench_options.h"

namespace ww::bench {

void RunAttacks(const BenchOptions& options, const std::vector<std::string>& reconciler_flags);

}  // namespace ww::bench
