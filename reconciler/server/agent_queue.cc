#include "reconciler/server/agent_queue.h"

#include <algorithm>
#include <utility>

#include "reconciler/core/heal_backoff.h"
#include "schema/plan.h"
#include "schema/render.h"
#include "schema/wire_json.h"

namespace ww {
namespace {

using Phase = AgentReconcileResult::Phase;

std::string Plural(std::size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

std::vector<std::string> DescribeSteps(const Plan& plan) {
  std::vector<std::string> steps;
  steps.reserve(plan.steps.size());
  for (const Step& step : plan.steps) steps.push_back(DescribeStep(step));
  return steps;
}

// pending <-> converged: the cycle of every plan generation an agent applies. An event per
// generation per agent says nothing the revision's own event and the status do not (and a
// revision for 10,000 agents would push everything else out of the history).
bool RoutinePhaseChange(const std::string& from, const std::string& to) {
  auto routine = [](const std::string& phase) { return phase == "pending" || phase == "converged"; };
  return routine(from) && routine(to);
}

bool Connected(const AgentView& view, int64_t now) {
  return view.last_seen > 0 && now - view.last_seen <= kDisconnectedAfterSeconds;
}

}  // namespace

AgentReconcileQueue::AgentReconcileQueue(FleetState& state, std::optional<Ipv4Address> control_address)
    : state_(state), control_address_(control_address) {}

Status AgentReconcileQueue::LoadAgents() {
  unsaved_reports_.clear();
  std::map<std::string, AgentView>& agents = state_.agents;
  Store& store = state_.store;
  WW_ASSIGN_OR_RETURN(std::vector<AgentRecord> history, store.ListAgentHistory());
  std::map<std::string, std::string> name_by_id;
  // Names whose every enrollment is deleted, with the latest one: shown while the fleet names them.
  std::map<std::string, AgentRecord> deleted;
  for (AgentRecord& agent : history) {
    std::string name = agent.name;
    if (agent.deleted_at) {
      deleted.insert_or_assign(name, std::move(agent));
      continue;
    }
    name_by_id[agent.id] = name;
    agents[name].record = std::move(agent);
  }
  for (auto& [name, agent] : deleted) {
    if (!agents.contains(name)) agents[name].deleted = std::move(agent);
  }
  WW_ASSIGN_OR_RETURN(std::vector<ReportRecord> reports, store.ListLatestReports());
  for (ReportRecord& report : reports) {
    auto name = name_by_id.find(report.agent_id);
    if (name == name_by_id.end()) continue;  // a deleted agent
    AgentView& view = agents[name->second];
    view.last_seen = report.received_at;
    if (Result<ObservedState> observed = ObservedStateFromJson(report.observed_json); observed.ok()) {
      view.observed = std::move(observed).value();
    }
    view.figures = ReportFiguresFromJson(report.metrics_json);
    view.report_saved_at = report.received_at;
    view.report = std::move(report);
  }
  WW_ASSIGN_OR_RETURN(std::vector<PlanGenerationRecord> plans, store.ListLatestPlanGenerations());
  for (PlanGenerationRecord& plan : plans) {
    auto name = name_by_id.find(plan.agent_id);
    if (name == name_by_id.end()) continue;
    state_.long_polls.Notify(name->second, static_cast<std::uint64_t>(plan.generation));
    agents[name->second].latest_plan = std::move(plan);
  }
  WW_ASSIGN_OR_RETURN(std::vector<AgentHealthRecord> health, store.ListAgentHealth());
  for (AgentHealthRecord& record : health) {
    auto name = name_by_id.find(record.agent_id);
    if (name != name_by_id.end()) agents[name->second].health = std::move(record);
  }
  return Status::Ok();
}

RenderInput AgentReconcileQueue::MakeRenderInput(const Allocations& allocations) const {
  RenderInput input;
  for (const auto& [name, view] : state_.agents) {
    if (view.record) input.agent_public_keys[name] = view.record->wireguard_public_key;
  }
  input.missing_peer_key = MissingPeerKey::kSkipPeer;
  input.allocations = allocations;
  input.control_address = control_address_;
  return input;
}

void AgentReconcileQueue::ResetRenderCache() {
  input_cache_.reset();
  render_all_ = true;
  stale_.clear();
}

void AgentReconcileQueue::PrepareInputCache() {
  if (input_cache_) return;
  const CurrentRevision& current = *state_.current;
  input_cache_.emplace();
  input_cache_->fleet = current.fleet;
  input_cache_->render = MakeRenderInput(current.allocations);
  input_cache_->revision_id = current.record.id;
  key_dependents_ = KeyDependents(current.fleet);
}

namespace {

// Equal configs, or the same failure.
bool SameRender(const Result<AgentConfig>& a, const Result<AgentConfig>& b) {
  if (a.ok() != b.ok()) return false;
  return a.ok() ? *a == *b : a.status() == b.status();
}

}  // namespace

std::size_t AgentReconcileQueue::RenderedPeerCount(const std::string& agent) {
  if (!state_.InFleet(agent)) return 0;
  PrepareInputCache();
  const Result<AgentConfig>& rendered = Rendered(agent).config;
  if (!rendered.ok()) return 0;
  std::size_t peers = 0;
  for (const WireguardInterface& interface : rendered->interfaces) peers += interface.peers.size();
  return peers;
}

AgentReconcileQueue::RenderedAgent& AgentReconcileQueue::Rendered(const std::string& agent) {
  if (render_all_) {
    render_all_ = false;
    stale_.clear();
    // One index of the fleet for every agent: rendering agent by agent is quadratic.
    std::map<std::string, RenderedAgent> fresh;
    for (auto& [name, config] : RenderEach(input_cache_->fleet, input_cache_->render)) {
      auto old = rendered_.find(name);
      if (old != rendered_.end() && SameRender(old->second.config, config)) {
        fresh.emplace(name, std::move(old->second));  // its JSON stays good
      } else {
        fresh.emplace(name, RenderedAgent{std::move(config), ""});
      }
    }
    rendered_ = std::move(fresh);
  }
  auto found = rendered_.find(agent);
  if (found == rendered_.end()) {
    found = rendered_.emplace(agent, RenderedAgent{RenderAgent(input_cache_->fleet, input_cache_->render, agent), ""})
                .first;
    stale_.erase(agent);
  } else if (stale_.erase(agent) != 0) {
    Result<AgentConfig> config = RenderAgent(input_cache_->fleet, input_cache_->render, agent);
    if (!SameRender(found->second.config, config)) found->second = RenderedAgent{std::move(config), ""};
  }
  return found->second;
}

std::vector<std::string> AgentReconcileQueue::KeyChanged(const std::string& name) {
  if (!state_.current) return {};  // nothing renders without a revision
  PrepareInputCache();
  const AgentView& view = state_.agents[name];
  if (view.record) {
    input_cache_->render.agent_public_keys[name] = view.record->wireguard_public_key;
  } else {
    input_cache_->render.agent_public_keys.erase(name);
  }
  stale_.insert(name);
  auto found = key_dependents_.find(name);
  if (found == key_dependents_.end()) return {};
  stale_.insert(found->second.begin(), found->second.end());
  return found->second;
}

std::vector<AgentPreview> AgentReconcileQueue::CurrentPreviews() const {
  std::vector<AgentPreview> previews;
  if (!state_.current) return previews;
  for (const std::string& name : state_.current->fleet_agents) {
    auto found = state_.agents.find(name);
    if (found == state_.agents.end()) continue;
    const AgentView& view = found->second;
    previews.push_back(AgentPreview{name, view.phase.empty() ? "unknown" : view.phase, view.steps, view.destructive,
                                    view.message});
  }
  return previews;
}

Status AgentReconcileQueue::Reconcile(int64_t now, const std::vector<std::string>& names) {
  std::optional<CurrentRevision>& current = state_.current;
  std::vector<PlanGenerationRecord> plans;
  std::vector<std::string> plan_agents;
  if (current) PrepareInputCache();
  std::optional<AgentReconcileInput>& input = input_cache_;
  if (input) input->now = now;
  bool status_changed = false;

  for (const std::string& name : names) {
    if (!deferred_.empty()) deferred_.erase(name);
    auto found = state_.agents.find(name);
    if (found == state_.agents.end()) continue;
    AgentView& view = found->second;
    const std::string previous_phase = view.phase;
    const std::string previous_message = view.message;
    const bool was_connected = view.connected;
    const std::optional<int64_t> previous_retry_at = view.retry_at;
    const bool was_destructive = view.destructive;
    std::vector<std::string> previous_steps = std::move(view.steps);
    view.connected = Connected(view, now);
    view.retry_at.reset();
    view.steps.clear();
    view.warnings.clear();
    view.destructive = false;
    const bool in_fleet = state_.InFleet(name);

    std::optional<AgentConfig> desired;
    RenderedAgent* rendered = nullptr;  // in the fleet: its render, whose JSON is reused
    Plan plan;
    bool deliver = false;
    if (!current) {
      view.phase = "unknown";
      view.message = "no revision has been accepted yet";
    } else if (!view.record && view.deleted) {
      view.phase = "deleted";
      view.message = "deleted, its certificates revoked; to enroll it again: `" + state_.EnrollCommand(name) +
                     "`, then run the install command it prints on the host";
    } else if (!view.record) {
      view.phase = "unknown";
      view.message = "not enrolled yet: `" + state_.EnrollCommand(name) +
                     "`, then run the install command it prints on the host";
    } else if (!in_fleet) {
      // Enrolled but not part of this revision: its desired state is empty, so whatever an
      // earlier revision set up on it is removed.
      desired = AgentConfig{};
      desired->agent = name;
      plan = ComputePlan(*desired, view.observed.value_or(ObservedState{}));
      view.phase = plan.empty() ? "converged" : "pending";
      view.message = plan.empty() ? "not part of revision " + std::to_string(current->record.id)
                                  : Plural(plan.steps.size(), "step") + " to remove what earlier revisions set up";
      // Sent once (when it held something before), never healed: nothing of ours should stay.
      deliver = false;
      if (!view.latest_plan) desired.reset();
    } else {
      input->agent = name;
      input->latest_report = view.observed;
      input->report_time = view.last_seen;
      rendered = &Rendered(name);
      input->rendered = rendered->config;
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
      // The config of an agent in the fleet is its render's: written once while it stays.
      std::string desired_json;
      if (rendered != nullptr) {
        if (rendered->json.empty()) rendered->json = AgentConfigToJson(*desired, JsonStyle::kCompact);
        desired_json = rendered->json;
      } else {
        desired_json = AgentConfigToJson(*desired, JsonStyle::kCompact);
      }
      HealInput heal;
      heal.desired = !view.latest_plan || view.latest_plan->desired_json != desired_json ? DesiredChange::kChanged
                                                                                          : DesiredChange::kSame;
      heal.deliver = deliver;
      heal.plan_empty = plan.empty();
      heal.applied = view.report && view.latest_plan && view.report->generation >= view.latest_plan->generation
                         ? AppliedLatest::kYes
                         : AppliedLatest::kNo;
      heal.latest_plan_created_at = view.latest_plan ? view.latest_plan->created_at : 0;
      heal.heals_in_a_row = view.heals_in_a_row;
      heal.outcome = view.latest_plan_outcome;
      heal.now = now;
      HealDecision decision = DecideHeal(heal);
      view.heals_in_a_row = decision.heals_in_a_row;
      if (decision.retry_at) view.retry_at = decision.retry_at;
      if (decision.store_generation) {
        plans.push_back(PlanGenerationRecord{view.record->id, 0, current->record.id, now, std::move(desired_json),
                                             PlanToJson(plan, JsonStyle::kCompact)});
        plan_agents.push_back(name);
      }
    }

    status_changed = status_changed || previous_phase != view.phase || previous_message != view.message ||
                     was_connected != view.connected || previous_retry_at != view.retry_at ||
                     was_destructive != view.destructive || previous_steps != view.steps;
    if (!previous_phase.empty() && previous_phase != view.phase && !RoutinePhaseChange(previous_phase, view.phase)) {
      state_.QueueEvent(now, &view, "agent-phase",
                        name + ": " + previous_phase + " -> " + view.phase + ": " + view.message);
    }
    if (!previous_phase.empty() && was_connected != view.connected) {
      state_.QueueEvent(now, &view, view.connected ? "agent-connected" : "agent-disconnected",
                        name + (view.connected ? " is in contact again"
                                               : " has not been in contact for over " +
                                                     std::to_string(kDisconnectedAfterSeconds) + " s"));
    }
  }

  if (!plans.empty()) {
    WW_ASSIGN_OR_RETURN(std::vector<int64_t> generations, state_.store.AddPlanGenerations(plans));
    for (std::size_t i = 0; i < plans.size(); ++i) {
      plans[i].generation = generations[i];
      AgentView& view = state_.agents[plan_agents[i]];
      view.latest_plan = std::move(plans[i]);
      state_.long_polls.Notify(plan_agents[i], static_cast<std::uint64_t>(generations[i]));
    }
  }
  if (status_changed || !plans.empty() || state_.HasPendingEvents()) state_.StatusChanged();
  return state_.FlushEvents();
}

std::vector<std::string> AgentReconcileQueue::DueAgents(int64_t now) const {
  std::vector<std::string> due;
  for (const auto& [name, view] : state_.agents) {
    if (Connected(view, now) != view.connected || (view.retry_at && now >= *view.retry_at)) due.push_back(name);
  }
  return due;
}

std::vector<AgentPreview> AgentReconcileQueue::Preview(const Fleet& fleet, const Allocations& allocations, int64_t now,
                                                       int64_t revision_id) const {
  std::vector<AgentPreview> previews;
  AgentReconcileInput input;
  input.fleet = fleet;
  input.render = MakeRenderInput(allocations);
  input.now = now;
  input.revision_id = revision_id;
  std::map<std::string, Result<AgentConfig>> all = RenderEach(fleet, input.render);
  for (const std::string& name : FleetAgents(fleet)) {
    AgentPreview preview;
    preview.agent = name;
    auto found = state_.agents.find(name);
    if (found == state_.agents.end() || !found->second.record) {
      preview.phase = "unknown";
      preview.message = "not enrolled yet";
      previews.push_back(std::move(preview));
      continue;
    }
    input.agent = name;
    input.latest_report = found->second.observed;
    input.report_time = found->second.last_seen;
    input.history = AgentHistory{};
    input.rendered = all.at(name);
    AgentReconcileResult result = ReconcileAgent(input);
    preview.phase = std::string(ReconcilePhaseName(result.phase));
    preview.message = result.message;
    preview.steps = DescribeSteps(result.plan);
    preview.destructive = result.plan.HasDestructive();
    previews.push_back(std::move(preview));
  }
  return previews;
}

void AgentReconcileQueue::AddEnrolledView(AgentRecord record, int64_t now) {
  const std::string name = record.name;
  AgentView& view = state_.agents[name];
  // A later enrollment's id is "NAME.N" (store.h).
  std::string again = record.id != name ? " again (enrollment " + record.id + ")" : "";
  view.record = std::move(record);
  view.deleted.reset();
  state_.long_polls.Reinstate(name);
  state_.QueueEvent(now, &view, "agent-enrolled", name + " enrolled" + again);
}

Status AgentReconcileQueue::AddEnrollment(const std::string& name, int64_t now) {
  auto known = state_.agents.find(name);
  if (known != state_.agents.end() && known->second.record) {
    return Status::NotFound("agent \"" + name + "\" is known already");
  }
  Result<AgentRecord> record = state_.store.FindAgentByName(name);
  if (!record.ok() || record->deleted_at) return Status::NotFound("agent \"" + name + "\" is not enrolled");
  AddEnrolledView(std::move(record).value(), now);
  std::vector<std::string> dependents = KeyChanged(name);
  deferred_.insert(dependents.begin(), dependents.end());
  return Reconcile(now, {name});
}

Status AgentReconcileQueue::ReconcileDeferred(int64_t now) {
  if (deferred_.empty()) return Status::Ok();
  std::vector<std::string> names(deferred_.begin(), deferred_.end());
  deferred_.clear();
  return Reconcile(now, names);
}

Result<bool> AgentReconcileQueue::RefreshAgents(int64_t now) {
  WW_ASSIGN_OR_RETURN(std::vector<AgentRecord> enrolled, state_.store.ListAgents());
  bool added = false;
  for (AgentRecord& record : enrolled) {
    auto known = state_.agents.find(record.name);
    if (known != state_.agents.end() && known->second.record) continue;
    std::string name = record.name;
    AddEnrolledView(std::move(record), now);
    std::vector<std::string> dependents = KeyChanged(name);
    deferred_.insert(name);
    deferred_.insert(dependents.begin(), dependents.end());
    added = true;
  }
  return added;
}

Result<AgentView*> AgentReconcileQueue::EnrolledAgent(const std::string& name, int64_t now) {
  auto found = state_.agents.find(name);
  if (found != state_.agents.end() && found->second.record) return &found->second;
  // Enrolled without the hook telling us (another process, a missed call): load it now.
  WW_ASSIGN_OR_RETURN(bool added, RefreshAgents(now));
  found = state_.agents.find(name);
  if (found == state_.agents.end() || !found->second.record) {
    return Status::NotFound("agent \"" + name + "\" is not enrolled or was deleted");
  }
  if (added) WW_RETURN_IF_ERROR(ReconcileDeferred(now));
  return &found->second;
}

Status AgentReconcileQueue::RecordReport(AgentView& view, ReceivedReport report, int64_t now) {
  const std::string name = view.record->name;
  // Generations count up per name across enrollments (store.h), so every one up to the
  // latest was issued to this name; a higher one is made up.
  const int64_t issued = std::max(view.generation_floor, view.latest_plan ? view.latest_plan->generation : 0);
  if (report.generation > issued) {
    return Status::InvalidArgument("field \"generation\": " + std::to_string(report.generation) +
                                   " was not issued to agent \"" + name + "\" (its latest plan generation is " +
                                   std::to_string(issued) + ")");
  }
  const std::size_t peer_limit = RenderedPeerCount(name) + kReportPeerAllowance;
  if (report.peers.size() > peer_limit) {
    return Status::InvalidArgument("field \"peers\" lists " + std::to_string(report.peers.size()) +
                                   " peers; agent \"" + name + "\" may report at most " + std::to_string(peer_limit) +
                                   " (its config's peers plus " + std::to_string(kReportPeerAllowance) + ")");
  }
  // The snapshot shows the applied generation and the last error: a change of either is news
  // for GET /v1/status long-polls even when the phase stays.
  const int64_t previous_generation = view.report ? view.report->generation : -1;  // generations are >= 0
  view.figures = ReportFigures{report.version, report.hostname, report.system};
  view.report = ReportRecord{view.record->id, now, report.generation, std::move(report.observed_json),
                             ReportMetricsJson(report)};
  view.observed = std::move(report.observed);
  view.last_seen = now;
  // One stored report per agent per second: a flood of reports costs memory, not the disk.
  if (now > view.report_saved_at) {
    WW_RETURN_IF_ERROR(SaveReport(view));
  } else {
    unsaved_reports_.insert(name);
  }

  AgentHealthRecord health = view.health;
  health.agent_id = view.record->id;
  const bool was_stale = view.latest_plan_outcome == LatestPlanOutcome::kStale;
  view.latest_plan_outcome = report.converged ? LatestPlanOutcome::kRan : report.plan_outcome;
  if (report.converged) {
    health.consecutive_failures = 0;
    health.last_error.clear();
  } else if (view.latest_plan_outcome == LatestPlanOutcome::kStale) {
    // Not a failure: the agent ran nothing because the host changed since the report the
    // plan came from. Reconcile below plans again from this report's observation.
    if (!was_stale || previous_generation != view.report->generation) {
      state_.QueueEvent(now, &view, "plan-stale",
                        name + " ran nothing of generation " + std::to_string(view.report->generation) +
                            ": its host changed since the plan was made; planning again from its fresh observation");
    }
  } else if (!report.error.empty() && view.report->generation != health.last_failed_generation) {
    // Counted once per generation: the agent repeats its report every 30 s.
    ++health.consecutive_failures;
    health.last_failure_at = now;
    health.last_failed_generation = view.report->generation;
    // A retry failing the same way adds nothing but a count, which the status shows.
    if (health.consecutive_failures == 1 || report.error != health.last_error) {
      state_.QueueEvent(now, &view, "apply-failed",
                        name + " failed to apply generation " + std::to_string(view.report->generation) + ": " +
                            report.error);
    }
    health.last_error = report.error;
  }
  const bool health_changed = !(health == view.health);
  if (health_changed) {
    WW_RETURN_IF_ERROR(state_.store.SaveAgentHealth(health));
    view.health = std::move(health);
  }
  if (health_changed || previous_generation != view.report->generation) state_.StatusChanged();
  return Reconcile(now, {name});
}

Status AgentReconcileQueue::SaveReport(AgentView& view) {
  WW_RETURN_IF_ERROR(state_.store.SaveReport(*view.report));
  view.report_saved_at = view.report->received_at;
  if (!unsaved_reports_.empty()) unsaved_reports_.erase(view.record->name);
  return Status::Ok();
}

Status AgentReconcileQueue::SaveDueReports(std::optional<int64_t> now) {
  Status result = Status::Ok();
  for (const std::string& name : std::vector<std::string>(unsaved_reports_.begin(), unsaved_reports_.end())) {
    auto found = state_.agents.find(name);
    if (found == state_.agents.end() || !found->second.record || !found->second.report) {
      unsaved_reports_.erase(name);
      continue;
    }
    if (now && *now <= found->second.report_saved_at) continue;
    if (Status saved = SaveReport(found->second); !saved.ok() && result.ok()) result = saved;
  }
  return result;
}

Status AgentReconcileQueue::DeleteAgent(const std::string& name, const std::string& deleted_by, int64_t now,
                                        RevokedSerials& revoked) {
  // A report that waited for its second goes in first: the deleted enrollment keeps its history.
  if (unsaved_reports_.contains(name)) WW_RETURN_IF_ERROR(SaveReport(state_.agents[name]));
  WW_RETURN_IF_ERROR(state_.store.DeleteAgent(name, now));
  // Refused from the next request on, and its open long-poll is answered now.
  WW_ASSIGN_OR_RETURN(std::vector<std::string> serials, state_.store.ListRevokedSerials());
  revoked.Replace(std::move(serials));
  state_.long_polls.Revoke(name);
  // The view starts again from the deleted record: history stays in the store, and a new
  // enrollment of the name starts clean (its long-poll above the old generations).
  AgentView& view = state_.agents[name];
  state_.QueueEvent(now, &view, "agent-deleted", name + " deleted by " + deleted_by + "; its certificates are revoked");
  AgentView replacement;
  replacement.deleted = view.record;
  if (!replacement.deleted) {
    // Enrolled without this service hearing of it yet: the store has the record.
    if (Result<AgentRecord> stored = state_.store.FindAgentByName(name); stored.ok()) replacement.deleted = *stored;
  }
  if (replacement.deleted) replacement.deleted->deleted_at = now;
  replacement.generation_floor = std::max(view.generation_floor, view.latest_plan ? view.latest_plan->generation : 0);
  view = std::move(replacement);
  // Its key is gone: it and the agents that held the key render again (deferred).
  std::vector<std::string> dependents = KeyChanged(name);
  deferred_.insert(dependents.begin(), dependents.end());
  return Reconcile(now, {name});
}

}  // namespace ww
