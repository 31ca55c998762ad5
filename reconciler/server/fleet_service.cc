// FleetService: revisions in, plan generations out. See fleet_service.h; the HTTP handlers
// are in fleet_routes.cc and the status snapshot in fleet_status.cc.

#include "reconciler/server/fleet_service.h"

#include <openssl/sha.h>

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "schema/ipam.h"
#include "schema/plan.h"
#include "schema/render.h"
#include "schema/validate.h"
#include "schema/wire_json.h"

namespace ww {

using Json = nlohmann::json;
using Phase = AgentReconcileResult::Phase;

bool RevokedSerials::Contains(const std::string& serial_hex) const {
  std::lock_guard lock(mutex_);
  return serials_.count(serial_hex) != 0;
}

void RevokedSerials::Replace(std::vector<std::string> serials) {
  std::lock_guard lock(mutex_);
  serials_ = std::set<std::string>(std::make_move_iterator(serials.begin()), std::make_move_iterator(serials.end()));
}

std::vector<std::string> DiagnosticLines(const Diagnostics& diagnostics) {
  std::vector<std::string> lines;
  lines.reserve(diagnostics.size());
  for (const Diagnostic& diagnostic : diagnostics) lines.push_back(FormatDiagnostic(diagnostic));
  return lines;
}

std::string Sha256Hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : digest) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0xf];
  }
  return hex;
}

std::string DocumentsToJson(const std::vector<SourceFile>& documents) {
  Json list = Json::array();
  for (const SourceFile& document : documents) list.push_back(Json{{"path", document.path}, {"content", document.content}});
  return list.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<std::vector<SourceFile>> DocumentsFromJson(std::string_view text) {
  try {
    Json list = Json::parse(text);
    if (!list.is_array()) return Status::Internal("stored documents are not a JSON array");
    std::vector<SourceFile> documents;
    for (const Json& item : list) {
      documents.push_back(SourceFile{item.at("path").get<std::string>(), item.at("content").get<std::string>()});
    }
    return documents;
  } catch (const std::exception& error) {
    return Status::Internal(std::string("stored documents do not parse: ") + error.what());
  }
}

namespace {

std::size_t CountErrors(const Diagnostics& diagnostics) {
  return static_cast<std::size_t>(std::count_if(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
    return d.severity == Severity::kError;
  }));
}

std::string Plural(std::size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

std::vector<std::string> DescribeSteps(const Plan& plan) {
  std::vector<std::string> steps;
  steps.reserve(plan.steps.size());
  for (const Step& step : plan.steps) steps.push_back(DescribeStep(step));
  return steps;
}

}  // namespace

FleetService::FleetService(Store& store, const CertificateAuthority& ca, HttpsServer& server, RevokedSerials& revoked,
                           FleetServiceOptions options)
    : store_(store), ca_(ca), server_(server), revoked_(revoked), options_(std::move(options)) {}

FleetService::~FleetService() { Stop(); }

Status FleetService::Start() {
  if (!options_.now) return Status::InvalidArgument("the fleet service needs a clock");
  {
    std::lock_guard lock(mutex_);
    WW_RETURN_IF_ERROR(Load());
    WW_RETURN_IF_ERROR(ReconcileAgentsLocked(options_.now(), AgentNamesLocked()));
  }
  if (!routes_registered_) {
    WW_RETURN_IF_ERROR(RegisterRoutes());
    routes_registered_ = true;
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
}

Status FleetService::Load() {
  agents_.clear();
  current_.reset();
  ResetRenderCacheLocked();
  WW_ASSIGN_OR_RETURN(std::vector<std::string> revoked, store_.ListRevokedSerials());
  revoked_.Replace(std::move(revoked));

  WW_ASSIGN_OR_RETURN(std::vector<AgentRecord> agents, store_.ListAgentHistory());
  std::map<std::string, std::string> name_by_id;
  // Names whose every enrollment is deleted, with the latest one: shown while the fleet names them.
  std::map<std::string, AgentRecord> deleted;
  for (AgentRecord& agent : agents) {
    std::string name = agent.name;
    if (agent.deleted_at) {
      deleted.insert_or_assign(name, std::move(agent));
      continue;
    }
    name_by_id[agent.id] = name;
    agents_[name].record = std::move(agent);
  }
  for (auto& [name, agent] : deleted) {
    if (!agents_.contains(name)) agents_[name].deleted = std::move(agent);
  }
  WW_ASSIGN_OR_RETURN(std::vector<ReportRecord> reports, store_.ListLatestReports());
  for (ReportRecord& report : reports) {
    auto name = name_by_id.find(report.agent_id);
    if (name == name_by_id.end()) continue;  // a deleted agent
    AgentView& view = agents_[name->second];
    view.last_seen = report.received_at;
    if (Result<ObservedState> observed = ObservedStateFromJson(report.observed_json); observed.ok()) {
      view.observed = std::move(observed).value();
    }
    view.report = std::move(report);
  }
  WW_ASSIGN_OR_RETURN(std::vector<PlanGenerationRecord> plans, store_.ListLatestPlanGenerations());
  for (PlanGenerationRecord& plan : plans) {
    auto name = name_by_id.find(plan.agent_id);
    if (name == name_by_id.end()) continue;
    server_.long_polls().Notify(name->second, static_cast<std::uint64_t>(plan.generation));
    agents_[name->second].latest_plan = std::move(plan);
  }
  WW_ASSIGN_OR_RETURN(std::vector<AgentHealthRecord> health, store_.ListAgentHealth());
  for (AgentHealthRecord& record : health) {
    auto name = name_by_id.find(record.agent_id);
    if (name != name_by_id.end()) agents_[name->second].health = std::move(record);
  }

  Result<RevisionRecord> revision = store_.CurrentRevision();
  if (!revision.ok()) {
    if (revision.status().code() == StatusCode::kNotFound) return Status::Ok();
    return revision.status();
  }
  WW_ASSIGN_OR_RETURN(std::vector<SourceFile> documents, DocumentsFromJson(revision->documents));
  LoadResult checked = LoadAndValidateFleet(documents, {}, options_.validation);
  // Accepted once, so only a change of the rules (an upgrade) finds errors here. The agents
  // already run this revision: keep serving it and say what to fix, rather than refuse to
  // start and leave the fleet without a control server that could take the fix.
  std::vector<std::string> stale_findings;
  for (const Diagnostic& finding : checked.diagnostics) {
    if (finding.severity == Severity::kError) stale_findings.push_back(FormatDiagnostic(finding));
  }
  WW_ASSIGN_OR_RETURN(Allocations allocations, store_.LoadAllocations());
  current_ = CurrentRevision{std::move(revision).value(), std::move(checked.fleet), std::move(allocations), {}, {},
                             std::move(stale_findings)};
  if (current_->record.source != RevisionSource::kGit) {
    // A forced apply or rollback survives a restart, and so does saying that it diverges.
    WW_ASSIGN_OR_RETURN(std::optional<RevisionRecord> git, store_.LatestGitRevision());
    if (git && git->id < current_->record.id) current_->diverged_from = GitBase{git->commit_sha, git->id};
  }
  std::vector<std::string> fleet_agents = FleetAgents(current_->fleet);
  current_->fleet_agents = std::set<std::string>(fleet_agents.begin(), fleet_agents.end());
  for (const std::string& name : fleet_agents) agents_[name];
  return Status::Ok();
}

std::vector<std::string> FleetService::AgentNamesLocked() const {
  std::vector<std::string> names;
  names.reserve(agents_.size());
  for (const auto& [name, view] : agents_) names.push_back(name);
  return names;
}

RenderInput FleetService::RenderInputLocked(const Allocations& allocations) const {
  RenderInput input;
  for (const auto& [name, view] : agents_) {
    if (view.record) input.agent_public_keys[name] = view.record->wireguard_public_key;
  }
  input.missing_peer_key = MissingPeerKey::kSkipPeer;
  input.allocations = allocations;
  input.control_address = options_.control_address;
  return input;
}

AgentRole FleetService::ExpectedRoleLocked(const std::string& name) const {
  if (current_ && current_->fleet_agents.contains(name)) {
    for (const Tunnel& tunnel : current_->fleet.tunnels) {
      if (tunnel.spec.agent == name) return AgentRole::kServer;
    }
    return AgentRole::kClient;
  }
  if (auto found = agents_.find(name); found != agents_.end()) {
    const std::optional<AgentRecord>& record = found->second.record ? found->second.record : found->second.deleted;
    if (record) return record->role;
  }
  return AgentRole::kClient;
}

std::string FleetService::EnrollCommandLocked(const std::string& name) const {
  return std::string("wwctl token create --type ") +
         (ExpectedRoleLocked(name) == AgentRole::kServer ? "server" : "client") + " --name " + name;
}

void FleetService::QueueEventLocked(int64_t now, const AgentView* view, const std::string& kind,
                                    const std::string& message) {
  std::optional<std::string> agent_id;
  if (view != nullptr && view->record) agent_id = view->record->id;
  pending_events_.push_back(EventRecord{0, now, std::move(agent_id), kind, message});
}

Status FleetService::FlushEventsLocked() {
  std::vector<EventRecord> events;
  events.swap(pending_events_);
  return store_.AppendEvents(events);
}

void FleetService::StatusChangedLocked() {
  ++status_version_;
  server_.long_polls().Notify(kStatusPollKey, status_version_);
}

std::uint64_t FleetService::StatusVersion() {
  std::lock_guard lock(mutex_);
  return status_version_;
}

void FleetService::ResetRenderCacheLocked() {
  input_cache_.reset();
  rendered_.clear();
  rendered_json_.clear();
  rendered_all_tried_ = false;
}

const Result<AgentConfig>& FleetService::RenderedLocked(const std::string& agent) {
  if (!rendered_all_tried_) {
    rendered_all_tried_ = true;
    // One index of the fleet for every agent: rendering agent by agent is quadratic.
    Result<std::map<std::string, AgentConfig>> all = RenderAll(input_cache_->fleet, input_cache_->render);
    if (all.ok()) {
      for (auto& [name, config] : *all) rendered_.emplace(name, std::move(config));
    }
  }
  auto found = rendered_.find(agent);
  if (found == rendered_.end()) {
    // Some agent cannot render yet (a key is missing): render this one alone, for its message.
    found = rendered_.emplace(agent, RenderAgent(input_cache_->fleet, input_cache_->render, agent)).first;
  }
  return found->second;
}

std::vector<AgentPreview> FleetService::CurrentPreviewsLocked() const {
  std::vector<AgentPreview> previews;
  if (!current_) return previews;
  for (const std::string& name : current_->fleet_agents) {
    auto found = agents_.find(name);
    if (found == agents_.end()) continue;
    const AgentView& view = found->second;
    previews.push_back(AgentPreview{name, view.phase.empty() ? "unknown" : view.phase, view.steps, view.destructive,
                                    view.message});
  }
  return previews;
}

// One reconcile of the named agents against the current revision: phase and drift for the
// status, and a new plan generation where the agent needs one.
Status FleetService::ReconcileAgentsLocked(int64_t now, const std::vector<std::string>& names) {
  std::vector<PlanGenerationRecord> plans;
  std::vector<std::string> plan_agents;
  if (current_ && !input_cache_) {
    input_cache_.emplace();
    input_cache_->fleet = current_->fleet;
    input_cache_->render = RenderInputLocked(current_->allocations);
    input_cache_->revision_id = current_->record.id;
  }
  std::optional<AgentReconcileInput>& input = input_cache_;
  if (input) input->now = now;
  bool status_changed = false;

  for (const std::string& name : names) {
    auto found = agents_.find(name);
    if (found == agents_.end()) continue;
    AgentView& view = found->second;
    const std::string previous_phase = view.phase;
    const std::string previous_message = view.message;
    const bool was_connected = view.connected;
    const std::optional<int64_t> previous_retry_at = view.retry_at;
    const bool was_destructive = view.destructive;
    std::vector<std::string> previous_steps = std::move(view.steps);
    view.connected = view.last_seen > 0 && now - view.last_seen <= kDisconnectedAfterSeconds;
    view.retry_at.reset();
    view.steps.clear();
    view.warnings.clear();
    view.destructive = false;
    const bool in_fleet = current_ && current_->fleet_agents.count(name) != 0;

    std::optional<AgentConfig> desired;
    Plan plan;
    bool deliver = false;
    if (!current_) {
      view.phase = "unknown";
      view.message = "no revision has been accepted yet";
    } else if (!view.record && view.deleted) {
      view.phase = "deleted";
      view.message = "deleted, its certificates revoked; to enroll it again: `" + EnrollCommandLocked(name) +
                     "`, then run the install command it prints on the host";
    } else if (!view.record) {
      view.phase = "unknown";
      view.message = "not enrolled yet: `" + EnrollCommandLocked(name) +
                     "`, then run the install command it prints on the host";
    } else if (!in_fleet) {
      // Enrolled but not part of this revision: its desired state is empty, so whatever an
      // earlier revision set up on it is removed.
      desired = AgentConfig{};
      desired->agent = name;
      plan = ComputePlan(*desired, view.observed.value_or(ObservedState{}));
      view.phase = plan.empty() ? "converged" : "pending";
      view.message = plan.empty() ? "not part of revision " + std::to_string(current_->record.id)
                                  : Plural(plan.steps.size(), "step") + " to remove what earlier revisions set up";
      // Sent once (when it held something before), never healed: nothing of ours should stay.
      deliver = false;
      if (!view.latest_plan) desired.reset();
    } else {
      input->agent = name;
      input->latest_report = view.observed;
      input->report_time = view.last_seen;
      input->rendered = RenderedLocked(name);
      if (input->rendered->ok()) view.warnings = (*input->rendered)->warnings;
      input->history = AgentHistory{view.latest_plan ? view.latest_plan->generation : 0,
                                    static_cast<int>(view.health.consecutive_failures), view.health.last_failure_at,
                                    view.latest_plan ? view.latest_plan->revision_id : 0};
      AgentReconcileResult result = ReconcileAgent(*input);
      view.phase = std::string(ReconcilePhaseName(result.phase));
      view.message = result.message;
      view.retry_at = result.retry_at;
      if (result.phase != Phase::kRenderFailed) {
        desired = std::move(result.desired);
        plan = std::move(result.plan);
        deliver = result.deliver;
      }
    }

    if (desired) {
      view.steps = DescribeSteps(plan);
      view.destructive = plan.HasDestructive();
      // The rendered config of an agent in the fleet only changes with the render cache.
      std::string desired_json;
      if (in_fleet) {
        auto cached = rendered_json_.find(name);
        if (cached == rendered_json_.end()) {
          cached = rendered_json_.emplace(name, AgentConfigToJson(*desired, JsonStyle::kCompact)).first;
        }
        desired_json = cached->second;
      } else {
        desired_json = AgentConfigToJson(*desired, JsonStyle::kCompact);
      }
      const bool changed = !view.latest_plan || view.latest_plan->desired_json != desired_json;
      // The agent applied the newest generation and still differs: heal (deliver already
      // respects selfHeal and the failure backoff). Heals in a row back off like retries,
      // so an agent whose host keeps drifting back is not sent a plan per report.
      const bool applied_latest = view.report && view.latest_plan && view.report->generation >= view.latest_plan->generation;
      bool store = changed;
      if (changed || plan.empty()) view.heals_in_a_row = 0;
      if (!changed && deliver && applied_latest && !plan.empty()) {
        int64_t due = view.latest_plan->created_at + RetryDelaySeconds(view.heals_in_a_row);
        if (now >= due) {
          store = true;
          ++view.heals_in_a_row;
        } else {
          view.retry_at = due;
        }
      }
      if (store) {
        plans.push_back(PlanGenerationRecord{view.record->id, 0, current_->record.id, now, std::move(desired_json),
                                             PlanToJson(plan, JsonStyle::kCompact)});
        plan_agents.push_back(name);
      }
    }

    status_changed = status_changed || previous_phase != view.phase || previous_message != view.message ||
                     was_connected != view.connected || previous_retry_at != view.retry_at ||
                     was_destructive != view.destructive || previous_steps != view.steps;
    if (!previous_phase.empty() && previous_phase != view.phase) {
      QueueEventLocked(now, &view, "agent-phase", name + ": " + previous_phase + " -> " + view.phase + ": " + view.message);
    }
    if (!previous_phase.empty() && was_connected != view.connected) {
      QueueEventLocked(now, &view, view.connected ? "agent-connected" : "agent-disconnected",
                       name + (view.connected ? " is in contact again" : " has not been in contact for over " +
                                                                              std::to_string(kDisconnectedAfterSeconds) + " s"));
    }
  }

  if (!plans.empty()) {
    WW_ASSIGN_OR_RETURN(std::vector<int64_t> generations, store_.AddPlanGenerations(plans));
    for (std::size_t i = 0; i < plans.size(); ++i) {
      plans[i].generation = generations[i];
      AgentView& view = agents_[plan_agents[i]];
      view.latest_plan = std::move(plans[i]);
      server_.long_polls().Notify(plan_agents[i], static_cast<std::uint64_t>(generations[i]));
    }
  }
  if (status_changed || !plans.empty() || !pending_events_.empty()) StatusChangedLocked();
  return FlushEventsLocked();
}

Status FleetService::ReconcileAll() {
  std::lock_guard lock(mutex_);
  return ReconcileAgentsLocked(options_.now(), AgentNamesLocked());
}

void FleetService::TickLoop() {
  std::unique_lock tick_lock(tick_mutex_);
  while (!tick_wake_.wait_for(tick_lock, options_.tick_interval, [this] { return stopping_; })) {
    tick_lock.unlock();
    {
      std::lock_guard lock(mutex_);
      int64_t now = options_.now();
      std::vector<std::string> due;
      for (const auto& [name, view] : agents_) {
        bool connected = view.last_seen > 0 && now - view.last_seen <= kDisconnectedAfterSeconds;
        if (connected != view.connected || (view.retry_at && now >= *view.retry_at)) due.push_back(name);
      }
      if (!due.empty()) (void)ReconcileAgentsLocked(now, due);
    }
    tick_lock.lock();
  }
}

// What each agent of `fleet` would be sent, against its latest report, storing nothing.
std::vector<AgentPreview> FleetService::PreviewLocked(const Fleet& fleet, const Allocations& allocations,
                                                      int64_t now) {
  std::vector<AgentPreview> previews;
  AgentReconcileInput input;
  input.fleet = fleet;
  input.render = RenderInputLocked(allocations);
  input.now = now;
  input.revision_id = (current_ ? current_->record.id : 0) + 1;
  Result<std::map<std::string, AgentConfig>> all = RenderAll(fleet, input.render);
  for (const std::string& name : FleetAgents(fleet)) {
    AgentPreview preview;
    preview.agent = name;
    auto found = agents_.find(name);
    if (found == agents_.end() || !found->second.record) {
      preview.phase = "unknown";
      preview.message = "not enrolled yet";
      previews.push_back(std::move(preview));
      continue;
    }
    input.agent = name;
    input.latest_report = found->second.observed;
    input.report_time = found->second.last_seen;
    input.history = AgentHistory{};
    input.rendered.reset();
    if (all.ok()) input.rendered = Result<AgentConfig>(all->at(name));
    AgentReconcileResult result = ReconcileAgent(input);
    preview.phase = std::string(ReconcilePhaseName(result.phase));
    preview.message = result.message;
    preview.steps = DescribeSteps(result.plan);
    preview.destructive = result.plan.HasDestructive();
    previews.push_back(std::move(preview));
  }
  return previews;
}

Status FleetService::RecordRejectedCommit(const std::string& commit_sha, const std::vector<std::string>& errors) {
  int64_t now = options_.now();
  WW_RETURN_IF_ERROR(store_.RecordRejectedCommit(RejectedCommitRecord{commit_sha, now, errors}));
  std::lock_guard lock(mutex_);
  QueueEventLocked(now, nullptr, "commit-rejected",
                   "git commit " + commit_sha + " rejected: " + (errors.empty() ? std::string("no reason") : errors.front()) +
                       (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : ""));
  StatusChangedLocked();
  return FlushEventsLocked();
}

Result<RevisionOutcome> FleetService::Submit(const RevisionRequest& request) {
  RevisionOutcome outcome;
  LoadResult checked = LoadAndValidateFleet(request.documents, {}, options_.validation);
  std::size_t errors = CountErrors(checked.diagnostics);
  for (const Diagnostic& diagnostic : checked.diagnostics) {
    if (diagnostic.severity == Severity::kWarning) outcome.warnings.push_back(FormatDiagnostic(diagnostic));
  }
  auto refuse_invalid = [&](const Diagnostics& diagnostics, std::size_t error_count) -> Result<RevisionOutcome> {
    outcome.verdict = RevisionVerdict::kInvalid;
    outcome.diagnostics = DiagnosticLines(diagnostics);
    outcome.error_count = error_count;
    outcome.warnings.clear();
    outcome.message = "the fleet is invalid: " + Plural(error_count, "error");
    if (request.source == RevisionSource::kGit && request.dry_run == DryRun::kNo) {
      std::vector<std::string> lines;
      for (const Diagnostic& diagnostic : diagnostics) {
        if (diagnostic.severity == Severity::kError) lines.push_back(FormatDiagnostic(diagnostic));
      }
      WW_RETURN_IF_ERROR(RecordRejectedCommit(request.commit_sha, lines));
    }
    return outcome;
  };
  if (errors > 0) return refuse_invalid(checked.diagnostics, errors);

  std::unique_lock lock(mutex_);
  const int64_t now = options_.now();
  AllocationResult allocation = AllocateAddresses(checked.fleet, current_ ? current_->allocations : Allocations{});
  if (std::size_t allocation_errors = CountErrors(allocation.diagnostics); allocation_errors > 0) {
    lock.unlock();
    return refuse_invalid(allocation.diagnostics, allocation_errors);
  }
  std::string documents = DocumentsToJson(request.documents);
  std::string content_sha256 = Sha256Hex(documents);
  // A new git commit with the same files is still recorded: `wwctl wait --revision SHA` and
  // the status page follow commits.
  const bool same_commit = request.source != RevisionSource::kGit || (current_ && current_->record.commit_sha == request.commit_sha);
  if (current_ && current_->record.content_sha256 == content_sha256 && same_commit) {
    outcome.agents = CurrentPreviewsLocked();
    outcome.verdict = RevisionVerdict::kUnchanged;
    outcome.message = "identical to the current revision " + std::to_string(current_->record.id);
    return outcome;
  }
  Status destructive = current_ ? CheckDestructiveRevision(current_->fleet, checked.fleet, request.allow_destructive)
                                : Status::Ok();
  outcome.changes = DiffFleets(current_ ? current_->fleet : Fleet{}, checked.fleet);
  if (request.dry_run == DryRun::kYes) {
    outcome.agents = PreviewLocked(checked.fleet, allocation.allocations, now);
    outcome.verdict = RevisionVerdict::kDryRun;
    if (!destructive.ok()) outcome.warnings.push_back(destructive.message());
    return outcome;
  }
  const bool over_git = current_ && current_->record.source == RevisionSource::kGit && request.source != RevisionSource::kGit;
  if (over_git && request.force == ForceOverGit::kNo) {
    outcome.verdict = RevisionVerdict::kGitOwned;
    outcome.message = "the current revision " + std::to_string(current_->record.id) + " comes from git commit " +
                      current_->record.commit_sha + ": change the fleet in git, or " +
                      (request.source == RevisionSource::kRollback ? "roll back" : "apply") +
                      " again with --force to override it until the next commit";
    return outcome;
  }
  if (!destructive.ok()) {
    outcome.verdict = RevisionVerdict::kDestructive;
    outcome.message = destructive.message();
    return outcome;
  }

  RevisionRecord record{0,         request.source, request.commit_sha, request.applied_by, now, content_sha256,
                        documents, request.author, request.message};
  WW_ASSIGN_OR_RETURN(record.id, store_.AddRevision(record));
  WW_RETURN_IF_ERROR(store_.SaveAllocations(allocation.allocations));
  if (request.source == RevisionSource::kGit) WW_RETURN_IF_ERROR(store_.ClearRejectedCommits());
  // Divergence from git: set by a forced apply or rollback over a git revision, carried by
  // later uploads, ended (with an event) only by the next git commit.
  std::optional<GitBase> diverged_from;
  if (over_git) {
    diverged_from = GitBase{current_->record.commit_sha, current_->record.id};
    QueueEventLocked(now, nullptr, "revision-forced",
                     "revision " + std::to_string(record.id) + " by " + request.applied_by +
                         " overrides git commit " + current_->record.commit_sha +
                         " (--force); the fleet is diverged from git until the next commit");
  } else if (request.source != RevisionSource::kGit && current_) {
    diverged_from = current_->diverged_from;
  } else if (request.source == RevisionSource::kGit && current_ && current_->record.source != RevisionSource::kGit) {
    const RevisionRecord& replaced = current_->record;
    std::string what = replaced.source == RevisionSource::kRollback ? "rollback" : "apply";
    outcome.override_ended = ", ending the override by " + replaced.applied_by + " (revision " +
                             std::to_string(replaced.id) + ", " + what + ")";
    QueueEventLocked(now, nullptr, "override-ended",
                     "git commit " + request.commit_sha + " (revision " + std::to_string(record.id) +
                         ") replaces revision " + std::to_string(replaced.id) + " (" + what + " by " +
                         replaced.applied_by + ")" +
                         (current_->diverged_from ? ": the fleet follows git again, it had diverged at commit " +
                                                        current_->diverged_from->commit_sha
                                                  : ": the fleet follows git"));
  }
  std::string origin = request.source == RevisionSource::kGit ? "git commit " + request.commit_sha
                       : request.source == RevisionSource::kRollback ? "a rollback by " + request.applied_by
                                                                     : "apply by " + request.applied_by;
  QueueEventLocked(now, nullptr, "revision-accepted", "revision " + std::to_string(record.id) + " from " + origin);

  current_ = CurrentRevision{std::move(record), std::move(checked.fleet), std::move(allocation.allocations), {},
                             std::move(diverged_from)};
  ResetRenderCacheLocked();
  StatusChangedLocked();
  std::vector<std::string> fleet_agents = FleetAgents(current_->fleet);
  current_->fleet_agents = std::set<std::string>(fleet_agents.begin(), fleet_agents.end());
  for (const std::string& name : fleet_agents) agents_[name];
  WW_RETURN_IF_ERROR(ReconcileAgentsLocked(now, AgentNamesLocked()));
  outcome.verdict = RevisionVerdict::kAccepted;
  outcome.revision_id = current_->record.id;
  outcome.agents = CurrentPreviewsLocked();
  return outcome;
}

}  // namespace ww
