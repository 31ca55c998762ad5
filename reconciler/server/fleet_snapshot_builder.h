#pragma once
// Builds the typed FleetSnapshot (reconciler/status/fleet_snapshot.h) from the fleet
// service's state plus the store's rejected commit, recent revisions and events.

#include <cstdint>

#include "reconciler/server/fleet_state.h"
#include "reconciler/status/fleet_snapshot.h"
#include "schema/result.h"

namespace ww {

inline constexpr int64_t kStatusRevisionCount = 20;
inline constexpr int64_t kStatusEventCount = 50;

// API.md's RevisionSummary of a stored revision.
RevisionSummary SummarizeRevision(const RevisionRecord& revision);

// REQUIRES: state.mutex held.
Result<FleetSnapshot> BuildFleetSnapshot(const FleetState& state, int64_t now);

}  // namespace ww
