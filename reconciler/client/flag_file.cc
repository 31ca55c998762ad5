#include "reconciler/client/flag_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "cli/cli11.h"
#include "schema/resource_fields.h"
#include "schema/yaml_document.h"

namespace ww {

namespace {

// Every finding of a file, one formatted diagnostic a line.
class FlagFileFindings {
 public:
  explicit FlagFileFindings(const std::string& path) : path_(path) {}

  void Add(Mark mark, std::string_view name, std::string message) {
    Diagnostic diagnostic;
    diagnostic.file = path_;
    diagnostic.mark = mark;
    diagnostic.field = std::string(name);
    diagnostic.message = std::move(message);
    lines_ += (lines_.empty() ? "" : "\n") + FormatDiagnostic(diagnostic);
  }
  bool empty() const { return lines_.empty(); }
  Status ToStatus() const { return Status::InvalidArgument(lines_); }

 private:
  const std::string& path_;
  std::string lines_;
};

std::string KnownList(const std::vector<std::string_view>& known_flags) {
  std::string list;
  for (std::string_view name : known_flags) list += (list.empty() ? "" : ", ") + std::string(name);
  return list;
}

void ReadMapping(const YamlDocument& document, const std::vector<std::string_view>& known_flags,
                 FlagFileFindings& findings, std::vector<FlagSetting>& settings) {
  for (const YamlProblem& problem : document.problems()) {
    std::string name = problem.path_node == YamlDocument::kNone ? "" : document.PathOf(problem.path_node);
    findings.Add(problem.mark, name, problem.message);
  }
  if (document.empty() || document.node(YamlDocument::kRoot).type != YamlNodeType::kMap) {
    // A file of only comments is an empty set of flags.
    if (!document.empty() && document.node(YamlDocument::kRoot).type == YamlNodeType::kNull) return;
    std::string found = document.empty() ? "nothing" : document.Describe(YamlDocument::kRoot);
    findings.Add(document.mark(), "", "expected a mapping of flag names to values (listen: 0.0.0.0:8443), found " + found);
    return;
  }
  const YamlNode& root = document.node(YamlDocument::kRoot);
  for (uint32_t key = root.first_child; key != YamlDocument::kNone;) {
    uint32_t value = document.node(key).next_sibling;
    if (value == YamlDocument::kNone) break;
    uint32_t next = document.node(value).next_sibling;
    if (document.Has(key, YamlDocument::kReported)) {
      key = next;
      continue;
    }
    if (!document.IsScalar(key)) {
      findings.Add(document.node(key).mark, "", "expected a flag name, found " + document.Describe(key));
      key = next;
      continue;
    }
    std::string name(document.Text(key));
    if (std::find(known_flags.begin(), known_flags.end(), name) == known_flags.end()) {
      std::size_t dashes = name.find_first_not_of('-');
      std::string_view bare = std::string_view(name).substr(dashes == std::string::npos ? 0 : dashes);
      std::string hint;
      if (bare != name && std::find(known_flags.begin(), known_flags.end(), bare) != known_flags.end()) {
        hint = "; write the flag's name without dashes: \"" + std::string(bare) + "\"";
      } else if (std::string_view closest = ClosestName(name, known_flags); !closest.empty()) {
        hint = "; did you mean \"" + std::string(closest) + "\"?";
      } else {
        hint = "; known flags: " + KnownList(known_flags);
      }
      findings.Add(document.node(key).mark, "", QuoteForMessage(name) + " is not a known flag" + hint);
    } else if (document.Has(value, YamlDocument::kReported)) {
      // Refused by the parser already (a control character, an alias, ...).
    } else if (!document.IsScalar(value)) {
      findings.Add(document.node(value).mark, name,
                   "expected a single value (a string, number or true/false), found " + document.Describe(value));
    } else {
      settings.push_back(FlagSetting{name, std::string(document.Text(value)), document.node(value).mark});
    }
    key = next;
  }
}

// The whole file, refusing what is not a regular file (a FIFO or /dev/zero never ends).
Result<std::string> ReadSmallRegularFile(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return Status::NotFound("cannot read the flag file \"" + path + "\"");
  if (!S_ISREG(info.st_mode)) return Status::InvalidArgument("the flag file \"" + path + "\" is not a regular file");
  if (static_cast<std::size_t>(info.st_size) > kMaxFlagFileBytes) {
    return Status::InvalidArgument("the flag file \"" + path + "\" is larger than " +
                                   std::to_string(kMaxFlagFileBytes / 1024) + " KiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read the flag file \"" + path + "\"");
  std::string text(kMaxFlagFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxFlagFileBytes) {
    return Status::InvalidArgument("the flag file \"" + path + "\" is larger than " +
                                   std::to_string(kMaxFlagFileBytes / 1024) + " KiB");
  }
  return text;
}

bool IsReservedOption(const std::string& name) { return name == "config" || name == "help" || name == "version"; }

}  // namespace

Result<std::vector<FlagSetting>> ParseFlagFile(std::string_view text, const std::string& path,
                                               const std::vector<std::string_view>& known_flags) {
  FlagFileFindings findings(path);
  std::vector<FlagSetting> settings;
  int documents = 0;
  YamlLimits limits;
  limits.max_depth = 4;  // a flat mapping; refuse nesting early
  limits.max_scalar_bytes = 4096;
  std::optional<YamlError> error = ParseYamlDocuments(text, limits, [&](const YamlDocument& document) {
    if (++documents > 1) {
      findings.Add(document.mark(), "", "a second YAML document; the flag file is a single mapping");
      return;
    }
    ReadMapping(document, known_flags, findings, settings);
  });
  if (error) findings.Add(error->mark, "", error->message);
  if (!findings.empty()) return findings.ToStatus();
  return settings;
}

Status ApplyFlagFile(CLI::App& app, const std::string& path) {
  std::map<std::string, CLI::Option*, std::less<>> options;
  for (CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      if (!IsReservedOption(name)) options[name] = option;
    }
  }
  std::vector<std::string_view> known;
  for (const auto& [name, option] : options) known.push_back(name);
  Result<std::string> text = ReadSmallRegularFile(path);
  if (!text.ok()) return text.status();
  Result<std::vector<FlagSetting>> settings = ParseFlagFile(*text, path, known);
  if (!settings.ok()) return settings.status();
  FlagFileFindings findings(path);
  for (const FlagSetting& setting : *settings) {
    CLI::Option* option = options.find(setting.name)->second;
    if (option->count() > 0) continue;  // the command line wins
    try {
      option->add_result(setting.value);
      option->run_callback();
    } catch (const CLI::Error& failure) {
      findings.Add(setting.mark, setting.name, QuoteForMessage(setting.value) + " is not valid: " + failure.what());
    }
  }
  if (!findings.empty()) return findings.ToStatus();
  return Status::Ok();
}

}  // namespace ww
