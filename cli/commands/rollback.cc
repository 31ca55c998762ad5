// wwctl rollback REV: make an earlier revision's documents the current fleet again, as a new
// revision with source "rollback". Validated and guarded like an apply; --dry-run previews it
// (a ci credential may).
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"

namespace ww::cli {

namespace {

struct RollbackFlags {
  RemoteFlags remote;
  std::string revision;
  bool allow_destructive = false;
  bool force = false;
  bool dry_run = false;
  std::string format = "text";
};

int RunRollback(const RollbackFlags& flags, CommandContext& context) {
  const std::string& id = flags.revision;
  bool digits = !id.empty() && id.size() <= 18 && id.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) return ReportError(context, kExitUsage, "\"" + id + "\" is not a revision id; see 'wwctl history'");
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  Json body{{"allowDestructive", flags.allow_destructive}, {"force", flags.force}, {"dryRun", flags.dry_run}};
  Result<ApiResponse> response = (*client)->Post("/v1/revisions/" + id + "/rollback", body.dump());
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  return FinishUpload(context, *response, flags.dry_run ? UploadKind::kDryRun : UploadKind::kRollback, flags.format,
                      kExitFailure);
}

}  // namespace

CommandRun RegisterRollback(CLI::App& command) {
  auto flags = std::make_shared<RollbackFlags>();
  command.add_option("revision", flags->revision, "The revision id to return to (see 'wwctl history')")
      ->required()
      ->type_name("REV");
  command.add_flag("--allow-destructive", flags->allow_destructive,
                   "Accept a rollback that removes every tunnel or more than half of the peers");
  command.add_flag("--force", flags->force,
                   "Roll back a fleet that follows git: overrides the current commit until the next one "
                   "(status shows the fleet as diverged from git)");
  command.add_flag("--dry-run", flags->dry_run,
                   "Show what the rollback would change and each agent's steps; change nothing");
  AddConfigFlag(command, flags->remote);
  AddOutputFlag(command, flags->format, {"text", "json", "yaml"},
                "text: the new revision and one line per agent; json, yaml: the reconciler's answer");
  command.footer(
      "Exit status:\n"
      "  0  rolled back (a new revision), unchanged, or previewed with --dry-run\n"
      "  1  refused: unknown revision, destructive without --allow-destructive, invalid today,\n"
      "     or the fleet follows git and --force was not given\n"
      "  2  usage or config error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl rollback 6\n"
      "  wwctl rollback 6 --dry-run             # the plans only\n"
      "  wwctl rollback 6 --allow-destructive   # even if it removes most peers\n"
      "  wwctl rollback 6 --force               # over git, until the next commit");
  return [flags](CommandContext& context) { return RunRollback(*flags, context); };
}

}  // namespace ww::cli
