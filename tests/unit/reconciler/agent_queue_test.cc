// AgentReconcileQueue without the HTTP layer: what an enrollment or a deletion renders and
// stores again. A key that appears or goes changes only its agent and the agents holding it
// (KeyDependents); those are deferred until the tick or a read, so that a burst of
// enrollments into a fleet of thousands re-renders the tunnel server a few times, not once
// per enrollment.

#include "reconciler/server/agent_queue.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "reconciler/api/https_server.h"
#include "reconciler/server/fleet_state.h"
#include "reconciler/server/revoked_serials.h"
#include "reconciler/store/store.h"
#include "schema/ipam.h"
#include "schema/render.h"
#include "schema/validate.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/test_values.h"

using namespace ww;

namespace {

constexpr int64_t kNow = 1'700'000'000;

// Two tunnels: vps serves home (gw, nas), edge serves office (laptop).
constexpr const char* kFleet = R"(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: home}
spec: {agent: vps, endpoint: 203.0.113.1, network: 10.70.0.0/24}
---
apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: office}
spec: {agent: edge, endpoint: 203.0.113.2, network: 10.71.0.0/24}
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: gw}
spec: {tunnel: home, agent: gw}
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: nas}
spec: {tunnel: home, agent: nas}
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: laptop}
spec: {tunnel: office, agent: laptop}
)";

struct Queue {
  test_support::TemporaryDirectory directory{"ww-agent-queue-test"};
  std::unique_ptr<Store> store;
  LongPollHub long_polls;
  std::unique_ptr<FleetState> state;
  std::unique_ptr<AgentReconcileQueue> queue;
  std::map<std::string, int> key_fills{{"vps", 1}, {"edge", 2}, {"gw", 3}, {"nas", 4}, {"laptop", 5}};

  Queue() {
    Result<std::unique_ptr<Store>> opened = Store::Open(directory.File("wirewarp.db"));
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    state = std::make_unique<FleetState>(*store, long_polls);
    queue = std::make_unique<AgentReconcileQueue>(*state, std::nullopt);
    LoadResult loaded = LoadAndValidateFleet({SourceFile{"fleet.yaml", kFleet}});
    REQUIRE(loaded.diagnostics.empty());
    RevisionRecord record{0, RevisionSource::kApply, "", "test", kNow, "sha", "[]", "", ""};
    Result<int64_t> id = store->AddRevision(record);
    REQUIRE(id.ok());
    record.id = *id;
    Allocations allocations = AllocateAddresses(loaded.fleet, {}).allocations;
    state->current = CurrentRevision{record, loaded.fleet, allocations, {}, {}, {}};
    for (const std::string& name : FleetAgents(loaded.fleet)) {
      state->current->fleet_agents.insert(name);
      state->agents[name];
    }
  }

  void InsertAgent(const std::string& name) {
    AgentRole role = name == "vps" || name == "edge" ? AgentRole::kServer : AgentRole::kClient;
    REQUIRE(store->InsertAgent(AgentRecord{name, name, role, test_support::Key(key_fills.at(name)), name, "0.1.0",
                                           kNow, std::nullopt})
                .ok());
  }

  int64_t Generation(const std::string& name) {
    const AgentView& view = state->agents.at(name);
    return view.latest_plan ? view.latest_plan->generation : 0;
  }

  const std::string& Desired(const std::string& name) { return state->agents.at(name).latest_plan->desired_json; }
};

}  // namespace

TEST_CASE("agent queue: an enrollment reconciles the agent now and its tunnel's server when next due") {
  Queue q;
  for (const char* name : {"vps", "edge", "gw", "laptop"}) q.InsertAgent(name);
  std::lock_guard lock(q.state->mutex);
  REQUIRE(q.queue->LoadAgents().ok());
  REQUIRE(q.queue->Reconcile(kNow, q.state->AgentNames()).ok());
  for (const char* name : {"vps", "edge", "gw", "laptop"}) CHECK(q.Generation(name) == 1);
  const std::string nas_key = test_support::Key(4).ToBase64();
  CHECK(q.Desired("vps").find(nas_key) == std::string::npos);

  q.InsertAgent("nas");
  REQUIRE(q.queue->AddEnrollment("nas", kNow).ok());
  CHECK(q.Generation("nas") == 1);
  // Only vps holds nas's key: it waits, nobody else is touched.
  CHECK(q.queue->IsDeferred("vps"));
  for (const char* name : {"edge", "gw", "laptop", "nas"}) CHECK_FALSE(q.queue->IsDeferred(name));
  CHECK(q.Generation("vps") == 1);

  REQUIRE(q.queue->ReconcileDeferred(kNow).ok());
  CHECK_FALSE(q.queue->IsDeferred("vps"));
  CHECK(q.Generation("vps") == 2);
  CHECK(q.Desired("vps").find(nas_key) != std::string::npos);
  for (const char* name : {"edge", "gw", "laptop"}) CHECK(q.Generation(name) == 1);  // nothing new stored

  // The same enrollment twice is refused, and so is a name the store does not have.
  CHECK(q.queue->AddEnrollment("nas", kNow).code() == StatusCode::kNotFound);
  CHECK(q.queue->AddEnrollment("nobody", kNow).code() == StatusCode::kNotFound);
}

TEST_CASE("agent queue: a tunnel server's enrollment defers every client of its tunnel, and only those") {
  Queue q;
  for (const char* name : {"edge", "gw", "nas", "laptop"}) q.InsertAgent(name);
  std::lock_guard lock(q.state->mutex);
  REQUIRE(q.queue->LoadAgents().ok());
  REQUIRE(q.queue->Reconcile(kNow, q.state->AgentNames()).ok());
  CHECK(q.state->agents.at("gw").phase == "render-failed");  // no key for its server yet

  q.InsertAgent("vps");
  REQUIRE(q.queue->AddEnrollment("vps", kNow).ok());
  CHECK(q.queue->IsDeferred("gw"));
  CHECK(q.queue->IsDeferred("nas"));
  CHECK_FALSE(q.queue->IsDeferred("laptop"));
  CHECK_FALSE(q.queue->IsDeferred("edge"));
  REQUIRE(q.queue->ReconcileDeferred(kNow).ok());
  CHECK(q.state->agents.at("gw").phase == "pending");
  CHECK(q.Generation("gw") == 1);
  CHECK(q.Generation("laptop") == 1);
}

TEST_CASE("agent queue: a deletion takes the key out of its server's config once reconciled") {
  Queue q;
  for (const char* name : {"vps", "edge", "gw", "nas", "laptop"}) q.InsertAgent(name);
  std::lock_guard lock(q.state->mutex);
  REQUIRE(q.queue->LoadAgents().ok());
  REQUIRE(q.queue->Reconcile(kNow, q.state->AgentNames()).ok());
  const std::string gw_key = test_support::Key(3).ToBase64();
  REQUIRE(q.Desired("vps").find(gw_key) != std::string::npos);

  RevokedSerials revoked;
  REQUIRE(q.queue->DeleteAgent("gw", "admin", kNow, revoked).ok());
  CHECK(q.state->agents.at("gw").phase == "deleted");
  CHECK(q.queue->IsDeferred("vps"));
  REQUIRE(q.queue->ReconcileDeferred(kNow).ok());
  CHECK(q.Generation("vps") == 2);
  CHECK(q.Desired("vps").find(gw_key) == std::string::npos);
  for (const char* name : {"edge", "nas", "laptop"}) CHECK(q.Generation(name) == 1);
}
