// wirewarp-agent: one-shot commands over the agent library (agent/agent.h). Parses flags,
// builds the real dependencies (ProcessRunner, StateDir), runs one command and turns its
// result into output and an exit code here, in one place.
//
// Exit codes: 0 success (apply: converged), 1 failure (apply: not converged), 2 usage error.

#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "agent/agent.h"
#include "agent/state/state_dir.h"
#include "agent/system/logging_runner.h"
#include "agent/system/process_runner.h"
#include "agent/system/recording_runner.h"
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

AgentOptions OptionsFrom(const Flags& flags) {
  AgentOptions options;
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

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"wirewarp-agent: makes this host's WireGuard tunnels, port forwards and routing match its config"};
  app.require_subcommand(1);
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }

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
