#pragma once
// What route handlers see and answer, for both listeners (the API and the status listener):
// a request with its body read, and a response that is either sent as it is or parks the
// connection on a LongPollHub until a continuation builds the answer, and whose body is a
// string or an open file sent in chunks. No library types here.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reconciler/api/file_body.h"
#include "reconciler/api/long_poll_hub.h"
#include "reconciler/pki/certificate_authority.h"

namespace ww {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;
  std::string path;                                        // decoded, as routed
  std::vector<std::string> path_parameters;                // the route's capture groups
  std::vector<std::pair<std::string, std::string>> query;  // decoded ?name=value pairs
  HttpHeaders headers;                                     // as sent, minus REMOTE_ADDR and its kin
  std::string body;
  std::string remote_addr;  // from the socket; a client's REMOTE_ADDR header is dropped
  int remote_port = 0;
  // Set when the peer presented a certificate that verified; always set on kRequired routes.
  std::optional<Identity> identity;
  std::string certificate_serial;  // lowercase hex, with identity

  // The first value of query parameter `name`, if present.
  std::optional<std::string> QueryValue(std::string_view name) const;
};

struct HttpResponse;

// A long-poll: the connection waits on the server's LongPollHub for `key` to pass
// `after_generation` (or be revoked, or the hub to shut down), at most `timeout`, holding
// no thread; then `answer` runs on a worker thread and its response is sent.
struct LongPoll {
  std::string key;
  std::uint64_t after_generation = 0;
  std::chrono::milliseconds timeout{0};
  std::function<HttpResponse(const LongPollHub::WaitResult&)> answer;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  HttpHeaders headers;  // sent besides Content-Type and Content-Length
  // Set: nothing is sent yet; the connection parks as LongPoll describes.
  std::optional<LongPoll> park;
  // Set: the body is this file's bytes (Content-Length its size), streamed in chunks; `body`
  // is not sent.
  std::shared_ptr<const FileBody> file;
};

// Builds the response that parks the connection (see LongPoll).
HttpResponse ParkedResponse(LongPoll poll);

}  // namespace ww
