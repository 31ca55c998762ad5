// The request guard: every rule with its exact status, the boundaries of each limit,
// case-insensitive header names, and requests that must pass untouched.

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reconciler/api/request_guard.h"

namespace ww {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

int StatusOf(std::string method, std::string path, Headers headers = {}, GuardLimits limits = {}) {
  return CheckRequest(RequestView{std::move(method), std::move(path), std::move(headers)}, limits).status;
}

TEST_CASE("guard: plain requests pass") {
  CHECK(CheckRequest(RequestView{"GET", "/v1/agents/a1/plan?after=3&wait=25", {{"Host", "x"}}}, {}) == GuardVerdict{});
  CHECK(StatusOf("HEAD", "/v1/ca") == 0);
  CHECK(StatusOf("DELETE", "/v1/agents/a1") == 0);
  CHECK(StatusOf("POST", "/v1/report", {{"Content-Length", "12"}}) == 0);
  CHECK(StatusOf("PUT", "/v1/fleet", {{"content-length", "0"}}) == 0);
  CHECK(StatusOf("GET", "/") == 0);
  CHECK(StatusOf("GET", "/v1/a.b/c") == 0);  // one dot is not traversal
  CHECK(StatusOf("GET", "/v1/a%20b") == 0);
}

TEST_CASE("guard: methods") {
  for (const char* method : {"PATCH", "OPTIONS", "TRACE", "CONNECT", "get", "PRI", ""}) {
    CAPTURE(method);
    GuardVerdict verdict = CheckRequest(RequestView{method, "/", {}}, {});
    CHECK(verdict.status == 405);
    CHECK(verdict.reason == "method \"" + std::string(method) + "\" is not allowed");
  }
}

TEST_CASE("guard: header count") {
  Headers headers;
  for (int i = 0; i < 64; ++i) headers.emplace_back("X-H" + std::to_string(i), "v");
  CHECK(StatusOf("GET", "/", headers) == 0);
  headers.emplace_back("X-One-Too-Many", "v");
  GuardVerdict verdict = CheckRequest(RequestView{"GET", "/", headers}, {});
  CHECK(verdict.status == 431);
  CHECK(verdict.reason == "65 header lines, the limit is 64");
  GuardLimits tight;
  tight.max_headers = 2;
  CHECK(StatusOf("GET", "/", {{"A", "1"}, {"B", "2"}}, tight) == 0);
  CHECK(StatusOf("GET", "/", {{"A", "1"}, {"B", "2"}, {"C", "3"}}, tight) == 431);
}

TEST_CASE("guard: path length") {
  std::string at_limit = "/" + std::string(255, 'a');
  CHECK(StatusOf("GET", at_limit) == 0);
  GuardVerdict verdict = CheckRequest(RequestView{"GET", at_limit + "a", {}}, {});
  CHECK(verdict.status == 400);
  CHECK(verdict.reason == "request target is 257 bytes, the limit is 256");
  CHECK(StatusOf("GET", "/" + std::string(7999, 'a')) == 400);
  GuardLimits tight;
  tight.max_path = 4;
  CHECK(StatusOf("GET", "/abc", {}, tight) == 0);
  CHECK(StatusOf("GET", "/abcd", {}, tight) == 400);
  // The query string counts too.
  CHECK(StatusOf("GET", "/a?b", {}, tight) == 0);
  CHECK(StatusOf("GET", "/a?bc", {}, tight) == 400);
}

TEST_CASE("guard: traversal and hostile bytes in the path") {
  const std::vector<std::string> hostile = {
      "/..",          "/../etc/passwd", "/v1/../x",   "/v1/..",      "/a/b/..%2f",  "/%2e%2e/x",   "/%2E%2E/x",
      "/%2e%2E/x",    "/.%2e/x",        "/%2e./x",    "/a%00",       "/a%00b",      "/a\\b",       "/a%5cb",
      "/a%5Cb",       "//x",            "/a//b",      "/a%2f%2fb",   "/a/%2F/b",    "/a%0d%0aX: y", "/a%0D",
      "/a%0A",        std::string("/a\0b", 4), "/a\r\nb", "/a\tb",  "/a\x7f",      "/a%7f",       "/a%1b",
      "relative",     "",               "*",          "http://evil/x", "/a%",      "/a%4",        "/a%zz",
      "/a%g0",
  };
  for (const std::string& path : hostile) {
    CAPTURE(path);
    CHECK(StatusOf("GET", path) == 400);
  }
  // Query strings may carry dots and slashes, but not control bytes.
  CHECK(StatusOf("GET", "/v1/x?name=a..b") == 0);
  CHECK(StatusOf("GET", "/v1/x?url=a//b") == 0);
  CHECK(StatusOf("GET", "/v1/x?name=a%00") == 400);
  CHECK(StatusOf("GET", "/v1/x?name=a%0a") == 400);
  GuardVerdict verdict = CheckRequest(RequestView{"GET", "/v1/../x", {}}, {});
  CHECK(verdict.reason == "request path \"/v1/../x\" contains \"..\"");
}

TEST_CASE("guard: the raw target is split at its first '?' before decoding, then the path is checked") {
  // Decoding first and cutting at the decoded '?' let "/v1/a%3f/%2e%2e/x" through, while the
  // handler saw "/v1/a?/../x".
  GuardVerdict smuggled = CheckRequest(RequestView{"GET", "/v1/a%3f/%2e%2e/x", {}}, {});
  CHECK(smuggled.status == 400);
  CHECK(smuggled.reason == "request path \"/v1/a%3f/%2e%2e/x\" contains \"..\"");
  GuardVerdict question = CheckRequest(RequestView{"GET", "/v1/a%3Fb=c", {}}, {});
  CHECK(question.status == 400);
  CHECK(question.reason == "request path \"/v1/a%3Fb=c\" contains \"?\"");
  for (const char* path : {"/v1/a%2f%2fb", "/v1/a%2F/x", "/v1/%2f%2fetc", "/v1/a%5cb", "/v1/a%5C..%5Cb", "/v1/a%3f%2f%2fb",
                           "/v1/a%3f/x?y=1", "/v1/%2e%2e?x=%2e%2e", "/v1/a%00?b"}) {
    CAPTURE(path);
    CHECK(StatusOf("GET", path) == 400);
  }
  // After the first raw '?', dots, slashes and an encoded '?' are query text.
  CHECK(StatusOf("GET", "/v1/x?next=%2e%2e%2f%3f") == 0);
  CHECK(StatusOf("GET", "/v1/x?a=1?b=2") == 0);
  // Control bytes are refused in query parts too, however they are encoded.
  CHECK(StatusOf("GET", "/v1/x?a%00=1") == 400);
  CHECK(StatusOf("GET", "/v1/x?a=%zz") == 400);
}

TEST_CASE("guard: SplitTarget decodes the path and each query part once") {
  std::optional<RequestTarget> target = SplitTarget("/v1/x%20y?after=3&wait=25&q=a+b%26c&empty&=nameless&&last=%3F");
  REQUIRE(target.has_value());
  CHECK(target->path == "/v1/x y");
  CHECK(target->query == std::vector<std::pair<std::string, std::string>>{
                             {"after", "3"}, {"wait", "25"}, {"q", "a b&c"}, {"empty", ""}, {"last", "?"}});
  std::optional<RequestTarget> encoded_question = SplitTarget("/a%3fb?c=d");
  REQUIRE(encoded_question.has_value());
  CHECK(encoded_question->path == "/a?b");  // kept in the path, where the guard refuses it
  CHECK(encoded_question->query == std::vector<std::pair<std::string, std::string>>{{"c", "d"}});
  CHECK(SplitTarget("/a+b")->path == "/a+b");  // '+' is a space only in the query
  CHECK(SplitTarget("/a%252e")->path == "/a%2e");  // decoded once
  CHECK_FALSE(SplitTarget("/a%").has_value());
  CHECK_FALSE(SplitTarget("/a?b=%4").has_value());
  CHECK_FALSE(SplitTarget("/a?%zz=1").has_value());
}

TEST_CASE("guard: Transfer-Encoding is refused whatever its value or case") {
  for (const char* name : {"Transfer-Encoding", "transfer-encoding", "TRANSFER-ENCODING", "tRaNsFeR-eNcOdInG"}) {
    for (const char* value : {"chunked", "identity", "gzip, chunked", ""}) {
      CAPTURE(name);
      CAPTURE(value);
      CHECK(StatusOf("POST", "/v1/report", {{name, value}}) == 411);
      CHECK(StatusOf("GET", "/", {{name, value}}) == 411);
      // Together with a valid Content-Length too (request smuggling).
      CHECK(StatusOf("POST", "/v1/report", {{"Content-Length", "5"}, {name, value}}) == 411);
    }
  }
  GuardVerdict verdict = CheckRequest(RequestView{"POST", "/", {{"Transfer-Encoding", "chunked"}}}, {});
  CHECK(verdict.reason == "Transfer-Encoding \"chunked\" is not accepted; send Content-Length");
}

TEST_CASE("guard: Content-Encoding is refused") {
  for (const char* name : {"Content-Encoding", "content-encoding", "CONTENT-ENCODING"}) {
    for (const char* value : {"gzip", "deflate", "br", "identity"}) {
      CAPTURE(name);
      CHECK(StatusOf("POST", "/v1/report", {{"Content-Length", "5"}, {name, value}}) == 415);
    }
  }
  CHECK(CheckRequest(RequestView{"POST", "/", {{"Content-Length", "5"}, {"Content-Encoding", "gzip"}}}, {}).reason ==
        "Content-Encoding \"gzip\" is not accepted");
}

TEST_CASE("guard: POST and PUT need Content-Length") {
  GuardVerdict verdict = CheckRequest(RequestView{"POST", "/v1/report", {{"Host", "x"}}}, {});
  CHECK(verdict.status == 411);
  CHECK(verdict.reason == "POST without Content-Length");
  CHECK(StatusOf("PUT", "/v1/fleet") == 411);
  CHECK(StatusOf("GET", "/v1/fleet") == 0);
  CHECK(StatusOf("DELETE", "/v1/agents/a") == 0);
  CHECK(StatusOf("HEAD", "/v1/ca") == 0);
}

TEST_CASE("guard: malformed and duplicate Content-Length") {
  for (const char* value : {"-1", "+5", " 5", "5 ", "0x10", "1e3", "", "5,5", "abc", "1.0", "\t5"}) {
    CAPTURE(value);
    CHECK(StatusOf("POST", "/", {{"Content-Length", value}}) == 400);
  }
  CHECK(CheckRequest(RequestView{"POST", "/", {{"Content-Length", "-1"}}}, {}).reason ==
        "Content-Length \"-1\" is not a decimal number");
  GuardVerdict duplicate =
      CheckRequest(RequestView{"POST", "/", {{"Content-Length", "5"}, {"content-length", "5"}}}, {});
  CHECK(duplicate.status == 400);
  CHECK(duplicate.reason == "Content-Length appears 2 times");
  CHECK(StatusOf("POST", "/", {{"Content-Length", "5"}, {"CONTENT-LENGTH", "6"}}) == 400);
}

TEST_CASE("guard: body size limit") {
  GuardLimits limits;
  CHECK(limits.max_body == 262144);
  CHECK(StatusOf("POST", "/", {{"Content-Length", "262144"}}) == 0);
  GuardVerdict over = CheckRequest(RequestView{"POST", "/", {{"Content-Length", "262145"}}}, limits);
  CHECK(over.status == 413);
  CHECK(over.reason == "Content-Length 262145 is above the limit of 262144 bytes");
  // Leading zeros do not hide a size, and a huge number does not wrap around.
  CHECK(StatusOf("POST", "/", {{"Content-Length", "000000000000000000000000000012"}}) == 0);
  CHECK(StatusOf("POST", "/", {{"Content-Length", "18446744073709551617"}}) == 413);
  CHECK(StatusOf("POST", "/", {{"Content-Length", "99999999999999999999999999999"}}) == 413);
  limits.max_body = 10;
  CHECK(StatusOf("PUT", "/", {{"Content-Length", "10"}}, limits) == 0);
  CHECK(StatusOf("PUT", "/", {{"Content-Length", "11"}}, limits) == 413);
  // A GET with a body is measured too.
  CHECK(StatusOf("GET", "/", {{"Content-Length", "11"}}, limits) == 413);
}

TEST_CASE("guard: rule order") {
  // Method before everything, then headers, path, encodings, length.
  Headers flood(70, {"X", "y"});
  CHECK(StatusOf("PATCH", "/..", flood) == 405);
  CHECK(StatusOf("GET", "/..", flood) == 431);
  CHECK(StatusOf("POST", "/..", {{"Transfer-Encoding", "chunked"}}) == 400);
  CHECK(StatusOf("POST", "/", {{"Transfer-Encoding", "chunked"}, {"Content-Encoding", "gzip"}}) == 411);
  CHECK(StatusOf("POST", "/", {{"Content-Encoding", "gzip"}}) == 415);
}

}  // namespace
}  // namespace ww
