#pragma once
// The body of POST /v1/agents/NAME/report (reconciler/api/API.md "Reports"): what the agent
// last applied, what it observes now, per-peer handshake and traffic counters, and host
// figures. Pure: building the JSON reads nothing from the host.

#include <cstdint>
#include <string>
#include <vector>

#include "agent/daemon/system_metrics.h"
#include "schema/net.h"
#include "schema/observed_state.h"

namespace ww::agent {

struct PeerStats {
  std::string interface_name;
  WireguardKey public_key;
  int64_t latest_handshake = 0;  // unix seconds; 0 = never
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  friend bool operator==(const PeerStats&, const PeerStats&) = default;
};

// Whether the generation's pushed plan was refused as stale (agent.h PlanSource): the
// reconciler then plans again at once from this report's observation, counting no failure.
enum class StalePlan { kNo, kYes };

struct AgentReport {
  uint64_t generation = 0;  // the plan generation last applied; 0 = restored from disk
  bool converged = false;
  std::string error;
  StalePlan stale_plan = StalePlan::kNo;
  std::string version;
  std::string hostname;
  ObservedState observed;
  std::vector<PeerStats> peers;
  SystemMetrics system;
};

// Every peer of every observed interface, in the observation's order (the observer already
// read handshakes and counters from `wg show IF dump`).
std::vector<PeerStats> PeerStatsFrom(const ObservedState& observed);

// Compact JSON in the field order of API.md.
std::string AgentReportToJson(const AgentReport& report);

}  // namespace ww::agent
