#pragma once
// The reconciler's HTTPS front door: cpp-httplib's SSLServer with mutual TLS against our CA
// only (never the system store), TLS 1.2 minimum, a worker pool sized in code for long-polls,
// the request guard (request_guard.h) run before any body is read, and per-route client
// certificate requirements: a handler receives the verified identity, or the request is
// answered 401 first. Also LongPollHub, where long-poll handlers wait for a newer plan
// generation and which Stop() wakes. httplib stays inside https_server.cc.
// Thread safety: register routes, then Start(); Stop() may be called from any thread once.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reconciler/api/request_guard.h"
#include "reconciler/pki/certificate_authority.h"
#include "schema/result.h"

namespace ww {

// Long-poll rendezvous: handlers wait for a key's generation to pass the one they hold; the
// reconciler notifies when it stores a newer plan, and revokes a key when its agent is deleted
// so that an open long-poll is answered at once (401) rather than at its timeout.
// Safe for any number of threads.
class LongPollHub {
 public:
  // When several apply, kShutdown wins over kRevoked, which wins over kNewer.
  enum class WaitOutcome { kNewer, kTimedOut, kShutdown, kRevoked };
  struct WaitResult {
    WaitOutcome outcome = WaitOutcome::kTimedOut;
    std::uint64_t generation = 0;  // the key's latest notified generation
  };

  // Returns at once when the hub is shut down, the key is revoked or its generation is above
  // `after_generation`; otherwise waits up to `timeout` for one of those to happen.
  WaitResult Wait(const std::string& key, std::uint64_t after_generation, std::chrono::milliseconds timeout);
  // Records `generation` for `key` (generations never go back) and wakes that key's waiters.
  void Notify(const std::string& key, std::uint64_t generation);
  // Wakes the key's waiters with kRevoked; until Reinstate(key), every Wait on the key returns
  // kRevoked at once. Other keys are untouched. Revoking twice is the same as once. The
  // key's generation is kept (Notify still records newer ones while it is revoked).
  void Revoke(const std::string& key);
  // Undoes Revoke(key), e.g. when an agent of that name enrolls again. No-op if not revoked.
  void Reinstate(const std::string& key);
  // Wakes every waiter with kShutdown; later waits return kShutdown at once.
  void Shutdown();
  // How many threads are inside Wait right now (for tests and metrics).
  std::size_t Waiting() const;

 private:
  struct Slot {
    std::uint64_t generation = 0;
    bool revoked = false;
    std::condition_variable changed;
  };

  mutable std::mutex mutex_;
  std::map<std::string, Slot> slots_;  // GUARDED_BY(mutex_); one per agent, never erased
  std::size_t waiting_ = 0;            // GUARDED_BY(mutex_)
  bool shut_down_ = false;             // GUARDED_BY(mutex_)
};

enum class HttpMethod { kGet, kPost, kPut, kDelete };

// Whether a route needs a verified, unrevoked client certificate. Enrollment and the CA
// fetch are kOptional (the caller has no certificate yet).
enum class ClientCertificate { kRequired, kOptional };

struct HttpRequest {
  std::string method;
  std::string path;                                            // decoded, as routed
  std::vector<std::string> path_parameters;                    // the route's capture groups
  std::vector<std::pair<std::string, std::string>> query;      // decoded ?name=value pairs
  std::vector<std::pair<std::string, std::string>> headers;    // as sent, minus httplib's own
  std::string body;
  std::string remote_addr;  // from the socket; a client's REMOTE_ADDR header is dropped
  int remote_port = 0;
  // Set when the peer presented a certificate that verified; always set on kRequired routes.
  std::optional<Identity> identity;
  std::string certificate_serial;  // lowercase hex, with identity

  // The first value of query parameter `name`, if present.
  std::optional<std::string> QueryValue(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using RouteHandler = std::function<HttpResponse(const HttpRequest&)>;

struct RouteOptions {
  ClientCertificate client_certificate = ClientCertificate::kRequired;
  // Largest accepted request body. Default: 256 KiB.
  std::size_t max_body = GuardLimits{}.max_body;
};

struct HttpsServerOptions {
  std::string server_certificate_pem;
  std::string server_private_key_pem;
  // Worker threads; every open long-poll holds one. Default: 64.
  std::size_t worker_threads = 64;
  std::chrono::seconds read_timeout{10};
  std::chrono::seconds write_timeout{10};
  std::chrono::seconds keep_alive_timeout{5};
  std::size_t keep_alive_max_count = 100;
  // max_path and max_headers apply to every request; max_body is the default for unrouted
  // requests (routes carry their own).
  GuardLimits limits;
  // Called with a verified client certificate's serial (lowercase hex) on every request that
  // presents one; true refuses it with 401. Default: nothing is revoked.
  std::function<bool(const std::string& serial_hex)> is_revoked;
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

  // Binds (port 0 picks a free one), starts serving on a thread and returns the bound port.
  Result<int> Start(const std::string& host, int port);
  // Wakes long-poll waiters, stops accepting, finishes open requests and joins. Idempotent.
  void Stop();

  LongPollHub& long_polls();

 private:
  struct Impl;
  explicit HttpsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ww
