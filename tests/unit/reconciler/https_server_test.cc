// HttpsServer against a real TLS listener on 127.0.0.1 with certificates from our CA:
// identity reaches handlers, missing/foreign/revoked certificates are refused, hostile
// requests written by hand over raw TLS are refused before any handler (and before any body
// is read), the REMOTE_ADDR header is ignored, parked long-polls hold no worker and do not
// starve other requests, Stop() answers them, and the TLS handshake and head have a deadline.

#include <arpa/inet.h>
#include <doctest/doctest.h>

#include "tests/support/test_files.h"
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "reconciler/api/https_server.h"
#include "reconciler/pki/certificate_authority.h"
#include "tests/support/process_watch.h"

namespace ww {
namespace {
using test_support::UnixNow;


struct Credentials {
  std::string certificate_pem;
  std::string key_pem;
  std::string serial;
};

CertificateAuthority MakeCa(const char* name) {
  Result<CertificateAuthority> ca = CertificateAuthority::Create(name, UnixNow());
  REQUIRE(ca.ok());
  return std::move(ca).value();
}

Credentials IssueClient(const CertificateAuthority& ca, Identity identity) {
  Result<std::string> key = GenerateP256Key();
  REQUIRE(key.ok());
  Result<std::string> csr = MakeCsr(*key, identity.id);
  REQUIRE(csr.ok());
  Result<IssuedCertificate> issued = ca.IssueClient(*csr, identity, UnixNow());
  REQUIRE(issued.ok());
  return Credentials{issued->pem, *key, issued->serial_hex};
}

X509* ReadX509(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(certificate != nullptr);
  return certificate;
}

EVP_PKEY* ReadKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(key != nullptr);
  return key;
}

// An httplib client that trusts `ca` for the server and presents `client` (if any).
std::unique_ptr<httplib::SSLClient> MakeClient(int port, const CertificateAuthority& ca, const Credentials* client) {
  std::unique_ptr<httplib::SSLClient> result;
  if (client != nullptr) {
    X509* certificate = ReadX509(client->certificate_pem);
    EVP_PKEY* key = ReadKey(client->key_pem);
    result = std::make_unique<httplib::SSLClient>("127.0.0.1", port, certificate, key);
    X509_free(certificate);
    EVP_PKEY_free(key);
  } else {
    result = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  }
  X509_STORE* store = X509_STORE_new();
  X509* ca_certificate = ReadX509(ca.CertificatePem());
  X509_STORE_add_cert(store, ca_certificate);
  X509_free(ca_certificate);
  result->set_ca_cert_store(store);  // takes ownership
  result->enable_server_certificate_verification(true);
  result->set_connection_timeout(10);
  result->set_read_timeout(60);
  return result;
}

struct RawReply {
  bool handshake_ok = false;
  std::string response;        // status line, headers and body as read
  bool closed_after = false;   // the server closed the connection after its response
};

std::string StatusLine(const std::string& response) { return response.substr(0, response.find("\r\n")); }

// Writes `bytes` by hand over a fresh TLS connection (with `client`'s certificate) and reads
// one response: headers, then Content-Length bytes of body. With `check_close`, then waits for
// the server to close (a 20 s socket timeout stands in for "never").
RawReply RawExchange(int port, const Credentials& client, const std::string& bytes, bool check_close = false) {
  RawReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  X509* certificate = ReadX509(client.certificate_pem);
  EVP_PKEY* key = ReadKey(client.key_pem);
  SSL_CTX_use_certificate(context, certificate);
  SSL_CTX_use_PrivateKey(context, key);
  X509_free(certificate);
  EVP_PKEY_free(key);
  SSL* ssl = SSL_new(context);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) == 1 && SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size())) > 0) {
    reply.handshake_ok = true;
    char buffer[4096];
    std::size_t wanted = std::string::npos;
    for (;;) {
      std::size_t header_end = reply.response.find("\r\n\r\n");
      if (header_end != std::string::npos && wanted == std::string::npos) {
        std::size_t length = 0;
        std::size_t at = reply.response.find("Content-Length: ");
        if (at != std::string::npos && at < header_end) length = std::stoul(reply.response.substr(at + 16));
        wanted = header_end + 4 + length;
      }
      if (wanted != std::string::npos && reply.response.size() >= wanted) break;
      int got = SSL_read(ssl, buffer, sizeof(buffer));
      if (got <= 0) break;
      reply.response.append(buffer, static_cast<std::size_t>(got));
    }
    if (check_close) reply.closed_after = SSL_read(ssl, buffer, sizeof(buffer)) <= 0;
  }
  SSL_free(ssl);
  SSL_CTX_free(context);
  close(fd);
  return reply;
}

// A server with the routes the tests use; every handler call is counted.
struct Fixture {
  std::atomic<std::int64_t> clock_offset{0};  // moves the server's clock, not the TLS layer's
  explicit Fixture(std::size_t workers = 16, HttpLimits limits = {}) : ca(MakeCa("test CA")) {
    Result<IssuedServerCertificate> server_certificate = ca.IssueServer("", {"localhost"}, {"127.0.0.1"}, UnixNow());
    REQUIRE(server_certificate.ok());
    agent = IssueClient(ca, {IdentityKind::kAgent, "node-1", "prod"});
    HttpsServerOptions options;
    options.server_certificate_pem = server_certificate->certificate.pem;
    options.server_private_key_pem = server_certificate->private_key_pem;
    options.worker_threads = workers;
    options.http = limits;
    options.now = [this] { return UnixNow() + clock_offset.load(); };
    options.fleet = "prod";
    options.is_revoked = [this](const std::string& serial) {
      std::lock_guard<std::mutex> lock(mutex);
      return serial == revoked_serial;
    };
    Result<std::unique_ptr<HttpsServer>> created = HttpsServer::Create(ca, std::move(options));
    REQUIRE(created.ok());
    server = std::move(created).value();

    server->OnAuthenticated([this](const Identity& identity, const std::string& serial) {
      std::lock_guard<std::mutex> lock(mutex);
      authenticated.push_back(IdentityUri(identity) + " " + serial);
    });
    RouteOptions required;
    RouteOptions optional{ClientCertificate::kOptional};
    REQUIRE(server->Route(HttpMethod::kGet, "/whoami", required, [this](const HttpRequest& request) {
      ++handler_calls;
      bool header_visible = false;
      for (const auto& [name, value] : request.headers) header_visible = header_visible || name == "REMOTE_ADDR";
      return HttpResponse{200, "text/plain",
                          IdentityUri(*request.identity) + " " + request.remote_addr + (header_visible ? " spoofed" : "")};
    }).ok());
    REQUIRE(server->Route(HttpMethod::kGet, "/public", optional, [this](const HttpRequest& request) {
      ++handler_calls;
      return HttpResponse{200, "text/plain", request.identity ? IdentityUri(*request.identity) : "anonymous"};
    }).ok());
    REQUIRE(server->Route(HttpMethod::kGet, "/v1/agents/([a-z0-9-]{1,63})/plan", required, [this](const HttpRequest& request) {
      ++handler_calls;
      return HttpResponse{200, "text/plain", "plan for " + request.path_parameters.at(0)};
    }).ok());
    RouteOptions small_body = required;
    small_body.max_body = 1024;
    REQUIRE(server->Route(HttpMethod::kPost, "/v1/report", small_body, [this](const HttpRequest& request) {
      ++handler_calls;
      return HttpResponse{200, "text/plain", "got " + std::to_string(request.body.size())};
    }).ok());
    REQUIRE(server->Route(HttpMethod::kGet, "/poll", required, [this](const HttpRequest& request) {
      ++handler_calls;
      // Parked: the connection waits on the hub, no worker does.
      return ParkedResponse(LongPoll{request.QueryValue("key").value_or(""), 0, std::chrono::minutes(2),
                                     [](const LongPollHub::WaitResult& result) {
                                       switch (result.outcome) {
                                         case LongPollHub::WaitOutcome::kNewer:
                                           return HttpResponse{200, "text/plain", "newer " + std::to_string(result.generation)};
                                         case LongPollHub::WaitOutcome::kTimedOut: return HttpResponse{200, "text/plain", "timed out"};
                                         case LongPollHub::WaitOutcome::kShutdown: return HttpResponse{503, "text/plain", "shutting down"};
                                         case LongPollHub::WaitOutcome::kRevoked: return HttpResponse{401, "text/plain", "revoked"};
                                       }
                                       return HttpResponse{500, "text/plain", ""};
                                     }});
    }).ok());
    Result<int> bound = server->Start("127.0.0.1", 0);
    REQUIRE(bound.ok());
    port = *bound;
    REQUIRE(port > 0);
  }

  // Not a timing assertion: the deadline only turns "never" (too few workers) into a failure.
  void WaitForWaiters(std::size_t count) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (server->long_polls().Waiting() < count && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    REQUIRE(server->long_polls().Waiting() == count);
  }

  CertificateAuthority ca;
  Credentials agent;
  std::unique_ptr<HttpsServer> server;
  int port = 0;
  std::atomic<int> handler_calls{0};
  std::mutex mutex;
  std::string revoked_serial;
  std::vector<std::string> authenticated;  // on_authenticated calls: "URI SERIAL"
};

TEST_CASE("https: a valid client certificate reaches the handler with its identity") {
  Fixture fixture;
  auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
  httplib::Result result = client->Get("/whoami");
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(result->body == "wirewarp://prod/agent/node-1 127.0.0.1");
  httplib::Result plan = client->Get("/v1/agents/node-1/plan");
  REQUIRE(plan);
  CHECK(plan->body == "plan for node-1");
  httplib::Result report = client->Post("/v1/report", std::string(1024, 'x'), "application/json");
  REQUIRE(report);
  CHECK(report->status == 200);
  CHECK(report->body == "got 1024");
  CHECK(fixture.handler_calls == 3);
}

TEST_CASE("https: no client certificate gets 401 on a protected route, and passes on an optional one") {
  Fixture fixture;
  auto client = MakeClient(fixture.port, fixture.ca, nullptr);
  httplib::Result refused = client->Get("/whoami");
  REQUIRE(refused);
  CHECK(refused->status == 401);
  CHECK(refused->body == R"({"error":"no client certificate"})");
  httplib::Result open = client->Get("/public");
  REQUIRE(open);
  CHECK(open->status == 200);
  CHECK(open->body == "anonymous");
  CHECK(fixture.handler_calls == 1);

  auto with_certificate = MakeClient(fixture.port, fixture.ca, &fixture.agent);
  httplib::Result identified = with_certificate->Get("/public");
  REQUIRE(identified);
  CHECK(identified->body == "wirewarp://prod/agent/node-1");
}

TEST_CASE("https: a certificate of another install whose CA has the same name is refused, saying so") {
  Fixture fixture;
  // Another WireWarp install: a CA of the same name, its own fleet.
  CertificateAuthority other = MakeCa("test CA");
  Credentials stranger = IssueClient(other, {IdentityKind::kAdmin, "admin", "fother"});
  auto client = MakeClient(fixture.port, fixture.ca, &stranger);
  const std::string expected =
      R"({"error":"client certificate refused (unable to verify the first certificate): it names issuer \"test CA\" and )"
      R"(fleet \"fother\", but was not signed by this reconciler's CA \"test CA\" (fleet \"prod\") — a credential )"
      R"(of another WireWarp install? Use one this reconciler issued"})";
  httplib::Result result = client->Get("/whoami");
  REQUIRE(result);
  CHECK(result->status == 401);
  CHECK(result->body == expected);
  // Even on a route that needs no certificate: one that is presented must verify.
  httplib::Result open = client->Get("/public");
  REQUIRE(open);
  CHECK(open->status == 401);
  CHECK(open->body == expected);
  // A CA of another name: the same story, naming it.
  CertificateAuthority renamed = MakeCa("WireWarp CA fother");
  Credentials foreign = IssueClient(renamed, {IdentityKind::kAgent, "node-1", "fother"});
  httplib::Result named = MakeClient(fixture.port, fixture.ca, &foreign)->Get("/whoami");
  REQUIRE(named);
  CHECK(named->status == 401);
  CHECK(named->body.find(R"(it names issuer \"WireWarp CA fother\" and fleet \"fother\")") != std::string::npos);
  CHECK(fixture.handler_calls == 0);
  std::lock_guard<std::mutex> lock(fixture.mutex);
  CHECK(fixture.authenticated.empty());
}

TEST_CASE("https: a certificate this CA signed for another fleet is refused, naming both fleets") {
  Fixture fixture;
  Credentials other_fleet = IssueClient(fixture.ca, {IdentityKind::kAdmin, "admin", "staging"});
  auto client = MakeClient(fixture.port, fixture.ca, &other_fleet);
  httplib::Result result = client->Get("/whoami");
  REQUIRE(result);
  CHECK(result->status == 401);
  CHECK(result->body ==
        R"({"error":"client certificate wirewarp://staging/admin/admin belongs to fleet \"staging\", this reconciler )"
        R"(serves fleet \"prod\"; use a credential this reconciler issued"})");
  // Optional routes treat it as no certificate at all, like a revoked one.
  httplib::Result open = client->Get("/public");
  REQUIRE(open);
  CHECK(open->body == "anonymous");
  // The same certificate, checked before from the cache: still refused.
  httplib::Result again = client->Get("/whoami");
  REQUIRE(again);
  CHECK(again->status == 401);
  CHECK(fixture.handler_calls == 1);
}

TEST_CASE("https: OnAuthenticated sees each request's verified identity and serial before the handler") {
  Fixture fixture;
  auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
  REQUIRE(client->Get("/whoami"));
  REQUIRE(client->Get("/public"));
  REQUIRE(MakeClient(fixture.port, fixture.ca, nullptr)->Get("/public"));
  std::lock_guard<std::mutex> lock(fixture.mutex);
  const std::string expected = "wirewarp://prod/agent/node-1 " + fixture.agent.serial;
  CHECK(fixture.authenticated == std::vector<std::string>{expected, expected});
}

TEST_CASE("https: a certificate already seen is refused once the server's clock passes its end") {
  Fixture fixture;
  auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
  httplib::Result before = client->Get("/whoami");  // verified fully, then remembered
  REQUIRE(before);
  CHECK(before->status == 200);
  fixture.clock_offset = std::chrono::duration_cast<std::chrono::seconds>(kClientCertificateLifetime).count() + 60;
  httplib::Result after = client->Get("/whoami");
  REQUIRE(after);
  CHECK(after->status == 401);
  CHECK(after->body == R"({"error":"client certificate is outside its validity period"})");
  CHECK(fixture.handler_calls == 1);
}

TEST_CASE("https: a revoked certificate gets 401") {
  Fixture fixture;
  Credentials revoked = IssueClient(fixture.ca, {IdentityKind::kAgent, "node-2", "prod"});
  {
    std::lock_guard<std::mutex> lock(fixture.mutex);
    fixture.revoked_serial = revoked.serial;
  }
  auto client = MakeClient(fixture.port, fixture.ca, &revoked);
  httplib::Result result = client->Get("/whoami");
  REQUIRE(result);
  CHECK(result->status == 401);
  CHECK(result->body == R"({"error":"client certificate )" + revoked.serial + R"( is revoked"})");
  // Checked on every request, not once per connection.
  auto good = MakeClient(fixture.port, fixture.ca, &fixture.agent);
  good->set_keep_alive(true);
  REQUIRE(good->Get("/whoami"));
  {
    std::lock_guard<std::mutex> lock(fixture.mutex);
    fixture.revoked_serial = fixture.agent.serial;
  }
  httplib::Result after = good->Get("/whoami");
  REQUIRE(after);
  CHECK(after->status == 401);
  CHECK(fixture.handler_calls == 1);
}

TEST_CASE("https: hostile requests over raw TLS are refused before any handler") {
  Fixture fixture;
  const std::string host = "Host: 127.0.0.1\r\n";

  SUBCASE("chunked body") {
    RawReply reply = RawExchange(fixture.port, fixture.agent,
                                 "POST /v1/report HTTP/1.1\r\n" + host +
                                     "Transfer-Encoding: chunked\r\n\r\n400\r\n" + std::string(1024, 'x') + "\r\n0\r\n\r\n",
                                 true);
    CHECK(reply.handshake_ok);
    CHECK(StatusLine(reply.response) == "HTTP/1.1 411 Length Required");
    CHECK(reply.closed_after);
  }
  SUBCASE("gzip body") {
    RawReply reply = RawExchange(fixture.port, fixture.agent,
                                 "POST /v1/report HTTP/1.1\r\n" + host +
                                     "Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd");
    CHECK(StatusLine(reply.response) == "HTTP/1.1 415 Unsupported Media Type");
  }
  SUBCASE("the body of a refused request is never parsed as a further request") {
    std::string smuggled = "GET /whoami HTTP/1.1\r\n" + host + "\r\n";
    RawReply reply = RawExchange(fixture.port, fixture.agent,
                                 "POST /v1/report HTTP/1.1\r\n" + host + "Content-Encoding: gzip\r\nContent-Length: " +
                                     std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled,
                                 true);
    CHECK(StatusLine(reply.response) == "HTTP/1.1 415 Unsupported Media Type");
    CHECK(reply.response.find("HTTP/1.1", 1) == std::string::npos);  // one answer only
    CHECK(reply.closed_after);
    CHECK(fixture.handler_calls == 0);
  }
  SUBCASE("POST without Content-Length is answered without reading to EOF") {
    RawReply reply = RawExchange(fixture.port, fixture.agent, "POST /v1/report HTTP/1.1\r\n" + host + "\r\nbody", true);
    CHECK(StatusLine(reply.response) == "HTTP/1.1 411 Length Required");
    CHECK(reply.closed_after);
  }
  SUBCASE("Content-Length above the route's limit is answered before the body arrives") {
    // No body is sent: a server that read it first would never answer.
    RawReply reply =
        RawExchange(fixture.port, fixture.agent, "POST /v1/report HTTP/1.1\r\n" + host + "Content-Length: 1025\r\n\r\n", true);
    CHECK(StatusLine(reply.response) == "HTTP/1.1 413 Payload Too Large");
    CHECK(reply.response.find("Content-Length 1025 is above the limit of 1024 bytes") != std::string::npos);
    CHECK(reply.closed_after);
  }
  SUBCASE("Expect: 100-continue above the limit gets 413, not 100") {
    RawReply reply = RawExchange(fixture.port, fixture.agent,
                                 "POST /v1/report HTTP/1.1\r\n" + host +
                                     "Expect: 100-continue\r\nContent-Length: 5000000\r\n\r\n");
    CHECK(StatusLine(reply.response) == "HTTP/1.1 413 Payload Too Large");
  }
  SUBCASE("100 headers") {
    std::string headers;
    for (int i = 0; i < 100; ++i) headers += "X-Flood-" + std::to_string(i) + ": y\r\n";
    RawReply reply = RawExchange(fixture.port, fixture.agent, "GET /whoami HTTP/1.1\r\n" + host + headers + "\r\n");
    CHECK(StatusLine(reply.response) == "HTTP/1.1 431 Request Header Fields Too Large");
  }
  SUBCASE("8,000-character path on a regex route") {
    RawReply reply = RawExchange(fixture.port, fixture.agent,
                                 "GET /v1/agents/" + std::string(8000, 'a') + "/plan HTTP/1.1\r\n" + host + "\r\n");
    CHECK(StatusLine(reply.response) == "HTTP/1.1 400 Bad Request");
  }
  SUBCASE("traversal") {
    RawReply reply = RawExchange(fixture.port, fixture.agent, "GET /v1/../whoami HTTP/1.1\r\n" + host + "\r\n");
    CHECK(StatusLine(reply.response) == "HTTP/1.1 400 Bad Request");
    RawReply encoded = RawExchange(fixture.port, fixture.agent, "GET /v1/%2E%2e/whoami HTTP/1.1\r\n" + host + "\r\n");
    CHECK(StatusLine(encoded.response) == "HTTP/1.1 400 Bad Request");
  }
  SUBCASE("NUL byte") {
    RawReply reply = RawExchange(fixture.port, fixture.agent, "GET /whoami%00.json HTTP/1.1\r\n" + host + "\r\n");
    CHECK(StatusLine(reply.response) == "HTTP/1.1 400 Bad Request");
  }
  SUBCASE("unknown method") {
    RawReply reply = RawExchange(fixture.port, fixture.agent, "PATCH /whoami HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n");
    CHECK(StatusLine(reply.response) == "HTTP/1.1 405 Method Not Allowed");
  }
  CHECK(fixture.handler_calls == 0);
}

TEST_CASE("https: a well-formed raw request reaches the handler (the raw client itself works)") {
  Fixture fixture;
  RawReply reply = RawExchange(fixture.port, fixture.agent,
                               "POST /v1/report HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello");
  CHECK(StatusLine(reply.response) == "HTTP/1.1 200 OK");
  CHECK(reply.response.substr(reply.response.size() - 5) == "got 5");
  CHECK(fixture.handler_calls == 1);
}

TEST_CASE("https: a client's REMOTE_ADDR header is ignored") {
  Fixture fixture;
  auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
  httplib::Result result = client->Get("/whoami", httplib::Headers{{"REMOTE_ADDR", "6.6.6.6"}});
  REQUIRE(result);
  CHECK(result->body == "wirewarp://prod/agent/node-1 127.0.0.1");
}

TEST_CASE("https: long-polls holding workers do not starve a plain request") {
  // Ten workers, nine waiters (parked, so they hold none of them).
  constexpr int kWaiters = 9;
  Fixture fixture(kWaiters + 1);
  std::atomic<int> finished{0};
  std::vector<std::string> bodies(kWaiters);
  std::vector<std::thread> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&, i] {
      auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
      httplib::Result result = client->Get("/poll?key=agent-" + std::to_string(i));
      bodies[static_cast<std::size_t>(i)] = result ? result->body : "no response";
      ++finished;
    });
  }
  fixture.WaitForWaiters(kWaiters);

  auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
  httplib::Result plain = client->Get("/whoami");
  REQUIRE(plain);
  CHECK(plain->status == 200);
  CHECK(finished == 0);  // every long-poll was still waiting while the plain request completed
  CHECK(fixture.server->long_polls().Waiting() == kWaiters);

  for (int i = 0; i < kWaiters; ++i) fixture.server->long_polls().Notify("agent-" + std::to_string(i), 7);
  for (std::thread& waiter : waiters) waiter.join();
  for (const std::string& body : bodies) CHECK(body == "newer 7");
}

TEST_CASE("https: Stop() wakes pending long-polls") {
  Fixture fixture(4);
  std::vector<int> statuses(2, 0);
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i) {
    waiters.emplace_back([&, i] {
      auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
      httplib::Result result = client->Get("/poll?key=agent-x");
      statuses[static_cast<std::size_t>(i)] = result ? result->status : -1;
    });
  }
  fixture.WaitForWaiters(2);
  fixture.server->Stop();  // would hang for the two-minute wait without the hub's shutdown
  for (std::thread& waiter : waiters) waiter.join();
  CHECK(statuses == std::vector<int>{503, 503});
  CHECK(fixture.server->long_polls().Waiting() == 0);
  fixture.server->Stop();  // idempotent
}

TEST_CASE("long-poll hub: newer, timed out, shutdown") {
  LongPollHub hub;
  hub.Notify("a", 3);
  LongPollHub::WaitResult newer = hub.Wait("a", 2, std::chrono::milliseconds(0));
  CHECK(newer.outcome == LongPollHub::WaitOutcome::kNewer);
  CHECK(newer.generation == 3);
  LongPollHub::WaitResult same = hub.Wait("a", 3, std::chrono::milliseconds(0));
  CHECK(same.outcome == LongPollHub::WaitOutcome::kTimedOut);
  CHECK(same.generation == 3);
  hub.Notify("a", 1);  // generations never go back
  CHECK(hub.Wait("a", 2, std::chrono::milliseconds(0)).generation == 3);
  CHECK(hub.Wait("b", 0, std::chrono::milliseconds(0)).outcome == LongPollHub::WaitOutcome::kTimedOut);

  std::atomic<bool> woke{false};
  LongPollHub::WaitResult notified;
  std::thread waiter([&] {
    notified = hub.Wait("b", 0, std::chrono::minutes(5));
    woke = true;
  });
  while (hub.Waiting() < 1) std::this_thread::yield();
  hub.Notify("c", 9);  // another key does not wake it
  CHECK_FALSE(woke);
  hub.Notify("b", 1);
  waiter.join();
  CHECK(notified.outcome == LongPollHub::WaitOutcome::kNewer);
  CHECK(notified.generation == 1);

  hub.Shutdown();
  CHECK(hub.Wait("b", 5, std::chrono::minutes(5)).outcome == LongPollHub::WaitOutcome::kShutdown);
}

TEST_CASE("long-poll hub: Revoke wakes that key's waiter at once and sticks until Reinstate") {
  LongPollHub hub;
  hub.Notify("a", 4);
  std::atomic<int> finished{0};
  LongPollHub::WaitResult revoked_result;
  LongPollHub::WaitResult other_result;
  std::thread revoked_waiter([&] {
    revoked_result = hub.Wait("a", 4, std::chrono::minutes(5));
    ++finished;
  });
  std::thread other_waiter([&] {
    other_result = hub.Wait("b", 0, std::chrono::minutes(5));
    ++finished;
  });
  while (hub.Waiting() < 2) std::this_thread::yield();

  hub.Revoke("a");
  revoked_waiter.join();  // would hang for five minutes without the wake-up
  CHECK(revoked_result.outcome == LongPollHub::WaitOutcome::kRevoked);
  CHECK(revoked_result.generation == 4);
  CHECK(finished == 1);  // the other key's waiter is still waiting
  CHECK(hub.Waiting() == 1);

  // Later waits on "a" return at once, even with a newer generation; "b" is untouched.
  hub.Notify("a", 5);
  LongPollHub::WaitResult again = hub.Wait("a", 0, std::chrono::minutes(5));
  CHECK(again.outcome == LongPollHub::WaitOutcome::kRevoked);
  CHECK(again.generation == 5);
  hub.Revoke("a");  // twice is the same as once
  CHECK(hub.Wait("a", 9, std::chrono::minutes(5)).outcome == LongPollHub::WaitOutcome::kRevoked);
  CHECK(hub.Wait("c", 0, std::chrono::milliseconds(0)).outcome == LongPollHub::WaitOutcome::kTimedOut);

  hub.Reinstate("a");
  CHECK(hub.Wait("a", 4, std::chrono::milliseconds(0)).outcome == LongPollHub::WaitOutcome::kNewer);
  CHECK(hub.Wait("a", 5, std::chrono::milliseconds(0)).outcome == LongPollHub::WaitOutcome::kTimedOut);
  hub.Reinstate("never-seen");  // no-op
  CHECK(hub.Wait("never-seen", 0, std::chrono::milliseconds(0)).outcome == LongPollHub::WaitOutcome::kTimedOut);

  hub.Notify("b", 1);
  other_waiter.join();
  CHECK(other_result.outcome == LongPollHub::WaitOutcome::kNewer);
  CHECK(other_result.generation == 1);

  // Shutdown wins over a revocation.
  hub.Revoke("a");
  hub.Shutdown();
  CHECK(hub.Wait("a", 0, std::chrono::minutes(5)).outcome == LongPollHub::WaitOutcome::kShutdown);
}

TEST_CASE("https: revoking a key answers its open long-poll at once, others keep waiting") {
  Fixture fixture(4);
  int revoked_status = 0;
  std::string revoked_body;
  std::string other_body;
  std::thread revoked_waiter([&] {
    auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
    httplib::Result result = client->Get("/poll?key=agent-gone");
    revoked_status = result ? result->status : -1;
    revoked_body = result ? result->body : "no response";
  });
  std::thread other_waiter([&] {
    auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
    httplib::Result result = client->Get("/poll?key=agent-kept");
    other_body = result ? result->body : "no response";
  });
  fixture.WaitForWaiters(2);
  fixture.server->long_polls().Revoke("agent-gone");
  revoked_waiter.join();  // would hang for the two-minute wait without the wake-up
  CHECK(revoked_status == 401);
  CHECK(revoked_body == "revoked");
  CHECK(fixture.server->long_polls().Waiting() == 1);
  fixture.server->long_polls().Notify("agent-kept", 3);
  other_waiter.join();
  CHECK(other_body == "newer 3");
}

// Blocks SIGPIPE on this thread while it lives, so writing to a server that closed first
// fails with EPIPE; a SIGPIPE raised meanwhile is taken before the old mask comes back.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  ~SigpipeBlocked() {
    timespec now{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &now) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_;
  sigset_t previous_;
};

// A hand-driven TLS client with a certificate of `client`: many on one thread, or heads
// written slowly or endlessly. Use it under SigpipeBlocked: the server may close first.
class TlsClient {
 public:
  TlsClient(int port, const Credentials& client) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval timeout{20, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    context_ = SSL_CTX_new(TLS_client_method());
    X509* certificate = ReadX509(client.certificate_pem);
    EVP_PKEY* key = ReadKey(client.key_pem);
    SSL_CTX_use_certificate(context_, certificate);
    SSL_CTX_use_PrivateKey(context_, key);
    X509_free(certificate);
    EVP_PKEY_free(key);
    ssl_ = SSL_new(context_);
    SSL_set_fd(ssl_, fd_);
    REQUIRE(SSL_connect(ssl_) == 1);
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(context_);
    close(fd_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool Write(const std::string& bytes) { return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) > 0; }
  bool Readable(int milliseconds) {
    if (SSL_pending(ssl_) > 0) return true;
    pollfd readable{fd_, POLLIN, 0};
    return poll(&readable, 1, milliseconds) > 0;
  }
  // The body of one answer (headers, then Content-Length bytes); "" when the connection ends.
  std::string ReadBody() {
    std::string all;
    char buffer[4096];
    for (;;) {
      std::size_t end = all.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t at = all.find("Content-Length: ");
        std::size_t length = at != std::string::npos && at < end ? std::stoul(all.substr(at + 16)) : 0;
        if (all.size() >= end + 4 + length) return all.substr(end + 4, length);
      }
      int got = SSL_read(ssl_, buffer, sizeof(buffer));
      if (got <= 0) return "";
      all.append(buffer, static_cast<std::size_t>(got));
    }
  }
  // What the server sends until it closes (or "never").
  std::string ReadUntilClosed() {
    std::string all;
    char buffer[4096];
    for (;;) {
      int got = SSL_read(ssl_, buffer, sizeof(buffer));
      if (got <= 0) return all;
      all.append(buffer, static_cast<std::size_t>(got));
    }
  }

 private:
  int fd_ = -1;
  SSL_CTX* context_ = nullptr;
  SSL* ssl_ = nullptr;
};

TEST_CASE("https: 200 parked long-polls with four worker threads still leave room for a plain request") {
  constexpr int kParked = 200;
  // On a loaded machine 200 handshakes may outlast the 10 s head deadline; this test is about
  // parking, so the deadline is out of its way.
  HttpLimits limits;
  limits.head_timeout = std::chrono::seconds(120);
  Fixture fixture(4, limits);
  SigpipeBlocked no_sigpipe;
  std::vector<std::unique_ptr<TlsClient>> pollers;
  for (int i = 0; i < kParked; ++i) {
    pollers.push_back(std::make_unique<TlsClient>(fixture.port, fixture.agent));
    REQUIRE(pollers.back()->Write("GET /poll?key=agent-" + std::to_string(i) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  }
  fixture.WaitForWaiters(kParked);
  CHECK(fixture.server->OpenConnections() >= kParked);
  auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
  httplib::Result plain = client->Get("/whoami");
  REQUIRE(plain);
  CHECK(plain->status == 200);
  CHECK(fixture.server->long_polls().Waiting() == kParked);
  for (int i = 0; i < kParked; ++i) fixture.server->long_polls().Notify("agent-" + std::to_string(i), 1);
  for (auto& poller : pollers) CHECK(poller->ReadBody() == "newer 1");
}

TEST_CASE("https: the head deadline covers the TLS handshake and the request head") {
  HttpLimits limits;
  limits.head_timeout = std::chrono::milliseconds(300);
  Fixture fixture(4, limits);
  SUBCASE("a connection that never starts its handshake") {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(fixture.port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    char byte = 0;
    CHECK(recv(fd, &byte, 1, 0) == 0);  // closed, not "never" (the 20 s timeout gives -1)
    close(fd);
  }
  SUBCASE("a head trickled a byte at a time after the handshake (slowloris)") {
    SigpipeBlocked no_sigpipe;
    TlsClient client(fixture.port, fixture.agent);
    const std::string head = "GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(300, 's') + "\r\n\r\n";
    std::size_t sent = 0;
    bool closed = false;
    while (!closed && sent < head.size()) {
      closed = !client.Write(head.substr(sent, 1));
      if (closed) break;
      ++sent;
      if (client.Readable(50)) closed = client.ReadUntilClosed().empty();
    }
    CHECK(closed);
    CHECK(sent < head.size());
  }
  CHECK(fixture.handler_calls == 0);
  CHECK(test_support::WaitUntil([&] { return fixture.server->OpenConnections() == 0; }));
}

TEST_CASE("https: header floods over TLS are answered 431 and raise resident memory by at most 16 MB") {
  Fixture fixture;
  auto warm = MakeClient(fixture.port, fixture.ca, &fixture.agent);
  REQUIRE(warm->Get("/whoami"));
  std::size_t before = test_support::ResidentBytes();
  std::string lines;
  for (int i = 0; i < 16 * 1024; ++i) lines += "X: a\r\n";  // 96 KiB per write
  std::atomic<int> refused{0};
  std::vector<std::thread> floods;
  for (int flood = 0; flood < 4; ++flood) {
    floods.emplace_back([&] {
      SigpipeBlocked no_sigpipe;
      TlsClient client(fixture.port, fixture.agent);
      std::string answer;
      client.Write("GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      // Up to 4 MB each, until the server has answered or stops taking bytes.
      for (int i = 0; i < 44 && answer.empty() && client.Write(lines); ++i) {
        if (client.Readable(0)) answer = client.ReadUntilClosed();
      }
      if (answer.empty()) answer = client.ReadUntilClosed();
      if (StatusLine(answer) == "HTTP/1.1 431 Request Header Fields Too Large" &&
          answer.find("Connection: close\r\n") != std::string::npos) {
        ++refused;
      }
    });
  }
  for (std::thread& flood : floods) flood.join();
  std::size_t after = test_support::ResidentBytes();
  CHECK(refused == 4);
  CHECK(after < before + 16 * 1024 * 1024);
  CHECK(fixture.handler_calls == 1);
  MESSAGE("resident before " << before / 1024 << " KiB, after " << after / 1024 << " KiB");
}

TEST_CASE("https: HEAD answers a GET route without its body; an unknown path is a JSON 404") {
  Fixture fixture;
  auto client = MakeClient(fixture.port, fixture.ca, &fixture.agent);
  httplib::Result head = client->Head("/public");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  CHECK(head->get_header_value("Content-Length") == std::to_string(std::string("wirewarp://prod/agent/node-1").size()));
  httplib::Result missing = client->Get("/nowhere");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body == R"({"error":"no route for GET /nowhere"})");
}

TEST_CASE("https: route patterns with nested groups are refused") {
  Fixture fixture;
  Status nested = fixture.server->Route(HttpMethod::kGet, "/v1/agents/((a|b)+)/plan", {}, [](const HttpRequest&) {
    return HttpResponse{};
  });
  CHECK(nested.code() == StatusCode::kInvalidArgument);
  CHECK(nested.message() == "route pattern \"/v1/agents/((a|b)+)/plan\" nests groups");
  CHECK(fixture.server->Route(HttpMethod::kGet, "v1", {}, [](const HttpRequest&) { return HttpResponse{}; }).code() ==
        StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ww
