#pragma once
// The attack benches against one reconciler with a small fleet and both listeners on:
// API latency on a kept-alive connection, hostile connections while legitimate requests are
// timed, and request floods with the reconciler's RSS rise. Prints as it goes. Also the
// small fleet they and the hostile-input checks (hostile_check.h) run against.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "reconciler/client/api_client.h"
#include "tests/bench/agent_enrollment.h"
#include "tests/bench/bench_options.h"
#include "tests/bench/reconciler_process.h"

namespace ww::bench {

inline constexpr int kSmallFleet = 3;

// An API client of the reconciler with `timeout` for connecting and for answers.
std::unique_ptr<ApiClient> BenchClient(const AdminAccess& admin, const std::string& certificate_pem,
                                       const std::string& key_pem, std::chrono::seconds timeout);

struct SmallFleet {
  std::vector<AgentIdentity> agents;
  std::string report_body;  // agent 1's converged report of its current plan
};

// Uploads a fleet of kSmallFleet agents, enrolls them and fetches agent 1's first plan.
SmallFleet EnrollSmallFleet(const AdminAccess& admin, const BenchOptions& options);

// A reconciler for the attack benches and checks: its own data directory, both listeners.
std::unique_ptr<ReconcilerProcess> StartAttackReconciler(const BenchOptions& options,
                                                         const std::vector<std::string>& reconciler_flags);

void RunAttacks(const BenchOptions& options, const std::vector<std::string>& reconciler_flags);

}  // namespace ww::bench
