#include "reconciler/api/request_parser.h"

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cctype>
#include <limits>

namespace ww {
namespace http = boost::beast::http;
using boost::beast::error_code;
using boost::beast::string_view;

namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string_view View(string_view text) { return std::string_view(text.data(), text.size()); }

}  // namespace

// Beast calls these as it parses; they copy what RequestParser exposes and enforce the
// header-line cap (Beast caps only the head's bytes) and the body limit.
class RequestParser::Beast final : public http::basic_parser<true> {
 public:
  explicit Beast(RequestParser& owner) : owner_(owner) {}

 private:
  void on_request_impl(http::verb, string_view method, string_view target, int version, error_code&) override {
    owner_.method_.assign(method.data(), method.size());
    owner_.target_.assign(target.data(), target.size());
    owner_.version_ = version;
  }
  void on_response_impl(int, string_view, int, error_code& ec) override { ec = http::error::bad_version; }
  void on_field_impl(http::field, string_view name, string_view value, error_code& ec) override {
    if (owner_.headers_.size() >= owner_.max_header_lines_) {
      owner_.too_many_lines_ = true;
      ec = http::error::header_limit;
      return;
    }
    if (EqualsIgnoringCase(View(name), "Expect") && EqualsIgnoringCase(View(value), "100-continue")) {
      owner_.expects_continue_ = true;
    }
    owner_.headers_.emplace_back(std::string(name.data(), name.size()), std::string(value.data(), value.size()));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override {
    if (content_length && *content_length > owner_.max_body_) {
      owner_.body_too_large_ = true;
      ec = http::error::body_limit;
      return;
    }
    if (content_length) owner_.body_.reserve(static_cast<std::size_t>(*content_length));
  }
  std::size_t on_body_impl(string_view body, error_code& ec) override {
    if (owner_.body_.size() + body.size() > owner_.max_body_) {
      owner_.body_too_large_ = true;
      ec = http::error::body_limit;
      return 0;
    }
    owner_.body_.append(body.data(), body.size());
    return body.size();
  }
  // The request guard refuses Transfer-Encoding before any body is read; a chunked body that
  // gets here anyway is refused, not parsed.
  void on_chunk_header_impl(std::uint64_t, string_view, error_code& ec) override {
    ec = http::error::bad_transfer_encoding;
  }
  std::size_t on_chunk_body_impl(std::uint64_t, string_view, error_code& ec) override {
    ec = http::error::bad_transfer_encoding;
    return 0;
  }
  void on_finish_impl(error_code&) override {}

  RequestParser& owner_;
};

RequestParser::RequestParser(std::size_t max_head_bytes, std::size_t max_header_lines)
    : beast_(std::make_unique<Beast>(*this)), max_head_bytes_(max_head_bytes), max_header_lines_(max_header_lines) {
  beast_->header_limit(static_cast<std::uint32_t>(max_head_bytes));
  // No Beast body limit: it would refuse a large Content-Length before the head could be
  // checked; SetBodyLimit applies the route's own once the guard has passed the head. (Not
  // boost::none: Beast 1.74 compares a Content-Length with an empty optional as larger.)
  beast_->body_limit(std::numeric_limits<std::uint64_t>::max());
  beast_->eager(false);
}

RequestParser::~RequestParser() = default;

void RequestParser::Fail(int status, std::string reason) {
  state_ = State::kFailed;
  failure_ = Failure{status, std::move(reason)};
}

std::size_t RequestParser::Put(std::string_view bytes) {
  if (state_ != State::kNeedMore && state_ != State::kBody) return 0;
  error_code ec;
  std::size_t consumed = 0;
  // Beast stops after the head (eager off) and after each piece of body it is given.
  while (consumed < bytes.size() && !beast_->is_done()) {
    std::size_t used = beast_->put(boost::asio::const_buffer(bytes.data() + consumed, bytes.size() - consumed), ec);
    consumed += used;
    if (ec == http::error::need_more) {
      ec = {};
      break;
    }
    if (ec) break;
    if (state_ == State::kNeedMore && beast_->is_header_done()) {
      state_ = State::kHead;  // the caller checks the head before any body is parsed
      return consumed;
    }
    if (used == 0) break;
  }
  if (ec) {
    if (too_many_lines_) {
      Fail(431, "more than " + std::to_string(max_header_lines_) + " header lines");
    } else if (ec == http::error::header_limit) {
      Fail(431, "the request head is above " + std::to_string(max_head_bytes_) + " bytes");
    } else if (body_too_large_) {
      Fail(413, "the body is above the limit of " + std::to_string(max_body_) + " bytes");
    } else if (ec == http::error::bad_transfer_encoding) {
      Fail(411, "Transfer-Encoding is not accepted; send Content-Length");
    } else if (ec == http::error::bad_content_length) {
      Fail(400, "Content-Length is malformed or given twice with different values");
    } else {
      Fail(400, "malformed request: " + ec.message());
    }
    return consumed;
  }
  if (state_ == State::kBody && beast_->is_done()) state_ = State::kComplete;
  return consumed;
}

void RequestParser::PutEof() {
  if (state_ == State::kFailed || state_ == State::kComplete) return;
  // A request never ends at the end of the stream: its length is in its head.
  Fail(0, beast_->got_some() ? "the connection closed in the middle of a request" : "the connection closed");
}

bool RequestParser::started() const { return beast_->got_some(); }

bool RequestParser::keep_alive() const { return beast_->keep_alive(); }

std::optional<std::uint64_t> RequestParser::content_length() const {
  boost::optional<std::uint64_t> length = beast_->content_length();
  if (!length) return std::nullopt;
  return *length;
}

bool RequestParser::has_body() const { return !beast_->is_done(); }

void RequestParser::SetBodyLimit(std::uint64_t max_body) {
  if (state_ != State::kHead) return;
  max_body_ = max_body;
  if (std::optional<std::uint64_t> length = content_length(); length && *length > max_body) {
    // Refused before a byte of it is read (or awaited).
    return Fail(413, "Content-Length " + std::to_string(*length) + " is above the limit of " +
                         std::to_string(max_body) + " bytes");
  }
  state_ = beast_->is_done() ? State::kComplete : State::kBody;
}

}  // namespace ww
