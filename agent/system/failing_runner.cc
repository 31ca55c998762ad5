#include "agent/system/failing_runner.h"

#include <string>

namespace ww::agent {

Result<CommandOutput> FailingRunner::Run(const Command& command) {
  if (command.effect != Effect::kMutating) return inner_.Run(command);
  ++mutating_count_;
  if (mutating_count_ != fail_at_) return inner_.Run(command);
  std::string message = "injected failure of mutating command #" + std::to_string(fail_at_);
  if (failure_ == InjectedFailure::kUnavailable) {
    return Status::Unavailable("\"" + FormatArgv(command.argv) + "\": " + message);
  }
  return CommandOutput{1, "", message + "\n"};
}

std::unique_ptr<RunningCommand> FailingRunner::Start(const Command& command) {
  if (command.effect != Effect::kMutating) return inner_.Start(command);
  return CommandRunner::Start(command);
}

}  // namespace ww::agent
