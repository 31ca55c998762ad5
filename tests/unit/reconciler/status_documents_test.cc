// The status listener's derived documents, pure functions over the typed snapshot (read here
// from JSON text with FleetSnapshotFromJson): /metrics (Prometheus text format 0.0.4, exact),
// label and XML escaping, the badge's state and SVG, snapshots that are not the documented
// object, and the snapshot's JSON round trip.

#include <doctest/doctest.h>

#include <string>

#include "reconciler/status/badge.h"
#include "reconciler/status/metrics.h"
#include "reconciler/status/snapshot_json.h"

namespace ww {
namespace {

// The /metrics text of a snapshot given as JSON, or why the JSON is refused.
Result<std::string> MetricsFromJson(std::string_view snapshot_json) {
  WW_ASSIGN_OR_RETURN(FleetSnapshot snapshot, FleetSnapshotFromJson(snapshot_json));
  return MetricsFromSnapshot(snapshot);
}

Result<BadgeSummary> BadgeFromJson(std::string_view snapshot_json) {
  WW_ASSIGN_OR_RETURN(FleetSnapshot snapshot, FleetSnapshotFromJson(snapshot_json));
  return SummarizeSnapshot(snapshot);
}

constexpr const char* kSnapshot = R"({
  "now": 1763780000, "converged": false,
  "revision": {"id": 7, "source": "git", "commit": "abc123", "author": "Ann", "message": "m",
               "appliedBy": "", "createdAt": 1763779000, "contentSha256": "00"},
  "rejected": null,
  "agents": [
    {"name": "vps", "mode": "server", "connected": true, "lastSeen": 1763779990, "version": "0.1.0",
     "hostname": "vps", "generation": 12, "appliedGeneration": 11, "phase": "pending",
     "drift": ["create interface wg0", "add peer home-gw"], "lastError": "", "message": "", "system": {}},
    {"name": "home-gw", "mode": "client", "connected": false, "lastSeen": null, "generation": 3,
     "appliedGeneration": 0, "phase": "disconnected", "drift": []}],
  "tunnels": [{"name": "home", "server": "vps", "interface": "wg0", "selfHeal": true, "peers": [
    {"name": "home-gw", "agent": "home-gw", "address": "10.8.0.2/32", "handshakeAgeSeconds": 12,
     "rxBytes": 1024, "txBytes": 18446744073709551615},
    {"name": "laptop", "agent": "laptop", "address": "10.8.0.3/32", "handshakeAgeSeconds": null,
     "rxBytes": 0, "txBytes": 0}]}],
  "forwards": [
    {"name": "minecraft", "tunnel": "home", "agent": "vps", "protocol": "tcp", "ports": "25565",
     "to": "192.168.1.10:25565", "description": "", "state": "applied"},
    {"name": "web", "state": "failed"}],
  "revisions": [], "events": []})";

constexpr const char* kExpectedMetrics = R"(# HELP wirewarp_snapshot_timestamp_seconds When the reconciler took this snapshot (unix seconds).
# TYPE wirewarp_snapshot_timestamp_seconds gauge
wirewarp_snapshot_timestamp_seconds 1763780000
# HELP wirewarp_fleet_converged 1 when a revision exists and every agent it names is connected and converged.
# TYPE wirewarp_fleet_converged gauge
wirewarp_fleet_converged 0
# HELP wirewarp_revision_id The revision in force (0: none yet).
# TYPE wirewarp_revision_id gauge
wirewarp_revision_id 7
# HELP wirewarp_revision_info The revision in force, with its source and commit.
# TYPE wirewarp_revision_info gauge
wirewarp_revision_info{revision="7",source="git",commit="abc123"} 1
# HELP wirewarp_revision_created_timestamp_seconds When the revision in force was created.
# TYPE wirewarp_revision_created_timestamp_seconds gauge
wirewarp_revision_created_timestamp_seconds 1763779000
# HELP wirewarp_revision_rejected 1 when the latest commit was rejected (the last good revision stays).
# TYPE wirewarp_revision_rejected gauge
wirewarp_revision_rejected 0
# HELP wirewarp_agents Agents known to the reconciler.
# TYPE wirewarp_agents gauge
wirewarp_agents 2
# HELP wirewarp_agent_connected 1 when the agent holds a connection or reported recently.
# TYPE wirewarp_agent_connected gauge
wirewarp_agent_connected{agent="vps"} 1
wirewarp_agent_connected{agent="home-gw"} 0
# HELP wirewarp_agent_phase 1 for the agent's current phase, 0 for the others.
# TYPE wirewarp_agent_phase gauge
wirewarp_agent_phase{agent="vps",phase="converged"} 0
wirewarp_agent_phase{agent="vps",phase="pending"} 1
wirewarp_agent_phase{agent="vps",phase="drift-reported"} 0
wirewarp_agent_phase{agent="vps",phase="degraded"} 0
wirewarp_agent_phase{agent="vps",phase="disconnected"} 0
wirewarp_agent_phase{agent="vps",phase="render-failed"} 0
wirewarp_agent_phase{agent="vps",phase="deleted"} 0
wirewarp_agent_phase{agent="vps",phase="unknown"} 0
wirewarp_agent_phase{agent="home-gw",phase="converged"} 0
wirewarp_agent_phase{agent="home-gw",phase="pending"} 0
wirewarp_agent_phase{agent="home-gw",phase="drift-reported"} 0
wirewarp_agent_phase{agent="home-gw",phase="degraded"} 0
wirewarp_agent_phase{agent="home-gw",phase="disconnected"} 1
wirewarp_agent_phase{agent="home-gw",phase="render-failed"} 0
wirewarp_agent_phase{agent="home-gw",phase="deleted"} 0
wirewarp_agent_phase{agent="home-gw",phase="unknown"} 0
# HELP wirewarp_agent_last_seen_timestamp_seconds When the agent was last heard from.
# TYPE wirewarp_agent_last_seen_timestamp_seconds gauge
wirewarp_agent_last_seen_timestamp_seconds{agent="vps"} 1763779990
# HELP wirewarp_agent_generation The agent's latest plan generation.
# TYPE wirewarp_agent_generation gauge
wirewarp_agent_generation{agent="vps"} 12
wirewarp_agent_generation{agent="home-gw"} 3
# HELP wirewarp_agent_applied_generation The plan generation the agent last applied.
# TYPE wirewarp_agent_applied_generation gauge
wirewarp_agent_applied_generation{agent="vps"} 11
wirewarp_agent_applied_generation{agent="home-gw"} 0
# HELP wirewarp_agent_drift_steps Steps the agent reported as drift from its desired state.
# TYPE wirewarp_agent_drift_steps gauge
wirewarp_agent_drift_steps{agent="vps"} 2
wirewarp_agent_drift_steps{agent="home-gw"} 0
# HELP wirewarp_peer_handshake_age_seconds Seconds since the peer's latest WireGuard handshake.
# TYPE wirewarp_peer_handshake_age_seconds gauge
wirewarp_peer_handshake_age_seconds{tunnel="home",peer="home-gw"} 12
# HELP wirewarp_peer_rx_bytes_total Bytes received from the peer, as WireGuard counts them.
# TYPE wirewarp_peer_rx_bytes_total counter
wirewarp_peer_rx_bytes_total{tunnel="home",peer="home-gw"} 1024
wirewarp_peer_rx_bytes_total{tunnel="home",peer="laptop"} 0
# HELP wirewarp_peer_tx_bytes_total Bytes sent to the peer, as WireGuard counts them.
# TYPE wirewarp_peer_tx_bytes_total counter
wirewarp_peer_tx_bytes_total{tunnel="home",peer="home-gw"} 18446744073709551615
wirewarp_peer_tx_bytes_total{tunnel="home",peer="laptop"} 0
# HELP wirewarp_forwards Port forwards by state.
# TYPE wirewarp_forwards gauge
wirewarp_forwards{state="applied"} 1
wirewarp_forwards{state="pending"} 0
wirewarp_forwards{state="failed"} 1
# HELP wirewarp_forward_state 1 for the forward's current state, 0 for the others.
# TYPE wirewarp_forward_state gauge
wirewarp_forward_state{forward="minecraft",state="applied"} 1
wirewarp_forward_state{forward="minecraft",state="pending"} 0
wirewarp_forward_state{forward="minecraft",state="failed"} 0
wirewarp_forward_state{forward="web",state="applied"} 0
wirewarp_forward_state{forward="web",state="pending"} 0
wirewarp_forward_state{forward="web",state="failed"} 1
)";

TEST_CASE("status metrics: the exact exposition text of a snapshot") {
  Result<std::string> metrics = MetricsFromJson(kSnapshot);
  REQUIRE(metrics.ok());
  CHECK(*metrics == kExpectedMetrics);
}

TEST_CASE("status metrics: an empty fleet without a revision") {
  Result<std::string> metrics = MetricsFromJson(R"({"now": 5, "converged": false, "revision": null,
      "rejected": {"commit": "bad", "at": 4, "errors": ["x"]}, "agents": [], "tunnels": [], "forwards": []})");
  REQUIRE(metrics.ok());
  CHECK(metrics->find("wirewarp_revision_id 0\n") != std::string::npos);
  CHECK(metrics->find("wirewarp_revision_rejected 1\n") != std::string::npos);
  CHECK(metrics->find("wirewarp_revision_info{") == std::string::npos);
  CHECK(metrics->find("wirewarp_agents 0\n") != std::string::npos);
  CHECK(metrics->find("wirewarp_forwards{state=\"failed\"} 0\n") != std::string::npos);
}

TEST_CASE("status metrics: label values are escaped") {
  CHECK(EscapeLabelValue("plain-name_1") == "plain-name_1");
  CHECK(EscapeLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  CHECK(EscapeLabelValue("<x>{y}=z,") == "<x>{y}=z,");  // only \, " and line feed need escapes

  Result<std::string> metrics = MetricsFromJson(R"({"now": 1, "converged": false,
      "agents": [{"name": "evil\"} 1\nwirewarp_fleet_converged{x=\"", "connected": true, "phase": "odd\\phase"}]})");
  REQUIRE(metrics.ok());
  CHECK(metrics->find("wirewarp_agent_connected{agent=\"evil\\\"} 1\\nwirewarp_fleet_converged{x=\\\"\"} 1\n") !=
        std::string::npos);
  // An unknown phase gets its own sample, escaped like any label value.
  CHECK(metrics->find("phase=\"odd\\\\phase\"} 1\n") != std::string::npos);
  // No sample line can be forged: every line is a comment or starts with a family name once.
  CHECK(metrics->find("\nwirewarp_fleet_converged{") == std::string::npos);
}

TEST_CASE("status metrics: a snapshot that is not the documented object is refused, naming the field") {
  Result<std::string> not_json = MetricsFromJson("{\"now\": ");
  REQUIRE_FALSE(not_json.ok());
  CHECK(not_json.status().message().rfind("the snapshot is not JSON: ", 0) == 0);

  Result<std::string> wrong_type = MetricsFromJson(R"({"agents": [{"name": "vps", "connected": "yes"}]})");
  REQUIRE_FALSE(wrong_type.ok());
  CHECK(wrong_type.status().code() == StatusCode::kInvalidArgument);
  CHECK(wrong_type.status().message() == "snapshot agents[0].connected: \"yes\" is not true or false");

  Result<std::string> negative = MetricsFromJson(
      R"({"tunnels": [{"name": "t", "peers": [{"name": "p", "rxBytes": -1}]}]})");
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.status().message() == "snapshot tunnels[0].peers[0].rxBytes: -1 is not a non-negative integer");

  Result<std::string> array = MetricsFromJson("[]");
  REQUIRE_FALSE(array.ok());
  CHECK(array.status().message() == "snapshot [] is not an object");
}

TEST_CASE("status badge: state from the snapshot") {
  Result<BadgeSummary> mixed = BadgeFromJson(kSnapshot);
  REQUIRE(mixed.ok());
  CHECK(*mixed == BadgeSummary{BadgeState::kDegraded, 0});  // home-gw disconnected, forward web failed

  Result<BadgeSummary> pending = BadgeFromJson(R"({"converged": false, "revision": {"id": 1},
      "agents": [{"name": "a", "connected": true, "phase": "pending"},
                 {"name": "b", "connected": true, "phase": "drift-reported"},
                 {"name": "c", "connected": true, "phase": "converged"}],
      "forwards": [{"name": "f", "state": "pending"}]})");
  REQUIRE(pending.ok());
  CHECK(*pending == BadgeSummary{BadgeState::kPending, 2});

  // Defect 11: a fresh install whose agents have not enrolled is waiting, not degraded...
  Result<BadgeSummary> waiting = BadgeFromJson(R"({"converged": false, "revision": {"id": 1},
      "agents": [{"name": "vps", "enrolled": false, "connected": false, "phase": "unknown"},
                 {"name": "gw", "enrolled": true, "connected": true, "phase": "pending"}],
      "forwards": [{"name": "f", "state": "pending"}]})");
  REQUIRE(waiting.ok());
  CHECK(*waiting == BadgeSummary{BadgeState::kWaitingForEnrollment, 0});
  CHECK(BadgeMessage(*waiting) == "waiting for enrollment");
  // ... unless an enrolled agent is in trouble too.
  Result<BadgeSummary> both = BadgeFromJson(R"({"converged": false, "revision": {"id": 1},
      "agents": [{"name": "vps", "enrolled": false, "connected": false, "phase": "unknown"},
                 {"name": "gw", "enrolled": true, "connected": false, "phase": "disconnected"}]})");
  REQUIRE(both.ok());
  CHECK(*both == BadgeSummary{BadgeState::kDegraded, 0});

  Result<BadgeSummary> converged = BadgeFromJson(R"({"converged": true, "revision": {"id": 3}, "agents": []})");
  REQUIRE(converged.ok());
  CHECK(*converged == BadgeSummary{BadgeState::kConverged, 0});

  Result<BadgeSummary> empty = BadgeFromJson(R"({"converged": false, "revision": null})");
  REQUIRE(empty.ok());
  CHECK(*empty == BadgeSummary{BadgeState::kNoRevision, 0});

  CHECK_FALSE(BadgeFromJson("nope").ok());
}

TEST_CASE("status badge: messages and SVG") {
  CHECK(BadgeMessage({BadgeState::kConverged, 0}) == "converged");
  CHECK(BadgeMessage({BadgeState::kPending, 3}) == "3 pending");
  CHECK(BadgeMessage({BadgeState::kDegraded, 0}) == "degraded");
  CHECK(BadgeMessage({BadgeState::kNoRevision, 0}) == "no revision");

  std::string svg = BadgeSvg({BadgeState::kPending, 2});
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"139\" height=\"20\" role=\"img\" "
                  "aria-label=\"wirewarp: 2 pending\">", 0) == 0);
  CHECK(svg.find("<title>wirewarp: 2 pending</title>") != std::string::npos);
  CHECK(svg.find("fill=\"#d08a11\"") != std::string::npos);
  CHECK(svg.find("<text x=\"330\" y=\"140\">wirewarp</text>") != std::string::npos);
  CHECK(svg.find("<text x=\"1025\" y=\"140\">2 pending</text>") != std::string::npos);
  CHECK(svg.ends_with("</g></svg>\n"));
  CHECK(BadgeSvg({BadgeState::kConverged, 0}).find("fill=\"#2e9e4f\"") != std::string::npos);
  CHECK(BadgeSvg({BadgeState::kDegraded, 0}).find("fill=\"#d0342c\"") != std::string::npos);
}

TEST_CASE("status badge: XML escaping") {
  CHECK(EscapeXml("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
  CHECK(EscapeXml("plain 1 pending") == "plain 1 pending");
}

}  // namespace
}  // namespace ww

namespace ww {
namespace {

TEST_CASE("status snapshot: JSON written from the typed snapshot reads back the same") {
  Result<FleetSnapshot> read = FleetSnapshotFromJson(kSnapshot);
  REQUIRE(read.ok());
  CHECK(read->agents.at(0).system == SystemFigures{});  // {} stays an object without figures
  CHECK_FALSE(read->agents.at(1).system);                // absent stays null
  read->divergence = FleetSnapshot::Divergence{"c0ffee", 3, 4, "apply", "urn:x", 99};
  read->events.push_back(FleetSnapshot::Event{7, 8, std::nullopt, "revision-accepted", "revision 4 \"quoted\""});
  read->agents.at(0).system = SystemFigures{1.5, 1, 2, std::nullopt, std::nullopt, 3600};
  std::string json = FleetSnapshotToJson(*read);
  Result<FleetSnapshot> again = FleetSnapshotFromJson(json);
  REQUIRE(again.ok());
  CHECK(*again == *read);
  CHECK(json.find("\"system\":{\"cpuPercent\":1.5,\"memoryTotalBytes\":2,\"memoryUsedBytes\":1,\"uptimeSeconds\":3600}") !=
        std::string::npos);
  CHECK(PublishSnapshot(*read)->json == json);
}

}  // namespace
}  // namespace ww
