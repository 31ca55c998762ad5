#pragma once
// The event-driven HTTP/1.1 front end both listeners share (the mutual-TLS API and the plain
// status listener): a few I/O threads run every connection (Boost.Asio, TLS with OpenSSL),
// route handlers run on a separate worker pool and never on an I/O thread, and a long-poll
// parks its connection on a LongPollHub with a timer instead of holding a thread. Every
// connection is bounded: caps on open connections (in total and per source address, checked
// at accept: over a cap the connection is closed at once), deadlines for the TLS handshake
// and request head, the body, the answer and keep-alive idleness, and caps on the head's
// bytes and lines (431). A refused request is answered with "Connection: close" and nothing
// more is read from it as HTTP. Boost stays in the .cc files; this header has no library
// types but OpenSSL's forward-declared SSL and SSL_CTX.
// Thread safety: Listen once, then Stop from any thread but a handler; both are safe to
// call more than once.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "reconciler/api/http_message.h"
#include "reconciler/api/request_parser.h"
#include "schema/result.h"

struct ssl_st;
struct ssl_ctx_st;

namespace ww {

class LongPollHub;

// Handshake plus the first request's head, from accept.
inline constexpr std::chrono::seconds kDefaultHeadTimeout{10};
// After an answer, until the next request's head is complete. Longer than the gap between
// an agent's polls, shorter than its 30 s report interval: an agent at rest holds one
// connection (its long-poll), not two.
inline constexpr std::chrono::seconds kDefaultKeepAliveTimeout{15};
// A request body, from the end of its head: an 8 MiB upload needs 140 KB/s.
inline constexpr std::chrono::seconds kDefaultBodyTimeout{60};
// An answer, until the client has taken all of it.
inline constexpr std::chrono::seconds kDefaultWriteTimeout{60};
// Open connections of the API: 10,000 agents hold about 1.5 each (a long-poll, plus for half
// of each 30 s report interval a report connection awaiting the keep-alive deadline), with
// headroom for wwctl and growth. The daemon lowers it to fit its open-file limit.
inline constexpr std::size_t kDefaultMaxConnections = 20000;
// Per source address: a NAT in front of up to 1,000 agents (two connections each) still
// works, while one address can hold at most a tenth of the default total.
inline constexpr std::size_t kDefaultMaxConnectionsPerAddress = 2000;
// listen(2) backlog; the kernel caps it at net.core.somaxconn (4096 on current kernels).
inline constexpr int kListenBacklog = 4096;

struct HttpLimits {
  std::chrono::milliseconds head_timeout = kDefaultHeadTimeout;
  std::chrono::milliseconds keep_alive_timeout = kDefaultKeepAliveTimeout;
  std::chrono::milliseconds body_timeout = kDefaultBodyTimeout;
  std::chrono::milliseconds write_timeout = kDefaultWriteTimeout;
  std::size_t max_head_bytes = kDefaultMaxHeadBytes;
  std::size_t max_header_lines = kDefaultMaxHeaderLines;
  std::size_t max_connections = kDefaultMaxConnections;                        // at least 1
  std::size_t max_connections_per_address = kDefaultMaxConnectionsPerAddress;  // 0: no cap
};

// A request's head as parsed, before any body is read.
struct RequestHead {
  std::string method;
  std::string target;   // raw, as sent
  HttpHeaders headers;  // as sent, minus REMOTE_ADDR, REMOTE_PORT, LOCAL_ADDR and LOCAL_PORT
  std::string remote_addr;
  int remote_port = 0;
  // The connection's TLS session (peer certificate, verify result); null on plain TCP.
  // Valid until the request's answer is handed back.
  ssl_st* tls = nullptr;
};

// What a listener decides from a head alone.
struct HeadDecision {
  // Answered at once, then the connection closes (its body is never parsed).
  std::optional<HttpResponse> refusal;
  // Otherwise: the largest body to read (the Content-Length was already checked against it).
  std::size_t max_body = 0;
  // Handed back to `handle` with the request (e.g. the route's index).
  int route = -1;
};

struct HttpEngineOptions {
  std::string name;  // "the API server": in messages
  HttpLimits limits;
  std::size_t io_threads = 1;      // at least 1
  std::size_t worker_threads = 4;  // at least 1; every running handler holds one
  // TLS when set (the engine takes its own reference); plain TCP otherwise.
  ssl_ctx_st* tls_context = nullptr;
  // Where answers with `park` wait. REQUIRES: outlives the engine, or is null (a parked
  // answer is then a 500).
  LongPollHub* long_polls = nullptr;
  // Added to every answer, refusals included.
  HttpHeaders default_headers;
  // On an I/O thread, after each head; must not block.
  std::function<HeadDecision(const RequestHead&)> check_head;
  // On a worker thread, with the head, the body and HeadDecision::route.
  std::function<HttpResponse(RequestHead head, std::string body, int route)> handle;
  // How this listener words a refusal the engine itself makes (malformed or oversized head,
  // 413, a handler that threw): status and reason in, the answer out.
  std::function<HttpResponse(int status, const std::string& reason)> refusal;
};

class HttpEngine {
 public:
  static Result<std::unique_ptr<HttpEngine>> Create(HttpEngineOptions options);
  ~HttpEngine();  // Stop()s

  HttpEngine(const HttpEngine&) = delete;
  HttpEngine& operator=(const HttpEngine&) = delete;

  // Binds host:port (port 0 picks a free one; no SO_REUSEPORT, so a busy port is an error
  // naming it), starts the threads and returns the bound port.
  Result<int> Listen(const std::string& host, int port);
  // Stops accepting, closes idle connections, lets answers in progress (and parked polls
  // woken by their hub's Shutdown) be written, then joins every thread. Waits for running
  // handlers. Must not be called from a handler.
  void Stop();
  // Connections open right now (tests, metrics).
  std::size_t OpenConnections() const;

 private:
  struct Impl;
  explicit HttpEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ww
