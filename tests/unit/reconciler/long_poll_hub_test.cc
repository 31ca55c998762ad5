// LongPollHub's callback waiters (what parked connections use): each is called exactly once,
// by whichever comes first of a notification, a revocation, shutdown or Expire (its timer),
// always outside the hub's lock.

#include "reconciler/api/long_poll_hub.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ww {
namespace {

using Outcome = LongPollHub::WaitOutcome;

// Records every call of one waiter.
struct Calls {
  std::vector<LongPollHub::WaitResult> results;
  LongPollHub::Callback Recorder() {
    return [this](const LongPollHub::WaitResult& result) { results.push_back(result); };
  }
};

TEST_CASE("long-poll hub: an outcome that already applies is called back before Await returns") {
  LongPollHub hub;
  hub.Notify("a", 3);
  Calls calls;
  LongPollHub::WaiterId id = hub.Await("a", 2, calls.Recorder());
  CHECK(id != 0);
  REQUIRE(calls.results.size() == 1);
  CHECK(calls.results[0].outcome == Outcome::kNewer);
  CHECK(calls.results[0].generation == 3);
  CHECK_FALSE(hub.Expire(id));  // already answered
  CHECK(hub.Waiting() == 0);
}

TEST_CASE("long-poll hub: Expire answers kTimedOut once; a later notification calls nobody") {
  LongPollHub hub;
  Calls calls;
  LongPollHub::WaiterId id = hub.Await("a", 0, calls.Recorder());
  CHECK(calls.results.empty());
  CHECK(hub.Waiting() == 1);
  CHECK(hub.Expire(id));
  CHECK_FALSE(hub.Expire(id));
  hub.Notify("a", 1);
  hub.Revoke("a");
  hub.Shutdown();
  REQUIRE(calls.results.size() == 1);
  CHECK(calls.results[0].outcome == Outcome::kTimedOut);
  CHECK(hub.Waiting() == 0);
}

TEST_CASE("long-poll hub: a notification wins over a later Expire, and only passes its own key") {
  LongPollHub hub;
  Calls a;
  Calls a_later;
  Calls b;
  LongPollHub::WaiterId id = hub.Await("a", 0, a.Recorder());
  hub.Await("a", 5, a_later.Recorder());
  hub.Await("b", 0, b.Recorder());
  hub.Notify("a", 1);
  CHECK_FALSE(hub.Expire(id));
  REQUIRE(a.results.size() == 1);
  CHECK(a.results[0].outcome == Outcome::kNewer);
  CHECK(a_later.results.empty());  // generation 1 does not pass 5
  CHECK(b.results.empty());
  CHECK(hub.Waiting() == 2);
  hub.Notify("a", 6);
  REQUIRE(a_later.results.size() == 1);
  CHECK(a_later.results[0].generation == 6);
}

TEST_CASE("long-poll hub: revocation and shutdown call every waiter of theirs once") {
  LongPollHub hub;
  Calls gone;
  Calls kept;
  hub.Await("gone", 0, gone.Recorder());
  hub.Await("kept", 0, kept.Recorder());
  hub.Revoke("gone");
  REQUIRE(gone.results.size() == 1);
  CHECK(gone.results[0].outcome == Outcome::kRevoked);
  CHECK(kept.results.empty());
  hub.Shutdown();
  REQUIRE(kept.results.size() == 1);
  CHECK(kept.results[0].outcome == Outcome::kShutdown);
  Calls late;
  hub.Await("kept", 0, late.Recorder());
  REQUIRE(late.results.size() == 1);
  CHECK(late.results[0].outcome == Outcome::kShutdown);
}

TEST_CASE("long-poll hub: callbacks run outside the lock and may call the hub") {
  LongPollHub hub;
  std::atomic<int> called{0};
  hub.Await("a", 0, [&](const LongPollHub::WaitResult&) {
    ++called;
    CHECK(hub.Waiting() == 0);                                             // would deadlock inside the lock
    hub.Await("a", 9, [&](const LongPollHub::WaitResult&) { ++called; });  // waits again
  });
  hub.Notify("a", 1);
  CHECK(called == 1);
  CHECK(hub.Waiting() == 1);
  hub.Notify("a", 10);
  CHECK(called == 2);
}

TEST_CASE("long-poll hub: racing Notify and Expire still call each waiter exactly once") {
  LongPollHub hub;
  constexpr int kWaiters = 2000;
  std::vector<std::atomic<int>> calls(kWaiters);
  std::vector<LongPollHub::WaiterId> ids;
  for (int i = 0; i < kWaiters; ++i) {
    ids.push_back(
        hub.Await("k", 0, [&calls, i](const LongPollHub::WaitResult&) { ++calls[static_cast<std::size_t>(i)]; }));
  }
  std::thread expirer([&] {
    for (LongPollHub::WaiterId id : ids) hub.Expire(id);
  });
  hub.Notify("k", 1);
  expirer.join();
  for (const std::atomic<int>& count : calls) CHECK(count == 1);
  CHECK(hub.Waiting() == 0);
}

}  // namespace
}  // namespace ww
