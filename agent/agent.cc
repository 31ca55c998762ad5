#include "agent/agent.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "agent/apply/commands.h"
#include "agent/observe/observer.h"
#include "agent/state/applied_endpoints.h"
#include "agent/state/firewall_snapshot.h"
#include "schema/config_policy.h"
#include "schema/wire_json.h"

namespace ww::agent {

namespace {

// What the state directory says before a pass, loaded once: the last applied config and
// the interfaces recorded as owned (sorted, unique).
struct StoredState {
  std::optional<AgentConfig> last_applied;
  std::vector<std::string> owned;
};

Result<StoredState> LoadStoredState(const StateDir& state) {
  StoredState stored;
  WW_ASSIGN_OR_RETURN(stored.last_applied, state.LoadLastApplied());
  WW_ASSIGN_OR_RETURN(stored.owned, state.LoadOwnedInterfaces());
  return stored;
}

// As LoadStoredState, but when last-applied.json holds exactly `desired_json` (the text
// `desired` was parsed from) it is `desired`: the same bytes parse to the same config, so
// the file is not parsed again. Any other content, also the same config formatted
// differently, is parsed as usual.
Result<StoredState> LoadStoredState(const StateDir& state, const AgentConfig& desired, std::string_view desired_json) {
  if (desired_json.empty()) return LoadStoredState(state);
  WW_ASSIGN_OR_RETURN(std::optional<std::string> text, state.ReadFile(kLastAppliedFile));
  if (!text || *text != desired_json) return LoadStoredState(state);
  StoredState stored;
  stored.last_applied = desired;
  WW_ASSIGN_OR_RETURN(stored.owned, state.LoadOwnedInterfaces());
  return stored;
}

std::vector<std::string> SortedUnique(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// Records `names` as the owned interfaces. Writes owned.json only when the list changes: a
// write costs two fsyncs, which a no-op pass should not pay.
Status RecordOwned(StateDir& state, StoredState& stored, std::vector<std::string> names) {
  names = SortedUnique(std::move(names));
  if (names == stored.owned) return Status::Ok();
  WW_RETURN_IF_ERROR(state.SaveOwnedInterfaces(names));
  stored.owned = std::move(names);
  return Status::Ok();
}

// The interfaces and sysctls to observe: the desired config's, the last applied config's
// and every interface recorded as owned.
ObserveRequest BuildObserveRequest(const StoredState& stored, const AgentConfig& desired) {
  ObserveRequest request = ObserveRequestFor(desired);
  if (stored.last_applied) {
    ObserveRequest previous = ObserveRequestFor(*stored.last_applied);
    request.interfaces.insert(request.interfaces.end(), previous.interfaces.begin(), previous.interfaces.end());
  }
  request.interfaces.insert(request.interfaces.end(), stored.owned.begin(), stored.owned.end());
  request.interfaces = SortedUnique(std::move(request.interfaces));
  return request;
}

// kKernel when this host can create kernel WireGuard devices. Probes with a throwaway
// device that is removed at once.
WireguardImplementation ProbeImplementation(CommandRunner& runner, WireguardMode mode) {
  if (mode == WireguardMode::kKernel) return WireguardImplementation::kKernel;
  if (mode == WireguardMode::kUserspace) return WireguardImplementation::kUserspace;
  Command probe = CreateInterfaceCommand("wwprobe0", WireguardImplementation::kKernel);
  auto result = runner.Run(probe);
  if (result.ok() && result->exit_code == 0) {
    (void)runner.Run(Command{{"ip", "link", "del", "wwprobe0"}});
    return WireguardImplementation::kKernel;
  }
  return WireguardImplementation::kUserspace;
}

bool PlanCreatesInterfaces(const Plan& plan) {
  return std::any_of(plan.steps.begin(), plan.steps.end(),
                     [](const Step& step) { return std::holds_alternative<CreateInterface>(step.action); });
}

std::vector<std::string> InterfaceNames(const AgentConfig& config) {
  std::vector<std::string> names;
  for (const WireguardInterface& interface : config.interfaces) names.push_back(interface.name);
  return names;
}

Status CheckKey(StateDir& state, const AgentConfig& desired) {
  if (desired.interfaces.empty()) return Status::Ok();
  WW_ASSIGN_OR_RETURN(WireguardKey key, state.EnsureWireguardKey());
  for (const WireguardInterface& interface : desired.interfaces) {
    if (interface.public_key != key) {
      return Status::FailedPrecondition("the config for interface " + interface.name + " expects public key " +
                                        interface.public_key.ToBase64() + " but this agent's key is " +
                                        key.ToBase64() + " (render the config with this agent's key)");
    }
  }
  return Status::Ok();
}

// Refuses a config whose text is unsafe in argv or a restore script (an option-like name, a
// newline in a rule, a jump to a chain the agent does not own) before any command that
// carries a value of the config runs, also observation. Planning against an empty host puts
// every value of the config into a step, and CheckPlanIsSafe runs ToCommandBatches' check on
// every step (without building the commands). AgentConfigFromJson refuses the same values;
// this covers configs built in code (the daemon, tests).
Status CheckConfigIsSafe(const StateDir& state, const AgentConfig& desired) {
  CommandContext context;
  context.private_key_path = state.WireguardKeyPath();
  Status status = CheckPlanIsSafe(ComputePlan(desired, ObservedState{}), context);
  if (!status.ok()) return status.WithContext("refusing the config, nothing was run");
  return Status::Ok();
}

// The stored firewall snapshot, read only when the runner can tell whether it still holds.
std::optional<FirewallSnapshot> ReusableSnapshot(CommandRunner& runner, const StateDir& state) {
  if (runner.firewall_generation() == nullptr) return std::nullopt;
  return LoadFirewallSnapshot(state);
}

// Stores the firewall part of the observation a converged pass ended with, when iptables-save
// produced it (a reused one is on disk already). A cache: a failed write only costs the next
// pass an iptables-save, so it does not fail the pass.
void StoreSnapshot(StateDir& state, const std::optional<FirewallSnapshot>& fresh_snapshot) {
  if (fresh_snapshot) (void)SaveFirewallSnapshot(state, *fresh_snapshot);
}

using PeerId = std::pair<std::string, WireguardKey>;

std::set<PeerId> UpsertedPeers(const Plan& plan, const std::vector<StepReport>* outcomes) {
  std::set<PeerId> peers;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const auto* upsert = std::get_if<UpsertPeer>(&plan.steps[i].action);
    if (upsert == nullptr) continue;
    if (outcomes != nullptr && (*outcomes)[i].outcome != StepReport::Outcome::kApplied) continue;
    peers.insert({upsert->interface, upsert->peer.public_key});
  }
  return peers;
}

// Calls on_resolved(interface, peer, address, moved) for every peer of `config` whose
// endpoint is a host name that resolves; `moved` when the record has another address for it
// (or none). A name that does not resolve is a warning: the peer keeps its address.
template <typename OnResolved>
void ResolveEndpointNames(EndpointResolver& resolver, const AgentConfig& config, const AppliedEndpoints& applied,
                          std::vector<std::string>& warnings, OnResolved on_resolved) {
  for (const WireguardInterface& interface : config.interfaces) {
    for (const WireguardPeer& peer : interface.peers) {
      if (!EndpointHasHostName(peer.endpoint)) continue;
      Result<std::string> address = ResolveEndpoint(resolver, peer.endpoint);
      if (!address.ok()) {
        warnings.push_back("peer " + peer.name + " on " + interface.name + ": " + address.status().message());
        continue;
      }
      const AppliedEndpoint* entry = FindAppliedEndpoint(applied, interface.name, peer.public_key);
      on_resolved(interface, peer, *address, entry == nullptr || entry->address != *address);
    }
  }
}

// Resolves every host-name endpoint of `desired` into `resolved`. A peer whose name moved
// (the VPS has a new address), and that the plan does not set anyway, gets an UpsertPeer
// step; when a name does not resolve and the peer must be set, `wg set` gets the name.
void ResolveEndpoints(EndpointResolver& resolver, const AgentConfig& desired, const AppliedEndpoints& applied,
                      Plan& plan, std::map<std::string, std::string>& resolved, std::vector<std::string>& warnings) {
  std::set<PeerId> upserted = UpsertedPeers(plan, nullptr);
  ResolveEndpointNames(resolver, desired, applied, warnings,
                       [&](const WireguardInterface& interface, const WireguardPeer& peer, const std::string& address,
                           bool moved) {
                         resolved[peer.endpoint] = address;
                         if (moved && !upserted.contains({interface.name, peer.public_key})) {
                           plan.steps.push_back({UpsertPeer{interface.name, peer}, Destructive::kNo});
                         }
                       });
}

// The record after a pass: peers the pass set get their endpoint and address; others keep
// an entry that still matches the config; everything else (removed peers) is dropped.
AppliedEndpoints RecordAfterPass(const AgentConfig& desired, const AppliedEndpoints& before, const Plan& plan,
                                 const std::vector<StepReport>& outcomes,
                                 const std::map<std::string, std::string>& resolved) {
  std::set<PeerId> set_now = UpsertedPeers(plan, &outcomes);
  AppliedEndpoints after;
  for (const WireguardInterface& interface : desired.interfaces) {
    for (const WireguardPeer& peer : interface.peers) {
      if (peer.endpoint.empty()) continue;
      if (set_now.contains({interface.name, peer.public_key})) {
        auto address = resolved.find(peer.endpoint);
        after.push_back({interface.name, peer.public_key, peer.endpoint,
                         address == resolved.end() ? std::string() : address->second});
      } else if (const AppliedEndpoint* entry = FindAppliedEndpoint(before, interface.name, peer.public_key);
                 entry != nullptr && entry->endpoint == peer.endpoint) {
        after.push_back(*entry);
      }
    }
  }
  return after;
}

// `pending`: the first observation, started while the caller checked the config.
Result<ApplyReport> RunPass(CommandRunner& runner, StateDir& state, StoredState& stored, const AgentConfig& desired,
                            const AgentOptions& options, std::vector<std::string> owned_after,
                            PendingObservation pending, const Plan* pushed_plan) {
  ApplyReport report;
  report.agent = desired.agent;
  ObserveRequest request = BuildObserveRequest(stored, desired);
  WW_ASSIGN_OR_RETURN(Observation before, FinishObservation(runner, std::move(pending), request));
  AppliedEndpoints applied = LoadAppliedEndpoints(state);
  FillAppliedEndpoints(applied, before.state);
  report.plan = ComputePlan(desired, before.state);
  if (pushed_plan != nullptr) {
    report.plan_source = *pushed_plan == report.plan ? PlanSource::kPushed : PlanSource::kPushedStale;
    // A host that already matches the config runs nothing either way: a no-op pass below.
    if (report.plan_source == PlanSource::kPushedStale && !report.plan.empty()) {
      // The host changed since the report the reconciler planned from: run nothing, and
      // send the fresh observation so it plans again.
      report.error = "the pushed plan (" + std::to_string(pushed_plan->steps.size()) +
                     " steps) is stale: this host's fresh observation plans " +
                     std::to_string(report.plan.steps.size()) + " steps; nothing was run";
      report.after = std::move(before.state);
      return report;
    }
  }
  CommandContext context;
  if (options.resolver != nullptr) {
    ResolveEndpoints(*options.resolver, desired, applied, report.plan, context.resolved_endpoints, report.warnings);
  }
  // Only a no-op pass stores the first observation's snapshot; an applying pass stores the
  // one after, so this copy of every owned rule is dropped before the commands run.
  if (!report.plan.empty()) before.fresh_snapshot.reset();
  for (size_t i = 0; i < report.plan.steps.size(); ++i) {
    report.steps.push_back({i, DescribeStep(report.plan.steps[i]), StepReport::Outcome::kPlanned, ""});
  }

  context.private_key_path = state.WireguardKeyPath();
  context.implementation = WireguardImplementation::kKernel;
  if (PlanCreatesInterfaces(report.plan)) {
    context.implementation = options.dry_run == DryRun::kYes && options.wireguard == WireguardMode::kAuto
                                 ? WireguardImplementation::kKernel
                                 : ProbeImplementation(runner, options.wireguard);
  }
  WW_ASSIGN_OR_RETURN(std::vector<CommandBatch> batches, ToCommandBatches(report.plan, context));

  if (options.dry_run == DryRun::kYes) {
    for (const CommandBatch& batch : batches) {
      for (const Command& command : batch.commands) report.commands.push_back(FormatArgv(command.argv));
    }
    report.converged = report.plan.empty();
    return report;
  }

  // Record ownership before creating anything, so a crash mid-way leaves nothing orphaned.
  if (PlanCreatesInterfaces(report.plan)) {
    std::vector<std::string> owned = stored.owned;
    for (const std::string& name : InterfaceNames(desired)) owned.push_back(name);
    WW_RETURN_IF_ERROR(RecordOwned(state, stored, std::move(owned)));
  }

  std::set<size_t> failed_steps;
  for (const CommandBatch& batch : batches) {
    for (const Command& command : batch.commands) {
      report.commands.push_back(FormatArgv(command.argv));
      auto result = RunChecked(runner, command);
      if (!result.ok()) {
        report.error = result.status().message();
        for (size_t step : batch.steps) failed_steps.insert(step);
        break;
      }
    }
    if (!report.error.empty()) break;
    for (size_t step : batch.steps) report.steps[step].outcome = StepReport::Outcome::kApplied;
  }
  for (StepReport& step : report.steps) {
    if (failed_steps.count(step.index)) {
      step.outcome = StepReport::Outcome::kFailed;
      step.error = report.error;
    } else if (step.outcome == StepReport::Outcome::kPlanned) {
      step.outcome = StepReport::Outcome::kSkipped;
    }
  }

  if (report.plan.empty()) {
    // Nothing ran, so the host is as observed: a no-op pass costs one observation.
    report.after = std::move(before.state);
    report.converged = true;
    WW_RETURN_IF_ERROR(RecordOwned(state, stored, std::move(owned_after)));
    StoreSnapshot(state, before.fresh_snapshot);
    return report;
  }
  AppliedEndpoints record = RecordAfterPass(desired, applied, report.plan, report.steps, context.resolved_endpoints);
  if (record != applied) WW_RETURN_IF_ERROR(SaveAppliedEndpoints(state, record));
  auto after = FinishObservation(runner, StartObserve(runner), request);
  if (!after.ok()) {
    if (report.error.empty()) report.error = "observing after apply: " + after.status().message();
    return report;
  }
  FillAppliedEndpoints(record, after->state);
  report.converged = report.error.empty() && ComputePlan(desired, after->state).empty();
  report.after = std::move(after->state);  // moved, not copied: thousands of rules at peak
  if (report.converged) {
    WW_RETURN_IF_ERROR(RecordOwned(state, stored, std::move(owned_after)));
    StoreSnapshot(state, after->fresh_snapshot);
  } else if (report.error.empty()) {
    report.error = "the host still differs from the config after applying";
  }
  return report;
}

const char* PlanSourceName(PlanSource source) {
  switch (source) {
    case PlanSource::kLocal: return "local";
    case PlanSource::kPushed: return "pushed";
    case PlanSource::kPushedStale: return "pushed-stale";
  }
  return "local";
}

const char* OutcomeName(StepReport::Outcome outcome) {
  switch (outcome) {
    case StepReport::Outcome::kApplied: return "applied";
    case StepReport::Outcome::kFailed: return "failed";
    case StepReport::Outcome::kSkipped: return "skipped";
    case StepReport::Outcome::kPlanned: return "planned";
  }
  return "planned";
}

}  // namespace

Result<ApplyReport> ApplyConfig(CommandRunner& runner, StateDir& state, const AgentConfig& desired,
                                const AgentOptions& options, std::string_view desired_json, const Plan* pushed_plan) {
  WW_RETURN_IF_ERROR(state.Lock());
  // Whoever sent or stored the config, it must be one render could have produced
  // (config_policy.h); checked before anything runs, observation included.
  if (Status allowed = CheckConfigPolicy(desired); !allowed.ok()) {
    return allowed.WithContext("refusing the config, nothing was run");
  }
  // The observation's fixed commands (iptables-save, the no-op's largest cost by far) run
  // while the config is checked and the stored state is read. Nothing of the config reaches
  // them, so a refused config still runs no command that depends on it.
  PendingObservation pending = StartObserve(runner, ReusableSnapshot(runner, state));
  WW_RETURN_IF_ERROR(CheckConfigIsSafe(state, desired));
  WW_RETURN_IF_ERROR(CheckKey(state, desired));
  WW_ASSIGN_OR_RETURN(StoredState stored, LoadStoredState(state, desired, desired_json));
  WW_ASSIGN_OR_RETURN(ApplyReport report, RunPass(runner, state, stored, desired, options, InterfaceNames(desired),
                                                  std::move(pending), pushed_plan));
  // Rewritten only when it changes: the file is large for big fleets and each write fsyncs.
  if (options.dry_run == DryRun::kNo && report.converged && stored.last_applied != desired) {
    WW_RETURN_IF_ERROR(state.SaveLastApplied(desired));
  }
  return report;
}

Result<ApplyReport> RestoreLastApplied(CommandRunner& runner, StateDir& state, const AgentOptions& options) {
  WW_ASSIGN_OR_RETURN(std::optional<AgentConfig> last, state.LoadLastApplied());
  if (!last) return Status::NotFound("nothing to restore: no config was applied from " + state.path());
  return ApplyConfig(runner, state, *last, options);
}

Result<ApplyReport> TearDown(CommandRunner& runner, StateDir& state, const AgentOptions& options) {
  WW_RETURN_IF_ERROR(state.Lock());
  PendingObservation pending = StartObserve(runner, ReusableSnapshot(runner, state));
  AgentConfig nothing;
  WW_ASSIGN_OR_RETURN(StoredState stored, LoadStoredState(state));
  if (stored.last_applied) nothing.agent = stored.last_applied->agent;
  WW_ASSIGN_OR_RETURN(ApplyReport report,
                      RunPass(runner, state, stored, nothing, options, {}, std::move(pending), /*pushed_plan=*/nullptr));
  if (options.dry_run == DryRun::kNo && report.converged) {
    // Forget the config so a boot-time `restore` does not bring the tunnel back.
    std::error_code error;
    std::filesystem::remove(state.FilePath(kLastAppliedFile), error);
    if (error) return Status::Internal("removing " + state.FilePath(kLastAppliedFile) + ": " + error.message());
  }
  return report;
}

std::vector<std::string> MovedEndpoints(EndpointResolver& resolver, const StateDir& state, const AgentConfig& config,
                                        std::vector<std::string>& warnings) {
  std::vector<std::string> moved;
  ResolveEndpointNames(resolver, config, LoadAppliedEndpoints(state), warnings,
                       [&](const WireguardInterface&, const WireguardPeer& peer, const std::string& address,
                           bool peer_moved) {
                         if (peer_moved) moved.push_back(peer.endpoint + " -> " + address);
                       });
  return moved;
}

Result<ObservedState> ObserveOwned(CommandRunner& runner, const StateDir& state, const AgentConfig* target) {
  WW_ASSIGN_OR_RETURN(StoredState stored, LoadStoredState(state));
  AgentConfig reference = target != nullptr ? *target : stored.last_applied ? *stored.last_applied : AgentConfig{};
  WW_ASSIGN_OR_RETURN(ObservedState observed, FinishObserve(runner, StartObserve(runner, ReusableSnapshot(runner, state)),
                                                            BuildObserveRequest(stored, reference)));
  FillAppliedEndpoints(LoadAppliedEndpoints(state), observed);
  return observed;
}

std::string ApplyReportToJson(const ApplyReport& report) {
  nlohmann::ordered_json out;
  out["agent"] = report.agent;
  out["converged"] = report.converged;
  if (report.plan_source != PlanSource::kLocal) out["planSource"] = PlanSourceName(report.plan_source);
  out["destructive"] = report.plan.HasDestructive();
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  for (const StepReport& step : report.steps) {
    nlohmann::ordered_json item;
    item["index"] = step.index;
    item["step"] = step.description;
    item["result"] = OutcomeName(step.outcome);
    if (!step.error.empty()) item["error"] = step.error;
    steps.push_back(std::move(item));
  }
  out["steps"] = std::move(steps);
  out["commands"] = report.commands;
  if (!report.error.empty()) out["error"] = report.error;
  if (!report.warnings.empty()) out["warnings"] = report.warnings;
  // error_handler replace: command text comes from the host and may not be UTF-8.
  std::string text = out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  if (report.after) {
    // The observed state is large (every owned rule): its own pretty JSON is spliced in as
    // the last member, indented one level, rather than parsed back and dumped again. JSON
    // strings escape newlines, so every newline in it starts a line to indent.
    std::string observed = ObservedStateToJson(*report.after, JsonStyle::kPretty);
    while (!observed.empty() && observed.back() == '\n') observed.pop_back();
    text.resize(text.size() - 2);  // "\n}": dump(2) closes the object on its own line
    text.reserve(text.size() + observed.size() + observed.size() / 8 + 32);
    text += ",\n  \"observed\": ";
    for (size_t start = 0; start < observed.size();) {
      size_t end = std::min(observed.find('\n', start), observed.size() - 1) + 1;
      text.append(observed, start, end - start);
      if (observed[end - 1] == '\n') text += "  ";
      start = end;
    }
    text += "\n}";
  }
  return text + "\n";
}

}  // namespace ww::agent
