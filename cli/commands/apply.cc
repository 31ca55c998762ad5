// wwctl apply: upload a fleet to the reconciler as the next revision. The reconciler
// validates it whole (same messages as `wwctl validate`), plans every agent and stores it;
// --dry-run shows those plans without storing anything.
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"

namespace ww::cli {

namespace {

struct ApplyFlags {
  RemoteFlags remote;
  std::vector<std::string> paths;
  bool dry_run = false;
  bool allow_destructive = false;
  bool force = false;
  std::string format = "text";
};

int RunApply(const ApplyFlags& flags, CommandContext& context) {
  UploadRequest request;
  request.dry_run = flags.dry_run ? DryRun::kYes : DryRun::kNo;
  request.allow_destructive = flags.allow_destructive ? AllowDestructive::kYes : AllowDestructive::kNo;
  request.force = flags.force ? Force::kYes : Force::kNo;
  std::variant<std::string, int> body = PrepareUpload(flags.paths, request, context, kExitFailure);
  if (const int* exit_status = std::get_if<int>(&body)) return *exit_status;

  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  Result<ApiResponse> response = (*client)->Post("/v1/revisions", std::get<std::string>(body));
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  return FinishUpload(context, *response, flags.dry_run ? UploadKind::kDryRun : UploadKind::kApply, flags.format,
                      kExitFailure);
}

}  // namespace

CommandRun RegisterApply(CLI::App& command) {
  auto flags = std::make_shared<ApplyFlags>();
  AddFleetFlag(command, flags->paths);
  AddConfigFlag(command, flags->remote);
  command.add_flag("--dry-run", flags->dry_run, "Validate and show each agent's plan; store nothing");
  command.add_flag("--allow-destructive", flags->allow_destructive,
                   "Accept a revision that removes every tunnel or more than half of the peers");
  command.add_flag("--force", flags->force, "Replace resources that the git source owns");
  AddOutputFlag(command, flags->format, {"text", "json", "yaml"},
                "text: the revision and one line per agent; json, yaml: the reconciler's answer");
  command.footer(
      "Reads the fleet like 'wwctl validate' (files, directories recursively, - for stdin) and\n"
      "uploads it. The reconciler validates it whole; an invalid fleet is rejected with the same\n"
      "messages as 'wwctl validate' and the current revision stays.\n"
      "\n"
      "Exit status:\n"
      "  0  accepted (or unchanged; with --dry-run: valid)\n"
      "  1  refused: invalid fleet, destructive without --allow-destructive, or another error answer\n"
      "  2  usage, config or I/O error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl apply -f fleet/\n"
      "  wwctl apply -f fleet/ --dry-run\n"
      "  wwctl apply -f fleet/ --config ./wirewarp-data/admin.wwctl.yaml");
  return [flags](CommandContext& context) { return RunApply(*flags, context); };
}

}  // namespace ww::cli
