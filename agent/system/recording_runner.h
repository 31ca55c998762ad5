#pragma once
// RecordingRunner: a CommandRunner that records every Command instead of touching the host
// and answers with scripted outputs keyed by exact argv (default: exit 0, no output). Unit
// tests assert the exact command lines it saw. For --dry-run it can pass read-only commands
// (observation) to a real runner while recording, and never running, the mutating ones.
// Not thread-safe.

#include <map>
#include <string>
#include <vector>

#include "agent/system/command_runner.h"

namespace ww::agent {

class RecordingRunner : public CommandRunner {
 public:
  // With `read_only_runner`, read-only commands that have no scripted output run there.
  explicit RecordingRunner(CommandRunner* read_only_runner = nullptr) : read_only_runner_(read_only_runner) {}

  // Every later command with exactly this argv gets `output` (the latest scripting wins).
  void SetOutput(std::vector<std::string> argv, CommandOutput output);
  // Every later command with exactly this argv fails to run (e.g. kUnavailable: a timeout).
  void SetFailure(std::vector<std::string> argv, Status status);

  Result<CommandOutput> Run(const Command& command) override;
  // Records like Run; read-only commands passed to `read_only_runner` start there.
  std::unique_ptr<RunningCommand> Start(const Command& command) override;
  // nullptr unless a test set one with SetFirewallGeneration: a dry run (read-only commands
  // passed to a real runner) always runs iptables-save.
  FirewallGeneration* firewall_generation() override { return firewall_generation_; }
  void SetFirewallGeneration(FirewallGeneration* generation) { firewall_generation_ = generation; }

  // Everything Run saw, in order.
  const std::vector<Command>& commands() const { return commands_; }
  std::vector<Command> MutatingCommands() const;
  // Each recorded command as FormatArgv prints it, for compact test assertions.
  std::vector<std::string> CommandLines() const;
  std::vector<std::string> MutatingCommandLines() const;
  void ClearCommands() { commands_.clear(); }

 private:
  CommandRunner* read_only_runner_;
  FirewallGeneration* firewall_generation_ = nullptr;
  std::vector<Command> commands_;
  std::map<std::vector<std::string>, Result<CommandOutput>> scripted_;
};

}  // namespace ww::agent
