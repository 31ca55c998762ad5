// wwctl sync: make the reconciler fetch its git source now instead of at the next interval
// or webhook; prints the commit it found. The commit's fate (revision or rejection) shows in
// `wwctl status` and `wwctl wait`.
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/remote_session.h"

namespace ww::cli {

namespace {

struct SyncFlags {
  RemoteFlags remote;
};

int RunSync(const SyncFlags& flags, CommandContext& context) {
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  // The reconciler answers after the fetch, which it bounds by its own git timeout.
  Result<ApiResponse> response = (*client)->Post("/v1/sync", "{}", std::chrono::seconds(90));
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
  nlohmann::json answer = nlohmann::json::parse(response->body, nullptr, false);
  if (!answer.is_object() || !answer.contains("commit") || !answer["commit"].is_string()) {
    return ReportError(context, kExitFailure, "the reconciler's sync answer is not the expected JSON");
  }
  context.out << "Fetched " << answer["commit"].get<std::string>().substr(0, 12) << " "
              << answer.value("message", std::string()) << " (" << answer.value("author", std::string())
              << ")\nSee `wwctl status` for whether it became a revision.\n";
  return kExitOk;
}

}  // namespace

CommandRun RegisterSync(CLI::App& command) {
  auto flags = std::make_shared<SyncFlags>();
  AddConfigFlag(command, flags->remote);
  command.footer(
      "Exit status:\n"
      "  0  fetched\n"
      "  1  the reconciler refused (no git source: HTTP 404) or the fetch failed\n"
      "  2  usage or config error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl sync");
  return [flags](CommandContext& context) { return RunSync(*flags, context); };
}

}  // namespace ww::cli
