#include "tests/bench/hostile_check.h"

#include <cstdio>
#include <thread>

#include "tests/bench/attack_bench.h"
#include "tests/bench/bench_support.h"
#include "tests/bench/flood_attack.h"
#include "tests/bench/hostile_connections.h"
#include "tests/bench/reconciler_process.h"

namespace ww::bench {
namespace {

class Checks {
 public:
  void Expect(bool passed, const std::string& what) {
    std::printf("  %s: %s\n", passed ? "PASS" : "FAIL", what.c_str());
    if (!passed) ++failures_;
  }
  int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

double Megabytes(long kilobytes) { return static_cast<double>(kilobytes) / 1024; }

// An answer of 4xx, or the connection ended by the server: anything but taking it all.
bool Refused(const FloodResult& result) {
  return (result.outcome.size() >= 3 && result.outcome[0] == '4') ||
         result.outcome.starts_with("closed by the server") || result.outcome.starts_with("the server stopped reading");
}

void CheckFloods(Checks& checks, const ReconcilerProcess& reconciler) {
  struct Flood {
    FloodKind kind;
    FloodTransport transport;
    int port;
    std::string path;
  };
  const int api = reconciler.launch().port;
  const int status = *reconciler.launch().status_port;
  for (const Flood& flood : std::vector<Flood>{{FloodKind::kHeaders, FloodTransport::kTls, api, "/v1/ca"},
                                               {FloodKind::kHeaders, FloodTransport::kPlain, status, "/status.json"},
                                               {FloodKind::kChunkedBody, FloodTransport::kTls, api, "/v1/enroll"},
                                               {FloodKind::kDeclaredBody, FloodTransport::kTls, api, "/v1/enroll"}}) {
    Status reset = reconciler.ResetPeak();
    ProcessSample before = reconciler.Sample();
    FloodOptions flood_options;
    flood_options.kind = flood.kind;
    flood_options.transport = flood.transport;
    flood_options.port = flood.port;
    flood_options.path = flood.path;
    flood_options.total_bytes = int64_t{kCheckFloodMegabytes} << 20;
    FloodResult result = RunFlood(flood_options);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ProcessSample after = reconciler.Sample();
    std::string what = FloodKindName(flood.kind) + " of " + std::to_string(kCheckFloodMegabytes) + " MB to " +
                       (flood.transport == FloodTransport::kTls ? "the API " : "the status listener ") + flood.path;
    checks.Expect(Refused(result), what + " is refused: " + result.outcome);
    double rise = Megabytes((reset.ok() ? after.peak_rss_kb : after.rss_kb) - before.rss_kb);
    char figure[96];
    std::snprintf(figure, sizeof figure, " raises the peak RSS by %.1f MB (at most %.0f MB)", rise, kFloodRssRiseMb);
    checks.Expect(rise <= kFloodRssRiseMb, what + figure);
  }
}

void CheckHostile(Checks& checks, const ReconcilerProcess& reconciler, const SmallFleet& fleet) {
  HostileOptions hostile_options;
  hostile_options.connections = kCheckHostileConnections;
  hostile_options.api_port = reconciler.launch().port;
  hostile_options.status_port = *reconciler.launch().status_port;
  hostile_options.reopen = Reopen::kNo;
  ProcessSample before = reconciler.Sample();
  HostileConnections hostile(hostile_options);
  auto started = Clock::now();
  hostile.Start();
  while (hostile.OpenNow() < kCheckHostileConnections && SecondsSince(started) < 5) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  checks.Expect(hostile.OpenNow() == kCheckHostileConnections,
                std::to_string(hostile.OpenNow()) + " of " + std::to_string(kCheckHostileConnections) +
                    " hostile connections open (a quarter each idle and trickling, to the API and the status listener)");

  // Legitimate callers on new connections while they are open.
  const AdminAccess& admin = reconciler.admin();
  const AgentIdentity& agent = fleet.agents[1];
  auto status_client = BenchClient(admin, admin.certificate_pem, admin.key_pem, std::chrono::seconds(10));
  Result<ApiResponse> status = status_client->Get("/v1/status");
  checks.Expect(status.ok() && status->status == 200,
                "GET /v1/status answers among them: " +
                    (status.ok() ? "HTTP " + std::to_string(status->status) : status.status().message()));
  auto agent_client = BenchClient(admin, agent.certificate_pem, agent.key_pem, std::chrono::seconds(10));
  Result<ApiResponse> report = agent_client->Post("/v1/agents/" + agent.name + "/report", fleet.report_body);
  checks.Expect(report.ok() && report->status == 204,
                "an agent's report answers among them: " +
                    (report.ok() ? "HTTP " + std::to_string(report->status) : report.status().message()));
  ProcessSample during = reconciler.Sample();
  double rise = Megabytes(during.rss_kb - before.rss_kb);
  char figure[96];
  std::snprintf(figure, sizeof figure, "they raise the RSS by %.1f MB (at most %.0f MB)", rise, kHostileRssRiseMb);
  checks.Expect(rise <= kHostileRssRiseMb, figure);

  while (hostile.OpenNow() > 0 && Clock::now() < started + kHostileCloseWait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  hostile.Stop();
  for (const HostileGroupReport& group : hostile.Report()) {
    checks.Expect(group.closed_by_server == group.established && group.established > 0,
                  group.name + ": the server closed " + std::to_string(group.closed_by_server) + " of " +
                      std::to_string(group.established) + " within " +
                      std::to_string(kHostileCloseWait.count()) + " s");
  }
}

}  // namespace

int RunHostileChecks(const BenchOptions& options, const std::vector<std::string>& reconciler_flags) {
  std::unique_ptr<ReconcilerProcess> reconciler = StartAttackReconciler(options, reconciler_flags);
  SmallFleet fleet = EnrollSmallFleet(reconciler->admin(), options);
  std::printf("hostile-input checks against reconciler pid %d:\n", reconciler->pid());
  Checks checks;
  CheckHostile(checks, *reconciler, fleet);
  CheckFloods(checks, *reconciler);
  Status stopped = reconciler->Stop();
  checks.Expect(stopped.ok(), "the reconciler stops cleanly afterwards" +
                                  (stopped.ok() ? std::string() : ": " + stopped.message()));
  std::printf("%d check%s failed\n", checks.failures(), checks.failures() == 1 ? "" : "s");
  return checks.failures();
}

}  // namespace ww::bench
