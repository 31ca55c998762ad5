// LoadFleet: ParseYamlDocuments (yaml_document.h, the yaml-cpp adapter) hands over one small
// tree per document; DocumentDecoder checks it against the field table of resource_fields.h
// (unknown fields, shapes, scalar types, required fields), then parses the values into model
// structs. A document with any error is reported in full and left out of the Fleet.

#include "schema/loader.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "schema/net.h"
#include "schema/resource_fields.h"
#include "schema/yaml_document.h"

namespace ww {

namespace {

constexpr long kMaxLabelValueCharacters = 63;

constexpr uint32_t kNone = YamlDocument::kNone;
constexpr uint32_t kRoot = YamlDocument::kRoot;

std::string Quote(std::string_view text) { return QuoteForMessage(text); }

// A character as messages show it: 'W' when printable ASCII, U+0435 otherwise.
std::string CharacterName(uint32_t code_point) {
  if (code_point > 0x20 && code_point < 0x7F) return std::string("'") + static_cast<char>(code_point) + "'";
  return CodePointName(code_point);
}

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char c) { return IsAsciiDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string JoinPath(std::string_view prefix, std::string_view name) {
  std::string path;
  path.reserve(prefix.size() + 1 + name.size());
  path.append(prefix);
  if (!prefix.empty()) path += '.';
  path.append(name);
  return path;
}

// ---------------------------------------------------------------------------------------
// Decoding one document against the field table.

enum class Role { kField, kItem };

// A field present in the document with the right shape (and, for integers, booleans and
// enums, a valid value).
struct Found {
  const FieldInfo* info = nullptr;
  Role role = Role::kField;
  std::string path;     // as shown: "spec.lan[1]", "metadata.labels.app"
  uint32_t key = kNone; // the key node (labels: the label's key); kNone for list items
  uint32_t value = kNone;
  long integer = 0;
  bool boolean = false;
  bool valid = true;  // false: present, but its value was refused (and reported)
};

bool IsChildOf(std::string_view field_path, std::string_view prefix) {
  if (prefix.empty()) return field_path.find_first_of(".[") == std::string_view::npos;
  if (field_path.size() <= prefix.size() + 1 || field_path.compare(0, prefix.size(), prefix) != 0 ||
      field_path[prefix.size()] != '.') {
    return false;
  }
  return field_path.find_first_of(".[", prefix.size() + 1) == std::string_view::npos;
}

// The field `name` directly under `prefix` ("spec.to" + "address"), without building the path.
const FieldInfo* FindChildField(const KindInfo& kind, std::string_view prefix, std::string_view name) {
  size_t length = prefix.empty() ? name.size() : prefix.size() + 1 + name.size();
  for (const FieldInfo& field : kind.fields) {
    std::string_view path = field.path;
    if (path.size() != length || path.substr(length - name.size()) != name) continue;
    if (prefix.empty() || (path.substr(0, prefix.size()) == prefix && path[prefix.size()] == '.')) return &field;
  }
  return nullptr;
}

std::string_view LastSegment(std::string_view path) {
  size_t dot = path.find_last_of('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

// The message for a bad object name, or "" when `name` is valid (see IsValidName).
std::string NameProblem(std::string_view name) {
  if (IsValidName(name)) return "";
  if (name.empty()) return "must not be empty";
  if (name[0] == '-') return Quote(name) + " must not start with '-' (it could be read as a command-line option)";
  if (name.size() > 63) return Quote(name) + " is not a valid name: longer than 63 characters";
  for (size_t pos = 0; pos < name.size();) {
    size_t length = 0;
    uint32_t code_point = DecodeUtf8(name, pos, length);
    bool allowed = (code_point >= 'a' && code_point <= 'z') || (code_point >= '0' && code_point <= '9') || code_point == '-';
    if (!allowed) {
      return Quote(name) + " is not a valid name: character " + CharacterName(code_point) +
             " is not allowed (use lowercase letters, digits and '-')";
    }
    pos += length;
  }
  return Quote(name) + " is not a valid name";
}

// Linux interface names, as the table's pattern ^[a-zA-Z0-9_][a-zA-Z0-9_.=+-]{0,14}$ says:
// IFNAMSIZ allows 15 characters; no '/', no whitespace, no leading '-'.
std::string InterfaceProblem(std::string_view name) {
  if (!name.empty() && name[0] == '-') {
    return Quote(name) + " must not start with '-' (it could be read as a command-line option)";
  }
  bool valid = !name.empty() && name.size() <= 15 && (IsAsciiAlnum(name[0]) || name[0] == '_');
  for (char c : name) {
    valid = valid && (IsAsciiAlnum(c) || c == '_' || c == '.' || c == '=' || c == '+' || c == '-');
  }
  if (valid) return "";
  return Quote(name) +
         " is not a valid interface name (1-15 characters: letters, digits, '_', '.', '=', '+', '-', "
         "starting with a letter, digit or '_')";
}

// ^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$
bool IsValidLabelKey(std::string_view key) {
  if (key.empty() || key.size() > 63 || !IsAsciiAlnum(key.front()) || !IsAsciiAlnum(key.back())) return false;
  return std::all_of(key.begin(), key.end(),
                     [](char c) { return IsAsciiAlnum(c) || c == '.' || c == '_' || c == '/' || c == '-'; });
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    std::string_view label = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!IsAsciiAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// "host" or "host:port": host an IPv4 literal or a DNS name.
std::string EndpointProblem(std::string_view endpoint) {
  std::string_view host = endpoint;
  size_t colon = endpoint.rfind(':');
  if (colon != std::string_view::npos) {
    host = endpoint.substr(0, colon);
    auto port = ParsePort(endpoint.substr(colon + 1));
    if (!port.ok()) return "in " + Quote(endpoint) + ": " + port.status().message();
  }
  if (!host.empty() && host[0] == '-') {
    return Quote(endpoint) + " must not start with '-' (it could be read as a command-line option)";
  }
  bool numeric = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) { return IsAsciiDigit(c) || c == '.'; });
  if (numeric) {
    auto address = Ipv4Address::Parse(host);
    if (!address.ok()) return "in " + Quote(endpoint) + ": " + address.status().message();
    return "";
  }
  if (IsDnsName(host)) return "";
  return Quote(endpoint) + " is not HOST or HOST:PORT with HOST an IPv4 address or DNS name (e.g. vpn.example.com:51820)";
}

bool IsYaml11Boolean(std::string_view text) {
  static constexpr std::string_view kWords[] = {"y",   "Y",   "yes", "Yes", "YES", "n",     "N",     "no",
                                                "No",  "NO",  "on",  "On",  "ON",  "off",   "Off",   "OFF",
                                                "True", "TRUE", "False", "FALSE"};
  return std::find(std::begin(kWords), std::end(kWords), text) != std::end(kWords);
}

std::optional<Protocol> ParseProtocol(std::string_view text) {
  for (Protocol protocol : {Protocol::kTcp, Protocol::kUdp, Protocol::kBoth}) {
    if (ProtocolName(protocol) == text) return protocol;
  }
  return std::nullopt;
}

// Decodes one YamlDocument after another into result.fleet, reporting into
// result.diagnostics. First a generic walk driven by the field table (unknown fields with
// hints, shapes, integers, booleans, enums, required fields) collects every present field as
// a Found; then the per-kind Decode* functions parse values (names, CIDRs, addresses, keys,
// ports) and apply the rules one document decides ("exactly one of").
class DocumentDecoder {
 public:
  DocumentDecoder(const std::string& file, LoadResult& result) : file_(file), result_(result) {}

  void Decode(const YamlDocument& doc) {
    doc_ = &doc;
    failed_ = false;
    kind_ = nullptr;
    object_.clear();
    found_.clear();
    if (doc.empty() || doc.node(kRoot).type == YamlNodeType::kNull) {
      // Only comments (or nothing) between two "---": skipped. Problems still count.
      ReportYamlProblems();
      return;
    }
    if (doc.node(kRoot).type != YamlNodeType::kMap) {
      ReportYamlProblems();
      if (!doc.Has(kRoot, YamlDocument::kReported)) {
        Error(doc.mark(), "", "a document must be a mapping with apiVersion, kind, metadata and spec; got " + doc.Describe(kRoot));
      }
      return;
    }
    IdentifyObject();
    ReportYamlProblems();
    if (kind_ == nullptr) {
      CheckKind();
      // The kind decides which fields exist; only the common ones can be checked.
      uint32_t api = doc.Find(kRoot, "apiVersion");
      if (api == kNone) Error(doc.mark(), "apiVersion", "missing required field \"apiVersion\"");
      else if (doc.IsScalar(api) && !doc.Has(api, YamlDocument::kReported)) CheckApiVersion(api);
      uint32_t metadata = doc.Find(kRoot, "metadata");
      uint32_t name = metadata != kNone && doc.node(metadata).type == YamlNodeType::kMap ? doc.Find(metadata, "name") : kNone;
      if (name != kNone && doc.IsScalar(name) && !doc.Has(name, YamlDocument::kReported)) CheckObjectName(name);
      return;
    }
    WalkMap(kRoot, "", "", doc.mark());
    if (kind_->kind == kKindTunnel) DecodeTunnel();
    else if (kind_->kind == kKindPeer) DecodePeer();
    else if (kind_->kind == kKindPortForward) DecodePortForward();
    else if (kind_->kind == kKindServiceTemplate) DecodeServiceTemplate();
  }

 private:
  // ----- Reporting.

  void Error(Mark mark, std::string field, std::string message) {
    failed_ = true;
    Diagnostic& d = result_.diagnostics.emplace_back();
    d.file = file_;
    d.mark = mark;
    d.object = object_;
    d.field = std::move(field);
    d.message = std::move(message);
  }

  void ErrorAt(const Found& found, std::string message) { Error(ValueMark(found), found.path, std::move(message)); }

  void ReportYamlProblems() {
    for (const YamlProblem& problem : doc_->problems()) Error(problem.mark, doc_->PathOf(problem.path_node), problem.message);
  }

  Mark ValueMark(const Found& found) const { return doc_->node(found.value).mark; }
  // Containers are located by their key ("spec:"), scalars and list items by their value.
  Mark OriginMark(const Found& found) const {
    YamlNodeType type = doc_->node(found.value).type;
    if (found.key != kNone && (type == YamlNodeType::kMap || type == YamlNodeType::kSequence)) return doc_->node(found.key).mark;
    return ValueMark(found);
  }

  // ----- Identification: "Kind/name" for every message of the document.

  void IdentifyObject() {
    uint32_t kind = doc_->Find(kRoot, "kind");
    if (kind == kNone || !doc_->IsScalar(kind) || doc_->Has(kind, YamlDocument::kReported)) return;
    kind_ = FindKind(doc_->Text(kind));
    if (kind_ == nullptr) return;
    object_ = std::string(kind_->kind);
    uint32_t metadata = doc_->Find(kRoot, "metadata");
    if (metadata == kNone || doc_->node(metadata).type != YamlNodeType::kMap) return;
    uint32_t name = doc_->Find(metadata, "name");
    if (name != kNone && doc_->IsScalar(name) && !doc_->Has(name, YamlDocument::kReported) && IsValidName(doc_->Text(name))) {
      object_ += "/";
      object_ += doc_->Text(name);
    }
  }

  void CheckKind() {
    uint32_t kind = doc_->Find(kRoot, "kind");
    if (kind == kNone) {
      Error(doc_->mark(), "kind", "missing required field \"kind\"");
      return;
    }
    if (doc_->Has(kind, YamlDocument::kReported)) return;
    if (!doc_->IsScalar(kind)) {
      Error(doc_->node(kind).mark, "kind", "expected a string, got " + doc_->Describe(kind));
      return;
    }
    std::vector<std::string_view> kinds;
    std::string expected;
    for (const KindInfo& info : ResourceKinds()) {
      kinds.push_back(info.kind);
      if (!expected.empty()) expected += kinds.size() == ResourceKinds().size() ? " or " : ", ";
      expected += info.kind;
    }
    std::string_view text = doc_->Text(kind);
    std::string_view closest = ClosestName(text, kinds);
    std::string hint = closest.empty() ? " (expected " + expected + ")" : " (did you mean \"" + std::string(closest) + "\"?)";
    Error(doc_->node(kind).mark, "kind", "unknown kind " + Quote(text) + hint);
  }

  void CheckApiVersion(uint32_t value) {
    std::string_view text = doc_->Text(value);
    if (text != kApiVersion) {
      Error(doc_->node(value).mark, "apiVersion",
            Quote(text) + " is not a supported apiVersion (expected \"" + std::string(kApiVersion) + "\")");
    }
  }

  void CheckObjectName(uint32_t value) {
    std::string problem = NameProblem(doc_->Text(value));
    if (!problem.empty()) Error(doc_->node(value).mark, "metadata.name", problem);
  }

  // ----- The generic walk: unknown fields, shapes, scalar types, required fields.

  void WalkMap(uint32_t map, std::string_view table_prefix, const std::string& display_prefix, Mark missing_mark) {
    // The fields seen in this mapping are seen_[first_seen...]; nested walks push above them.
    const size_t first_seen = seen_.size();
    bool had_bad_key = false;
    const YamlDocument& doc = *doc_;
    for (uint32_t key = doc.node(map).first_child; key != kNone;) {
      uint32_t value = doc.node(key).next_sibling;
      if (value == kNone) break;
      uint32_t next = doc.node(value).next_sibling;
      if (doc.Has(key, YamlDocument::kReported)) {
        // Already reported (duplicate, anchor, tag...). A key whose text is unusable may
        // have been any field, so then none is called missing here.
        if (doc.Has(key, YamlDocument::kHidden)) had_bad_key = true;
        else if (doc.IsScalar(key)) seen_.push_back(FindChildField(*kind_, table_prefix, doc.Text(key)));
        key = next;
        continue;
      }
      if (!doc.IsScalar(key)) {
        Error(doc.node(key).mark, display_prefix, "mapping keys must be field names, got " + doc.Describe(key));
        key = next;
        continue;
      }
      std::string_view name = doc.Text(key);
      const FieldInfo* info = nullptr;
      // A key with '.' or '[' must not reach into the table's path syntax.
      if (name.find_first_of(".[]") == std::string_view::npos) info = FindChildField(*kind_, table_prefix, name);
      std::string display = JoinPath(display_prefix, name);
      if (info == nullptr) {
        std::string_view closest = ClosestName(name, SiblingNames(table_prefix));
        std::string hint = closest.empty() ? "" : " (did you mean \"" + std::string(closest) + "\"?)";
        Error(doc.node(key).mark, display, "unknown field " + Quote(name) + hint);
      } else {
        seen_.push_back(info);
        DecodeValue(*info, std::move(display), key, value);
      }
      key = next;
    }
    // Nested walks have returned: everything above first_seen belongs to this mapping.
    auto seen_here = seen_.begin() + static_cast<std::ptrdiff_t>(first_seen);
    for (const FieldInfo& field : kind_->fields) {
      if (had_bad_key) break;
      if (field.required != Required::kYes || !IsChildOf(field.path, table_prefix)) continue;
      if (std::find(seen_here, seen_.end(), &field) != seen_.end()) continue;
      std::string_view name = LastSegment(field.path);
      Error(missing_mark, JoinPath(display_prefix, name), "missing required field \"" + std::string(name) + "\"");
    }
    seen_.resize(first_seen);
  }

  std::vector<std::string_view> SiblingNames(std::string_view table_prefix) const {
    std::vector<std::string_view> names;
    for (const FieldInfo& field : kind_->fields) {
      if (IsChildOf(field.path, table_prefix)) names.push_back(LastSegment(field.path));
    }
    return names;
  }

  static YamlNodeType Shape(FieldType type) {
    switch (type) {
      case FieldType::kString:
      case FieldType::kInteger:
      case FieldType::kBoolean: return YamlNodeType::kScalar;
      case FieldType::kObject:
      case FieldType::kStringMap: return YamlNodeType::kMap;
      case FieldType::kStringList:
      case FieldType::kObjectList: return YamlNodeType::kSequence;
    }
    return YamlNodeType::kScalar;
  }

  static std::string_view Expected(FieldType type) {
    switch (type) {
      case FieldType::kString: return "a string";
      case FieldType::kInteger: return "an integer";
      case FieldType::kBoolean: return "true or false";
      case FieldType::kObject:
      case FieldType::kStringMap: return "a mapping";
      case FieldType::kStringList:
      case FieldType::kObjectList: return "a sequence";
    }
    return "a value";
  }

  void DecodeValue(const FieldInfo& info, std::string display, uint32_t key, uint32_t value) {
    const YamlDocument& doc = *doc_;
    if (doc.Has(value, YamlDocument::kReported)) return;
    const YamlNode& node = doc.node(value);
    if (node.type == YamlNodeType::kNull) {
      // An optional field written as "field:" or "field: ~" is absent.
      if (info.required == Required::kYes) {
        Error(node.mark, std::move(display), "expected " + std::string(Expected(info.type)) + ", got null");
      }
      return;
    }
    if (node.type != Shape(info.type)) {
      Error(node.mark, std::move(display), "expected " + std::string(Expected(info.type)) + ", got " + doc.Describe(value));
      return;
    }
    Found found{&info, Role::kField, std::move(display), key, value};
    switch (info.type) {
      case FieldType::kString:
        found.valid = CheckEnum(info, found);
        found_.push_back(std::move(found));
        return;
      case FieldType::kInteger:
        found.valid = ParseInteger(info, found);
        found_.push_back(std::move(found));
        return;
      case FieldType::kBoolean:
        found.valid = ParseBoolean(found);
        found_.push_back(std::move(found));
        return;
      case FieldType::kObject: {
        Mark key_mark = doc.node(key).mark;
        std::string prefix = found.path;
        found_.push_back(std::move(found));
        WalkMap(value, info.path, prefix, key_mark);
        return;
      }
      case FieldType::kStringList: {
        std::string prefix = found.path;
        found_.push_back(std::move(found));
        uint32_t index = 0;
        for (uint32_t item = node.first_child; item != kNone; item = doc.node(item).next_sibling, ++index) {
          std::string item_path = prefix + "[" + std::to_string(index) + "]";
          if (doc.Has(item, YamlDocument::kReported)) continue;
          if (!doc.IsScalar(item)) {
            Error(doc.node(item).mark, std::move(item_path), "expected a string, got " + doc.Describe(item));
            continue;
          }
          found_.push_back(Found{&info, Role::kItem, std::move(item_path), kNone, item});
        }
        return;
      }
      case FieldType::kObjectList: {
        std::string prefix = found.path;
        std::string item_prefix = std::string(info.path) + "[]";
        found_.push_back(std::move(found));
        uint32_t index = 0;
        for (uint32_t item = node.first_child; item != kNone; item = doc.node(item).next_sibling, ++index) {
          std::string item_path = prefix + "[" + std::to_string(index) + "]";
          if (doc.Has(item, YamlDocument::kReported)) continue;
          if (doc.node(item).type != YamlNodeType::kMap) {
            Error(doc.node(item).mark, std::move(item_path), "expected a mapping, got " + doc.Describe(item));
            continue;
          }
          found_.push_back(Found{&info, Role::kItem, item_path, kNone, item});
          WalkMap(item, item_prefix, item_path, doc.node(item).mark);
        }
        return;
      }
      case FieldType::kStringMap: {
        std::string prefix = found.path;
        found_.push_back(std::move(found));
        for (uint32_t label_key = node.first_child; label_key != kNone;) {
          uint32_t label_value = doc.node(label_key).next_sibling;
          if (label_value == kNone) break;
          uint32_t next = doc.node(label_value).next_sibling;
          DecodeLabel(info, prefix, label_key, label_value);
          label_key = next;
        }
        return;
      }
    }
  }

  void DecodeLabel(const FieldInfo& info, const std::string& prefix, uint32_t key, uint32_t value) {
    const YamlDocument& doc = *doc_;
    if (doc.Has(key, YamlDocument::kReported)) return;
    if (!doc.IsScalar(key)) {
      Error(doc.node(key).mark, prefix, "label keys must be strings, got " + doc.Describe(key));
      return;
    }
    std::string_view label = doc.Text(key);
    if (!IsValidLabelKey(label)) {
      Error(doc.node(key).mark, prefix,
            "label key " + Quote(label) +
                " is not valid (1-63 letters, digits, '.', '_', '/' or '-', starting and ending with a letter or digit)");
      return;
    }
    std::string path = JoinPath(prefix, label);
    if (doc.Has(value, YamlDocument::kReported)) return;
    YamlNodeType type = doc.node(value).type;
    if (type != YamlNodeType::kScalar && type != YamlNodeType::kNull) {
      Error(doc.node(value).mark, std::move(path), "expected a string, got " + doc.Describe(value));
      return;
    }
    std::string_view text = doc.Text(value);
    // Characters, not bytes: UTF-8 continuation bytes do not count.
    auto characters = std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
    if (characters > kMaxLabelValueCharacters) {
      Error(doc.node(value).mark, std::move(path), "label value " + Quote(doc.Text(value)) + " is longer than 63 characters");
      return;
    }
    found_.push_back(Found{&info, Role::kItem, std::move(path), key, value});
  }

  bool CheckEnum(const FieldInfo& info, const Found& found) {
    // apiVersion and kind have better messages of their own.
    if (info.enum_values.empty() || info.path == "apiVersion" || info.path == "kind") return true;
    std::string_view text = doc_->Text(found.value);
    if (std::find(info.enum_values.begin(), info.enum_values.end(), text) != info.enum_values.end()) return true;
    std::string choices;
    for (size_t i = 0; i < info.enum_values.size(); ++i) {
      if (i > 0) choices += i + 1 == info.enum_values.size() ? " or " : ", ";
      choices += info.enum_values[i];
    }
    std::string_view closest = ClosestName(text, info.enum_values);
    std::string hint = closest.empty() ? "" : "; did you mean \"" + std::string(closest) + "\"?";
    ErrorAt(found, Quote(text) + " is not one of " + choices + hint);
    return false;
  }

  // Plain decimal only: no quotes, sign '+', leading zeros (YAML 1.1 octal), hex or exponent.
  bool ParseInteger(const FieldInfo& info, Found& found) {
    std::string_view text = doc_->Text(found.value);
    if (doc_->Has(found.value, YamlDocument::kQuoted)) {
      ErrorAt(found, Quote(text) + " is a quoted string; write the integer without quotes");
      return false;
    }
    std::string_view digits = !text.empty() && text[0] == '-' ? text.substr(1) : text;
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), IsAsciiDigit)) {
      ErrorAt(found, Quote(text) + " is not a decimal integer");
      return false;
    }
    if (digits.size() > 1 && digits[0] == '0') {
      ErrorAt(found, Quote(text) + " is not a decimal integer (leading zeros are not allowed: YAML 1.1 reads them as octal)");
      return false;
    }
    long value = 0;
    bool in_range = digits.size() <= 18;
    if (in_range) std::from_chars(text.data(), text.data() + text.size(), value);
    bool bounded = info.minimum != 0 || info.maximum != 0;
    if (bounded && (value < info.minimum || value > info.maximum)) in_range = false;
    if (!in_range) {
      std::string range = bounded ? " (" + std::to_string(info.minimum) + "-" + std::to_string(info.maximum) + ")" : "";
      ErrorAt(found, Quote(text) + " is out of range" + range);
      return false;
    }
    found.integer = value;
    return true;
  }

  bool ParseBoolean(Found& found) {
    std::string_view text = doc_->Text(found.value);
    if (doc_->Has(found.value, YamlDocument::kQuoted)) {
      ErrorAt(found, Quote(text) + " is a quoted string; write true or false without quotes");
      return false;
    }
    if (text == "true" || text == "false") {
      found.boolean = text == "true";
      return true;
    }
    std::string hint = IsYaml11Boolean(text) ? " (YAML 1.1 words like yes, no, on and off are not accepted)" : "";
    ErrorAt(found, Quote(text) + " is not a boolean; write true or false" + hint);
    return false;
  }

  // ----- Per-kind decoding of values already shaped by the walk.

  std::string_view Text(const Found& found) const { return doc_->Text(found.value); }

  // A field present in the document, valid or not: presence decides the "exactly one of"
  // rules, so a refused value is reported once and not again as missing.
  const Found* Get(std::string_view path) const {
    for (const Found& found : found_) {
      if (found.role == Role::kField && found.path == path) return &found;
    }
    return nullptr;
  }

  // A reference to another object by name (spec.agent, spec.tunnel, ...).
  std::string Name(const Found& found) {
    std::string problem = NameProblem(Text(found));
    if (!problem.empty()) ErrorAt(found, problem);
    return std::string(Text(found));
  }

  std::string Interface(const Found& found) {
    std::string problem = InterfaceProblem(Text(found));
    if (!problem.empty()) ErrorAt(found, problem);
    return std::string(Text(found));
  }

  std::optional<Ipv4Address> Address(const Found& found) {
    auto address = Ipv4Address::Parse(Text(found));
    if (!address.ok()) {
      ErrorAt(found, address.status().message());
      return std::nullopt;
    }
    return *address;
  }

  // A network: a CIDR with the host bits zero.
  std::optional<Ipv4Cidr> Network(const Found& found) {
    auto cidr = Ipv4Cidr::Parse(Text(found));
    if (!cidr.ok()) {
      ErrorAt(found, cidr.status().message());
      return std::nullopt;
    }
    if (!cidr->IsCanonical()) {
      ErrorAt(found, Quote(Text(found)) + " has host bits set (did you mean " + cidr->Canonical().ToString() + "?)");
      return std::nullopt;
    }
    return *cidr;
  }

  std::vector<PortRange> Ports(const Found& found) {
    auto ports = ParsePortList(Text(found));
    if (!ports.ok()) {
      ErrorAt(found, ports.status().message());
      return {};
    }
    return *std::move(ports);
  }

  // apiVersion, kind, metadata: common to every kind.
  // Also consumes (returns true for) fields whose value was already refused.
  bool DecodeCommon(const Found& found, ObjectMeta& metadata) {
    if (!found.valid) return true;
    std::string_view path = found.info->path;
    if (path == "apiVersion") {
      CheckApiVersion(found.value);
    } else if (path == "metadata.name") {
      CheckObjectName(found.value);
      metadata.name = std::string(Text(found));
    } else if (path == "metadata.labels" && found.role == Role::kItem) {
      metadata.labels[std::string(doc_->Text(found.key))] = std::string(Text(found));
    } else if (path == "kind" || path == "metadata" || path == "spec" || path == "metadata.labels") {
      // Structure only.
    } else {
      return false;
    }
    return true;
  }

  // Adds the resource to the fleet unless the document had errors. Ends the use of found_:
  // its paths move into the Origin.
  template <typename Resource>
  void Keep(Resource& resource, std::vector<Resource>& into) {
    if (failed_) return;
    Origin& origin = resource.origin;
    origin.file = file_;
    origin.mark = doc_->mark();
    origin.fields.reserve(found_.size());
    for (Found& found : found_) origin.fields.emplace_back(std::move(found.path), OriginMark(found));
    into.push_back(std::move(resource));
  }

  void DecodeTunnel() {
    Tunnel tunnel;
    TunnelSpec& spec = tunnel.spec;
    for (const Found& found : found_) {
      if (DecodeCommon(found, tunnel.metadata)) continue;
      std::string_view path = found.info->path;
      if (path == "spec.agent") {
        spec.agent = Name(found);
      } else if (path == "spec.endpoint") {
        std::string problem = EndpointProblem(Text(found));
        if (!problem.empty()) ErrorAt(found, problem);
        spec.endpoint = std::string(Text(found));
      } else if (path == "spec.listenPort") {
        spec.listen_port = static_cast<uint16_t>(found.integer);
      } else if (path == "spec.interface") {
        spec.interface = Interface(found);
      } else if (path == "spec.network") {
        if (auto network = Network(found)) {
          if (network->prefix > 30) {
            ErrorAt(found, Quote(Text(found)) + " is too small for a tunnel network (the prefix must be at most /30)");
          }
          spec.network = *network;
        }
      } else if (path == "spec.publicInterface") {
        spec.public_interface = Interface(found);
      } else if (path == "spec.mtu") {
        spec.mtu = static_cast<int>(found.integer);
      } else if (path == "spec.selfHeal") {
        spec.self_heal = found.boolean;
      }
    }
    Keep(tunnel, result_.fleet.tunnels);
  }

  void DecodePeer() {
    Peer peer;
    PeerSpec& spec = peer.spec;
    const Found* interface = nullptr;
    const Found* dns = nullptr;
    for (const Found& found : found_) {
      if (DecodeCommon(found, peer.metadata)) continue;
      std::string_view path = found.info->path;
      if (path == "spec.tunnel") {
        spec.tunnel = Name(found);
      } else if (path == "spec.agent") {
        spec.agent = Name(found);
      } else if (path == "spec.publicKey") {
        auto key = WireguardKey::Parse(Text(found));
        if (!key.ok()) ErrorAt(found, key.status().message());
        else if (key->IsZero()) ErrorAt(found, Quote(Text(found)) + " is the all-zero key, which is not a valid public key");
        else spec.public_key = *key;
      } else if (path == "spec.address") {
        spec.address = Address(found);
      } else if (path == "spec.interface") {
        interface = &found;
        spec.interface = Interface(found);
      } else if (path == "spec.lan" && found.role == Role::kItem) {
        if (auto lan = Network(found)) spec.lan.push_back(*lan);
      } else if (path == "spec.gateway") {
        spec.gateway = found.boolean;
      } else if (path == "spec.keepalive") {
        spec.keepalive = static_cast<int>(found.integer);
      } else if (path == "spec.dns" && found.role != Role::kItem) {
        dns = &found;
      } else if (path == "spec.dns") {
        DecodeDnsServer(found, spec.dns);
      }
    }
    // Presence, not validity, decides: a bad key is reported once, not also as "missing".
    const Found* spec_field = Get("spec");
    bool has_agent = Get("spec.agent") != nullptr;
    bool has_key = Get("spec.publicKey") != nullptr;
    if (spec_field != nullptr && has_agent == has_key) {
      Error(OriginMark(*spec_field), "spec",
            "set exactly one of spec.agent (a managed peer) and spec.publicKey (an unmanaged device)");
    }
    if (interface != nullptr && !has_agent && has_key) {
      ErrorAt(*interface, "spec.interface is only for managed peers (those with spec.agent); an unmanaged device "
                          "names its own interface");
    }
    if (dns != nullptr && has_agent && !has_key) {
      ErrorAt(*dns, "spec.dns is only for unmanaged peers (those with spec.publicKey): it goes into the device's "
                    "own config, and an agent keeps its host's resolvers");
    }
    Keep(peer, result_.fleet.peers);
  }

  // One item of spec.dns: an IPv4 address, each once, at most kMaxDnsServers (what a device's
  // resolver list holds; wg-quick hands them to resolvconf).
  void DecodeDnsServer(const Found& found, std::vector<Ipv4Address>& servers) {
    static constexpr size_t kMaxDnsServers = 8;
    std::optional<Ipv4Address> address = Address(found);
    if (!address) return;
    if (std::find(servers.begin(), servers.end(), *address) != servers.end()) {
      ErrorAt(found, "DNS server " + address->ToString() + " is listed twice");
    } else if (servers.size() == kMaxDnsServers) {
      ErrorAt(found, "at most " + std::to_string(kMaxDnsServers) + " DNS servers");
    } else if (address->value == 0 || address->value >> 28 >= 14) {
      // 0.0.0.0, multicast (224/4) and 240/4 cannot answer queries.
      ErrorAt(found, address->ToString() + " cannot be a DNS server (unspecified, multicast or reserved address)");
    } else {
      servers.push_back(*address);
    }
  }

  void DecodePortForward() {
    PortForward forward;
    PortForwardSpec& spec = forward.spec;
    for (const Found& found : found_) {
      if (DecodeCommon(found, forward.metadata)) continue;
      std::string_view path = found.info->path;
      if (path == "spec.tunnel") {
        spec.tunnel = Name(found);
      } else if (path == "spec.protocol") {
        spec.protocol = ParseProtocol(Text(found));
      } else if (path == "spec.ports") {
        spec.ports = Ports(found);
      } else if (path == "spec.template") {
        spec.template_name = Name(found);
      } else if (path == "spec.to.address") {
        if (auto address = Address(found)) spec.to.address = *address;
      } else if (path == "spec.to.port") {
        spec.to.port = static_cast<uint16_t>(found.integer);
      } else if (path == "spec.to.peer") {
        spec.to.peer = Name(found);
      } else if (path == "spec.description") {
        spec.description = std::string(Text(found));
      } else if (path == "spec.hostPort") {
        spec.host_port = Text(found) == HostPortName(HostPort::kAllow) ? HostPort::kAllow : HostPort::kRefuse;
      }
    }
    const Found* spec_field = Get("spec");
    const Found* protocol = Get("spec.protocol");
    const Found* ports = Get("spec.ports");
    const Found* template_name = Get("spec.template");
    const Found* to_port = Get("spec.to.port");
    if (spec_field != nullptr) {
      if ((ports != nullptr) == (template_name != nullptr)) {
        Error(OriginMark(*spec_field), "spec", "set exactly one of spec.ports (with spec.protocol) and spec.template");
      } else if (ports != nullptr && protocol == nullptr) {
        Error(OriginMark(*spec_field), "spec.protocol", "missing required field \"protocol\" (required with spec.ports)");
      } else if (template_name != nullptr && protocol != nullptr) {
        ErrorAt(*protocol, "spec.protocol cannot be used with spec.template (the template gives the protocols)");
      }
    }
    if (to_port != nullptr) {
      if (template_name != nullptr && ports == nullptr) {
        ErrorAt(*to_port, "spec.to.port remaps a single port; it cannot be used with spec.template");
      } else if (ports != nullptr && !spec.ports.empty() && !(spec.ports.size() == 1 && spec.ports[0].IsSingle())) {
        ErrorAt(*to_port, "spec.to.port remaps a single port, but spec.ports is " + Quote(Text(*ports)));
      }
    }
    Keep(forward, result_.fleet.forwards);
  }

  void DecodeServiceTemplate() {
    ServiceTemplate service;
    for (const Found& found : found_) {
      if (DecodeCommon(found, service.metadata)) continue;
      std::string_view path = found.info->path;
      if (path == "spec.ports" && found.role == Role::kItem) {
        service.spec.ports.emplace_back();
      } else if (path == "spec.ports" && doc_->node(found.value).child_count == 0) {
        ErrorAt(found, "must list at least one port set");
      } else if (path == "spec.ports[].protocol" && !service.spec.ports.empty()) {
        service.spec.ports.back().protocol = ParseProtocol(Text(found)).value_or(Protocol::kTcp);
      } else if (path == "spec.ports[].ports" && !service.spec.ports.empty()) {
        service.spec.ports.back().ranges = Ports(found);
      }
    }
    Keep(service, result_.fleet.templates);
  }

  const std::string& file_;
  LoadResult& result_;
  const YamlDocument* doc_ = nullptr;
  const KindInfo* kind_ = nullptr;
  std::string object_;
  bool failed_ = false;
  std::vector<Found> found_;
  std::vector<const FieldInfo*> seen_;
};

void LoadFile(const SourceFile& file, const LoadOptions& options, LoadResult& result) {
  auto error = [&](Mark mark, std::string message) {
    Diagnostic& d = result.diagnostics.emplace_back();
    d.file = file.path;
    d.mark = mark;
    d.message = std::move(message);
  };
  if (file.content.size() > options.max_file_bytes) {
    error({}, "file is " + std::to_string(file.content.size()) + " bytes, larger than the limit of " +
                  std::to_string(options.max_file_bytes) + " bytes");
    return;
  }
  DocumentDecoder decoder(file.path, result);
  YamlLimits limits{options.max_depth, options.max_scalar_bytes};
  auto stopped = ParseYamlDocuments(file.content, limits, [&](const YamlDocument& doc) { decoder.Decode(doc); });
  if (stopped) error(stopped->mark, std::move(stopped->message));
}

}  // namespace

LoadResult LoadFleet(const std::vector<SourceFile>& files, const LoadOptions& options) {
  LoadResult result;
  for (const SourceFile& file : files) {
    size_t first = result.diagnostics.size();
    LoadFile(file, options, result);
    // By position within the file: a document's parse-time refusals and decoder findings
    // are collected separately, and messages read best in file order.
    std::stable_sort(result.diagnostics.begin() + static_cast<std::ptrdiff_t>(first), result.diagnostics.end(),
                     [](const Diagnostic& a, const Diagnostic& b) {
                       return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
                     });
  }
  return result;
}

}  // namespace ww
