#pragma once
// The bench's simulated agents: one mutual-TLS connection per agent, with the agent's own
// certificate, each long-polling its plan as wirewarp-agent does (GET
// /v1/agents/NAME/plan?after=G&wait=30, kept alive) and, with ReportMode::kConverged,
// reporting converged after every plan. An asynchronous client (Boost.Beast on two threads)
// rather than a thread and an ApiClient per agent: 10,000 of those need 20,000 descriptors
// (socket and in-memory CA file) and 10,000 threads, beyond this machine's hard limits next
// to a reconciler that may itself hold a thread per connection. Beast stays inside
// agent_pollers.cc. The main thread reads what each agent last received.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "schema/result.h"
#include "tests/bench/agent_enrollment.h"
#include "tests/bench/bench_support.h"

namespace ww::bench {

enum class ReportMode { kNone, kConverged };

// The report body an agent sends after applying `plan_body` (a 200 answer of the plan
// route): converged, observed state = desired state.
Result<std::string> ConvergedReport(const std::string& plan_body, const std::string& agent_name);

class AgentPollers {
 public:
  // Agents 0 .. count-1 of `agents`, polling 127.0.0.1:port.
  AgentPollers(int port, const std::string& ca_pem, const std::vector<AgentIdentity>& agents, int count,
               ReportMode reports);
  ~AgentPollers();  // Stop()s
  AgentPollers(const AgentPollers&) = delete;
  AgentPollers& operator=(const AgentPollers&) = delete;

  // Connects the agents, 1,000 a second, each polling once connected.
  void Start();
  // Closes every connection and joins the client's threads. Errors from then on are not
  // counted. Idempotent.
  void Stop();

  int count() const;
  // How many agents received a plan of at least `revision`.
  int HoldingRevision(int64_t revision) const;
  // Waits until every agent holds `revision`; false on timeout.
  bool WaitForRevision(int64_t revision, std::chrono::seconds timeout) const;
  // Milliseconds from `since` until each agent received its plan of `revision` or later
  // (0 for one that received it before `since`).
  std::vector<double> DeliveryMilliseconds(int64_t revision, Clock::time_point since) const;
  // Failed requests (any but a resent one, below).
  int errors() const;
  // Kept-alive connections the server closed before a request reached it; the request was
  // sent again on a new connection (not an error).
  int server_closes() const;
  std::string first_error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ww::bench
