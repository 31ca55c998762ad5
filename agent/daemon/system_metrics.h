#pragma once
// The host figures an agent report carries (API.md "system"): CPU busy share between two
// samples of /proc/stat, memory from /proc/meminfo, disk of the state directory's file
// system (statvfs) and uptime from /proc/uptime. The parsers are pure and refuse text they
// do not understand, quoting it; SystemSampler does the reads. Not thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schema/result.h"

namespace ww::agent {

// Cumulative jiffies from the aggregate "cpu" line of /proc/stat.
struct CpuTimes {
  uint64_t busy = 0;   // total minus idle and iowait
  uint64_t total = 0;  // user nice system idle iowait irq softirq steal (guest is inside user)
  friend bool operator==(const CpuTimes&, const CpuTimes&) = default;
};

// The first line must be "cpu" followed by at least four counters (older kernels print
// fewer than eight; missing ones count as 0).
Result<CpuTimes> ParseProcStat(std::string_view text);

// Busy share in percent between two samples, rounded to one decimal; 0 when the counters did
// not advance or went backwards (a counter reset).
double CpuPercent(const CpuTimes& before, const CpuTimes& after);

struct MemoryUsage {
  uint64_t used_bytes = 0;  // MemTotal - MemAvailable
  uint64_t total_bytes = 0;
  friend bool operator==(const MemoryUsage&, const MemoryUsage&) = default;
};

// Needs "MemTotal:" and "MemAvailable:" lines in kB; refuses MemAvailable above MemTotal.
Result<MemoryUsage> ParseMeminfo(std::string_view text);

// "12345.67 54321.00" -> 12345 (whole seconds since boot).
Result<uint64_t> ParseUptime(std::string_view text);

struct SystemMetrics {
  double cpu_percent = 0;
  uint64_t memory_used_bytes = 0;
  uint64_t memory_total_bytes = 0;
  uint64_t disk_used_bytes = 0;
  uint64_t disk_total_bytes = 0;
  uint64_t uptime_seconds = 0;
  friend bool operator==(const SystemMetrics&, const SystemMetrics&) = default;
};

class SystemSampler {
 public:
  // `disk_path`: a path on the file system to measure (the state directory). `proc_root`
  // is where stat, meminfo and uptime are read (tests point it at a directory of captures).
  explicit SystemSampler(std::string disk_path, std::string proc_root = "/proc");

  // CPU is the share since the previous Sample (since boot on the first call).
  Result<SystemMetrics> Sample();

 private:
  std::string disk_path_;
  std::string proc_root_;
  std::optional<CpuTimes> previous_cpu_;
};

}  // namespace ww::agent
