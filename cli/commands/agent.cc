// wwctl agent delete: revoke an agent's certificates at once (its open long-poll is answered
// 401) and free its name and WireGuard key for a new enrollment; its history stays. Its
// tunnels stay in the fleet files: remove them there, or enroll the name again.
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"
#include "schema/model.h"

namespace ww::cli {

namespace {

struct AgentFlags {
  RemoteFlags remote;
  std::string name;
};

int RunAgentDelete(const AgentFlags& flags, CommandContext& context) {
  // The reconciler's agent names follow the resource-name rule.
  if (!IsValidName(flags.name)) {
    return ReportError(context, kExitUsage,
                       "\"" + flags.name + "\" is not an agent name (lowercase letters, digits and '-', at most 63)");
  }
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  Result<ApiResponse> response = (*client)->Delete("/v1/agents/" + flags.name);
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200 && response->status != 204) return ReportAnswerError(context, *response, kExitFailure);
  context.out << "Agent " << flags.name << " deleted; its certificates are revoked.\n";
  // 200 carries the command that enrolls the name again (204: a reconciler before that).
  Result<Json> answer = response->status == 200 ? ParseAnswer(*response) : Result<Json>(Json::object());
  std::string enroll = answer.ok() ? JsonString(*answer, "enrollCommand") : "";
  if (!enroll.empty()) {
    context.out << "Its history stays. To enroll it again: " << enroll
                << ", then run the install command it prints on the host.\n";
  }
  return kExitOk;
}

}  // namespace

CommandRun RegisterAgent(CLI::App& command) {
  auto flags = std::make_shared<AgentFlags>();
  command.require_subcommand(1);
  command.footer(
      "Example:\n"
      "  wwctl agent delete home-gw\n"
      "  wwctl agent delete --help");
  CLI::App* remove = command.add_subcommand("delete", "Delete an agent and revoke its certificates at once");
  remove->add_option("name", flags->name, "The agent's name")->required()->type_name("NAME");
  AddConfigFlag(*remove, flags->remote);
  remove->footer(
      "The agent's name and WireGuard key become free for a new enrollment (a token made with\n"
      "'wwctl token create --type TYPE --name NAME'); its reports and events stay as history, and\n"
      "its old certificates stay revoked.\n"
      "\n"
      "Exit status:\n"
      "  0  deleted\n"
      "  1  the reconciler refused (unknown agent: HTTP 404)\n"
      "  2  usage or config error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl agent delete home-gw");
  return [flags](CommandContext& context) { return RunAgentDelete(*flags, context); };
}

}  // namespace ww::cli
