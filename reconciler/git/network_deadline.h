#pragma once
// git-internal: bounds libgit2's network I/O by a deadline. libgit2 1.5 has no timeout option,
// so we register our own socket stream (process-wide, once) whose connect, read and write wait
// at most until the deadline of the fetch running on the calling thread, and a watchdog that
// shuts those sockets down at the deadline or on Cancel() — which also wakes libssh2, which
// polls the descriptor itself. Only reconciler/git includes this.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "schema/result.h"

namespace ww::git_internal {

enum class FetchEnd { kRunning, kFinished, kTimedOut, kCancelled };

// One fetch's network state. Streams created on the thread that holds a ScopedFetchNetwork
// register their sockets here.
class FetchNetwork {
 public:
  explicit FetchNetwork(std::chrono::steady_clock::time_point deadline);
  FetchNetwork(const FetchNetwork&) = delete;
  FetchNetwork& operator=(const FetchNetwork&) = delete;
  // Stops the watchdog.
  ~FetchNetwork();

  std::chrono::steady_clock::time_point deadline() const { return deadline_; }
  // kRunning until the deadline passes or Cancel() is called; safe from any thread.
  FetchEnd end() const;
  // Shuts every registered socket down and marks the fetch cancelled; safe from any thread.
  void Cancel();

  // For the stream: a socket to shut down at the deadline; forgotten before it is closed.
  void Register(int fd);
  void Forget(int fd);

 private:
  void Watch();
  void EndLocked(FetchEnd end);

  const std::chrono::steady_clock::time_point deadline_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  FetchEnd end_ = FetchEnd::kRunning;  // guarded by mutex_
  std::vector<int> sockets_;           // guarded by mutex_
  std::thread watchdog_;
};

// Makes `network` the calling thread's current fetch for the streams libgit2 creates.
class ScopedFetchNetwork {
 public:
  explicit ScopedFetchNetwork(FetchNetwork& network);
  ScopedFetchNetwork(const ScopedFetchNetwork&) = delete;
  ScopedFetchNetwork& operator=(const ScopedFetchNetwork&) = delete;
  ~ScopedFetchNetwork();

 private:
  FetchNetwork* previous_;
};

// The calling thread's current fetch, or nullptr.
FetchNetwork* CurrentFetchNetwork();

// Registers the deadline-aware socket stream with libgit2 (idempotent, thread-safe).
// REQUIRES: git_libgit2_init() was called.
Status InstallDeadlineSocketStream();

}  // namespace ww::git_internal
