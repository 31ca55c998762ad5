#include "reconciler/api/listener_thread.h"

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ww {
namespace {

// httplib's default also sets SO_REUSEPORT, with which a second process binds the same
// address and the kernel splits connections between the two. SO_REUSEADDR alone still lets a
// restart bind over connections in TIME_WAIT, but never beside a listening socket.
void ExclusiveSocketOptions(int socket) {
  int yes = 1;
  setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

// Why `host`:`port` cannot be bound: httplib only says that it failed, so bind once more
// with the same options to read errno.
std::string BindFailure(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  std::string service = std::to_string(port);
  if (int error = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &addresses); error != 0) {
    return gai_strerror(error);
  }
  std::string reason = "no usable address";
  for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
    int probe = socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol);
    if (probe < 0) {
      reason = std::strerror(errno);
      continue;
    }
    ExclusiveSocketOptions(probe);
    bool bound = bind(probe, address->ai_addr, address->ai_addrlen) == 0;
    reason = bound ? "bind succeeded on a second try (the address was busy a moment ago)" : std::strerror(errno);
    if (!bound && errno == EADDRINUSE) reason += " (is another wirewarp-reconciler running?)";
    close(probe);
    if (!bound) break;
  }
  freeaddrinfo(addresses);
  return reason;
}

}  // namespace

Result<int> ListenerThread::Start(httplib::Server& server, const std::string& host, int port, const std::string& what) {
  if (thread_.joinable()) return Status::FailedPrecondition(what + " is already started");
  server.set_socket_options(ExclusiveSocketOptions);
  // Accepted sockets inherit it: a long-poll answer leaves at once, not after a delayed ACK.
  server.set_tcp_nodelay(true);
  int bound = -1;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
  } else if (server.bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0) {
    return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port) + " (" + what +
                               "): " + BindFailure(host, port));
  }
  thread_ = std::thread([this, &server] {
    server.listen_after_bind();
    returned_ = true;
  });
  while (!server.is_running() && !returned_) std::this_thread::yield();
  return bound;
}

void ListenerThread::StopServer(httplib::Server& server) { server.stop(); }

ListenerThread::~ListenerThread() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace ww
