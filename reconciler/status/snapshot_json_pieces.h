#pragma once
// Pieces of the snapshot's JSON that other documents repeat: API.md's RevisionSummary (the
// revision routes) and an agent's host figures (the stored report). Internal: it brings
// nlohmann/json along, so only .cc files that already use nlohmann include it.

#include <nlohmann/json.hpp>

#include "reconciler/status/fleet_snapshot.h"

namespace ww {

// {id, source, commit, author, message, appliedBy, createdAt, contentSha256}.
nlohmann::json RevisionSummaryJson(const RevisionSummary& revision);

// {cpuPercent, memoryUsedBytes, memoryTotalBytes, diskUsedBytes, diskTotalBytes,
// uptimeSeconds}, each only when known; null without figures.
nlohmann::json SystemFiguresJson(const std::optional<SystemFigures>& system);

}  // namespace ww
