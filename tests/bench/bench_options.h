#pragma once
// controlplane_bench's command line (see controlplane_bench.cc for the usage text).

#include <filesystem>
#include <string>
#include <vector>

#include "tests/bench/agent_pollers.h"
#include "tests/bench/fleet_cache.h"

namespace ww::bench {

enum class BenchMode { kMeasure, kCheck };  // kCheck: the hostile-input checks only (ctest)
enum class AttackMode { kRun, kSkip };
enum class ScaleMode { kRun, kSkip };

struct BenchOptions {
  std::string reconciler;
  BenchMode mode = BenchMode::kMeasure;
  std::vector<int> sizes{1000, 3000, 10000};
  int rounds = 3;
  int idle_seconds = 10;
  ReportMode reports = ReportMode::kNone;
  std::filesystem::path cache_root = "/var/tmp/wirewarp-controlplane-bench";  // "" = no cache
  CacheUse cache_use = CacheUse::kReuse;
  int enroll_threads = 8;
  int enroll_sample = 30;   // agents enrolled into each measured fleet, for the per-agent cost
  ScaleMode scale = ScaleMode::kRun;
  AttackMode attacks = AttackMode::kRun;
  int hostile_connections = 10000;
  int hostile_per_source = 20;
  int attack_seconds = 30;
  int flood_megabytes = 200;
  int latency_requests = 1000;
  // Passed to every reconciler the bench starts, after its own flags.
  std::vector<std::string> reconciler_flags;
  std::filesystem::path scratch;  // this run's directory under /tmp, removed at exit
};

}  // namespace ww::bench
