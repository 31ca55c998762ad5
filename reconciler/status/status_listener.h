#pragma once
// The read-only status listener (--status-listen, default 127.0.0.1:8080): plain HTTP (or
// HTTPS with the server's certificate, --status-tls) serving
// the embedded status page, /status.json, /badge.svg and /metrics. GET and HEAD only, except
// POST /hooks/git, which is handed to an injected webhook handler (git forges present no
// client certificate). Served by the same event-driven HttpEngine as the API (http_engine.h),
// with smaller connection caps: every request passes the request guard first; every answer
// carries the page's Content-Security-Policy. Thread safety: build with Create, then
// Start(); Stop() may be called from any thread, once or more.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reconciler/api/http_engine.h"
#include "reconciler/api/http_message.h"
#include "reconciler/status/snapshot_json.h"
#include "schema/result.h"

namespace ww {

inline constexpr std::string_view kDefaultStatusListen = "127.0.0.1:8080";
inline constexpr std::string_view kWebhookPath = "/hooks/git";
// Sent with every answer of the listener, errors included.
inline constexpr std::string_view kStatusContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// One embedded file of the page. The views point at storage that outlives the listener
// (the embedded assets are static data).
struct StaticAsset {
  std::string_view content_type;
  std::string_view content;
};

// What the webhook handler answers; sent as is (202 at once is the handler's job).
struct WebhookAnswer {
  int status = 202;
  std::string content_type = "application/json";
  std::string body;
};

// Open connections of the status listener: people, Prometheus and git forges, not agents.
inline constexpr std::size_t kStatusMaxConnections = 1024;
inline constexpr std::size_t kStatusMaxConnectionsPerAddress = 64;

struct StatusListenerOptions {
  // The fleet snapshot (API.md "Fleet snapshot"): /status.json serves its JSON, /badge.svg and
  // /metrics render from it. Required. An error is answered 503 on all three.
  std::function<Result<std::shared_ptr<const PublishedSnapshot>>()> snapshot;
  // Looks up a page file by request path ("/", "/app.js"); nullopt answers 404. Required.
  std::function<std::optional<StaticAsset>(std::string_view path)> find_asset;
  // POST /hooks/git with the request's headers (as sent) and body. Empty (no git source): the
  // path is read-only like the rest (POST answers 405).
  std::function<WebhookAnswer(const HttpHeaders& headers, const std::string& body)> webhook;
  // Largest accepted webhook body (Content-Length is required). Default: 1 MiB.
  std::size_t max_webhook_body = 1024 * 1024;
  // Threads that build the answers (the snapshot takes the fleet's lock). Default: 4.
  std::size_t worker_threads = 4;
  // --status-tls: HTTPS with this certificate and key (the reconciler's server certificate)
  // when both are set, no client certificate asked for; plain HTTP otherwise.
  std::string tls_certificate_pem;
  std::string tls_private_key_pem;
  // Connection caps and deadlines.
  HttpLimits http{.max_connections = kStatusMaxConnections,
                  .max_connections_per_address = kStatusMaxConnectionsPerAddress};
};

class StatusListener {
 public:
  static Result<std::unique_ptr<StatusListener>> Create(StatusListenerOptions options);
  ~StatusListener();  // Stop()s

  StatusListener(const StatusListener&) = delete;
  StatusListener& operator=(const StatusListener&) = delete;

  // Binds (port 0 picks a free one), starts serving and returns the bound port.
  Result<int> Start(const std::string& host, int port);
  // Stops accepting, finishes answers in progress and joins. Idempotent.
  void Stop();
  // Connections open right now.
  std::size_t OpenConnections() const;

 private:
  struct Impl;
  explicit StatusListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "HOST:PORT" (e.g. the --status-listen value); the message quotes a bad value.
Result<std::pair<std::string, int>> ParseListenAddress(std::string_view address);

}  // namespace ww
