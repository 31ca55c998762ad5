#pragma once
// GitSync: the loop that follows the git source. One thread fetches at start, every interval,
// and when Trigger() (a verified webhook, POST /v1/sync) or SyncNow() (`wwctl sync`) asks.
// Requests that arrive while a fetch runs coalesce into exactly one more fetch after it; a
// delivery id seen recently is ignored. A commit other than the last one handed over goes to
// on_commit, failures to on_error; both run on the sync thread. All methods are thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "reconciler/git/git_source.h"
#include "schema/result.h"

namespace ww {

struct GitSyncOptions {
  // Time between fetches when nothing asks. Default: 60 s.
  std::chrono::milliseconds interval = std::chrono::seconds(60);
  // How many recent delivery ids are remembered for duplicate detection. Default: 1000.
  std::size_t remembered_deliveries = 1000;
  // A commit already in force (from the store after a restart): not handed over again.
  std::string known_commit;
};

enum class TriggerOutcome {
  kQueued,     // a fetch will start after this call (coalesced with any other waiting request)
  kDuplicate,  // the delivery id was seen recently: nothing happens
  kStopped,    // the loop is not running
};

class GitSync {
 public:
  using FetchFunction = std::function<Result<GitSnapshot>()>;
  using CancelFunction = std::function<void()>;
  using CommitHandler = std::function<void(const GitSnapshot&)>;
  using ErrorHandler = std::function<void(const Status&)>;

  // `fetch` runs on the sync thread only (GitSource::Fetch). `cancel` (may be empty) is called
  // from Stop() to cut a running fetch short (GitSource::Cancel).
  GitSync(FetchFunction fetch, CancelFunction cancel, CommitHandler on_commit, ErrorHandler on_error, GitSyncOptions options = {});
  // Fetches from `source`, which must outlive this object.
  GitSync(GitSource& source, CommitHandler on_commit, ErrorHandler on_error, GitSyncOptions options = {});
  GitSync(const GitSync&) = delete;
  GitSync& operator=(const GitSync&) = delete;
  ~GitSync();

  // Starts the thread; the first fetch begins at once. Calling it twice does nothing.
  void Start();
  // Cancels a running fetch, starts no other, and joins the thread. Idempotent.
  void Stop();

  // Asks for a fetch. A request whose delivery id or body digest was seen recently is a
  // duplicate (a replayed webhook body carries a new delivery id, or none); empty ones are
  // never compared.
  TriggerOutcome Trigger(std::string_view delivery_id, std::string_view body_digest = {});

  // Asks for a fetch and waits for one that started after this call; returns its result
  // (kUnavailable when the loop stops first). on_commit/on_error still see it.
  Result<GitSnapshot> SyncNow();

  // The last commit handed to on_commit (or options.known_commit); "" before any.
  std::string last_commit() const;
  // Fetches finished since Start().
  uint64_t completed_fetches() const;

 private:
  void Run();
  bool Seen(std::string_view key) const;
  void Remember(std::string_view key);  // empty keys are not remembered

  const FetchFunction fetch_;
  const CancelFunction cancel_;
  const CommitHandler on_commit_;
  const ErrorHandler on_error_;
  const GitSyncOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;      // a request arrived or Stop()
  std::condition_variable finished_;  // a fetch finished or Stop()
  bool started_ = false;              // guarded by mutex_
  bool stopping_ = false;             // guarded by mutex_
  uint64_t requested_ = 0;            // guarded by mutex_: requests so far
  uint64_t served_ = 0;               // guarded by mutex_: requests covered by finished fetches
  uint64_t completed_fetches_ = 0;    // guarded by mutex_
  std::optional<Result<GitSnapshot>> last_result_;  // guarded by mutex_
  std::string last_commit_;                         // guarded by mutex_
  std::deque<std::string> delivery_order_;          // guarded by mutex_
  std::unordered_set<std::string> deliveries_;      // guarded by mutex_
  std::thread thread_;
};

}  // namespace ww
