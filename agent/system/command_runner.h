#pragma once
// CommandRunner: the one door between the agent and the host's tools (wg, ip, iptables,
// sysctl, wireguard-go). A command is an argv vector plus optional stdin, never a shell
// string; secrets go through stdin or files, never argv. Implementations: ProcessRunner
// (real, posix_spawn), RecordingRunner (tests, --dry-run), LoggingRunner and FailingRunner
// (decorators). Start() runs commands concurrently where the implementation can (the
// observer overlaps iptables-save with everything else). Not thread-safe unless an
// implementation says so.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "agent/system/firewall_generation.h"
#include "schema/result.h"

namespace ww::agent {

// Whether a command changes the host. Observation commands are kReadOnly so that
// --dry-run and "a no-op re-apply runs no mutating command" can be checked.
enum class Effect { kReadOnly, kMutating };

struct Command {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::string stdin_data;         // fed to the process, then stdin is closed
  Effect effect = Effect::kMutating;
  std::chrono::milliseconds timeout{15000};
  // Printed instead of stdin_data in logs when the input carries a secret.
  bool stdin_is_secret = false;
  friend bool operator==(const Command&, const Command&) = default;
};

struct CommandOutput {
  int exit_code = 0;  // 128+N when killed by signal N
  std::string stdout_data;
  std::string stderr_data;
};

// A command started by CommandRunner::Start. Wait() returns what Run would have returned
// and may be called once. Destroying it without Wait() waits for the command to end.
class RunningCommand {
 public:
  RunningCommand() = default;
  RunningCommand(const RunningCommand&) = delete;
  RunningCommand& operator=(const RunningCommand&) = delete;
  virtual ~RunningCommand() = default;

  virtual Result<CommandOutput> Wait() = 0;
};

class CommandRunner {
 public:
  CommandRunner() = default;
  CommandRunner(const CommandRunner&) = delete;
  CommandRunner& operator=(const CommandRunner&) = delete;
  virtual ~CommandRunner() = default;

  // Fails (kUnavailable) only when the process cannot be started or times out; a non-zero
  // exit is a normal CommandOutput.
  virtual Result<CommandOutput> Run(const Command& command) = 0;

  // Starts `command` and returns while it runs, when the implementation can; the default
  // runs it to the end here (Run) and hands back the result. Runners that record or log
  // do so in Start order, so tests still see one exact sequence of command lines.
  virtual std::unique_ptr<RunningCommand> Start(const Command& command);

  // Where the host's nftables ruleset version can be read without a process, or nullptr
  // (the default) when this runner cannot say; the observer then always runs iptables-save.
  // Decorators pass their wrapped runner's on.
  virtual FirewallGeneration* firewall_generation() { return nullptr; }
};

// A RunningCommand that has already ended with `result` (for runners that cannot overlap).
std::unique_ptr<RunningCommand> FinishedCommand(Result<CommandOutput> result);

// Runs `command` and turns a non-zero exit into kFailedPrecondition whose message quotes
// the argv and the captured stderr: `"ip link add wg0 type wireguard" failed (exit 2): ...`.
Result<CommandOutput> RunChecked(CommandRunner& runner, const Command& command);
// As RunChecked, for a command started with CommandRunner::Start.
Result<CommandOutput> WaitChecked(RunningCommand& running, const Command& command);

// "ip link add wg0 type wireguard" with arguments quoted when they contain spaces.
std::string FormatArgv(const std::vector<std::string>& argv);

}  // namespace ww::agent
