#pragma once
// LoggingRunner: a decorator that writes each command as wg-quick does, "[#] ip link add wg0
// type wireguard", to a stream before running it with the wrapped runner. Standard input is
// summarized, never printed: "<<< (hidden)" when it carries a secret, "<<< N bytes"
// otherwise. Not thread-safe; the stream must outlive the runner.

#include <ostream>

#include "agent/system/command_runner.h"

namespace ww::agent {

enum class LoggedCommands { kAll, kMutatingOnly };

class LoggingRunner : public CommandRunner {
 public:
  LoggingRunner(CommandRunner& inner, std::ostream& log, LoggedCommands which = LoggedCommands::kAll)
      : inner_(inner), log_(log), which_(which) {}

  Result<CommandOutput> Run(const Command& command) override;
  std::unique_ptr<RunningCommand> Start(const Command& command) override;
  FirewallGeneration* firewall_generation() override { return inner_.firewall_generation(); }

 private:
  void Log(const Command& command);

  CommandRunner& inner_;
  std::ostream& log_;
  LoggedCommands which_;
};

// The line LoggingRunner writes for `command`, without the trailing newline.
std::string FormatLogLine(const Command& command);

}  // namespace ww::agent
