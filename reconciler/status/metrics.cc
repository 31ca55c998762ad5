#include "reconciler/status/metrics.h"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>


namespace ww {
namespace {

// Every phase API.md names; each agent gets one 0/1 sample per phase (an unknown phase the
// snapshot reports gets its own sample too), so a dashboard can sum by phase.
constexpr std::array<std::string_view, 8> kAgentPhases = {
    "converged", "pending", "drift-reported", "degraded", "disconnected", "render-failed", "deleted", "unknown"};
constexpr std::array<std::string_view, 3> kForwardStates = {"applied", "pending", "failed"};

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

// Builds the exposition text one family at a time (the format wants a family's samples together).
class MetricsWriter {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    text_ += "# HELP " + std::string(name) + " " + EscapeHelp(help) + "\n";
    text_ += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
  }

  void Sample(const Labels& labels, const std::string& value) {
    text_ += name_;
    if (!labels.empty()) {
      text_ += "{";
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) text_ += ",";
        text_ += std::string(labels[i].first) + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
      }
      text_ += "}";
    }
    text_ += " " + value + "\n";
  }

  std::string Take() { return std::move(text_); }

 private:
  static std::string EscapeHelp(std::string_view help) {
    std::string escaped;
    for (char c : help) {
      if (c == '\\') {
        escaped += "\\\\";
      } else if (c == '\n') {
        escaped += "\\n";
      } else {
        escaped += c;
      }
    }
    return escaped;
  }

  std::string name_;
  std::string text_;
};

std::string Flag(bool value) { return value ? "1" : "0"; }

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '"') {
      escaped += "\\\"";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string MetricsFromSnapshot(const FleetSnapshot& snapshot) {
  MetricsWriter out;

  out.Family("wirewarp_snapshot_timestamp_seconds", "gauge", "When the reconciler took this snapshot (unix seconds).");
  out.Sample({}, std::to_string(snapshot.now));
  out.Family("wirewarp_fleet_converged", "gauge",
             "1 when a revision exists and every agent it names is connected and converged.");
  out.Sample({}, Flag(snapshot.converged));
  out.Family("wirewarp_revision_id", "gauge", "The revision in force (0: none yet).");
  out.Sample({}, std::to_string(snapshot.revision ? snapshot.revision->id : 0));
  out.Family("wirewarp_revision_info", "gauge", "The revision in force, with its source and commit.");
  if (snapshot.revision) {
    std::string id = std::to_string(snapshot.revision->id);
    out.Sample({{"revision", id}, {"source", snapshot.revision->source}, {"commit", snapshot.revision->commit}}, "1");
  }
  out.Family("wirewarp_revision_created_timestamp_seconds", "gauge", "When the revision in force was created.");
  if (snapshot.revision) out.Sample({}, std::to_string(snapshot.revision->created_at));
  out.Family("wirewarp_revision_rejected", "gauge", "1 when the latest commit was rejected (the last good revision stays).");
  out.Sample({}, Flag(snapshot.rejected.has_value()));

  out.Family("wirewarp_agents", "gauge", "Agents known to the reconciler.");
  out.Sample({}, std::to_string(snapshot.agents.size()));
  out.Family("wirewarp_agent_connected", "gauge", "1 when the agent holds a connection or reported recently.");
  for (const FleetSnapshot::Agent& agent : snapshot.agents) out.Sample({{"agent", agent.name}}, Flag(agent.connected));
  out.Family("wirewarp_agent_phase", "gauge", "1 for the agent's current phase, 0 for the others.");
  for (const FleetSnapshot::Agent& agent : snapshot.agents) {
    bool known = false;
    for (std::string_view phase : kAgentPhases) {
      known = known || phase == agent.phase;
      out.Sample({{"agent", agent.name}, {"phase", phase}}, Flag(phase == agent.phase));
    }
    if (!known) out.Sample({{"agent", agent.name}, {"phase", agent.phase}}, "1");
  }
  out.Family("wirewarp_agent_last_seen_timestamp_seconds", "gauge", "When the agent was last heard from.");
  for (const FleetSnapshot::Agent& agent : snapshot.agents) {
    if (agent.last_seen) out.Sample({{"agent", agent.name}}, std::to_string(*agent.last_seen));
  }
  out.Family("wirewarp_agent_generation", "gauge", "The agent's latest plan generation.");
  for (const FleetSnapshot::Agent& agent : snapshot.agents) {
    out.Sample({{"agent", agent.name}}, std::to_string(agent.generation));
  }
  out.Family("wirewarp_agent_applied_generation", "gauge", "The plan generation the agent last applied.");
  for (const FleetSnapshot::Agent& agent : snapshot.agents) {
    out.Sample({{"agent", agent.name}}, std::to_string(agent.applied_generation));
  }
  out.Family("wirewarp_agent_drift_steps", "gauge", "Steps the agent reported as drift from its desired state.");
  for (const FleetSnapshot::Agent& agent : snapshot.agents) {
    out.Sample({{"agent", agent.name}}, std::to_string(agent.drift_count));
  }

  out.Family("wirewarp_peer_handshake_age_seconds", "gauge", "Seconds since the peer's latest WireGuard handshake.");
  for (const FleetSnapshot::Tunnel& tunnel : snapshot.tunnels) {
    for (const FleetSnapshot::Peer& peer : tunnel.peers) {
      if (peer.handshake_age_seconds) {
        out.Sample({{"tunnel", tunnel.name}, {"peer", peer.name}}, std::to_string(*peer.handshake_age_seconds));
      }
    }
  }
  out.Family("wirewarp_peer_rx_bytes_total", "counter", "Bytes received from the peer, as WireGuard counts them.");
  for (const FleetSnapshot::Tunnel& tunnel : snapshot.tunnels) {
    for (const FleetSnapshot::Peer& peer : tunnel.peers) {
      out.Sample({{"tunnel", tunnel.name}, {"peer", peer.name}}, std::to_string(peer.rx_bytes));
    }
  }
  out.Family("wirewarp_peer_tx_bytes_total", "counter", "Bytes sent to the peer, as WireGuard counts them.");
  for (const FleetSnapshot::Tunnel& tunnel : snapshot.tunnels) {
    for (const FleetSnapshot::Peer& peer : tunnel.peers) {
      out.Sample({{"tunnel", tunnel.name}, {"peer", peer.name}}, std::to_string(peer.tx_bytes));
    }
  }

  out.Family("wirewarp_forwards", "gauge", "Port forwards by state.");
  for (std::string_view state : kForwardStates) {
    std::size_t count = 0;
    for (const FleetSnapshot::Forward& forward : snapshot.forwards) count += forward.state == state ? 1 : 0;
    out.Sample({{"state", state}}, std::to_string(count));
  }
  out.Family("wirewarp_forward_state", "gauge", "1 for the forward's current state, 0 for the others.");
  for (const FleetSnapshot::Forward& forward : snapshot.forwards) {
    for (std::string_view state : kForwardStates) {
      out.Sample({{"forward", forward.name}, {"state", state}}, Flag(forward.state == state));
    }
  }
  return out.Take();
}

}  // namespace ww
