#pragma once
// The accept loop of a cpp-httplib server on its own thread, shared by the API server and the
// status listener: bind (port 0 picks a free one), run listen_after_bind on a thread, and wait
// until the loop runs, because httplib's stop() only closes the socket of a running loop.
// httplib is only forward-declared here; listener_thread.cc includes it.

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "schema/result.h"

namespace httplib {
class Server;
}

namespace ww {

class ListenerThread {
 public:
  // `what` names the listener in messages ("the status listener"). Returns the bound port.
  Result<int> Start(httplib::Server& server, const std::string& host, int port, const std::string& what);
  // Calls `before_stop` (e.g. waking long-polls), stops the server and joins. Once only;
  // safe from any thread, and before Start.
  template <typename BeforeStop>
  void Stop(httplib::Server& server, BeforeStop before_stop) {
    std::call_once(stopped_, [&] {
      before_stop();
      StopServer(server);
      if (thread_.joinable()) thread_.join();
    });
  }
  ~ListenerThread();  // joins a thread Stop() did not

 private:
  static void StopServer(httplib::Server& server);

  std::thread thread_;
  std::atomic<bool> returned_{false};
  std::once_flag stopped_;
};

}  // namespace ww
