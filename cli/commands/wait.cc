// wwctl wait: block until the fleet has converged, optionally on a given revision (an id or
// a git commit), for CI after an apply or a merge. Pinning the revision avoids reading a
// stale "converged" from before the change (argo-cd#542, kargo#6357).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <ostream>
#include <thread>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"

namespace ww::cli {

namespace {

inline constexpr int kExitWaitError = 1;
inline constexpr int kExitTimedOut = 2;
inline constexpr std::chrono::seconds kPollInterval{1};

struct WaitFlags {
  RemoteFlags remote;
  std::string condition = "converged";
  std::string revision;  // "" = any
  std::string timeout = "5m";
};

bool IsDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// REV names `revision` when it is its id, or a prefix (4+ hex digits) of its commit.
bool RevisionMatches(const Json& revision, const std::string& wanted) {
  if (!revision.is_object()) return false;
  std::optional<std::int64_t> id = JsonInteger(revision, "id");
  if (IsDigits(wanted) && id && std::to_string(*id) == wanted) return true;
  std::string commit = Lower(JsonString(revision, "commit"));
  return wanted.size() >= 4 && IsHex(wanted) && commit.starts_with(Lower(wanted));
}

enum class Verdict { kMet, kWaiting, kFailed };

struct Evaluation {
  Verdict verdict = Verdict::kWaiting;
  std::string detail;  // what is still missing, or why it can never be met
};

Evaluation Evaluate(const Json& status, const std::string& wanted) {
  const Json empty;
  const Json& revision = status.is_object() && status.contains("revision") ? status["revision"] : empty;
  if (!wanted.empty()) {
    const Json& rejected = status.is_object() && status.contains("rejected") ? status["rejected"] : empty;
    std::string rejected_commit = Lower(JsonString(rejected, "commit"));
    if (!IsDigits(wanted) && !rejected_commit.empty() && rejected_commit.starts_with(Lower(wanted)) &&
        !RevisionMatches(revision, wanted)) {
      // A rejected commit never converges: fail now rather than at the timeout.
      std::string first;
      const Json& errors = JsonArray(rejected, "errors");
      if (!errors.empty() && errors.front().is_string()) first = ": " + errors.front().get<std::string>();
      return {Verdict::kFailed, "commit " + ShortCommit(rejected_commit) + " was rejected (" +
                                    std::to_string(errors.size()) + (errors.size() == 1 ? " error" : " errors") +
                                    ")" + first};
    }
    if (!RevisionMatches(revision, wanted)) {
      std::string current = revision.is_object() ? DescribeRevision(revision) : "no revision";
      return {Verdict::kWaiting, "revision " + wanted + " is not current yet (current: " + current + ")"};
    }
  }
  if (!revision.is_object()) return {Verdict::kWaiting, "no revision has been applied yet"};
  if (JsonBool(status, "converged")) return {Verdict::kMet, DescribeRevision(revision)};
  std::string pending;
  for (const Json& agent : JsonArray(status, "agents")) {
    std::string phase = JsonString(agent, "phase");
    if (phase == "converged" && JsonBool(agent, "connected")) continue;
    pending += (pending.empty() ? "" : ", ") + JsonString(agent, "name") + " " + (phase.empty() ? "unknown" : phase);
  }
  return {Verdict::kWaiting, DescribeRevision(revision) + " is not converged" +
                                 (pending.empty() ? "" : " (" + pending + ")")};
}

int RunWait(const WaitFlags& flags, CommandContext& context) {
  Result<std::chrono::seconds> timeout = ParseDuration(flags.timeout);
  if (!timeout.ok()) return ReportError(context, kExitWaitError, "--timeout: " + timeout.status().message());
  if (!flags.revision.empty() && !IsDigits(flags.revision) && !(flags.revision.size() >= 4 && IsHex(flags.revision))) {
    return ReportError(context, kExitWaitError,
                       "--revision: \"" + flags.revision + "\" is neither a revision id nor a commit SHA (4+ hex digits)");
  }
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitWaitError, client.status().message());

  const auto deadline = std::chrono::steady_clock::now() + *timeout;
  std::string last_state = "no answer yet";
  while (true) {
    Result<ApiResponse> response = (*client)->Get("/v1/status");
    if (!response.ok()) {
      // The reconciler may be restarting: keep trying until the deadline.
      last_state = response.status().message();
    } else if (response->status == 200) {
      Result<Json> answer = ParseAnswer(*response);
      if (!answer.ok()) return ReportError(context, kExitWaitError, answer.status().message());
      Evaluation evaluation = Evaluate(*answer, flags.revision);
      if (evaluation.verdict == Verdict::kMet) {
        context.out << "Converged: " << evaluation.detail << ".\n";
        return kExitOk;
      }
      if (evaluation.verdict == Verdict::kFailed) return ReportError(context, kExitWaitError, evaluation.detail);
      last_state = evaluation.detail;
    } else if (response->status >= 500) {
      last_state = "the reconciler answered HTTP " + std::to_string(response->status) + ": " + ApiErrorMessage(*response);
    } else {
      // Refused (401, 403, 404...): waiting longer cannot change that.
      return ReportAnswerError(context, *response, kExitWaitError);
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return ReportError(context, kExitTimedOut,
                         "timed out after " + flags.timeout + " waiting for " + flags.condition + ": " + last_state);
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kPollInterval, deadline - now));
  }
}

}  // namespace

CommandRun RegisterWait(CLI::App& command) {
  auto flags = std::make_shared<WaitFlags>();
  command.add_option("--for", flags->condition, "The condition to wait for")
      ->required()
      ->check(CLI::IsMember({"converged"}).description(""))
      ->type_name("converged");
  command.add_option("--revision", flags->revision,
                     "Also require this current revision: an id (7) or a git commit SHA or prefix (4+ hex digits)")
      ->type_name("REV");
  command.add_option("--timeout", flags->timeout, "How long to wait, e.g. 90s, 5m, 1h30m; 0s checks once (default: 5m)")
      ->type_name("DURATION");
  AddConfigFlag(command, flags->remote);
  command.footer(
      "Polls the fleet snapshot (GET /v1/status) every second until a revision exists and every\n"
      "agent it names is connected and converged; with --revision, that revision must also be\n"
      "the current one. A git commit the reconciler rejected fails at once. Connection errors\n"
      "are retried until the timeout (the reconciler may be restarting).\n"
      "\n"
      "Exit status:\n"
      "  0  the condition is met\n"
      "  1  error: usage, config, a refused request, or the awaited commit was rejected\n"
      "  2  timed out\n"
      "\n"
      "Example:\n"
      "  wwctl wait --for=converged --revision \"$GITHUB_SHA\" --timeout 5m\n"
      "  wwctl apply -f fleet/ && wwctl wait --for=converged --timeout 90s");
  return [flags](CommandContext& context) { return RunWait(*flags, context); };
}

}  // namespace ww::cli
