#pragma once
// One YAML document as a small tree (scalars with marks, mappings as ordered key/value
// children, sequences), built from yaml-cpp's event API by ParseYamlDocuments. The parser
// refuses what fleet files never need and yaml-cpp accepts silently: anchors and aliases,
// tags, duplicate keys, control characters, invalid UTF-8, deep nesting, huge scalars.
// Internal to schema/ (the loader decodes these trees); yaml-cpp stays in the .cc.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/diagnostic.h"

namespace ww {

enum class YamlNodeType : uint8_t { kNull, kScalar, kMap, kSequence };

// Children are linked in document order; a mapping's children alternate key, value.
struct YamlNode {
  static constexpr uint32_t kNone = UINT32_MAX;
  YamlNodeType type = YamlNodeType::kNull;
  uint8_t flags = 0;  // YamlDocument::Flag bits
  Mark mark;          // 1-based
  uint32_t parent = kNone;
  uint32_t first_child = kNone;
  uint32_t last_child = kNone;
  uint32_t next_sibling = kNone;
  uint32_t child_count = 0;
  uint32_t text_offset = 0;
  uint32_t text_size = 0;
};

// A refusal made while parsing. The caller reports it once it knows the document's object.
struct YamlProblem {
  uint32_t path_node = YamlNode::kNone;  // the field is this node's path (PathOf)
  Mark mark;
  std::string message;
};

class YamlDocument {
 public:
  static constexpr uint32_t kNone = YamlNode::kNone;
  static constexpr uint32_t kRoot = 0;
  enum Flag : uint8_t {
    kQuoted = 1,    // a quoted or !!str scalar: a string, never a number or boolean
    kReported = 2,  // refused, with a problem already recorded: skip it
    kHidden = 4,    // its text is unfit for a field path (control character, invalid UTF-8, too long)
  };

  // No nodes at all; a document of only comments has a single null root instead.
  bool empty() const { return nodes_.empty(); }
  const YamlNode& node(uint32_t index) const { return nodes_[index]; }
  std::string_view Text(uint32_t index) const {
    const YamlNode& n = nodes_[index];
    return std::string_view(text_).substr(n.text_offset, n.text_size);
  }
  bool IsScalar(uint32_t index) const { return nodes_[index].type == YamlNodeType::kScalar; }
  bool Has(uint32_t index, Flag flag) const { return (nodes_[index].flags & flag) != 0; }
  // Where the content starts (after any "---" and comments); 0:0 when empty.
  Mark mark() const { return nodes_.empty() ? start_ : nodes_[kRoot].mark; }
  const std::vector<YamlProblem>& problems() const { return problems_; }

  // The value of `key` in mapping `map` (and its key node), or kNone.
  uint32_t Find(uint32_t map, std::string_view key, uint32_t* key_node = nullptr) const;
  // "spec.to.address", "spec.lan[1]": the field a node is the key or the value of.
  std::string PathOf(uint32_t index) const;
  // "a mapping", "a scalar \"x\"", "null": what a node is, for type errors.
  std::string Describe(uint32_t index) const;

 private:
  friend class YamlTreeBuilder;

  void Clear(Mark start);
  uint32_t Add(YamlNodeType type, Mark mark, uint32_t parent);
  void SetText(uint32_t index, std::string_view text);
  void Refuse(uint32_t index, uint8_t flags, uint32_t path_node, std::string message);

  std::vector<YamlNode> nodes_;
  std::string text_;  // every scalar's text, back to back; reused between documents
  std::vector<YamlProblem> problems_;
  Mark start_;
};

struct YamlLimits {
  int max_depth = 32;
  size_t max_scalar_bytes = size_t{64} << 10;
};

// What stopped a file: invalid encoding, a syntax error, or nesting beyond the limit.
struct YamlError {
  Mark mark;
  std::string message;
};

// Checks the whole text (NUL bytes, invalid UTF-8), then parses document after document and
// calls on_document with each; the document is reused and only valid during the call.
// Returns the error that stopped reading, if any: documents before it were delivered.
std::optional<YamlError> ParseYamlDocuments(std::string_view content, const YamlLimits& limits,
                                            const std::function<void(const YamlDocument&)>& on_document);

// The first NUL byte or invalid UTF-8 sequence (overlong, surrogate, beyond U+10FFFF, stray
// continuation, truncated), with its 1-based line and byte column.
std::optional<YamlError> FindEncodingProblem(std::string_view content);

// The value in double quotes for a message: control characters and invalid bytes escaped
// (a message can never inject a line into CI output), cut after 80 bytes.
std::string QuoteForMessage(std::string_view text);

// The code point at `pos` of UTF-8 text and its length in bytes (1 for an invalid byte).
uint32_t DecodeUtf8(std::string_view text, size_t pos, size_t& length);
// "U+0435".
std::string CodePointName(uint32_t code_point);

}  // namespace ww
