// The one adapter around yaml-cpp's parser: an EventHandler builds a YamlDocument per
// document, and yaml-cpp's exceptions stop here as a YamlError. The event API hands over a
// mark for every scalar and key, and never expands aliases, so refusing duplicate keys,
// aliases and deep nesting costs almost nothing.

#include "schema/yaml_document.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <istream>
#include <streambuf>
#include <utility>

namespace ww {

namespace {

constexpr size_t kMaxQuotedBytes = 80;
constexpr std::string_view kYamlTagPrefix = "tag:yaml.org,2002:";
constexpr char kHex[] = "0123456789ABCDEF";

bool IsControl(uint32_t code_point) { return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F); }

std::string HexByte(unsigned char byte) { return std::string("0x") + kHex[byte >> 4] + kHex[byte & 0xF]; }

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

enum class ScalarProblem { kClean, kControl, kInvalidUtf8 };

// Scans a scalar as yaml-cpp hands it over: the file was valid UTF-8, but escapes add control
// characters ("\t", "\0"), and yaml-cpp writes "\N" and "\_" as raw Latin-1 bytes.
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

// "!!python/object" rather than yaml-cpp's expanded "tag:yaml.org,2002:python/object".
std::string ShowTag(const std::string& tag) {
  if (tag.compare(0, kYamlTagPrefix.size(), kYamlTagPrefix) == 0) return "!!" + tag.substr(kYamlTagPrefix.size());
  return tag;
}

// The part after "tag:yaml.org,2002:", or "" for any other tag.
std::string_view CoreTagName(const std::string& tag) {
  std::string_view view = tag;
  if (view.substr(0, kYamlTagPrefix.size()) != kYamlTagPrefix) return {};
  return view.substr(kYamlTagPrefix.size());
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

// Serves the caller's text to yaml-cpp without copying it into a stringstream.
class MemoryBuffer : public std::streambuf {
 public:
  explicit MemoryBuffer(std::string_view content) {
    // The get area is only read; std::streambuf just has no const interface.
    char* begin = const_cast<char*>(content.data());
    setg(begin, begin, begin + content.size());
  }
};

// Thrown from the event handler to abandon a file nested deeper than the limit; yaml-cpp
// cannot resume inside a document anyway.
struct NestingTooDeep {
  Mark mark;
};

// Thrown when yaml-cpp starts a second document where the previous one started: on a stray
// ',' at the top level yaml-cpp 0.7 emits empty documents forever without moving on.
struct NoProgress {
  Mark mark;
  int offset = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Text helpers.

uint32_t DecodeUtf8(std::string_view text, size_t pos, size_t& length) {
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(text[i])); };
  uint32_t lead = byte(pos);
  length = ValidSequenceLength(text, pos);
  switch (length) {
    case 2: return ((lead & 0x1F) << 6) | (byte(pos + 1) & 0x3F);
    case 3: return ((lead & 0x0F) << 12) | ((byte(pos + 1) & 0x3F) << 6) | (byte(pos + 2) & 0x3F);
    case 4:
      return ((lead & 0x07) << 18) | ((byte(pos + 1) & 0x3F) << 12) | ((byte(pos + 2) & 0x3F) << 6) |
             (byte(pos + 3) & 0x3F);
    default: length = 1; return lead;
  }
}

std::string CodePointName(uint32_t code_point) {
  std::string digits;
  for (uint32_t rest = code_point; rest != 0 || digits.size() < 4; rest >>= 4) digits.insert(digits.begin(), kHex[rest & 0xF]);
  return "U+" + digits;
}

std::string QuoteForMessage(std::string_view text) {
  std::string out = "\"";
  size_t pos = 0;
  while (pos < text.size()) {
    if (pos >= kMaxQuotedBytes) {
      out += "...";
      break;
    }
    if (ValidSequenceLength(text, pos) == 0) {
      out += "\\x" + HexByte(static_cast<unsigned char>(text[pos])).substr(2);
      ++pos;
      continue;
    }
    size_t length = 0;
    uint32_t code_point = DecodeUtf8(text, pos, length);
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

std::optional<YamlError> FindEncodingProblem(std::string_view content) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(content.data());
  size_t size = content.size();
  auto problem = [&](size_t offset, std::string message) {
    return YamlError{MarkOfOffset(content, offset), std::move(message)};
  };
  size_t i = 0;
  while (i < size) {
    unsigned char lead = bytes[i];
    if (lead >= 0x01 && lead < 0x80) {
      ++i;
      continue;
    }
    if (lead == 0) return problem(i, "contains a NUL byte (fleet files are UTF-8 text)");
    size_t continuation = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead <= 0xBF) {
      return problem(i, "invalid UTF-8: stray continuation byte " + HexByte(lead));
    } else if (lead == 0xC0 || lead == 0xC1) {
      return problem(i, "invalid UTF-8: overlong encoding (byte " + HexByte(lead) + ")");
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
      return problem(i, "invalid UTF-8: byte " + HexByte(lead) + " never appears in UTF-8");
    }
    for (size_t k = 1; k <= continuation; ++k) {
      if (i + k >= size || bytes[i + k] < 0x80 || bytes[i + k] > 0xBF) {
        return problem(i, "invalid UTF-8: truncated sequence starting with byte " + HexByte(lead));
      }
    }
    unsigned char second = bytes[i + 1];
    if (second < low || second > high) {
      std::string what = lead == 0xED ? "encoded surrogate" : lead == 0xF4 ? "code point beyond U+10FFFF" : "overlong encoding";
      return problem(i, "invalid UTF-8: " + what + " (bytes " + HexByte(lead) + " " + HexByte(second) + ")");
    }
    i += continuation + 1;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// YamlDocument.

uint32_t YamlDocument::Find(uint32_t map, std::string_view key, uint32_t* key_node) const {
  for (uint32_t k = nodes_[map].first_child; k != kNone;) {
    uint32_t v = nodes_[k].next_sibling;
    if (v == kNone) break;
    if (IsScalar(k) && !Has(k, kReported) && Text(k) == key) {
      if (key_node != nullptr) *key_node = k;
      return v;
    }
    k = nodes_[v].next_sibling;
  }
  return kNone;
}

std::string YamlDocument::PathOf(uint32_t index) const {
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
  if (nodes_[parent].type == YamlNodeType::kSequence) return prefix + "[" + std::to_string(position) + "]";
  uint32_t key = position % 2 == 0 ? index : previous;
  if (!IsScalar(key) || Has(key, kHidden)) return prefix;
  if (prefix.empty()) return std::string(Text(key));
  return prefix + "." + std::string(Text(key));
}

std::string YamlDocument::Describe(uint32_t index) const {
  switch (nodes_[index].type) {
    case YamlNodeType::kNull: return "null";
    case YamlNodeType::kScalar: return "a scalar " + QuoteForMessage(Text(index));
    case YamlNodeType::kMap: return "a mapping";
    case YamlNodeType::kSequence: return "a sequence";
  }
  return "";
}

void YamlDocument::Clear(Mark start) {
  nodes_.clear();
  text_.clear();
  problems_.clear();
  start_ = start;
}

uint32_t YamlDocument::Add(YamlNodeType type, Mark mark, uint32_t parent) {
  auto index = static_cast<uint32_t>(nodes_.size());
  YamlNode& node = nodes_.emplace_back();
  node.type = type;
  node.mark = mark;
  node.parent = parent;
  if (parent != kNone) {
    YamlNode& up = nodes_[parent];
    if (up.last_child == kNone) up.first_child = index;
    else nodes_[up.last_child].next_sibling = index;
    up.last_child = index;
    ++up.child_count;
  }
  return index;
}

void YamlDocument::SetText(uint32_t index, std::string_view text) {
  nodes_[index].text_offset = static_cast<uint32_t>(text_.size());
  nodes_[index].text_size = static_cast<uint32_t>(text.size());
  text_.append(text);
}

void YamlDocument::Refuse(uint32_t index, uint8_t flags, uint32_t path_node, std::string message) {
  nodes_[index].flags |= kReported | flags;
  problems_.push_back({path_node, nodes_[index].mark, std::move(message)});
}

// ---------------------------------------------------------------------------------------
// The event handler: builds the tree, refuses what the tree must never hold.

class YamlTreeBuilder : public YAML::EventHandler {
 public:
  YamlTreeBuilder(const YamlLimits& limits, const std::function<void(const YamlDocument&)>& on_document)
      : limits_(limits), on_document_(on_document) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (mark.pos == last_document_offset_) throw NoProgress{ToMark(mark), mark.pos};
    last_document_offset_ = mark.pos;
    doc_.Clear(ToMark(mark));
    stack_.clear();
    anchor_names_.clear();
    reported_anchor_ = false;
  }

  void OnDocumentEnd() override { on_document_(doc_); }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    uint32_t index = Add(YamlNodeType::kNull, mark);
    if (anchor != YAML::NullAnchor) RefuseAnchor(index, "anchor \"&");
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    uint32_t index = Add(YamlNodeType::kNull, mark);
    // Anchor ids count from 1 in the order OnAnchor named them.
    std::string name = anchor > 0 && anchor <= anchor_names_.size() ? anchor_names_[anchor - 1] : "";
    RefuseAnchor(index, "alias \"*", name);
  }

  void OnAnchor(const YAML::Mark& /*mark*/, const std::string& anchor_name) override {
    anchor_names_.push_back(anchor_name);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, const std::string& value) override {
    bool is_key = IsNextKey();
    uint32_t index = Add(YamlNodeType::kScalar, mark);
    if (anchor != YAML::NullAnchor) RefuseAnchor(index, "anchor \"&");
    // yaml-cpp tags plain scalars "?" and quoted ones "!"; the core schema's own tags mean
    // what they say, any other tag is refused.
    if (tag == "!") {
      doc_.nodes_[index].flags |= YamlDocument::kQuoted;
    } else if (tag != "?") {
      std::string_view core = CoreTagName(tag);
      if (core == "str") doc_.nodes_[index].flags |= YamlDocument::kQuoted;
      else if (core == "null") doc_.nodes_[index].type = YamlNodeType::kNull;
      else if (core != "int" && core != "bool") RefuseTag(index, tag);
    }
    // A bad key is reported with its parent's path: its own text is what is wrong.
    uint32_t path_node = is_key ? doc_.nodes_[index].parent : index;
    auto what = [&] { return is_key ? "key " + QuoteForMessage(value) : QuoteForMessage(value); };
    if (value.size() > limits_.max_scalar_bytes) {
      doc_.Refuse(index, YamlDocument::kHidden, path_node,
                  what() + " is " + std::to_string(value.size()) + " bytes long (the limit is " +
                      std::to_string(limits_.max_scalar_bytes) + ")");
      return;
    }
    uint32_t code_point = 0;
    switch (FindScalarProblem(value, code_point)) {
      case ScalarProblem::kClean: break;
      case ScalarProblem::kControl:
        doc_.Refuse(index, YamlDocument::kHidden, path_node, what() + " contains control character " + CodePointName(code_point));
        break;
      case ScalarProblem::kInvalidUtf8:
        doc_.Refuse(index, YamlDocument::kHidden, path_node, what() + " is not valid UTF-8 after its escapes are applied");
        break;
    }
    doc_.SetText(index, value);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    Open(YamlNodeType::kSequence, mark, tag, anchor, "seq");
  }
  void OnSequenceEnd() override { stack_.pop_back(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    Open(YamlNodeType::kMap, mark, tag, anchor, "map");
  }
  void OnMapEnd() override {
    RefuseDuplicateKeys(stack_.back());
    stack_.pop_back();
  }

 private:
  uint32_t Add(YamlNodeType type, const YAML::Mark& mark) {
    return doc_.Add(type, ToMark(mark), stack_.empty() ? YamlDocument::kNone : stack_.back());
  }

  bool IsNextKey() const {
    if (stack_.empty()) return false;
    const YamlNode& top = doc_.node(stack_.back());
    return top.type == YamlNodeType::kMap && top.child_count % 2 == 0;
  }

  void Open(YamlNodeType type, const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
            std::string_view core) {
    if (stack_.size() >= static_cast<size_t>(std::max(limits_.max_depth, 0))) throw NestingTooDeep{ToMark(mark)};
    uint32_t index = Add(type, mark);
    stack_.push_back(index);
    if (anchor != YAML::NullAnchor) RefuseAnchor(index, "anchor \"&");
    if (tag != "?" && CoreTagName(tag) != core) RefuseTag(index, tag);
  }

  // Only the first anchor or alias of a document is reported: an alias bomb is one finding.
  void RefuseAnchor(uint32_t index, std::string_view what, std::string name = "") {
    if (reported_anchor_) {
      doc_.nodes_[index].flags |= YamlDocument::kReported;
      return;
    }
    reported_anchor_ = true;
    if (name.empty() && !anchor_names_.empty()) name = anchor_names_.back();
    doc_.Refuse(index, 0, index,
                "anchors and aliases are not supported (found " + std::string(what) + name + "\")");
  }

  void RefuseTag(uint32_t index, const std::string& tag) {
    doc_.Refuse(index, 0, index, "tag " + QuoteForMessage(ShowTag(tag)) + " is not supported (fleet files use no tags)");
  }

  // yaml-cpp keeps every duplicate key; a fleet file must not say two things at once.
  void RefuseDuplicateKeys(uint32_t map) {
    const YamlNode& node = doc_.node(map);
    if (node.child_count < 4) return;
    keys_.clear();
    for (uint32_t key = node.first_child; key != YamlDocument::kNone;) {
      uint32_t value = doc_.node(key).next_sibling;
      if (doc_.IsScalar(key) && !doc_.Has(key, YamlDocument::kHidden)) keys_.push_back(key);
      if (value == YamlDocument::kNone) break;
      key = doc_.node(value).next_sibling;
    }
    auto report = [&](uint32_t duplicate, uint32_t first) {
      doc_.Refuse(duplicate, 0, duplicate,
                  "duplicate key " + QuoteForMessage(doc_.Text(duplicate)) + " (first at line " +
                      std::to_string(doc_.node(first).mark.line) + ")");
    };
    if (keys_.size() <= 16) {
      for (size_t i = 1; i < keys_.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
          if (doc_.Text(keys_[i]) == doc_.Text(keys_[j])) {
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

  const YamlLimits& limits_;
  const std::function<void(const YamlDocument&)>& on_document_;
  YamlDocument doc_;
  std::vector<uint32_t> stack_;  // the open mappings and sequences
  std::vector<uint32_t> keys_;
  std::vector<std::string> anchor_names_;
  bool reported_anchor_ = false;
  int last_document_offset_ = -1;
};

std::optional<YamlError> ParseYamlDocuments(std::string_view content, const YamlLimits& limits,
                                            const std::function<void(const YamlDocument&)>& on_document) {
  if (auto problem = FindEncodingProblem(content)) return problem;
  MemoryBuffer buffer(content);
  std::istream input(&buffer);
  YamlTreeBuilder builder(limits, on_document);
  const std::string stopped = " (the rest of the file is not read)";
  try {
    YAML::Parser parser(input);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const NestingTooDeep& too_deep) {
    return YamlError{too_deep.mark, "nesting deeper than " + std::to_string(limits.max_depth) + " levels is not supported" + stopped};
  } catch (const NoProgress& stuck) {
    size_t offset = static_cast<size_t>(stuck.offset);
    std::string_view next = offset < content.size() ? content.substr(offset, 1) : std::string_view();
    return YamlError{stuck.mark, "invalid YAML: unexpected " + QuoteForMessage(next) + stopped};
  } catch (const YAML::Exception& exception) {
    // ParserException and the rest: yaml-cpp cannot resume after any of them.
    return YamlError{ToMark(exception.mark), "invalid YAML: " + exception.msg + stopped};
  }
  return std::nullopt;
}

}  // namespace ww
