// wwctl status: the fleet at a glance: the current revision, whether every agent has
// converged on it, a rejected git commit if any, and one line per agent.
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"
#include "cli/status_watch.h"

namespace ww::cli {

namespace {

struct StatusFlags {
  RemoteFlags remote;
  std::string format = "text";
  bool watch = false;
  std::string watch_timeout;  // "" = until interrupted
};

// What needs attention on an agent: its error, else its message (a deleted or not enrolled
// agent's says what to run), else its first drift, else that it has not enrolled yet.
std::string AgentNote(const Json& agent) {
  std::string note = JsonString(agent, "lastError");
  note = note.substr(0, note.find('\n'));
  std::optional<std::int64_t> failures = JsonInteger(agent, "consecutiveFailures");
  if (!note.empty() && failures && *failures > 1) note += " (failed " + std::to_string(*failures) + " times)";
  if (note.empty()) note = JsonString(agent, "message");
  const Json& drift = JsonArray(agent, "drift");
  if (note.empty() && !drift.empty() && drift.front().is_string()) {
    note = "drift: " + drift.front().get<std::string>();
    // The snapshot lists the first steps only; driftCount counts them all.
    const std::int64_t steps = JsonInteger(agent, "driftCount").value_or(static_cast<std::int64_t>(drift.size()));
    if (steps > 1) note += " (+" + std::to_string(steps - 1) + " more)";
  }
  const bool not_enrolled = agent.is_object() && agent.contains("enrolled") && agent["enrolled"].is_boolean() &&
                            !agent["enrolled"].get<bool>();
  std::string enroll = JsonString(agent, "enrollCommand");
  if (note.empty() && not_enrolled) note = "not enrolled yet (" + (enroll.empty() ? "wwctl token create" : enroll) + ")";
  return note.substr(0, note.find('\n'));
}

// Every agent's warnings (what its config leaves out, and why), one line each.
void PrintWarnings(const Json& agents, std::ostream& out) {
  bool any = false;
  for (const Json& agent : agents) {
    for (const Json& warning : JsonArray(agent, "warnings")) {
      if (!warning.is_string()) continue;
      if (!any) out << "\nWarnings:\n";
      any = true;
      out << "  " << JsonString(agent, "name") << ": " << warning.get<std::string>() << '\n';
    }
  }
}

void PrintStatus(const Json& status, std::ostream& out) {
  const Json* revision = status.is_object() && status.contains("revision") ? &status["revision"] : nullptr;
  if (revision != nullptr && revision->is_object()) {
    out << "Revision:   " << DescribeRevision(*revision) << ", created " << UtcTime(JsonInteger(*revision, "createdAt"))
        << '\n';
  } else {
    out << "Revision:   none yet (run 'wwctl apply -f FLEET' or configure a git source)\n";
  }
  const Json& agents = JsonArray(status, "agents");
  size_t converged = 0;
  for (const Json& agent : agents) converged += JsonString(agent, "phase") == "converged" ? 1 : 0;
  out << "Converged:  " << (JsonBool(status, "converged") ? "yes" : "no") << " (" << converged << " of "
      << agents.size() << (agents.size() == 1 ? " agent" : " agents") << " converged)\n";
  if (status.is_object() && status.contains("divergence") && status["divergence"].is_object()) {
    const Json& divergence = status["divergence"];
    out << "Diverged:   from git at " << ShortCommit(JsonString(divergence, "commit")) << " (override by "
        << JsonString(divergence, "by") << " at " << UtcTime(JsonInteger(divergence, "at")) << ", "
        << JsonString(divergence, "source") << "); the next commit replaces it\n";
  }
  const Json& revision_errors = JsonArray(status, "revisionErrors");
  if (!revision_errors.empty()) {
    out << "Invalid:    this reconciler's rules refuse the current revision (accepted by an earlier version); it\n"
           "            stays in force until a revision that fixes these arrives:\n";
    for (const Json& finding : revision_errors) {
      if (finding.is_string()) out << "            " << finding.get<std::string>() << '\n';
    }
  }
  if (status.is_object() && status.contains("rejected") && status["rejected"].is_object()) {
    const Json& rejected = status["rejected"];
    const Json& errors = JsonArray(rejected, "errors");
    out << "Rejected:   commit " << ShortCommit(JsonString(rejected, "commit")) << " at "
        << UtcTime(JsonInteger(rejected, "at")) << ", " << errors.size() << (errors.size() == 1 ? " error" : " errors")
        << '\n';
    for (const Json& error : errors) {
      if (error.is_string()) out << "  " << error.get<std::string>() << '\n';
    }
  }
  if (agents.empty()) return;
  out << '\n';
  std::optional<std::int64_t> now = JsonInteger(status, "now");
  Table table({"AGENT", "MODE", "PHASE", "CONNECTED", "LAST SEEN", "NOTE"});
  for (const Json& agent : agents) {
    std::optional<std::int64_t> last_seen = JsonInteger(agent, "lastSeen");
    std::string seen = !last_seen ? "never" : now ? Age(*now - *last_seen) + " ago" : UtcTime(last_seen);
    std::string mode = JsonString(agent, "mode");
    std::string phase = JsonString(agent, "phase");
    table.AddRow({JsonString(agent, "name"), mode.empty() ? "-" : mode, phase.empty() ? "-" : phase,
                  JsonBool(agent, "connected") ? "yes" : "no", seen, AgentNote(agent)});
  }
  table.Print(out);
  PrintWarnings(agents, out);
}

int PrintStatusAnswer(const StatusFlags& flags, CommandContext& context, const std::string& body) {
  Result<Json> answer = ParseAnswer(ApiResponse{200, body});
  if (!answer.ok()) return ReportError(context, kExitFailure, answer.status().message());
  if (flags.format == "text") {
    PrintStatus(*answer, context.out);
  } else {
    PrintData(*answer, flags.format, context.out);
  }
  return kExitOk;
}

int RunStatus(const StatusFlags& flags, CommandContext& context) {
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  if (flags.watch) {
    return WatchStatus(**client, context, flags.watch_timeout,
                       [&](const std::string& body) { return PrintStatusAnswer(flags, context, body); });
  }
  Result<ApiResponse> response = (*client)->Get("/v1/status");
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
  return PrintStatusAnswer(flags, context, response->body);
}

}  // namespace

CommandRun RegisterStatus(CLI::App& command) {
  auto flags = std::make_shared<StatusFlags>();
  AddConfigFlag(command, flags->remote);
  AddOutputFlag(command, flags->format, {"text", "json", "yaml"},
                "text: a summary; json, yaml: the whole fleet snapshot (GET /v1/status)");
  AddWatchFlags(command, flags->watch, flags->watch_timeout);
  command.footer(
      "Exit status:\n"
      "  0  printed (converged or not; use 'wwctl wait' to gate on convergence)\n"
      "  1  the reconciler answered with an error\n"
      "  2  usage or config error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl status\n"
      "  wwctl status -o json\n"
      "  wwctl status --watch            # print again on every change, until Ctrl-C");
  return [flags](CommandContext& context) { return RunStatus(*flags, context); };
}

}  // namespace ww::cli
