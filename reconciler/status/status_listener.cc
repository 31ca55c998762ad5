#include "reconciler/status/status_listener.h"

#include <nlohmann/json.hpp>

#include <utility>

#include "reconciler/api/request_guard.h"
#include "reconciler/api/server_tls.h"
#include "reconciler/status/badge.h"
#include "reconciler/status/metrics.h"
#include "schema/net.h"

namespace ww {
namespace {

constexpr std::string_view kReadOnlyMethods = "GET, HEAD";
constexpr std::string_view kDataCacheControl = "no-store";
// The page's files change only with the binary; revalidating each time costs little.
constexpr std::string_view kAssetCacheControl = "no-cache";
// A snapshot or a page file is built in a moment: one thread serves the sockets.
constexpr std::size_t kStatusIoThreads = 1;

bool IsReadOnly(const std::string& method) { return method == "GET" || method == "HEAD"; }

HttpResponse Refusal(int status, const std::string& reason) {
  return HttpResponse{status, "text/plain; charset=utf-8", reason + "\n", {{"Cache-Control", std::string(kDataCacheControl)}}};
}

std::string ErrorJson(const std::string& message) { return nlohmann::json{{"error", message}}.dump() + "\n"; }

HttpResponse Data(std::string body, std::string_view content_type) {
  return HttpResponse{200, std::string(content_type), std::move(body), {{"Cache-Control", std::string(kDataCacheControl)}}};
}

HttpResponse Unavailable(const Status& status) {
  return HttpResponse{503, "application/json", ErrorJson("the fleet snapshot is unavailable: " + status.message()),
                      {{"Cache-Control", std::string(kDataCacheControl)}}};
}

// What HeadDecision::route names.
enum class Page { kSnapshot, kBadge, kMetrics, kAsset, kWebhook };

}  // namespace

struct StatusListener::Impl {
  explicit Impl(StatusListenerOptions listener_options) : options(std::move(listener_options)) {}

  // On an I/O thread, before any body is read.
  HeadDecision CheckHead(const RequestHead& head) const {
    HeadDecision decision;
    std::optional<RequestTarget> target = SplitTarget(head.target);
    bool webhook = options.webhook && target && target->path == kWebhookPath;
    if (webhook ? head.method != "POST" : !IsReadOnly(head.method)) {
      decision.refusal = Refusal(405, "method \"" + head.method + "\" is not allowed here: the status page is read-only");
      decision.refusal->headers.emplace_back("Allow", webhook ? std::string("POST") : std::string(kReadOnlyMethods));
      return decision;
    }
    GuardLimits limits;
    limits.max_body = webhook ? options.max_webhook_body : 0;
    if (GuardVerdict verdict = CheckRequest(RequestView{head.method, head.target, head.headers}, limits);
        !verdict.Allowed()) {
      decision.refusal = Refusal(verdict.status, verdict.reason);
      return decision;
    }
    const std::string& path = target->path;  // the guard refuses a target SplitTarget cannot split
    decision.max_body = limits.max_body;
    if (webhook) {
      decision.route = static_cast<int>(Page::kWebhook);
    } else if (path == "/status.json") {
      decision.route = static_cast<int>(Page::kSnapshot);
    } else if (path == "/badge.svg") {
      decision.route = static_cast<int>(Page::kBadge);
    } else if (path == "/metrics") {
      decision.route = static_cast<int>(Page::kMetrics);
    } else {
      decision.route = static_cast<int>(Page::kAsset);
    }
    return decision;
  }

  // On a worker thread.
  HttpResponse Handle(RequestHead head, std::string body, int route) const {
    switch (static_cast<Page>(route)) {
      case Page::kSnapshot: return ServeSnapshot();
      case Page::kBadge: return ServeBadge();
      case Page::kMetrics: return ServeMetrics();
      case Page::kWebhook: return ServeWebhook(head, body);
      case Page::kAsset: break;
    }
    std::optional<RequestTarget> target = SplitTarget(head.target);
    return ServeAsset(target ? target->path : head.target);
  }

  HttpResponse ServeSnapshot() const {
    Result<std::shared_ptr<const PublishedSnapshot>> published = options.snapshot();
    if (!published.ok()) return Unavailable(published.status());
    return Data((*published)->json, "application/json");
  }

  HttpResponse ServeBadge() const {
    Result<std::shared_ptr<const PublishedSnapshot>> published = options.snapshot();
    if (!published.ok()) return Unavailable(published.status());
    return Data(BadgeSvg(SummarizeSnapshot((*published)->snapshot)), kBadgeContentType);
  }

  HttpResponse ServeMetrics() const {
    Result<std::shared_ptr<const PublishedSnapshot>> published = options.snapshot();
    if (!published.ok()) return Unavailable(published.status());
    return Data(MetricsFromSnapshot((*published)->snapshot), kMetricsContentType);
  }

  HttpResponse ServeAsset(const std::string& path) const {
    std::optional<StaticAsset> asset = options.find_asset(path);
    if (!asset) {
      return HttpResponse{404, "text/plain; charset=utf-8", "no such page: \"" + path + "\"\n",
                          {{"Cache-Control", std::string(kDataCacheControl)}}};
    }
    return HttpResponse{200, std::string(asset->content_type), std::string(asset->content),
                        {{"Cache-Control", std::string(kAssetCacheControl)}}};
  }

  HttpResponse ServeWebhook(const RequestHead& head, const std::string& body) const {
    WebhookAnswer answer = options.webhook(head.headers, body);
    return HttpResponse{answer.status, answer.content_type, std::move(answer.body),
                        {{"Cache-Control", std::string(kDataCacheControl)}}};
  }

  StatusListenerOptions options;
  UniqueSslContext tls_context;  // null: plain HTTP
  std::unique_ptr<HttpEngine> engine;
};

Result<std::unique_ptr<StatusListener>> StatusListener::Create(StatusListenerOptions options) {
  if (!options.snapshot) return Status::InvalidArgument("the status listener needs a snapshot source");
  if (!options.find_asset) return Status::InvalidArgument("the status listener needs the page's assets");
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl* raw = impl.get();
  HttpEngineOptions engine;
  engine.name = "the status listener";
  engine.limits = raw->options.http;
  engine.io_threads = kStatusIoThreads;
  engine.worker_threads = raw->options.worker_threads;
  // On every answer, refusals and the front end's own errors included.
  engine.default_headers = {
      {"Content-Security-Policy", std::string(kStatusContentSecurityPolicy)},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  };
  engine.check_head = [raw](const RequestHead& head) { return raw->CheckHead(head); };
  engine.handle = [raw](RequestHead head, std::string body, int route) {
    return raw->Handle(std::move(head), std::move(body), route);
  };
  engine.refusal = Refusal;
  if (!raw->options.tls_certificate_pem.empty() || !raw->options.tls_private_key_pem.empty()) {
    WW_ASSIGN_OR_RETURN(raw->tls_context,
                        MakeServerTlsContext(raw->options.tls_certificate_pem, raw->options.tls_private_key_pem));
    engine.tls_context = raw->tls_context.get();
  }
  WW_ASSIGN_OR_RETURN(impl->engine, HttpEngine::Create(std::move(engine)));
  return std::unique_ptr<StatusListener>(new StatusListener(std::move(impl)));
}

StatusListener::StatusListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StatusListener::~StatusListener() { Stop(); }

Result<int> StatusListener::Start(const std::string& host, int port) { return impl_->engine->Listen(host, port); }

void StatusListener::Stop() { impl_->engine->Stop(); }

std::size_t StatusListener::OpenConnections() const { return impl_->engine->OpenConnections(); }

Result<std::pair<std::string, int>> ParseListenAddress(std::string_view address) {
  std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("listen address \"" + std::string(address) + "\" is not HOST:PORT");
  }
  std::string host(address.substr(0, colon));
  Result<Ipv4Address> parsed_host = Ipv4Address::Parse(host);
  if (!parsed_host.ok() && host != "localhost") {
    return Status::InvalidArgument("listen address \"" + std::string(address) + "\": host \"" + host +
                                   "\" is not an IPv4 address or localhost");
  }
  Result<uint16_t> port = ParsePort(address.substr(colon + 1));
  if (!port.ok()) return port.status().WithContext("listen address \"" + std::string(address) + "\"");
  return std::pair<std::string, int>(std::move(host), *port);
}

}  // namespace ww
