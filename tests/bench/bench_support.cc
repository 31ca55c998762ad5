#include "tests/bench/bench_support.h"

#include <algorithm>
#include <cstdio>

#include "tests/bench/bench_cleanup.h"

namespace ww::bench {

void Die(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "controlplane_bench: %s\n", message.c_str());
  BenchCleanup::Instance().ExitNow(1);
}

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double Percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

std::string FormatMilliseconds(double milliseconds) {
  char text[32];
  if (milliseconds >= 1000) {
    std::snprintf(text, sizeof text, "%.2f s", milliseconds / 1000);
  } else if (milliseconds < 10) {
    std::snprintf(text, sizeof text, "%.1f ms", milliseconds);
  } else {
    std::snprintf(text, sizeof text, "%.0f ms", milliseconds);
  }
  return text;
}

std::string LatencySummary(const std::vector<double>& milliseconds) {
  if (milliseconds.empty()) return "no samples";
  return "p50 " + FormatMilliseconds(Percentile(milliseconds, 0.5)) + ", p95 " +
         FormatMilliseconds(Percentile(milliseconds, 0.95)) + ", p99 " +
         FormatMilliseconds(Percentile(milliseconds, 0.99)) + ", max " +
         FormatMilliseconds(Percentile(milliseconds, 1.0));
}

}  // namespace ww::bench
