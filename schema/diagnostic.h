#pragma once
// A finding about the user's fleet files: where it is, which object and field, and why.
// Loading and validation collect every finding of a run instead of stopping at the first.

#include <string>
#include <vector>

namespace ww {

// 1-based line and column; 0 means unknown.
struct Mark {
  int line = 0;
  int column = 0;
  friend bool operator==(const Mark&, const Mark&) = default;
};

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;     // as given by the caller ("-" for stdin)
  Mark mark;
  std::string object;   // "Peer/phone", or "" before the document's kind and name are known
  std::string field;    // "spec.to.address", or "" for the document as a whole
  std::string message;  // quotes the offending value
  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

using Diagnostics = std::vector<Diagnostic>;

// "FILE:LINE:COL: error: Kind/name: spec.field: message"; empty parts are left out.
std::string FormatDiagnostic(const Diagnostic& diagnostic);
// GitHub Actions annotation: "::error file=F,line=L,col=C::message".
std::string FormatGithubAnnotation(const Diagnostic& diagnostic);
bool HasErrors(const Diagnostics& diagnostics);
// Stable order for output: file, line, column, then message.
void SortDiagnostics(Diagnostics& diagnostics);

}  // namespace ww
