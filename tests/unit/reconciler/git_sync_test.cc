// GitSync's loop with a scripted fetch: coalescing, duplicate deliveries, commit hand-over,
// errors, SyncNow and Stop. The interval is an hour, so only requests cause fetches; waits
// are on condition variables, never sleeps.

#include "reconciler/git/git_sync.h"

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ww {
namespace {

GitSnapshot Snapshot(std::string sha) {
  GitSnapshot snapshot;
  snapshot.commit_sha = std::move(sha);
  return snapshot;
}

// A fetch whose results are scripted and whose calls can be held at a gate.
class ScriptedFetch {
 public:
  Result<GitSnapshot> operator()() {
    std::unique_lock lock(mutex_);
    const size_t call = calls_++;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !held_; });
    Result<GitSnapshot> result = call < results_.size() ? results_[call] : results_.back();
    ++finished_;
    changed_.notify_all();
    return result;
  }

  void Script(std::vector<Result<GitSnapshot>> results) {
    std::lock_guard lock(mutex_);
    results_ = std::move(results);
  }
  void Hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    changed_.notify_all();
  }
  void WaitForCalls(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return calls_ >= count; });
  }
  void WaitForFinished(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return finished_ >= count; });
  }
  size_t calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  size_t calls_ = 0;
  size_t finished_ = 0;
  std::vector<Result<GitSnapshot>> results_{Snapshot("a")};
};

// What the callbacks saw, in order.
struct Handed {
  std::mutex mutex;
  std::vector<std::string> commits;
  std::vector<std::string> errors;

  GitSync::CommitHandler OnCommit() {
    return [this](const GitSnapshot& snapshot) {
      std::lock_guard lock(mutex);
      commits.push_back(snapshot.commit_sha);
    };
  }
  GitSync::ErrorHandler OnError() {
    return [this](const Status& status) {
      std::lock_guard lock(mutex);
      errors.push_back(status.ToString());
    };
  }
};

GitSyncOptions HourlyOptions() {
  GitSyncOptions options;
  options.interval = std::chrono::hours(1);
  return options;
}

TEST_CASE("GitSync coalesces ten triggers during a slow fetch into one more fetch") {
  ScriptedFetch fetch;
  Handed handed;
  fetch.Hold();
  GitSync sync([&] { return fetch(); }, nullptr, handed.OnCommit(), handed.OnError(), HourlyOptions());
  sync.Start();
  fetch.WaitForCalls(1);  // the start-up fetch is running and held
  for (int index = 0; index < 10; ++index) {
    CHECK(sync.Trigger("delivery-" + std::to_string(index)) == TriggerOutcome::kQueued);
  }
  fetch.Release();
  fetch.WaitForFinished(2);
  sync.Stop();
  CHECK(fetch.calls() == 2);
  CHECK(sync.completed_fetches() == 2);
  // The same commit twice is handed over once.
  CHECK(handed.commits == std::vector<std::string>{"a"});
  CHECK(handed.errors.empty());
}

TEST_CASE("GitSync ignores a delivery id it has seen and forgets the oldest beyond the limit") {
  ScriptedFetch fetch;
  Handed handed;
  GitSyncOptions options = HourlyOptions();
  options.remembered_deliveries = 2;
  GitSync sync([&] { return fetch(); }, nullptr, handed.OnCommit(), handed.OnError(), options);
  sync.Start();
  fetch.WaitForFinished(1);
  fetch.Hold();
  CHECK(sync.Trigger("d1") == TriggerOutcome::kQueued);
  fetch.WaitForCalls(2);
  CHECK(sync.Trigger("d1") == TriggerOutcome::kDuplicate);
  CHECK(sync.Trigger("d2") == TriggerOutcome::kQueued);
  CHECK(sync.Trigger("d3") == TriggerOutcome::kQueued);  // d1 is forgotten now
  CHECK(sync.Trigger("d3") == TriggerOutcome::kDuplicate);
  CHECK(sync.Trigger("d1") == TriggerOutcome::kQueued);
  CHECK(sync.Trigger("") == TriggerOutcome::kQueued);  // no id: never a duplicate
  CHECK(sync.Trigger("") == TriggerOutcome::kQueued);
  // A replayed body is a duplicate whatever its delivery id.
  CHECK(sync.Trigger("d7", "digest-a") == TriggerOutcome::kQueued);
  CHECK(sync.Trigger("d8", "digest-a") == TriggerOutcome::kDuplicate);
  CHECK(sync.Trigger("", "digest-a") == TriggerOutcome::kDuplicate);
  fetch.Release();
  fetch.WaitForFinished(3);
  sync.Stop();
  CHECK(fetch.calls() == 3);
  CHECK(sync.Trigger("d9") == TriggerOutcome::kStopped);
}

TEST_CASE("GitSync hands over each new commit once and reports errors") {
  ScriptedFetch fetch;
  fetch.Script({Snapshot("a"), Status::Unavailable("fetching from \"x\": connection refused"), Snapshot("a"), Snapshot("b"),
                Snapshot("b")});
  Handed handed;
  GitSync sync([&] { return fetch(); }, nullptr, handed.OnCommit(), handed.OnError(), HourlyOptions());
  sync.Start();
  fetch.WaitForFinished(1);
  for (size_t call = 2; call <= 5; ++call) {
    CHECK(sync.Trigger("") == TriggerOutcome::kQueued);
    fetch.WaitForFinished(call);
  }
  sync.Stop();
  CHECK(handed.commits == std::vector<std::string>{"a", "b"});
  REQUIRE(handed.errors.size() == 1);
  CHECK(handed.errors[0].find("fetching from \"x\": connection refused") != std::string::npos);
  CHECK(sync.last_commit() == "b");
}

TEST_CASE("GitSync does not hand over the commit already in force") {
  ScriptedFetch fetch;
  fetch.Script({Snapshot("a"), Snapshot("b")});
  Handed handed;
  GitSyncOptions options = HourlyOptions();
  options.known_commit = "a";
  GitSync sync([&] { return fetch(); }, nullptr, handed.OnCommit(), handed.OnError(), options);
  CHECK(sync.last_commit() == "a");
  sync.Start();
  fetch.WaitForFinished(1);  // the start-up fetch sees "a", the commit in force
  Result<GitSnapshot> now = sync.SyncNow();
  sync.Stop();
  REQUIRE(now.ok());
  CHECK(now->commit_sha == "b");
  CHECK(handed.commits == std::vector<std::string>{"b"});
}

TEST_CASE("GitSync SyncNow waits for a fetch that started after the call") {
  ScriptedFetch fetch;
  fetch.Script({Snapshot("a"), Snapshot("b"), Status::Unavailable("fetching from \"x\": timed out after 30000 ms")});
  Handed handed;
  fetch.Hold();
  GitSync sync([&] { return fetch(); }, nullptr, handed.OnCommit(), handed.OnError(), HourlyOptions());
  sync.Start();
  fetch.WaitForCalls(1);
  // The held start-up fetch ("a") began before SyncNow, so SyncNow must see the next one.
  Result<GitSnapshot> first = Status::Internal("not run");
  std::thread waiter([&] { first = sync.SyncNow(); });
  fetch.Release();
  waiter.join();
  REQUIRE(first.ok());
  CHECK(first->commit_sha == "b");

  Result<GitSnapshot> failed = sync.SyncNow();
  CHECK(failed.status() == Status::Unavailable("fetching from \"x\": timed out after 30000 ms"));
  sync.Stop();
  CHECK(fetch.calls() == 3);
  CHECK(handed.commits == std::vector<std::string>{"a", "b"});
}

TEST_CASE("GitSync Stop cancels a running fetch and a waiting SyncNow returns") {
  ScriptedFetch fetch;
  Handed handed;
  fetch.Hold();
  bool cancelled = false;
  GitSync sync(
      [&] { return fetch(); },
      [&] {
        cancelled = true;
        fetch.Release();  // what GitSource::Cancel does to a fetch blocked on the network
      },
      handed.OnCommit(), handed.OnError(), HourlyOptions());
  sync.Start();
  fetch.WaitForCalls(1);
  Result<GitSnapshot> waited = Snapshot("unset");
  std::thread waiter([&] { waited = sync.SyncNow(); });
  sync.Stop();
  waiter.join();
  CHECK(cancelled);
  // Either SyncNow got in before Stop ("stopped before the fetch finished") or after it.
  CHECK(waited.status().code() == StatusCode::kUnavailable);
  CHECK(fetch.calls() == 1);
  CHECK(sync.SyncNow().status() == Status::Unavailable("git sync is not running"));
}

}  // namespace
}  // namespace ww
