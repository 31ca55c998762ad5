#pragma once
// The one table of every field of every resource kind: its path, type, whether it is
// required, its default and a description. The loader checks documents against it
// (unknown fields, "did you mean"), and `wwctl schema` renders it as JSON Schema, so the
// two can never disagree.

#include <string_view>
#include <vector>

namespace ww {

enum class FieldType {
  kString,
  kInteger,
  kBoolean,
  kObject,       // a mapping whose fields are listed with "path.child"
  kStringList,   // a sequence of strings
  kObjectList,   // a sequence of mappings whose fields are listed with "path[].child"
  kStringMap,    // a mapping of free-form string keys to string values (labels)
};

enum class Required { kNo, kYes };

struct FieldInfo {
  std::string_view path;           // "apiVersion", "metadata.name", "spec.to.address", "spec.ports[].protocol"
  FieldType type = FieldType::kString;
  Required required = Required::kNo;
  std::string_view description;
  std::string_view default_value;  // as YAML text; "" = no default
  std::vector<std::string_view> enum_values;
  std::string_view pattern;        // ECMAScript regex for JSON Schema; "" = none
  long minimum = 0;                // for integers; minimum == maximum == 0 means unbounded
  long maximum = 0;
};

struct KindInfo {
  std::string_view kind;  // "Tunnel"
  std::string_view description;
  std::vector<FieldInfo> fields;  // parents before children
};

const std::vector<KindInfo>& ResourceKinds();
const KindInfo* FindKind(std::string_view kind);
// The field at `path` of `kind`, or nullptr.
const FieldInfo* FindField(const KindInfo& kind, std::string_view path);

// The closest known name to `unknown` among `candidates` (edit distance at most a third of
// its length, minimum 2), or "" when nothing is close: used for "did you mean" hints.
std::string_view ClosestName(std::string_view unknown, const std::vector<std::string_view>& candidates);

}  // namespace ww
