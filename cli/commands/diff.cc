// wwctl diff: what applying a fleet would change on each agent, from a dry-run upload: the
// reconciler renders every agent and compares with what the agent last reported. Exit codes
// follow kubectl diff and GNU diff, so CI can gate on them.
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"

namespace ww::cli {

namespace {

inline constexpr int kExitDifferences = 1;
inline constexpr int kExitDiffError = 2;

struct DiffFlags {
  RemoteFlags remote;
  std::vector<std::string> paths;
  std::string format = "text";
};

int RunDiff(const DiffFlags& flags, CommandContext& context) {
  // Destructive and git-owned changes are shown, not refused: apply is where they are gated.
  UploadRequest request{DryRun::kYes, AllowDestructive::kYes, Force::kYes};
  std::variant<std::string, int> body = PrepareUpload(flags.paths, request, context, kExitDiffError);
  if (const int* exit_status = std::get_if<int>(&body)) return *exit_status;

  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitDiffError, client.status().message());
  Result<ApiResponse> response = (*client)->Post("/v1/revisions", std::get<std::string>(body));
  if (!response.ok()) return ReportError(context, kExitDiffError, response.status().message());
  if (response->status != 200) {
    return FinishUpload(context, *response, UploadKind::kDryRun, flags.format, kExitDiffError);
  }
  Result<Json> answer = ParseAnswer(*response);
  if (!answer.ok()) return ReportError(context, kExitDiffError, answer.status().message());

  size_t changed = 0;
  const Json& agents = JsonArray(*answer, "agents");
  for (const Json& agent : agents) changed += JsonArray(agent, "steps").empty() ? 0 : 1;
  if (flags.format != "text") {
    PrintData(*answer, flags.format, context.out);
  } else if (changed == 0) {
    context.out << "No differences.\n";
  } else {
    for (const Json& agent : agents) {
      const Json& steps = JsonArray(agent, "steps");
      if (steps.empty()) continue;
      context.out << "agent " << JsonString(agent, "agent") << ": " << steps.size()
                  << (steps.size() == 1 ? " step" : " steps") << (JsonBool(agent, "destructive") ? ", destructive" : "")
                  << '\n';
      for (const Json& step : steps) {
        if (step.is_string()) context.out << "  " << step.get<std::string>() << '\n';
      }
    }
  }
  for (const Json& warning : JsonArray(*answer, "warnings")) {
    if (warning.is_string()) context.err << "wwctl: warning: " << warning.get<std::string>() << '\n';
  }
  if (changed == 0) return kExitOk;
  context.err << changed << " of " << agents.size() << (agents.size() == 1 ? " agent" : " agents") << " would change\n";
  return kExitDifferences;
}

}  // namespace

CommandRun RegisterDiff(CLI::App& command) {
  auto flags = std::make_shared<DiffFlags>();
  AddFleetFlag(command, flags->paths);
  AddConfigFlag(command, flags->remote);
  AddOutputFlag(command, flags->format, {"text", "json", "yaml"},
                "text: the steps of each agent that would change; json, yaml: the reconciler's dry-run answer");
  command.footer(
      "Uploads the fleet as a dry run (nothing is stored) and prints, for every agent that would\n"
      "change, the steps that would take it from what it last reported to the new config.\n"
      "Destructive changes are shown and marked; 'wwctl apply' is where they are refused.\n"
      "\n"
      "Exit status:\n"
      "  0  no differences\n"
      "  1  differences (printed)\n"
      "  2  error: invalid fleet, usage, config or I/O error, unreachable reconciler\n"
      "\n"
      "Example:\n"
      "  wwctl diff -f fleet/\n"
      "  wwctl diff -f fleet/ -o json");
  return [flags](CommandContext& context) { return RunDiff(*flags, context); };
}

}  // namespace ww::cli
