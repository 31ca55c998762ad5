#pragma once
// How wwctl prints the reconciler's answers: -o json passes the answer's data through
// (pretty-printed, member order kept), -o yaml is the same data as YAML, and the default
// is a table aligned like kubectl's or a short human summary. Accessors here never throw on
// a missing or mistyped member: a reconciler answer is input like any other. Only cli/*.cc
// files include this header (it brings nlohmann/json).

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "reconciler/client/api_client.h"
#include "schema/result.h"

namespace ww::cli {

using Json = nlohmann::ordered_json;

// The answer's body as JSON; kInvalidArgument (quoting the start of it) when it is not.
Result<Json> ParseAnswer(const ApiResponse& response);

// Members of a JSON object: "" / nullopt / false / an empty array when absent or mistyped.
std::string JsonString(const Json& object, std::string_view key);
std::optional<std::int64_t> JsonInteger(const Json& object, std::string_view key);
bool JsonBool(const Json& object, std::string_view key);
const Json& JsonArray(const Json& object, std::string_view key);

// Block-style YAML of any JSON value; strings that YAML would read as something else quoted.
std::string JsonToYaml(const Json& value);
// `format` "json" (2-space indent) or "yaml", ending in a newline.
void PrintData(const Json& value, std::string_view format, std::ostream& out);

// Columns separated by three spaces, padded to the widest cell, headers in capitals;
// trailing spaces trimmed.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : rows_{std::move(headers)} {}
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "45s", "12m", "5h", "3d" (kubectl's coarse ages); "-" when unknown or negative.
std::string Age(std::optional<std::int64_t> seconds);
// "512 B", "1.5 KiB", "3.2 MiB", "1.0 GiB".
std::string ByteCount(std::int64_t bytes);
// "2026-11-22T02:30:00Z"; "-" when unknown.
std::string UtcTime(std::optional<std::int64_t> unix_seconds);
// "revision 7 (git main@sha1:0123456789ab)": a RevisionSummary in one line.
std::string DescribeRevision(const Json& revision);
// REVISION SOURCE COMMIT CREATED BY MESSAGE, one row per RevisionSummary.
void PrintRevisionTable(const Json& revisions, std::ostream& out);
// A commit SHA shortened to 12 hex digits; "-" when empty.
std::string ShortCommit(const std::string& commit);

enum class UploadKind { kApply, kDryRun, kRollback };

// The answer to POST /v1/revisions (or a rollback) for people: the revision line, warnings
// (to err), then one line per agent; a dry run also lists each agent's steps.
void PrintUploadAnswer(const Json& answer, UploadKind kind, std::ostream& out, std::ostream& err);

// Finishes an upload (apply, rollback; diff for refusals): 200 is printed as above, or passed
// through for -o json|yaml, and gives kExitOk. 422 prints the diagnostics one per line on out,
// exactly as `wwctl validate` does, then the error; 409 and every other answer print the
// error. Those return `refused_exit`.
int FinishUpload(CommandContext& context, const ApiResponse& response, UploadKind kind, std::string_view format,
                 int refused_exit);

}  // namespace ww::cli
