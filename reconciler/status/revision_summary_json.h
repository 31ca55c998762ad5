#pragma once
// API.md's RevisionSummary object, shared by the snapshot (snapshot_json.cc) and the
// revision routes (reconciler/server/fleet_routes.cc). Internal: it brings nlohmann/json
// along, so only those .cc files include it.

#include <nlohmann/json.hpp>

#include "reconciler/status/fleet_snapshot.h"

namespace ww {

// {id, source, commit, author, message, appliedBy, createdAt, contentSha256}.
nlohmann::json RevisionSummaryJson(const RevisionSummary& revision);

}  // namespace ww
