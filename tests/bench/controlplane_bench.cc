// Control-plane benchmark (issues 4 and 10), run by `make bench`. A wirewarp-reconciler runs
// as a separate process; the simulated agents each have their own enrolled certificate and
// TLS connection (one thread per agent, as the agent daemon has one connection).
//
// Scale, per fleet size (default 1,000, 3,000 and 10,000 in one run): the reconciler's start,
// time until every agent polls, each upload's round trip and the delivery of its plans to
// every agent (p50/p99/max), RSS, threads and idle CPU with every agent parked in its
// long-poll, poll errors, and what enrolling costs (the cached enrollment of all, and a
// sample enrolled into the running fleet). Enrolled fleets are cached under /var/tmp
// (fleet_cache.h); the output says whether the cache was cold.
// Attacks, on a small fleet (attack_bench.h): API latency on a kept-alive connection,
// hostile connections while `wwctl status` and an agent's report are timed, and request
// floods with the reconciler's RSS rise.
//
// Usage: controlplane_bench --reconciler BIN [flags]; see Usage() below. Interrupting it
// (Ctrl-C) stops its reconcilers and removes its scratch files (bench_cleanup.h).

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tests/bench/attack_bench.h"
#include "tests/bench/bench_cleanup.h"
#include "tests/bench/bench_options.h"
#include "tests/bench/bench_support.h"
#include "tests/bench/fleet_cache.h"
#include "tests/bench/hostile_check.h"
#include "tests/bench/reconciler_process.h"
#include "tests/bench/scale_bench.h"

namespace ww::bench {
namespace {

constexpr const char* kUsage =
    "usage: controlplane_bench --reconciler BIN [flags]\n"
    "  --agents 1000,3000,10000   fleet sizes, ascending, in one run\n"
    "  --rounds 3                 uploads per size after the first\n"
    "  --idle-seconds 10          idle CPU measured over this long\n"
    "  --reports no|yes           agents report converged after every plan\n"
    "  --cache DIR|off            enrolled fleets kept across runs (default /var/tmp/wirewarp-controlplane-bench)\n"
    "  --cache-refresh            enroll again even when the cache is valid\n"
    "  --enroll-threads 8         concurrent enrollments\n"
    "  --enroll-sample 30         agents enrolled into each measured fleet (0: none)\n"
    "  --scale no                 skip the fleet sizes\n"
    "  --attacks no               skip the attack benches\n"
    "  --hostile 10000            hostile connections held open\n"
    "  --hostile-per-source 20    hostile connections per 127.10.x.y source address\n"
    "  --attack-seconds 30        how long the hostile connections stay\n"
    "  --flood-mb 200             size of each flood\n"
    "  --latency-requests 1000    requests per kept-alive latency run\n"
    "  --reconciler-flag FLAG     passed to every reconciler (repeat for more; e.g. --reconciler-flag=--x=1)\n"
    "  --check                    only the hostile-input checks (hostile_check.h); exit 1 when one fails\n";

std::vector<int> ParseSizes(const std::string& text) {
  std::vector<int> sizes;
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ',')) {
    int size = std::atoi(item.c_str());
    if (size < 2 || (!sizes.empty() && size <= sizes.back())) Die("--agents: sizes must be ascending and >= 2");
    sizes.push_back(size);
  }
  if (sizes.empty()) Die("--agents: no size");
  return sizes;
}

BenchOptions ParseOptions(int argc, char** argv) {
  BenchOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    if (size_t equals = flag.find('='); equals != std::string::npos && flag.rfind("--", 0) == 0) {
      value = flag.substr(equals + 1);
      flag = flag.substr(0, equals);
    } else if (flag == "--cache-refresh") {
      options.cache_use = CacheUse::kRebuild;
      continue;
    } else if (flag == "--check") {
      options.mode = BenchMode::kCheck;
      continue;
    } else if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      Die(flag + " needs a value\n" + kUsage);
    }
    auto number = [&] {
      char* end = nullptr;
      long parsed = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || parsed < 0 || parsed > 1000000) Die(flag + ": not a number: " + value);
      return static_cast<int>(parsed);
    };
    if (flag == "--reconciler") options.reconciler = value;
    else if (flag == "--agents") options.sizes = ParseSizes(value);
    else if (flag == "--rounds") options.rounds = number();
    else if (flag == "--idle-seconds") options.idle_seconds = std::max(1, number());
    else if (flag == "--reports") options.reports = value == "yes" ? ReportMode::kConverged : ReportMode::kNone;
    else if (flag == "--cache") options.cache_root = value == "off" ? "" : value;
    else if (flag == "--enroll-threads") options.enroll_threads = std::max(1, number());
    else if (flag == "--enroll-sample") options.enroll_sample = number();
    else if (flag == "--scale") options.scale = value == "no" ? ScaleMode::kSkip : ScaleMode::kRun;
    else if (flag == "--attacks") options.attacks = value == "no" ? AttackMode::kSkip : AttackMode::kRun;
    else if (flag == "--hostile") options.hostile_connections = number();
    else if (flag == "--hostile-per-source") options.hostile_per_source = std::max(1, number());
    else if (flag == "--attack-seconds") options.attack_seconds = std::max(1, number());
    else if (flag == "--flood-mb") options.flood_megabytes = std::max(1, number());
    else if (flag == "--latency-requests") options.latency_requests = std::max(1, number());
    else if (flag == "--reconciler-flag") options.reconciler_flags.push_back(value);
    else Die("unknown flag " + flag + "\n" + kUsage);
  }
  if (options.reconciler.empty()) Die(std::string("--reconciler BIN is required\n") + kUsage);
  options.reconciler = std::filesystem::absolute(options.reconciler).string();
  return options;
}

// Room for every agent's connection in the bench and in the reconciler (which inherits the
// limit): as root the hard limit is raised too.
void RaiseFileLimit(int needed) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  rlim_t wanted = static_cast<rlim_t>(needed);
  if (limit.rlim_max < wanted) {
    rlimit raised{wanted, wanted};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
  }
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    std::printf("warning: open-file limit %llu is below the %d this run needs; run as root or raise it (ulimit -Hn)\n",
                static_cast<unsigned long long>(limit.rlim_cur), needed);
  }
}

constexpr std::string_view kScratchPrefix = "wirewarp-cp-bench-";

// Scratch directories of earlier runs that were killed outright (SIGKILL leaves them).
void RemoveAbandonedScratch() {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), error)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(kScratchPrefix, 0) != 0) continue;
    pid_t pid = static_cast<pid_t>(std::atol(name.c_str() + kScratchPrefix.size()));
    if (pid <= 0 || kill(pid, 0) == 0) continue;
    std::filesystem::remove_all(entry.path(), error);
  }
}

// The flags of the reconciler's front end that a fleet of `agents` needs, if this build has
// them, then the --reconciler-flag ones.
std::vector<std::string> ScaleFlags(const BenchOptions& options, const std::string& help, int agents) {
  std::vector<std::string> flags;
  if (help.find("--max-connections-per-address") != std::string::npos) {
    // The event-driven front end: every simulated agent dials from 127.0.0.1.
    flags = {"--max-connections-per-address", "0"};
  } else if (help.find("--worker-threads") != std::string::npos) {
    // cpp-httplib's front end: every open long-poll holds a worker.
    flags = {"--worker-threads", std::to_string(agents + options.enroll_sample + 100)};
  }
  flags.insert(flags.end(), options.reconciler_flags.begin(), options.reconciler_flags.end());
  return flags;
}

void PrintSummary(const std::vector<ScaleFigures>& all) {
  std::printf("\nsummary (targets at 10,000: delivery p99 <= 1 s, upload <= 1 s, RSS <= 600 MB, idle CPU <= 2 %%, "
              "no poll errors, enrollment of all <= 60 s):\n");
  std::printf("  %7s | %14s | %12s | %11s | %12s | %11s | %13s | %7s | %8s | %8s | %6s\n", "agents", "enroll all",
              "enroll/agent", "upload p50", "upload max", "deliv. p99", "deliv. max", "RSS MB", "threads", "idle CPU",
              "errors");
  for (const ScaleFigures& figures : all) {
    char enroll[32];
    std::snprintf(enroll, sizeof enroll, "%.1f s%s", figures.enroll_all_seconds, figures.enrolled_this_run ? "" : " (c)");
    std::printf("  %7d | %14s | %9.1f ms | %11s | %12s | %11s | %13s | %7ld | %8ld | %6.2f %% | %6d\n", figures.agents,
                enroll, figures.enroll_sample_ms_per_agent, FormatMilliseconds(Percentile(figures.upload_ms, 0.5)).c_str(),
                FormatMilliseconds(Percentile(figures.upload_ms, 1.0)).c_str(),
                FormatMilliseconds(Percentile(figures.delivery_ms, 0.99)).c_str(),
                FormatMilliseconds(Percentile(figures.delivery_ms, 1.0)).c_str(), figures.idle_rss_kb / 1024,
                figures.idle_threads, figures.idle_cpu_percent, figures.poll_errors);
  }
  std::printf("  (c): enrolled when the cache was built; enroll/agent: the sample enrolled into the running fleet\n");
}

int Main(int argc, char** argv) {
  BenchCleanup::Instance().Install();
  signal(SIGPIPE, SIG_IGN);  // a server closing on a flood must not end the bench
  BenchOptions options = ParseOptions(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // The simulated agents are threads: small stacks keep 10,000 of them cheap.
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, 512 * 1024);
  pthread_setattr_default_np(&attributes);
  // A socket per simulated agent or hostile connection, and headroom.
  RaiseFileLimit(std::max(options.sizes.back() + options.enroll_sample, options.hostile_connections) + 1024);

  RemoveAbandonedScratch();
  options.scratch = std::filesystem::temp_directory_path() / (std::string(kScratchPrefix) + std::to_string(getpid()));
  BenchCleanup::Instance().AddDirectory(options.scratch);
  std::filesystem::create_directories(options.scratch);
  auto started = Clock::now();
  std::string help = ReconcilerHelp(options.reconciler);
  if (help.find("--data-dir") == std::string::npos) Die(options.reconciler + " --help does not look like the reconciler's");

  if (options.mode == BenchMode::kCheck) {
    int failures = RunHostileChecks(options, options.reconciler_flags);
    BenchCleanup::Instance().ExitNow(failures == 0 ? 0 : 1);
  }
  if (options.scale == ScaleMode::kRun) {
    FleetCacheOptions cache_options;
    cache_options.root = options.cache_root.empty() ? options.scratch / "cache" : options.cache_root;
    cache_options.sizes = options.sizes;
    cache_options.enroll_threads = options.enroll_threads;
    cache_options.reconciler = options.reconciler;
    cache_options.reconciler_flags = options.reconciler_flags;
    cache_options.scratch = options.scratch;
    cache_options.use = options.cache_root.empty() ? CacheUse::kRebuild : options.cache_use;
    FleetCacheContents cache = Must(PrepareFleetCache(cache_options), "preparing the enrolled fleets");
    std::vector<ScaleFigures> all;
    for (const CachedFleet& fleet : cache.fleets) {
      all.push_back(RunScale(options, cache, fleet, ScaleFlags(options, help, fleet.agents)));
    }
    PrintSummary(all);
  }
  if (options.attacks == AttackMode::kRun) RunAttacks(options, options.reconciler_flags);
  std::printf("\ncontrolplane_bench took %.0f s\n", SecondsSince(started));
  BenchCleanup::Instance().ExitNow(0);
}

}  // namespace
}  // namespace ww::bench

int main(int argc, char** argv) { return ww::bench::Main(argc, argv); }
