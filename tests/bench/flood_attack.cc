#include "tests/bench/flood_attack.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "tests/bench/bench_support.h"

namespace ww::bench {
namespace {

constexpr std::size_t kChunk = 16 * 1024;

// A connected socket with optional TLS, blocking with timeouts.
class FloodConnection {
 public:
  explicit FloodConnection(const FloodOptions& options) {
    descriptor_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{static_cast<time_t>(options.io_timeout.count()), 0};
    setsockopt(descriptor_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    setsockopt(descriptor_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    target.sin_port = htons(static_cast<uint16_t>(options.port));
    if (connect(descriptor_, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
      error_ = std::string("cannot connect: ") + std::strerror(errno);
      return;
    }
    if (options.transport == FloodTransport::kPlain) return;
    context_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(context_, SSL_VERIFY_NONE, nullptr);
    tls_ = SSL_new(context_);
    SSL_set_fd(tls_, descriptor_);
    if (SSL_connect(tls_) != 1) error_ = "the TLS handshake failed";
  }
  ~FloodConnection() {
    if (tls_ != nullptr) SSL_free(tls_);
    if (context_ != nullptr) SSL_CTX_free(context_);
    if (descriptor_ >= 0) close(descriptor_);
  }
  FloodConnection(const FloodConnection&) = delete;
  FloodConnection& operator=(const FloodConnection&) = delete;

  const std::string& error() const { return error_; }

  // False when the server closed, reset or stopped reading for the whole timeout.
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t sent = 0;
      if (tls_ != nullptr) {
        ERR_clear_error();
        errno = 0;
        int result = SSL_write(tls_, data.data(), static_cast<int>(data.size()));
        if (result <= 0) {
          write_errno_ = errno;
          return false;
        }
        sent = result;
      } else {
        sent = send(descriptor_, data.data(), data.size(), MSG_NOSIGNAL);
        if (sent <= 0) {
          write_errno_ = errno;
          return false;
        }
      }
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }
  bool stopped_reading() const { return write_errno_ == EAGAIN || write_errno_ == EWOULDBLOCK; }

  // True when an answer (or the close) is waiting to be read. On TLS, readable bytes may be
  // only a session ticket: a non-blocking peek tells.
  bool Readable() {
    if (tls_ != nullptr && SSL_pending(tls_) > 0) return true;
    pollfd ready{descriptor_, POLLIN, 0};
    if (poll(&ready, 1, 0) <= 0) return false;
    if (tls_ == nullptr) return true;
    int flags = fcntl(descriptor_, F_GETFL);
    fcntl(descriptor_, F_SETFL, flags | O_NONBLOCK);
    char byte = 0;
    ERR_clear_error();
    int peeked = SSL_peek(tls_, &byte, 1);
    int error = peeked > 0 ? SSL_ERROR_NONE : SSL_get_error(tls_, peeked);
    fcntl(descriptor_, F_SETFL, flags);
    return error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE;
  }

  // The answer's status line; "" when the server closed without one.
  std::string StatusLine() {
    std::string text;
    char buffer[4096];
    while (text.find("\r\n") == std::string::npos && text.size() < 8192) {
      int count = 0;
      if (tls_ != nullptr) {
        ERR_clear_error();
        count = SSL_read(tls_, buffer, sizeof buffer);
      } else {
        count = static_cast<int>(recv(descriptor_, buffer, sizeof buffer, 0));
      }
      if (count <= 0) break;
      text.append(buffer, static_cast<std::size_t>(count));
    }
    size_t end = text.find("\r\n");
    if (end == std::string::npos) return "";
    std::string line = text.substr(0, end);
    // "HTTP/1.1 431 Request Header Fields Too Large" -> "431 Request Header Fields Too Large"
    size_t space = line.find(' ');
    return space == std::string::npos ? line : line.substr(space + 1);
  }

 private:
  int descriptor_ = -1;
  SSL_CTX* context_ = nullptr;
  SSL* tls_ = nullptr;
  std::string error_;
  int write_errno_ = 0;
};

}  // namespace

std::string FloodKindName(FloodKind kind) {
  switch (kind) {
    case FloodKind::kHeaders: return "header flood";
    case FloodKind::kChunkedBody: return "chunked body";
    case FloodKind::kDeclaredBody: return "body with its Content-Length";
  }
  return "";
}

FloodResult RunFlood(const FloodOptions& options) {
  FloodResult result;
  auto started = Clock::now();
  FloodConnection connection(options);
  if (!connection.error().empty()) {
    result.outcome = connection.error();
    return result;
  }
  std::string head;
  std::string chunk;
  switch (options.kind) {
    case FloodKind::kHeaders:
      head = "GET " + options.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
      while (chunk.size() + 6 <= kChunk) chunk += "X: a\r\n";
      break;
    case FloodKind::kChunkedBody: {
      head = "POST " + options.path +
             " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", kChunk);
      chunk = size_line + std::string(kChunk, 'a') + "\r\n";
      break;
    }
    case FloodKind::kDeclaredBody:
      head = "POST " + options.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
             std::to_string(options.total_bytes) + "\r\n\r\n";
      chunk = std::string(kChunk, 'a');
      break;
  }
  bool open = connection.Send(head);
  result.bytes_sent = static_cast<int64_t>(head.size());
  const auto give_up = started + options.time_limit;
  bool timed_out = false;
  while (open && result.bytes_sent < options.total_bytes && !connection.Readable()) {
    if (Clock::now() >= give_up) {
      timed_out = true;
      break;
    }
    open = connection.Send(chunk);
    if (open) result.bytes_sent += static_cast<int64_t>(chunk.size());
  }
  std::string status = timed_out ? "" : connection.StatusLine();
  result.seconds = SecondsSince(started);
  if (timed_out) {
    result.outcome = "still reading after " + std::to_string(options.time_limit.count()) + " s (gave up)";
  } else if (!status.empty()) {
    result.outcome = status;
  } else if (connection.stopped_reading()) {
    result.outcome = "the server stopped reading (no answer within " + std::to_string(options.io_timeout.count()) + " s)";
  } else if (open && result.bytes_sent >= options.total_bytes) {
    result.outcome = "took it all without answering";
  } else {
    result.outcome = "closed by the server without an answer";
  }
  return result;
}

}  // namespace ww::bench
