// wirewarp-agent: one-shot commands over the agent library (agent/agent.h). Parses flags,
// builds the real dependencies (ProcessRunner, StateDir), runs one command and turns its
// result into output and an exit code here, in one place.
//
// Exit codes: 0 success (apply: converged), 1 failure (apply: not converged), 2 usage error,
// 3 (run) the reconciler refused this agent: deleted or its certificate revoked.

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "agent/agent.h"
#include "agent/daemon/control_plane.h"
#include "agent/daemon/daemon.h"
#include "agent/daemon/system_metrics.h"
#include "agent/system/capabilities.h"
#include "agent/state/state_dir.h"
#include "agent/system/logging_runner.h"
#include "agent/system/process_runner.h"
#include "agent/system/recording_runner.h"
#include "reconciler/client/enroll_client.h"
#include "reconciler/client/log_line.h"
#include "schema/wire_json.h"

namespace {

using ww::Result;
using ww::Status;
using namespace ww::agent;

constexpr const char* kDefaultStateDir = "/var/lib/wirewarp";

struct Flags {
  std::string state_dir = kDefaultStateDir;
  std::string desired_file;
  bool dry_run = false;
  bool verbose = false;
  std::string wireguard = "auto";
  // enroll
  std::string url;
  std::string token;
  std::string token_file;
  std::string ca_pin;
  std::string mode;
  std::string name;
  // run
  int wait_seconds = 25;
  int resolve_seconds = 240;
  std::string capabilities = "drop";
};

int Fail(const Status& status) {
  std::cerr << "wirewarp-agent: error: " << status.message() << "\n";
  return 1;
}

Result<std::string> ReadInput(const std::string& path) {
  std::ostringstream buffer;
  if (path == "-") {
    buffer << std::cin.rdbuf();
    return buffer.str();
  }
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return Status::NotFound("cannot read \"" + path + "\"");
  // One read of the whole file: a rendered config of thousands of forwards is large, and
  // streaming it through a stringstream costs a copy per buffer.
  std::streamoff size = file.tellg();
  if (size > 0) {
    std::string text(static_cast<size_t>(size), '\0');
    file.seekg(0);
    if (file.read(text.data(), size) && file.peek() == std::char_traits<char>::eof()) return text;
    file.clear();
  }
  file.seekg(0);
  buffer << file.rdbuf();  // not a regular file (a pipe), or it changed while read
  return buffer.str();
}

// Peer endpoints named by host name are resolved by the agent (getaddrinfo), which then
// knows the address it set and notices when it changes.
SystemResolver system_resolver;

AgentOptions OptionsFrom(const Flags& flags) {
  AgentOptions options;
  options.resolver = &system_resolver;
  options.dry_run = flags.dry_run ? DryRun::kYes : DryRun::kNo;
  options.wireguard = flags.wireguard == "kernel"      ? WireguardMode::kKernel
                      : flags.wireguard == "userspace" ? WireguardMode::kUserspace
                                                       : WireguardMode::kAuto;
  return options;
}

int PrintReport(const Result<ApplyReport>& report) {
  if (!report.ok()) return Fail(report.status());
  std::cout << ApplyReportToJson(*report);
  if (!report->error.empty()) std::cerr << "wirewarp-agent: " << report->error << "\n";
  return report->converged ? 0 : 1;
}

// Runs `pass` with the real runner, or in dry-run with a recorder that lets observation
// through and records (never runs) every mutating command.
template <typename Pass>
int RunWithRunner(const Flags& flags, Pass pass) {
  ProcessRunner real;
  std::ostringstream discard;
  LoggingRunner logging(real, flags.verbose ? std::cerr : discard, LoggedCommands::kMutatingOnly);
  RecordingRunner recording(&logging);
  CommandRunner& runner = flags.dry_run ? static_cast<CommandRunner&>(recording) : logging;
  return pass(runner);
}

Result<StateDir> OpenState(const Flags& flags, CreateMode mode) { return StateDir::Open(flags.state_dir, mode); }

std::string Hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

int Enroll(const Flags& flags) {
  std::string token = flags.token;
  if (!flags.token_file.empty()) {
    auto text = ReadInput(flags.token_file);
    if (!text.ok()) return Fail(text.status());
    token = Trimmed(*text);
  }
  if (token.empty()) return Fail(Status::InvalidArgument("the token is empty"));
  auto state = OpenState(flags, CreateMode::kCreateIfMissing);
  if (!state.ok()) return Fail(state.status());
  auto key = state->EnsureWireguardKey();
  if (!key.ok()) return Fail(key.status());
  ww::EnrollRequest request;
  request.url = flags.url;
  request.token = std::move(token);
  request.ca_pins = {flags.ca_pin};
  request.mode = flags.mode;
  request.name = flags.name;
  request.hostname = Hostname();
  request.version = std::string(kAgentVersion);
  request.wireguard_public_key = *key;
  request.state_dir = state->path();
  request.write_file = [&](std::string_view name, std::string_view contents) {
    return state->WriteFileAtomically(name, contents);
  };
  auto enrolled = ww::Enroll(request);
  if (!enrolled.ok()) return Fail(enrolled.status());
  Status saved = state->WriteFileAtomically(kReconcilerUrlFile, flags.url + "\n");
  if (saved.ok()) saved = state->WriteFileAtomically(kAgentNameFile, enrolled->agent_name + "\n");
  if (!saved.ok()) return Fail(saved);
  std::cout << enrolled->agent_name << "\n";
  return 0;
}

// Runs the daemon on a worker thread while this thread waits for SIGTERM/SIGINT (blocked in
// every thread, so no handler runs inside a library). On a signal the daemon stops; a poll
// still in flight after a moment is abandoned, but never an apply half done.
int Run(const Flags& flags) {
  auto state = OpenState(flags, CreateMode::kOpenExisting);
  if (!state.ok()) return Fail(state.status());
  auto name = state->ReadFile(kAgentNameFile, 4096);
  auto url = state->ReadFile(kReconcilerUrlFile, 4096);
  if (!name.ok()) return Fail(name.status());
  if (!url.ok()) return Fail(url.status());
  if (!*name || !*url) {
    return Fail(Status::FailedPrecondition(flags.state_dir + " holds no enrollment: run wirewarp-agent enroll first"));
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Before any thread starts: Linux keeps capability sets per thread.
  CapabilityPolicy policy = flags.capabilities == "keep" ? CapabilityPolicy::kKeep : CapabilityPolicy::kDrop;
  if (Status dropped = DropCapabilities(policy); !dropped.ok()) return Fail(dropped);
  if (Result<CapabilityReport> held = ReadCapabilities(); held.ok()) {
    std::cerr << ww::FormatLogLine(std::chrono::system_clock::now(), ww::LogLevel::kInfo,
                                   "wirewarp-agent event=capabilities effective=" + CapabilityNames(held->effective) +
                                       " bounding=" + CapabilityNames(held->bounding))
              << "\n" << std::flush;
  }

  ProcessRunner runner;
  SystemSampler sampler(state->path());
  std::mutex sampler_mutex;
  std::random_device seed;
  std::mt19937_64 generator(seed());
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::mutex random_mutex;

  DaemonOptions options;
  options.agent_name = Trimmed(**name);
  options.hostname = Hostname();
  options.poll_wait = std::chrono::seconds(flags.wait_seconds);
  options.resolve_interval = std::chrono::seconds(flags.resolve_seconds);
  options.apply = OptionsFrom(flags);
  DaemonEnvironment environment;
  environment.runner = &runner;
  environment.state = &*state;
  environment.make_client = ApiClientFactory(Trimmed(**url), *state);
  environment.random = [&] {
    std::lock_guard<std::mutex> lock(random_mutex);
    return uniform(generator);
  };
  environment.now = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
  environment.sample_system = [&] {
    std::lock_guard<std::mutex> lock(sampler_mutex);
    return sampler.Sample();
  };
  environment.log = &std::cerr;
  AgentDaemon daemon(std::move(options), std::move(environment));

  std::atomic<bool> finished{false};
  DaemonExit exit = DaemonExit::kFailed;
  std::thread worker([&] {
    exit = daemon.Run();
    finished = true;
  });
  timespec tick{0, 200 * 1000 * 1000};
  while (!finished) {
    int signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number != SIGTERM && signal_number != SIGINT) continue;
    daemon.Stop();
    for (int waited = 0; waited < 40 && !finished; ++waited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (finished) break;
    // A long-poll still waits for its answer: leave it, but not in the middle of an apply.
    auto paused = daemon.PauseHostChanges();
    std::cerr << ww::FormatLogLine(std::chrono::system_clock::now(), ww::LogLevel::kInfo,
                               "wirewarp-agent event=exit reason=stopped abandoned=poll")
              << "\n" << std::flush;
    std::_Exit(0);
  }
  worker.join();
  return DaemonExitCode(exit);
}

}  // namespace

int main(int argc, char** argv) {
  // A reconciler that closes a connection mid-write must not kill the daemon (EPIPE instead).
  signal(SIGPIPE, SIG_IGN);
  Flags flags;
  CLI::App app{"wirewarp-agent: makes this host's WireGuard tunnels, port forwards and routing match its config"};
  app.require_subcommand(1);
  // The wire format must match the reconciler's (`wwctl version` shows both).
  app.set_version_flag("--version", "wirewarp-agent " + std::string(kAgentVersion) + " (wire format " +
                                        std::to_string(ww::kWireFormatVersion) + ")");
  app.footer("Example:\n  wirewarp-agent keygen --state-dir /var/lib/wirewarp\n"
             "  wirewarp-agent apply --state-dir /var/lib/wirewarp --desired vps.json");
  auto add_state = [&](CLI::App* command) {
    command->add_option("--state-dir", flags.state_dir, "State directory (keys, last applied config)")
        ->default_str(kDefaultStateDir);
  };
  auto add_apply_flags = [&](CLI::App* command) {
    command->add_flag("--dry-run", flags.dry_run, "Print the commands it would run; change nothing");
    command->add_flag("-v,--verbose", flags.verbose, "Log every mutating command as it runs");
    command->add_option("--wireguard", flags.wireguard, "auto (kernel, else wireguard-go), kernel or userspace")
        ->check(CLI::IsMember({"auto", "kernel", "userspace"}));
  };

  CLI::App* keygen = app.add_subcommand("keygen", "Create this agent's WireGuard key once and print the public key");
  add_state(keygen);
  keygen->footer("Example:\n  wirewarp-agent keygen --state-dir /var/lib/wirewarp");

  CLI::App* observe = app.add_subcommand("observe", "Print what the agent owns on this host as ObservedState JSON");
  add_state(observe);
  observe->footer("Example:\n  wirewarp-agent observe --state-dir /var/lib/wirewarp > observed.json");

  CLI::App* apply = app.add_subcommand("apply", "Make the host match a desired AgentConfig (JSON); exit 0 when converged");
  add_state(apply);
  apply->add_option("--desired", flags.desired_file, "AgentConfig JSON file (from wwctl render), or - for stdin")->required();
  add_apply_flags(apply);
  apply->footer("Example:\n  wwctl render -f fleet/ --agent vps --keys keys.yaml > vps.json\n"
                "  wirewarp-agent apply --state-dir /var/lib/wirewarp --desired vps.json");

  CLI::App* restore = app.add_subcommand("restore", "Re-apply the last applied config from the state directory, offline");
  add_state(restore);
  add_apply_flags(restore);
  restore->footer("Example (at boot, before the network is up):\n  wirewarp-agent restore --state-dir /var/lib/wirewarp");

  CLI::App* down = app.add_subcommand("down", "Remove everything the agent owns from the host (idempotent)");
  add_state(down);
  add_apply_flags(down);
  down->footer("Example:\n  wirewarp-agent down --state-dir /var/lib/wirewarp");

  CLI::App* enroll = app.add_subcommand("enroll", "Join a reconciler with a one-time token; prints the agent's name");
  add_state(enroll);
  enroll->add_option("--url", flags.url, "The reconciler, https://HOST[:PORT]")->required();
  auto* token_option = enroll->add_option("--token", flags.token, "The enrollment token (prefer --token-file)");
  auto* token_file_option = enroll->add_option("--token-file", flags.token_file, "File holding the token, or - for stdin");
  token_option->excludes(token_file_option);
  token_file_option->excludes(token_option);
  enroll->add_option("--ca-pin", flags.ca_pin, "sha256:HEX of the reconciler CA's public key")->required();
  enroll->add_option("--mode", flags.mode, "server or client")->required()->check(CLI::IsMember({"server", "client"}));
  enroll->add_option("--name", flags.name, "Agent name (default: derived from the host name)");
  enroll->footer("Example (the command `wwctl token create` prints):\n"
                 "  wirewarp-agent enroll --url https://vpn.example.net:8443 --token-file token \\\n"
                 "    --ca-pin sha256:4f1c... --mode client --state-dir /var/lib/wirewarp");

  CLI::App* run = app.add_subcommand("run", "Keep this host in line with the reconciler: restore, long-poll, apply, report");
  add_state(run);
  run->add_option("--wait", flags.wait_seconds, "Long-poll wait in seconds (the reconciler caps it at 30)")
      ->default_val(25)
      ->check(CLI::Range(1, 30));
  run->add_option("--resolve-interval", flags.resolve_seconds,
                  "Seconds between lookups of peer endpoint host names; a new address is applied at once")
      ->default_val(240)
      ->check(CLI::Range(10, 300));
  run->add_option("--wireguard", flags.wireguard, "auto (kernel, else wireguard-go), kernel or userspace")
      ->check(CLI::IsMember({"auto", "kernel", "userspace"}));
  run->add_option("--capabilities", flags.capabilities,
                  "drop: keep only CAP_NET_ADMIN and CAP_NET_RAW after start (for the daemon and what it runs); "
                  "keep: as started")
      ->default_val("drop")
      ->check(CLI::IsMember({"drop", "keep"}));
  run->footer("Example:\n  wirewarp-agent run --state-dir /var/lib/wirewarp\n"
              "Exit codes: 0 stopped by SIGTERM/SIGINT (the tunnel stays up), 1 cannot run, 3 deleted or revoked");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }

  if (enroll->parsed()) {
    if (flags.token.empty() && flags.token_file.empty()) {
      std::cerr << "wirewarp-agent: error: enroll needs --token-file or --token\n";
      return 2;
    }
    return Enroll(flags);
  }
  if (run->parsed()) return Run(flags);
  if (keygen->parsed()) {
    auto state = OpenState(flags, CreateMode::kCreateIfMissing);
    if (!state.ok()) return Fail(state.status());
    auto key = state->EnsureWireguardKey();
    if (!key.ok()) return Fail(key.status());
    std::cout << key->ToBase64() << "\n";
    return 0;
  }
  if (observe->parsed()) {
    auto state = OpenState(flags, CreateMode::kCreateIfMissing);
    if (!state.ok()) return Fail(state.status());
    ProcessRunner runner;
    auto observed = ObserveOwned(runner, *state);
    if (!observed.ok()) return Fail(observed.status());
    std::cout << ww::ObservedStateToJson(*observed);
    return 0;
  }
  if (apply->parsed()) {
    auto text = ReadInput(flags.desired_file);
    if (!text.ok()) return Fail(text.status());
    auto desired = ww::AgentConfigFromJson(*text);
    if (!desired.ok()) return Fail(desired.status().WithContext("reading " + flags.desired_file));
    auto state = OpenState(flags, CreateMode::kCreateIfMissing);
    if (!state.ok()) return Fail(state.status());
    return RunWithRunner(flags, [&](CommandRunner& runner) {
      return PrintReport(ApplyConfig(runner, *state, *desired, OptionsFrom(flags), *text));
    });
  }
  if (restore->parsed()) {
    auto state = OpenState(flags, CreateMode::kCreateIfMissing);
    if (!state.ok()) return Fail(state.status());
    return RunWithRunner(flags, [&](CommandRunner& runner) {
      return PrintReport(RestoreLastApplied(runner, *state, OptionsFrom(flags)));
    });
  }
  if (down->parsed()) {
    auto state = OpenState(flags, CreateMode::kCreateIfMissing);
    if (!state.ok()) return Fail(state.status());
    return RunWithRunner(flags, [&](CommandRunner& runner) {
      return PrintReport(TearDown(runner, *state, OptionsFrom(flags)));
    });
  }
  return 2;
}
