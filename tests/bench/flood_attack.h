#pragma once
// One oversized request sent as fast as the server reads it: a request head of endless
// header lines, or a body far above every route's limit (chunked, or with its true
// Content-Length). Stops at the first byte of an answer, when the server closes or stops
// reading, after `total_bytes` or after `time_limit`. Blocking sockets with timeouts; anonymous TLS on the API.

#include <chrono>
#include <cstdint>
#include <string>

namespace ww::bench {

enum class FloodKind {
  kHeaders,       // "X: a" header lines, never ending the head
  kChunkedBody,   // POST with Transfer-Encoding: chunked, 16 KiB chunks
  kDeclaredBody,  // POST with Content-Length: total_bytes
};
enum class FloodTransport { kTls, kPlain };

struct FloodOptions {
  FloodKind kind = FloodKind::kHeaders;
  FloodTransport transport = FloodTransport::kTls;
  int port = 0;  // on 127.0.0.1
  std::string path = "/v1/ca";
  int64_t total_bytes = int64_t{200} << 20;
  std::chrono::seconds io_timeout{10};  // a write or read that waits longer ends the flood
  std::chrono::seconds time_limit{60};  // a server that reads slowly but forever ends it too
};

struct FloodResult {
  int64_t bytes_sent = 0;
  double seconds = 0;
  // "431 Request Header Fields Too Large", "closed by the server without an answer", "the
  // server stopped reading ...", "still reading after 60 s" or "took it all without answering".
  std::string outcome;
};

FloodResult RunFlood(const FloodOptions& options);

std::string FloodKindName(FloodKind kind);

}  // namespace ww::bench
