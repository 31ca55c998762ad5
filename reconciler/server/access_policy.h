#pragma once
// Who may do what on the API: the one table of the people's roles (admin, ci, viewer) against
// what a request does. Handlers name the operation; the decision and the refusal text are
// here. Agents act only for themselves (checked where their routes are), so they hold none.

#include <optional>
#include <string>
#include <string_view>

#include "reconciler/pki/certificate_authority.h"
#include "schema/result.h"

namespace ww {

enum class Operation {
  kRead,          // status, revisions, credentials' names: viewer, ci, admin
  kPreview,       // a dry run of an upload or rollback (diff, apply --dry-run): ci, admin
  kChange,        // apply, rollback, agent delete, sync: admin
  kManageAccess,  // enrollment tokens, credentials, certificate revocation: admin
};

// True when a certificate of `kind` may do `operation`.
bool RoleAllows(IdentityKind kind, Operation operation);

// "admin", "ci or admin", ...: the roles that may do `operation`, for messages.
std::string RolesAllowed(Operation operation);

// Ok when `caller` may do `operation`. Otherwise kFailedPrecondition (answered 403) saying
// that `action` (e.g. "applying a revision") needs which role and which role the caller has.
Status Authorize(const std::optional<Identity>& caller, Operation operation, std::string_view action);

}  // namespace ww
