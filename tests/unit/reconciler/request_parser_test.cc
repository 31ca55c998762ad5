// RequestParser without sockets: a request whole or a byte at a time, the head's caps (lines,
// bytes), the body limit checked before the body arrives, what is left for a pipelined
// request, and hostile heads (chunked bodies, conflicting lengths, binary garbage, an end of
// stream in the middle).

#include "reconciler/api/request_parser.h"

#include <doctest/doctest.h>

#include <string>

namespace ww {
namespace {

using State = RequestParser::State;

TEST_CASE("request parser: a request whole, with its headers as sent") {
  RequestParser parser(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  std::string bytes = "POST /v1/x?a=1 HTTP/1.1\r\nHost: h\r\nX-Case: MiXeD\r\nContent-Length: 5\r\n\r\nhelloGET";
  std::size_t used = parser.Put(bytes);
  REQUIRE(parser.state() == State::kHead);
  CHECK(parser.method() == "POST");
  CHECK(parser.target() == "/v1/x?a=1");
  CHECK(parser.headers() == HttpHeaders{{"Host", "h"}, {"X-Case", "MiXeD"}, {"Content-Length", "5"}});
  CHECK(parser.keep_alive());
  CHECK(parser.content_length() == 5u);
  CHECK(parser.has_body());
  CHECK(parser.Put(bytes.substr(used)) == 0);  // nothing is taken until the head is checked
  parser.SetBodyLimit(5);
  REQUIRE(parser.state() == State::kBody);
  std::size_t body_used = parser.Put(bytes.substr(used));
  CHECK(body_used == 5);  // "GET" is the next request's
  REQUIRE(parser.state() == State::kComplete);
  CHECK(parser.TakeBody() == "hello");
}

TEST_CASE("request parser: a byte at a time") {
  RequestParser parser(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  std::string bytes = "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  std::string pending;
  for (char c : bytes) {
    pending.push_back(c);
    pending.erase(0, parser.Put(pending));
  }
  REQUIRE(parser.state() == State::kHead);
  CHECK(pending.empty());
  CHECK(parser.keep_alive());  // HTTP/1.0 asked for it
  CHECK_FALSE(parser.has_body());
  parser.SetBodyLimit(0);
  CHECK(parser.state() == State::kComplete);
}

TEST_CASE("request parser: Connection: close and HTTP/1.0 end the connection after the answer") {
  RequestParser close(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  close.Put("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  REQUIRE(close.state() == State::kHead);
  CHECK_FALSE(close.keep_alive());
  RequestParser old(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  old.Put("GET / HTTP/1.0\r\n\r\n");
  REQUIRE(old.state() == State::kHead);
  CHECK_FALSE(old.keep_alive());
}

TEST_CASE("request parser: header lines are capped") {
  auto head = [](int lines) {
    std::string text = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < lines; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
    return text + "\r\n";
  };
  RequestParser at_cap(kDefaultMaxHeadBytes, 64);
  at_cap.Put(head(64));
  CHECK(at_cap.state() == State::kHead);
  CHECK(at_cap.headers().size() == 64);
  RequestParser over(kDefaultMaxHeadBytes, 64);
  over.Put(head(65));
  REQUIRE(over.state() == State::kFailed);
  CHECK(over.failure().status == 431);
  CHECK(over.failure().reason == "more than 64 header lines");
  // Refused on the 65th line, however many follow.
  RequestParser flood(kDefaultMaxHeadBytes, 64);
  flood.Put(head(100000).substr(0, 10000));
  CHECK(flood.state() == State::kFailed);
}

TEST_CASE("request parser: the head's bytes are capped") {
  RequestParser parser(1024, kDefaultMaxHeaderLines);
  std::string within = "GET / HTTP/1.1\r\nX: " + std::string(900, 'a') + "\r\n\r\n";
  CHECK(parser.Put(within) == within.size());
  CHECK(parser.state() == State::kHead);

  RequestParser over(1024, kDefaultMaxHeaderLines);
  std::string pending = "GET / HTTP/1.1\r\nX: ";
  // A line that never ends: refused once 1,024 bytes are in, not when memory runs out.
  while (over.state() == State::kNeedMore && pending.size() < 4096) {
    pending += std::string(100, 'a');
    pending.erase(0, over.Put(pending));
  }
  REQUIRE(over.state() == State::kFailed);
  CHECK(pending.size() < 1200);
  CHECK(over.failure().status == 431);
  CHECK(over.failure().reason == "the request head is above 1024 bytes");
}

TEST_CASE("request parser: the body limit refuses a larger Content-Length before any body byte") {
  RequestParser parser(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  parser.Put("POST / HTTP/1.1\r\nContent-Length: 1000000000000\r\n\r\n");
  REQUIRE(parser.state() == State::kHead);
  parser.SetBodyLimit(1024);
  REQUIRE(parser.state() == State::kFailed);
  CHECK(parser.failure().status == 413);
  CHECK(parser.failure().reason == "Content-Length 1000000000000 is above the limit of 1024 bytes");

  RequestParser at_limit(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  at_limit.Put("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n");
  at_limit.SetBodyLimit(4);
  at_limit.Put("ab");
  CHECK(at_limit.state() == State::kBody);
  at_limit.Put("cd");
  CHECK(at_limit.state() == State::kComplete);
  CHECK(at_limit.TakeBody() == "abcd");
}

TEST_CASE("request parser: hostile heads") {
  constexpr char kNulInValue[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
  struct Case {
    std::string bytes;
    int status;
  };
  for (const Case& hostile : {
           Case{"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
           Case{"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
           Case{"GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
           Case{"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
           Case{"G\x01T / HTTP/1.1\r\n\r\n", 400},
           Case{"GET / HTTP/9\r\n\r\n", 400},
           Case{"GET /\r\n\r\n", 400},
           Case{"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
           Case{std::string(kNulInValue, sizeof(kNulInValue) - 1), 400},
       }) {
    CAPTURE(hostile.bytes);
    RequestParser parser(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
    parser.Put(hostile.bytes);
    REQUIRE(parser.state() == State::kFailed);
    CHECK(parser.failure().status == hostile.status);
  }
}

TEST_CASE("request parser: a chunked body is never parsed") {
  RequestParser parser(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  parser.Put("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  REQUIRE(parser.state() == State::kHead);  // the request guard refuses it (411) from here
  parser.SetBodyLimit(1024);
  parser.Put("5\r\nhello\r\n0\r\n\r\n");
  REQUIRE(parser.state() == State::kFailed);
  CHECK(parser.failure().status == 411);
}

TEST_CASE("request parser: the end of the stream") {
  RequestParser idle(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  CHECK_FALSE(idle.started());
  idle.PutEof();
  REQUIRE(idle.state() == State::kFailed);
  CHECK(idle.failure().status == 0);  // nothing to answer

  RequestParser half(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  half.Put("GET / HT");
  CHECK(half.started());
  half.PutEof();
  CHECK(half.failure().status == 0);

  RequestParser short_body(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  short_body.Put("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n");
  short_body.SetBodyLimit(9);
  short_body.Put("abc");
  short_body.PutEof();
  CHECK(short_body.state() == State::kFailed);
  CHECK(short_body.failure().reason == "the connection closed in the middle of a request");
}

TEST_CASE("request parser: Expect: 100-continue is noticed") {
  RequestParser parser(kDefaultMaxHeadBytes, kDefaultMaxHeaderLines);
  parser.Put("POST / HTTP/1.1\r\nexpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
  REQUIRE(parser.state() == State::kHead);
  CHECK(parser.expects_continue());
}

}  // namespace
}  // namespace ww
