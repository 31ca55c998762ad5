#pragma once
// JsonWriter: JSON text written straight into a string, byte for byte what nlohmann/json's
// dump(-1) (JsonStyle::kCompact) or dump(2) plus a newline (kPretty) gives for the same
// values, without building a document first: the reconciler writes every agent's config and
// plan on each revision, and building nlohmann trees cost more than everything else it did.
// Strings are written as nlohmann writes them (escapes, invalid UTF-8 replaced by U+FFFD).
// The caller keeps the structure valid: Key only inside an object, one value after each key.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schema/wire_json.h"

namespace ww {

class JsonWriter {
 public:
  explicit JsonWriter(JsonStyle style);

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The next member's name; its value is the next call.
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Integer(int64_t value);
  JsonWriter& Unsigned(uint64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // An array of strings.
  JsonWriter& Strings(const std::vector<std::string>& values);

  // The text written; kPretty ends it with a newline. The writer is empty afterwards.
  std::string Take();

 private:
  struct Level {
    bool object = false;
    bool empty = true;
  };
  // Separator and indentation before a value or a key at the current level.
  void NextItem();
  void BeforeValue();
  void Indent(std::size_t depth);
  void Open(char bracket, bool object);
  void Close(char bracket);
  // `value` quoted and escaped.
  void AppendString(std::string_view value);

  JsonStyle style_;
  std::string out_;
  std::vector<Level> levels_;
  bool after_key_ = false;
};

}  // namespace ww
