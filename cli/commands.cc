#include "cli/commands.h"

#include <iostream>
#include <utility>

#include "cli/cli11.h"

namespace ww::cli {

const std::vector<CommandInfo>& Commands() {
  static const std::vector<CommandInfo> commands = {
      {"validate", "Check fleet files offline: syntax, fields and cross-resource rules", RegisterValidate},
      {"render", "Print the AgentConfig one agent would be given, as JSON", RegisterRender},
      {"plan", "Print the steps that take an agent's observed state to its config", RegisterPlan},
      {"schema", "Print the JSON Schema of fleet documents, for editors", RegisterSchema},
      {"version", "Print the version of wwctl and of its wire format", RegisterVersion},
      {"apply", "Upload a fleet to the reconciler as the next revision (--dry-run: show the plans)", RegisterApply},
      {"diff", "Show what applying a fleet would change on each agent (exit 1 when anything would)", RegisterDiff},
      {"get", "List agents, tunnels, peers, forwards or revisions from the reconciler", RegisterGet},
      {"status", "Summarise the fleet: current revision, convergence, each agent's phase", RegisterStatus},
      {"wait", "Wait until the fleet has converged, optionally on a given revision", RegisterWait},
      {"token", "Create single-use enrollment tokens for new agents", RegisterToken},
      {"agent", "Delete an agent and revoke its certificates", RegisterAgent},
      {"history", "List the revisions the reconciler accepted, newest first", RegisterHistory},
      {"rollback", "Make an earlier revision current again, as a new revision", RegisterRollback},
      {"sync", "Make the reconciler fetch its git source now", RegisterSync},
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

int RunWwctl(int argc, char** argv, CommandContext& context) {
  CLI::App app(
      "wwctl: WireWarp's command line. validate, render, plan and schema work offline on fleet files;\n"
      "the others talk to the reconciler with the config file from --config, $WWCTL_CONFIG or\n"
      "~/.config/wirewarp/wwctl.yaml (the reconciler writes DATA_DIR/admin.wwctl.yaml).",
      "wwctl");
  app.require_subcommand(1);
  app.set_version_flag("--version", VersionText());
  app.footer(
      "Exit status: 0 success, 1 invalid input (findings printed) or refused by the reconciler,\n"
      "2 usage, I/O or connection error; diff and wait document their own (see COMMAND --help).\n"
      "\n"
      "Example:\n"
      "  wwctl validate -f examples/homelab\n"
      "  wwctl render -f examples/homelab --agent vps --keys examples/homelab-keys.yaml\n"
      "  wwctl COMMAND --help");

  std::vector<std::pair<CLI::App*, CommandRun>> runs;
  for (const CommandInfo& info : Commands()) {
    CLI::App* command = app.add_subcommand(std::string(info.name), std::string(info.help));
    runs.emplace_back(command, info.register_command(*command));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version arrive as "errors" with a success code.
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(error, context.out, context.err);
    std::string command = app.get_subcommands().empty() ? "wwctl" : "wwctl " + app.get_subcommands().front()->get_name();
    std::string message = error.what();
    if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-') {
      // CLI11 reads an unknown command as a stray argument; say what was meant instead.
      message = "unknown command \"" + std::string(argv[1]) + "\" (commands:";
      for (const CommandInfo& info : Commands()) message += " " + std::string(info.name);
      message += ")";
    }
    context.err << "wwctl: error: " << message << "\nRun '" << command << " --help' for usage.\n";
    // `plan --detailed-exitcode` gives 2 the meaning "changes": a usage error there is 1.
    for (int i = 1; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--detailed-exitcode") return kExitFailure;
    }
    // `wait` gives 2 the meaning "timed out": a usage error there is 1.
    if (!app.get_subcommands().empty() && app.get_subcommands().front()->get_name() == "wait") return kExitFailure;
    return kExitUsage;
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
