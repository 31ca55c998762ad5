#pragma once
// Prune safety for `wwctl apply`: a revision that would tear down most of the fleet is far
// more often a wrong path or a half-written file than an intent, so it is refused unless
// the applier says --allow-destructive. Pure: compares two validated fleets.

#include "schema/model.h"
#include "schema/result.h"

namespace ww {

enum class AllowDestructive { kNo, kYes };

// Refuses with kFailedPrecondition a revision `next` that removes every tunnel of a
// non-empty `current`, or removes more than half of the current peers (compared by name).
// The message names what would be removed and how to proceed (--allow-destructive).
// Always Ok when allow == kYes.
Status CheckDestructiveRevision(const Fleet& current, const Fleet& next, AllowDestructive allow);

}  // namespace ww
