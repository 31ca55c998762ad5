// Request bodies (reconciler/server/http_json.h): every body goes through the project's own
// reader (schema/json_document.h), linear in the body's size, with the depth limit, duplicate
// keys refused, and the same 400 messages as before.

#include "reconciler/server/http_json.h"

#include <doctest/doctest.h>

#include <string>

namespace ww {
namespace {

// {"generation":1,"converged":true,"peers":[{},{},...]}: the report that took nlohmann's
// callback parser 9.9 s of CPU at 80,000 objects (quadratic: 0.16 s at 10,000).
std::string ReportWithEmptyPeers(std::size_t count) {
  std::string body = R"({"generation":1,"converged":true,"peers":[)";
  body.reserve(body.size() + count * 3 + 2);
  for (std::size_t i = 0; i < count; ++i) body += i == 0 ? "{}" : ",{}";
  return body + "]}";
}

std::string Nested(int levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST_CASE("request bodies: a report with 80,000 empty peer objects is read whole, each object once") {
  // No clock here: the old parser's rescans made this minutes of CPU per 320,000 objects,
  // so a return to it shows as a test that does not finish, never as a flaky figure.
  for (std::size_t count : {std::size_t{80000}, std::size_t{320000}}) {
    CAPTURE(count);
    Result<nlohmann::json> body = ParseJsonObject(ReportWithEmptyPeers(count), 64);
    REQUIRE(body.ok());
    REQUIRE((*body)["peers"].is_array());
    CHECK((*body)["peers"].size() == count);
    CHECK((*body)["peers"].back() == nlohmann::json::object());
  }
}

TEST_CASE("request bodies: the depth limit counts containers, the top object included") {
  CHECK(ParseJsonObject(R"({"a":)" + Nested(7) + "}", 8).ok());
  Result<nlohmann::json> deep = ParseJsonObject(R"({"a":)" + Nested(8) + "}", 8);
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.status().message() == "the request body is nested too deeply");
  // A hostile depth is refused at the limit, not after a recursion as deep as the input.
  Result<nlohmann::json> hostile = ParseJsonObject(R"({"a":)" + Nested(100000) + "}", 64);
  REQUIRE_FALSE(hostile.ok());
  CHECK(hostile.status().message() == "the request body is nested too deeply");
}

TEST_CASE("request bodies: invalid JSON, duplicate keys and non-objects are refused") {
  for (const char* text : {"{", "", "{\"a\":1,}", "{\"a\":1}{", "{\"a\":1,\"a\":2}", "{\"x\":{\"b\":1,\"b\":1}}"}) {
    CAPTURE(text);
    Result<nlohmann::json> body = ParseJsonObject(text, 8);
    REQUIRE_FALSE(body.ok());
    CHECK(body.status().code() == StatusCode::kInvalidArgument);
    CHECK(body.status().message() == "the request body is not valid JSON");
  }
  for (const char* text : {"[]", "1", "\"text\"", "null"}) {
    CAPTURE(text);
    Result<nlohmann::json> body = ParseJsonObject(text, 8);
    REQUIRE_FALSE(body.ok());
    CHECK(body.status().message() == "the request body must be a JSON object");
  }
  // Text the fast path gives up on (escapes, non-ASCII, fractions) reads the same through the full parser.
  Result<nlohmann::json> body = ParseJsonObject(R"({"name":"caf\u00e9 ☕","ratio":1.5,"n":-3})", 8);
  REQUIRE(body.ok());
  CHECK((*body)["name"] == "café ☕");
  CHECK((*body)["ratio"] == 1.5);
  CHECK((*body)["n"] == -3);
}

}  // namespace
}  // namespace ww
