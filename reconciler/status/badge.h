#pragma once
// The /badge.svg status badge, in the shields.io flat style: "wirewarp | converged" (green),
// "N pending" (amber), "degraded" (red) or "no revision" (grey). Pure: computed from the
// snapshot; every text in the SVG is XML-escaped.

#include <string>
#include <string_view>

#include "reconciler/status/fleet_snapshot.h"

namespace ww {

inline constexpr std::string_view kBadgeContentType = "image/svg+xml";

enum class BadgeState { kConverged, kPending, kDegraded, kNoRevision, kWaitingForEnrollment };

struct BadgeSummary {
  BadgeState state = BadgeState::kNoRevision;
  int pending_agents = 0;  // agents not yet converged (kPending)

  friend bool operator==(const BadgeSummary&, const BadgeSummary&) = default;
};

// kNoRevision without a revision; kConverged when the snapshot says so; kDegraded when an
// enrolled agent is degraded, disconnected or failed to render, or a forward failed;
// kWaitingForEnrollment when the only such agents have not enrolled yet (a fresh install is
// not a fault); else kPending.
BadgeSummary SummarizeSnapshot(const FleetSnapshot& snapshot);

// "converged", "2 pending", "degraded", "no revision", "waiting for enrollment".
std::string BadgeMessage(const BadgeSummary& summary);

std::string BadgeSvg(const BadgeSummary& summary);

// &, <, >, " and ' as entities.
std::string EscapeXml(std::string_view text);

}  // namespace ww
