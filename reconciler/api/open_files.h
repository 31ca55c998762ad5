#pragma once
// The daemon's open-file budget: every connection holds a descriptor, so the connection caps
// must fit under RLIMIT_NOFILE, which the daemon first raises to its hard limit.

#include <cstddef>
#include <cstdint>

#include "schema/result.h"

namespace ww {

// Descriptors kept for everything but connections: SQLite and its journal, the git source,
// listening sockets, epoll and eventfds, logs, and a margin.
inline constexpr std::uint64_t kReservedDescriptors = 256;

// Raises this process's soft RLIMIT_NOFILE to its hard limit; returns the soft limit now in
// force (the old one when raising failed, which is no error: the caps are fitted to it).
Result<std::uint64_t> RaiseOpenFileLimit();

struct ConnectionBudget {
  std::size_t api_connections = 0;  // what the API may hold
  bool lowered = false;             // below what was asked, to fit the limit
};

// Fits the API's connection cap under `open_files`, after kReservedDescriptors and the
// status listener's own cap (`status_connections`, 0 when it is off). Never below 1.
ConnectionBudget FitConnections(std::uint64_t open_files, std::size_t api_requested, std::size_t status_connections);

}  // namespace ww
