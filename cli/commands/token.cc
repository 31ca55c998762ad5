// wwctl token create: a single-use enrollment token for a new agent. The reconciler answers
// with the install command (URL, token, CA pin) to run on the agent's host; the token is
// stored hashed and shown only this once.
#include <chrono>
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"

namespace ww::cli {

namespace {

struct TokenFlags {
  RemoteFlags remote;
  std::string type;
  std::string name;
  std::string ttl;  // "" = the reconciler's default
  std::string format = "text";
};

int RunTokenCreate(const TokenFlags& flags, CommandContext& context) {
  Json body{{"type", flags.type}};
  if (!flags.name.empty()) body["name"] = flags.name;
  if (!flags.ttl.empty()) {
    Result<std::chrono::seconds> ttl = ParseDuration(flags.ttl);
    if (!ttl.ok()) return ReportError(context, kExitUsage, "--ttl: " + ttl.status().message());
    if (ttl->count() == 0) return ReportError(context, kExitUsage, "--ttl: a token must live longer than 0s");
    body["ttlSeconds"] = ttl->count();
  }
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  Result<ApiResponse> response =
      (*client)->Post("/v1/tokens", body.dump(-1, ' ', false, Json::error_handler_t::replace));
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200 && response->status != 201) return ReportAnswerError(context, *response, kExitFailure);
  Result<Json> answer = ParseAnswer(*response);
  if (!answer.ok()) return ReportError(context, kExitFailure, answer.status().message());
  if (flags.format != "text") {
    PrintData(*answer, flags.format, context.out);
    return kExitOk;
  }
  std::string command = JsonString(*answer, "installCommand");
  std::string token = JsonString(*answer, "token");
  if (command.empty() || token.empty()) {
    return ReportError(context, kExitFailure, "the reconciler's answer lacks installCommand or token");
  }
  // The reconciler leaves the secret out of its command (a TOKEN_FILE placeholder); the line
  // printed here carries it, so it can be pasted as is (issue 4: URL, token and pin in one line).
  constexpr std::string_view kPlaceholder = "--token-file TOKEN_FILE";
  if (command.find(token) == std::string::npos) {
    size_t at = command.find(kPlaceholder);
    if (at != std::string::npos) {
      command.replace(at, kPlaceholder.size(), "--token " + token);
    } else {
      command += " --token " + token;
    }
  }
  context.out << command << '\n';
  context.err << "Run this on the new " << flags.type << " agent's host. The token works once, expires at "
              << UtcTime(JsonInteger(*answer, "expiresAt")) << " and is not shown again.\n";
  return kExitOk;
}

}  // namespace

CommandRun RegisterToken(CLI::App& command) {
  auto flags = std::make_shared<TokenFlags>();
  command.require_subcommand(1);
  command.footer(
      "Example:\n"
      "  wwctl token create --type server --name vps --ttl 1h\n"
      "  wwctl token create --help");
  CLI::App* create = command.add_subcommand("create", "Create a single-use enrollment token and print the install command");
  create->add_option("--type", flags->type, "The agent's mode: server (has a public endpoint) or client")
      ->required()
      ->check(CLI::IsMember({"server", "client"}).description(""))
      ->type_name("server|client");
  create->add_option("--name", flags->name, "The agent's name (default: derived from its hostname)")->type_name("NAME");
  create->add_option("--ttl", flags->ttl, "How long the token stays valid, e.g. 30m, 24h (default: the reconciler's)")
      ->type_name("DURATION");
  AddConfigFlag(*create, flags->remote);
  AddOutputFlag(*create, flags->format, {"text", "json", "yaml"},
                "text: the install command line; json, yaml: the reconciler's answer");
  create->footer(
      "Exit status:\n"
      "  0  created (the install command is on stdout)\n"
      "  1  the reconciler refused\n"
      "  2  usage or config error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl token create --type server --name vps --ttl 1h");
  return [flags](CommandContext& context) { return RunTokenCreate(*flags, context); };
}

}  // namespace ww::cli
