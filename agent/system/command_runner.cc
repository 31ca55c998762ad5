#include "agent/system/command_runner.h"

#include <string_view>

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

}  // namespace

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

Result<CommandOutput> RunChecked(CommandRunner& runner, const Command& command) {
  WW_ASSIGN_OR_RETURN(CommandOutput output, runner.Run(command));
  if (output.exit_code == 0) return output;
  std::string message = "\"" + FormatArgv(command.argv) + "\" failed (exit " + std::to_string(output.exit_code) + ")";
  // Tools report on stderr; a few (iptables-restore on some errors) only on stdout.
  std::string detail = TrimTrailingWhitespace(output.stderr_data.empty() ? output.stdout_data : output.stderr_data);
  if (!detail.empty()) message += ": " + detail;
  return Status::FailedPrecondition(std::move(message));
}

}  // namespace ww::agent
