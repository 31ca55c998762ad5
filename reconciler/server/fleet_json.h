#pragma once
// JSON pieces shared by FleetService's route and status files (fleet_routes.cc,
// fleet_status.cc). Internal to reconciler/server: it brings nlohmann/json along.

#include <nlohmann/json.hpp>

#include "reconciler/store/store.h"

namespace ww {

// The RevisionSummary object of API.md: id, source, commit, author, message, appliedBy,
// createdAt, contentSha256.
nlohmann::json RevisionSummaryJson(const RevisionRecord& revision);

}  // namespace ww
