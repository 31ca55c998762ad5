#pragma once
// One agent pass over the host, shared by every one-shot command and (later) the daemon:
// observe what the agent owns -> ComputePlan (the same engine as the reconciler) -> run the
// plan's commands -> observe again. The host is never changed without the state directory's
// lock, and the last successfully converged config is stored for `restore`.

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/state/state_dir.h"
#include "agent/system/command_runner.h"
#include "agent/system/endpoint_resolver.h"
#include "schema/agent_config.h"
#include "schema/observed_state.h"
#include "schema/plan.h"

namespace ww::agent {

enum class DryRun { kNo, kYes };
// How to make WireGuard devices. kAuto tries the kernel module and falls back to
// wireguard-go when `ip link add ... type wireguard` is refused.
enum class WireguardMode { kAuto, kKernel, kUserspace };

struct AgentOptions {
  DryRun dry_run = DryRun::kNo;
  WireguardMode wireguard = WireguardMode::kAuto;
  // Resolves peer endpoints given by host name before `wg set`, on every pass: a name that
  // now has another address than the one set last (the VPS moved) sets the peer again.
  // nullptr: names go to `wg set` as they are, which resolves them once.
  EndpointResolver* resolver = nullptr;
};

struct StepReport {
  size_t index = 0;
  std::string description;  // DescribeStep
  enum class Outcome { kApplied, kFailed, kSkipped, kPlanned } outcome = Outcome::kPlanned;
  std::string error;        // for kFailed: the command and its stderr
};

// Whose plan a pass ran. A plan pushed by the reconciler (what `wwctl apply --dry-run` and
// the status showed) runs only when the agent's fresh observation plans exactly the same
// steps; otherwise nothing runs and the report says the pushed plan was stale.
enum class PlanSource { kLocal, kPushed, kPushedStale };

struct ApplyReport {
  std::string agent;
  PlanSource plan_source = PlanSource::kLocal;
  Plan plan;  // the plan of the fresh observation (with kPushedStale: not run)
  std::vector<StepReport> steps;
  std::vector<std::string> commands;  // every mutating command run (or, dry-run, planned)
  bool converged = false;             // the host matches the config after the pass
  std::optional<ObservedState> after; // the observation after applying (not in dry-run)
  std::string error;                  // why the pass stopped, when it did
  std::vector<std::string> warnings;  // e.g. an endpoint name that did not resolve
};

std::string ApplyReportToJson(const ApplyReport& report);

// Applies `desired` on the host. Observation covers the interfaces of `desired`, of the
// last applied config and those recorded as owned, so removed interfaces are cleaned up.
// Returns an error only when nothing could be attempted (lock held, key mismatch, the
// first observation failed); a failed step is reported in the ApplyReport.
// `desired_json`, when not empty, is the text `desired` was parsed from (AgentConfigFromJson):
// when last-applied.json holds the same bytes, the pass uses `desired` instead of parsing
// the file again (a no-op re-apply of a large config would otherwise parse it twice).
// `pushed_plan`, when set, is the plan the reconciler computed for `desired` from this
// agent's latest report: the pass runs it only if the fresh observation plans the same
// (PlanSource above); nullptr plans locally (restore, `apply -f`, an older reconciler).
Result<ApplyReport> ApplyConfig(CommandRunner& runner, StateDir& state, const AgentConfig& desired,
                                const AgentOptions& options, std::string_view desired_json = {},
                                const Plan* pushed_plan = nullptr);

// Re-applies the stored last-applied config; kNotFound when there is none.
Result<ApplyReport> RestoreLastApplied(CommandRunner& runner, StateDir& state, const AgentOptions& options);

// Removes everything the agent owns (interfaces, routes, rules, chains, jumps) and forgets
// the last applied config. Idempotent. Sysctls are left as they are.
Result<ApplyReport> TearDown(CommandRunner& runner, StateDir& state, const AgentOptions& options);

// The host-name endpoints of `config` that now resolve to another address than the one the
// agent set ("vps.example.net:51820 -> 203.0.113.9:51820"); names that do not resolve are
// added to `warnings`. Applying `config` again sets the moved peers.
std::vector<std::string> MovedEndpoints(EndpointResolver& resolver, const StateDir& state, const AgentConfig& config,
                                        std::vector<std::string>& warnings);

// What the agent owns on the host now, as ObservedState; peers carry the endpoint text last
// applied (ObservedPeer::applied_endpoint) next to the address WireGuard uses. The scope is
// what the agent owns plus the interfaces and sysctls of `target` (default: the last applied
// config): the daemon passes the config it was last sent, so the reconciler plans from an
// observation that covers what the pushed plan will touch.
Result<ObservedState> ObserveOwned(CommandRunner& runner, const StateDir& state, const AgentConfig* target = nullptr);

}  // namespace ww::agent
