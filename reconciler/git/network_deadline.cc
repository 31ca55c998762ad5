#include "reconciler/git/network_deadline.h"

#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ww::git_internal {
namespace {

using Clock = std::chrono::steady_clock;

thread_local FetchNetwork* current_network = nullptr;

// Without a current fetch (libgit2 used outside GitSource::Fetch), each wait is still bounded.
constexpr std::chrono::seconds kWaitWithoutFetch{60};

// The first members mirror libgit2 1.5's private git_socket_stream {parent, host, port, s}:
// its SSH transport reads the descriptor through that layout to hand it to libssh2.
struct DeadlineStream {
  git_stream parent;
  char* host;
  char* port;
  int fd;
  FetchNetwork* network;
};
static_assert(offsetof(DeadlineStream, parent) == 0);

int NetError(const std::string& message) {
  git_error_set_str(GIT_ERROR_NET, message.c_str());
  return -1;
}

std::string Where(const DeadlineStream& stream) {
  return std::string(stream.host) + ":" + stream.port;
}

// Waits until `fd` is ready for `events`, at most until the fetch's deadline.
// Returns 0 when ready, or a libgit2 error with the message set.
int WaitReady(DeadlineStream& stream, short events, const char* what) {
  while (true) {
    int wait_ms = static_cast<int>(std::chrono::milliseconds(kWaitWithoutFetch).count());
    if (stream.network != nullptr) {
      if (stream.network->end() == FetchEnd::kCancelled) return NetError(std::string(what) + " " + Where(stream) + ": cancelled");
      const auto remaining = std::chrono::ceil<std::chrono::milliseconds>(stream.network->deadline() - Clock::now());
      if (remaining.count() <= 0) return NetError(std::string(what) + " " + Where(stream) + ": timed out");
      wait_ms = static_cast<int>(std::min<long long>(remaining.count(), wait_ms));
    }
    pollfd poll_fd{stream.fd, events, 0};
    const int ready = ::poll(&poll_fd, 1, wait_ms);
    if (ready > 0) return 0;
    if (ready < 0 && errno != EINTR) return NetError(std::string(what) + " " + Where(stream) + ": " + std::strerror(errno));
    if (ready == 0 && stream.network == nullptr) return NetError(std::string(what) + " " + Where(stream) + ": timed out");
  }
}

void CloseSocket(DeadlineStream& stream) {
  if (stream.fd < 0) return;
  if (stream.network != nullptr) stream.network->Forget(stream.fd);
  ::close(stream.fd);
  stream.fd = -1;
}

int StreamConnect(git_stream* base) {
  auto& stream = *reinterpret_cast<DeadlineStream*>(base);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const int resolved = ::getaddrinfo(stream.host, stream.port, &hints, &addresses);
  if (resolved != 0) return NetError("resolving " + Where(stream) + ": " + ::gai_strerror(resolved));
  std::string last_error = "no address";
  for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
    stream.fd = ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, address->ai_protocol);
    if (stream.fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    if (stream.network != nullptr) stream.network->Register(stream.fd);
    if (::connect(stream.fd, address->ai_addr, address->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS) {
      if (WaitReady(stream, POLLOUT, "connecting to") != 0) {
        ::freeaddrinfo(addresses);
        CloseSocket(stream);
        return -1;
      }
      int socket_error = 0;
      socklen_t length = sizeof(socket_error);
      if (::getsockopt(stream.fd, SOL_SOCKET, SO_ERROR, &socket_error, &length) == 0 && socket_error == 0) break;
      last_error = std::strerror(socket_error != 0 ? socket_error : errno);
    } else {
      last_error = std::strerror(errno);
    }
    CloseSocket(stream);
  }
  ::freeaddrinfo(addresses);
  if (stream.fd < 0) return NetError("connecting to " + Where(stream) + ": " + last_error);
  return 0;
}

ssize_t StreamRead(git_stream* base, void* data, size_t length) {
  auto& stream = *reinterpret_cast<DeadlineStream*>(base);
  while (true) {
    const ssize_t received = ::recv(stream.fd, data, length, 0);
    if (received >= 0) return received;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return NetError("reading from " + Where(stream) + ": " + std::strerror(errno));
    if (WaitReady(stream, POLLIN, "reading from") != 0) return -1;
  }
}

ssize_t StreamWrite(git_stream* base, const char* data, size_t length, int /*flags*/) {
  auto& stream = *reinterpret_cast<DeadlineStream*>(base);
  while (true) {
    const ssize_t sent = ::send(stream.fd, data, length, MSG_NOSIGNAL);
    if (sent >= 0) return sent;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return NetError("writing to " + Where(stream) + ": " + std::strerror(errno));
    if (WaitReady(stream, POLLOUT, "writing to") != 0) return -1;
  }
}

int StreamClose(git_stream* base) {
  CloseSocket(*reinterpret_cast<DeadlineStream*>(base));
  return 0;
}

void StreamFree(git_stream* base) {
  auto* stream = reinterpret_cast<DeadlineStream*>(base);
  CloseSocket(*stream);
  std::free(stream->host);
  std::free(stream->port);
  delete stream;
}

int StreamInit(git_stream** out, const char* host, const char* port) {
  auto* stream = new DeadlineStream{};
  stream->parent.version = GIT_STREAM_VERSION;
  stream->parent.connect = StreamConnect;
  stream->parent.read = StreamRead;
  stream->parent.write = StreamWrite;
  stream->parent.close = StreamClose;
  stream->parent.free = StreamFree;
  stream->host = ::strdup(host);
  stream->port = ::strdup(port != nullptr ? port : "");
  stream->fd = -1;
  stream->network = current_network;
  *out = &stream->parent;
  return 0;
}

}  // namespace

FetchNetwork::FetchNetwork(std::chrono::steady_clock::time_point deadline)
    : deadline_(deadline), watchdog_([this] { Watch(); }) {}

FetchNetwork::~FetchNetwork() {
  {
    std::lock_guard lock(mutex_);
    if (end_ == FetchEnd::kRunning) end_ = FetchEnd::kFinished;
  }
  wake_.notify_all();
  watchdog_.join();
}

FetchEnd FetchNetwork::end() const {
  std::lock_guard lock(mutex_);
  return end_;
}

void FetchNetwork::Cancel() {
  {
    std::lock_guard lock(mutex_);
    EndLocked(FetchEnd::kCancelled);
  }
  wake_.notify_all();
}

void FetchNetwork::Register(int fd) {
  std::lock_guard lock(mutex_);
  sockets_.push_back(fd);
  // A socket opened after the end is shut down at once, so nothing waits on it.
  if (end_ == FetchEnd::kTimedOut || end_ == FetchEnd::kCancelled) ::shutdown(fd, SHUT_RDWR);
}

void FetchNetwork::Forget(int fd) {
  std::lock_guard lock(mutex_);
  sockets_.erase(std::remove(sockets_.begin(), sockets_.end(), fd), sockets_.end());
}

void FetchNetwork::Watch() {
  std::unique_lock lock(mutex_);
  if (!wake_.wait_until(lock, deadline_, [this] { return end_ != FetchEnd::kRunning; })) {
    EndLocked(FetchEnd::kTimedOut);
  }
}

void FetchNetwork::EndLocked(FetchEnd end) {
  if (end_ != FetchEnd::kRunning) return;
  end_ = end;
  // Wakes every reader, ours or libssh2's; the descriptors stay open until their stream closes.
  for (int fd : sockets_) ::shutdown(fd, SHUT_RDWR);
}

ScopedFetchNetwork::ScopedFetchNetwork(FetchNetwork& network) : previous_(current_network) {
  current_network = &network;
}

ScopedFetchNetwork::~ScopedFetchNetwork() { current_network = previous_; }

FetchNetwork* CurrentFetchNetwork() { return current_network; }

Status InstallDeadlineSocketStream() {
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] {
    git_stream_registration registration{};
    registration.version = GIT_STREAM_VERSION;
    registration.init = StreamInit;
    registration.wrap = nullptr;
    result = git_stream_register(GIT_STREAM_STANDARD, &registration);
  });
  if (result != 0) {
    const git_error* error = git_error_last();
    return Status::Internal(std::string("registering the git socket stream: ") + (error != nullptr ? error->message : "unknown error"));
  }
  return Status::Ok();
}

}  // namespace ww::git_internal
