// wwctl token create | list | revoke: single-use enrollment tokens for new agents. create
// prints the install command (URL, token, CA pin) to run on the agent's host, and the
// reconciler's warnings when the fleet does not name the agent or uses it in the other mode;
// the token is stored hashed and shown only this once. list shows every token without its
// secret; revoke makes an unused one unusable at once.
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
  std::string id;   // revoke
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
  // Before the command, so they are read before it is pasted on the agent's host.
  for (const Json& warning : JsonArray(*answer, "warnings")) {
    if (warning.is_string()) context.err << "wwctl: warning: " << warning.get<std::string>() << '\n';
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

int RunTokenList(const TokenFlags& flags, CommandContext& context) {
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  Result<ApiResponse> response = (*client)->Get("/v1/tokens");
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
  Result<Json> answer = ParseAnswer(*response);
  if (!answer.ok()) return ReportError(context, kExitFailure, answer.status().message());
  const Json& tokens = JsonArray(*answer, "tokens");
  if (flags.format != "text") {
    PrintData(tokens, flags.format, context.out);
    return kExitOk;
  }
  if (tokens.empty()) {
    context.err << "No tokens.\n";
    return kExitOk;
  }
  Table table({"ID", "TYPE", "NAME", "STATE", "CREATED", "EXPIRES", "CREATED BY"});
  for (const Json& token : tokens) {
    std::string name = JsonString(token, "name");
    table.AddRow({JsonString(token, "id"), JsonString(token, "type"), name.empty() ? "-" : name,
                  JsonString(token, "state"), UtcTime(JsonInteger(token, "createdAt")),
                  UtcTime(JsonInteger(token, "expiresAt")), JsonString(token, "createdBy")});
  }
  table.Print(context.out);
  return kExitOk;
}

int RunTokenRevoke(const TokenFlags& flags, CommandContext& context) {
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  Result<ApiResponse> response = (*client)->Delete("/v1/tokens/" + flags.id);
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 204 && response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
  context.out << "Token " << flags.id << " revoked; it can no longer enroll an agent.\n";
  return kExitOk;
}

// A token id as `token list` shows it (pki/token.h): 8 of [a-z0-9]. Checked here so a typo
// never becomes a different request path.
bool IsTokenId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace

CommandRun RegisterToken(CLI::App& command) {
  auto flags = std::make_shared<TokenFlags>();
  command.require_subcommand(1);
  command.footer(
      "Example:\n"
      "  wwctl token create --type server --name vps --ttl 1h\n"
      "  wwctl token list\n"
      "  wwctl token revoke k3v9x2ab\n"
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
      "A warning (on stderr) says when the fleet's current revision does not name the agent, or\n"
      "names it in the other mode (a Tunnel's agent is a server, a Peer's agent a client).\n"
      "\n"
      "Example:\n"
      "  wwctl token create --type server --name vps --ttl 1h");

  CLI::App* list = command.add_subcommand("list", "List enrollment tokens (never their secrets), newest first");
  AddConfigFlag(*list, flags->remote);
  AddOutputFlag(*list, flags->format, {"text", "json", "yaml"}, "text: a table; json, yaml: the reconciler's answer");
  list->footer(
      "STATE is active, used (an agent enrolled with it), expired or revoked.\n"
      "\n"
      "Example:\n"
      "  wwctl token list");

  CLI::App* revoke = command.add_subcommand("revoke", "Revoke an unused enrollment token at once");
  revoke->add_option("id", flags->id, "The token's id, as `wwctl token list` shows it")->required()->type_name("ID");
  AddConfigFlag(*revoke, flags->remote);
  revoke->footer(
      "Exit status:\n"
      "  0  revoked (revoking twice is fine)\n"
      "  1  the reconciler refused (unknown id: HTTP 404; already used: HTTP 409, delete the agent instead)\n"
      "  2  usage or config error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl token revoke k3v9x2ab");

  return [flags, list, revoke](CommandContext& context) {
    if (list->parsed()) return RunTokenList(*flags, context);
    if (revoke->parsed()) {
      if (!IsTokenId(flags->id)) {
        return ReportError(context, kExitUsage, "\"" + flags->id + "\" is not a token id (lowercase letters and digits)");
      }
      return RunTokenRevoke(*flags, context);
    }
    return RunTokenCreate(*flags, context);
  };
}

}  // namespace ww::cli
