#include "cli/commands.h"

#include <algorithm>
#include <iostream>
#include <optional>
#include <utility>

#include "cli/cli11.h"
#include "cli/remote_session.h"
#include "schema/resource_fields.h"
#include "schema/yaml_document.h"

namespace ww::cli {

const std::vector<CommandInfo>& Commands() {
  static const std::vector<CommandInfo> commands = {
      {"validate", "Check fleet files offline: syntax, fields and cross-resource rules", RegisterValidate},
      {"render", "Print the AgentConfig one agent would be given, as JSON", RegisterRender},
      {"plan", "Print the steps that take an agent's observed state to its config", RegisterPlan},
      {"schema", "Print the JSON Schema of fleet documents, for editors", RegisterSchema},
      {"version", "Print the versions of wwctl and of the reconciler, with their wire formats", RegisterVersion},
      {"apply", "Upload a fleet to the reconciler as the next revision (--dry-run: show the plans)", RegisterApply},
      {"diff", "Show the resources and agent steps applying a fleet would change (exit 2, 3 when destructive)", RegisterDiff},
      {"get", "List agents, tunnels, peers, forwards or revisions from the reconciler", RegisterGet},
      {"status", "Summarise the fleet: current revision, convergence, each agent's phase", RegisterStatus},
      {"wait", "Wait until the fleet has converged, optionally on a given revision", RegisterWait},
      {"token", "Create, list and revoke single-use enrollment tokens for new agents", RegisterToken},
      {"credential", "Create, list and revoke certificates for people and CI (roles admin, viewer, ci)",
       RegisterCredential},
      {"agent", "Delete an agent and revoke its certificates", RegisterAgent},
      {"history", "List the revisions the reconciler accepted, newest first", RegisterHistory},
      {"rollback", "Make an earlier revision current again, as a new revision", RegisterRollback},
      {"sync", "Make the reconciler fetch its git source now", RegisterSync},
      {"peer", "Add a phone or laptop: its keys, Peer document, wg-quick config and QR code", RegisterPeer},
  };
  return commands;
}

int ReportError(CommandContext& context, int exit_code, std::string_view message) {
  size_t start = 0;
  while (start <= message.size()) {
    size_t end = message.find('\n', start);
    if (end == std::string_view::npos) end = message.size();
    context.err << "wwctl: error: " << message.substr(start, end - start) << '\n';
    start = end + 1;
  }
  return exit_code;
}

namespace {

struct GlobalFlag {
  std::string_view short_name;  // "" = none
  std::string_view long_name;
  bool takes_value;
};

constexpr GlobalFlag kGlobalFlags[] = {
    {"", "--config", true}, {"-o", "--output", true}, {"", "--timeout", true}, {"-v", "--verbose", false}};

// How many arguments from args[at] one global flag takes (1 or 2), or 0 when args[at] is not one.
size_t GlobalFlagLength(const std::vector<std::string>& args, size_t at) {
  std::string_view arg = args[at];
  for (const GlobalFlag& flag : kGlobalFlags) {
    bool exact = arg == flag.long_name || (!flag.short_name.empty() && arg == flag.short_name);
    if (exact) return flag.takes_value && at + 1 < args.size() ? 2 : 1;
    if (!flag.takes_value) continue;
    // --config=FILE, -ojson
    if (arg.starts_with(std::string(flag.long_name) + "=")) return 1;
    if (!flag.short_name.empty() && arg.size() > 2 && arg.starts_with(flag.short_name)) return 1;
  }
  return 0;
}

// What a global flag means on a command that does not declare it itself.
struct GlobalValues {
  std::string config_path;  // ignored by offline commands, so an alias with --config works everywhere
  std::string timeout;
  bool verbose = false;
};

// Gives every command without subcommands of its own the global flags it lacks. Offline
// commands accept --config, --timeout and --verbose hidden and unused: they never connect.
void AddGlobalFlags(CLI::App& command, GlobalValues& values) {
  std::vector<CLI::App*> children = command.get_subcommands([](CLI::App*) { return true; });
  if (!children.empty()) {
    for (CLI::App* child : children) AddGlobalFlags(*child, values);
    return;
  }
  const bool remote = command.get_option_no_throw("--config") != nullptr;
  if (!remote) command.add_option("--config", values.config_path, "")->group("");
  if (command.get_option_no_throw("--timeout") == nullptr) {
    CLI::Option* timeout =
        command.add_option("--timeout", values.timeout, "Give up on the reconciler after this long (default: 30s)")
            ->type_name("DURATION");
    if (!remote) timeout->group("");
  }
  CLI::Option* verbose =
      command.add_flag("-v,--verbose", values.verbose, "Print the config file used and every request to stderr");
  if (!remote) verbose->group("");
}

// Commands whose exit status 2 means something other than a usage error (changes, timed out):
// a usage error there is 1.
bool TwoIsNotUsage(const CLI::App& app, const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--detailed-exitcode") return true;
  }
  std::vector<const CLI::App*> parsed = app.get_subcommands([](const CLI::App*) { return true; });
  for (const CLI::App* command : parsed) {
    if (command->parsed() && (command->get_name() == "diff" || command->get_name() == "wait")) return true;
  }
  return false;
}

// The first argument that is not a flag (or a global flag's value): the command's name.
std::optional<std::string> CommandName(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") return std::nullopt;
    if (args[i].starts_with("-")) {
      i += GlobalFlagLength(args, i) == 2 ? 1 : 0;
      continue;
    }
    return args[i];
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> MoveGlobalFlags(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  std::vector<std::string> moved;
  bool before_command = true;
  for (size_t i = 0; i < args.size(); ++i) {
    if (before_command && args[i] != "--") {
      if (size_t length = GlobalFlagLength(args, i); length > 0) {
        moved.insert(moved.end(), args.begin() + static_cast<std::ptrdiff_t>(i),
                     args.begin() + static_cast<std::ptrdiff_t>(i + length));
        i += length - 1;
        continue;
      }
      before_command = args[i].starts_with("-");
    }
    rest.push_back(args[i]);
  }
  auto separator = std::find(rest.begin(), rest.end(), "--");
  rest.insert(separator, moved.begin(), moved.end());
  return rest;
}

int RunWwctl(int argc, char** argv, CommandContext& context) {
  CLI::App app(
      "wwctl: WireWarp's command line. validate, render, plan and schema work offline on fleet files;\n"
      "the others talk to the reconciler with the config file from --config, $WWCTL_CONFIG or\n"
      "~/.config/wirewarp/wwctl.yaml (the reconciler writes DATA_DIR/admin.wwctl.yaml).",
      "wwctl");
  app.require_subcommand(1);
  app.set_version_flag("--version", VersionText());
  app.footer(
      "Global flags, before or after the command: --config FILE, -o/--output FORMAT (the\n"
      "command's formats), --timeout DURATION (the reconciler's answer; wait: the wait),\n"
      "-v/--verbose.\n"
      "\n"
      "Exit status: 0 success, 1 invalid input (findings printed) or refused by the reconciler,\n"
      "2 usage, I/O or connection error; plan --detailed-exitcode, diff and wait document\n"
      "their own (see COMMAND --help).\n"
      "\n"
      "Example:\n"
      "  wwctl validate -f examples/homelab\n"
      "  wwctl render -f examples/homelab --agent vps --keys examples/homelab-keys.yaml\n"
      "  wwctl --config admin.wwctl.yaml get agents\n"
      "  wwctl COMMAND --help");

  std::vector<std::pair<CLI::App*, CommandRun>> runs;
  std::vector<std::string_view> names;
  for (const CommandInfo& info : Commands()) {
    CLI::App* command = app.add_subcommand(std::string(info.name), std::string(info.help));
    runs.emplace_back(command, info.register_command(*command));
    names.push_back(info.name);
  }
  GlobalValues globals;
  for (auto& [command, run] : runs) AddGlobalFlags(*command, globals);

  std::vector<std::string> args(argv + 1, argv + argc);
  // An unknown command is refused before CLI11, which would read it as a stray argument.
  if (std::optional<std::string> name = CommandName(args);
      name && std::find(names.begin(), names.end(), *name) == names.end()) {
    std::string message = "unknown command " + QuoteForMessage(*name);
    std::string_view closest = ClosestName(*name, names);
    if (!closest.empty()) message += "; did you mean \"" + std::string(closest) + "\"?";
    message += " (commands:";
    for (std::string_view command : names) message += " " + std::string(command);
    message += ")";
    context.err << "wwctl: error: " << message << "\nRun 'wwctl --help' for usage.\n";
    return kExitUsage;
  }
  args = MoveGlobalFlags(args);
  std::vector<std::string> reversed(args.rbegin(), args.rend());

  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    // --help and --version arrive as "errors" with a success code.
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(error, context.out, context.err);
    std::string command = app.get_subcommands().empty() ? "wwctl" : "wwctl " + app.get_subcommands().front()->get_name();
    context.err << "wwctl: error: " << error.what() << "\nRun '" << command << " --help' for usage.\n";
    return TwoIsNotUsage(app, args) ? kExitFailure : kExitUsage;
  }

  context.verbose = globals.verbose;
  if (!globals.timeout.empty()) {
    Result<std::chrono::seconds> timeout = ParseDuration(globals.timeout);
    if (!timeout.ok() || timeout->count() == 0) {
      std::string why = timeout.ok() ? "must be more than 0s" : timeout.status().message();
      return ReportError(context, TwoIsNotUsage(app, args) ? kExitFailure : kExitUsage, "--timeout: " + why);
    }
    context.request_timeout = *timeout;
  }
  for (auto& [command, run] : runs) {
    if (command->parsed()) return run(context);
  }
  return ReportError(context, kExitUsage, "no command given; run 'wwctl --help'");
}

int RunWwctl(int argc, char** argv) {
  CommandContext context{std::cin, std::cout, std::cerr};
  int status = RunWwctl(argc, argv, context);
  std::cout.flush();
  return status;
}

}  // namespace ww::cli
