// LoadFleet: yaml-cpp's event API builds one small tree per document (scalars with marks,
// ordered mappings, sequences); the tree is decoded against the field table of
// resource_fields.h into model structs, then reused for the next document. This file is the
// one adapter around yaml-cpp: its exceptions stop here and become Diagnostics.

#include "schema/loader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <istream>
#include <optional>
#include <streambuf>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "schema/net.h"
#include "schema/resource_fields.h"

namespace ww {

namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr size_t kMaxQuotedBytes = 80;
constexpr size_t kMaxLabelValueBytes = 63;
constexpr std::string_view kYamlTagPrefix = "tag:yaml.org,2002:";

// ---------------------------------------------------------------------------------------
// Text helpers.

// Decodes the code point at `pos` of valid UTF-8 (the file was checked up front) and
// returns its length in bytes.
size_t DecodeUtf8(std::string_view text, size_t pos, uint32_t& code_point) {
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(text[i])); };
  uint32_t lead = byte(pos);
  size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (pos + length > text.size()) length = 1;
  switch (length) {
    case 1: code_point = lead; break;
    case 2: code_point = ((lead & 0x1F) << 6) | (byte(pos + 1) & 0x3F); break;
    case 3: code_point = ((lead & 0x0F) << 12) | ((byte(pos + 1) & 0x3F) << 6) | (byte(pos + 2) & 0x3F); break;
    default:
      code_point = ((lead & 0x07) << 18) | ((byte(pos + 1) & 0x3F) << 12) | ((byte(pos + 2) & 0x3F) << 6) |
                   (byte(pos + 3) & 0x3F);
      break;
  }
  return length;
}

std::string CodePointName(uint32_t code_point) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string digits;
  for (uint32_t rest = code_point; rest != 0 || digits.size() < 4; rest >>= 4) digits.insert(digits.begin(), kHex[rest & 0xF]);
  return "U+" + digits;
}

// A character as messages show it: 'W' when printable ASCII, U+0435 otherwise.
std::string CharacterName(uint32_t code_point) {
  if (code_point > 0x20 && code_point < 0x7F) return std::string("'") + static_cast<char>(code_point) + "'";
  return CodePointName(code_point);
}

bool IsControl(uint32_t code_point) { return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F); }

// The length of the valid UTF-8 sequence at `pos`, or 0.
size_t ValidSequenceLength(std::string_view text, size_t pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  if (lead < 0x80) return 1;
  size_t length = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
  if (length == 0 || pos + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if (byte(pos + k) < 0x80 || byte(pos + k) > 0xBF) return 0;
  }
  unsigned char second = byte(pos + 1);
  if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) || (lead == 0xF0 && second < 0x90) ||
      (lead == 0xF4 && second > 0x8F)) {
    return 0;
  }
  return length;
}

// The offending value in double quotes, with control characters escaped so a message can
// never inject a line into CI output, and cut at kMaxQuotedBytes.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  size_t pos = 0;
  while (pos < text.size()) {
    if (pos >= kMaxQuotedBytes) {
      out += "...";
      break;
    }
    if (ValidSequenceLength(text, pos) == 0) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      auto byte = static_cast<unsigned char>(text[pos]);
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
      ++pos;
      continue;
    }
    uint32_t code_point = 0;
    size_t length = DecodeUtf8(text, pos, code_point);
    if (code_point == '"') out += "\\\"";
    else if (code_point == '\\') out += "\\\\";
    else if (code_point == '\n') out += "\\n";
    else if (code_point == '\t') out += "\\t";
    else if (code_point == '\r') out += "\\r";
    else if (IsControl(code_point)) out += "\\u" + CodePointName(code_point).substr(2);
    else out.append(text.substr(pos, length));
    pos += length;
  }
  out += '"';
  return out;
}

enum class ScalarProblem { kClean, kControl, kInvalidUtf8 };

// Scans a scalar as yaml-cpp hands it over: the file was valid UTF-8, but escapes can add
// control characters ("\t", "\0") and yaml-cpp writes "\N" and "\_" as raw Latin-1 bytes.
ScalarProblem FindScalarProblem(std::string_view text, uint32_t& code_point) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7F) {
      code_point = byte;
      return ScalarProblem::kControl;
    }
    if (byte < 0x80) continue;
    size_t length = ValidSequenceLength(text, i);
    if (length == 0) {
      code_point = byte;
      // A lone 0x80-0x9F byte is yaml-cpp's Latin-1 rendering of a C1 escape such as "\N".
      return byte <= 0x9F ? ScalarProblem::kControl : ScalarProblem::kInvalidUtf8;
    }
    // C1 controls U+0080-U+009F are encoded as C2 80 - C2 9F.
    if (byte == 0xC2 && static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      code_point = static_cast<unsigned char>(text[i + 1]);
      return ScalarProblem::kControl;
    }
    i += length - 1;
  }
  return ScalarProblem::kClean;
}

std::string ShowTag(const std::string& tag) {
  if (tag.compare(0, kYamlTagPrefix.size(), kYamlTagPrefix) == 0) return "!!" + tag.substr(kYamlTagPrefix.size());
  return tag;
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
// Whole-file checks, before yaml-cpp sees the bytes.

struct EncodingProblem {
  size_t offset = 0;
  std::string message;
};

std::string HexByte(unsigned char byte) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("0x") + kHex[byte >> 4] + kHex[byte & 0xF];
}

// The first NUL byte or invalid UTF-8 sequence (overlong, surrogate, beyond U+10FFFF, stray
// continuation, truncated).
std::optional<EncodingProblem> FindEncodingProblem(std::string_view content) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(content.data());
  size_t size = content.size();
  size_t i = 0;
  while (i < size) {
    unsigned char lead = bytes[i];
    if (lead >= 0x01 && lead < 0x80) {
      ++i;
      continue;
    }
    if (lead == 0) return EncodingProblem{i, "contains a NUL byte (fleet files are UTF-8 text)"};
    size_t continuation = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0x80 && lead <= 0xBF) {
      return EncodingProblem{i, "invalid UTF-8: stray continuation byte " + HexByte(lead)};
    } else if (lead == 0xC0 || lead == 0xC1) {
      return EncodingProblem{i, "invalid UTF-8: overlong encoding (byte " + HexByte(lead) + ")"};
    } else if (lead <= 0xDF) {
      continuation = 1;
    } else if (lead <= 0xEF) {
      continuation = 2;
      if (lead == 0xE0) low = 0xA0;   // below is overlong
      if (lead == 0xED) high = 0x9F;  // above is a UTF-16 surrogate
    } else if (lead <= 0xF4) {
      continuation = 3;
      if (lead == 0xF0) low = 0x90;   // below is overlong
      if (lead == 0xF4) high = 0x8F;  // above is beyond U+10FFFF
    } else {
      return EncodingProblem{i, "invalid UTF-8: byte " + HexByte(lead) + " never appears in UTF-8"};
    }
    for (size_t k = 1; k <= continuation; ++k) {
      if (i + k >= size || bytes[i + k] < 0x80 || bytes[i + k] > 0xBF) {
        return EncodingProblem{i, "invalid UTF-8: truncated sequence starting with byte " + HexByte(lead)};
      }
    }
    unsigned char second = bytes[i + 1];
    if (second < low || second > high) {
      std::string what = lead == 0xED ? "encoded surrogate" : lead == 0xF4 ? "code point beyond U+10FFFF" : "overlong encoding";
      return EncodingProblem{i, "invalid UTF-8: " + what + " (bytes " + HexByte(lead) + " " + HexByte(second) + ")"};
    }
    i += continuation + 1;
  }
  return std::nullopt;
}

// 1-based line and byte column of `offset`, like yaml-cpp's marks.
Mark MarkOfOffset(std::string_view content, size_t offset) {
  Mark mark{1, 1};
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (content[i] == '\n') {
      ++mark.line;
      line_start = i + 1;
    }
  }
  mark.column = static_cast<int>(offset - line_start) + 1;
  return mark;
}

Mark ToMark(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

// Serves the caller's string to yaml-cpp without copying it into a stringstream.
class MemoryBuffer : public std::streambuf {
 public:
  explicit MemoryBuffer(std::string_view content) {
    // The get area is only read; std::streambuf just has no const interface.
    char* begin = const_cast<char*>(content.data());
    setg(begin, begin, begin + content.size());
  }
};

// ---------------------------------------------------------------------------------------
// The per-document tree.

enum class NodeType : uint8_t { kNull, kScalar, kMap, kSequence };

enum NodeFlag : uint8_t {
  kQuoted = 1,  // a quoted (or !!str) scalar: always a string, never a number or boolean
  kBad = 2,     // already reported (control character, too long, tag, alias, duplicate key)
  kHidden = 4,  // text unfit for a field path (control character, invalid UTF-8, too long)
};

struct Node {
  NodeType type = NodeType::kNull;
  uint8_t flags = 0;
  Mark mark;
  uint32_t parent = kNone;
  uint32_t first_child = kNone;
  uint32_t last_child = kNone;
  uint32_t next_sibling = kNone;
  uint32_t child_count = 0;
  uint32_t text_offset = 0;
  uint32_t text_size = 0;
};

// A finding made while the tree is built; reported once the document's object is known.
struct TreeProblem {
  uint32_t path_node = kNone;  // the field path is this node's; kNone: the document
  Mark mark;
  std::string message;
};

class Document {
 public:
  void Clear(Mark mark) {
    nodes_.clear();
    text_.clear();
    problems_.clear();
    mark_ = mark;
  }

  uint32_t Add(NodeType type, Mark mark, uint32_t parent) {
    auto index = static_cast<uint32_t>(nodes_.size());
    Node& node = nodes_.emplace_back();
    node.type = type;
    node.mark = mark;
    node.parent = parent;
    if (parent != kNone) {
      Node& up = nodes_[parent];
      if (up.last_child == kNone) up.first_child = index;
      else nodes_[up.last_child].next_sibling = index;
      up.last_child = index;
      ++up.child_count;
    }
    return index;
  }

  void SetText(uint32_t index, std::string_view text) {
    nodes_[index].text_offset = static_cast<uint32_t>(text_.size());
    nodes_[index].text_size = static_cast<uint32_t>(text.size());
    text_.append(text);
  }

  void AddProblem(uint32_t path_node, Mark mark, std::string message) {
    problems_.push_back({path_node, mark, std::move(message)});
  }

  bool empty() const { return nodes_.empty(); }
  const Node& node(uint32_t index) const { return nodes_[index]; }
  Node& node(uint32_t index) { return nodes_[index]; }
  std::string_view Text(uint32_t index) const {
    const Node& n = nodes_[index];
    return std::string_view(text_).substr(n.text_offset, n.text_size);
  }
  // Where the document's content starts (after any "---" and comments).
  Mark mark() const { return nodes_.empty() ? mark_ : nodes_[0].mark; }
  const std::vector<TreeProblem>& problems() const { return problems_; }

  bool IsScalar(uint32_t index) const { return nodes_[index].type == NodeType::kScalar; }
  bool IsBad(uint32_t index) const { return (nodes_[index].flags & kBad) != 0; }
  bool IsQuoted(uint32_t index) const { return (nodes_[index].flags & kQuoted) != 0; }

  // The value of `key` in mapping `map`, or kNone.
  uint32_t Find(uint32_t map, std::string_view key, uint32_t* key_node = nullptr) const {
    for (uint32_t k = nodes_[map].first_child; k != kNone;) {
      uint32_t v = nodes_[k].next_sibling;
      if (v == kNone) break;
      if (IsScalar(k) && !IsBad(k) && Text(k) == key) {
        if (key_node != nullptr) *key_node = k;
        return v;
      }
      k = nodes_[v].next_sibling;
    }
    return kNone;
  }

  // "spec.to.address", "spec.lan[1]": the field a node is the key or the value of.
  std::string PathOf(uint32_t index) const {
    if (index == kNone) return "";
    uint32_t parent = nodes_[index].parent;
    if (parent == kNone) return "";
    std::string prefix = PathOf(parent);
    uint32_t position = 0;
    uint32_t previous = kNone;
    for (uint32_t child = nodes_[parent].first_child; child != index; child = nodes_[child].next_sibling) {
      previous = child;
      ++position;
    }
    if (nodes_[parent].type == NodeType::kSequence) return prefix + "[" + std::to_string(position) + "]";
    uint32_t key = position % 2 == 0 ? index : previous;
    if (!IsScalar(key) || (nodes_[key].flags & kHidden) != 0) return prefix;
    return JoinPath(prefix, Text(key));
  }

  // "a mapping", "a scalar \"x\"": what a node is, for type errors.
  std::string Describe(uint32_t index) const {
    switch (nodes_[index].type) {
      case NodeType::kNull: return "null";
      case NodeType::kScalar: return "a scalar " + Quote(Text(index));
      case NodeType::kMap: return "a mapping";
      case NodeType::kSequence: return "a sequence";
    }
    return "";
  }

 private:
  std::vector<Node> nodes_;
  std::string text_;
  std::vector<TreeProblem> problems_;
  Mark mark_;
};

// Thrown from the event handler to abandon a file nested deeper than max_depth; yaml-cpp
// cannot resume after an aborted document anyway.
struct NestingTooDeep {
  Mark mark;
};

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
    uint32_t code_point = 0;
    size_t length = DecodeUtf8(name, pos, code_point);
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

class DocumentDecoder {
 public:
  DocumentDecoder(const std::string& file, LoadResult& result) : file_(file), result_(result) {}

  void Decode(const Document& doc) {
    doc_ = &doc;
    failed_ = false;
    kind_ = nullptr;
    object_.clear();
    found_.clear();
    if (doc.empty() || doc.node(0).type == NodeType::kNull) {
      // Only comments (or nothing) between two "---": skipped. Problems still count.
      ReportTreeProblems();
      return;
    }
    if (doc.node(0).type != NodeType::kMap) {
      ReportTreeProblems();
      if (!doc.IsBad(0)) {
        Error(doc.mark(), "", "a document must be a mapping with apiVersion, kind, metadata and spec; got " + doc.Describe(0));
      }
      return;
    }
    IdentifyObject();
    ReportTreeProblems();
    if (kind_ == nullptr) {
      CheckKind();
      // The kind decides which fields exist; only the common ones can be checked.
      uint32_t key = kNone;
      uint32_t api = doc.Find(0, "apiVersion", &key);
      if (api == kNone) Error(doc.mark(), "apiVersion", "missing required field \"apiVersion\"");
      else if (doc.IsScalar(api) && !doc.IsBad(api)) CheckApiVersion(api);
      uint32_t metadata = doc.Find(0, "metadata");
      uint32_t name = metadata != kNone && doc.node(metadata).type == NodeType::kMap ? doc.Find(metadata, "name") : kNone;
      if (name != kNone && doc.IsScalar(name) && !doc.IsBad(name)) CheckObjectName(name);
      return;
    }
    WalkMap(0, "", "", doc.mark());
    origin_.file = file_;
    origin_.mark = doc.mark();
    origin_.fields.clear();
    origin_.fields.reserve(found_.size());
    for (const Found& found : found_) origin_.fields.emplace_back(found.path, OriginMark(found));
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

  void ReportTreeProblems() {
    for (const TreeProblem& problem : doc_->problems()) Error(problem.mark, doc_->PathOf(problem.path_node), problem.message);
  }

  Mark ValueMark(const Found& found) const { return doc_->node(found.value).mark; }
  // Containers are located by their key ("spec:"), scalars and list items by their value.
  Mark OriginMark(const Found& found) const {
    NodeType type = doc_->node(found.value).type;
    if (found.key != kNone && (type == NodeType::kMap || type == NodeType::kSequence)) return doc_->node(found.key).mark;
    return ValueMark(found);
  }

  // ----- Identification: "Kind/name" for every message of the document.

  void IdentifyObject() {
    uint32_t kind = doc_->Find(0, "kind");
    if (kind == kNone || !doc_->IsScalar(kind) || doc_->IsBad(kind)) return;
    kind_ = FindKind(doc_->Text(kind));
    if (kind_ == nullptr) return;
    object_ = std::string(kind_->kind);
    uint32_t metadata = doc_->Find(0, "metadata");
    if (metadata == kNone || doc_->node(metadata).type != NodeType::kMap) return;
    uint32_t name = doc_->Find(metadata, "name");
    if (name != kNone && doc_->IsScalar(name) && !doc_->IsBad(name) && IsValidName(doc_->Text(name))) {
      object_ += "/";
      object_ += doc_->Text(name);
    }
  }

  void CheckKind() {
    uint32_t key = kNone;
    uint32_t kind = doc_->Find(0, "kind", &key);
    if (kind == kNone) {
      Error(doc_->mark(), "kind", "missing required field \"kind\"");
      return;
    }
    if (doc_->IsBad(kind)) return;
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
    std::vector<const FieldInfo*> seen;
    bool had_bad_key = false;
    const Document& doc = *doc_;
    for (uint32_t key = doc.node(map).first_child; key != kNone;) {
      uint32_t value = doc.node(key).next_sibling;
      if (value == kNone) break;
      uint32_t next = doc.node(value).next_sibling;
      if (doc.IsBad(key)) {
        // Already reported (duplicate, anchor, tag...). A key whose text is unusable may
        // have been any field, so then none is called missing here.
        if ((doc.node(key).flags & kHidden) != 0) had_bad_key = true;
        else if (doc.IsScalar(key)) seen.push_back(FindField(*kind_, JoinPath(table_prefix, doc.Text(key))));
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
      if (name.find_first_of(".[]") == std::string_view::npos) {
        std::string table_path = JoinPath(table_prefix, name);
        info = FindField(*kind_, table_path);
      }
      std::string display = JoinPath(display_prefix, name);
      if (info == nullptr) {
        std::string_view closest = ClosestName(name, SiblingNames(table_prefix));
        std::string hint = closest.empty() ? "" : " (did you mean \"" + std::string(closest) + "\"?)";
        Error(doc.node(key).mark, display, "unknown field " + Quote(name) + hint);
      } else {
        seen.push_back(info);
        DecodeValue(*info, std::move(display), key, value);
      }
      key = next;
    }
    if (had_bad_key) return;
    for (const FieldInfo& field : kind_->fields) {
      if (field.required != Required::kYes || !IsChildOf(field.path, table_prefix)) continue;
      if (std::find(seen.begin(), seen.end(), &field) != seen.end()) continue;
      std::string_view name = LastSegment(field.path);
      Error(missing_mark, JoinPath(display_prefix, name), "missing required field \"" + std::string(name) + "\"");
    }
  }

  std::vector<std::string_view> SiblingNames(std::string_view table_prefix) const {
    std::vector<std::string_view> names;
    for (const FieldInfo& field : kind_->fields) {
      if (IsChildOf(field.path, table_prefix)) names.push_back(LastSegment(field.path));
    }
    return names;
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
    const Document& doc = *doc_;
    if (doc.IsBad(value)) return;
    const Node& node = doc.node(value);
    if (node.type == NodeType::kNull) {
      // An optional field written as "field:" or "field: ~" is absent.
      if (info.required == Required::kYes) {
        Error(node.mark, std::move(display), "expected " + std::string(Expected(info.type)) + ", got null");
      }
      return;
    }
    bool scalar_type = info.type == FieldType::kString || info.type == FieldType::kInteger || info.type == FieldType::kBoolean;
    NodeType wanted = scalar_type                                                                   ? NodeType::kScalar
                      : info.type == FieldType::kObject || info.type == FieldType::kStringMap ? NodeType::kMap
                                                                                                    : NodeType::kSequence;
    if (node.type != wanted) {
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
          if (doc.IsBad(item)) continue;
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
          if (doc.IsBad(item)) continue;
          if (doc.node(item).type != NodeType::kMap) {
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
    const Document& doc = *doc_;
    if (doc.IsBad(key)) return;
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
    if (doc.IsBad(value)) return;
    NodeType type = doc.node(value).type;
    if (type != NodeType::kScalar && type != NodeType::kNull) {
      Error(doc.node(value).mark, std::move(path), "expected a string, got " + doc.Describe(value));
      return;
    }
    if (doc.Text(value).size() > kMaxLabelValueBytes) {
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
    if (doc_->IsQuoted(found.value)) {
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
    if (doc_->IsQuoted(found.value)) {
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

  template <typename Resource>
  void Keep(Resource& resource, std::vector<Resource>& into) {
    if (failed_) return;
    resource.origin = std::move(origin_);
    origin_ = Origin();
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
    Keep(peer, result_.fleet.peers);
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
  const Document* doc_ = nullptr;
  const KindInfo* kind_ = nullptr;
  std::string object_;
  bool failed_ = false;
  std::vector<Found> found_;
  Origin origin_;
};

// ---------------------------------------------------------------------------------------
// The yaml-cpp event handler: builds the tree, refuses what the tree must never hold.

class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const std::string& file, const LoadOptions& options, LoadResult& result)
      : options_(options), decoder_(file, result) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    doc_.Clear(ToMark(mark));
    stack_.clear();
    anchor_names_.clear();
    reported_anchor_ = false;
  }

  void OnDocumentEnd() override { decoder_.Decode(doc_); }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    uint32_t index = Add(NodeType::kNull, mark);
    if (anchor != YAML::NullAnchor) RefuseAnchor(index);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    uint32_t index = Add(NodeType::kNull, mark);
    doc_.node(index).flags |= kBad;
    if (reported_anchor_) return;
    reported_anchor_ = true;
    std::string name = anchor > 0 && anchor <= anchor_names_.size() ? " \"*" + anchor_names_[anchor - 1] + "\"" : "";
    doc_.AddProblem(index, doc_.node(index).mark, "anchors and aliases are not supported (found alias" + name + ")");
  }

  void OnAnchor(const YAML::Mark& /*mark*/, const std::string& anchor_name) override {
    anchor_names_.push_back(anchor_name);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, const std::string& value) override {
    bool is_key = IsNextKey();
    uint32_t index = Add(NodeType::kScalar, mark);
    Node& node = doc_.node(index);
    if (anchor != YAML::NullAnchor) RefuseAnchor(index);
    if (tag == "!") {
      node.flags |= kQuoted;
    } else if (tag != "?") {
      std::string_view core = std::string_view(tag).substr(0, kYamlTagPrefix.size()) == kYamlTagPrefix
                                  ? std::string_view(tag).substr(kYamlTagPrefix.size())
                                  : std::string_view();
      if (core == "str") {
        node.flags |= kQuoted;
      } else if (core == "null") {
        node.type = NodeType::kNull;
      } else if (core != "int" && core != "bool") {
        RefuseTag(index, tag);
      }
    }
    // A bad key is reported with its parent's path: its own text may be what is wrong.
    uint32_t path_node = is_key ? node.parent : index;
    auto what = [&] { return is_key ? "key " + Quote(value) : Quote(value); };
    if (value.size() > options_.max_scalar_bytes) {
      node.flags |= kBad | kHidden;
      doc_.AddProblem(path_node, node.mark,
                      what() + " is " + std::to_string(value.size()) + " bytes long (the limit is " +
                          std::to_string(options_.max_scalar_bytes) + ")");
      return;
    }
    uint32_t code_point = 0;
    switch (FindScalarProblem(value, code_point)) {
      case ScalarProblem::kClean: break;
      case ScalarProblem::kControl:
        node.flags |= kBad | kHidden;
        doc_.AddProblem(path_node, node.mark, what() + " contains control character " + CodePointName(code_point));
        break;
      case ScalarProblem::kInvalidUtf8:
        node.flags |= kBad | kHidden;
        doc_.AddProblem(path_node, node.mark, what() + " is not valid UTF-8 after its escapes are applied");
        break;
    }
    doc_.SetText(index, value);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    Open(NodeType::kSequence, mark, tag, anchor, "seq");
  }
  void OnSequenceEnd() override { stack_.pop_back(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    Open(NodeType::kMap, mark, tag, anchor, "map");
  }
  void OnMapEnd() override {
    RefuseDuplicateKeys(stack_.back());
    stack_.pop_back();
  }

 private:
  uint32_t Add(NodeType type, const YAML::Mark& mark) {
    return doc_.Add(type, ToMark(mark), stack_.empty() ? kNone : stack_.back());
  }

  bool IsNextKey() const {
    if (stack_.empty()) return false;
    const Node& top = doc_.node(stack_.back());
    return top.type == NodeType::kMap && top.child_count % 2 == 0;
  }

  void Open(NodeType type, const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, std::string_view core) {
    if (stack_.size() >= static_cast<size_t>(std::max(options_.max_depth, 0))) throw NestingTooDeep{ToMark(mark)};
    uint32_t index = Add(type, mark);
    stack_.push_back(index);
    if (anchor != YAML::NullAnchor) RefuseAnchor(index);
    if (tag != "?" && tag != std::string(kYamlTagPrefix) + std::string(core)) RefuseTag(index, tag);
  }

  void RefuseAnchor(uint32_t index) {
    doc_.node(index).flags |= kBad;
    if (reported_anchor_) return;
    reported_anchor_ = true;
    std::string name = anchor_names_.empty() ? "" : " \"&" + anchor_names_.back() + "\"";
    doc_.AddProblem(index, doc_.node(index).mark, "anchors and aliases are not supported (found anchor" + name + ")");
  }

  void RefuseTag(uint32_t index, const std::string& tag) {
    doc_.node(index).flags |= kBad;
    doc_.AddProblem(index, doc_.node(index).mark, "tag " + Quote(ShowTag(tag)) + " is not supported (fleet files use no tags)");
  }

  // yaml-cpp keeps every duplicate key; a fleet file must not say two things at once.
  void RefuseDuplicateKeys(uint32_t map) {
    const Node& node = doc_.node(map);
    if (node.child_count < 4) return;
    keys_.clear();
    for (uint32_t key = node.first_child; key != kNone;) {
      uint32_t value = doc_.node(key).next_sibling;
      if (doc_.IsScalar(key) && !doc_.IsBad(key)) keys_.push_back(key);
      if (value == kNone) break;
      key = doc_.node(value).next_sibling;
    }
    auto report = [&](uint32_t duplicate, uint32_t first) {
      doc_.node(duplicate).flags |= kBad;
      doc_.AddProblem(duplicate, doc_.node(duplicate).mark,
                      "duplicate key " + Quote(doc_.Text(duplicate)) + " (first at line " +
                          std::to_string(doc_.node(first).mark.line) + ")");
    };
    if (keys_.size() <= 16) {
      for (size_t i = 1; i < keys_.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
          if (doc_.Text(keys_[i]) == doc_.Text(keys_[j]) && !doc_.IsBad(keys_[j])) {
            report(keys_[i], keys_[j]);
            break;
          }
        }
      }
      return;
    }
    // Large (hostile) mappings: sort by text, then by position so each first occurrence leads.
    std::sort(keys_.begin(), keys_.end(), [&](uint32_t a, uint32_t b) {
      std::string_view text_a = doc_.Text(a);
      std::string_view text_b = doc_.Text(b);
      return text_a != text_b ? text_a < text_b : a < b;
    });
    size_t first = 0;
    for (size_t i = 1; i < keys_.size(); ++i) {
      if (doc_.Text(keys_[i]) == doc_.Text(keys_[first])) report(keys_[i], keys_[first]);
      else first = i;
    }
  }

  const LoadOptions& options_;
  DocumentDecoder decoder_;
  Document doc_;
  std::vector<uint32_t> stack_;
  std::vector<uint32_t> keys_;
  std::vector<std::string> anchor_names_;
  bool reported_anchor_ = false;
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
  if (auto problem = FindEncodingProblem(file.content)) {
    error(MarkOfOffset(file.content, problem->offset), problem->message);
    return;
  }
  MemoryBuffer buffer(file.content);
  std::istream input(&buffer);
  TreeBuilder builder(file.path, options, result);
  try {
    YAML::Parser parser(input);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const NestingTooDeep& too_deep) {
    error(too_deep.mark, "nesting deeper than " + std::to_string(options.max_depth) +
                             " levels is not supported (the rest of the file is not read)");
  } catch (const YAML::ParserException& exception) {
    error(ToMark(exception.mark), "invalid YAML: " + exception.msg + " (the rest of the file is not read)");
  } catch (const YAML::Exception& exception) {
    error(ToMark(exception.mark), "invalid YAML: " + exception.msg + " (the rest of the file is not read)");
  }
}

}  // namespace

LoadResult LoadFleet(const std::vector<SourceFile>& files, const LoadOptions& options) {
  LoadResult result;
  for (const SourceFile& file : files) {
    size_t first = result.diagnostics.size();
    LoadFile(file, options, result);
    // Within a file, by position: the tree's own findings come before the decoder's.
    std::stable_sort(result.diagnostics.begin() + static_cast<std::ptrdiff_t>(first), result.diagnostics.end(),
                     [](const Diagnostic& a, const Diagnostic& b) {
                       return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
                     });
  }
  return result;
}

}  // namespace ww
