#pragma once
// The wwctl command surface at a glance: kCommands (commands.cc) is one table of
// {name, one-line help, register function}, one file per command in cli/commands/.
// RunWwctl parses argv with CLI11 and runs one command; adding a command is a new file plus
// one row. The global flags (--config, -o/--output, --timeout, -v/--verbose) may come before
// or after the command, as with kubectl. Exit codes are part of the contract scripts and CI
// rely on: 0 success, 1 a failure about the input (invalid fleet, missing key) or a refusal
// by the reconciler, 2 usage, I/O or connection error; `plan --detailed-exitcode` and `diff`
// are 0/1/2/3 = none/error/changes/destructive changes and `wait` 0/1/2 = met/error/timed out.

#include <chrono>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace ww::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // invalid input: findings or an error were printed
inline constexpr int kExitUsage = 2;    // bad flags or arguments, unreadable files

// What a parsed command runs with: the process streams, replaceable in tests.
struct CommandContext {
  std::istream& in;
  std::ostream& out;  // results only
  std::ostream& err;  // "wwctl: error: ...", diagnostics of render/plan, summaries
  // Global flags every command accepts (RunWwctl fills them in):
  bool verbose = false;                     // -v: each request, and the config used, on err
  std::chrono::seconds request_timeout{0};  // --timeout of commands without their own; 0 = default
};

// A parsed command, ready to run; returns the exit status.
using CommandRun = std::function<int(CommandContext&)>;
// Declares the command's flags, help text and examples on `command` (a CLI11 subcommand
// already named and described from the table) and returns how to run it once parsed.
using RegisterCommand = CommandRun (*)(CLI::App& command);

struct CommandInfo {
  std::string_view name;
  std::string_view help;  // one line, shown by `wwctl --help`
  RegisterCommand register_command;
};

const std::vector<CommandInfo>& Commands();

// One register function per file in cli/commands/.
CommandRun RegisterValidate(CLI::App& command);
CommandRun RegisterRender(CLI::App& command);
CommandRun RegisterPlan(CLI::App& command);
CommandRun RegisterSchema(CLI::App& command);
CommandRun RegisterVersion(CLI::App& command);
// Against the reconciler (cli/remote_session.h): the config file, then mutual TLS.
CommandRun RegisterApply(CLI::App& command);
CommandRun RegisterDiff(CLI::App& command);
CommandRun RegisterGet(CLI::App& command);
CommandRun RegisterStatus(CLI::App& command);
CommandRun RegisterWait(CLI::App& command);
CommandRun RegisterToken(CLI::App& command);
CommandRun RegisterCredential(CLI::App& command);
CommandRun RegisterAgent(CLI::App& command);
CommandRun RegisterHistory(CLI::App& command);
CommandRun RegisterRollback(CLI::App& command);
CommandRun RegisterSync(CLI::App& command);
// Phones and laptops (unmanaged peers): keys and device configs made here; reads the reconciler.
CommandRun RegisterPeer(CLI::App& command);

// "wwctl 0.1.0 (wire format 1)": `wwctl version` and `wwctl --version`.
std::string VersionText();

// Prints "wwctl: error: LINE" for every line of `message` to context.err; returns `exit_code`.
int ReportError(CommandContext& context, int exit_code, std::string_view message);

// argv with the global flags that precede the command moved behind it (before a "--"), so
// each command parses them as its own: "wwctl --config F get agents" is "wwctl get agents
// --config F". Every other argument keeps its place.
std::vector<std::string> MoveGlobalFlags(const std::vector<std::string>& args);

int RunWwctl(int argc, char** argv);
int RunWwctl(int argc, char** argv, CommandContext& context);

}  // namespace ww::cli
