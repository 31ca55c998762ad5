// FleetService: the facade over the fleet's parts (see fleet_service.h): it owns them, holds
// the mutex for the calls of the routes, and runs the tick.

#include "reconciler/server/fleet_service.h"

#include <algorithm>
#include <utility>

#include "reconciler/server/fleet_snapshot_builder.h"

namespace ww {

FleetService::FleetService(Store& store, const CertificateAuthority& ca, HttpsServer& server, RevokedSerials& revoked,
                           FleetServiceOptions options)
    : store_(store),
      ca_(ca),
      server_(server),
      revoked_(revoked),
      options_(std::move(options)),
      rotation_(store, revoked),
      state_(store, server.long_polls()),
      queue_(state_, options_.control_address),
      book_(state_, queue_, options_.validation, options_.now) {}

FleetService::~FleetService() { Stop(); }

Status FleetService::Start() {
  if (!options_.now) return Status::InvalidArgument("the fleet service needs a clock");
  {
    std::lock_guard lock(state_.mutex);
    WW_RETURN_IF_ERROR(Load());
    WW_RETURN_IF_ERROR(queue_.Reconcile(options_.now(), state_.AgentNames()));
  }
  pruned_at_ = options_.now();
  WW_RETURN_IF_ERROR(PruneEvents(pruned_at_));
  if (!routes_) {
    auto routes = std::make_unique<FleetRoutes>(*this, store_, ca_, server_, options_.now, options_.version);
    WW_RETURN_IF_ERROR(routes->Register());
    routes_ = std::move(routes);
    server_.OnAuthenticated(
        [this](const Identity& identity, const std::string& serial) { CertificateUsed(identity, serial); });
  }
  {
    std::lock_guard lock(tick_mutex_);
    stopping_ = false;
  }
  ticker_ = std::thread([this] { TickLoop(); });
  return Status::Ok();
}

void FleetService::Stop() {
  {
    std::lock_guard lock(tick_mutex_);
    stopping_ = true;
  }
  tick_wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  std::lock_guard lock(state_.mutex);
  (void)queue_.SaveDueReports(std::nullopt);
}

Status FleetService::Load() {
  state_.agents.clear();
  state_.current.reset();
  queue_.ResetRenderCache();
  WW_ASSIGN_OR_RETURN(std::vector<std::string> revoked, store_.ListRevokedSerials());
  revoked_.Replace(std::move(revoked));
  WW_RETURN_IF_ERROR(queue_.LoadAgents());
  return book_.Load();
}

void FleetService::TickLoop() {
  std::unique_lock tick_lock(tick_mutex_);
  while (!tick_wake_.wait_for(tick_lock, options_.tick_interval, [this] { return stopping_; })) {
    tick_lock.unlock();
    int64_t now = options_.now();
    bool prune = now - pruned_at_ >= kEventPruneIntervalSeconds;
    {
      std::lock_guard lock(state_.mutex);
      (void)queue_.ReconcileDeferred(now);
      std::vector<std::string> due = queue_.DueAgents(now);
      if (!due.empty()) (void)queue_.Reconcile(now, due);
      (void)queue_.SaveDueReports(now);
      prune = prune || state_.events_appended;
      state_.events_appended = false;
    }
    // Outside the fleet mutex: reports and polls go on while the store deletes.
    if (prune) {
      pruned_at_ = now;
      (void)PruneEvents(now);
    }
    tick_lock.lock();
  }
}

Status FleetService::PruneEvents(int64_t now) {
  return store_.PruneEvents(std::max<int64_t>(options_.events.max_events, 1), now - options_.events.max_age.count())
      .status();
}

Result<RevisionOutcome> FleetService::Submit(const RevisionRequest& request) { return book_.Submit(request); }

Result<RevisionOutcome> FleetService::Rollback(int64_t revision_id, RevisionRequest request) {
  return book_.Rollback(revision_id, std::move(request));
}

Status FleetService::RecordRejectedCommit(const std::string& commit_sha, const std::vector<std::string>& errors) {
  return book_.RecordRejectedCommit(commit_sha, errors);
}

std::vector<std::string> FleetService::TokenWarnings(TokenType type, const std::string& name) {
  return book_.TokenWarnings(type, name);
}

Result<std::shared_ptr<const PublishedSnapshot>> FleetService::Snapshot() { return Published(Freshness::kThisSecond); }

Result<std::shared_ptr<const PublishedSnapshot>> FleetService::Published(Freshness freshness) {
  std::lock_guard build(snapshot_mutex_);
  const int64_t now = options_.now();
  // A long-poll of /v1/status woken by a new version must see it; the page can lag a second.
  if (published_ && published_->snapshot.now == now &&
      (freshness == Freshness::kThisSecond || published_->snapshot.version == state_.status_version)) {
    return published_;
  }
  FleetSnapshot snapshot;
  {
    std::lock_guard lock(state_.mutex);
    WW_RETURN_IF_ERROR(queue_.ReconcileDeferred(now));  // the snapshot shows no stale agent
    snapshot = SnapshotOfState(state_, now);
  }
  WW_RETURN_IF_ERROR(AddStoredHistory(store_, EventPage{}, snapshot));
  published_ = PublishSnapshot(std::move(snapshot));
  return published_;
}

Result<std::shared_ptr<const PublishedSnapshot>> FleetService::Snapshot(const EventPage& page) {
  WW_ASSIGN_OR_RETURN(std::shared_ptr<const PublishedSnapshot> newest, Published(Freshness::kCurrentVersion));
  if (page == EventPage{}) return newest;
  FleetSnapshot snapshot = newest->snapshot;
  WW_RETURN_IF_ERROR(ReplaceEvents(store_, page, snapshot));
  return PublishSnapshot(std::move(snapshot));
}

Result<std::string> FleetService::StatusJson(const EventPage& page) {
  WW_ASSIGN_OR_RETURN(std::shared_ptr<const PublishedSnapshot> published, Snapshot(page));
  return published->json;
}

std::uint64_t FleetService::StatusVersion() { return state_.status_version; }

Status FleetService::ReconcileAll() {
  std::lock_guard lock(state_.mutex);
  return queue_.Reconcile(options_.now(), state_.AgentNames());
}

Status FleetService::AgentEnrolled(const std::string& name) {
  std::lock_guard lock(state_.mutex);
  int64_t now = options_.now();
  return queue_.AddEnrollment(name, now);
}

Result<PlanPollStart> FleetService::StartPlanPoll(const std::string& agent, int64_t after) {
  std::lock_guard lock(state_.mutex);
  int64_t now = options_.now();
  // Its config may wait for another agent's enrollment: reconciled first, so that the
  // poll finds it current.
  if (queue_.IsDeferred(agent)) WW_RETURN_IF_ERROR(queue_.ReconcileDeferred(now));
  WW_ASSIGN_OR_RETURN(AgentView * view, queue_.EnrolledAgent(agent, now));
  view->last_seen = std::max(view->last_seen, now);
  const int64_t latest = view->latest_plan ? view->latest_plan->generation : 0;
  // An agent past every generation this server issued was numbered by another server (a
  // restored backup, a new data directory, or one that lied to it): it gets the latest plan at
  // once and follows this server's numbering from there, instead of waiting for a number this
  // server may never reach.
  const bool ahead = view->latest_plan && after > std::max(latest, view->generation_floor);
  return PlanPollStart{view->latest_plan && (latest > after || ahead), std::max(after, view->generation_floor)};
}

std::optional<std::string> FleetService::PlanAnswer(const std::string& agent) {
  std::lock_guard lock(state_.mutex);
  auto found = state_.agents.find(agent);
  if (found == state_.agents.end() || !found->second.latest_plan) return std::nullopt;
  const PlanGenerationRecord& plan = *found->second.latest_plan;
  // Stored compact JSON goes out as is: no re-encoding per poll.
  return "{\"generation\":" + std::to_string(plan.generation) + ",\"revision\":" + std::to_string(plan.revision_id) +
         ",\"desired\":" + plan.desired_json + ",\"plan\":" + plan.plan_json + "}";
}

Status FleetService::RecordReport(const std::string& agent, ReceivedReport report) {
  std::lock_guard lock(state_.mutex);
  int64_t now = options_.now();
  WW_ASSIGN_OR_RETURN(AgentView * view, queue_.EnrolledAgent(agent, now));
  return queue_.RecordReport(*view, std::move(report), now);
}

Result<std::string> FleetService::EnrolledAgentId(const std::string& agent) {
  std::lock_guard lock(state_.mutex);
  WW_ASSIGN_OR_RETURN(AgentView * view, queue_.EnrolledAgent(agent, options_.now()));
  return view->record->id;
}

Result<std::optional<int64_t>> FleetService::RenewalRefusedUntil(const std::string& agent_id) {
  return rotation_.RenewalRefusedUntil(agent_id, options_.now());
}

void FleetService::CertificateUsed(const Identity& identity, const std::string& serial) {
  if (identity.kind != IdentityKind::kAgent) return;
  const int64_t now = options_.now();
  // A store error leaves the serial unseen: the next request tries again.
  Result<std::vector<std::string>> replaced = rotation_.CertificateUsed(identity.id, serial, now);
  if (!replaced.ok() || replaced->empty()) return;
  std::string list;
  for (const std::string& older : *replaced) list += (list.empty() ? "" : ", ") + older;
  std::lock_guard lock(state_.mutex);
  auto found = state_.agents.find(identity.id);
  state_.QueueEvent(now, found != state_.agents.end() ? &found->second : nullptr, "certificate-renewed",
                    identity.id + " uses its renewed certificate " + serial + "; revoked the certificate" +
                        (replaced->size() > 1 ? "s" : "") + " it replaces: " + list);
  state_.StatusChanged();
  (void)state_.FlushEvents();
}

Result<DeletedAgent> FleetService::DeleteAgent(const std::string& agent, const std::string& deleted_by) {
  int64_t now = options_.now();
  std::lock_guard lock(state_.mutex);
  WW_RETURN_IF_ERROR(queue_.DeleteAgent(agent, deleted_by, now, revoked_));
  return DeletedAgent{now, state_.EnrollCommand(agent)};
}

}  // namespace ww
