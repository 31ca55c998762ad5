#pragma once
// Prometheus metrics (text exposition format 0.0.4) built from the fleet snapshot
// (API.md "Fleet snapshot"): fleet convergence, the revision, each agent's connection and
// phase, each peer's handshake age and traffic, forward states. Pure. Label values are
// escaped per the format (\\, \", \n).

#include <string>
#include <string_view>

#include "reconciler/status/fleet_snapshot.h"

namespace ww {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// The whole /metrics answer.
std::string MetricsFromSnapshot(const FleetSnapshot& snapshot);

// A label value escaped for the text format: backslash, double quote and line feed.
std::string EscapeLabelValue(std::string_view value);

}  // namespace ww
