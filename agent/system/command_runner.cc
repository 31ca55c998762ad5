#include "agent/system/command_runner.h"

#include <string_view>
#include <utility>

namespace ww::agent {
namespace {

// Characters a POSIX shell would treat specially; such arguments are single-quoted so a
// logged line can be pasted into a terminal.
bool NeedsQuoting(std::string_view argument) {
  if (argument.empty()) return true;
  for (char c : argument) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 std::string_view("-_./:=,+@%^").find(c) != std::string_view::npos;
    if (!plain) return true;
  }
  return false;
}

std::string TrimTrailingWhitespace(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) {
    text.pop_back();
  }
  return text;
}

class Finished : public RunningCommand {
 public:
  explicit Finished(Result<CommandOutput> result) : result_(std::move(result)) {}
  Result<CommandOutput> Wait() override { return std::move(result_); }

 private:
  Result<CommandOutput> result_;
};

}  // namespace

std::unique_ptr<RunningCommand> FinishedCommand(Result<CommandOutput> result) {
  return std::make_unique<Finished>(std::move(result));
}

std::unique_ptr<RunningCommand> CommandRunner::Start(const Command& command) { return FinishedCommand(Run(command)); }

std::string FormatArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& argument : argv) {
    if (!out.empty()) out += ' ';
    if (!NeedsQuoting(argument)) {
      out += argument;
      continue;
    }
    out += '\'';
    for (char c : argument) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

namespace {

Result<CommandOutput> Checked(const Command& command, Result<CommandOutput> result) {
  WW_ASSIGN_OR_RETURN(CommandOutput output, std::move(result));
  if (output.exit_code == 0) return output;
  std::string message = "\"" + FormatArgv(command.argv) + "\" failed (exit " + std::to_string(output.exit_code) + ")";
  // Tools report on stderr; a few (iptables-restore on some errors) only on stdout.
  std::string detail = TrimTrailingWhitespace(output.stderr_data.empty() ? output.stdout_data : output.stderr_data);
  if (!detail.empty()) message += ": " + detail;
  return Status::FailedPrecondition(std::move(message));
}

}  // namespace

Result<CommandOutput> RunChecked(CommandRunner& runner, const Command& command) {
  return Checked(command, runner.Run(command));
}

Result<CommandOutput> WaitChecked(RunningCommand& running, const Command& command) {
  return Checked(command, running.Wait());
}

}  // namespace ww::agent
