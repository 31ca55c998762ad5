#include "tests/bench/hostile_connections.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string_view>

#include "tests/bench/bench_support.h"

namespace ww::bench {
namespace {

// A request head that never ends: after the prefix, one more header-name byte at a time.
constexpr std::string_view kApiTricklePrefix = "GET /v1/ca HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-";
constexpr std::string_view kStatusTricklePrefix = "GET /status.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-";
constexpr uint32_t kFirstSource = (127u << 24) | (10u << 16) | 1u;  // 127.10.0.1
// Linux: bind the source address now, pick the port at connect (sources share ports).
constexpr int kBindAddressNoPort = 24;  // IP_BIND_ADDRESS_NO_PORT

const char* GroupName(HostileGroup group) {
  switch (group) {
    case HostileGroup::kApiIdle: return "API, idle after connecting";
    case HostileGroup::kApiTrickle: return "API, TLS then a head byte every few s";
    case HostileGroup::kStatusIdle: return "status listener, idle";
    case HostileGroup::kStatusTrickle: return "status listener, a head byte every few s";
  }
  return "";
}

bool IsApi(HostileGroup group) { return group == HostileGroup::kApiIdle || group == HostileGroup::kApiTrickle; }
bool Trickles(HostileGroup group) {
  return group == HostileGroup::kApiTrickle || group == HostileGroup::kStatusTrickle;
}

enum class Phase { kConnecting, kHandshaking, kOpen, kClosed };

struct Connection {
  int descriptor = -1;
  HostileGroup group = HostileGroup::kApiIdle;
  uint32_t source = 0;
  Phase phase = Phase::kClosed;
  SSL* tls = nullptr;
  Clock::time_point connect_started;
  Clock::time_point connected_at;
  Clock::time_point next_byte_at;
  Clock::time_point reopen_at;  // when kClosed
  std::size_t bytes_sent = 0;
  bool answered = false;
};

}  // namespace

struct HostileConnections::Impl {
  HostileOptions options;
  SSL_CTX* tls_context = nullptr;
  int epoll = -1;
  std::vector<Connection> connections;
  std::thread thread;
  std::atomic<bool> stopping{false};
  mutable std::mutex mutex;  // guards reports
  HostileGroupReport reports[kHostileGroupCount];
  std::mt19937 random{12345};

  HostileGroupReport& ReportOf(const Connection& connection) { return reports[static_cast<int>(connection.group)]; }

  void Open(std::size_t index) {
    Connection& connection = connections[index];
    connection.descriptor = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (connection.descriptor < 0) {
      Die(std::string("hostile connections: socket() failed: ") + std::strerror(errno) +
          " (is the open-file limit high enough?)");
    }
    int on = 1;
    setsockopt(connection.descriptor, IPPROTO_IP, kBindAddressNoPort, &on, sizeof on);
    setsockopt(connection.descriptor, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(connection.source);
    if (bind(connection.descriptor, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
      Die(std::string("hostile connections: cannot bind a 127.10.x.y source address: ") + std::strerror(errno));
    }
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    target.sin_port = htons(static_cast<uint16_t>(IsApi(connection.group) ? options.api_port : options.status_port));
    connection.phase = Phase::kConnecting;
    connection.connect_started = Clock::now();
    connection.bytes_sent = 0;
    connection.answered = false;
    int result = connect(connection.descriptor, reinterpret_cast<sockaddr*>(&target), sizeof target);
    if (result != 0 && errno != EINPROGRESS) return Fail(index);
    epoll_event event{};
    event.data.u64 = index;
    event.events = EPOLLOUT | EPOLLRDHUP;
    epoll_ctl(epoll, EPOLL_CTL_ADD, connection.descriptor, &event);
  }

  void Watch(std::size_t index, uint32_t events) {
    epoll_event event{};
    event.data.u64 = index;
    event.events = events | EPOLLRDHUP;
    epoll_ctl(epoll, EPOLL_CTL_MOD, connections[index].descriptor, &event);
  }

  void Release(Connection& connection) {
    if (connection.tls != nullptr) SSL_free(connection.tls);
    connection.tls = nullptr;
    if (connection.descriptor >= 0) close(connection.descriptor);  // also leaves the epoll set
    connection.descriptor = -1;
    connection.phase = Phase::kClosed;
  }

  // Failed before it connected: counted, and tried again a second later.
  void Fail(std::size_t index) {
    Connection& connection = connections[index];
    {
      std::lock_guard lock(mutex);
      ++ReportOf(connection).connect_failures;
    }
    Release(connection);
    connection.reopen_at = Clock::now() + std::chrono::seconds(1);
  }

  // The server closed (or reset) an established connection.
  void ClosedByServer(std::size_t index) {
    Connection& connection = connections[index];
    {
      std::lock_guard lock(mutex);
      HostileGroupReport& report = ReportOf(connection);
      ++report.closed_by_server;
      --report.open_now;
      if (connection.answered) ++report.answered;
      report.close_seconds.push_back(SecondsSince(connection.connected_at));
    }
    Release(connection);
    // At once, as an attacker would; or never.
    connection.reopen_at = options.reopen == Reopen::kYes ? Clock::now() : Clock::time_point::max();
  }

  void Established(std::size_t index) {
    Connection& connection = connections[index];
    connection.phase = Phase::kOpen;
    connection.connected_at = Clock::now();
    std::uniform_int_distribution<int64_t> spread(0, options.trickle_interval.count());
    connection.next_byte_at = connection.connected_at + std::chrono::milliseconds(spread(random));
    {
      std::lock_guard lock(mutex);
      ++ReportOf(connection).established;
      ++ReportOf(connection).open_now;
    }
    if (connection.group == HostileGroup::kApiTrickle) {
      connection.tls = SSL_new(tls_context);
      SSL_set_fd(connection.tls, connection.descriptor);
      SSL_set_connect_state(connection.tls);
      connection.phase = Phase::kHandshaking;
      Handshake(index);
      return;
    }
    Watch(index, EPOLLIN);
  }

  void Handshake(std::size_t index) {
    Connection& connection = connections[index];
    ERR_clear_error();
    int result = SSL_do_handshake(connection.tls);
    if (result == 1) {
      connection.phase = Phase::kOpen;
      {
        std::lock_guard lock(mutex);
        ++ReportOf(connection).tls_completed;
      }
      Watch(index, EPOLLIN);
      return;
    }
    int error = SSL_get_error(connection.tls, result);
    if (error == SSL_ERROR_WANT_READ) return Watch(index, EPOLLIN);
    if (error == SSL_ERROR_WANT_WRITE) return Watch(index, EPOLLOUT);
    ClosedByServer(index);
  }

  // Reads whatever the server sent; true while the connection stays open.
  bool Drain(std::size_t index) {
    Connection& connection = connections[index];
    char buffer[4096];
    while (true) {
      if (connection.tls != nullptr) {
        ERR_clear_error();
        int count = SSL_read(connection.tls, buffer, sizeof buffer);
        if (count > 0) {
          connection.answered = true;
          continue;
        }
        int error = SSL_get_error(connection.tls, count);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return true;
        return false;
      }
      ssize_t count = recv(connection.descriptor, buffer, sizeof buffer, 0);
      if (count > 0) {
        connection.answered = true;
        continue;
      }
      if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      return false;
    }
  }

  void OnEvent(std::size_t index, uint32_t events) {
    Connection& connection = connections[index];
    switch (connection.phase) {
      case Phase::kConnecting: {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(connection.descriptor, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0) return Fail(index);
        return Established(index);
      }
      case Phase::kHandshaking:
        return Handshake(index);
      case Phase::kOpen:
        if (!Drain(index) || (events & (EPOLLERR | EPOLLHUP)) != 0) return ClosedByServer(index);
        return;
      case Phase::kClosed:
        return;
    }
  }

  // Reopens closed connections that are due, and sends the next head byte of every trickling
  // connection that is due.
  void Tick() {
    auto now = Clock::now();
    for (std::size_t index = 0; index < connections.size(); ++index) {
      Connection& connection = connections[index];
      if (connection.phase == Phase::kClosed && now >= connection.reopen_at) {
        Open(index);
        continue;
      }
      if (connection.phase != Phase::kOpen || !Trickles(connection.group) || now < connection.next_byte_at) continue;
      std::string_view prefix = IsApi(connection.group) ? kApiTricklePrefix : kStatusTricklePrefix;
      // The same byte again after a write that would block (OpenSSL wants the retry identical).
      static char byte;
      byte = connection.bytes_sent < prefix.size() ? prefix[connection.bytes_sent] : 'a';
      connection.next_byte_at = now + options.trickle_interval;
      bool sent = false;
      bool closed = false;
      if (connection.tls != nullptr) {
        ERR_clear_error();
        int result = SSL_write(connection.tls, &byte, 1);
        sent = result == 1;
        int error = sent ? SSL_ERROR_NONE : SSL_get_error(connection.tls, result);
        closed = !sent && error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE;
      } else {
        sent = send(connection.descriptor, &byte, 1, MSG_NOSIGNAL) == 1;
        closed = !sent && errno != EAGAIN && errno != EWOULDBLOCK;
      }
      if (closed) {
        ClosedByServer(index);
        continue;
      }
      if (!sent) continue;
      ++connection.bytes_sent;
      std::lock_guard lock(mutex);
      ++ReportOf(connection).bytes_trickled;
    }
  }

  void Run() {
    std::vector<epoll_event> events(1024);
    auto next_tick = Clock::now();
    while (!stopping) {
      int ready = epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 50);
      for (int i = 0; i < ready; ++i) OnEvent(events[static_cast<std::size_t>(i)].data.u64, events[static_cast<std::size_t>(i)].events);
      if (Clock::now() >= next_tick) {
        Tick();
        next_tick = Clock::now() + std::chrono::milliseconds(100);
      }
    }
  }
};

HostileConnections::HostileConnections(HostileOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  for (int group = 0; group < kHostileGroupCount; ++group) {
    impl_->reports[group].name = GroupName(static_cast<HostileGroup>(group));
  }
}

HostileConnections::~HostileConnections() { Stop(); }

void HostileConnections::Start() {
  Impl& impl = *impl_;
  impl.tls_context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(impl.tls_context, TLS1_2_VERSION);
  SSL_CTX_set_verify(impl.tls_context, SSL_VERIFY_NONE, nullptr);  // an attacker checks nothing
  SSL_CTX_set_mode(impl.tls_context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  impl.epoll = epoll_create1(EPOLL_CLOEXEC);
  impl.connections.resize(static_cast<std::size_t>(impl.options.connections));
  for (std::size_t index = 0; index < impl.connections.size(); ++index) {
    Connection& connection = impl.connections[index];
    connection.group = static_cast<HostileGroup>(index % kHostileGroupCount);
    std::size_t source = index / static_cast<std::size_t>(std::max(1, impl.options.connections_per_source));
    // Skip .0 and .255 in the last octet.
    connection.source = kFirstSource + static_cast<uint32_t>(source + 2 * (source / 254));
    connection.reopen_at = Clock::now();  // the event thread opens them all on its first tick
  }
  impl.thread = std::thread([&impl] { impl.Run(); });
}

void HostileConnections::Stop() {
  Impl& impl = *impl_;
  if (impl.epoll < 0) return;
  impl.stopping = true;
  if (impl.thread.joinable()) impl.thread.join();
  for (Connection& connection : impl.connections) impl.Release(connection);
  close(impl.epoll);
  impl.epoll = -1;
  SSL_CTX_free(impl.tls_context);
  impl.tls_context = nullptr;
}

int64_t HostileConnections::OpenNow() const {
  std::lock_guard lock(impl_->mutex);
  int64_t open = 0;
  for (const HostileGroupReport& report : impl_->reports) open += report.open_now;
  return open;
}

std::vector<HostileGroupReport> HostileConnections::Report() const {
  std::lock_guard lock(impl_->mutex);
  return std::vector<HostileGroupReport>(std::begin(impl_->reports), std::end(impl_->reports));
}

}  // namespace ww::bench
