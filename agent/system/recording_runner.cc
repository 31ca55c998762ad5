#include "agent/system/recording_runner.h"

#include <utility>

namespace ww::agent {

void RecordingRunner::SetOutput(std::vector<std::string> argv, CommandOutput output) {
  scripted_.insert_or_assign(std::move(argv), Result<CommandOutput>(std::move(output)));
}

void RecordingRunner::SetFailure(std::vector<std::string> argv, Status status) {
  scripted_.insert_or_assign(std::move(argv), Result<CommandOutput>(std::move(status)));
}

Result<CommandOutput> RecordingRunner::Run(const Command& command) {
  commands_.push_back(command);
  auto scripted = scripted_.find(command.argv);
  if (scripted != scripted_.end()) return scripted->second;
  if (read_only_runner_ != nullptr && command.effect == Effect::kReadOnly) return read_only_runner_->Run(command);
  return CommandOutput{};
}

std::unique_ptr<RunningCommand> RecordingRunner::Start(const Command& command) {
  if (read_only_runner_ != nullptr && command.effect == Effect::kReadOnly &&
      scripted_.find(command.argv) == scripted_.end()) {
    commands_.push_back(command);
    return read_only_runner_->Start(command);
  }
  return FinishedCommand(Run(command));
}

std::vector<Command> RecordingRunner::MutatingCommands() const {
  std::vector<Command> mutating;
  for (const Command& command : commands_) {
    if (command.effect == Effect::kMutating) mutating.push_back(command);
  }
  return mutating;
}

std::vector<std::string> RecordingRunner::CommandLines() const {
  std::vector<std::string> lines;
  for (const Command& command : commands_) lines.push_back(FormatArgv(command.argv));
  return lines;
}

std::vector<std::string> RecordingRunner::MutatingCommandLines() const {
  std::vector<std::string> lines;
  for (const Command& command : MutatingCommands()) lines.push_back(FormatArgv(command.argv));
  return lines;
}

}  // namespace ww::agent
