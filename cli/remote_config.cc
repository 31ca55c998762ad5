#include "cli/remote_config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "cli/fleet_source.h"
#include "reconciler/client/https_url.h"
#include "reconciler/pki/certificate_authority.h"
#include "schema/resource_fields.h"
#include "schema/yaml_document.h"

namespace ww::cli {

namespace {

const std::vector<std::string_view>& KnownFields() {
  static const std::vector<std::string_view> fields = {
      "apiVersion", "kind", "server", "caPin", "caCertificate", "clientCertificate", "clientKey"};
  return fields;
}

struct FieldValue {
  std::string text;
  Mark mark;
  bool reported = false;  // present but refused already: not "missing" as well
};

// Collects every finding as "PATH:LINE:COL: FIELD: message" so one run reports them all.
class Findings {
 public:
  explicit Findings(const std::string& path) : path_(path) {}

  void Add(Mark mark, std::string_view field, const std::string& message) {
    std::string line = path_;
    if (mark.line > 0) line += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
    line += ": ";
    if (!field.empty()) line += std::string(field) + ": ";
    line += message;
    lines_ += (lines_.empty() ? "" : "\n") + line;
  }
  bool empty() const { return lines_.empty(); }
  Status ToStatus() const { return Status::InvalidArgument(lines_); }

 private:
  const std::string& path_;
  std::string lines_;
};

bool IsHex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

bool IsPemField(std::string_view field) {
  return field == "caCertificate" || field == "clientCertificate" || field == "clientKey";
}

// PEM blocks are multi-line ASCII: the control characters they may hold are line ends, which
// the parser (strict for fleet files, where no field spans lines) refuses in any scalar.
bool IsMultiLineAscii(std::string_view text) {
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\n' && c != '\r') || byte >= 0x7F) return false;
  }
  return true;
}

void ReadDocument(const YamlDocument& document, Findings& findings, std::map<std::string, FieldValue>& values) {
  std::set<uint32_t> multi_line_pem;  // refused by the parser only for their line ends
  for (const YamlProblem& problem : document.problems()) {
    std::string field = problem.path_node == YamlDocument::kNone ? "" : document.PathOf(problem.path_node);
    if (IsPemField(field) && document.IsScalar(problem.path_node)) {
      if (IsMultiLineAscii(document.Text(problem.path_node)) &&
          (problem.message.ends_with("contains control character U+000A") ||
           problem.message.ends_with("contains control character U+000D"))) {
        multi_line_pem.insert(problem.path_node);
      } else {
        // Never quote these values: clientKey is a secret.
        findings.Add(problem.mark, field, "not PEM text (control characters or bytes that are not ASCII)");
      }
      continue;
    }
    findings.Add(problem.mark, field, problem.message);
  }
  if (document.empty() || document.node(YamlDocument::kRoot).type != YamlNodeType::kMap) {
    std::string found = document.empty() ? "nothing" : document.Describe(YamlDocument::kRoot);
    findings.Add(document.mark(), "", "expected a mapping of settings (apiVersion, kind, server, caPin, ...), found " +
                                          found);
    return;
  }
  const YamlNode& root = document.node(YamlDocument::kRoot);
  for (uint32_t key = root.first_child; key != YamlDocument::kNone;) {
    uint32_t value = document.node(key).next_sibling;
    if (value == YamlDocument::kNone) break;
    uint32_t next = document.node(value).next_sibling;
    if (document.Has(key, YamlDocument::kReported) || !document.IsScalar(key)) {
      if (!document.Has(key, YamlDocument::kReported)) {
        findings.Add(document.node(key).mark, "", "expected a field name, found " + document.Describe(key));
      }
      key = next;
      continue;
    }
    std::string name(document.Text(key));
    const std::vector<std::string_view>& known = KnownFields();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string_view closest = ClosestName(name, known);
      std::string hint = closest.empty() ? "" : "; did you mean \"" + std::string(closest) + "\"?";
      findings.Add(document.node(key).mark, "", QuoteForMessage(name) + " is not a known field" + hint);
    } else if (!document.Has(value, YamlDocument::kReported) || multi_line_pem.count(value) != 0) {
      if (document.IsScalar(value)) {
        values[name] = FieldValue{std::string(document.Text(value)), document.node(value).mark};
      } else {
        findings.Add(document.node(value).mark, name, "expected a string, found " + document.Describe(value));
        values[name] = FieldValue{"", document.node(value).mark, true};
      }
    } else {
      values[name] = FieldValue{"", document.node(value).mark, true};
    }
    key = next;
  }
}

// The field's value, or a finding (at the document start) saying it is missing.
const FieldValue* Require(const std::map<std::string, FieldValue>& values, const std::string& name,
                          Findings& findings, Mark document_mark) {
  auto it = values.find(name);
  if (it != values.end() && it->second.reported) return nullptr;
  if (it == values.end() || it->second.text.empty()) {
    findings.Add(document_mark, name, "missing; the reconciler writes it into DATA_DIR/admin.wwctl.yaml");
    return nullptr;
  }
  return &it->second;
}

// The first line is "-----BEGIN ...LABEL-----" ("CERTIFICATE", "PRIVATE KEY" also matching
// "EC PRIVATE KEY"); OpenSSL checks the rest when the client is built.
bool LooksLikePem(std::string_view text, std::string_view label) {
  if (!text.starts_with("-----BEGIN ")) return false;
  std::string_view first_line = text.substr(0, text.find('\n'));
  return first_line.ends_with(std::string(label) + "-----");
}

}  // namespace

Result<ConfigLocation> ResolveConfigPath(std::string_view flag_value, const char* environment_value, const char* home) {
  if (!flag_value.empty()) return ConfigLocation{std::string(flag_value), ConfigOrigin::kFlag};
  if (environment_value != nullptr && environment_value[0] != '\0') {
    return ConfigLocation{environment_value, ConfigOrigin::kEnvironment};
  }
  if (home != nullptr && home[0] != '\0') {
    std::string directory(home);
    if (directory.back() != '/') directory += '/';
    return ConfigLocation{directory + std::string(kRemoteConfigHomePath), ConfigOrigin::kHome};
  }
  return Status::NotFound("no wwctl config: pass --config FILE or set WWCTL_CONFIG (HOME is not set, so ~/" +
                          std::string(kRemoteConfigHomePath) + " cannot be used)");
}

std::string DescribeOrigin(ConfigOrigin origin) {
  switch (origin) {
    case ConfigOrigin::kFlag:
      return "--config";
    case ConfigOrigin::kEnvironment:
      return std::string(kRemoteConfigEnvironment);
    case ConfigOrigin::kHome:
      return "~/" + std::string(kRemoteConfigHomePath);
  }
  return "";
}

Result<RemoteConfig> ParseRemoteConfig(std::string_view text, const std::string& path) {
  Findings findings(path);
  std::map<std::string, FieldValue> values;
  int documents = 0;
  Mark document_mark;
  YamlLimits limits;
  limits.max_depth = 4;  // a flat mapping; refuse nesting early
  limits.max_scalar_bytes = kMaxRemoteConfigBytes;
  std::optional<YamlError> error = ParseYamlDocuments(text, limits, [&](const YamlDocument& document) {
    ++documents;
    if (documents > 1) {
      findings.Add(document.mark(), "", "a second YAML document; the config is a single mapping");
      return;
    }
    document_mark = document.mark();
    ReadDocument(document, findings, values);
  });
  if (error) findings.Add(error->mark, "", error->message);
  if (!error && documents == 0) findings.Add(Mark{}, "", "empty; expected apiVersion, kind, server, caPin, ...");
  // A file that did not parse, or is not one mapping, has no fields worth checking.
  if (error || documents != 1 || values.empty()) {
    if (findings.empty()) findings.Add(document_mark, "", "no settings; expected apiVersion, kind, server, caPin, ...");
    return findings.ToStatus();
  }

  const FieldValue* api_version = Require(values, "apiVersion", findings, document_mark);
  if (api_version != nullptr && api_version->text != kRemoteConfigApiVersion) {
    findings.Add(api_version->mark, "apiVersion",
                 QuoteForMessage(api_version->text) + " is not \"" + std::string(kRemoteConfigApiVersion) + "\"");
  }
  const FieldValue* kind = Require(values, "kind", findings, document_mark);
  if (kind != nullptr && kind->text != kRemoteConfigKind) {
    findings.Add(kind->mark, "kind", QuoteForMessage(kind->text) + " is not \"" + std::string(kRemoteConfigKind) + "\"");
  }
  RemoteConfig config;
  if (const FieldValue* server = Require(values, "server", findings, document_mark)) {
    Result<HttpsUrl> url = ParseHttpsUrl(server->text);
    if (url.ok()) {
      config.server = server->text;
    } else {
      findings.Add(server->mark, "server", url.status().message());
    }
  }
  const FieldValue* pin = Require(values, "caPin", findings, document_mark);
  if (pin != nullptr) {
    constexpr std::string_view kPrefix = "sha256:";
    std::string_view digest = std::string_view(pin->text).substr(std::min(pin->text.size(), kPrefix.size()));
    if (!pin->text.starts_with(kPrefix) || digest.size() != 64 || !IsHex(digest)) {
      findings.Add(pin->mark, "caPin", QuoteForMessage(pin->text) + " is not \"sha256:\" and 64 hex digits");
      pin = nullptr;
    } else {
      config.ca_pin = pin->text;
    }
  }
  if (const FieldValue* ca = Require(values, "caCertificate", findings, document_mark)) {
    Result<std::string> actual_pin = LooksLikePem(ca->text, "CERTIFICATE") ? SpkiPin(ca->text)
                                                                           : Status::InvalidArgument("");
    if (!actual_pin.ok()) {
      findings.Add(ca->mark, "caCertificate", "not a PEM certificate");
    } else if (pin != nullptr && !PinMatches(ca->text, {pin->text})) {
      // The CA is what wwctl trusts: a file edited to trust another CA must not slip through.
      findings.Add(pin->mark, "caPin",
                   "does not match caCertificate, whose pin is " + *actual_pin + "; the file was altered or mixed up");
    } else {
      config.ca_certificate_pem = ca->text;
    }
  }
  if (const FieldValue* certificate = Require(values, "clientCertificate", findings, document_mark)) {
    if (LooksLikePem(certificate->text, "CERTIFICATE")) {
      config.client_certificate_pem = certificate->text;
    } else {
      findings.Add(certificate->mark, "clientCertificate", "not a PEM certificate");
    }
  }
  if (const FieldValue* key = Require(values, "clientKey", findings, document_mark)) {
    if (LooksLikePem(key->text, "PRIVATE KEY")) {
      config.client_key_pem = key->text;
    } else {
      findings.Add(key->mark, "clientKey", "not a PEM private key");
    }
  }
  if (!findings.empty()) return findings.ToStatus();
  return config;
}

Result<LoadedRemoteConfig> LoadRemoteConfig(const ConfigLocation& location) {
  if (location.path == "-") {
    return Status::InvalidArgument("the wwctl config must be a file, not standard input (from " +
                                   DescribeOrigin(location.origin) + ")");
  }
  // The stream is never read: "-" was refused above.
  struct stat info {};
  if (::stat(location.path.c_str(), &info) == 0 && (info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return Status::FailedPrecondition("\"" + location.path + "\" holds a private key but is accessible to group or "
                                      "others (mode " + mode + "); run: chmod 600 " + location.path);
  }
  InputReader reader(std::cin, kMaxRemoteConfigBytes);
  Result<std::string> text = reader.ReadFile(location.path);
  if (!text.ok()) {
    std::string hint = location.origin == ConfigOrigin::kHome
                           ? "; pass --config FILE or set WWCTL_CONFIG (the reconciler writes DATA_DIR/admin.wwctl.yaml)"
                           : " (from " + DescribeOrigin(location.origin) + ")";
    return Status::NotFound(text.status().message() + hint);
  }
  WW_ASSIGN_OR_RETURN(RemoteConfig config, ParseRemoteConfig(*text, location.path));
  return LoadedRemoteConfig{std::move(config)};
}

}  // namespace ww::cli
