#include "reconciler/api/long_poll_hub.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <utility>

namespace ww {

bool LongPollHub::ReadyLocked(const Slot& slot, std::uint64_t after_generation, WaitResult& result) const {
  result.generation = slot.generation;
  if (shut_down_) {
    result.outcome = WaitOutcome::kShutdown;
  } else if (slot.revoked) {
    result.outcome = WaitOutcome::kRevoked;
  } else if (slot.generation > after_generation) {
    result.outcome = WaitOutcome::kNewer;
  } else {
    return false;
  }
  return true;
}

std::vector<LongPollHub::Firing> LongPollHub::TakeLocked(Slot& slot, WaitOutcome outcome,
                                                         const std::function<bool(const Waiter&)>& pick) {
  std::vector<Firing> firings;
  std::vector<WaiterId> kept;
  for (WaiterId id : slot.waiters) {
    auto found = waiters_.find(id);
    if (found == waiters_.end()) continue;
    if (!pick(found->second)) {
      kept.push_back(id);
      continue;
    }
    firings.push_back(Firing{std::move(found->second.done), WaitResult{outcome, slot.generation}});
    waiters_.erase(found);
  }
  slot.waiters = std::move(kept);
  return firings;
}

void LongPollHub::Fire(std::vector<Firing>& firings) {
  for (Firing& firing : firings) firing.done(firing.result);
}

LongPollHub::WaiterId LongPollHub::Await(const std::string& key, std::uint64_t after_generation, Callback done) {
  WaitResult ready;
  WaiterId id = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
    Slot& slot = slots_[key];
    if (!ReadyLocked(slot, after_generation, ready)) {
      slot.waiters.push_back(id);
      waiters_.emplace(id, Waiter{key, after_generation, std::move(done)});
      return id;
    }
  }
  done(ready);
  return id;
}

bool LongPollHub::Expire(WaiterId id) {
  Callback done;
  WaitResult result;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = waiters_.find(id);
    if (found == waiters_.end()) return false;
    Slot& slot = slots_[found->second.key];
    slot.waiters.erase(std::remove(slot.waiters.begin(), slot.waiters.end(), id), slot.waiters.end());
    done = std::move(found->second.done);
    result = WaitResult{WaitOutcome::kTimedOut, slot.generation};
    waiters_.erase(found);
  }
  done(result);
  return true;
}

LongPollHub::WaitResult LongPollHub::Wait(const std::string& key, std::uint64_t after_generation,
                                          std::chrono::milliseconds timeout) {
  struct Rendezvous {
    std::mutex mutex;
    std::condition_variable called;
    bool done = false;
    WaitResult result;
  };
  auto rendezvous = std::make_shared<Rendezvous>();
  WaiterId id = Await(key, after_generation, [rendezvous](const WaitResult& result) {
    std::lock_guard<std::mutex> lock(rendezvous->mutex);
    rendezvous->result = result;
    rendezvous->done = true;
    rendezvous->called.notify_all();
  });
  std::unique_lock<std::mutex> lock(rendezvous->mutex);
  if (!rendezvous->called.wait_for(lock, timeout, [&] { return rendezvous->done; })) {
    lock.unlock();
    Expire(id);  // either ends the wait with kTimedOut or lost to a notification: both call back
    lock.lock();
    rendezvous->called.wait(lock, [&] { return rendezvous->done; });
  }
  return rendezvous->result;
}

void LongPollHub::Notify(const std::string& key, std::uint64_t generation) {
  std::vector<Firing> firings;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Slot& slot = slots_[key];
    slot.generation = std::max(slot.generation, generation);
    if (shut_down_ || slot.revoked) return;  // their waiters were already called
    firings = TakeLocked(slot, WaitOutcome::kNewer,
                         [&slot](const Waiter& waiter) { return slot.generation > waiter.after_generation; });
  }
  Fire(firings);
}

void LongPollHub::Revoke(const std::string& key) {
  std::vector<Firing> firings;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Slot& slot = slots_[key];
    slot.revoked = true;
    if (shut_down_) return;
    firings = TakeLocked(slot, WaitOutcome::kRevoked, [](const Waiter&) { return true; });
  }
  Fire(firings);
}

void LongPollHub::Reinstate(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = slots_.find(key);
  if (found != slots_.end()) found->second.revoked = false;
}

void LongPollHub::Shutdown() {
  std::vector<Firing> firings;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shut_down_ = true;
    for (auto& [key, slot] : slots_) {
      std::vector<Firing> taken = TakeLocked(slot, WaitOutcome::kShutdown, [](const Waiter&) { return true; });
      for (Firing& firing : taken) firings.push_back(std::move(firing));
    }
  }
  Fire(firings);
}

std::size_t LongPollHub::Waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiters_.size();
}

}  // namespace ww
