// Control-plane load benchmark (issue 4): N simulated agents, each with its own enrolled
// client certificate and its own TLS connection, long-poll one wirewarp-reconciler started
// as a separate process. Prints: time from an accepted revision upload until every agent
// holds its new plan (p50, p99, max per round), the reconciler's RSS, and its CPU while
// idle with every agent connected. The baseline is the upload's own round trip, measured
// in the same run. Usage:
//   controlplane_bench --reconciler BIN [--agents 1000] [--rounds 5] [--idle-seconds 10] [--reports yes]
// With --reports yes every agent also reports converged after each plan, and a `wwctl wait`
// long-poll (cli/status_watch.h) measures how long after the last report it sees the fleet
// converged (the reports' SQLite writes then also weigh on the plan latencies).

#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/remote_config.h"
#include "cli/status_watch.h"
#include "reconciler/client/api_client.h"
#include "reconciler/client/enroll_client.h"
#include "schema/net.h"
#include "schema/plan.h"
#include "schema/wire_json.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "controlplane_bench: %s\n", message.c_str());
  std::exit(1);
}

template <typename T>
T Must(ww::Result<T> result, const std::string& what) {
  if (!result.ok()) Die(what + ": " + result.status().ToString());
  return std::move(*result);
}

struct Options {
  std::string reconciler;
  int agents = 1000;
  int rounds = 5;
  int idle_seconds = 10;
  bool reports = false;
};

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--reconciler") options.reconciler = value;
    else if (flag == "--agents") options.agents = std::stoi(value);
    else if (flag == "--rounds") options.rounds = std::stoi(value);
    else if (flag == "--idle-seconds") options.idle_seconds = std::stoi(value);
    else if (flag == "--reports") options.reports = value == "yes";
    else Die("unknown flag " + flag);
  }
  if (options.reconciler.empty()) Die("--reconciler BIN is required");
  if (options.agents < 2) Die("--agents must be at least 2");
  return options;
}

int FreePort() {
  // Linux hands out ephemeral ports in order; 20000 + pid spreads parallel runs apart.
  return 20000 + static_cast<int>(getpid() % 20000);
}

std::string AgentName(int index) {
  char name[32];
  std::snprintf(name, sizeof name, "agent-%04d", index);
  return name;
}

// One tunnel served by agent-0000 with every other agent as a peer. `mtu` changes every
// agent's desired config, so each round delivers a new plan to all of them.
std::string FleetYaml(int agents, int mtu) {
  std::ostringstream out;
  out << "apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata:\n  name: bench\nspec:\n  agent: "
      << AgentName(0) << "\n  endpoint: 203.0.113.1:51820\n  network: 10.64.0.0/16\n  mtu: " << mtu << "\n";
  for (int i = 1; i < agents; ++i) {
    out << "---\napiVersion: wirewarp.dev/v1\nkind: Peer\nmetadata:\n  name: " << AgentName(i)
        << "\nspec:\n  tunnel: bench\n  agent: " << AgentName(i) << "\n";
  }
  return out.str();
}

std::map<std::string, long> ProcStatus(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::map<std::string, long> values;
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    values[line.substr(0, colon)] = std::atol(line.c_str() + colon + 1);
  }
  return values;
}

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(in, text);
  size_t end = text.rfind(')');
  std::istringstream fields(text.substr(end + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) utime = std::atol(field.c_str());
    if (index == 15) { stime = std::atol(field.c_str()); break; }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct EnrolledAgent {
  std::string name;
  std::string certificate_pem;
  std::string key_pem;
};

// What each poller last received, read by the main thread.
struct AgentSlot {
  std::atomic<int64_t> revision{0};
  std::atomic<int64_t> received_ns{0};  // steady clock
  std::atomic<int64_t> reported_revision{0};  // the agent reported it converged on this revision
  std::atomic<int64_t> reported_ns{0};        // when that report was answered
};

double Percentile(std::vector<double> values, double fraction) {
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  Options options = ParseOptions(argc, argv);
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);  // inherited by the reconciler
  signal(SIGPIPE, SIG_IGN);

  std::filesystem::path work = std::filesystem::temp_directory_path() /
                               ("wirewarp-cp-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(work);
  std::string data_dir = (work / "data").string();
  int port = FreePort();
  std::string url = "https://127.0.0.1:" + std::to_string(port);

  pid_t reconciler = fork();
  if (reconciler == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    std::string listen = "127.0.0.1:" + std::to_string(port);
    std::string workers = std::to_string(options.agents + 100);
    execl(options.reconciler.c_str(), options.reconciler.c_str(), "--data-dir", data_dir.c_str(), "--listen",
          listen.c_str(), "--advertise", url.c_str(), "--worker-threads", workers.c_str(), "--enroll-rate", "0", "--status-listen", "off",
          "--log-level", "error", static_cast<char*>(nullptr));
    _exit(127);
  }
  auto stop_reconciler = [&] {
    kill(reconciler, SIGTERM);
    waitpid(reconciler, nullptr, 0);
    std::filesystem::remove_all(work);
  };

  // Wait for the admin config and an answering listener.
  std::string admin_path = data_dir + "/admin.wwctl.yaml";
  std::unique_ptr<ww::ApiClient> admin;
  std::string last_error = "no admin config yet";
  for (int attempt = 0; attempt < 300 && !admin; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!std::filesystem::exists(admin_path)) continue;
    auto loaded = ww::cli::LoadRemoteConfig({admin_path, ww::cli::ConfigOrigin::kFlag});
    if (!loaded.ok()) { last_error = loaded.status().ToString(); continue; }
    auto client = ww::ApiClient::Create({url, loaded->config.ca_certificate_pem, loaded->config.client_certificate_pem,
                                         loaded->config.client_key_pem});
    if (!client.ok()) { last_error = client.status().ToString(); continue; }
    auto probe = (*client)->Get("/v1/status");
    if (probe.ok() && probe->status == 200) admin = std::move(*client);
    else last_error = probe.ok() ? "HTTP " + std::to_string(probe->status) : probe.status().ToString();
  }
  if (!admin) { stop_reconciler(); Die("the reconciler did not come up at " + url + ": " + last_error); }
  auto config = Must(ww::cli::LoadRemoteConfig({admin_path, ww::cli::ConfigOrigin::kFlag}), "admin config");
  std::string ca_pem = config.config.ca_certificate_pem;

  // Enroll every agent: a token each, then the real enrollment (pin check, CSR).
  auto enroll_start = Clock::now();
  std::vector<EnrolledAgent> agents(static_cast<size_t>(options.agents));
  std::atomic<int> next{0};
  std::atomic<bool> enroll_failed{false};
  std::string failure;
  std::mutex failure_mutex;
  auto enroller = [&](int thread_index) {
    auto client = Must(ww::ApiClient::Create({url, ca_pem, config.config.client_certificate_pem,
                                              config.config.client_key_pem}),
                       "admin client");
    std::string state_dir = (work / ("enroll-" + std::to_string(thread_index))).string();
    std::filesystem::create_directories(state_dir);
    for (int index = next++; index < options.agents && !enroll_failed; index = next++) {
      EnrolledAgent& agent = agents[static_cast<size_t>(index)];
      agent.name = AgentName(index);
      std::string type = index == 0 ? "server" : "client";
      auto token = client->Post("/v1/tokens", json{{"type", type}, {"name", agent.name}}.dump());
      if (!token.ok() || token->status != 200) {
        std::lock_guard lock(failure_mutex);
        failure = "token for " + agent.name + ": " + (token.ok() ? ww::ApiErrorMessage(*token) : token.status().ToString());
        enroll_failed = true;
        break;
      }
      ww::EnrollRequest request;
      request.url = url;
      request.token = json::parse(token->body).at("token").get<std::string>();
      request.ca_pins = {config.config.ca_pin};
      request.mode = type;
      request.name = agent.name;
      request.hostname = agent.name;
      request.version = "bench";
      RAND_bytes(request.wireguard_public_key.bytes.data(), static_cast<int>(request.wireguard_public_key.bytes.size()));
      request.state_dir = state_dir;
      request.write_file = [&](std::string_view name, std::string_view contents) -> ww::Status {
        if (name == ww::kAgentTlsKeyFile) agent.key_pem = std::string(contents);
        if (name == ww::kAgentCaCertificateFile) {
          std::ofstream(state_dir + "/" + std::string(name)) << contents;
        }
        return ww::Status::Ok();
      };
      auto enrolled = ww::Enroll(request);
      if (!enrolled.ok()) {
        std::lock_guard lock(failure_mutex);
        failure = "enrolling " + agent.name + ": " + enrolled.status().ToString();
        enroll_failed = true;
        break;
      }
      agent.certificate_pem = enrolled->certificate_pem;
    }
  };
  {
    std::vector<std::thread> enrollers;
    for (int i = 0; i < 4; ++i) enrollers.emplace_back(enroller, i);
    for (auto& thread : enrollers) thread.join();
  }
  if (enroll_failed) { stop_reconciler(); Die(failure); }
  double enroll_seconds = std::chrono::duration<double>(Clock::now() - enroll_start).count();

  auto upload = [&](int mtu) -> std::pair<int64_t, double> {
    json body{{"documents", json::array({json{{"path", "bench/fleet.yaml"}, {"content", FleetYaml(options.agents, mtu)}}})}};
    auto started = Clock::now();
    auto answer = admin->Post("/v1/revisions", body.dump(), std::chrono::seconds(120));
    double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    if (!answer.ok() || answer->status != 200) {
      stop_reconciler();
      Die("upload: " + (answer.ok() ? std::to_string(answer->status) + " " + answer->body : answer.status().ToString()));
    }
    return {json::parse(answer->body).at("revision").get<int64_t>(), seconds};
  };

  // Pollers: one thread and one TLS connection per agent, as real agents have.
  std::vector<AgentSlot> slots(static_cast<size_t>(options.agents));
  std::atomic<bool> stopping{false};
  std::atomic<int> poll_errors{0};
  std::vector<std::thread> pollers;
  for (int index = 0; index < options.agents; ++index) {
    pollers.emplace_back([&, index] {
      const EnrolledAgent& agent = agents[static_cast<size_t>(index)];
      AgentSlot& slot = slots[static_cast<size_t>(index)];
      auto client = Must(ww::ApiClient::Create({url, ca_pem, agent.certificate_pem, agent.key_pem}), "agent client");
      int64_t generation = 0;
      while (!stopping) {
        auto answer = client->Get("/v1/agents/" + agent.name + "/plan?after=" + std::to_string(generation) + "&wait=30",
                                  std::chrono::seconds(40));
        if (!answer.ok() || (answer->status != 200 && answer->status != 204)) {
          if (!stopping) ++poll_errors;
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          continue;
        }
        if (answer->status == 204) continue;
        auto received = Clock::now();
        json plan = json::parse(answer->body, nullptr, false);
        if (plan.is_discarded()) { ++poll_errors; continue; }
        generation = plan.value("generation", generation);
        slot.received_ns = received.time_since_epoch().count();
        int64_t revision = plan.value("revision", int64_t{0});
        slot.revision = revision;
        if (!options.reports) continue;
        // Report converged, as an agent does after applying: observed = desired.
        auto desired = ww::AgentConfigFromJson(plan.value("desired", json::object()).dump());
        if (!desired.ok()) { ++poll_errors; continue; }
        json report{{"generation", generation}, {"converged", true}, {"error", ""}, {"version", "bench"},
                    {"hostname", agent.name},
                    {"observed", json::parse(ww::ObservedStateToJson(ww::ObservedFromDesired(*desired),
                                                                     ww::JsonStyle::kCompact))}};
        auto reported = client->Post("/v1/agents/" + agent.name + "/report", report.dump());
        if (!reported.ok() || reported->status != 204) { if (!stopping) ++poll_errors; continue; }
        slot.reported_ns = Clock::now().time_since_epoch().count();
        slot.reported_revision = revision;
      }
    });
  }

  auto wait_all = [&](int64_t revision, std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      bool all = std::all_of(slots.begin(), slots.end(), [&](const AgentSlot& slot) { return slot.revision >= revision; });
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  };

  auto [first_revision, first_upload] = upload(1420);
  if (!wait_all(first_revision, std::chrono::seconds(180))) {
    stopping = true;
    stop_reconciler();
    Die("not every agent received the first revision");
  }
  // Let every poller settle into its long-poll, then measure idle CPU.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto idle_status = ProcStatus(reconciler);
  double cpu_before = CpuSeconds(reconciler);
  std::this_thread::sleep_for(std::chrono::seconds(options.idle_seconds));
  double idle_cpu = (CpuSeconds(reconciler) - cpu_before) / options.idle_seconds * 100.0;

  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("control plane: %d agents (own certificates and TLS connections), reconciler pid %d\n",
              options.agents, reconciler);
  std::printf("  enrollment of all agents: %.1f s (4 enrolling threads)\n", enroll_seconds);
  std::printf("  first revision upload round trip: %.0f ms\n", first_upload * 1000);
  std::printf("  idle with all connected: CPU %.2f %% of one core over %d s, RSS %ld MB, threads %ld\n", idle_cpu,
              options.idle_seconds, idle_status["VmRSS"] / 1024, idle_status["Threads"]);

  // `wwctl wait`'s long-poll (cli/status_watch.h) on its own connection: how long after the
  // last agent's converged report is answered does it see the fleet converged?
  auto watch_converged = [&](int64_t revision) -> int64_t {
    auto client = Must(ww::ApiClient::Create({url, ca_pem, config.config.client_certificate_pem,
                                              config.config.client_key_pem}),
                       "watch client");
    ww::cli::StatusWatch watch(*client);
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      auto answer = watch.Next(deadline);
      if (!answer.ok() || answer->status != 200) continue;
      json status = json::parse(answer->body, nullptr, false);
      if (status.is_discarded() || !status.value("converged", false)) continue;
      const json& current = status["revision"];
      if (current.is_object() && current.value("id", int64_t{0}) >= revision) return Clock::now().time_since_epoch().count();
    }
    return 0;
  };

  std::vector<double> all_latencies;
  std::vector<double> wait_lags;
  std::vector<double> upload_times;
  for (int round = 1; round <= options.rounds; ++round) {
    double server_cpu_before = CpuSeconds(reconciler);
    double own_cpu_before = CpuSeconds(getpid());
    std::atomic<int64_t> watch_target{0};
    std::atomic<int64_t> watched_ns{0};
    // Started before the upload, like a CI job's `wwctl wait` after `wwctl apply`.
    std::thread watcher([&] {
      if (!options.reports) return;
      while (watch_target == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      watched_ns = watch_converged(watch_target);
    });
    auto [revision, upload_seconds] = upload(round % 2 == 1 ? 1400 : 1420);
    watch_target = revision;
    auto accepted = Clock::now();
    upload_times.push_back(upload_seconds * 1000);
    if (!wait_all(revision, std::chrono::seconds(60))) {
      std::printf("  round %d: not every agent received revision %lld within 60 s\n", round,
                  static_cast<long long>(revision));
      watcher.join();
      continue;
    }
    watcher.join();
    int64_t last_report_ns = 0;
    bool all_reported = true;
    for (const AgentSlot& slot : slots) {
      all_reported = all_reported && slot.reported_revision >= revision;
      last_report_ns = std::max(last_report_ns, slot.reported_ns.load());
    }
    if (!options.reports) {
      // Plans only: nobody reports, so nothing converges.
    } else if (all_reported && watched_ns > 0) {
      double lag = static_cast<double>(watched_ns - last_report_ns) / 1e6;
      wait_lags.push_back(lag);
      std::printf("  round %d: accepted -> last converged report %.0f ms; the wait long-poll saw it %.1f ms later\n",
                  round, static_cast<double>(last_report_ns - accepted.time_since_epoch().count()) / 1e6, lag);
    } else {
      std::printf("  round %d: the wait long-poll did not see the fleet converge\n", round);
    }
    std::vector<double> latencies;
    for (const AgentSlot& slot : slots) {
      double ms = static_cast<double>(slot.received_ns.load() - accepted.time_since_epoch().count()) / 1e6;
      latencies.push_back(std::max(ms, 0.0));
    }
    all_latencies.insert(all_latencies.end(), latencies.begin(), latencies.end());
    std::printf("  round %d: upload %.0f ms; accepted -> all %d hold the plan: p50 %.0f ms, p99 %.0f ms, max %.0f ms "
                "(CPU: reconciler %.2f s, simulated agents %.2f s)\n",
                round, upload_seconds * 1000, options.agents, Percentile(latencies, 0.5), Percentile(latencies, 0.99),
                Percentile(latencies, 1.0), CpuSeconds(reconciler) - server_cpu_before, CpuSeconds(getpid()) - own_cpu_before);
  }
  if (!wait_lags.empty()) {
    std::printf("  wwctl wait (status long-poll) after the fleet converged: p50 %.1f ms, max %.1f ms (target < 50 ms)\n",
                Percentile(wait_lags, 0.5), Percentile(wait_lags, 1.0));
  }
  auto final_status = ProcStatus(reconciler);
  if (!all_latencies.empty()) {
    double p99 = Percentile(all_latencies, 0.99);
    double baseline = Percentile(upload_times, 0.5);
    std::printf("  all rounds: p50 %.0f ms, p99 %.0f ms (target < 1000 ms); p99 / upload round trip = %.2fx\n",
                Percentile(all_latencies, 0.5), p99, p99 / baseline);
  }
  std::printf("  reconciler RSS now %ld MB, peak %ld MB (target < 300 MB); idle CPU %.2f %% (target < 5 %%); "
              "poll errors %d\n",
              final_status["VmRSS"] / 1024, final_status["VmHWM"] / 1024, idle_cpu, poll_errors.load());

  stopping = true;
  kill(reconciler, SIGTERM);  // answers the open polls; the pollers then see `stopping`
  for (auto& thread : pollers) thread.join();
  waitpid(reconciler, nullptr, 0);
  std::filesystem::remove_all(work);
  return 0;
}
