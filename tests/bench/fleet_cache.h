#pragma once
// Enrolled fleets for the control-plane bench, kept across runs (default under /var/tmp):
// enrolling 10,000 agents is most of a cold run. Each size is built by its own reconciler:
// its agents enroll concurrently (before any revision, as the issue 4 bench measured them),
// then the fleet naming them all is uploaded, and the data directory is kept as that size's
// snapshot. A run starts one reconciler per size from a copy of the snapshot. The cache holds
// private keys: its directory is 0700. Agent certificates live 30 days, so a cache older than
// kMaxCacheAgeDays is rebuilt, and so is one of another format.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "schema/result.h"
#include "tests/bench/agent_enrollment.h"

namespace ww::bench {

inline constexpr int kFleetCacheFormat = 2;
inline constexpr int64_t kMaxCacheAgeDays = 25;
// The MTU of the revision stored in every snapshot; the bench's own uploads use others.
inline constexpr int kSnapshotMtu = 1380;

enum class CacheUse { kReuse, kRebuild };

struct FleetCacheOptions {
  std::filesystem::path root;  // e.g. /var/tmp/wirewarp-controlplane-bench
  std::vector<int> sizes;      // ascending
  int enroll_threads = 8;
  std::string reconciler;      // the binary that enrolls
  std::vector<std::string> reconciler_flags;
  std::filesystem::path scratch;  // for the enrolling reconciler's log
  CacheUse use = CacheUse::kReuse;
};

struct CachedFleet {
  int agents = 0;
  std::filesystem::path data_dir;  // the snapshot: copy it before starting a reconciler on it
  double enroll_seconds = 0;       // enrolling all `agents` into a new reconciler
  std::vector<AgentIdentity> identities;  // agents 0 .. agents-1
};

struct FleetCacheContents {
  std::vector<CachedFleet> fleets;        // one per size, ascending
  bool built_now = false;                 // false: reused from an earlier run
  int64_t built_at = 0;                   // unix seconds
  int enroll_threads = 0;
  std::filesystem::path directory;
};

// Reuses the cache for exactly these sizes when it is valid, else builds it (printing each
// size's enrollment time as it goes).
Result<FleetCacheContents> PrepareFleetCache(const FleetCacheOptions& options);

}  // namespace ww::bench
