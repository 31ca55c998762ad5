#pragma once
// Small helpers shared by the control-plane bench's files: fatal errors (which stop the
// reconcilers first, bench_cleanup.h), percentiles and latency summaries.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "schema/result.h"

namespace ww::bench {

using Clock = std::chrono::steady_clock;

// Prints "controlplane_bench: MESSAGE", stops every reconciler, removes scratch files, exits 1.
[[noreturn]] void Die(const std::string& message);

template <typename T>
T Must(Result<T> result, const std::string& what) {
  if (!result.ok()) Die(what + ": " + result.status().ToString());
  return std::move(result).value();
}

double MillisecondsSince(Clock::time_point start);
double SecondsSince(Clock::time_point start);

// Nearest-rank percentile of `values` (fraction 0.5 = median, 1.0 = max); 0 when empty.
double Percentile(std::vector<double> values, double fraction);

// "p50 1.2 ms, p95 3.4 ms, p99 5.6 ms, max 7.8 ms" with one decimal below 10 ms.
std::string LatencySummary(const std::vector<double>& milliseconds);

// "12 ms" or "3.4 ms" (one decimal below 10 ms) or "1.23 s" from 1,000 ms on.
std::string FormatMilliseconds(double milliseconds);

}  // namespace ww::bench
