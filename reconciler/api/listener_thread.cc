#include "reconciler/api/listener_thread.h"

#include <httplib.h>

namespace ww {

Result<int> ListenerThread::Start(httplib::Server& server, const std::string& host, int port, const std::string& what) {
  if (thread_.joinable()) return Status::FailedPrecondition(what + " is already started");
  int bound = -1;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
  } else if (server.bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0) return Status::Unavailable("cannot bind " + what + " to " + host + ":" + std::to_string(port));
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
