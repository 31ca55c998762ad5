// wwctl history: the revisions the reconciler accepted, newest first (git commits, applies
// and rollbacks), with the id that `wwctl rollback` takes.
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"

namespace ww::cli {

namespace {

struct HistoryFlags {
  RemoteFlags remote;
  int limit = 20;
  std::string format = "table";
};

int RunHistory(const HistoryFlags& flags, CommandContext& context) {
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  Result<ApiResponse> response = (*client)->Get("/v1/revisions?limit=" + std::to_string(flags.limit));
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
  Result<Json> answer = ParseAnswer(*response);
  if (!answer.ok()) return ReportError(context, kExitFailure, answer.status().message());
  if (flags.format != "table") {
    PrintData(*answer, flags.format, context.out);
  } else if (JsonArray(*answer, "revisions").empty()) {
    context.err << "No revisions yet.\n";
  } else {
    PrintRevisionTable(JsonArray(*answer, "revisions"), context.out);
  }
  return kExitOk;
}

}  // namespace

CommandRun RegisterHistory(CLI::App& command) {
  auto flags = std::make_shared<HistoryFlags>();
  command.add_option("--limit", flags->limit, "How many revisions, newest first (1-500, default: 20)")
      ->check(CLI::Range(1, 500))
      ->type_name("N");
  AddConfigFlag(command, flags->remote);
  AddOutputFlag(command, flags->format, {"table", "json", "yaml"},
                "table: one revision per line; json, yaml: the reconciler's answer");
  command.footer(
      "Exit status:\n"
      "  0  listed\n"
      "  1  the reconciler answered with an error\n"
      "  2  usage or config error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl history --limit 5\n"
      "  wwctl history -o json");
  return [flags](CommandContext& context) { return RunHistory(*flags, context); };
}

}  // namespace ww::cli
