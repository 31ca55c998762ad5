#include "reconciler/server/git_feed.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <utility>

#include "reconciler/git/webhook.h"
#include "reconciler/server/access_policy.h"

namespace ww {
namespace {

using Json = nlohmann::json;

HttpResponse JsonAnswer(int status, const Json& body) { return HttpResponse{status, "application/json", body.dump()}; }

WebhookAnswer WebhookJson(int status, const Json& body) { return WebhookAnswer{status, "application/json", body.dump()}; }

// The first 40-digit hex word in a message: the commit GitSource names in its refusals.
std::string CommitIn(const std::string& message) {
  size_t run = 0;
  for (size_t i = 0; i <= message.size(); ++i) {
    bool hex = i < message.size() && std::isxdigit(static_cast<unsigned char>(message[i])) &&
               !std::isupper(static_cast<unsigned char>(message[i]));
    if (hex) {
      ++run;
      continue;
    }
    if (run == 40) return message.substr(i - 40, 40);
    run = 0;
  }
  return "";
}

}  // namespace

GitFeed::GitFeed(FleetService& service, GitFeedOptions options, std::unique_ptr<GitSource> source)
    : service_(service), options_(std::move(options)), source_(std::move(source)) {}

GitFeed::~GitFeed() { Stop(); }

Result<std::unique_ptr<GitFeed>> GitFeed::Create(FleetService& service, Store& store, HttpsServer& server,
                                                 GitFeedOptions options) {
  WW_ASSIGN_OR_RETURN(std::unique_ptr<GitSource> source, GitSource::Open(options.source));
  std::unique_ptr<GitFeed> feed(new GitFeed(service, std::move(options), std::move(source)));
  GitSyncOptions sync_options;
  sync_options.interval = feed->options_.interval;
  // After a restart the newest accepted commit is not submitted again: it is in force, or a
  // forced apply or rollback overrides it, and that override lasts until the next commit.
  WW_ASSIGN_OR_RETURN(std::optional<RevisionRecord> latest_git, store.LatestGitRevision());
  if (latest_git) sync_options.known_commit = latest_git->commit_sha;
  GitFeed* self = feed.get();
  feed->sync_ = std::make_unique<GitSync>(
      *feed->source_, [self](const GitSnapshot& snapshot) { self->OnCommit(snapshot); },
      [self](const Status& status) { self->OnError(status); }, sync_options);
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kPost, "/v1/sync", RouteOptions{ClientCertificate::kRequired, 1024},
                                  [self](const HttpRequest& request) { return self->HandleSync(request); }));
  return feed;
}

void GitFeed::Start() { sync_->Start(); }

void GitFeed::Stop() {
  if (sync_) sync_->Stop();
}

void GitFeed::OnCommit(const GitSnapshot& snapshot) {
  RevisionRequest request;
  request.documents = snapshot.files;
  request.source = RevisionSource::kGit;
  request.commit_sha = snapshot.commit_sha;
  request.author = snapshot.author;
  request.message = snapshot.message;
  request.applied_by = "git";
  request.allow_destructive = options_.allow_destructive;
  // A commit is the whole desired state: it may replace what `wwctl apply --force` put in.
  request.force = ForceOverGit::kYes;
  Result<RevisionOutcome> outcome = service_.Submit(request);
  std::string short_sha = snapshot.commit_sha.substr(0, 12);
  if (!outcome.ok()) {
    if (options_.log) options_.log(LogLevel::kError, "git: commit " + short_sha + ": " + outcome.status().message());
    return;
  }
  switch (outcome->verdict) {
    case RevisionVerdict::kAccepted:
      if (options_.log) {
        options_.log(LogLevel::kInfo, "git: commit " + short_sha + " is revision " +
                                          std::to_string(outcome->revision_id.value_or(0)) + outcome->override_ended);
      }
      break;
    case RevisionVerdict::kUnchanged:
    case RevisionVerdict::kDryRun:
      break;
    case RevisionVerdict::kInvalid:  // Submit records invalid git commits itself
      if (options_.log) options_.log(LogLevel::kWarning, "git: commit " + short_sha + " rejected: " + outcome->message);
      break;
    case RevisionVerdict::kDestructive:
    case RevisionVerdict::kGitOwned:
      (void)service_.RecordRejectedCommit(snapshot.commit_sha, {outcome->message});
      if (options_.log) options_.log(LogLevel::kWarning, "git: commit " + short_sha + " rejected: " + outcome->message);
      break;
  }
}

void GitFeed::OnError(const Status& status) {
  // A refusal of the commit's content (symlink, submodule, oversized file) is a rejected
  // commit the status page shows; a failed fetch (network, credentials) is only logged and
  // retried at the next interval.
  std::string commit = CommitIn(status.message());
  if (status.code() == StatusCode::kFailedPrecondition && !commit.empty()) {
    (void)service_.RecordRejectedCommit(commit, {status.message()});
  }
  if (options_.log) options_.log(LogLevel::kWarning, "git: " + status.ToString());
}

WebhookAnswer GitFeed::HandleWebhook(const HttpHeaders& headers, const std::string& body) {
  if (options_.webhook_secret.empty()) {
    return WebhookJson(403, Json{{"error", "webhooks are off: start the reconciler with --webhook-secret-file"}});
  }
  WebhookVerdict verdict = VerifyWebhook(headers, body, options_.webhook_secret);
  if (verdict.decision != WebhookDecision::kAccepted) return WebhookJson(401, Json{{"error", verdict.reason}});
  TriggerOutcome outcome = sync_->Trigger(verdict.delivery_id, Sha256Hex(body));
  return WebhookJson(202, Json{{"queued", outcome == TriggerOutcome::kQueued},
                              {"duplicate", outcome == TriggerOutcome::kDuplicate}});
}

HttpResponse GitFeed::HandleSync(const HttpRequest& request) {
  if (Status allowed = Authorize(request.identity, Operation::kChange, "triggering a sync"); !allowed.ok()) {
    return JsonAnswer(403, Json{{"error", allowed.message()}});
  }
  Result<GitSnapshot> snapshot = sync_->SyncNow();
  if (!snapshot.ok()) return JsonAnswer(502, Json{{"error", snapshot.status().message()}});
  return JsonAnswer(200, Json{{"commit", snapshot->commit_sha}, {"author", snapshot->author},
                              {"message", snapshot->message_subject}});
}

}  // namespace ww
