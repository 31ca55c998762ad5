#include "schema/diagnostic.h"

#include <algorithm>
#include <tuple>

namespace ww {

namespace {
// GitHub's workflow-command syntax treats '%', CR, LF (and ',' ':' in properties) specially.
std::string EscapeGithub(const std::string& text, bool property) {
  std::string out;
  for (char c : text) {
    if (c == '%') out += "%25";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else if (property && c == ':') out += "%3A";
    else if (property && c == ',') out += "%2C";
    else out += c;
  }
  return out;
}
}  // namespace

std::string FormatDiagnostic(const Diagnostic& d) {
  std::string out = d.file.empty() ? "<input>" : d.file;
  if (d.mark.line > 0) {
    out += ":" + std::to_string(d.mark.line);
    if (d.mark.column > 0) out += ":" + std::to_string(d.mark.column);
  }
  out += d.severity == Severity::kError ? ": error: " : ": warning: ";
  if (!d.object.empty()) out += d.object + ": ";
  if (!d.field.empty()) out += d.field + ": ";
  out += d.message;
  return out;
}

std::string FormatGithubAnnotation(const Diagnostic& d) {
  std::string out = d.severity == Severity::kError ? "::error " : "::warning ";
  out += "file=" + EscapeGithub(d.file, true);
  if (d.mark.line > 0) out += ",line=" + std::to_string(d.mark.line);
  if (d.mark.column > 0) out += ",col=" + std::to_string(d.mark.column);
  std::string message;
  if (!d.object.empty()) message += d.object + ": ";
  if (!d.field.empty()) message += d.field + ": ";
  message += d.message;
  out += "::" + EscapeGithub(message, false);
  return out;
}

bool HasErrors(const Diagnostics& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

void SortDiagnostics(Diagnostics& diagnostics) {
  std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.mark.line, a.mark.column, a.message) <
           std::tie(b.file, b.mark.line, b.mark.column, b.message);
  });
}

}  // namespace ww
