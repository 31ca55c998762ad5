#pragma once
// The control plane at one fleet size: a reconciler started from the size's cached snapshot,
// every agent long-polling on its own TLS connection, then uploads that change every agent's
// plan. Prints as it goes and returns the figures for the closing summary.

#include <string>
#include <vector>

#include "tests/bench/bench_options.h"
#include "tests/bench/fleet_cache.h"

namespace ww::bench {

struct ScaleFigures {
  int agents = 0;
  double enroll_all_seconds = 0;   // from the cache's build
  bool enrolled_this_run = false;  // false: the cache was warm
  double enroll_sample_ms_per_agent = 0;  // measured into this fleet, this run
  double start_seconds = 0;        // reconciler start on the snapshot
  double connect_seconds = 0;      // until every agent held its plan
  std::vector<double> upload_ms;   // every upload's round trip
  std::vector<double> delivery_ms; // every agent of every round, after its upload was accepted
  double idle_cpu_percent = 0;
  long idle_rss_kb = 0;
  long idle_threads = 0;
  long peak_rss_kb = 0;
  std::vector<double> round_cpu_seconds;  // the reconciler's, per round
  int poll_errors = 0;
};

ScaleFigures RunScale(const BenchOptions& options, const FleetCacheContents& cache, const CachedFleet& fleet,
                      const std::vector<std::string>& reconciler_flags);

}  // namespace ww::bench
