#include "reconciler/git/git_sync.h"

#include <algorithm>
#include <utility>

namespace ww {

GitSync::GitSync(FetchFunction fetch, CancelFunction cancel, CommitHandler on_commit, ErrorHandler on_error, GitSyncOptions options)
    : fetch_(std::move(fetch)),
      cancel_(std::move(cancel)),
      on_commit_(std::move(on_commit)),
      on_error_(std::move(on_error)),
      options_(std::move(options)),
      last_commit_(options_.known_commit) {}

GitSync::GitSync(GitSource& source, CommitHandler on_commit, ErrorHandler on_error, GitSyncOptions options)
    : GitSync([&source] { return source.Fetch(); }, [&source] { source.Cancel(); }, std::move(on_commit), std::move(on_error),
              std::move(options)) {}

GitSync::~GitSync() { Stop(); }

void GitSync::Start() {
  std::lock_guard lock(mutex_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void GitSync::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  finished_.notify_all();
  if (cancel_) cancel_();
  if (thread_.joinable()) thread_.join();
}

bool GitSync::Seen(std::string_view key) const { return !key.empty() && deliveries_.contains(std::string(key)); }

void GitSync::Remember(std::string_view key) {
  if (key.empty()) return;
  const auto [position, inserted] = deliveries_.emplace(key);
  if (!inserted) return;
  delivery_order_.push_back(*position);
  while (delivery_order_.size() > options_.remembered_deliveries) {
    deliveries_.erase(delivery_order_.front());
    delivery_order_.pop_front();
  }
}

TriggerOutcome GitSync::Trigger(std::string_view delivery_id, std::string_view body_digest) {
  const std::string digest_key = body_digest.empty() ? std::string() : "body:" + std::string(body_digest);
  {
    std::lock_guard lock(mutex_);
    if (!started_ || stopping_) return TriggerOutcome::kStopped;
    if (Seen(delivery_id) || Seen(digest_key)) return TriggerOutcome::kDuplicate;
    Remember(delivery_id);
    Remember(digest_key);
    ++requested_;
  }
  wake_.notify_all();
  return TriggerOutcome::kQueued;
}

Result<GitSnapshot> GitSync::SyncNow() {
  std::unique_lock lock(mutex_);
  if (!started_ || stopping_) return Status::Unavailable("git sync is not running");
  const uint64_t request = ++requested_;
  wake_.notify_all();
  finished_.wait(lock, [&] { return served_ >= request || stopping_; });
  if (served_ < request || !last_result_) return Status::Unavailable("git sync stopped before the fetch finished");
  return *last_result_;
}

std::string GitSync::last_commit() const {
  std::lock_guard lock(mutex_);
  return last_commit_;
}

uint64_t GitSync::completed_fetches() const {
  std::lock_guard lock(mutex_);
  return completed_fetches_;
}

void GitSync::Run() {
  std::unique_lock lock(mutex_);
  bool fetch_due = true;  // the first fetch runs at start
  while (!stopping_) {
    if (!fetch_due) {
      // Either a request arrives or the interval passes: both mean fetch.
      wake_.wait_for(lock, options_.interval, [this] { return stopping_ || requested_ > served_; });
      if (stopping_) break;
    }
    // Requests up to here are served by this fetch; later ones get the next.
    const uint64_t covered = requested_;
    const std::string previous_commit = last_commit_;
    lock.unlock();

    Result<GitSnapshot> result = fetch_();
    if (result.ok()) {
      if (result->commit_sha != previous_commit) {
        if (on_commit_) on_commit_(*result);
      }
    } else if (on_error_) {
      on_error_(result.status());
    }

    lock.lock();
    if (result.ok()) last_commit_ = result->commit_sha;
    served_ = std::max(served_, covered);
    ++completed_fetches_;
    last_result_ = std::move(result);
    finished_.notify_all();
    fetch_due = requested_ > served_;
  }
}

}  // namespace ww
