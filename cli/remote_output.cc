#include "cli/remote_output.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <ostream>

#include "cli/remote_session.h"
#include "schema/yaml_writer.h"

namespace ww::cli {

namespace {

const Json* Member(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  return it == object.end() ? nullptr : &*it;
}

std::string Indent(int depth) { return std::string(static_cast<size_t>(depth) * 2, ' '); }

std::string Scalar(const Json& value) {
  if (value.is_string()) return YamlString(value.get_ref<const std::string&>());
  if (value.is_null()) return "null";
  // Numbers and booleans print the same in both languages.
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool IsEmptyContainer(const Json& value) { return (value.is_object() || value.is_array()) && value.empty(); }

void WriteYaml(const Json& value, int depth, std::string& out);

// A value after "key:" or "- ": scalars and empty containers stay on the line.
void WriteYamlValue(const Json& value, int depth, std::string& out) {
  if (!IsEmptyContainer(value) && (value.is_object() || value.is_array())) {
    out += '\n';
    WriteYaml(value, depth, out);
  } else if (value.is_object()) {
    out += " {}\n";
  } else if (value.is_array()) {
    out += " []\n";
  } else {
    out += " " + Scalar(value) + "\n";
  }
}

void WriteYaml(const Json& value, int depth, std::string& out) {
  if (value.is_object() && !value.empty()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      out += Indent(depth) + YamlString(it.key()) + ":";
      WriteYamlValue(it.value(), depth + 1, out);
    }
  } else if (value.is_array() && !value.empty()) {
    for (const Json& item : value) {
      if (item.is_object() && !item.empty()) {
        // "- first: 1\n  second: 2": the first member shares the dash's line.
        std::string nested;
        WriteYaml(item, depth + 1, nested);
        out += Indent(depth) + "- " + nested.substr(Indent(depth + 1).size());
      } else {
        out += Indent(depth) + "-";
        WriteYamlValue(item, depth + 1, out);
      }
    }
  } else {
    out += Indent(depth) + (IsEmptyContainer(value) ? (value.is_object() ? "{}" : "[]") : Scalar(value)) + "\n";
  }
}

}  // namespace

Result<Json> ParseAnswer(const ApiResponse& response) {
  Json parsed = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Status::InvalidArgument("the reconciler's answer (HTTP " + std::to_string(response.status) +
                                   ") is not JSON: \"" + response.body.substr(0, 80) + "\"");
  }
  return parsed;
}

std::string JsonString(const Json& object, std::string_view key) {
  const Json* member = Member(object, key);
  return member != nullptr && member->is_string() ? member->get<std::string>() : "";
}

std::optional<std::int64_t> JsonInteger(const Json& object, std::string_view key) {
  const Json* member = Member(object, key);
  if (member == nullptr || !member->is_number_integer()) return std::nullopt;
  return member->get<std::int64_t>();
}

bool JsonBool(const Json& object, std::string_view key) {
  const Json* member = Member(object, key);
  return member != nullptr && member->is_boolean() && member->get<bool>();
}

const Json& JsonArray(const Json& object, std::string_view key) {
  static const Json kEmpty = Json::array();
  const Json* member = Member(object, key);
  return member != nullptr && member->is_array() ? *member : kEmpty;
}

std::string JsonToYaml(const Json& value) {
  std::string out;
  WriteYaml(value, 0, out);
  return out;
}

void PrintData(const Json& value, std::string_view format, std::ostream& out) {
  if (format == "yaml") {
    out << JsonToYaml(value);
  } else {
    // Messages quote user input: never let a stray byte turn into an exception.
    out << value.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
  }
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const std::vector<std::string>& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t column = 0; column < row.size(); ++column) widths[column] = std::max(widths[column], row[column].size());
  }
  for (const std::vector<std::string>& row : rows_) {
    std::string line;
    for (size_t column = 0; column < row.size(); ++column) {
      line += row[column];
      if (column + 1 < row.size()) line += std::string(widths[column] - row[column].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

std::string Age(std::optional<std::int64_t> seconds) {
  if (!seconds || *seconds < 0) return "-";
  std::int64_t value = *seconds;
  if (value < 120) return std::to_string(value) + "s";
  if (value < 2 * 3600) return std::to_string(value / 60) + "m";
  if (value < 2 * 86400) return std::to_string(value / 3600) + "h";
  return std::to_string(value / 86400) + "d";
}

std::string ByteCount(std::int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

std::string UtcTime(std::optional<std::int64_t> unix_seconds) {
  if (!unix_seconds) return "-";
  time_t seconds = static_cast<time_t>(*unix_seconds);
  struct tm parts {};
  if (gmtime_r(&seconds, &parts) == nullptr) return "-";
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::string ShortCommit(const std::string& commit) {
  if (commit.empty()) return "-";
  return commit.substr(0, 12);
}

std::string DescribeRevision(const Json& revision) {
  std::optional<std::int64_t> id = JsonInteger(revision, "id");
  std::string text = "revision " + (id ? std::to_string(*id) : std::string("?"));
  std::string source = JsonString(revision, "source");
  std::string commit = JsonString(revision, "commit");
  std::string applied_by = JsonString(revision, "appliedBy");
  if (!commit.empty()) {
    text += " (" + source + " commit " + ShortCommit(commit) + ")";
  } else if (!applied_by.empty()) {
    text += " (" + source + " by " + applied_by + ")";
  } else if (!source.empty()) {
    text += " (" + source + ")";
  }
  return text;
}

void PrintRevisionTable(const Json& revisions, std::ostream& out) {
  Table table({"REVISION", "SOURCE", "COMMIT", "CREATED", "BY", "MESSAGE"});
  for (const Json& revision : revisions) {
    std::optional<std::int64_t> id = JsonInteger(revision, "id");
    std::string by = JsonString(revision, "author");
    if (by.empty()) by = JsonString(revision, "appliedBy");
    std::string message = JsonString(revision, "message");
    message = message.substr(0, message.find('\n'));
    table.AddRow({id ? std::to_string(*id) : "-", JsonString(revision, "source"),
                  ShortCommit(JsonString(revision, "commit")), UtcTime(JsonInteger(revision, "createdAt")),
                  by.empty() ? "-" : by, message});
  }
  table.Print(out);
}

void PrintUploadAnswer(const Json& answer, UploadKind kind, std::ostream& out, std::ostream& err) {
  std::optional<std::int64_t> revision = JsonInteger(answer, "revision");
  if (kind == UploadKind::kDryRun) {
    out << "Dry run: nothing was stored.\n";
  } else if (JsonBool(answer, "unchanged")) {
    out << "Unchanged: the fleet is identical to the current revision.\n";
  } else if (revision) {
    out << "Revision " << *revision << (kind == UploadKind::kRollback ? " created by the rollback.\n" : " accepted.\n");
  } else {
    out << "Accepted.\n";
  }
  for (const Json& warning : JsonArray(answer, "warnings")) {
    if (warning.is_string()) err << "wwctl: warning: " << warning.get<std::string>() << '\n';
  }
  for (const Json& agent : JsonArray(answer, "agents")) {
    const Json& steps = JsonArray(agent, "steps");
    std::string phase = JsonString(agent, "phase");
    out << "agent " << JsonString(agent, "agent") << ": ";
    if (steps.empty()) {
      out << "no changes";
    } else {
      out << steps.size() << (steps.size() == 1 ? " step" : " steps");
      if (JsonBool(agent, "destructive")) out << ", destructive";
    }
    if (!phase.empty()) out << " (" << phase << ")";
    out << '\n';
    if (kind != UploadKind::kDryRun) continue;
    for (const Json& step : steps) {
      if (step.is_string()) out << "  " << step.get<std::string>() << '\n';
    }
  }
}

int FinishUpload(CommandContext& context, const ApiResponse& response, UploadKind kind, std::string_view format,
                 int refused_exit) {
  Result<Json> answer = ParseAnswer(response);
  if (response.status == 200) {
    if (!answer.ok()) return ReportError(context, refused_exit, answer.status().message());
    if (format == "text") {
      PrintUploadAnswer(*answer, kind, context.out, context.err);
    } else {
      PrintData(*answer, format, context.out);
    }
    return kExitOk;
  }
  if (response.status == 422 && answer.ok()) {
    if (format == "text") {
      for (const Json& diagnostic : JsonArray(*answer, "diagnostics")) {
        if (diagnostic.is_string()) context.out << diagnostic.get<std::string>() << '\n';
      }
    } else {
      PrintData(*answer, format, context.out);
    }
    return ReportError(context, refused_exit, ApiErrorMessage(response));
  }
  if (response.status == 409) return ReportError(context, refused_exit, ApiErrorMessage(response));
  return ReportAnswerError(context, response, refused_exit);
}

}  // namespace ww::cli
