// ParseAgentKeys on top of the loader's YAML adapter (yaml_document.h): the adapter refuses
// anchors, aliases, tags, duplicate keys, control characters, invalid UTF-8 and deep
// nesting; this file only checks that the tree is a flat map of agent name to key.

#include "schema/agent_keys.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "schema/diagnostic.h"
#include "schema/model.h"
#include "schema/yaml_document.h"

namespace ww {

namespace {

struct KeysProblem {
  Mark mark;
  std::string message;
};

// Reads the first document's root mapping: children alternate agent name, key. Nodes the
// adapter already refused (kReported) are skipped, so each problem is reported once.
class AgentKeysReader {
 public:
  void Read(const YamlDocument& doc) {
    ++documents_;
    if (documents_ == 2) Add(doc.mark(), "more than one document: a keys file is a single map");
    if (documents_ > 1) return;
    size_t first = problems_.size();
    for (const YamlProblem& problem : doc.problems()) Add(problem.mark, problem.message);
    ReadRoot(doc);
    // The adapter refuses duplicate keys when their mapping ends: report in document order.
    std::stable_sort(problems_.begin() + static_cast<std::ptrdiff_t>(first), problems_.end(),
                     [](const KeysProblem& a, const KeysProblem& b) {
                       return a.mark.line != b.mark.line ? a.mark.line < b.mark.line : a.mark.column < b.mark.column;
                     });
  }

  void Add(Mark mark, std::string message) { problems_.push_back({mark, std::move(message)}); }

  const std::vector<KeysProblem>& problems() const { return problems_; }
  std::map<std::string, WireguardKey>& keys() { return keys_; }

 private:
  void ReadRoot(const YamlDocument& doc) {
    constexpr uint32_t kRoot = YamlDocument::kRoot;
    // An empty file or an explicit null document is an empty map.
    if (doc.empty() || doc.Has(kRoot, YamlDocument::kReported)) return;
    const YamlNode& root = doc.node(kRoot);
    if (root.type == YamlNodeType::kNull) return;
    if (root.type != YamlNodeType::kMap) {
      Add(root.mark, "expected a map of agent name to WireGuard public key, found " + doc.Describe(kRoot));
      return;
    }
    for (uint32_t name = root.first_child; name != YamlDocument::kNone;) {
      uint32_t value = doc.node(name).next_sibling;
      if (value == YamlDocument::kNone) break;
      ReadEntry(doc, name, value);
      name = doc.node(value).next_sibling;
    }
  }

  void ReadEntry(const YamlDocument& doc, uint32_t name_node, uint32_t value_node) {
    if (doc.Has(name_node, YamlDocument::kReported)) return;
    const YamlNode& name_at = doc.node(name_node);
    if (name_at.type == YamlNodeType::kNull) {
      Add(name_at.mark, "expected an agent name, found null (quote a name such as \"null\")");
      return;
    }
    if (name_at.type != YamlNodeType::kScalar) {
      Add(name_at.mark, "expected an agent name, found " + doc.Describe(name_node));
      return;
    }
    std::string_view name = doc.Text(name_node);
    if (!IsValidName(name)) {
      Add(name_at.mark, QuoteForMessage(name) + " is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
      return;
    }
    if (doc.Has(value_node, YamlDocument::kReported)) return;
    std::string agent = "agent " + QuoteForMessage(name) + ": ";
    const YamlNode& value_at = doc.node(value_node);
    if (value_at.type == YamlNodeType::kNull) {
      // yaml-cpp marks an empty value at the next token; the name is where the fix goes.
      Add(name_at.mark, agent + "missing WireGuard public key");
      return;
    }
    if (value_at.type != YamlNodeType::kScalar) {
      Add(value_at.mark, agent + "expected a WireGuard public key, found " + doc.Describe(value_node));
      return;
    }
    std::string_view value = doc.Text(value_node);
    Result<WireguardKey> key = WireguardKey::Parse(value);
    if (!key.ok()) {
      // WireguardKey::Parse quotes the raw value; quote it safely here instead.
      Add(value_at.mark, agent + QuoteForMessage(value) +
                             " is not a WireGuard public key (expected 44 characters of base64 encoding 32 bytes)");
      return;
    }
    keys_.emplace(std::string(name), *key);
  }

  int documents_ = 0;
  std::vector<KeysProblem> problems_;
  std::map<std::string, WireguardKey> keys_;
};

}  // namespace

Result<std::map<std::string, WireguardKey>> ParseAgentKeys(std::string_view text, std::string_view file) {
  AgentKeysReader reader;
  std::optional<YamlError> stopped =
      ParseYamlDocuments(text, YamlLimits{}, [&](const YamlDocument& doc) { reader.Read(doc); });
  if (stopped) reader.Add(stopped->mark, std::move(stopped->message));
  if (reader.problems().empty()) return std::move(reader.keys());
  std::string message;
  for (const KeysProblem& problem : reader.problems()) {
    if (!message.empty()) message += '\n';
    message += file;
    if (problem.mark.line > 0) {
      message += ':';
      message += std::to_string(problem.mark.line);
      message += ':';
      message += std::to_string(problem.mark.column);
    }
    message += ": ";
    message += problem.message;
  }
  return Status::InvalidArgument(std::move(message));
}

}  // namespace ww
