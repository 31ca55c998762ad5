#include "reconciler/status/status_listener.h"

#include <httplib.h>

#include "reconciler/api/listener_thread.h"
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <thread>

#include "reconciler/api/request_guard.h"
#include "reconciler/status/badge.h"
#include "reconciler/status/metrics.h"
#include "schema/net.h"

namespace ww {
namespace {

constexpr std::string_view kReadOnlyMethods = "GET, HEAD";
constexpr std::string_view kDataCacheControl = "no-store";
// The page's files change only with the binary; revalidating each time costs little.
constexpr std::string_view kAssetCacheControl = "no-cache";
constexpr std::size_t kKeepAliveMaxCount = 100;

bool IsReadOnly(const std::string& method) { return method == "GET" || method == "HEAD"; }

// httplib adds these to the request headers itself; a webhook handler must not see a
// client-sent REMOTE_ADDR as if it came from the socket.
bool IsServerAddedHeader(const std::string& name) {
  for (std::string_view added : {"REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT"}) {
    if (name.size() == added.size() && std::equal(name.begin(), name.end(), added.begin(), [](char a, char b) {
          return std::toupper(static_cast<unsigned char>(a)) == b;
        })) {
      return true;
    }
  }
  return false;
}

HttpHeaders ClientHeaders(const httplib::Request& request) {
  HttpHeaders headers;
  for (const auto& [name, value] : request.headers) {
    if (!IsServerAddedHeader(name)) headers.emplace_back(name, value);
  }
  return headers;
}

void Refuse(httplib::Response& response, int status, const std::string& reason) {
  response.status = status;
  response.set_header("Cache-Control", std::string(kDataCacheControl));
  response.set_content(reason + "\n", "text/plain; charset=utf-8");
  // Whatever body the client still sends must not be parsed as the next request.
  response.set_header("Connection", "close");
}

std::string ErrorJson(const std::string& message) { return nlohmann::json{{"error", message}}.dump() + "\n"; }

void AnswerData(httplib::Response& response, const std::string& body, std::string_view content_type) {
  response.status = 200;
  response.set_header("Cache-Control", std::string(kDataCacheControl));
  response.set_content(body, std::string(content_type).c_str());
}

void AnswerUnavailable(httplib::Response& response, const Status& status) {
  response.status = 503;
  response.set_header("Cache-Control", std::string(kDataCacheControl));
  response.set_content(ErrorJson("the fleet snapshot is unavailable: " + status.message()), "application/json");
}

}  // namespace

struct StatusListener::Impl {
  explicit Impl(StatusListenerOptions listener_options) : options(std::move(listener_options)) {}

  bool WebhookRoute(const httplib::Request& request) const {
    return options.webhook && request.path == kWebhookPath;
  }

  // Runs before httplib reads any body.
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& request, httplib::Response& response) const {
    bool webhook = WebhookRoute(request);
    if (webhook ? request.method != "POST" : !IsReadOnly(request.method)) {
      Refuse(response, 405, "method \"" + request.method + "\" is not allowed here: the status page is read-only");
      response.set_header("Allow", webhook ? std::string("POST") : std::string(kReadOnlyMethods));
      return httplib::Server::HandlerResponse::Handled;
    }
    RequestView view{request.method, request.target, ClientHeaders(request)};
    GuardLimits limits;
    limits.max_body = webhook ? options.max_webhook_body : 0;
    if (GuardVerdict verdict = CheckRequest(view, limits); !verdict.Allowed()) {
      Refuse(response, verdict.status, verdict.reason);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  void ServeSnapshot(httplib::Response& response) const {
    Result<std::shared_ptr<const PublishedSnapshot>> published = options.snapshot();
    if (!published.ok()) return AnswerUnavailable(response, published.status());
    AnswerData(response, (*published)->json, "application/json");
  }

  void ServeBadge(httplib::Response& response) const {
    Result<std::shared_ptr<const PublishedSnapshot>> published = options.snapshot();
    if (!published.ok()) return AnswerUnavailable(response, published.status());
    AnswerData(response, BadgeSvg(SummarizeSnapshot((*published)->snapshot)), kBadgeContentType);
  }

  void ServeMetrics(httplib::Response& response) const {
    Result<std::shared_ptr<const PublishedSnapshot>> published = options.snapshot();
    if (!published.ok()) return AnswerUnavailable(response, published.status());
    AnswerData(response, MetricsFromSnapshot((*published)->snapshot), kMetricsContentType);
  }

  void ServeAsset(const httplib::Request& request, httplib::Response& response) const {
    std::optional<StaticAsset> asset = options.find_asset(request.path);
    if (!asset) {
      response.status = 404;
      response.set_header("Cache-Control", std::string(kDataCacheControl));
      response.set_content("no such page: \"" + request.path + "\"\n", "text/plain; charset=utf-8");
      return;
    }
    response.status = 200;
    response.set_header("Cache-Control", std::string(kAssetCacheControl));
    response.set_content(std::string(asset->content), std::string(asset->content_type).c_str());
  }

  void ServeWebhook(const httplib::Request& request, httplib::Response& response) const {
    WebhookAnswer answer = options.webhook(ClientHeaders(request), request.body);
    response.status = answer.status;
    response.set_header("Cache-Control", std::string(kDataCacheControl));
    response.set_content(answer.body, answer.content_type.c_str());
  }

  StatusListenerOptions options;
  std::unique_ptr<httplib::Server> server;
  ListenerThread listener;  // declared after server: joined before the server goes
};

Result<std::unique_ptr<StatusListener>> StatusListener::Create(StatusListenerOptions options) {
  if (!options.snapshot) return Status::InvalidArgument("the status listener needs a snapshot source");
  if (!options.find_asset) return Status::InvalidArgument("the status listener needs the page's assets");
  if (options.worker_threads == 0) return Status::InvalidArgument("worker_threads must be at least 1");
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->server = std::make_unique<httplib::Server>();
  httplib::Server& server = *impl->server;
  Impl* raw = impl.get();

  // Debian's compiled library ignores CPPHTTPLIB_THREAD_POOL_COUNT: size the pool here.
  std::size_t workers = raw->options.worker_threads;
  server.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server.set_read_timeout(raw->options.read_timeout);
  server.set_write_timeout(raw->options.write_timeout);
  server.set_keep_alive_timeout(raw->options.keep_alive_timeout.count());
  server.set_keep_alive_max_count(kKeepAliveMaxCount);
  server.set_payload_max_length(raw->options.webhook ? raw->options.max_webhook_body : 0);
  // On every answer, refusals and httplib's own errors included.
  server.set_default_headers({
      {"Content-Security-Policy", std::string(kStatusContentSecurityPolicy)},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  });
  server.set_pre_routing_handler(
      [raw](const httplib::Request& request, httplib::Response& response) { return raw->PreRoute(request, response); });
  server.set_expect_100_continue_handler([raw](const httplib::Request& request, httplib::Response& response) {
    return raw->PreRoute(request, response) == httplib::Server::HandlerResponse::Handled ? response.status : 100;
  });
  // The default would put e.what() in an EXCEPTION_WHAT response header.
  server.set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
    Refuse(response, 500, "internal error");
  });

  // Exact routes first; the pre-routing guard has already refused long or odd paths.
  server.Get("/status.json", [raw](const httplib::Request&, httplib::Response& response) { raw->ServeSnapshot(response); });
  server.Get("/badge.svg", [raw](const httplib::Request&, httplib::Response& response) { raw->ServeBadge(response); });
  server.Get("/metrics", [raw](const httplib::Request&, httplib::Response& response) { raw->ServeMetrics(response); });
  server.Get(R"(/[A-Za-z0-9._-]*)",
             [raw](const httplib::Request& request, httplib::Response& response) { raw->ServeAsset(request, response); });
  if (raw->options.webhook) {
    server.Post(std::string(kWebhookPath), [raw](const httplib::Request& request, httplib::Response& response) {
      raw->ServeWebhook(request, response);
    });
  }
  return std::unique_ptr<StatusListener>(new StatusListener(std::move(impl)));
}

StatusListener::StatusListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StatusListener::~StatusListener() { Stop(); }

Result<int> StatusListener::Start(const std::string& host, int port) {
  return impl_->listener.Start(*impl_->server, host, port, "the status listener");
}

void StatusListener::Stop() {
  impl_->listener.Stop(*impl_->server, [] {});
}

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
