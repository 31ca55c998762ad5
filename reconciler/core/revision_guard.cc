#include "reconciler/core/revision_guard.h"

#include <set>
#include <string>
#include <vector>

namespace ww {
namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) {
    if (!joined.empty()) joined += ", ";
    joined += name;
  }
  return joined;
}

template <typename Resource>
std::vector<std::string> RemovedNames(const std::vector<Resource>& current, const std::vector<Resource>& next) {
  std::set<std::string> kept;
  for (const Resource& resource : next) kept.insert(resource.metadata.name);
  std::set<std::string> removed;  // sorted and deduplicated for a stable message
  for (const Resource& resource : current) {
    if (!kept.contains(resource.metadata.name)) removed.insert(resource.metadata.name);
  }
  return {removed.begin(), removed.end()};
}

}  // namespace

Status CheckDestructiveRevision(const Fleet& current, const Fleet& next, AllowDestructive allow) {
  if (allow == AllowDestructive::kYes) return Status::Ok();
  std::vector<std::string> reasons;
  if (!current.tunnels.empty() && next.tunnels.empty()) {
    reasons.push_back("removes every tunnel (" + JoinNames(RemovedNames(current.tunnels, next.tunnels)) + ")");
  }
  const std::vector<std::string> removed_peers = RemovedNames(current.peers, next.peers);
  if (removed_peers.size() * 2 > current.peers.size()) {
    reasons.push_back("removes " + std::to_string(removed_peers.size()) + " of " +
                      std::to_string(current.peers.size()) + " peers (" + JoinNames(removed_peers) + ")");
  }
  if (reasons.empty()) return Status::Ok();
  std::string message = "refusing a destructive revision: it ";
  for (size_t i = 0; i < reasons.size(); ++i) {
    if (i > 0) message += " and ";
    message += reasons[i];
  }
  message += "; if this is intended, apply again with --allow-destructive";
  return Status::FailedPrecondition(std::move(message));
}

}  // namespace ww
