#pragma once
// The body of POST /v1/agents/NAME/report (reconciler/api/API.md "Reports") read against its
// schema before anything is stored: field types, every string (and key) at most
// kReportMaxString bytes, the host figures within bounds. What depends on the agent (the
// generation, the number of peers) AgentReconcileQueue::RecordReport checks.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/core/heal_backoff.h"
#include "reconciler/status/fleet_snapshot.h"
#include "schema/observed_state.h"
#include "schema/result.h"

namespace ww {

inline constexpr std::size_t kReportMaxString = 1024;
inline constexpr int kReportMaxDepth = 64;
inline constexpr double kReportMaxCpuPercent = 100;
inline constexpr std::uint64_t kReportMaxBytes = std::uint64_t{1} << 60;                   // 1 EiB
inline constexpr std::uint64_t kReportMaxUptimeSeconds = std::uint64_t{100} * 366 * 86400;  // a century

// One entry of the report's "peers": handshake and traffic counters of one observed peer.
struct ReportedPeer {
  std::string interface_name;
  std::string public_key;
  std::int64_t latest_handshake = 0;  // unix seconds; 0 = never
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  friend bool operator==(const ReportedPeer&, const ReportedPeer&) = default;
};

struct ReceivedReport {
  std::int64_t generation = 0;  // the plan generation the agent last applied; 0 = none yet
  bool converged = false;
  std::string error;
  // "stalePlan": true: the agent ran nothing of its generation's pushed plan, because its
  // fresh observation planned otherwise.
  LatestPlanOutcome plan_outcome = LatestPlanOutcome::kRan;
  std::string version;
  std::string hostname;
  ObservedState observed;
  std::string observed_json;  // compact, as stored
  std::vector<ReportedPeer> peers;
  std::optional<SystemFigures> system;  // absent when the report has none
};

// kInvalidArgument naming the field ("field \"peers[2].rxBytes\" must be a non-negative
// integer") for a body that is not the documented report. Fields it does not know are ignored
// (a newer agent may send more); only the fields above are kept.
Result<ReceivedReport> ParseReceivedReport(const std::string& body);

// What a report stores besides the observed state (ReportRecord::metrics_json): converged,
// error, version, hostname, peers and system, compact.
std::string ReportMetricsJson(const ReceivedReport& report);

}  // namespace ww
