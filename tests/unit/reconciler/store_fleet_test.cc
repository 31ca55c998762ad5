// The Store's schema-v2 additions the fleet service uses: revision author and message, agent
// listing, failure counters, rejected commits, batched plan generations and events, and the
// latest report and generation of every agent.

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "reconciler/store/store.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/test_values.h"

namespace ww {
namespace {

using test_support::TemporaryDirectory;

std::unique_ptr<Store> OpenStore(const TemporaryDirectory& directory) {
  Result<std::unique_ptr<Store>> store = Store::Open(directory.File("state.db"));
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return std::move(store).value();
}

AgentRecord Agent(const std::string& name, int key_fill) {
  return AgentRecord{"id-" + name, name, AgentRole::kClient, test_support::Key(key_fill), name, "0.1.0", 10, std::nullopt};
}

TEST_CASE("store: revisions keep author and message, and FindRevision finds one by id") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory);
  RevisionRecord revision{0, RevisionSource::kGit, "abc123", "git", 20, "ff00", "[]", "Alex <alex@example.net>",
                          "open minecraft"};
  Result<int64_t> id = store->AddRevision(revision);
  REQUIRE(id.ok());
  revision.id = *id;
  Result<RevisionRecord> found = store->FindRevision(*id);
  REQUIRE(found.ok());
  CHECK(*found == revision);
  CHECK(store->FindRevision(99).status() == Status::NotFound("no revision 99"));
}

TEST_CASE("store: ListAgents leaves out deleted agents and sorts by name") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory);
  REQUIRE(store->InsertAgent(Agent("zeta", 1)).ok());
  REQUIRE(store->InsertAgent(Agent("alpha", 2)).ok());
  REQUIRE(store->InsertAgent(Agent("gone", 3)).ok());
  REQUIRE(store->DeleteAgent("gone", 30).ok());
  Result<std::vector<AgentRecord>> agents = store->ListAgents();
  REQUIRE(agents.ok());
  CHECK(*agents == std::vector<AgentRecord>{Agent("alpha", 2), Agent("zeta", 1)});
}

TEST_CASE("store: agent health is replaced per agent and needs a known agent") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory);
  REQUIRE(store->InsertAgent(Agent("gw", 1)).ok());
  AgentHealthRecord health{"id-gw", 2, 40, 7, "iptables-restore: exit 1"};
  REQUIRE(store->SaveAgentHealth(health).ok());
  health.consecutive_failures = 3;
  REQUIRE(store->SaveAgentHealth(health).ok());
  Result<std::vector<AgentHealthRecord>> all = store->ListAgentHealth();
  REQUIRE(all.ok());
  CHECK(*all == std::vector<AgentHealthRecord>{health});
  CHECK(store->SaveAgentHealth(AgentHealthRecord{"id-nobody", 1, 1, 1, "x"}).code() == StatusCode::kInternal);
}

TEST_CASE("store: the latest rejected commit is kept until cleared") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory);
  Result<std::optional<RejectedCommitRecord>> none = store->LatestRejectedCommit();
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  REQUIRE(store->RecordRejectedCommit(RejectedCommitRecord{"aaa", 10, {"first"}}).ok());
  RejectedCommitRecord latest{"bbb", 20, {"a.yaml:1:1: error: one", "a.yaml:2:1: error: two"}};
  REQUIRE(store->RecordRejectedCommit(latest).ok());
  Result<std::optional<RejectedCommitRecord>> found = store->LatestRejectedCommit();
  REQUIRE(found.ok());
  CHECK(*found == std::optional<RejectedCommitRecord>(latest));
  REQUIRE(store->ClearRejectedCommits().ok());
  CHECK_FALSE(store->LatestRejectedCommit()->has_value());
}

TEST_CASE("store: plan generations in a batch number per agent, and the latest of each is listed") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory);
  REQUIRE(store->InsertAgent(Agent("a", 1)).ok());
  REQUIRE(store->InsertAgent(Agent("b", 2)).ok());
  Result<int64_t> revision = store->AddRevision(RevisionRecord{0, RevisionSource::kApply, "", "admin", 5, "00", "[]"});
  REQUIRE(revision.ok());
  auto plan = [&](const std::string& agent, const std::string& desired) {
    return PlanGenerationRecord{agent, 0, *revision, 50, desired, "{}"};
  };
  Result<std::vector<int64_t>> first = store->AddPlanGenerations({plan("id-a", "a1"), plan("id-b", "b1")});
  REQUIRE(first.ok());
  CHECK(*first == std::vector<int64_t>{1, 1});
  Result<std::vector<int64_t>> second = store->AddPlanGenerations({plan("id-a", "a2")});
  REQUIRE(second.ok());
  CHECK(*second == std::vector<int64_t>{2});
  // All or nothing: an unknown agent fails the batch and "a" stays at generation 2.
  CHECK_FALSE(store->AddPlanGenerations({plan("id-a", "a3"), plan("id-nobody", "x")}).ok());
  Result<std::vector<PlanGenerationRecord>> latest = store->ListLatestPlanGenerations();
  REQUIRE(latest.ok());
  REQUIRE(latest->size() == 2);
  CHECK((*latest)[0].agent_id == "id-a");
  CHECK((*latest)[0].generation == 2);
  CHECK((*latest)[0].desired_json == "a2");
  CHECK((*latest)[1].agent_id == "id-b");
  CHECK((*latest)[1].generation == 1);
}

TEST_CASE("store: reports of every agent and batched events") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory);
  REQUIRE(store->InsertAgent(Agent("a", 1)).ok());
  REQUIRE(store->InsertAgent(Agent("b", 2)).ok());
  ReportRecord b{"id-b", 70, 3, "{\"observed\":1}", "{}"};
  ReportRecord a{"id-a", 60, 1, "{}", "{\"converged\":true}"};
  REQUIRE(store->SaveReport(b).ok());
  REQUIRE(store->SaveReport(a).ok());
  Result<std::vector<ReportRecord>> reports = store->ListLatestReports();
  REQUIRE(reports.ok());
  CHECK(*reports == std::vector<ReportRecord>{a, b});

  REQUIRE(store->AppendEvents({EventRecord{0, 1, "id-a", "agent-phase", "one"}, EventRecord{0, 2, std::nullopt, "x", "two"}})
              .ok());
  Result<std::vector<EventRecord>> events = store->RecentEvents(10);
  REQUIRE(events.ok());
  CHECK(*events == std::vector<EventRecord>{EventRecord{2, 2, std::nullopt, "x", "two"},
                                            EventRecord{1, 1, "id-a", "agent-phase", "one"}});
  CHECK(store->AppendEvents({}).ok());
}

}  // namespace
}  // namespace ww
