#include "tests/bench/attack_bench.h"

#include <cstdio>
#include <memory>
#include <thread>

#include "reconciler/client/api_client.h"
#include "tests/bench/agent_enrollment.h"
#include "tests/bench/agent_pollers.h"
#include "tests/bench/bench_fleet.h"
#include "tests/bench/bench_support.h"
#include "tests/bench/flood_attack.h"
#include "tests/bench/hostile_connections.h"
#include "tests/bench/reconciler_process.h"

namespace ww::bench {
namespace {

constexpr double kLatencyTargetMs = 5;
constexpr double kUnderAttackTargetMs = 100;
constexpr double kRssRiseTargetMb = 16;

// `count` requests on one client (one kept-alive connection); milliseconds each, and the
// number that failed or answered other than `expected_status`.
std::pair<std::vector<double>, int> TimeRequests(int count, int expected_status,
                                                 const std::function<Result<ApiResponse>()>& request) {
  std::vector<double> milliseconds;
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    auto started = Clock::now();
    Result<ApiResponse> answer = request();
    double elapsed = MillisecondsSince(started);
    if (!answer.ok() || answer->status != expected_status) {
      ++failures;
      continue;
    }
    milliseconds.push_back(elapsed);
  }
  return {milliseconds, failures};
}

void PrintTimed(const char* label, const std::pair<std::vector<double>, int>& timed, double target_ms) {
  std::printf("    %s: %s%s (target p95 <= %s)\n", label, LatencySummary(timed.first).c_str(),
              timed.second > 0 ? (", " + std::to_string(timed.second) + " failed").c_str() : "",
              FormatMilliseconds(target_ms).c_str());
}

void RunLatency(const BenchOptions& options, const AdminAccess& admin, const SmallFleet& fleet) {
  std::printf("  API latency on one kept-alive mutual-TLS connection, %d requests each:\n", options.latency_requests);
  auto status_client = BenchClient(admin, admin.certificate_pem, admin.key_pem, std::chrono::seconds(10));
  PrintTimed("GET /v1/status", TimeRequests(options.latency_requests, 200, [&] { return status_client->Get("/v1/status"); }),
             kLatencyTargetMs);
  const AgentIdentity& agent = fleet.agents[1];
  auto agent_client = BenchClient(admin, agent.certificate_pem, agent.key_pem, std::chrono::seconds(10));
  std::string path = "/v1/agents/" + agent.name + "/report";
  PrintTimed("agent report  ",
             TimeRequests(options.latency_requests, 204, [&] { return agent_client->Post(path, fleet.report_body); }),
             kLatencyTargetMs);
}

void PrintClosures(const HostileGroupReport& report) {
  std::vector<double> within_second;
  for (double seconds : report.close_seconds) {
    if (seconds < 1) within_second.push_back(seconds);
  }
  std::printf("    %-42s connected %lld, closed by the server %lld", (report.name + ":").c_str(),
              static_cast<long long>(report.established), static_cast<long long>(report.closed_by_server));
  if (!report.close_seconds.empty()) {
    std::printf(" (after p50 %.1f s, min %.1f s, max %.1f s; %zu within 1 s; %lld answered first)",
                Percentile(report.close_seconds, 0.5), Percentile(report.close_seconds, 0.0),
                Percentile(report.close_seconds, 1.0), within_second.size(), static_cast<long long>(report.answered));
  }
  std::printf(", open at the end %lld", static_cast<long long>(report.open_now));
  if (report.tls_completed > 0) std::printf(", TLS handshakes completed %lld", static_cast<long long>(report.tls_completed));
  if (report.connect_failures > 0) {
    std::printf(", failed to connect %lld", static_cast<long long>(report.connect_failures));
  }
  std::printf("\n");
}

void RunHostile(const BenchOptions& options, const ReconcilerProcess& reconciler, int status_port,
                const SmallFleet& fleet) {
  const AdminAccess& admin = reconciler.admin();
  HostileOptions hostile_options;
  hostile_options.connections = options.hostile_connections;
  hostile_options.api_port = reconciler.launch().port;
  hostile_options.status_port = status_port;
  hostile_options.connections_per_source = options.hostile_per_source;
  std::printf("  %d hostile connections for %d s (a quarter each: API idle, API trickling a head byte every %lld s "
              "after TLS, status listener idle, status listener trickling; %d per source address from 127.10.0.1; "
              "each one the server closes is opened again):\n",
              options.hostile_connections, options.attack_seconds,
              static_cast<long long>(hostile_options.trickle_interval.count() / 1000), options.hostile_per_source);
  ProcessSample before = reconciler.Sample();
  HostileConnections hostile(hostile_options);
  auto started = Clock::now();
  hostile.Start();
  while (hostile.OpenNow() < options.hostile_connections && SecondsSince(started) < 15) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("    %lld connected after %.1f s\n", static_cast<long long>(hostile.OpenNow()), SecondsSince(started));

  // Legitimate callers, each on a new connection as `wwctl status` and an agent's report
  // after an idle spell make them.
  const AgentIdentity& agent = fleet.agents[1];
  std::vector<double> status_ms;
  std::vector<double> report_ms;
  int status_failures = 0;
  int report_failures = 0;
  std::string first_failure;
  auto probe = [&](const std::string& certificate, const std::string& key, bool report) {
    auto client = BenchClient(admin, certificate, key, std::chrono::seconds(5));
    auto probe_started = Clock::now();
    Result<ApiResponse> answer = report ? client->Post("/v1/agents/" + agent.name + "/report", fleet.report_body)
                                        : client->Get("/v1/status");
    double elapsed = MillisecondsSince(probe_started);
    bool ok = answer.ok() && answer->status == (report ? 204 : 200);
    if (!ok && first_failure.empty()) {
      first_failure = answer.ok() ? "HTTP " + std::to_string(answer->status) : answer.status().message();
    }
    if (report) {
      ok ? report_ms.push_back(elapsed) : static_cast<void>(++report_failures);
    } else {
      ok ? status_ms.push_back(elapsed) : static_cast<void>(++status_failures);
    }
  };
  auto attack_end = started + std::chrono::seconds(options.attack_seconds);
  auto next_progress = started + std::chrono::seconds(10);
  while (Clock::now() < attack_end) {
    probe(admin.certificate_pem, admin.key_pem, false);
    probe(agent.certificate_pem, agent.key_pem, true);
    if (Clock::now() >= next_progress) {
      int64_t closed = 0;
      for (const HostileGroupReport& report : hostile.Report()) closed += report.closed_by_server;
      ProcessSample now = reconciler.Sample();
      std::printf("    at %.0f s: %lld hostile open, %lld closed by the server so far; reconciler RSS %ld MB, %ld "
                  "threads\n",
                  SecondsSince(started), static_cast<long long>(hostile.OpenNow()), static_cast<long long>(closed),
                  now.rss_kb / 1024, now.threads);
      next_progress += std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ProcessSample during = reconciler.Sample();
  hostile.Stop();
  std::printf("    wwctl status (new connection each): %zu answered, %s; %d failed (target <= %s)\n", status_ms.size(),
              LatencySummary(status_ms).c_str(), status_failures, FormatMilliseconds(kUnderAttackTargetMs).c_str());
  std::printf("    agent report (new connection each): %zu answered, %s; %d failed (target <= %s)\n", report_ms.size(),
              LatencySummary(report_ms).c_str(), report_failures, FormatMilliseconds(kUnderAttackTargetMs).c_str());
  if (!first_failure.empty()) std::printf("    first failure: %s\n", first_failure.c_str());
  for (const HostileGroupReport& report : hostile.Report()) PrintClosures(report);
  std::printf("    reconciler under attack: RSS %ld MB (from %ld MB), %ld threads, CPU %.1f s over the %d s\n",
              during.rss_kb / 1024, before.rss_kb / 1024, during.threads, during.cpu_seconds - before.cpu_seconds,
              options.attack_seconds);
}

void RunFloods(const BenchOptions& options, const ReconcilerProcess& reconciler, int status_port) {
  std::printf("  floods of %d MB each (targets: RSS rise <= %.0f MB, answered 431/413 or closed):\n",
              options.flood_megabytes, kRssRiseTargetMb);
  struct Flood {
    FloodKind kind;
    FloodTransport transport;
    int port;
    std::string path;
    std::string label;
  };
  const int api_port = reconciler.launch().port;
  const std::vector<Flood> floods{
      {FloodKind::kHeaders, FloodTransport::kTls, api_port, "/v1/ca", "API (TLS, anonymous) GET /v1/ca"},
      {FloodKind::kHeaders, FloodTransport::kPlain, status_port, "/status.json", "status listener GET /status.json"},
      {FloodKind::kChunkedBody, FloodTransport::kTls, api_port, "/v1/enroll", "API (TLS, anonymous) POST /v1/enroll"},
      {FloodKind::kDeclaredBody, FloodTransport::kTls, api_port, "/v1/enroll", "API (TLS, anonymous) POST /v1/enroll"},
  };
  for (const Flood& flood : floods) {
    Status reset = reconciler.ResetPeak();
    ProcessSample before = reconciler.Sample();
    FloodOptions flood_options;
    flood_options.kind = flood.kind;
    flood_options.transport = flood.transport;
    flood_options.port = flood.port;
    flood_options.path = flood.path;
    flood_options.total_bytes = int64_t{options.flood_megabytes} << 20;
    FloodResult result = RunFlood(flood_options);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ProcessSample after = reconciler.Sample();
    // Without a peak reset, only the RSS after the flood says anything.
    long rise_kb = (reset.ok() ? after.peak_rss_kb : after.rss_kb) - before.rss_kb;
    std::printf("    %s, %s: %s after %.1f MB in %.1f s; RSS %s %+.1f MB (from %ld MB)\n",
                FloodKindName(flood.kind).c_str(), flood.label.c_str(), result.outcome.c_str(),
                static_cast<double>(result.bytes_sent) / (1 << 20), result.seconds, reset.ok() ? "peak rise" : "rise",
                static_cast<double>(rise_kb) / 1024, before.rss_kb / 1024);
  }
}

}  // namespace

std::unique_ptr<ApiClient> BenchClient(const AdminAccess& admin, const std::string& certificate_pem,
                                       const std::string& key_pem, std::chrono::seconds timeout) {
  ApiClientOptions client_options{admin.url, admin.ca_pem, certificate_pem, key_pem};
  client_options.connect_timeout = timeout;
  client_options.read_timeout = timeout;
  return Must(ApiClient::Create(std::move(client_options)), "API client");
}

SmallFleet EnrollSmallFleet(const AdminAccess& admin, const BenchOptions& options) {
  SmallFleet fleet;
  auto admin_client = BenchClient(admin, admin.certificate_pem, admin.key_pem, std::chrono::seconds(30));
  Must(UploadFleet(*admin_client, kSmallFleet, 1420), "upload of the small fleet");
  fleet.agents = Must(EnrollAgents(admin, 0, kSmallFleet, kSmallFleet, options.scratch / "enroll-small"),
                      "enrolling the small fleet")
                     .agents;
  const AgentIdentity& agent = fleet.agents[1];
  auto client = BenchClient(admin, agent.certificate_pem, agent.key_pem, std::chrono::seconds(10));
  auto plan = Must(client->Get("/v1/agents/" + agent.name + "/plan?after=0&wait=5"), "the agent's first plan");
  if (plan.status != 200) Die("the small fleet's agent got no plan: HTTP " + std::to_string(plan.status));
  fleet.report_body = Must(ConvergedReport(plan.body, agent.name), "report");
  return fleet;
}

std::unique_ptr<ReconcilerProcess> StartAttackReconciler(const BenchOptions& options,
                                                         const std::vector<std::string>& reconciler_flags) {
  ReconcilerLaunch launch{options.reconciler, (options.scratch / "data-attacks").string(), FreeLocalPort(),
                          FreeLocalPort(), reconciler_flags, (options.scratch / "reconciler-attacks.log").string()};
  return Must(ReconcilerProcess::Start(launch), "starting the reconciler for the attack benches");
}

void RunAttacks(const BenchOptions& options, const std::vector<std::string>& reconciler_flags) {
  std::unique_ptr<ReconcilerProcess> reconciler = StartAttackReconciler(options, reconciler_flags);
  const AdminAccess& admin = reconciler->admin();
  const int status_port = *reconciler->launch().status_port;
  SmallFleet fleet = EnrollSmallFleet(admin, options);
  ProcessSample start = reconciler->Sample();
  std::printf("\nattack benches: a small fleet (%d agents), reconciler pid %d (RSS %ld MB, %ld threads), API "
              "127.0.0.1:%d (mutual TLS), status listener 127.0.0.1:%d (plain HTTP)\n",
              kSmallFleet, reconciler->pid(), start.rss_kb / 1024, start.threads, reconciler->launch().port,
              status_port);
  RunLatency(options, admin, fleet);
  RunHostile(options, *reconciler, status_port, fleet);
  RunFloods(options, *reconciler, status_port);
  Status stopped = reconciler->Stop();
  if (!stopped.ok()) std::printf("  warning: %s\n", stopped.ToString().c_str());
  std::filesystem::remove_all(reconciler->launch().data_dir);
}

}  // namespace ww::bench
