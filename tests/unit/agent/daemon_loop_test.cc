// AgentDaemon's loop driven by a scripted control plane, a RecordingRunner and a sleeper
// that records instead of waiting: restore before any call, 200 -> apply -> report in that
// order, 204 polls again at once, failures back off with jitter and reset on success, 401
// exits with DaemonExit::kRevoked and runs no mutating command.

#include <doctest/doctest.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "agent/daemon/daemon.h"
#include "agent/state/applied_endpoints.h"
#include "agent/state/state_dir.h"
#include "agent/system/endpoint_resolver.h"
#include "agent/system/recording_runner.h"
#include "schema/plan.h"
#include "schema/wire_json.h"
#include "tests/support/doctest_printers.h"
#include "tests/support/temporary_directory.h"

namespace ww::agent {
namespace {

using std::chrono::milliseconds;

// What happened, in order, across the fake clients and the runner.
using EventLog = std::vector<std::string>;

struct ScriptedAnswer {
  std::optional<ApiResponse> response;  // nullopt: no answer (kUnavailable)
};

// The reconciler as a queue of answers to plan polls; reports are answered 204. When the
// script runs out the daemon is stopped (and the poll fails), so every test ends.
struct FakeReconciler {
  EventLog* events = nullptr;
  std::deque<ScriptedAnswer> plan_answers;
  std::vector<std::string> report_bodies;
  AgentDaemon* daemon = nullptr;
  int clients_made = 0;
};

class FakeClient : public ControlPlaneClient {
 public:
  explicit FakeClient(FakeReconciler& reconciler) : reconciler_(reconciler) {}
  Result<ApiResponse> Get(const std::string& path_and_query, std::chrono::seconds read_timeout) override {
    reconciler_.events->push_back("GET " + path_and_query + " timeout=" + std::to_string(read_timeout.count()));
    if (reconciler_.plan_answers.empty()) {
      reconciler_.daemon->Stop();
      return Status::Unavailable("script finished");
    }
    ScriptedAnswer answer = reconciler_.plan_answers.front();
    reconciler_.plan_answers.pop_front();
    if (!answer.response) return Status::Unavailable("connection refused");
    return *answer.response;
  }
  Result<ApiResponse> Post(const std::string& path, std::string_view json_body, std::chrono::seconds) override {
    reconciler_.events->push_back("POST " + path);
    reconciler_.report_bodies.emplace_back(json_body);
    return ApiResponse{204, ""};
  }

 private:
  FakeReconciler& reconciler_;
};

// Logs every command into the shared event log, then answers like RecordingRunner.
class EventRunner : public CommandRunner {
 public:
  explicit EventRunner(EventLog& events) : events_(events) {
    recording_.SetOutput({"ip", "-4", "-N", "-j", "route", "show", "table", "all", "proto", "87"}, {0, "[]", ""});
    recording_.SetOutput({"ip", "-4", "-N", "-j", "rule", "show"}, {0, "[]", ""});
    recording_.SetOutput({"iptables-save"}, {0, "", ""});
    recording_.SetOutput({"sysctl", "-n", "net.ipv4.ip_forward"}, {0, "0\n", ""});
  }
  Result<CommandOutput> Run(const Command& command) override {
    events_.push_back(std::string(command.effect == Effect::kMutating ? "RUN " : "READ ") + FormatArgv(command.argv));
    return recording_.Run(command);
  }
  RecordingRunner& recording() { return recording_; }

 private:
  EventLog& events_;
  RecordingRunner recording_;
};

constexpr const char* kObserveLines[] = {"READ ip -4 -N -j route show table all proto 87", "READ ip -4 -N -j rule show",
                                         "READ iptables-save"};

std::string PlanBody(uint64_t generation, const AgentConfig& desired) {
  return "{\"generation\":" + std::to_string(generation) + ",\"revision\":1,\"desired\":" +
         AgentConfigToJson(desired, JsonStyle::kCompact) + "}";
}

AgentConfig EmptyConfig() {
  AgentConfig config;
  config.agent = "gw";
  return config;
}

struct Harness {
  test_support::TemporaryDirectory directory{"ww-daemon-test"};
  std::optional<StateDir> state;
  EventLog events;
  EventRunner runner{events};
  FakeReconciler reconciler;
  std::vector<milliseconds> sleeps;
  std::vector<double> random_values{0.5};
  size_t random_index = 0;
  std::ostringstream log;
  std::unique_ptr<AgentDaemon> daemon;
  std::function<int64_t()> now = [] { return int64_t{1763780000}; };
  EndpointResolver* resolver = nullptr;

  Harness() {
    auto opened = StateDir::Open(directory.path(), CreateMode::kOpenExisting);
    REQUIRE(opened.ok());
    state.emplace(std::move(*opened));
    reconciler.events = &events;
  }

  void Start() {
    DaemonOptions options;
    options.agent_name = "gw";
    options.hostname = "gw-host";
    options.report_delivery = ReportDelivery::kInline;
    options.apply.resolver = resolver;
    DaemonEnvironment environment;
    environment.runner = &runner;
    environment.state = &*state;
    environment.make_client = [this]() -> Result<std::unique_ptr<ControlPlaneClient>> {
      ++reconciler.clients_made;
      return std::unique_ptr<ControlPlaneClient>(std::make_unique<FakeClient>(reconciler));
    };
    environment.random = [this] { return random_values[random_index++ % random_values.size()]; };
    environment.sleep = [this](milliseconds delay) {
      sleeps.push_back(delay);
      events.push_back("SLEEP " + std::to_string(delay.count()));
    };
    environment.now = now;
    environment.sample_system = [] { return SystemMetrics{2.5, 10, 20, 30, 40, 50}; };
    environment.log = &log;
    daemon = std::make_unique<AgentDaemon>(options, std::move(environment));
    reconciler.daemon = daemon.get();
  }
};

const std::string kPoll0 = "GET /v1/agents/gw/plan?after=0&wait=25 timeout=40";

TEST_CASE("A plan is applied, then reported, then the next poll asks for a newer generation") {
  Harness harness;
  harness.reconciler.plan_answers.push_back({ApiResponse{200, PlanBody(7, EmptyConfig())}});
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);

  std::vector<std::string> expected = {kPoll0};
  for (const char* line : kObserveLines) expected.push_back(line);  // the apply's observation: nothing to do
  for (const char* line : kObserveLines) expected.push_back(line);  // the report's observation
  expected.push_back("POST /v1/agents/gw/report");
  expected.push_back("GET /v1/agents/gw/plan?after=7&wait=25 timeout=40");
  CHECK(harness.events == expected);

  REQUIRE(harness.reconciler.report_bodies.size() == 1);
  CHECK(harness.reconciler.report_bodies[0] ==
        "{\"generation\":7,\"converged\":true,\"error\":\"\",\"version\":\"0.1.0\",\"hostname\":\"gw-host\","
        "\"observed\":" + ObservedStateToJson(ObservedState{}, JsonStyle::kCompact) + ",\"peers\":[],"
        "\"system\":{\"cpuPercent\":2.5,\"memoryUsedBytes\":10,\"memoryTotalBytes\":20,\"diskUsedBytes\":30,"
        "\"diskTotalBytes\":40,\"uptimeSeconds\":50}}");
  // The applied config is what a restart restores.
  auto last = harness.state->LoadLastApplied();
  REQUIRE(last.ok());
  CHECK(*last == std::optional<AgentConfig>(EmptyConfig()));
  CHECK(harness.log.str().find("wirewarp-agent event=apply generation=7 outcome=converged commands=0") !=
        std::string::npos);
}

TEST_CASE("A config that does not converge is reported with its error and the generation is not asked again") {
  Harness harness;
  AgentConfig config = EmptyConfig();
  config.sysctls.push_back({"net.ipv4.ip_forward", "1"});
  harness.reconciler.plan_answers.push_back({ApiResponse{200, PlanBody(3, config)}});
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  CHECK(harness.runner.recording().MutatingCommandLines() == std::vector<std::string>{"sysctl -q -w net.ipv4.ip_forward=1"});
  REQUIRE(harness.reconciler.report_bodies.size() == 1);
  const std::string& body = harness.reconciler.report_bodies[0];
  CHECK(body.rfind("{\"generation\":3,\"converged\":false,\"error\":\"the host still differs from the config after applying\",", 0) == 0);
  CHECK(harness.events.back() == "GET /v1/agents/gw/plan?after=3&wait=25 timeout=40");
}

std::string PlanBodyWithPlan(uint64_t generation, const AgentConfig& desired, const Plan& plan) {
  return "{\"generation\":" + std::to_string(generation) + ",\"revision\":1,\"desired\":" +
         AgentConfigToJson(desired, JsonStyle::kCompact) + ",\"plan\":" + PlanToJson(plan, JsonStyle::kCompact) + "}";
}

TEST_CASE("A pushed plan that the fresh observation plans too is the one that runs") {
  Harness harness;
  AgentConfig config = EmptyConfig();
  config.sysctls.push_back({"net.ipv4.ip_forward", "1"});
  // What the reconciler planned from this host's (empty) report.
  Plan pushed = ComputePlan(config, ObservedState{});
  REQUIRE(pushed.steps.size() == 1);
  harness.reconciler.plan_answers.push_back({ApiResponse{200, PlanBodyWithPlan(5, config, pushed)}});
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  CHECK(harness.runner.recording().MutatingCommandLines() == std::vector<std::string>{"sysctl -q -w net.ipv4.ip_forward=1"});
  REQUIRE(harness.reconciler.report_bodies.size() == 1);
  CHECK(harness.reconciler.report_bodies[0].find("stalePlan") == std::string::npos);
}

TEST_CASE("A stale pushed plan runs nothing and is reported with the fresh observation") {
  Harness harness;
  AgentConfig config = EmptyConfig();
  config.sysctls.push_back({"net.ipv4.ip_forward", "1"});
  // Planned from a report that said ip_forward was already 1, but the host now says 0.
  ObservedState reported;
  reported.sysctls.push_back({"net.ipv4.ip_forward", "1"});
  Plan stale = ComputePlan(config, reported);
  REQUIRE(stale.empty());
  harness.reconciler.plan_answers.push_back({ApiResponse{200, PlanBodyWithPlan(6, config, stale)}});
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  CHECK(harness.runner.recording().MutatingCommandLines().empty());
  REQUIRE(harness.reconciler.report_bodies.size() == 1);
  const std::string& body = harness.reconciler.report_bodies[0];
  CHECK(body.rfind("{\"generation\":6,\"converged\":false,\"error\":\"the pushed plan (0 steps) is stale: this host's "
                   "fresh observation plans 1 steps; nothing was run\",\"stalePlan\":true,", 0) == 0);
  CHECK(body.find("\"net.ipv4.ip_forward\"") != std::string::npos);  // the fresh observation goes with it
  CHECK(harness.log.str().find("event=apply generation=6 outcome=stale-plan") != std::string::npos);
  // Not asked again: the reconciler answers the report with a newer generation.
  CHECK(harness.events.back() == "GET /v1/agents/gw/plan?after=6&wait=25 timeout=40");
}

TEST_CASE("A pushed config outside the agent's policy runs nothing, even with a plan that matches it") {
  Harness harness;
  AgentConfig config = EmptyConfig();
  // What a tampered store or a compromised reconciler could send: render never writes this key.
  config.sysctls.push_back({"kernel.core_pattern", "|/tmp/x %p"});
  Plan pushed = ComputePlan(config, ObservedState{});
  REQUIRE(pushed.steps.size() == 1);
  harness.reconciler.plan_answers.push_back({ApiResponse{200, PlanBodyWithPlan(7, config, pushed)}});
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  CHECK(harness.runner.recording().MutatingCommandLines().empty());
  REQUIRE(harness.reconciler.report_bodies.size() == 1);
  const std::string& body = harness.reconciler.report_bodies[0];
  CHECK(body.rfind("{\"generation\":7,\"converged\":false,\"error\":\"", 0) == 0);
  CHECK(body.find("sysctls[0]") != std::string::npos);  // the field
  CHECK(body.find("kernel.core_pattern") != std::string::npos);  // and the value
  // The refusal is the answer for this generation: the daemon waits for a newer one.
  CHECK(harness.events.back() == "GET /v1/agents/gw/plan?after=7&wait=25 timeout=40");
}

TEST_CASE("A generation below the one asked for (a server that numbers anew) is applied and followed") {
  Harness harness;
  AgentConfig config = EmptyConfig();
  harness.reconciler.plan_answers.push_back({ApiResponse{200, PlanBody(9, config)}});
  harness.reconciler.plan_answers.push_back({ApiResponse{200, PlanBody(2, config)}});
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  REQUIRE(harness.reconciler.report_bodies.size() == 2);
  CHECK(harness.reconciler.report_bodies[1].rfind("{\"generation\":2,\"converged\":true", 0) == 0);
  CHECK(harness.events.back() == "GET /v1/agents/gw/plan?after=2&wait=25 timeout=40");
}

TEST_CASE("A desired config that does not parse is reported as an error and not applied") {
  Harness harness;
  harness.reconciler.plan_answers.push_back({ApiResponse{200, "{\"generation\":4,\"desired\":{\"formatVersion\":99}}"}});
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  std::vector<std::string> expected = {kPoll0};
  for (const char* line : kObserveLines) expected.push_back(line);  // the report's observation only
  expected.push_back("POST /v1/agents/gw/report");
  expected.push_back("GET /v1/agents/gw/plan?after=4&wait=25 timeout=40");
  CHECK(harness.events == expected);
  REQUIRE(harness.reconciler.report_bodies.size() == 1);
  CHECK(harness.reconciler.report_bodies[0].rfind("{\"generation\":4,\"converged\":false,\"error\":\"", 0) == 0);
  CHECK(harness.reconciler.report_bodies[0].find("formatVersion") != std::string::npos);
}

TEST_CASE("204 polls again at once with the same generation and no report") {
  Harness harness;
  harness.reconciler.plan_answers = {{ApiResponse{204, ""}}, {ApiResponse{204, ""}}};
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  CHECK(harness.events == std::vector<std::string>{kPoll0, kPoll0, kPoll0});
  CHECK(harness.sleeps.empty());
  CHECK(harness.reconciler.report_bodies.empty());
  CHECK(harness.reconciler.clients_made == 1);  // one client, kept across polls
}

TEST_CASE("Transport errors and 5xx back off exponentially with jitter and reset on success") {
  Harness harness;
  harness.random_values = {0.0, 1.0, 0.5};
  harness.reconciler.plan_answers = {{std::nullopt},
                                     {ApiResponse{503, "{\"error\":\"shutting down\"}"}},
                                     {std::nullopt},
                                     {ApiResponse{204, ""}},
                                     {std::nullopt}};
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  // 1 s -25 %, 2 s +25 %, 4 s exactly; after the 204 the base is 1 s again (-25 %).
  CHECK(harness.sleeps == std::vector<milliseconds>{milliseconds(750), milliseconds(2500), milliseconds(4000),
                                                    milliseconds(750)});
  CHECK(harness.log.str().find("event=poll-refused status=503 error=\"shutting down\" retry_ms=2500") !=
        std::string::npos);
  CHECK(harness.log.str().find("event=poll-failed error=\"connection refused\" retry_ms=750") != std::string::npos);
}

TEST_CASE("401 exits with kRevoked, keeps the tunnel and changes nothing") {
  Harness harness;
  harness.reconciler.plan_answers = {{ApiResponse{204, ""}}, {ApiResponse{401, "{\"error\":\"certificate revoked\"}"}}};
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kRevoked);
  CHECK(DaemonExitCode(DaemonExit::kRevoked) == 3);
  CHECK(harness.events == std::vector<std::string>{kPoll0, kPoll0});
  CHECK(harness.runner.recording().MutatingCommands().empty());
  CHECK(harness.log.str().find("event=revoked") != std::string::npos);
  CHECK(harness.log.str().find("error=\"certificate revoked\"") != std::string::npos);
  CHECK(harness.log.str().find("event=exit reason=revoked") != std::string::npos);
}

TEST_CASE("The last applied config is restored before the first network call") {
  Harness harness;
  AgentConfig config = EmptyConfig();
  REQUIRE(harness.state->SaveLastApplied(config).ok());
  harness.reconciler.plan_answers = {{ApiResponse{204, ""}}};
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  CHECK(harness.events == std::vector<std::string>{kObserveLines[0], kObserveLines[1], kObserveLines[2], kPoll0, kPoll0});
  CHECK(harness.log.str().find("event=restore outcome=converged") != std::string::npos);
}

TEST_CASE("A corrupt last-applied file is logged and the daemon still polls for a plan") {
  Harness harness;
  REQUIRE(harness.state->WriteFileAtomically(kLastAppliedFile, "{not json").ok());
  harness.reconciler.plan_answers = {{ApiResponse{204, ""}}};
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  CHECK(harness.events == std::vector<std::string>{kPoll0, kPoll0});
  CHECK(harness.log.str().find("event=restore outcome=failed error=") != std::string::npos);
}

TEST_CASE("A malformed plan answer backs off and is not applied") {
  Harness harness;
  harness.reconciler.plan_answers = {{ApiResponse{200, "{\"generation\":\"x\"}"}}};
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  CHECK(harness.sleeps == std::vector<milliseconds>{milliseconds(1000)});
  CHECK(harness.events == std::vector<std::string>{kPoll0, "SLEEP 1000", kPoll0});
  CHECK(harness.log.str().find("event=plan-invalid") != std::string::npos);
}

TEST_CASE("The daemon refuses to run when the state directory is locked by another agent") {
  Harness harness;
  auto other = StateDir::Open(harness.directory.path(), CreateMode::kOpenExisting);
  REQUIRE(other.ok());
  REQUIRE(other->Lock().ok());
  harness.Start();
  CHECK(harness.daemon->Run() == DaemonExit::kFailed);
  CHECK(harness.events.empty());
  CHECK(harness.log.str().find("event=start-failed") != std::string::npos);
}

}  // namespace
}  // namespace ww::agent

namespace ww::agent {
namespace {

TEST_CASE("Endpoint names are resolved again every resolve interval, also with no plan, and a move re-applies") {
  Harness harness;
  AgentConfig config = EmptyConfig();
  // A valid config for another key: the restore refuses it before resolving anything, so
  // only the timer looks the name up.
  WireguardKey server = *WireguardKey::Parse("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=");
  WireguardInterface wg0;
  wg0.name = "wg0";
  wg0.tunnel = "edge";
  wg0.role = InterfaceRole::kClient;
  wg0.address = *Ipv4Cidr::Parse("10.77.0.2/24");
  wg0.public_key = *WireguardKey::Parse("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=");
  wg0.peers = {WireguardPeer{"edge", server, "vps.example.net:51820", {*Ipv4Cidr::Parse("0.0.0.0/0")}, 25}};
  config.interfaces = {wg0};
  REQUIRE(harness.state->SaveLastApplied(config).ok());
  REQUIRE(harness.state->LoadLastApplied().ok());
  REQUIRE(SaveAppliedEndpoints(*harness.state, {{"wg0", server, "vps.example.net:51820", "203.0.113.7:51820"}}).ok());
  FakeResolver resolver;
  resolver.addresses["vps.example.net"] = *Ipv4Address::Parse("203.0.113.7");
  harness.resolver = &resolver;
  // Each reading of the clock is 100 s later: the check is due on the third poll (300 s > 240 s).
  int64_t clock = 1763780000;
  harness.now = [&clock] { return clock += 100; };
  harness.reconciler.plan_answers = {{ApiResponse{204, ""}}, {ApiResponse{204, ""}}, {ApiResponse{204, ""}}};
  harness.Start();

  // Unmoved: looked up (at the restore and on the timer), nothing re-applied.
  CHECK(harness.daemon->Run() == DaemonExit::kStopped);
  CHECK(resolver.lookups == 1);  // the restore fails earlier: the test config has no key
  CHECK(harness.log.str().find("event=endpoint-moved") == std::string::npos);

  // Moved: the timer notices without any plan from the reconciler and applies the config again.
  Harness moved_harness;
  REQUIRE(moved_harness.state->SaveLastApplied(config).ok());
  REQUIRE(SaveAppliedEndpoints(*moved_harness.state, {{"wg0", server, "vps.example.net:51820", "203.0.113.7:51820"}})
              .ok());
  resolver.addresses["vps.example.net"] = *Ipv4Address::Parse("203.0.113.9");
  moved_harness.resolver = &resolver;
  clock = 1763780000;
  moved_harness.now = [&clock] { return clock += 100; };
  moved_harness.reconciler.plan_answers = {{ApiResponse{204, ""}}, {ApiResponse{204, ""}}, {ApiResponse{204, ""}}};
  moved_harness.Start();
  CHECK(moved_harness.daemon->Run() == DaemonExit::kStopped);
  const std::string log = moved_harness.log.str();
  CHECK(log.find("event=endpoint-moved endpoint=\"vps.example.net:51820 -> 203.0.113.9:51820\"") != std::string::npos);
  CHECK(log.find("event=endpoint-refresh") != std::string::npos);
  // Between the third and the fourth poll (the timer runs before a poll, never during one).
  const std::vector<std::string>& events = moved_harness.events;
  auto polls = std::count_if(events.begin(), events.end(), [](const std::string& e) { return e.starts_with("GET "); });
  CHECK(polls == 4);
}

}  // namespace
}  // namespace ww::agent
