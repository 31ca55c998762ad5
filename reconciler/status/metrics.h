#pragma once
// Prometheus metrics (text exposition format 0.0.4) built from the fleet snapshot
// (API.md "Fleet snapshot"): fleet convergence, the revision, each agent's connection and
// phase, each peer's handshake age and traffic, forward states. Pure: the snapshot is given
// as JSON text. Label values are escaped per the format (\\, \", \n).

#include <string>
#include <string_view>

#include "schema/result.h"

namespace ww {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// The whole /metrics answer. Fails (kInvalidArgument, quoting the field) when the snapshot is
// not the documented object.
Result<std::string> MetricsFromSnapshot(std::string_view snapshot_json);

// A label value escaped for the text format: backslash, double quote and line feed.
std::string EscapeLabelValue(std::string_view value);

}  // namespace ww
