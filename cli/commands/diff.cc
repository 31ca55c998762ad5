// wwctl diff: what applying a fleet would change, from a dry-run upload: first the resources
// the fleet adds, changes (field by field) and removes against the current revision, then
// what the reconciler would tell each agent (its plan against the agent's latest report).
// Exit codes are plan --detailed-exitcode's, so one CI gate reads both.
#include <algorithm>
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"
#include "schema/yaml_writer.h"

namespace ww::cli {

namespace {

inline constexpr int kExitDiffError = 1;
inline constexpr int kExitDifferences = 2;
inline constexpr int kExitDestructive = 3;

struct DiffFlags {
  RemoteFlags remote;
  std::vector<std::string> paths;
  std::string format = "text";
};

// What decides the text, the exit status and the "diff" member of -o json|yaml alike.
struct DiffSummary {
  size_t added = 0;
  size_t changed = 0;
  size_t removed = 0;
  size_t agents_changing = 0;
  bool listed = true;  // false: the reconciler predates "changes" and the fleet differs
  bool destructive = false;

  size_t resources() const { return added + changed + removed; }
  bool differences() const { return resources() > 0 || agents_changing > 0 || !listed; }
};

DiffSummary Summarise(const Json& answer) {
  DiffSummary summary;
  summary.listed = answer.contains("changes") || JsonBool(answer, "unchanged");
  for (const Json& change : JsonArray(answer, "changes")) {
    std::string type = JsonString(change, "change");
    if (type == "added") ++summary.added;
    if (type == "changed") ++summary.changed;
    if (type == "removed") ++summary.removed;
    summary.destructive = summary.destructive || JsonBool(change, "destructive");
  }
  for (const Json& agent : JsonArray(answer, "agents")) {
    if (JsonArray(agent, "steps").empty()) continue;
    ++summary.agents_changing;
    summary.destructive = summary.destructive || JsonBool(agent, "destructive");
  }
  return summary;
}

// Printable ASCII without edge spaces reads unambiguously as it is.
bool IsPlainText(std::string_view text) {
  if (text.empty() || text.front() == ' ' || text.back() == ' ') return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

// A value from the answer as it reads best: as is, or YAML-quoted (never raw control
// characters from the answer on the terminal); "(unset)" for null.
std::string FieldValue(const Json& field, std::string_view side) {
  static const Json kNull;
  const Json& value = field.is_object() && field.contains(side) ? field.at(std::string(side)) : kNull;
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    return IsPlainText(text) ? text : YamlString(text);
  }
  if (value.is_null()) return "(unset)";
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string Count(size_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

void PrintResources(const Json& answer, const DiffSummary& summary, std::ostream& out) {
  out << "Resources: " << summary.added << " added, " << summary.changed << " changed, " << summary.removed
      << " removed\n";
  for (const Json& change : JsonArray(answer, "changes")) {
    std::string type = JsonString(change, "change");
    char sign = type == "added" ? '+' : type == "removed" ? '-' : '~';
    out << "  " << sign << ' ' << JsonString(change, "kind") << '/' << JsonString(change, "name")
        << (JsonBool(change, "destructive") ? " (destructive)" : "") << '\n';
    // A removed resource is named; what it held is in -o yaml.
    if (type == "removed") continue;
    for (const Json& field : JsonArray(change, "fields")) {
      out << "      " << JsonString(field, "path") << ": ";
      if (type == "added") {
        out << FieldValue(field, "after") << '\n';
      } else {
        out << FieldValue(field, "before") << " -> " << FieldValue(field, "after") << '\n';
      }
    }
  }
}

void PrintAgents(const Json& answer, std::ostream& out) {
  const Json& agents = JsonArray(answer, "agents");
  if (agents.empty()) return;
  out << "Agents:\n";
  for (const Json& agent : agents) {
    const Json& steps = JsonArray(agent, "steps");
    std::string phase = JsonString(agent, "phase");
    out << "  agent " << JsonString(agent, "agent") << ": ";
    if (steps.empty()) {
      // An agent without a report yet has no steps: say why rather than "no changes".
      std::string message = JsonString(agent, "message");
      out << "no steps";
      if (!phase.empty()) out << " (" << phase << (message.empty() ? "" : ": " + message) << ")";
      out << '\n';
      continue;
    }
    out << Count(steps.size(), "step") << (JsonBool(agent, "destructive") ? ", destructive" : "") << '\n';
    for (const Json& step : steps) {
      if (step.is_string()) out << "    " << step.get<std::string>() << '\n';
    }
  }
}

int RunDiff(const DiffFlags& flags, CommandContext& context) {
  // Destructive and git-owned changes are shown, not refused: apply is where they are gated.
  UploadRequest request{DryRun::kYes, AllowDestructive::kYes, Force::kYes};
  std::variant<std::string, int> body = PrepareUpload(flags.paths, request, context, kExitDiffError);
  if (const int* exit_status = std::get_if<int>(&body)) return *exit_status == kExitUsage ? kExitDiffError : *exit_status;

  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitDiffError, client.status().message());
  Result<ApiResponse> response = (*client)->Post("/v1/revisions", std::get<std::string>(body));
  if (!response.ok()) return ReportError(context, kExitDiffError, response.status().message());
  if (response->status != 200) {
    return FinishUpload(context, *response, UploadKind::kDryRun, flags.format, kExitDiffError);
  }
  Result<Json> answer = ParseAnswer(*response);
  if (!answer.ok()) return ReportError(context, kExitDiffError, answer.status().message());

  DiffSummary summary = Summarise(*answer);
  if (flags.format != "text") {
    Json data = *answer;
    data["diff"] = Json{{"differences", summary.differences()},
                        {"destructive", summary.destructive},
                        {"added", summary.added},
                        {"changed", summary.changed},
                        {"removed", summary.removed},
                        {"agentsChanging", summary.agents_changing}};
    PrintData(data, flags.format, context.out);
  } else if (!summary.differences()) {
    context.out << "No differences.\n";
  } else {
    if (!summary.listed) {
      context.out << "The fleet differs from the current revision (this reconciler does not list resource "
                     "changes; upgrade it to see them).\n";
    } else {
      PrintResources(*answer, summary, context.out);
    }
    PrintAgents(*answer, context.out);
  }
  for (const Json& warning : JsonArray(*answer, "warnings")) {
    if (warning.is_string()) context.err << "wwctl: warning: " << warning.get<std::string>() << '\n';
  }
  if (!summary.differences()) return kExitOk;
  size_t agents = JsonArray(*answer, "agents").size();
  context.err << Count(summary.resources(), "resource") << " and " << summary.agents_changing << " of "
              << Count(agents, "agent") << " would change" << (summary.destructive ? ", destructively" : "") << '\n';
  return summary.destructive ? kExitDestructive : kExitDifferences;
}

}  // namespace

CommandRun RegisterDiff(CLI::App& command) {
  auto flags = std::make_shared<DiffFlags>();
  AddFleetFlag(command, flags->paths);
  AddConfigFlag(command, flags->remote);
  AddOutputFlag(command, flags->format, {"text", "json", "yaml"},
                "text: changed resources, then each agent's steps; json, yaml: the reconciler's dry-run answer "
                "and a \"diff\" summary");
  command.footer(
      "Uploads the fleet as a dry run (nothing is stored) and prints the resources it adds (+),\n"
      "changes field by field (~) and removes (-) against the current revision, then each\n"
      "agent's steps from what it last reported to the new config (an agent that has not\n"
      "reported yet has none). Destructive changes are marked; 'wwctl apply' is where they are\n"
      "refused.\n"
      "\n"
      "Exit status (as 'wwctl plan --detailed-exitcode'):\n"
      "  0  no differences\n"
      "  1  error: invalid fleet, usage, config or I/O error, unreachable reconciler\n"
      "  2  differences (printed)\n"
      "  3  differences that include destructive ones (a removed Tunnel, Peer or PortForward,\n"
      "     a replaced key or interface, or destructive steps)\n"
      "\n"
      "Example:\n"
      "  wwctl diff -f fleet/\n"
      "  wwctl diff -f fleet/ -o json");
  return [flags](CommandContext& context) { return RunDiff(*flags, context); };
}

}  // namespace ww::cli
