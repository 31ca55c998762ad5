#pragma once
// What the status shows of an agent's latest report beyond its generation: the release and
// hostname it reports and its host figures, read once from the stored metrics JSON (a
// ReportRecord's metrics_json) rather than on every snapshot.

#include <optional>
#include <string>
#include <string_view>

#include "reconciler/status/fleet_snapshot.h"

namespace ww {

struct ReportFigures {
  std::string version;   // "" when the report has none
  std::string hostname;  // "" when the report has none
  std::optional<SystemFigures> system;  // absent when the report has no "system" object
};

// Lenient, for stored reports of any age: a field of the wrong type, or text that is not a
// JSON object, reads as absent.
ReportFigures ReportFiguresFromJson(std::string_view metrics_json);

}  // namespace ww
