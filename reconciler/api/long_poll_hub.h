#pragma once
// Long-poll rendezvous: a waiter registers for a key and is called once the key's generation
// passes the one it holds; the reconciler notifies when it stores a newer plan, and revokes a
// key when its agent is deleted so that an open long-poll is answered at once (401) rather
// than at its timeout. Waiters are callbacks, not threads: the front end parks a connection
// here and arms its own timer, which calls Expire. Safe for any number of threads; callbacks
// always run outside the hub's lock, so they may call back into the hub.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ww {

class LongPollHub {
 public:
  // When several apply, kShutdown wins over kRevoked, which wins over kNewer.
  enum class WaitOutcome { kNewer, kTimedOut, kShutdown, kRevoked };
  struct WaitResult {
    WaitOutcome outcome = WaitOutcome::kTimedOut;
    std::uint64_t generation = 0;  // the key's latest notified generation
  };
  using WaiterId = std::uint64_t;
  using Callback = std::function<void(const WaitResult&)>;

  // Calls `done` exactly once: with kShutdown, kRevoked or kNewer as soon as one applies (on
  // this thread, before Await returns, when one already does), or with kTimedOut when
  // Expire(id) comes first. The returned id is never 0.
  WaiterId Await(const std::string& key, std::uint64_t after_generation, Callback done);
  // Ends waiter `id` with kTimedOut if it is still waiting (true); false when it was already
  // called (or the id is unknown), so a timer and a notification never both answer.
  bool Expire(WaiterId id);

  // Blocking form of Await for threads that may wait (tests, tools): returns at once when
  // an outcome applies, otherwise waits up to `timeout`.
  WaitResult Wait(const std::string& key, std::uint64_t after_generation, std::chrono::milliseconds timeout);

  // Records `generation` for `key` (generations never go back) and calls that key's waiters
  // whose generation it passes.
  void Notify(const std::string& key, std::uint64_t generation);
  // Calls the key's waiters with kRevoked; until Reinstate(key), every wait on the key ends
  // with kRevoked at once. Other keys are untouched. Revoking twice is the same as once. The
  // key's generation is kept (Notify still records newer ones while it is revoked).
  void Revoke(const std::string& key);
  // Undoes Revoke(key), e.g. when an agent of that name enrolls again. No-op if not revoked.
  void Reinstate(const std::string& key);
  // Calls every waiter with kShutdown; later waits end with kShutdown at once.
  void Shutdown();
  // How many waiters are registered right now (parked long-polls and blocking waits).
  std::size_t Waiting() const;

 private:
  struct Waiter {
    std::string key;
    std::uint64_t after_generation = 0;
    Callback done;
  };
  struct Slot {
    std::uint64_t generation = 0;
    bool revoked = false;
    std::vector<WaiterId> waiters;  // registration order
  };
  struct Firing {
    Callback done;
    WaitResult result;
  };

  // The outcome that ends a wait on `slot` now, if any. REQUIRES: mutex_ held.
  bool ReadyLocked(const Slot& slot, std::uint64_t after_generation, WaitResult& result) const;
  // Removes the key's waiters that `pick` selects and returns their callbacks with `result`
  // (the outcome; the generation is the slot's). REQUIRES: mutex_ held.
  std::vector<Firing> TakeLocked(Slot& slot, WaitOutcome outcome, const std::function<bool(const Waiter&)>& pick);
  static void Fire(std::vector<Firing>& firings);

  mutable std::mutex mutex_;
  std::map<std::string, Slot> slots_;             // GUARDED_BY(mutex_); one per key, never erased
  std::unordered_map<WaiterId, Waiter> waiters_;  // GUARDED_BY(mutex_)
  WaiterId next_id_ = 1;                          // GUARDED_BY(mutex_)
  bool shut_down_ = false;                        // GUARDED_BY(mutex_)
};

}  // namespace ww
