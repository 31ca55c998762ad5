#pragma once
// GitFeed: the git source as a revision feed. GitSync (reconciler/git) follows the branch;
// every new commit goes to FleetService::Submit tagged with its SHA, author and message, and
// a commit that cannot become a revision (invalid fleet, destructive change, a symlink or an
// oversized file) is recorded as the rejected commit while the last good revision stays in
// force. A forced apply or rollback stays in force until the next commit, also across a
// restart: the newest commit ever accepted counts as known, never the override. It also answers the signed webhook (POST /hooks/git on the status listener: 202 at
// once, the fetch follows) and POST /v1/sync (admin: fetch now and say which commit).
// Thread-safe; callbacks run on GitSync's thread.

#include <chrono>
#include <memory>
#include <string>

#include "reconciler/api/https_server.h"
#include "reconciler/client/log_line.h"
#include "reconciler/core/revision_guard.h"
#include "reconciler/git/git_source.h"
#include "reconciler/git/git_sync.h"
#include "reconciler/server/fleet_service.h"
#include "reconciler/status/status_listener.h"
#include "schema/result.h"

namespace ww {

struct GitFeedOptions {
  GitSourceOptions source;
  std::chrono::milliseconds interval = std::chrono::seconds(60);
  // The shared secret webhooks are signed with; empty refuses every webhook (403).
  std::string webhook_secret;
  // Git has no --allow-destructive flag per push; the operator decides for the whole feed.
  AllowDestructive allow_destructive = AllowDestructive::kNo;
  // Where progress and failures are logged (one line each). Default: nowhere.
  std::function<void(LogLevel, const std::string&)> log;
};

class GitFeed {
 public:
  // Opens the source (checks its options, creates the cache) and registers POST /v1/sync.
  // REQUIRES: before server.Start(); service, store and server outlive the feed.
  static Result<std::unique_ptr<GitFeed>> Create(FleetService& service, Store& store, HttpsServer& server,
                                                 GitFeedOptions options);
  ~GitFeed();  // Stop()s
  GitFeed(const GitFeed&) = delete;
  GitFeed& operator=(const GitFeed&) = delete;

  void Start();  // the first fetch begins at once
  void Stop();   // idempotent

  // For StatusListenerOptions::webhook: verifies the signature, then queues a fetch.
  // 202 accepted (or a duplicate delivery, also 202), 401 bad or missing signature,
  // 403 when no secret is configured.
  WebhookAnswer HandleWebhook(const HttpHeaders& headers, const std::string& body);

 private:
  GitFeed(FleetService& service, GitFeedOptions options, std::unique_ptr<GitSource> source);
  void OnCommit(const GitSnapshot& snapshot);
  void OnError(const Status& status);
  HttpResponse HandleSync(const HttpRequest& request);

  FleetService& service_;
  GitFeedOptions options_;
  std::unique_ptr<GitSource> source_;
  std::unique_ptr<GitSync> sync_;
};

}  // namespace ww
