#pragma once
// Hostile clients for the attack bench, driven by one epoll thread (no thread per
// connection): connections to the reconciler's TLS API and its plain status listener, half
// of them idle after connecting, half trickling one byte of a request head that never ends
// every few seconds (on the API inside a completed TLS handshake, so only the server's
// request-head deadline can end it). Each connection comes from one of many 127.x.y.z source
// addresses, so a per-address cap alone does not end the attack; with Reopen::kYes, when the
// server closes one, another is opened in its place, as an attacker would. Records when the
// server closed each.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ww::bench {

enum class HostileGroup { kApiIdle, kApiTrickle, kStatusIdle, kStatusTrickle };
enum class Reopen { kYes, kNo };
inline constexpr int kHostileGroupCount = 4;

struct HostileOptions {
  int connections = 10000;  // kept open at once, split evenly over the four groups
  int api_port = 0;         // TLS, on 127.0.0.1
  int status_port = 0;      // plain HTTP, on 127.0.0.1
  int connections_per_source = 20;  // source addresses 127.10.0.1 and up
  std::chrono::milliseconds trickle_interval{4000};
  Reopen reopen = Reopen::kYes;
};

struct HostileGroupReport {
  std::string name;
  int64_t established = 0;      // TCP connections made (reopened ones included)
  int64_t tls_completed = 0;    // TLS handshakes completed (API trickle)
  int64_t connect_failures = 0; // refused, reset or timed out before connecting
  int64_t closed_by_server = 0;
  int64_t answered = 0;         // the server sent something (e.g. 408) before closing
  int64_t open_now = 0;
  std::vector<double> close_seconds;  // from connecting to the server's close
  int64_t bytes_trickled = 0;
};

class HostileConnections {
 public:
  explicit HostileConnections(HostileOptions options);
  ~HostileConnections();  // Stop()s
  HostileConnections(const HostileConnections&) = delete;
  HostileConnections& operator=(const HostileConnections&) = delete;

  // Opens the connections and starts the event thread.
  void Start();
  // Closes everything and joins the thread. Idempotent.
  void Stop();
  // How many are connected right now (of every group).
  int64_t OpenNow() const;
  std::vector<HostileGroupReport> Report() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ww::bench
