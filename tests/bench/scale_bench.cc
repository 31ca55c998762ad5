#include "tests/bench/scale_bench.h"

#include <sys/resource.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "reconciler/client/api_client.h"
#include "tests/bench/agent_enrollment.h"
#include "tests/bench/agent_pollers.h"
#include "tests/bench/bench_fleet.h"
#include "tests/bench/bench_support.h"
#include "tests/bench/reconciler_process.h"

namespace ww::bench {
namespace {

double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

long Megabytes(long kilobytes) { return kilobytes / 1024; }

}  // namespace

ScaleFigures RunScale(const BenchOptions& options, const FleetCacheContents& cache, const CachedFleet& fleet,
                      const std::vector<std::string>& reconciler_flags) {
  ScaleFigures figures;
  figures.agents = fleet.agents;
  figures.enroll_all_seconds = fleet.enroll_seconds;
  figures.enrolled_this_run = cache.built_now;
  const int agents = fleet.agents;

  std::filesystem::path data_dir = options.scratch / ("data-" + std::to_string(agents));
  std::filesystem::copy(fleet.data_dir, data_dir, std::filesystem::copy_options::recursive);
  ReconcilerLaunch launch{options.reconciler, data_dir.string(), FreeLocalPort(), std::nullopt, reconciler_flags,
                          (options.scratch / ("reconciler-" + std::to_string(agents) + ".log")).string()};
  auto start = Clock::now();
  std::unique_ptr<ReconcilerProcess> reconciler =
      Must(ReconcilerProcess::Start(launch), "starting the reconciler on " + std::to_string(agents) + " agents");
  figures.start_seconds = SecondsSince(start);
  const AdminAccess& admin_access = reconciler->admin();
  std::unique_ptr<ApiClient> admin = Must(
      ApiClient::Create({admin_access.url, admin_access.ca_pem, admin_access.certificate_pem, admin_access.key_pem}),
      "admin client");

  std::printf("\ncontrol plane at %d agents (each its own certificate and TLS connection; reconciler pid %d, a "
              "separate process, started in %.1f s)\n",
              agents, reconciler->pid(), figures.start_seconds);
  if (cache.built_now) {
    std::printf("  enrollment of all %d agents into a new reconciler: %.1f s (cold cache: enrolled by this run, %d "
                "threads)\n",
                agents,
                fleet.enroll_seconds, cache.enroll_threads);
  } else {
    std::printf("  enrollment of all %d agents into a new reconciler: %.1f s when the cache was built (warm cache %s, "
                "%d threads)\n",
                agents,
                fleet.enroll_seconds, cache.directory.c_str(), cache.enroll_threads);
  }

  auto connecting = Clock::now();
  AgentPollers pollers(launch.port, admin_access.ca_pem, fleet.identities, agents, options.reports);
  pollers.Start();
  if (!pollers.WaitForRevision(1, std::chrono::seconds(300))) {
    Die("only " + std::to_string(pollers.HoldingRevision(1)) + " of " + std::to_string(agents) +
        " agents got their plan within 300 s; first error: " + pollers.first_error());
  }
  figures.connect_seconds = SecondsSince(connecting);
  std::printf("  every agent connected and holding its plan after %.1f s\n", figures.connect_seconds);

  // One upload and delivery round: returns false when not every agent got it in time.
  int mtu = 1420;
  auto round = [&](const std::string& label) {
    ProcessSample before = reconciler->Sample();
    double own_before = OwnCpuSeconds();
    UploadResult upload = Must(UploadFleet(*admin, agents, mtu), "upload");
    auto accepted = Clock::now();
    mtu = mtu == 1420 ? 1400 : 1420;
    figures.upload_ms.push_back(upload.milliseconds);
    if (!pollers.WaitForRevision(upload.revision, std::chrono::seconds(180))) {
      std::printf("  %s: upload %s; only %d of %d agents got revision %lld within 180 s\n", label.c_str(),
                  FormatMilliseconds(upload.milliseconds).c_str(), pollers.HoldingRevision(upload.revision), agents,
                  static_cast<long long>(upload.revision));
      return;
    }
    std::vector<double> latencies = pollers.DeliveryMilliseconds(upload.revision, accepted);
    figures.delivery_ms.insert(figures.delivery_ms.end(), latencies.begin(), latencies.end());
    double cpu = reconciler->Sample().cpu_seconds - before.cpu_seconds;
    figures.round_cpu_seconds.push_back(cpu);
    std::printf("  %s: upload round trip %s; accepted -> every agent holds the plan: p50 %s, p99 %s, max %s "
                "(CPU: reconciler %.2f s, simulated agents %.2f s)\n",
                label.c_str(), FormatMilliseconds(upload.milliseconds).c_str(),
                FormatMilliseconds(Percentile(latencies, 0.5)).c_str(),
                FormatMilliseconds(Percentile(latencies, 0.99)).c_str(),
                FormatMilliseconds(Percentile(latencies, 1.0)).c_str(), cpu, OwnCpuSeconds() - own_before);
  };
  round("first upload");

  // Idle: every agent parked in its long-poll.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ProcessSample idle_start = reconciler->Sample();
  std::this_thread::sleep_for(std::chrono::seconds(options.idle_seconds));
  ProcessSample idle_end = reconciler->Sample();
  figures.idle_cpu_percent = (idle_end.cpu_seconds - idle_start.cpu_seconds) / options.idle_seconds * 100.0;
  figures.idle_rss_kb = idle_end.rss_kb;
  figures.idle_threads = idle_end.threads;
  std::printf("  idle with all connected: reconciler CPU %.2f %% of one core over %d s, RSS %ld MB, %ld threads\n",
              figures.idle_cpu_percent, options.idle_seconds, Megabytes(idle_end.rss_kb), idle_end.threads);

  for (int index = 1; index <= options.rounds; ++index) round("round " + std::to_string(index));

  // What enrolling costs at this size: more agents join the fleet, each re-rendering what it
  // changes (the tunnel server gains a peer per enrollment).
  if (options.enroll_sample > 0) {
    Result<UploadResult> grown = UploadFleet(*admin, agents + options.enroll_sample, mtu);
    Result<EnrollmentRun> sample =
        grown.ok() ? EnrollAgents(admin_access, agents, options.enroll_sample, options.enroll_threads,
                                  options.scratch / "enroll-sample")
                   : Result<EnrollmentRun>(grown.status());
    if (sample.ok()) {
      figures.enroll_sample_ms_per_agent = sample->seconds * 1000 / options.enroll_sample;
      std::printf("  enrolling %d more agents into this fleet: %.1f s, %.1f ms/agent with %d threads (the upload "
                  "naming them: %s)\n",
                  options.enroll_sample, sample->seconds, figures.enroll_sample_ms_per_agent, options.enroll_threads,
                  FormatMilliseconds(grown->milliseconds).c_str());
    } else {
      std::printf("  enrolling %d more agents into this fleet failed: %s\n", options.enroll_sample,
                  sample.status().ToString().c_str());
    }
  }

  ProcessSample final_sample = reconciler->Sample();
  figures.peak_rss_kb = final_sample.peak_rss_kb;
  figures.poll_errors = pollers.errors();
  std::printf("  all rounds: upload round trip %s; delivery %s; reconciler RSS now %ld MB, peak %ld MB; kept-alive "
              "connections closed by the server between requests %d; poll errors %d%s\n",
              LatencySummary(figures.upload_ms).c_str(), LatencySummary(figures.delivery_ms).c_str(),
              Megabytes(final_sample.rss_kb), Megabytes(final_sample.peak_rss_kb), pollers.server_closes(),
              figures.poll_errors,
              figures.poll_errors > 0 ? (" (first: " + pollers.first_error() + ")").c_str() : "");

  pollers.Stop();
  Status stopped = reconciler->Stop();
  if (!stopped.ok()) std::printf("  warning: %s\n", stopped.ToString().c_str());
  std::filesystem::remove_all(data_dir);
  return figures;
}

}  // namespace ww::bench
