#include "schema/agent_keys.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <optional>
#include <sstream>
#include <vector>

#include "schema/model.h"

namespace ww {

namespace {

// Quotes user text for a message: control and non-ASCII bytes escaped, long text cut, so
// a hostile file cannot forge extra lines or terminal escapes in CI logs.
std::string QuoteText(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += static_cast<char>(byte);
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += static_cast<char>(byte);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "\"";
}

enum class NodeKind { kNull, kScalar, kSequence, kMap, kAlias };

std::string_view Describe(NodeKind kind) {
  switch (kind) {
    case NodeKind::kNull: return "null";
    case NodeKind::kScalar: return "a string";
    case NodeKind::kSequence: return "a list";
    case NodeKind::kMap: return "a map";
    case NodeKind::kAlias: return "an alias";
  }
  return "a value";
}

// Streams yaml-cpp events into the map, depth by depth: the root must be a map, and each
// of its entries a scalar agent name with a scalar key. Anything deeper is reported once
// at the container that holds it and then ignored.
class AgentKeysHandler final : public YAML::EventHandler {
 public:
  explicit AgentKeysHandler(std::string_view file) : file_(file) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    ++documents_;
    if (documents_ == 2) AddError(mark, "more than one document: a keys file is a single map");
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    CheckAnchor(mark, anchor);
    Node(mark, NodeKind::kNull, "");
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    AddError(mark, "aliases are not allowed in a keys file");
    Node(mark, NodeKind::kAlias, "");
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    CheckAnchor(mark, anchor);
    CheckTag(mark, tag);
    Node(mark, NodeKind::kScalar, value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    CheckAnchor(mark, anchor);
    CheckTag(mark, tag);
    Node(mark, NodeKind::kSequence, "");
    ++depth_;
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    CheckAnchor(mark, anchor);
    CheckTag(mark, tag);
    Node(mark, NodeKind::kMap, "");
    ++depth_;
  }
  void OnMapEnd() override { --depth_; }

  void AddError(const YAML::Mark& mark, const std::string& message) {
    std::string line = std::string(file_);
    if (!mark.is_null()) line += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    errors_.push_back(line + ": " + message);
  }

  const std::vector<std::string>& errors() const { return errors_; }
  void ClearErrors() { errors_.clear(); }
  std::map<std::string, WireguardKey>& keys() { return keys_; }

 private:
  struct PendingName {
    YAML::Mark mark;
    std::optional<std::string> name;  // nullopt when the key was not a string (reported)
  };

  void CheckAnchor(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) AddError(mark, "anchors are not allowed in a keys file");
  }
  void CheckTag(const YAML::Mark& mark, const std::string& tag) {
    // "?" marks a plain node and "!" a quoted scalar: both untagged.
    if (!tag.empty() && tag != "?" && tag != "!") AddError(mark, "tags are not allowed in a keys file (found " + QuoteText(tag) + ")");
  }

  void Node(const YAML::Mark& mark, NodeKind kind, const std::string& text) {
    if (documents_ > 1) return;
    if (depth_ == 0) {
      root_is_map_ = kind == NodeKind::kMap;
      // An explicit null document is as empty as an empty file.
      if (!root_is_map_ && kind != NodeKind::kNull && kind != NodeKind::kAlias) {
        AddError(mark, std::string("expected a map of agent name to WireGuard public key, found ") +
                           std::string(Describe(kind)));
      }
      return;
    }
    if (depth_ != 1 || !root_is_map_) return;
    if (!pending_) {
      pending_ = PendingName{mark, std::nullopt};
      if (kind == NodeKind::kScalar) {
        pending_->name = text;
      } else if (kind != NodeKind::kAlias) {
        AddError(mark, std::string("expected an agent name, found ") + std::string(Describe(kind)) +
                           (kind == NodeKind::kNull ? " (quote a name such as \"null\")" : ""));
      }
      return;
    }
    PendingName name = std::move(*pending_);
    pending_.reset();
    if (name.name) AddEntry(name.mark, *name.name, mark, kind, text);
  }

  void AddEntry(const YAML::Mark& name_mark, const std::string& name, const YAML::Mark& value_mark,
                NodeKind kind, const std::string& value) {
    if (!IsValidName(name)) {
      AddError(name_mark, QuoteText(name) + " is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
      return;
    }
    std::string agent = "agent " + QuoteText(name) + ": ";
    auto [first, inserted] = first_lines_.emplace(name, name_mark.line + 1);
    if (!inserted) {
      AddError(name_mark, agent + "duplicate entry (first at line " + std::to_string(first->second) + ")");
      return;
    }
    if (kind == NodeKind::kAlias) return;  // reported at the alias
    if (kind == NodeKind::kNull) {
      // yaml-cpp marks an empty value at the next token; the name is where the fix goes.
      AddError(name_mark, agent + "missing WireGuard public key");
      return;
    }
    if (kind != NodeKind::kScalar) {
      AddError(value_mark, agent + "expected a WireGuard public key, found " + std::string(Describe(kind)));
      return;
    }
    Result<WireguardKey> key = WireguardKey::Parse(value);
    if (!key.ok()) {
      // WireguardKey::Parse quotes the raw value; quote it safely here instead.
      AddError(value_mark, agent + QuoteText(value) +
                               " is not a WireGuard public key (expected 44 characters of base64 encoding 32 bytes)");
      return;
    }
    keys_.emplace(name, *key);
  }

  std::string_view file_;
  int documents_ = 0;
  int depth_ = 0;
  bool root_is_map_ = false;
  std::optional<PendingName> pending_;
  std::map<std::string, int> first_lines_;
  std::map<std::string, WireguardKey> keys_;
  std::vector<std::string> errors_;
};

}  // namespace

Result<std::map<std::string, WireguardKey>> ParseAgentKeys(std::string_view text, std::string_view file) {
  AgentKeysHandler handler(file);
  std::istringstream stream{std::string(text)};
  try {
    YAML::Parser parser(stream);
    while (parser.HandleNextDocument(handler)) {
    }
  } catch (const YAML::Exception& error) {
    // Events before a syntax error describe a half-read structure: report the error alone.
    handler.ClearErrors();
    handler.AddError(error.mark, error.msg);
  }
  if (!handler.errors().empty()) {
    std::string message;
    for (const std::string& line : handler.errors()) {
      if (!message.empty()) message += '\n';
      message += line;
    }
    return Status::InvalidArgument(std::move(message));
  }
  return std::move(handler.keys());
}

}  // namespace ww
