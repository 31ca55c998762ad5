// wwctl wait: block until the fleet has converged, optionally on a given revision (an id or
// a git commit), for CI after an apply or a merge. Pinning the revision avoids reading a
// stale "converged" from before the change (argo-cd#542, kargo#6357).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"
#include "cli/status_watch.h"

namespace ww::cli {

namespace {

inline constexpr int kExitWaitError = 1;
inline constexpr int kExitTimedOut = 2;

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

// What `wait` shows while it waits: a line whenever an agent's phase or connection changes
// or the current revision does, with the seconds since the wait began. On a terminal the
// last line is also a summary, redrawn in place; elsewhere (CI logs) only the change lines.
class Progress {
 public:
  Progress(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}

  void Show(const Json& status, const std::string& waiting_for) {
    ClearSummary();
    const Json empty;
    const Json& revision = status.is_object() && status.contains("revision") ? status["revision"] : empty;
    std::string current = revision.is_object() ? DescribeRevision(revision) : "no revision";
    if (current != revision_) {
      Line("current: " + current);
      revision_ = current;
    }
    std::size_t converged = 0;
    std::size_t total = 0;
    for (const Json& agent : JsonArray(status, "agents")) {
      std::string name = JsonString(agent, "name");
      std::string phase = JsonString(agent, "phase");
      if (phase.empty()) phase = "unknown";
      bool connected = JsonBool(agent, "connected");
      ++total;
      if (phase == "converged" && connected) ++converged;
      std::string state = phase + (connected ? "" : ", not connected");
      auto [seen, added] = agents_.try_emplace(name, state);
      if (!added && seen->second == state) continue;
      seen->second = state;
      std::string message = JsonString(agent, "message");
      message = message.substr(0, message.find('\n'));
      Line(name + ": " + state + (message.empty() ? "" : " (" + message + ")"));
    }
    if (terminal_) {
      summary_ = Elapsed() + " waiting for " + waiting_for + ": " + std::to_string(converged) + " of " +
                 std::to_string(total) + (total == 1 ? " agent" : " agents") + " converged";
      out_ << summary_ << std::flush;
    }
  }

  // Ends the in-place summary before a final message.
  void ClearSummary() {
    if (!summary_.empty()) out_ << "\r\033[K" << std::flush;
    summary_.clear();
  }

 private:
  std::string Elapsed() const {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    char text[32];
    std::snprintf(text, sizeof text, "[%6.1fs]", seconds);
    return text;
  }
  void Line(const std::string& text) { out_ << Elapsed() << " " << text << '\n' << std::flush; }

  std::ostream& out_;
  const bool terminal_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::string revision_;
  std::map<std::string, std::string> agents_;  // name -> the state last printed
  std::string summary_;                        // on the terminal now, without a newline
};

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
  const bool terminal = IsTerminal(context.err);
  // On a terminal the summary's clock ticks every second; elsewhere one request per 25 s.
  StatusWatch watch(**client, terminal ? std::chrono::seconds(1) : kStatusPollWait);
  Progress progress(context.err, terminal);
  std::string waiting_for = flags.condition + (flags.revision.empty() ? "" : " on revision " + flags.revision);
  while (true) {
    Result<ApiResponse> response = watch.Next(deadline);
    if (!response.ok()) {
      // The reconciler may be restarting: keep trying until the deadline.
      last_state = response.status().message();
    } else if (response->status == 200) {
      Result<Json> answer = ParseAnswer(*response);
      if (!answer.ok()) return ReportError(context, kExitWaitError, answer.status().message());
      Evaluation evaluation = Evaluate(*answer, flags.revision);
      if (watch.Changed() || evaluation.verdict != Verdict::kWaiting || terminal) progress.Show(*answer, waiting_for);
      if (evaluation.verdict == Verdict::kMet) {
        progress.ClearSummary();
        context.out << "Converged: " << evaluation.detail << ".\n";
        return kExitOk;
      }
      if (evaluation.verdict == Verdict::kFailed) {
        progress.ClearSummary();
        return ReportError(context, kExitWaitError, evaluation.detail);
      }
      last_state = evaluation.detail;
    } else if (response->status >= 500) {
      last_state = "the reconciler answered HTTP " + std::to_string(response->status) + ": " + ApiErrorMessage(*response);
    } else {
      // Refused (401, 403, 404...): waiting longer cannot change that.
      progress.ClearSummary();
      return ReportAnswerError(context, *response, kExitWaitError);
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      progress.ClearSummary();
      return ReportError(context, kExitTimedOut,
                         "timed out after " + flags.timeout + " waiting for " + flags.condition + ": " + last_state);
    }
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
      "Follows the fleet snapshot (GET /v1/status?after=VERSION, a long-poll: a change is seen at\n"
      "once) until a revision exists and every agent it names is connected and converged; with\n"
      "--revision, that revision must also be the current one. A git commit the reconciler\n"
      "rejected fails at once. Connection errors are retried every second until the timeout (the\n"
      "reconciler may be restarting). Progress goes to stderr: a line whenever an agent's phase\n"
      "or the current revision changes, and on a terminal a summary redrawn in place.\n"
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
