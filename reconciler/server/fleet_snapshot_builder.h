#pragma once
// Builds the typed FleetSnapshot (reconciler/status/fleet_snapshot.h) in two parts: what the
// fleet service holds in memory (under its mutex, copied and cut to size), then the store's
// rejected commit, recent revisions and a page of events (without the mutex, so reports and
// polls do not wait for SQLite or for the JSON).

#include <cstddef>
#include <cstdint>
#include <optional>

#include "reconciler/store/store.h"

#include "reconciler/server/fleet_state.h"
#include "reconciler/status/fleet_snapshot.h"
#include "schema/result.h"

namespace ww {

inline constexpr int64_t kStatusRevisionCount = 20;
inline constexpr int64_t kStatusEventCount = 50;
inline constexpr int64_t kStatusMaxEventCount = 500;
// Whatever an agent or a commit can make long is cut, so the snapshot stays bounded in the
// fleet's size: texts to kSnapshotMaxText bytes, lists to kSnapshotMaxEntries entries (a
// cut list ends with "... and N more"; drift keeps its full count in drift_count).
inline constexpr std::size_t kSnapshotMaxText = 1024;
inline constexpr std::size_t kSnapshotMaxEntries = 20;

// Which events a snapshot carries: the newest `limit` with an id below `before` (all when unset).
struct EventPage {
  std::optional<int64_t> before;
  int64_t limit = kStatusEventCount;
  friend bool operator==(const EventPage&, const EventPage&) = default;
};

// API.md's RevisionSummary of a stored revision.
RevisionSummary SummarizeRevision(const RevisionRecord& revision);

// The in-memory part: version, revision, divergence, agents, tunnels, forwards.
// REQUIRES: state.mutex held.
FleetSnapshot SnapshotOfState(const FleetState& state, int64_t now);

// The stored part: the rejected commit, the recent revisions, the page of events.
Status AddStoredHistory(Store& store, const EventPage& page, FleetSnapshot& snapshot);
// Replaces the snapshot's events with `page`.
Status ReplaceEvents(Store& store, const EventPage& page, FleetSnapshot& snapshot);

}  // namespace ww
