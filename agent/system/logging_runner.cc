#include "agent/system/logging_runner.h"

namespace ww::agent {

std::string FormatLogLine(const Command& command) {
  std::string line = "[#] " + FormatArgv(command.argv);
  if (command.stdin_is_secret) {
    line += " <<< (hidden)";
  } else if (!command.stdin_data.empty()) {
    line += " <<< " + std::to_string(command.stdin_data.size()) + " bytes";
  }
  return line;
}

void LoggingRunner::Log(const Command& command) {
  if (which_ == LoggedCommands::kAll || command.effect == Effect::kMutating) {
    log_ << FormatLogLine(command) << '\n' << std::flush;
  }
}

Result<CommandOutput> LoggingRunner::Run(const Command& command) {
  Log(command);
  return inner_.Run(command);
}

std::unique_ptr<RunningCommand> LoggingRunner::Start(const Command& command) {
  Log(command);
  return inner_.Start(command);
}

}  // namespace ww::agent
