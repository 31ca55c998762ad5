// JsonWriter writes what nlohmann/json's dump writes for the same document, in both styles:
// the wire format's text (and its golden files) did not change when writing stopped building
// nlohmann documents.

#include "schema/json_writer.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

using namespace ww;
using OrderedJson = nlohmann::ordered_json;

namespace {

std::string NlohmannText(const OrderedJson& document, JsonStyle style) {
  if (style == JsonStyle::kPretty) {
    return document.dump(2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
  }
  return document.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

// The same document written both ways: nested and empty containers at several depths, every
// value kind, the integer edges, and strings needing every kind of escape.
void WriteBoth(JsonStyle style, std::string& written, std::string& expected) {
  const std::vector<std::string> texts{"plain",       "quote \" and backslash \\",
                                       "tab\tnewline\ncr\r", "bell \x07 and del \x7f",
                                       "caf\xC3\xA9 \xE2\x9C\x93", "bad \xFF byte and cut \xC3",
                                       ""};
  JsonWriter out(style);
  OrderedJson document;
  out.BeginObject();
  out.Key("empty object").BeginObject().EndObject();
  document["empty object"] = OrderedJson::object();
  out.Key("empty array").BeginArray().EndArray();
  document["empty array"] = OrderedJson::array();
  out.Key("min").Integer(std::numeric_limits<int64_t>::min());
  document["min"] = std::numeric_limits<int64_t>::min();
  out.Key("max").Unsigned(std::numeric_limits<uint64_t>::max());
  document["max"] = std::numeric_limits<uint64_t>::max();
  out.Key("zero").Integer(0);
  document["zero"] = 0;
  out.Key("yes").Bool(true);
  document["yes"] = true;
  out.Key("no").Bool(false);
  document["no"] = false;
  out.Key("nothing").Null();
  document["nothing"] = nullptr;
  out.Key("texts").Strings(texts);
  document["texts"] = texts;
  out.Key("tab\tkey \"quoted\"").String("value");
  document["tab\tkey \"quoted\""] = "value";
  out.Key("nested").BeginArray();
  OrderedJson nested = OrderedJson::array();
  for (int i = 0; i < 3; ++i) {
    out.BeginObject();
    OrderedJson item = OrderedJson::object();
    out.Key("index").Integer(-i);
    item["index"] = -i;
    out.Key("list").BeginArray();
    item["list"] = OrderedJson::array();
    for (int j = 0; j < i; ++j) {
      out.BeginArray().EndArray();
      item["list"].push_back(OrderedJson::array());
    }
    out.EndArray();
    out.EndObject();
    nested.push_back(item);
  }
  out.EndArray();
  document["nested"] = nested;
  out.EndObject();
  written = out.Take();
  expected = NlohmannText(document, style);
}

}  // namespace

TEST_CASE("JsonWriter writes compact text exactly as nlohmann's dump(-1)") {
  std::string written;
  std::string expected;
  WriteBoth(JsonStyle::kCompact, written, expected);
  CHECK(written == expected);
  CHECK(written.find('\n') == std::string::npos);
}

TEST_CASE("JsonWriter writes pretty text exactly as nlohmann's dump(2) with a final newline") {
  std::string written;
  std::string expected;
  WriteBoth(JsonStyle::kPretty, written, expected);
  CHECK(written == expected);
}

TEST_CASE("JsonWriter writes a lone value and an empty top-level container as nlohmann does") {
  JsonWriter out(JsonStyle::kPretty);
  out.BeginArray().EndArray();
  CHECK(out.Take() == "[]\n");
  out.BeginObject().EndObject();
  CHECK(out.Take() == "{}\n");  // Take empties the writer for the next document
  JsonWriter compact(JsonStyle::kCompact);
  compact.String("caf\xC3\xA9\x01");
  CHECK(compact.Take() == NlohmannText(OrderedJson("caf\xC3\xA9\x01"), JsonStyle::kCompact));
}
