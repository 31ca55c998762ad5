#pragma once
// Incremental HTTP/1.1 request parser (Boost.Beast's basic_parser, kept inside
// request_parser.cc): the head first, capped in bytes and in header lines, then, once the
// caller has checked the head and set a body limit, the body. Bytes go in with Put; there is
// no I/O here, so hostile input is tested without sockets. One parser per request; not
// thread-safe.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "reconciler/api/http_message.h"

namespace ww {

// Request line plus header lines, in bytes; a longer head is answered 431.
inline constexpr std::size_t kDefaultMaxHeadBytes = 16 * 1024;
// Header lines; more are answered 431.
inline constexpr std::size_t kDefaultMaxHeaderLines = 64;

class RequestParser {
 public:
  enum class State {
    kNeedMore,  // the head is incomplete: give it more bytes (or PutEof)
    kHead,      // the head is parsed: check it, then SetBodyLimit (Put takes nothing until then)
    kBody,      // the body is incomplete: give it more bytes
    kComplete,  // head and body are parsed; unconsumed bytes belong to the next request
    kFailed,    // see failure()
  };
  // Why parsing stopped. status 0: nothing to answer (the peer closed before a whole request).
  struct Failure {
    int status = 0;
    std::string reason;
  };

  RequestParser(std::size_t max_head_bytes, std::size_t max_header_lines);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses from the front of `bytes` and returns how many it consumed; the rest must be given
  // again, followed by more. While in the head, present all unconsumed bytes each time.
  std::size_t Put(std::string_view bytes);
  // The peer will send nothing more.
  void PutEof();
  State state() const { return state_; }
  const Failure& failure() const { return failure_; }
  // Whether any byte of a request arrived (an idle connection closing is no failure).
  bool started() const;

  // REQUIRES: state() is kHead or later.
  const std::string& method() const { return method_; }
  const std::string& target() const { return target_; }  // raw, as sent
  const HttpHeaders& headers() const { return headers_; }
  // HTTP/1.1 without "Connection: close", or HTTP/1.0 with "Connection: keep-alive".
  bool keep_alive() const;
  // 10 for HTTP/1.0, 11 for HTTP/1.1.
  int version() const { return version_; }
  // The client waits for "100 Continue" before it sends its body.
  bool expects_continue() const { return expects_continue_; }
  // Content-Length, when the request declared one.
  std::optional<std::uint64_t> content_length() const;
  // Whether a body follows the head (Content-Length above 0).
  bool has_body() const;

  // REQUIRES: state() == kHead. Moves on to kBody, or to kComplete when no body follows. A
  // body above `max_body` bytes fails with 413 (the request guard already refused a larger
  // Content-Length; this holds whatever the headers said).
  void SetBodyLimit(std::uint64_t max_body);
  // REQUIRES: state() == kComplete. Moves the body out.
  std::string TakeBody() { return std::move(body_); }

 private:
  class Beast;
  friend class Beast;

  void Fail(int status, std::string reason);

  std::unique_ptr<Beast> beast_;
  const std::size_t max_head_bytes_;
  const std::size_t max_header_lines_;
  State state_ = State::kNeedMore;
  Failure failure_;
  std::string method_;
  std::string target_;
  int version_ = 11;
  HttpHeaders headers_;
  bool too_many_lines_ = false;
  bool expects_continue_ = false;
  std::uint64_t max_body_ = 0;
  bool body_too_large_ = false;
  std::string body_;
};

}  // namespace ww
