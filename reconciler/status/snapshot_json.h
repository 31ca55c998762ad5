#pragma once
// The fleet snapshot as JSON (API.md "Fleet snapshot"): the body of GET /v1/status and the
// status page's /status.json. nlohmann/json stays inside snapshot_json.cc.

#include <memory>
#include <string>
#include <string_view>

#include "reconciler/status/fleet_snapshot.h"
#include "schema/result.h"

namespace ww {

// Compact JSON; invalid UTF-8 in a string (from an agent's report) is replaced, never thrown.
std::string FleetSnapshotToJson(const FleetSnapshot& snapshot);

// One snapshot with its JSON, built once per status version and shared by every reader of
// /v1/status, /status.json, /metrics and /badge.svg.
struct PublishedSnapshot {
  FleetSnapshot snapshot;
  std::string json;  // FleetSnapshotToJson(snapshot); a canned snapshot's own text in fixtures
};

// The snapshot with its JSON rendered.
std::shared_ptr<const PublishedSnapshot> PublishSnapshot(FleetSnapshot snapshot);

// Reads a snapshot written by FleetSnapshotToJson or by hand (a canned snapshot of the status
// page's browser fixture, a test): a missing or null field keeps its default. Fails with
// kInvalidArgument naming the field ("agents[2].phase") when the text is not JSON or a field
// has the wrong type.
Result<FleetSnapshot> FleetSnapshotFromJson(std::string_view snapshot_json);

}  // namespace ww
