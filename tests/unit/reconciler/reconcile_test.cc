// The pure reconcile core: the destructive-revision guard and ReconcileAgent's phases, on a
// small fleet built here (one tunnel served by "vps", one managed and three unmanaged peers).

#include "reconciler/core/reconcile.h"
#include "reconciler/core/revision_guard.h"

#include <doctest/doctest.h>

#include <climits>
#include <string>
#include <string_view>
#include <vector>

#include "schema/ipam.h"
#include "schema/validate.h"

namespace ww {
namespace {

using Phase = AgentReconcileResult::Phase;

constexpr const char* kVpsKey = "PbSK/Kg/maYUE1U0WBEwpINugfslGFR+2uHLWgigiks=";
constexpr const char* kHomeGwKey = "jBBZRYNjm427kz+vJYp6mBWXMnUoSRqX1CEhl3qtgGk=";
constexpr const char* kPhoneKey = "cg0joZYyMg+Eob9eBe+ae5MfI1eJ7HKf84WRjvC6tAM=";
constexpr const char* kLaptopKey = "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
constexpr const char* kTabletKey = "wBqgwRvAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBg=";
// The one step that heals a host missing the phone (allocated 10.77.0.4 in name order).
constexpr std::string_view kPhoneMissing = "+ peer phone (cg0joZYy…=) on wg0: allowed 10.77.0.4/32";

WireguardKey Key(const char* text) {
  Result<WireguardKey> key = WireguardKey::Parse(text);
  REQUIRE(key.ok());
  return *key;
}

Tunnel MakeTunnel(const std::string& name, bool self_heal) {
  Tunnel tunnel;
  tunnel.metadata.name = name;
  tunnel.spec.agent = "vps";
  tunnel.spec.endpoint = "vps.example.net:51820";
  Result<Ipv4Cidr> network = Ipv4Cidr::Parse("10.77.0.0/24");
  REQUIRE(network.ok());
  tunnel.spec.network = *network;
  tunnel.spec.self_heal = self_heal;
  return tunnel;
}

Peer MakeDevice(const std::string& name, const char* key) {
  Peer peer;
  peer.metadata.name = name;
  peer.spec.tunnel = "homelab";
  peer.spec.public_key = Key(key);
  return peer;
}

Fleet MakeFleet(bool self_heal = true) {
  Fleet fleet;
  fleet.tunnels.push_back(MakeTunnel("homelab", self_heal));
  Peer gateway;
  gateway.metadata.name = "home-gw";
  gateway.spec.tunnel = "homelab";
  gateway.spec.agent = "home-gw";
  Result<Ipv4Cidr> lan = Ipv4Cidr::Parse("192.168.50.0/24");
  REQUIRE(lan.ok());
  gateway.spec.lan = {*lan};
  fleet.peers.push_back(gateway);
  fleet.peers.push_back(MakeDevice("phone", kPhoneKey));
  fleet.peers.push_back(MakeDevice("laptop", kLaptopKey));
  fleet.peers.push_back(MakeDevice("tablet", kTabletKey));
  REQUIRE_FALSE(HasErrors(ValidateFleet(fleet)));
  return fleet;
}

AgentReconcileInput MakeInput(const Fleet& fleet) {
  AgentReconcileInput input;
  input.agent = "vps";
  input.fleet = fleet;
  input.render.agent_public_keys = {{"vps", Key(kVpsKey)}, {"home-gw", Key(kHomeGwKey)}};
  AllocationResult allocation = AllocateAddresses(fleet, {});
  REQUIRE(allocation.diagnostics.empty());
  input.render.allocations = allocation.allocations;
  input.now = 10'000;
  input.report_time = 9'990;
  input.revision_id = 7;
  input.history.last_revision_id = 7;
  input.history.last_plan_generation = 3;
  return input;
}

AgentConfig Desired(const AgentReconcileInput& input) {
  Result<AgentConfig> desired = RenderAgent(input.fleet, input.render, input.agent);
  REQUIRE(desired.ok());
  return *desired;
}

// A report from a host that matches the desired config except that `peer_key` is missing.
ObservedState DriftedReport(const AgentReconcileInput& input, const char* peer_key) {
  ObservedState observed = ObservedFromDesired(Desired(input));
  REQUIRE(observed.interfaces.size() == 1);
  std::vector<ObservedPeer>& peers = observed.interfaces[0].peers;
  const size_t before = peers.size();
  std::erase_if(peers, [&](const ObservedPeer& peer) { return peer.public_key == Key(peer_key); });
  REQUIRE(peers.size() + 1 == before);
  return observed;
}

std::vector<std::string> Lines(const Plan& plan) {
  std::vector<std::string> lines;
  for (const Step& step : plan.steps) lines.push_back(DescribeStep(step));
  return lines;
}

TEST_CASE("RetryDelaySeconds doubles from 1 s and caps at 60 s") {
  struct Row {
    int failures;
    int64_t delay;
  };
  const std::vector<Row> table = {{-1, 0}, {0, 0},  {1, 1},  {2, 2},   {3, 4},   {4, 8},
                                  {5, 16}, {6, 32}, {7, 60}, {8, 60}, {100, 60}, {INT_MAX, 60}};
  for (const Row& row : table) {
    CAPTURE(row.failures);
    CHECK(RetryDelaySeconds(row.failures) == row.delay);
  }
}

TEST_CASE("ReconcilePhaseName names every phase") {
  CHECK(ReconcilePhaseName(Phase::kConverged) == "converged");
  CHECK(ReconcilePhaseName(Phase::kPending) == "pending");
  CHECK(ReconcilePhaseName(Phase::kDriftReported) == "drift-reported");
  CHECK(ReconcilePhaseName(Phase::kDegraded) == "degraded");
  CHECK(ReconcilePhaseName(Phase::kDisconnected) == "disconnected");
  CHECK(ReconcilePhaseName(Phase::kRenderFailed) == "render-failed");
}

TEST_CASE("a report matching the desired config is converged") {
  AgentReconcileInput input = MakeInput(MakeFleet());
  input.latest_report = ObservedFromDesired(Desired(input));
  AgentReconcileResult result = ReconcileAgent(input);
  CHECK(result.phase == Phase::kConverged);
  CHECK(result.plan.empty());
  CHECK_FALSE(result.deliver);
  CHECK_FALSE(result.retry_at.has_value());
  CHECK(result.desired == Desired(input));
  CHECK(result.message == "converged at revision 7");
}

TEST_CASE("before the first report the full plan is delivered") {
  AgentReconcileInput input = MakeInput(MakeFleet());
  input.history = {};
  AgentReconcileResult result = ReconcileAgent(input);
  CHECK(result.phase == Phase::kPending);
  CHECK(result.deliver);
  CHECK(result.plan == ComputePlan(Desired(input), ObservedState{}));
  CHECK(SimulateApply(ObservedState{}, result.plan) == ObservedFromDesired(Desired(input)));
  CHECK(result.message == std::to_string(result.plan.steps.size()) +
                              " steps to apply for revision 7 (no report yet: the full plan)");
}

TEST_CASE("drift on a selfHeal tunnel is healed with the exact missing step") {
  AgentReconcileInput input = MakeInput(MakeFleet());
  input.latest_report = DriftedReport(input, kPhoneKey);
  AgentReconcileResult result = ReconcileAgent(input);
  CHECK(result.phase == Phase::kPending);
  CHECK(result.deliver);
  REQUIRE(result.plan.steps.size() == 1);
  CHECK(DescribeStep(result.plan.steps[0]) == kPhoneMissing);
  CHECK(result.message == "1 step to apply for revision 7");
}

TEST_CASE("drift on a selfHeal false tunnel is only reported until a new revision") {
  AgentReconcileInput input = MakeInput(MakeFleet(/*self_heal=*/false));
  input.latest_report = DriftedReport(input, kPhoneKey);

  AgentReconcileResult reported = ReconcileAgent(input);
  CHECK(reported.phase == Phase::kDriftReported);
  CHECK_FALSE(reported.deliver);
  CHECK_FALSE(reported.retry_at.has_value());
  CHECK(Lines(reported.plan) == std::vector<std::string>{std::string(kPhoneMissing)});
  CHECK(reported.message == "drift of 1 step not healed: selfHeal is false on tunnel homelab");

  input.revision_id = 8;
  AgentReconcileResult delivered = ReconcileAgent(input);
  CHECK(delivered.phase == Phase::kPending);
  CHECK(delivered.deliver);
  CHECK(delivered.plan == reported.plan);
  CHECK(delivered.message == "1 step to apply for revision 8");
}

TEST_CASE("a converged selfHeal false agent is converged") {
  AgentReconcileInput input = MakeInput(MakeFleet(/*self_heal=*/false));
  input.latest_report = ObservedFromDesired(Desired(input));
  AgentReconcileResult result = ReconcileAgent(input);
  CHECK(result.phase == Phase::kConverged);
  CHECK_FALSE(result.deliver);
}

TEST_CASE("failures back off 1, 2, 4, ... 60 s from the last failure") {
  AgentReconcileInput input = MakeInput(MakeFleet());
  input.latest_report = DriftedReport(input, kPhoneKey);
  input.history.last_failure_time = 9'995;
  input.now = 9'995;
  input.report_time = 9'995;
  const std::vector<int64_t> expected_retry = {9'996, 9'997, 9'999, 10'003, 10'011, 10'027, 10'055, 10'055};
  for (size_t i = 0; i < expected_retry.size(); ++i) {
    input.history.consecutive_failures = static_cast<int>(i) + 1;
    CAPTURE(input.history.consecutive_failures);
    AgentReconcileResult result = ReconcileAgent(input);
    CHECK(result.phase == Phase::kDegraded);
    CHECK_FALSE(result.deliver);
    REQUIRE(result.retry_at.has_value());
    CHECK(*result.retry_at == expected_retry[i]);
    CHECK(Lines(result.plan).size() == 1);
  }
  input.history.consecutive_failures = 3;
  CHECK(ReconcileAgent(input).message == "3 consecutive failures of revision 7; backing off 4 s until 9999");
}

TEST_CASE("a due retry is delivered and the agent stays degraded") {
  AgentReconcileInput input = MakeInput(MakeFleet());
  input.latest_report = DriftedReport(input, kPhoneKey);
  input.history.consecutive_failures = 3;
  input.history.last_failure_time = 9'990;
  input.now = 9'993;
  CHECK_FALSE(ReconcileAgent(input).deliver);
  input.now = 9'994;
  AgentReconcileResult result = ReconcileAgent(input);
  CHECK(result.phase == Phase::kDegraded);
  CHECK(result.deliver);
  CHECK_FALSE(result.retry_at.has_value());
  CHECK(result.message == "3 consecutive failures of revision 7; retrying 1 step");
}

TEST_CASE("a newer revision replaces a failing retry at once") {
  AgentReconcileInput input = MakeInput(MakeFleet());
  input.latest_report = DriftedReport(input, kPhoneKey);
  input.history.consecutive_failures = 6;
  input.history.last_failure_time = 9'999;
  input.revision_id = 8;
  AgentReconcileResult result = ReconcileAgent(input);
  CHECK(result.phase == Phase::kPending);
  CHECK(result.deliver);
  CHECK_FALSE(result.retry_at.has_value());
  CHECK(result.message == "1 step to apply for revision 8; replaces the failing retry of revision 7");
}

TEST_CASE("an agent silent for more than 90 s is disconnected and its plan still computed") {
  AgentReconcileInput input = MakeInput(MakeFleet());
  input.latest_report = DriftedReport(input, kPhoneKey);
  input.report_time = input.now - 90;
  CHECK(ReconcileAgent(input).phase == Phase::kPending);

  input.report_time = input.now - 91;
  AgentReconcileResult drifted = ReconcileAgent(input);
  CHECK(drifted.phase == Phase::kDisconnected);
  CHECK(drifted.deliver);
  CHECK(Lines(drifted.plan).size() == 1);
  CHECK(drifted.message == "no report for 91 s; 1 step to apply for revision 7");

  input.latest_report = ObservedFromDesired(Desired(input));
  AgentReconcileResult converged = ReconcileAgent(input);
  CHECK(converged.phase == Phase::kDisconnected);
  CHECK_FALSE(converged.deliver);
  CHECK(converged.plan.empty());
  CHECK(converged.message == "no report for 91 s; converged at revision 7");
}

TEST_CASE("an agent without a key, or outside the fleet, fails to render") {
  AgentReconcileInput input = MakeInput(MakeFleet());
  input.agent = "home-gw";
  input.render.agent_public_keys.erase("home-gw");
  AgentReconcileResult missing_key = ReconcileAgent(input);
  CHECK(missing_key.phase == Phase::kRenderFailed);
  CHECK_FALSE(missing_key.deliver);
  CHECK(missing_key.plan.empty());
  CHECK(missing_key.message == "no WireGuard public key for agent \"home-gw\" (enroll it, or pass it in --keys)");

  input.agent = "nas";
  AgentReconcileResult unknown = ReconcileAgent(input);
  CHECK(unknown.phase == Phase::kRenderFailed);
  CHECK(unknown.message == "agent \"nas\" is not part of the fleet (no Tunnel or Peer names it)");
}

// --- CheckDestructiveRevision ---

TEST_CASE("removing every tunnel is refused without --allow-destructive") {
  const Fleet current = MakeFleet();
  Fleet next;
  Status refused = CheckDestructiveRevision(current, next, AllowDestructive::kNo);
  CHECK(refused.code() == StatusCode::kFailedPrecondition);
  CHECK(refused.message() ==
        "refusing a destructive revision: it removes every tunnel (homelab) and removes 4 of 4 peers "
        "(home-gw, laptop, phone, tablet); if this is intended, apply again with --allow-destructive");
  CHECK(CheckDestructiveRevision(current, next, AllowDestructive::kYes).ok());
  CHECK(CheckDestructiveRevision(Fleet{}, Fleet{}, AllowDestructive::kNo).ok());
}

TEST_CASE("removing more than half of the peers is refused") {
  const Fleet current = MakeFleet();
  Fleet next = current;
  std::erase_if(next.peers, [](const Peer& peer) { return peer.metadata.name != "home-gw"; });
  Status refused = CheckDestructiveRevision(current, next, AllowDestructive::kNo);
  CHECK(refused.code() == StatusCode::kFailedPrecondition);
  CHECK(refused.message() ==
        "refusing a destructive revision: it removes 3 of 4 peers (laptop, phone, tablet); "
        "if this is intended, apply again with --allow-destructive");
  CHECK(CheckDestructiveRevision(current, next, AllowDestructive::kYes).ok());

  // Exactly half, a rename counted as a removal, and additions are allowed.
  Fleet half = current;
  half.peers.erase(half.peers.begin() + 2, half.peers.end());
  CHECK(CheckDestructiveRevision(current, half, AllowDestructive::kNo).ok());
  Fleet renamed = current;
  renamed.peers[1].metadata.name = "phone-2";
  renamed.peers.push_back(MakeDevice("desktop", kTabletKey));
  CHECK(CheckDestructiveRevision(current, renamed, AllowDestructive::kNo).ok());
  CHECK(CheckDestructiveRevision(Fleet{}, current, AllowDestructive::kNo).ok());
}

TEST_CASE("replacing every tunnel while keeping peers is not refused") {
  const Fleet current = MakeFleet();
  Fleet next = current;
  next.tunnels[0].metadata.name = "homelab-2";
  CHECK(CheckDestructiveRevision(current, next, AllowDestructive::kNo).ok());
}

}  // namespace
}  // namespace ww
