// HttpEngine on plain TCP over loopback, driven by raw sockets: keep-alive and pipelining,
// HEAD, bodies and 100-continue, every limit (head bytes and lines, the head, keep-alive and
// body deadlines, the connection caps in total and per address), TCP_NODELAY on accepted
// sockets, bounded memory under a header flood, parked answers that hold no worker, handler
// exceptions and Stop(). Deadlines here are short options; a 20 s socket timeout only turns
// "never" into a failure, nothing asserts how fast anything is.

#include "reconciler/api/http_engine.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "reconciler/api/long_poll_hub.h"
#include "tests/support/process_watch.h"

namespace ww {
namespace {

using namespace std::chrono_literals;
using test_support::ResidentBytes;
using test_support::WaitUntil;

// A raw client socket with a 20 s receive timeout standing in for "never".
class RawClient {
 public:
  explicit RawClient(int port, const char* source_address = nullptr) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval timeout{20, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    if (source_address != nullptr) {
      sockaddr_in source{};
      source.sin_family = AF_INET;
      REQUIRE(inet_pton(AF_INET, source_address, &source.sin_addr) == 1);
      REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&source), sizeof(source)) == 0);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  }
  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void Close() {
    if (fd_ >= 0) close(std::exchange(fd_, -1));
  }
  int fd() const { return fd_; }

  // False once the server has closed or reset the connection.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t sent = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // One response: status line and headers, then Content-Length bytes of body (none for a
  // HEAD request or a 1xx/204). "" when the connection ended first.
  std::string ReadResponse(bool head_request = false) {
    for (;;) {
      std::size_t end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t length = 0;
        std::size_t at = pending_.find("Content-Length: ");
        if (at != std::string::npos && at < end && !head_request) length = std::stoul(pending_.substr(at + 16));
        if (pending_.size() >= end + 4 + length) {
          std::string response = pending_.substr(0, end + 4 + length);
          pending_.erase(0, end + 4 + length);
          return response;
        }
      }
      char buffer[4096];
      ssize_t got = recv(fd_, buffer, sizeof(buffer), 0);
      if (got <= 0) return "";
      pending_.append(buffer, static_cast<std::size_t>(got));
    }
  }

  // Whether the server ends the connection (end of stream or reset) before "never".
  bool ClosedByServer() {
    char buffer[4096];
    for (;;) {
      ssize_t got = recv(fd_, buffer, sizeof(buffer), 0);
      if (got == 0) return true;
      if (got < 0) return errno == ECONNRESET;
    }
  }

 private:
  int fd_ = -1;
  std::string pending_;
};

std::string StatusLine(const std::string& response) { return response.substr(0, response.find("\r\n")); }
std::string BodyOf(const std::string& response) { return response.substr(response.find("\r\n\r\n") + 4); }

// An engine whose handler echoes "METHOD TARGET BODY"; "/refuse" is refused at its head,
// "/throw" throws, "/park?KEY" parks on the hub until KEY passes generation 0.
struct EngineFixture {
  explicit EngineFixture(HttpLimits limits = {}, std::size_t workers = 2) {
    HttpEngineOptions options;
    options.name = "the test listener";
    options.limits = limits;
    options.worker_threads = workers;
    options.long_polls = &hub;
    options.default_headers = {{"X-Test", "yes"}};
    options.check_head = [](const RequestHead& head) {
      HeadDecision decision;
      if (head.target == "/refuse") {
        decision.refusal = HttpResponse{403, "text/plain", "refused\n"};
        return decision;
      }
      decision.max_body = 1024;
      return decision;
    };
    options.handle = [this](RequestHead head, std::string body, int) -> HttpResponse {
      ++handled;
      if (head.target == "/throw") throw std::runtime_error("boom");
      if (head.target == "/file" && file_body) {
        HttpResponse response{200, "application/octet-stream", "ignored"};
        response.file = file_body;
        return response;
      }
      if (head.target.starts_with("/park?")) {
        std::chrono::milliseconds timeout(park_timeout_ms.load());
        return ParkedResponse(LongPoll{head.target.substr(6), 0, timeout, [](const LongPollHub::WaitResult& result) {
                                         bool newer = result.outcome == LongPollHub::WaitOutcome::kNewer;
                                         return HttpResponse{200, "text/plain", newer ? "newer" : "timed out"};
                                       }});
      }
      return HttpResponse{200, "text/plain", head.method + " " + head.target + " " + body};
    };
    options.refusal = [](int status, const std::string& reason) {
      return HttpResponse{status, "text/plain", reason + "\n"};
    };
    Result<std::unique_ptr<HttpEngine>> created = HttpEngine::Create(std::move(options));
    REQUIRE(created.ok());
    engine = std::move(created).value();
    Result<int> bound = engine->Listen("127.0.0.1", 0);
    REQUIRE(bound.ok());
    port = *bound;
  }
  ~EngineFixture() { engine->Stop(); }

  LongPollHub hub;
  std::atomic<std::int64_t> park_timeout_ms{120000};
  std::atomic<int> handled{0};
  std::shared_ptr<const FileBody> file_body;  // answers "/file" when set
  std::unique_ptr<HttpEngine> engine;
  int port = 0;
};

const std::string kGet = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_CASE("engine: keeps the connection alive and answers pipelined requests in order") {
  EngineFixture fixture;
  RawClient client(fixture.port);
  REQUIRE(client.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string first = client.ReadResponse();
  std::string second = client.ReadResponse();
  CHECK(StatusLine(first) == "HTTP/1.1 200 OK");
  CHECK(BodyOf(first) == "GET /a ");
  CHECK(BodyOf(second) == "GET /b ");
  CHECK(first.find("Connection: close") == std::string::npos);
  CHECK(first.find("Content-Type: text/plain\r\n") != std::string::npos);
  CHECK(first.find("X-Test: yes\r\n") != std::string::npos);
  REQUIRE(client.Send(kGet));
  CHECK(BodyOf(client.ReadResponse()) == "GET /a ");
  // Connection: close is honoured: the answer says so and the connection ends.
  REQUIRE(client.Send("GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string last = client.ReadResponse();
  CHECK(last.find("Connection: close\r\n") != std::string::npos);
  CHECK(client.ClosedByServer());
}

TEST_CASE("engine: an HTTP/1.0 client is told whether the connection stays") {
  EngineFixture fixture;
  RawClient client(fixture.port);
  REQUIRE(client.Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CHECK(client.ReadResponse().find("Connection: keep-alive\r\n") != std::string::npos);
  REQUIRE(client.Send("GET /b HTTP/1.0\r\n\r\n"));
  CHECK(client.ReadResponse().find("Connection: close\r\n") != std::string::npos);
  CHECK(client.ClosedByServer());
}

TEST_CASE("engine: HEAD gets the headers with the body's length and no body") {
  EngineFixture fixture;
  RawClient client(fixture.port);
  REQUIRE(client.Send("HEAD /abc HTTP/1.1\r\nHost: x\r\n\r\n" + kGet));
  std::string head = client.ReadResponse(/*head_request=*/true);
  CHECK(StatusLine(head) == "HTTP/1.1 200 OK");
  CHECK(head.find("Content-Length: 10\r\n") != std::string::npos);  // "HEAD /abc "
  CHECK(head.ends_with("\r\n\r\n"));
  CHECK(BodyOf(client.ReadResponse()) == "GET /a ");  // the next answer follows at once
}

TEST_CASE("engine: a file body is sent whole in chunks, HEAD sends its length only, and the connection is kept") {
  EngineFixture fixture;
  std::string content;
  for (int i = 0; i < 300000; ++i) content += static_cast<char>('a' + i % 26);  // several chunks
  char path[] = "/tmp/ww-file-body-XXXXXX";
  int descriptor = mkstemp(path);
  REQUIRE(descriptor >= 0);
  unlink(path);
  REQUIRE(write(descriptor, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  fixture.file_body = std::make_shared<const FileBody>(descriptor, content.size());
  RawClient client(fixture.port);
  REQUIRE(client.Send("GET /file HTTP/1.1\r\nHost: x\r\n\r\nHEAD /file HTTP/1.1\r\nHost: x\r\n\r\n" + kGet));
  std::string got = client.ReadResponse();
  CHECK(StatusLine(got) == "HTTP/1.1 200 OK");
  CHECK(got.find("Content-Length: 300000\r\n") != std::string::npos);
  CHECK(BodyOf(got) == content);
  std::string head = client.ReadResponse(/*head_request=*/true);
  CHECK(head.find("Content-Length: 300000\r\n") != std::string::npos);
  CHECK(head.ends_with("\r\n\r\n"));
  CHECK(BodyOf(client.ReadResponse()) == "GET /a ");  // the same connection goes on
}

TEST_CASE("engine: a body is read to its Content-Length; Expect: 100-continue is answered first") {
  EngineFixture fixture;
  RawClient client(fixture.port);
  REQUIRE(client.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
  CHECK(BodyOf(client.ReadResponse()) == "POST /p hello");

  REQUIRE(client.Send("POST /q HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  CHECK(StatusLine(client.ReadResponse()) == "HTTP/1.1 100 Continue");
  REQUIRE(client.Send("abc"));
  CHECK(BodyOf(client.ReadResponse()) == "POST /q abc");
}

TEST_CASE("engine: a body above the listener's limit is refused 413 whatever the head said") {
  EngineFixture fixture;
  RawClient client(fixture.port);
  REQUIRE(client.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n"));
  std::string answer = client.ReadResponse();
  CHECK(StatusLine(answer) == "HTTP/1.1 413 Payload Too Large");
  CHECK(BodyOf(answer) == "Content-Length 1025 is above the limit of 1024 bytes\n");
  CHECK(answer.find("Connection: close\r\n") != std::string::npos);
  CHECK(client.ClosedByServer());
  CHECK(fixture.handled == 0);
}

TEST_CASE("engine: a head over 64 lines or 16 KiB is answered 431 and the connection closes") {
  EngineFixture fixture;
  auto lines = [](int count) {
    std::string headers;
    for (int i = 0; i < count; ++i) headers += "X-Line-" + std::to_string(i) + ": y\r\n";
    return headers;
  };
  SUBCASE("64 lines pass") {
    RawClient client(fixture.port);
    REQUIRE(client.Send("GET /a HTTP/1.1\r\n" + lines(64) + "\r\n"));
    CHECK(StatusLine(client.ReadResponse()) == "HTTP/1.1 200 OK");
  }
  SUBCASE("65 lines") {
    RawClient client(fixture.port);
    REQUIRE(client.Send("GET /a HTTP/1.1\r\n" + lines(65) + "\r\n"));
    std::string answer = client.ReadResponse();
    CHECK(StatusLine(answer) == "HTTP/1.1 431 Request Header Fields Too Large");
    CHECK(BodyOf(answer) == "more than 64 header lines\n");
    CHECK(client.ClosedByServer());
  }
  SUBCASE("a 15 KiB head passes") {
    RawClient client(fixture.port);
    REQUIRE(client.Send("GET /a HTTP/1.1\r\nX-Big: " + std::string(15 * 1024, 'b') + "\r\n\r\n"));
    CHECK(StatusLine(client.ReadResponse()) == "HTTP/1.1 200 OK");
  }
  SUBCASE("a 17 KiB head") {
    RawClient client(fixture.port);
    client.Send("GET /a HTTP/1.1\r\nX-Big: " + std::string(17 * 1024, 'b') + "\r\n\r\n");
    std::string answer = client.ReadResponse();
    CHECK(StatusLine(answer) == "HTTP/1.1 431 Request Header Fields Too Large");
    CHECK(BodyOf(answer) == "the request head is above 16384 bytes\n");
    CHECK(client.ClosedByServer());
  }
  SUBCASE("a line without an end is the same") {
    RawClient client(fixture.port);
    client.Send("GET /" + std::string(20 * 1024, 'a'));
    CHECK(StatusLine(client.ReadResponse()) == "HTTP/1.1 431 Request Header Fields Too Large");
  }
  CHECK(fixture.handled <= 2);
}

TEST_CASE("engine: malformed heads are answered 400 and the connection closes") {
  EngineFixture fixture;
  constexpr char kNulInValue[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
  for (std::string bytes : {std::string("GET / HTTP/1.1 junk\r\n\r\n"), std::string("G\x01T / HTTP/1.1\r\n\r\n"),
                            std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
                            std::string("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
                            std::string(kNulInValue, sizeof(kNulInValue) - 1)}) {
    CAPTURE(bytes);
    RawClient client(fixture.port);
    client.Send(bytes);
    CHECK(StatusLine(client.ReadResponse()) == "HTTP/1.1 400 Bad Request");
    CHECK(client.ClosedByServer());
  }
  CHECK(fixture.handled == 0);
}

TEST_CASE("engine: a request refused at its head is answered once and its body never parsed") {
  EngineFixture fixture;
  std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  RawClient client(fixture.port);
  REQUIRE(client.Send("POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) +
                      "\r\n\r\n" + smuggled));
  std::string answer = client.ReadResponse();
  CHECK(StatusLine(answer) == "HTTP/1.1 403 Forbidden");
  CHECK(answer.find("Connection: close\r\n") != std::string::npos);
  CHECK(client.ClosedByServer());
  CHECK(fixture.handled == 0);
}

TEST_CASE("engine: a client trickling its head is closed by the head deadline (slowloris)") {
  HttpLimits limits;
  limits.head_timeout = 300ms;
  EngineFixture fixture(limits);
  RawClient client(fixture.port);
  const std::string request = "GET /a HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(400, 's') + "\r\n\r\n";
  std::size_t sent = 0;
  bool closed = false;
  auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!closed && sent < request.size() && std::chrono::steady_clock::now() < give_up) {
    closed = !client.Send(request.substr(sent, 1));
    if (closed) break;
    ++sent;
    pollfd readable{client.fd(), POLLIN, 0};
    if (poll(&readable, 1, 50) > 0) closed = client.ClosedByServer();
  }
  CHECK(closed);
  CHECK(sent < request.size());  // closed long before the head was complete
  CHECK(fixture.handled == 0);
  CHECK(WaitUntil([&] { return fixture.engine->OpenConnections() == 0; }));
}

TEST_CASE("engine: a connection that never sends is closed by the head deadline") {
  HttpLimits limits;
  limits.head_timeout = 200ms;
  EngineFixture fixture(limits);
  RawClient client(fixture.port);
  CHECK(client.ClosedByServer());
}

TEST_CASE("engine: an idle kept-alive connection is closed by the keep-alive deadline") {
  HttpLimits limits;
  limits.keep_alive_timeout = 200ms;
  EngineFixture fixture(limits);
  RawClient client(fixture.port);
  REQUIRE(client.Send(kGet));
  CHECK(StatusLine(client.ReadResponse()) == "HTTP/1.1 200 OK");
  CHECK(client.ClosedByServer());
}

TEST_CASE("engine: a body that stops arriving is closed by the body deadline") {
  HttpLimits limits;
  limits.body_timeout = 200ms;
  EngineFixture fixture(limits);
  RawClient client(fixture.port);
  REQUIRE(client.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf!"));
  CHECK(client.ClosedByServer());
  CHECK(fixture.handled == 0);
}

TEST_CASE("engine: over the total cap a connection is closed at once, and served once a place is free") {
  HttpLimits limits;
  limits.max_connections = 3;
  EngineFixture fixture(limits);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<RawClient>(fixture.port));
  REQUIRE(WaitUntil([&] { return fixture.engine->OpenConnections() == 3; }));
  RawClient refused(fixture.port);
  CHECK(refused.ClosedByServer());  // not queued: the server closes it without a request
  CHECK(fixture.engine->OpenConnections() == 3);

  held.front()->Close();
  REQUIRE(WaitUntil([&] { return fixture.engine->OpenConnections() == 2; }));
  RawClient served(fixture.port);
  REQUIRE(served.Send(kGet));
  CHECK(StatusLine(served.ReadResponse()) == "HTTP/1.1 200 OK");
}

TEST_CASE("engine: over the per-address cap a connection is closed at once; other addresses still connect") {
  HttpLimits limits;
  limits.max_connections_per_address = 2;
  EngineFixture fixture(limits);
  RawClient first(fixture.port, "127.0.0.1");
  RawClient second(fixture.port, "127.0.0.1");
  REQUIRE(WaitUntil([&] { return fixture.engine->OpenConnections() == 2; }));
  RawClient third(fixture.port, "127.0.0.1");
  CHECK(third.ClosedByServer());
  RawClient elsewhere(fixture.port, "127.0.0.2");
  REQUIRE(elsewhere.Send(kGet));
  CHECK(StatusLine(elsewhere.ReadResponse()) == "HTTP/1.1 200 OK");
  REQUIRE(first.Send(kGet));
  CHECK(StatusLine(first.ReadResponse()) == "HTTP/1.1 200 OK");
}

// The server's end of `client` is a descriptor of this process: find it by its ports.
int ServerSideDescriptor(int client_fd) {
  sockaddr_in client_local{};
  socklen_t length = sizeof(client_local);
  getsockname(client_fd, reinterpret_cast<sockaddr*>(&client_local), &length);
  DIR* directory = opendir("/proc/self/fd");
  REQUIRE(directory != nullptr);
  int found = -1;
  while (dirent* entry = readdir(directory)) {
    int fd = std::atoi(entry->d_name);
    if (fd <= 2 || fd == client_fd) continue;
    sockaddr_in peer{};
    socklen_t peer_length = sizeof(peer);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0 || peer.sin_family != AF_INET) continue;
    if (peer.sin_port == client_local.sin_port && peer.sin_addr.s_addr == client_local.sin_addr.s_addr) found = fd;
  }
  closedir(directory);
  return found;
}

TEST_CASE("engine: every accepted socket has TCP_NODELAY") {
  EngineFixture fixture;
  RawClient client(fixture.port);
  REQUIRE(client.Send(kGet));
  REQUIRE(StatusLine(client.ReadResponse()) == "HTTP/1.1 200 OK");
  int server_side = ServerSideDescriptor(client.fd());
  REQUIRE(server_side >= 0);
  int nodelay = 0;
  socklen_t length = sizeof(nodelay);
  REQUIRE(getsockopt(server_side, IPPROTO_TCP, TCP_NODELAY, &nodelay, &length) == 0);
  CHECK(nodelay == 1);
}

TEST_CASE("engine: header floods of 16 MB raise resident memory by at most 16 MB") {
  EngineFixture fixture;
  // Warm up once, so that first-use allocations are not counted as the flood's.
  {
    RawClient warm(fixture.port);
    REQUIRE(warm.Send(kGet));
    REQUIRE(!warm.ReadResponse().empty());
  }
  std::size_t before = ResidentBytes();
  std::string lines;
  for (int i = 0; i < 64 * 1024; ++i) lines += "X: a\r\n";  // 384 KiB per send
  std::vector<std::thread> floods;
  std::atomic<int> answered_431{0};
  for (int flood = 0; flood < 4; ++flood) {
    floods.emplace_back([&] {
      RawClient client(fixture.port);
      std::string answer;
      std::thread reader([&] { answer = client.ReadResponse(); });
      client.Send("GET /a HTTP/1.1\r\n");
      for (int i = 0; i < 11 && client.Send(lines); ++i) {
      }
      reader.join();
      if (StatusLine(answer) == "HTTP/1.1 431 Request Header Fields Too Large") ++answered_431;
    });
  }
  for (std::thread& flood : floods) flood.join();
  std::size_t after = ResidentBytes();
  CHECK(answered_431 == 4);
  CHECK(after < before + 16 * 1024 * 1024);
  MESSAGE("resident before " << before / 1024 << " KiB, after " << after / 1024 << " KiB");
}

TEST_CASE("engine: parked answers hold no worker; the hub or the timer answers each once") {
  EngineFixture fixture(HttpLimits{}, /*workers=*/1);
  constexpr int kParked = 50;
  std::vector<std::unique_ptr<RawClient>> parked;
  for (int i = 0; i < kParked; ++i) {
    parked.push_back(std::make_unique<RawClient>(fixture.port));
    REQUIRE(parked.back()->Send("GET /park?k HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  REQUIRE(WaitUntil([&] { return fixture.hub.Waiting() == kParked; }));
  // The one worker is free: a plain request is answered while all of them wait.
  RawClient plain(fixture.port);
  REQUIRE(plain.Send(kGet));
  CHECK(StatusLine(plain.ReadResponse()) == "HTTP/1.1 200 OK");
  fixture.hub.Notify("k", 1);
  for (auto& client : parked) CHECK(BodyOf(client->ReadResponse()) == "newer");
  CHECK(fixture.hub.Waiting() == 0);

  fixture.park_timeout_ms = 100;
  RawClient timed(fixture.port);
  REQUIRE(timed.Send("GET /park?other HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(BodyOf(timed.ReadResponse()) == "timed out");
  fixture.hub.Notify("other", 1);  // too late: nothing more is written
  REQUIRE(timed.Send(kGet));
  CHECK(BodyOf(timed.ReadResponse()) == "GET /a ");
}

TEST_CASE("engine: a handler that throws is answered 500 and the engine keeps serving") {
  EngineFixture fixture;
  RawClient client(fixture.port);
  REQUIRE(client.Send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string answer = client.ReadResponse();
  CHECK(StatusLine(answer) == "HTTP/1.1 500 Internal Server Error");
  CHECK(BodyOf(answer) == "internal error\n");
  RawClient next(fixture.port);
  REQUIRE(next.Send(kGet));
  CHECK(StatusLine(next.ReadResponse()) == "HTTP/1.1 200 OK");
}

TEST_CASE("engine: Stop closes idle connections and a parked one once its hub shuts down") {
  EngineFixture fixture;
  RawClient idle(fixture.port);
  RawClient parked(fixture.port);
  REQUIRE(parked.Send("GET /park?k HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(WaitUntil([&] { return fixture.hub.Waiting() == 1; }));
  fixture.hub.Shutdown();
  fixture.engine->Stop();
  CHECK(idle.ClosedByServer());
  std::string answer = parked.ReadResponse();
  CHECK(BodyOf(answer) == "timed out");  // the handler's answer for any outcome but kNewer
  CHECK(parked.ClosedByServer());
  CHECK(fixture.engine->OpenConnections() == 0);
  fixture.engine->Stop();  // idempotent
}

TEST_CASE("engine: a busy port is an error that names it") {
  EngineFixture fixture;
  HttpEngineOptions options;
  options.name = "the second listener";
  options.check_head = [](const RequestHead&) { return HeadDecision{}; };
  options.handle = [](RequestHead, std::string, int) { return HttpResponse{}; };
  options.refusal = [](int status, const std::string&) { return HttpResponse{status}; };
  Result<std::unique_ptr<HttpEngine>> second = HttpEngine::Create(std::move(options));
  REQUIRE(second.ok());
  Result<int> bound = (*second)->Listen("127.0.0.1", fixture.port);
  CHECK(bound.status().message() == "cannot listen on 127.0.0.1:" + std::to_string(fixture.port) +
                                        " (the second listener): Address already in use (is another "
                                        "wirewarp-reconciler running?)");
}

TEST_CASE("engine: options are checked") {
  HttpEngineOptions options;
  options.name = "x";
  CHECK(HttpEngine::Create(options).status().code() == StatusCode::kInvalidArgument);  // no callbacks
  options.check_head = [](const RequestHead&) { return HeadDecision{}; };
  options.handle = [](RequestHead, std::string, int) { return HttpResponse{}; };
  options.refusal = [](int status, const std::string&) { return HttpResponse{status}; };
  options.worker_threads = 0;
  CHECK(HttpEngine::Create(options).status().message() == "x: worker_threads must be at least 1");
  options.worker_threads = 1;
  options.limits.max_connections = 0;
  CHECK(HttpEngine::Create(options).status().message() == "x: max_connections must be at least 1");
}

}  // namespace
}  // namespace ww
