#pragma once
// The reconciler's HTTPS front door: mutual TLS against our CA only (never the system store),
// TLS 1.2 minimum, served by the event-driven HttpEngine (http_engine.h: connection caps and
// deadlines, handlers on a worker pool, long-polls parked without a thread), the request
// guard (request_guard.h) run on every head before any body is read, and per-route client
// certificate requirements: a handler receives the verified identity, or the request is
// answered 401 first. A certificate that fails verification (another install's CA, another
// fleet, expired) still completes the handshake, so that the 401 can say why. Also the LongPollHub that parked polls wait on, which Stop() shuts down
// so that they are answered (503) before the server goes.
// Thread safety: register routes, then Start(); Stop() may be called from any thread (but a
// handler), once or more.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "reconciler/api/http_engine.h"
#include "reconciler/api/http_message.h"
#include "reconciler/api/long_poll_hub.h"
#include "reconciler/api/request_guard.h"
#include "reconciler/pki/certificate_authority.h"
#include "schema/result.h"

namespace ww {

enum class HttpMethod { kGet, kPost, kPut, kDelete };

// Whether a route needs a verified, unrevoked client certificate. Enrollment and the CA
// fetch are kOptional (the caller has no certificate yet).
enum class ClientCertificate { kRequired, kOptional };

// Runs on a worker thread, never on a connection's I/O thread; may block (the fleet's lock,
// SQLite). A long-poll returns ParkedResponse(...) instead of waiting.
using RouteHandler = std::function<HttpResponse(const HttpRequest&)>;

struct RouteOptions {
  ClientCertificate client_certificate = ClientCertificate::kRequired;
  // Largest accepted request body. Default: 256 KiB.
  std::size_t max_body = GuardLimits{}.max_body;
};

// Handler threads of the API: handlers serialize on the fleet's lock, so more threads mostly
// help requests that wait on something else (a git fetch for POST /v1/sync, enrollment).
inline constexpr std::size_t kDefaultApiWorkerThreads = 16;
// Threads running the API's connections (TLS, parsing, writing).
inline constexpr std::size_t kDefaultApiIoThreads = 2;

struct HttpsServerOptions {
  std::string server_certificate_pem;
  std::string server_private_key_pem;
  // Threads that run route handlers; a parked long-poll holds none.
  std::size_t worker_threads = kDefaultApiWorkerThreads;
  std::size_t io_threads = kDefaultApiIoThreads;
  // Connection caps and deadlines.
  HttpLimits http;
  // max_path and max_headers apply to every request; max_body is the default for unrouted
  // requests (routes carry their own).
  GuardLimits limits;
  // Called with a verified client certificate's serial (lowercase hex) on every request that
  // presents one; true refuses it with 401. Default: nothing is revoked.
  std::function<bool(const std::string& serial_hex)> is_revoked;
  // Called on a worker thread with the verified, unrevoked client certificate of every request
  // that has one, before its handler (e.g. CertificateUse::Record). Default: nothing.
  std::function<void(const Identity& identity, const std::string& serial_hex)> on_authenticated;
  // This install's fleet id (bootstrap.h): a client certificate of another fleet is refused
  // with 401 naming both. Empty: any fleet (tests of the transport alone).
  std::string fleet;
  // Unix seconds for certificate validity checks. Default: the system clock.
  std::function<std::int64_t()> now;
};

class HttpsServer {
 public:
  // REQUIRES: `ca` outlives the server. Client certificates must chain to it alone.
  static Result<std::unique_ptr<HttpsServer>> Create(const CertificateAuthority& ca, HttpsServerOptions options);
  ~HttpsServer();  // Stop()s

  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // REQUIRES: before Start(). `pattern` is an exact path or one with flat capture groups such
  // as "/v1/agents/([a-z0-9-]{1,63})/plan"; nested groups are refused (regex recursion on long
  // input crashes libstdc++). GET routes also answer HEAD.
  Status Route(HttpMethod method, const std::string& pattern, RouteOptions options, RouteHandler handler);

  // REQUIRES: before Start(). `observer` runs on a worker thread, before the handler, for
  // every request whose client certificate passed every check; it may block briefly (the
  // store). One observer; a second call replaces it.
  using AuthenticationObserver = std::function<void(const Identity& identity, const std::string& serial_hex)>;
  void OnAuthenticated(AuthenticationObserver observer);

  // Binds (port 0 picks a free one), starts serving and returns the bound port.
  Result<int> Start(const std::string& host, int port);
  // Answers parked long-polls (their continuations see kShutdown), stops accepting, finishes
  // answers in progress and joins every thread. Idempotent.
  void Stop();

  LongPollHub& long_polls();
  // Connections open right now.
  std::size_t OpenConnections() const;

 private:
  struct Impl;
  explicit HttpsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ww
