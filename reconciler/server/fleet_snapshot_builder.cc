#include "reconciler/server/fleet_snapshot_builder.h"

#include <algorithm>
#include <map>
#include <utility>

#include "reconciler/core/reconcile.h"
#include "schema/templates.h"

namespace ww {
namespace {

std::string RevisionSourceText(RevisionSource source) {
  switch (source) {
    case RevisionSource::kGit: return "git";
    case RevisionSource::kApply: return "apply";
    case RevisionSource::kRollback: return "rollback";
  }
  return "apply";
}

// UTF-8 is cut at a character boundary; the JSON writer replaces anything invalid anyway.
std::string Cut(const std::string& text) {
  if (text.size() <= kSnapshotMaxText) return text;
  std::size_t end = kSnapshotMaxText;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return text.substr(0, end) + "...";
}

std::vector<std::string> CutList(const std::vector<std::string>& list) {
  std::vector<std::string> cut;
  const std::size_t shown = std::min(list.size(), kSnapshotMaxEntries);
  cut.reserve(shown + 1);
  for (std::size_t i = 0; i < shown; ++i) cut.push_back(Cut(list[i]));
  if (list.size() > shown) cut.push_back("... and " + std::to_string(list.size() - shown) + " more");
  return cut;
}

std::optional<int64_t> NullableTime(int64_t seconds) {
  return seconds > 0 ? std::optional<int64_t>(seconds) : std::nullopt;
}

// "applied" when the forward's server agent holds the current revision, "failed" when it
// cannot get it, else "pending".
std::string ForwardState(const std::string& phase) {
  if (phase == "converged") return "applied";
  if (phase == "degraded" || phase == "render-failed") return "failed";
  return "pending";
}

FleetSnapshot::Agent AgentEntry(const FleetState& state, const std::string& name, const AgentView& view,
                                bool connected) {
  FleetSnapshot::Agent agent;
  agent.name = name;
  const AgentRole role = view.record ? view.record->role : state.ExpectedRole(name);
  agent.mode = role == AgentRole::kServer ? "server" : "client";
  agent.enrolled = view.record.has_value();
  agent.deleted = view.deleted.has_value();
  if (view.deleted) agent.deleted_at = view.deleted->deleted_at;
  if (!view.record) agent.enroll_command = state.EnrollCommand(name);
  agent.warnings = CutList(view.warnings);
  agent.connected = connected;
  agent.last_seen = NullableTime(view.last_seen);
  // The report's release and hostname, else what the agent enrolled with.
  agent.version = Cut(!view.figures.version.empty() ? view.figures.version : view.record ? view.record->version : "");
  agent.hostname =
      Cut(!view.figures.hostname.empty() ? view.figures.hostname : view.record ? view.record->hostname : "");
  agent.generation = view.latest_plan ? view.latest_plan->generation : 0;
  agent.applied_generation = view.report ? view.report->generation : 0;
  agent.phase = view.phase.empty() ? "unknown" : view.phase;
  if (view.report) {
    // Only the first steps: a hostile report can make thousands. "... and N more" is not a
    // step, so it is left out and drift_count says how many there are.
    const std::size_t shown = std::min(view.steps.size(), kSnapshotMaxEntries);
    for (std::size_t i = 0; i < shown; ++i) agent.drift.push_back(Cut(view.steps[i]));
    agent.drift_count = view.steps.size();
  }
  agent.last_error = Cut(view.health.last_error);
  agent.consecutive_failures = view.health.consecutive_failures;
  agent.retry_at = view.retry_at;
  agent.message = Cut(view.message);
  agent.system = view.figures.system;
  return agent;
}

void AddTunnelsAndForwards(const FleetState& state, int64_t now, FleetSnapshot& snapshot) {
  const Fleet& fleet = state.current->fleet;
  std::map<std::pair<std::string, std::string>, Ipv4Address> allocated;
  for (const Allocation& allocation : state.current->allocations) {
    allocated[{allocation.tunnel, allocation.peer}] = allocation.address;
  }
  std::map<std::string, std::string> server_of;
  for (const Tunnel& tunnel : fleet.tunnels) {
    server_of[tunnel.metadata.name] = tunnel.spec.agent;
    auto server = state.agents.find(tunnel.spec.agent);
    const ObservedInterface* observed_interface = nullptr;
    if (server != state.agents.end() && server->second.observed) {
      for (const ObservedInterface& candidate : server->second.observed->interfaces) {
        if (candidate.name == tunnel.spec.interface) observed_interface = &candidate;
      }
    }
    FleetSnapshot::Tunnel entry;
    entry.name = tunnel.metadata.name;
    entry.server = tunnel.spec.agent;
    // The server's enrolled WireGuard key: what `wwctl peer new/config` puts in a device's
    // config (public, like the endpoint).
    if (server != state.agents.end() && server->second.record) {
      entry.server_public_key = server->second.record->wireguard_public_key.ToBase64();
    }
    entry.interface = tunnel.spec.interface;
    entry.self_heal = tunnel.spec.self_heal;
    for (const Peer& peer : fleet.peers) {
      if (peer.spec.tunnel != tunnel.metadata.name) continue;
      std::optional<Ipv4Address> address = peer.spec.address;
      if (!address) {
        auto found = allocated.find({tunnel.metadata.name, peer.metadata.name});
        if (found != allocated.end()) address = found->second;
      }
      std::optional<WireguardKey> key = peer.spec.public_key;
      if (peer.spec.agent) {
        auto agent = state.agents.find(*peer.spec.agent);
        if (agent != state.agents.end() && agent->second.record) key = agent->second.record->wireguard_public_key;
      }
      const ObservedPeer* observed_peer = nullptr;
      if (observed_interface != nullptr && key) {
        for (const ObservedPeer& candidate : observed_interface->peers) {
          if (candidate.public_key == *key) observed_peer = &candidate;
        }
      }
      // An unmanaged device (a phone, a laptop) has no agent and no reports: the page and
      // wwctl show it apart from the agents' peers.
      FleetSnapshot::Peer shown;
      shown.name = peer.metadata.name;
      shown.agent = peer.spec.agent;
      shown.managed = peer.IsManaged();
      if (address) shown.address = address->ToString() + "/32";
      if (observed_peer != nullptr && observed_peer->latest_handshake > 0) {
        shown.handshake_age_seconds = std::max<int64_t>(0, now - observed_peer->latest_handshake);
      }
      if (observed_peer != nullptr) {
        shown.rx_bytes = observed_peer->rx_bytes;
        shown.tx_bytes = observed_peer->tx_bytes;
      }
      entry.peers.push_back(std::move(shown));
    }
    snapshot.tunnels.push_back(std::move(entry));
  }

  TemplateIndex templates(fleet);
  for (const PortForward& forward : fleet.forwards) {
    std::vector<PortSet> sets = ForwardPortSets(templates, forward);
    PortSummary summary = SummarizePortSets(sets);
    std::string to = forward.spec.to.address.ToString();
    if (forward.spec.to.port) {
      to += ":" + std::to_string(*forward.spec.to.port);
    } else if (sets.size() == 1 && sets.front().ranges.size() == 1 && sets.front().ranges.front().IsSingle()) {
      to += ":" + std::to_string(sets.front().ranges.front().first);
    }
    const std::string& agent = server_of[forward.spec.tunnel];
    auto server = state.agents.find(agent);
    std::string phase = server != state.agents.end() ? server->second.phase : "";
    snapshot.forwards.push_back(FleetSnapshot::Forward{forward.metadata.name, forward.spec.tunnel, agent,
                                                       summary.protocol, summary.ports, forward.spec.template_name, to,
                                                       forward.spec.description, ForwardState(phase)});
  }
}

}  // namespace

RevisionSummary SummarizeRevision(const RevisionRecord& revision) {
  return RevisionSummary{revision.id,         RevisionSourceText(revision.source), revision.commit_sha,
                         revision.author,     revision.message,                    revision.applied_by,
                         revision.created_at, revision.content_sha256};
}

FleetSnapshot SnapshotOfState(const FleetState& state, int64_t now) {
  const std::optional<CurrentRevision>& current = state.current;
  FleetSnapshot snapshot;
  snapshot.version = state.status_version;
  snapshot.now = now;
  if (current) snapshot.revision = SummarizeRevision(current->record);
  // "diverged from git at COMMIT (override by NAME at TIME)" until the next commit.
  if (current && current->diverged_from) {
    const RevisionRecord& record = current->record;
    snapshot.divergence = FleetSnapshot::Divergence{current->diverged_from->commit_sha,
                                                    current->diverged_from->revision_id,
                                                    record.id,
                                                    RevisionSourceText(record.source),
                                                    record.applied_by,
                                                    record.created_at};
  }
  // The current revision's errors under this version's rules (see CurrentRevision).
  if (current) snapshot.revision_errors = CutList(current->stale_findings);

  bool converged = current.has_value();
  for (const auto& [name, view] : state.agents) {
    const bool in_fleet = state.InFleet(name);
    // A deleted agent the fleet no longer names needs nothing more: its history is in the store.
    if (!view.record && !in_fleet) continue;
    const bool connected = view.last_seen > 0 && now - view.last_seen <= kDisconnectedAfterSeconds;
    FleetSnapshot::Agent agent = AgentEntry(state, name, view, connected);
    if (in_fleet && !(connected && agent.phase == "converged")) converged = false;
    snapshot.agents.push_back(std::move(agent));
  }
  snapshot.converged = converged;
  if (current) AddTunnelsAndForwards(state, now, snapshot);
  return snapshot;
}

Status ReplaceEvents(Store& store, const EventPage& page, FleetSnapshot& snapshot) {
  const int64_t limit = std::clamp<int64_t>(page.limit, 1, kStatusMaxEventCount);
  WW_ASSIGN_OR_RETURN(std::vector<EventRecord> events,
                      page.before ? store.EventsBefore(*page.before, limit) : store.RecentEvents(limit));
  snapshot.events.clear();
  for (const EventRecord& event : events) {
    std::optional<std::string> agent;
    // An agent id is its name, or "NAME.N" for a later enrollment (a name has no dot).
    if (event.agent_id) agent = event.agent_id->substr(0, event.agent_id->find('.'));
    snapshot.events.push_back(FleetSnapshot::Event{event.id, event.at, std::move(agent), event.kind, Cut(event.message)});
  }
  return Status::Ok();
}

Status AddStoredHistory(Store& store, const EventPage& page, FleetSnapshot& snapshot) {
  WW_ASSIGN_OR_RETURN(std::optional<RejectedCommitRecord> rejected, store.LatestRejectedCommit());
  if (rejected) {
    snapshot.rejected = FleetSnapshot::RejectedCommit{rejected->commit_sha, rejected->at, CutList(rejected->errors)};
  }
  WW_ASSIGN_OR_RETURN(std::vector<RevisionRecord> revisions, store.ListRevisions(kStatusRevisionCount));
  for (const RevisionRecord& revision : revisions) snapshot.revisions.push_back(SummarizeRevision(revision));
  return ReplaceEvents(store, page, snapshot);
}

}  // namespace ww
