#include "agent/daemon/system_metrics.h"

#include <sys/statvfs.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <algorithm>
#include <vector>

namespace ww::agent {
namespace {

// /proc files are small; anything larger is not what we expect.
constexpr size_t kMaxProcFile = 1 << 20;

std::string Quoted(std::string_view text) {
  constexpr size_t kMaxQuoted = 80;
  std::string shown(text.substr(0, kMaxQuoted));
  if (text.size() > kMaxQuoted) shown += "...";
  return "\"" + shown + "\"";
}

std::optional<uint64_t> ParseCounter(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t at = 0;
  while (at < line.size()) {
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    size_t start = at;
    while (at < line.size() && line[at] != ' ' && line[at] != '\t') ++at;
    if (at > start) fields.push_back(line.substr(start, at - start));
  }
  return fields;
}

std::string_view FirstLine(std::string_view text) { return text.substr(0, text.find('\n')); }

bool AddWithoutOverflow(uint64_t& sum, uint64_t value) {
  if (sum > std::numeric_limits<uint64_t>::max() - value) return false;
  sum += value;
  return true;
}

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::Unavailable("cannot read " + path);
  std::string text(kMaxProcFile, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(file.gcount()));
  return text;
}

}  // namespace

Result<CpuTimes> ParseProcStat(std::string_view text) {
  std::string_view line = FirstLine(text);
  std::vector<std::string_view> fields = SplitFields(line);
  if (fields.empty() || fields[0] != "cpu") {
    return Status::InvalidArgument("/proc/stat does not start with the \"cpu\" line: " + Quoted(line));
  }
  if (fields.size() < 5) return Status::InvalidArgument("/proc/stat has too few cpu counters: " + Quoted(line));
  constexpr size_t kCounted = 8;  // guest and guest_nice are already inside user and nice
  CpuTimes times;
  uint64_t idle = 0;
  for (size_t index = 1; index < fields.size() && index <= kCounted; ++index) {
    std::optional<uint64_t> value = ParseCounter(fields[index]);
    if (!value) return Status::InvalidArgument("/proc/stat cpu counter " + Quoted(fields[index]) + " is not a number");
    if (!AddWithoutOverflow(times.total, *value)) return Status::InvalidArgument("/proc/stat cpu counters overflow: " + Quoted(line));
    if (index == 4 || index == 5) idle += *value;  // idle, iowait
  }
  times.busy = times.total - idle;
  return times;
}

double CpuPercent(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.busy < before.busy) return 0;
  double busy = static_cast<double>(after.busy - before.busy);
  double total = static_cast<double>(after.total - before.total);
  double percent = std::min(100.0, 100.0 * busy / total);
  return std::round(percent * 10) / 10;
}

Result<MemoryUsage> ParseMeminfo(std::string_view text) {
  std::optional<uint64_t> total_kb;
  std::optional<uint64_t> available_kb;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    std::vector<std::string_view> fields = SplitFields(line);
    if (fields.empty() || (fields[0] != "MemTotal:" && fields[0] != "MemAvailable:")) continue;
    if (fields.size() != 3 || fields[2] != "kB") {
      return Status::InvalidArgument("/proc/meminfo line " + Quoted(line) + " is not \"NAME: VALUE kB\"");
    }
    std::optional<uint64_t> value = ParseCounter(fields[1]);
    constexpr uint64_t kMaxKilobytes = std::numeric_limits<uint64_t>::max() / 1024;
    if (!value || *value > kMaxKilobytes) {
      return Status::InvalidArgument("/proc/meminfo value " + Quoted(fields[1]) + " is not a number of kB");
    }
    (fields[0] == "MemTotal:" ? total_kb : available_kb) = *value;
  }
  if (!total_kb) return Status::InvalidArgument("/proc/meminfo has no MemTotal line");
  if (!available_kb) return Status::InvalidArgument("/proc/meminfo has no MemAvailable line");
  if (*available_kb > *total_kb) {
    return Status::InvalidArgument("/proc/meminfo MemAvailable " + std::to_string(*available_kb) +
                                   " kB is above MemTotal " + std::to_string(*total_kb) + " kB");
  }
  return MemoryUsage{(*total_kb - *available_kb) * 1024, *total_kb * 1024};
}

Result<uint64_t> ParseUptime(std::string_view text) {
  std::vector<std::string_view> fields = SplitFields(FirstLine(text));
  if (fields.size() != 2) return Status::InvalidArgument("/proc/uptime is not two numbers: " + Quoted(FirstLine(text)));
  std::string_view uptime = fields[0];
  std::string_view whole = uptime.substr(0, uptime.find('.'));
  std::optional<uint64_t> seconds = ParseCounter(whole);
  if (seconds && whole.size() < uptime.size()) {
    std::optional<uint64_t> fraction = ParseCounter(uptime.substr(whole.size() + 1));
    if (!fraction) seconds.reset();
  }
  if (!seconds) return Status::InvalidArgument("/proc/uptime value " + Quoted(uptime) + " is not a number of seconds");
  return *seconds;
}

SystemSampler::SystemSampler(std::string disk_path, std::string proc_root)
    : disk_path_(std::move(disk_path)), proc_root_(std::move(proc_root)) {}

Result<SystemMetrics> SystemSampler::Sample() {
  SystemMetrics metrics;
  WW_ASSIGN_OR_RETURN(std::string stat_text, ReadSmallFile(proc_root_ + "/stat"));
  WW_ASSIGN_OR_RETURN(CpuTimes cpu, ParseProcStat(stat_text));
  metrics.cpu_percent = CpuPercent(previous_cpu_.value_or(CpuTimes{}), cpu);
  previous_cpu_ = cpu;

  WW_ASSIGN_OR_RETURN(std::string meminfo_text, ReadSmallFile(proc_root_ + "/meminfo"));
  WW_ASSIGN_OR_RETURN(MemoryUsage memory, ParseMeminfo(meminfo_text));
  metrics.memory_used_bytes = memory.used_bytes;
  metrics.memory_total_bytes = memory.total_bytes;

  WW_ASSIGN_OR_RETURN(std::string uptime_text, ReadSmallFile(proc_root_ + "/uptime"));
  WW_ASSIGN_OR_RETURN(metrics.uptime_seconds, ParseUptime(uptime_text));

  struct statvfs disk{};
  if (::statvfs(disk_path_.c_str(), &disk) != 0) return Status::Unavailable("cannot measure the disk of " + disk_path_);
  uint64_t block = disk.f_frsize != 0 ? disk.f_frsize : disk.f_bsize;
  metrics.disk_total_bytes = static_cast<uint64_t>(disk.f_blocks) * block;
  metrics.disk_used_bytes = static_cast<uint64_t>(disk.f_blocks - std::min(disk.f_blocks, disk.f_bfree)) * block;
  return metrics;
}

}  // namespace ww::agent
