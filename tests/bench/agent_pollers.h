#pragma once
// The bench's simulated agents: one thread and one mutual-TLS connection per agent, each
// long-polling its plan as wirewarp-agent does (GET /v1/agents/NAME/plan?after=G&wait=30)
// and, with ReportMode::kConverged, reporting converged after every plan. The main thread
// reads what each agent last received. Stop the reconciler before destroying the pollers:
// an open long-poll returns only when answered or closed.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
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
  // REQUIRES: `agents` outlives the pollers.
  AgentPollers(std::string url, std::string ca_pem, const std::vector<AgentIdentity>& agents, int count,
               ReportMode reports);
  ~AgentPollers();  // Join()s
  AgentPollers(const AgentPollers&) = delete;
  AgentPollers& operator=(const AgentPollers&) = delete;

  void Start();
  // Asks every poller to stop after its current request; Join() waits for them.
  void RequestStop();
  void Join();

  int count() const { return static_cast<int>(slots_.size()); }
  // How many agents received a plan of at least `revision`.
  int HoldingRevision(int64_t revision) const;
  // Waits until every agent holds `revision`; false on timeout.
  bool WaitForRevision(int64_t revision, std::chrono::seconds timeout) const;
  // Milliseconds from `since` until each agent received its plan of `revision` or later
  // (0 for one that received it before `since`).
  std::vector<double> DeliveryMilliseconds(int64_t revision, Clock::time_point since) const;
  int errors() const { return errors_.load(); }
  std::string first_error() const;

 private:
  struct Slot {
    std::atomic<int64_t> revision{0};
    std::atomic<int64_t> received_ns{0};  // steady clock, of the plan of `revision`
  };
  void Poll(int index);

  std::string url_;
  std::string ca_pem_;
  const std::vector<AgentIdentity>& agents_;
  ReportMode reports_;
  std::vector<Slot> slots_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> errors_{0};
  mutable std::mutex error_mutex_;
  std::string first_error_;  // GUARDED_BY(error_mutex_)
};

}  // namespace ww::bench
