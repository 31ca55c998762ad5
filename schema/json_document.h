#pragma once
// The project's JSON reader (schema/wire_json.cc): a fast reader for plain JSON, else
// nlohmann's SAX parser into a builder, never nlohmann's callback parser (it rescans the
// parent on every closed object: quadratic in array length). Internal: it brings
// nlohmann/json along, so only .cc files that already use nlohmann include it.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ww {

enum class JsonVerdict {
  kParsed,
  kInvalid,  // not JSON, or a duplicate key (nlohmann would keep the last one silently)
  kTooDeep,  // more than max_depth nested objects and arrays
};

struct ParsedJson {
  JsonVerdict verdict = JsonVerdict::kInvalid;
  nlohmann::json document;  // with kParsed
  std::string error;        // otherwise, naming the JSON path: "peers[3]: duplicate key"
};

// The document in `text`, in time linear in its size. No exception escapes.
ParsedJson ParseJsonDocument(std::string_view text, int max_depth);

}  // namespace ww
