#pragma once
// What every command that talks to the reconciler shares: the --config flag, the mutual-TLS
// ApiClient built from the config file (reconciler/client/api_client.h), durations such as
// "90s" or "5m", and the exit status of a failed call. Exit codes for these commands: 0
// success, 1 the reconciler refused (an error answer), 2 usage, config or transport errors;
// `diff` and `wait` document their own.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cli/commands.h"
#include "cli/remote_config.h"
#include "reconciler/client/api_client.h"
#include "schema/loader.h"
#include "schema/result.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ww::cli {

struct RemoteFlags {
  std::string config_path;  // --config; "" = $WWCTL_CONFIG or ~/.config/wirewarp/wwctl.yaml
};

// Declares --config FILE on `command`.
void AddConfigFlag(CLI::App& command, RemoteFlags& flags);

// Finds and loads the config (warnings go to context.err as "wwctl: warning: ..."), then
// builds the client. Reads $WWCTL_CONFIG and $HOME here, at the edge.
Result<std::unique_ptr<ApiClient>> ConnectToReconciler(const RemoteFlags& flags, CommandContext& context);

// ConnectToReconciler, with the config it used (`credential create` copies its server and CA).
struct ReconcilerConnection {
  std::unique_ptr<ApiClient> client;
  RemoteConfig config;
};
Result<ReconcilerConnection> ConnectWithConfig(const RemoteFlags& flags, CommandContext& context);

// "90s", "5m", "1h30m", "2d", "0s": a sum of number+unit parts (s, m, h, d). Refuses
// anything else, quoting it.
Result<std::chrono::seconds> ParseDuration(std::string_view text);

// The reconciler refuses a larger upload (API.md: at most 8 MiB).
inline constexpr size_t kMaxUploadBytes = size_t{8} << 20;

enum class DryRun { kNo, kYes };
enum class AllowDestructive { kNo, kYes };
enum class Force { kNo, kYes };

struct UploadRequest {
  DryRun dry_run = DryRun::kNo;
  AllowDestructive allow_destructive = AllowDestructive::kNo;
  Force force = Force::kNo;
};

// Reads the fleet like the offline commands (`paths` as -f gives them) and builds the POST
// /v1/revisions body: {"documents": [{path, content}], "dryRun", "allowDestructive", "force"}.
// On failure prints to context.err and yields the exit status: a file that is not UTF-8 text
// (JSON cannot carry it unaltered) is printed as `wwctl validate` prints it, exiting with
// `invalid_exit`; unreadable paths or a body over kMaxUploadBytes exit kExitUsage.
std::variant<std::string, int> PrepareUpload(const std::vector<std::string>& paths, UploadRequest request,
                                             CommandContext& context, int invalid_exit);

// Prints "wwctl: error: the reconciler answered HTTP N: MESSAGE" and returns `exit_code`.
int ReportAnswerError(CommandContext& context, const ApiResponse& response, int exit_code);

}  // namespace ww::cli
