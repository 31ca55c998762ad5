// The daemon's pure pieces: /proc parsers (real captures and hostile text), the backoff
// sequence and its jitter bounds, and a report body's exact JSON.

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/daemon/backoff.h"
#include "agent/daemon/report.h"
#include "agent/daemon/system_metrics.h"
#include "schema/wire_json.h"
#include "tests/support/test_values.h"

namespace ww::agent {
namespace {

using std::chrono::milliseconds;

TEST_CASE("ParseProcStat reads the aggregate cpu line of a real capture") {
  const char* capture =
      "cpu  4705 356 584 3699 23 0 27 5 11 0\n"
      "cpu0 2361 178 292 1849 11 0 13 2 5 0\n"
      "intr 114930548 113199788 3 0 5 263 0 4 [... lots more numbers ...]\n"
      "ctxt 1990473\nbtime 1062191376\n";
  Result<CpuTimes> times = ParseProcStat(capture);
  REQUIRE(times.ok());
  // total = 4705+356+584+3699+23+0+27+5 (guest columns excluded); idle+iowait = 3722.
  CHECK(*times == CpuTimes{5677, 9399});
}

TEST_CASE("ParseProcStat accepts an old kernel's four counters") {
  Result<CpuTimes> times = ParseProcStat("cpu 10 0 10 80\n");
  REQUIRE(times.ok());
  CHECK(*times == CpuTimes{20, 100});
}

TEST_CASE("ParseProcStat refuses hostile text quoting it") {
  CHECK(ParseProcStat("").status().message() == "/proc/stat does not start with the \"cpu\" line: \"\"");
  CHECK(ParseProcStat("cpu0 1 2 3 4\n").status().message() ==
        "/proc/stat does not start with the \"cpu\" line: \"cpu0 1 2 3 4\"");
  CHECK(ParseProcStat("cpu 1 2 3\n").status().message() == "/proc/stat has too few cpu counters: \"cpu 1 2 3\"");
  CHECK(ParseProcStat("cpu 1 -2 3 4\n").status().message() == "/proc/stat cpu counter \"-2\" is not a number");
  CHECK(ParseProcStat("cpu 1 2x 3 4\n").status().message() == "/proc/stat cpu counter \"2x\" is not a number");
  CHECK(ParseProcStat("cpu 99999999999999999999 1 1 1\n").status().message() ==
        "/proc/stat cpu counter \"99999999999999999999\" is not a number");
  CHECK(ParseProcStat("cpu 18446744073709551615 1 1 1\n").status().message() ==
        "/proc/stat cpu counters overflow: \"cpu 18446744073709551615 1 1 1\"");
  std::string long_line = "cpu " + std::string(200, 'x');
  CHECK(ParseProcStat(long_line).status().message() ==
        "/proc/stat has too few cpu counters: \"" + long_line.substr(0, 80) + "...\"");
}

TEST_CASE("CpuPercent is the busy share between samples and 0 when counters do not advance") {
  CHECK(CpuPercent({100, 1000}, {150, 1200}) == 25.0);
  CHECK(CpuPercent({0, 0}, {1, 3}) == 33.3);
  CHECK(CpuPercent({100, 1000}, {100, 1000}) == 0.0);
  CHECK(CpuPercent({100, 1000}, {50, 900}) == 0.0);  // counters reset
  CHECK(CpuPercent({100, 1000}, {90, 1100}) == 0.0);  // busy went backwards
}

TEST_CASE("ParseMeminfo takes MemTotal minus MemAvailable in bytes") {
  const char* capture =
      "MemTotal:        2030964 kB\n"
      "MemFree:          120140 kB\n"
      "MemAvailable:    1437604 kB\n"
      "Buffers:           72772 kB\n"
      "HugePages_Total:       0\n";
  Result<MemoryUsage> memory = ParseMeminfo(capture);
  REQUIRE(memory.ok());
  CHECK(*memory == MemoryUsage{(2030964ull - 1437604ull) * 1024, 2030964ull * 1024});
}

TEST_CASE("ParseMeminfo refuses hostile text quoting it") {
  CHECK(ParseMeminfo("").status().message() == "/proc/meminfo has no MemTotal line");
  CHECK(ParseMeminfo("MemTotal: 10 kB\n").status().message() == "/proc/meminfo has no MemAvailable line");
  CHECK(ParseMeminfo("MemTotal: 10 kB\nMemAvailable: 11 kB\n").status().message() ==
        "/proc/meminfo MemAvailable 11 kB is above MemTotal 10 kB");
  CHECK(ParseMeminfo("MemTotal: 10 MB\n").status().message() ==
        "/proc/meminfo line \"MemTotal: 10 MB\" is not \"NAME: VALUE kB\"");
  CHECK(ParseMeminfo("MemTotal: ten kB\n").status().message() == "/proc/meminfo value \"ten\" is not a number of kB");
  CHECK(ParseMeminfo("MemTotal: 18446744073709551615 kB\n").status().message() ==
        "/proc/meminfo value \"18446744073709551615\" is not a number of kB");
  CHECK(ParseMeminfo("MemTotal:\nMemAvailable: 1 kB\n").status().message() ==
        "/proc/meminfo line \"MemTotal:\" is not \"NAME: VALUE kB\"");
}

TEST_CASE("ParseUptime keeps whole seconds and refuses anything else") {
  Result<uint64_t> uptime = ParseUptime("350735.47 234388.90\n");
  REQUIRE(uptime.ok());
  CHECK(*uptime == 350735);
  CHECK(ParseUptime("").status().message() == "/proc/uptime is not two numbers: \"\"");
  CHECK(ParseUptime("1.5\n").status().message() == "/proc/uptime is not two numbers: \"1.5\"");
  CHECK(ParseUptime("-1.5 2.0\n").status().message() == "/proc/uptime value \"-1.5\" is not a number of seconds");
  CHECK(ParseUptime("1.x 2.0\n").status().message() == "/proc/uptime value \"1.x\" is not a number of seconds");
  CHECK(ParseUptime(". 2.0\n").status().message() == "/proc/uptime value \".\" is not a number of seconds");
}

TEST_CASE("SystemSampler reads the host for real") {
  SystemSampler sampler("/");
  Result<SystemMetrics> first = sampler.Sample();
  REQUIRE_MESSAGE(first.ok(), first.status().message());
  CHECK(first->memory_total_bytes > 0);
  CHECK(first->memory_used_bytes <= first->memory_total_bytes);
  CHECK(first->disk_total_bytes > 0);
  CHECK(first->disk_used_bytes <= first->disk_total_bytes);
  CHECK(first->cpu_percent >= 0.0);
  CHECK(first->cpu_percent <= 100.0);
  CHECK(SystemSampler("/nonexistent-ww-path").Sample().status().message() ==
        "cannot measure the disk of /nonexistent-ww-path");
}

// A random source that hands out the given values in turn.
std::function<double()> Sequence(std::vector<double> values) {
  auto index = std::make_shared<size_t>(0);
  return [values = std::move(values), index] { return values[(*index)++ % values.size()]; };
}

TEST_CASE("Backoff doubles from 1 s to 60 s and resets after a success") {
  Backoff backoff(BackoffPolicy{}, Sequence({0.5}));  // 0.5 is "no jitter"
  std::vector<long> delays;
  for (int attempt = 0; attempt < 9; ++attempt) delays.push_back(static_cast<long>(backoff.Next().count()));
  CHECK(delays == std::vector<long>{1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000});
  backoff.Reset();
  CHECK(backoff.Next() == milliseconds(1000));
  CHECK(backoff.Next() == milliseconds(2000));
}

TEST_CASE("Backoff jitter stays within plus or minus 25 percent") {
  Backoff low(BackoffPolicy{}, Sequence({0.0}));
  CHECK(low.Next() == milliseconds(750));
  CHECK(low.Next() == milliseconds(1500));
  Backoff high(BackoffPolicy{}, Sequence({0.999999}));
  CHECK(high.Next() == milliseconds(1250));
  Backoff clamped(BackoffPolicy{}, Sequence({-3.0, 7.0}));
  CHECK(clamped.Next() == milliseconds(750));
  CHECK(clamped.Next() == milliseconds(2500));
  Backoff capped(BackoffPolicy{}, Sequence({0.0, 0.25, 0.75, 0.999999}));
  for (int attempt = 0; attempt < 40; ++attempt) {
    milliseconds delay = capped.Next();
    CHECK(delay >= milliseconds(750));
    CHECK(delay <= milliseconds(75000));
  }
}

TEST_CASE("A report body is the exact JSON of the API contract") {
  AgentReport report;
  report.generation = 12;
  report.converged = true;
  report.version = "0.1.0";
  report.hostname = "home-gateway.example";
  ObservedInterface interface;
  interface.name = "wg0";
  interface.up = true;
  interface.mtu = 1420;
  ObservedPeer peer;
  peer.public_key = test_support::Key(1);
  peer.latest_handshake = 1763780000;
  peer.rx_bytes = 1;
  peer.tx_bytes = 2;
  interface.peers.push_back(peer);
  report.observed.interfaces.push_back(interface);
  report.peers = PeerStatsFrom(report.observed);
  report.system = {1.5, 1, 2, 3, 4, 5};
  std::string key = test_support::Key(1).ToBase64();
  CHECK(AgentReportToJson(report) ==
        "{\"generation\":12,\"converged\":true,\"error\":\"\",\"version\":\"0.1.0\",\"hostname\":\"home-gateway.example\","
        "\"observed\":" + ObservedStateToJson(report.observed, JsonStyle::kCompact) + ","
        "\"peers\":[{\"interface\":\"wg0\",\"publicKey\":\"" + key + "\",\"latestHandshake\":1763780000,"
        "\"rxBytes\":1,\"txBytes\":2}],"
        "\"system\":{\"cpuPercent\":1.5,\"memoryUsedBytes\":1,\"memoryTotalBytes\":2,\"diskUsedBytes\":3,"
        "\"diskTotalBytes\":4,\"uptimeSeconds\":5}}");
}

TEST_CASE("A report with invalid UTF-8 in the error text still serializes") {
  AgentReport report;
  report.error = std::string("bad \xff byte");
  std::string json = AgentReportToJson(report);
  CHECK(json.find("\"error\":\"bad \xef\xbf\xbd byte\"") != std::string::npos);
}

}  // namespace
}  // namespace ww::agent
