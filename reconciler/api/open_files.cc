#include "reconciler/api/open_files.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace ww {

Result<std::uint64_t> RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Status::Internal(std::string("cannot read the open-file limit: ") + std::strerror(errno));
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

ConnectionBudget FitConnections(std::uint64_t open_files, std::size_t api_requested, std::size_t status_connections) {
  std::uint64_t taken = kReservedDescriptors + status_connections;
  std::uint64_t room = open_files > taken ? open_files - taken : 0;
  ConnectionBudget budget;
  budget.api_connections = api_requested;
  if (api_requested > room) {
    budget.api_connections = static_cast<std::size_t>(std::max<std::uint64_t>(room, 1));
    budget.lowered = true;
  }
  return budget;
}

}  // namespace ww
