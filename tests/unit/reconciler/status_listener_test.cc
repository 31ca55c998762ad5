// The status listener on a real loopback socket: the page's files, /status.json, /badge.svg
// and /metrics; HEAD; every other method refused 405 with an Allow header; the security
// headers on every answer (refusals included); the webhook route handed to its handler with
// the guard's body cap and Content-Length required; guard refusals written by hand.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "reconciler/pki/certificate_authority.h"
#include "reconciler/status/badge.h"
#include "reconciler/status/metrics.h"
#include "reconciler/status/snapshot_json.h"
#include "reconciler/status/status_listener.h"

namespace ww {
namespace {

constexpr const char* kSnapshot =
    R"({"now": 100, "converged": true, "revision": {"id": 4, "source": "git", "commit": "c0ffee", "createdAt": 90},)"
    R"( "rejected": null, "agents": [{"name": "vps", "connected": true, "phase": "converged"}], "tunnels": [],)"
    R"( "forwards": [], "revisions": [], "events": []})";
constexpr std::string_view kIndexHtml = "<!doctype html><title>WireWarp</title>";
constexpr std::string_view kAppJs = "console.log(1);";

std::optional<StaticAsset> FindTestAsset(std::string_view path) {
  if (path == "/") return StaticAsset{"text/html; charset=utf-8", kIndexHtml};
  if (path == "/app.js") return StaticAsset{"text/javascript; charset=utf-8", kAppJs};
  return std::nullopt;
}

struct WebhookCall {
  HttpHeaders headers;
  std::string body;
};

// --status-tls: the reconciler's server certificate and key.
struct ServerTls {
  std::string certificate_pem;
  std::string private_key_pem;
};

// A listener on 127.0.0.1 with a fixed snapshot and a recording webhook handler.
class ListenerFixture {
 public:
  explicit ListenerFixture(bool with_webhook = true, std::size_t max_webhook_body = 1024, ServerTls tls = {}) {
    StatusListenerOptions options;
    options.tls_certificate_pem = std::move(tls.certificate_pem);
    options.tls_private_key_pem = std::move(tls.private_key_pem);
    // The canned text is served as is; the badge and metrics render from what it reads.
    options.snapshot = [this]() -> Result<std::shared_ptr<const PublishedSnapshot>> {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!snapshot_.ok()) return snapshot_.status();
      WW_ASSIGN_OR_RETURN(FleetSnapshot snapshot, FleetSnapshotFromJson(*snapshot_));
      return std::make_shared<const PublishedSnapshot>(PublishedSnapshot{std::move(snapshot), *snapshot_});
    };
    options.find_asset = FindTestAsset;
    if (with_webhook) {
      options.webhook = [this](const HttpHeaders& headers, const std::string& body) {
        std::lock_guard<std::mutex> lock(mutex_);
        calls_.push_back(WebhookCall{headers, body});
        return WebhookAnswer{202, "application/json", "{\"accepted\":true}"};
      };
    }
    options.max_webhook_body = max_webhook_body;
    Result<std::unique_ptr<StatusListener>> listener = StatusListener::Create(std::move(options));
    REQUIRE(listener.ok());
    listener_ = std::move(listener).value();
    Result<int> port = listener_->Start("127.0.0.1", 0);
    REQUIRE(port.ok());
    port_ = *port;
  }

  int port() const { return port_; }
  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(5);
    client.set_read_timeout(5);
    return client;
  }
  void SetSnapshot(Result<std::string> snapshot) {
    std::lock_guard<std::mutex> lock(mutex_);
    snapshot_ = std::move(snapshot);
  }
  std::vector<WebhookCall> Calls() {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  Result<std::string> snapshot_ = std::string(kSnapshot);
  std::vector<WebhookCall> calls_;
  std::unique_ptr<StatusListener> listener_;
  int port_ = 0;
};

// Sends `request` verbatim and returns everything the server answers until it closes (or 5 s).
std::string RawExchange(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string answer;
  char buffer[4096];
  while (true) {
    ssize_t received = recv(fd, buffer, sizeof(buffer), 0);
    if (received <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(received));
  }
  close(fd);
  return answer;
}

std::string StatusLine(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

void CheckSecurityHeaders(const httplib::Result& result) {
  REQUIRE(result);
  CHECK(result->get_header_value("Content-Security-Policy") ==
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  CHECK(result->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(result->get_header_value("Referrer-Policy") == "no-referrer");
  CHECK(result->get_header_value("X-Frame-Options") == "DENY");
  CHECK(result->get_header_value_count("Content-Security-Policy") == 1);
}

TEST_CASE("status listener: the page's files with their content types") {
  ListenerFixture fixture;
  httplib::Client client = fixture.Client();
  httplib::Result index = client.Get("/");
  REQUIRE(index);
  CHECK(index->status == 200);
  CHECK(index->body == kIndexHtml);
  CHECK(index->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(index->get_header_value("Cache-Control") == "no-cache");
  CheckSecurityHeaders(index);

  httplib::Result script = client.Get("/app.js");
  REQUIRE(script);
  CHECK(script->status == 200);
  CHECK(script->body == kAppJs);
  CHECK(script->get_header_value("Content-Type") == "text/javascript; charset=utf-8");

  httplib::Result missing = client.Get("/secret.txt");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body == "no such page: \"/secret.txt\"\n");
  CheckSecurityHeaders(missing);
  httplib::Result nested = client.Get("/a/b");
  REQUIRE(nested);
  CHECK(nested->status == 404);
  CheckSecurityHeaders(nested);
}

TEST_CASE("status listener: status.json, badge.svg and metrics come from the snapshot, never cached") {
  ListenerFixture fixture;
  httplib::Client client = fixture.Client();
  httplib::Result json = client.Get("/status.json");
  REQUIRE(json);
  CHECK(json->status == 200);
  CHECK(json->body == kSnapshot);
  CHECK(json->get_header_value("Content-Type") == "application/json");
  CHECK(json->get_header_value("Cache-Control") == "no-store");
  CheckSecurityHeaders(json);

  httplib::Result badge = client.Get("/badge.svg");
  REQUIRE(badge);
  CHECK(badge->status == 200);
  CHECK(badge->body == BadgeSvg({BadgeState::kConverged, 0}));
  CHECK(badge->get_header_value("Content-Type") == "image/svg+xml");
  CHECK(badge->get_header_value("Cache-Control") == "no-store");

  httplib::Result metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  Result<FleetSnapshot> expected = FleetSnapshotFromJson(kSnapshot);
  REQUIRE(expected.ok());
  CHECK(metrics->body == MetricsFromSnapshot(*expected));
  CHECK(metrics->body.find("wirewarp_fleet_converged 1\n") != std::string::npos);
  CHECK(metrics->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(metrics->get_header_value("Cache-Control") == "no-store");
}

TEST_CASE("status listener: an unavailable or malformed snapshot is answered 503") {
  ListenerFixture fixture;
  httplib::Client client = fixture.Client();
  fixture.SetSnapshot(Status::Unavailable("the store is locked"));
  for (const char* path : {"/status.json", "/badge.svg", "/metrics"}) {
    CAPTURE(path);
    httplib::Result result = client.Get(path);
    REQUIRE(result);
    CHECK(result->status == 503);
    CHECK(result->body == "{\"error\":\"the fleet snapshot is unavailable: the store is locked\"}\n");
    CheckSecurityHeaders(result);
  }
  fixture.SetSnapshot(std::string("{\"converged\": 1}"));
  httplib::Result badge = client.Get("/badge.svg");
  REQUIRE(badge);
  CHECK(badge->status == 503);
  CHECK(badge->body == "{\"error\":\"the fleet snapshot is unavailable: snapshot converged: 1 is not true or false\"}\n");
}

TEST_CASE("status listener: HEAD answers the headers without a body") {
  ListenerFixture fixture;
  httplib::Client client = fixture.Client();
  httplib::Result head = client.Head("/status.json");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  CHECK(head->get_header_value("Content-Length") == std::to_string(std::string_view(kSnapshot).size()));
  CheckSecurityHeaders(head);

  std::string raw = RawExchange(fixture.port(), "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(StatusLine(raw) == "HTTP/1.1 200 OK");
  CHECK(raw.ends_with("\r\n\r\n"));  // headers only
  CHECK(raw.find("Content-Length: " + std::to_string(kIndexHtml.size()) + "\r\n") != std::string::npos);
}

TEST_CASE("status listener: every method but GET and HEAD is refused 405 with Allow") {
  ListenerFixture fixture;
  httplib::Client client = fixture.Client();
  for (const char* path : {"/", "/status.json", "/metrics", "/nowhere"}) {
    CAPTURE(path);
    httplib::Result post = client.Post(path, "{}", "application/json");
    httplib::Result put = client.Put(path, "{}", "application/json");
    httplib::Result patch = client.Patch(path, "{}", "application/json");
    httplib::Result remove = client.Delete(path);
    httplib::Result options = client.Options(path);
    for (const httplib::Result* result : {&post, &put, &patch, &remove, &options}) {
      REQUIRE(*result);
      CHECK((*result)->status == 405);
      CHECK((*result)->get_header_value("Allow") == "GET, HEAD");
      CheckSecurityHeaders(*result);
    }
  }
  CHECK(fixture.Calls().empty());
  // The webhook path accepts POST alone.
  httplib::Result get_hook = client.Get("/hooks/git");
  REQUIRE(get_hook);
  CHECK(get_hook->status == 405);
  CHECK(get_hook->get_header_value("Allow") == "POST");
  httplib::Result put_hook = client.Put("/hooks/git", "{}", "application/json");
  REQUIRE(put_hook);
  CHECK(put_hook->status == 405);
  CHECK(fixture.Calls().empty());
}

TEST_CASE("status listener: POST /hooks/git reaches the webhook handler with headers and body") {
  ListenerFixture fixture;
  httplib::Client client = fixture.Client();
  httplib::Headers headers = {{"X-Hub-Signature-256", "sha256=abc"}, {"X-GitHub-Delivery", "d-1"},
                              {"REMOTE_ADDR", "6.6.6.6"}};
  httplib::Result result = client.Post("/hooks/git", headers, "{\"ref\":\"refs/heads/main\"}", "application/json");
  REQUIRE(result);
  CHECK(result->status == 202);
  CHECK(result->body == "{\"accepted\":true}");
  CHECK(result->get_header_value("Cache-Control") == "no-store");
  CheckSecurityHeaders(result);
  std::vector<WebhookCall> calls = fixture.Calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].body == "{\"ref\":\"refs/heads/main\"}");
  auto header = [&](std::string_view name) {
    std::vector<std::string> values;
    for (const auto& [key, value] : calls[0].headers) {
      if (key == name) values.push_back(value);
    }
    return values;
  };
  CHECK(header("X-Hub-Signature-256") == std::vector<std::string>{"sha256=abc"});
  CHECK(header("X-GitHub-Delivery") == std::vector<std::string>{"d-1"});
  CHECK(header("REMOTE_ADDR").empty());  // neither the client's nor httplib's own
}

TEST_CASE("status listener: webhook bodies need Content-Length and stay under the cap") {
  ListenerFixture fixture(/*with_webhook=*/true, /*max_webhook_body=*/16);
  int port = fixture.port();
  std::string no_length = RawExchange(port, "POST /hooks/git HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(StatusLine(no_length) == "HTTP/1.1 411 Length Required");
  CHECK(no_length.find("Content-Security-Policy: default-src 'none';") != std::string::npos);

  std::string chunked = RawExchange(
      port, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  CHECK(StatusLine(chunked) == "HTTP/1.1 411 Length Required");

  std::string gzip = RawExchange(
      port, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd");
  CHECK(StatusLine(gzip) == "HTTP/1.1 415 Unsupported Media Type");

  std::string too_big = RawExchange(port, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n");
  CHECK(StatusLine(too_big) == "HTTP/1.1 413 Payload Too Large");
  CHECK(too_big.find("Content-Length 17 is above the limit of 16 bytes") != std::string::npos);

  std::string at_cap = RawExchange(
      port, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
  CHECK(StatusLine(at_cap) == "HTTP/1.1 202 Accepted");
  std::vector<WebhookCall> calls = fixture.Calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].body == "0123456789abcdef");
}

TEST_CASE("status listener: without a webhook handler the hook path is read-only like the rest") {
  ListenerFixture fixture(/*with_webhook=*/false);
  httplib::Client client = fixture.Client();
  httplib::Result post = client.Post("/hooks/git", "{}", "application/json");
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(post->get_header_value("Allow") == "GET, HEAD");
  httplib::Result get = client.Get("/hooks/git");
  REQUIRE(get);
  CHECK(get->status == 404);
}

TEST_CASE("status listener: hostile GETs are refused by the request guard") {
  ListenerFixture fixture;
  int port = fixture.port();
  CHECK(StatusLine(RawExchange(port, "GET /..%2f..%2fetc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")) ==
        "HTTP/1.1 400 Bad Request");
  CHECK(StatusLine(RawExchange(port, "GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n")) ==
        "HTTP/1.1 400 Bad Request");
  CHECK(StatusLine(RawExchange(port, "GET /status.json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")) ==
        "HTTP/1.1 413 Payload Too Large");
  std::string flood = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 70; ++i) flood += "X-Flood-" + std::to_string(i) + ": 1\r\n";
  CHECK(StatusLine(RawExchange(port, flood + "\r\n")) == "HTTP/1.1 431 Request Header Fields Too Large");
}

TEST_CASE("status listener: options are checked and listen addresses parsed") {
  CHECK_FALSE(StatusListener::Create(StatusListenerOptions{}).ok());
  Result<std::pair<std::string, int>> address = ParseListenAddress("127.0.0.1:8080");
  REQUIRE(address.ok());
  CHECK(address->first == "127.0.0.1");
  CHECK(address->second == 8080);
  Result<std::pair<std::string, int>> any = ParseListenAddress("0.0.0.0:1");
  REQUIRE(any.ok());
  CHECK(any->second == 1);
  CHECK(ParseListenAddress("8080").status().message() == "listen address \"8080\" is not HOST:PORT");
  CHECK(ParseListenAddress("127.0.0.1:http").status().message() ==
        "listen address \"127.0.0.1:http\": \"http\" is not a port (expected 1-65535)");
  CHECK(ParseListenAddress("example.com:80").status().message() ==
        "listen address \"example.com:80\": host \"example.com\" is not an IPv4 address or localhost");
}

}  // namespace
}  // namespace ww

namespace ww {
namespace {

TEST_CASE("status listener: with TLS the page and the webhook answer over HTTPS, and plain HTTP is refused") {
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  Result<CertificateAuthority> ca = CertificateAuthority::Create("WireWarp CA ftest", now);
  REQUIRE(ca.ok());
  Result<IssuedServerCertificate> server = ca->IssueServer("", {"localhost"}, {"127.0.0.1"}, now);
  REQUIRE(server.ok());
  ListenerFixture fixture(true, 1024, ServerTls{server->certificate.pem, server->private_key_pem});

  httplib::SSLClient client("127.0.0.1", fixture.port());
  BIO* bio = BIO_new_mem_buf(ca->CertificatePem().data(), static_cast<int>(ca->CertificatePem().size()));
  X509* ca_certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(ca_certificate != nullptr);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca_certificate);
  X509_free(ca_certificate);
  client.set_ca_cert_store(store);  // takes ownership
  client.enable_server_certificate_verification(true);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);

  httplib::Result page = client.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body == kIndexHtml);
  CheckSecurityHeaders(page);
  httplib::Result snapshot = client.Get("/status.json");
  REQUIRE(snapshot);
  CHECK(snapshot->status == 200);
  CHECK(snapshot->body == kSnapshot);
  httplib::Result hook =
      client.Post("/hooks/git", {{"X-Gitlab-Token", "secret-token"}}, "{\"ref\":\"refs/heads/main\"}", "application/json");
  REQUIRE(hook);
  CHECK(hook->status == 202);
  REQUIRE(fixture.Calls().size() == 1);
  CHECK(fixture.Calls()[0].body == "{\"ref\":\"refs/heads/main\"}");

  // Plain HTTP gets no HTTP answer, and reaches no handler.
  httplib::Result plain = fixture.Client().Get("/");
  CHECK_FALSE(plain);
  std::string raw = RawExchange(fixture.port(), "POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  CHECK(raw.find("HTTP/1.1") == std::string::npos);
  CHECK(fixture.Calls().size() == 1);
}

TEST_CASE("status listener: a TLS certificate without its key is refused at creation") {
  StatusListenerOptions options;
  options.snapshot = []() -> Result<std::shared_ptr<const PublishedSnapshot>> { return Status::Unavailable("none"); };
  options.find_asset = FindTestAsset;
  options.tls_certificate_pem = "-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n";
  Result<std::unique_ptr<StatusListener>> listener = StatusListener::Create(std::move(options));
  CHECK(listener.status() == Status::InvalidArgument("server certificate is not a PEM certificate"));
}

}  // namespace
}  // namespace ww
