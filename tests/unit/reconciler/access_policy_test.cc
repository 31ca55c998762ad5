// The role table: what admin, ci, viewer and agent certificates may do, and the refusal text.

#include <doctest/doctest.h>

#include <optional>

#include "reconciler/server/access_policy.h"

namespace ww {
namespace {

TEST_CASE("access policy: viewer reads, ci reads and previews, admin does all, an agent nothing here") {
  struct Row {
    IdentityKind kind;
    bool read, preview, change, manage;
  };
  const Row rows[] = {
      {IdentityKind::kViewer, true, false, false, false},
      {IdentityKind::kCi, true, true, false, false},
      {IdentityKind::kAdmin, true, true, true, true},
      {IdentityKind::kAgent, false, false, false, false},
  };
  for (const Row& row : rows) {
    CAPTURE(IdentityKindName(row.kind));
    CHECK(RoleAllows(row.kind, Operation::kRead) == row.read);
    CHECK(RoleAllows(row.kind, Operation::kPreview) == row.preview);
    CHECK(RoleAllows(row.kind, Operation::kChange) == row.change);
    CHECK(RoleAllows(row.kind, Operation::kManageAccess) == row.manage);
  }
  CHECK(RolesAllowed(Operation::kRead) == "viewer, ci or admin");
  CHECK(RolesAllowed(Operation::kPreview) == "ci or admin");
  CHECK(RolesAllowed(Operation::kChange) == "admin");
}

TEST_CASE("access policy: a refusal names the action, the role it needs and the caller's role") {
  const Identity ci{IdentityKind::kCi, "github-ci", "default"};
  const Identity viewer{IdentityKind::kViewer, "alice", "default"};
  CHECK(Authorize(ci, Operation::kPreview, "a dry run").ok());
  CHECK(Authorize(ci, Operation::kChange, "applying a revision") ==
        Status::FailedPrecondition("applying a revision needs the admin role; wirewarp://default/ci/github-ci has the "
                                   "ci role (it may preview with a dry run)"));
  CHECK(Authorize(viewer, Operation::kPreview, "uploading a fleet") ==
        Status::FailedPrecondition("uploading a fleet needs the ci or admin role; wirewarp://default/viewer/alice has "
                                   "the viewer role"));
  CHECK(Authorize(std::nullopt, Operation::kRead, "reading the status") ==
        Status::FailedPrecondition("reading the status needs the viewer, ci or admin role; the request has no "
                                   "client certificate"));
  CHECK(Authorize(Identity{IdentityKind::kAdmin, "admin", "default"}, Operation::kManageAccess, "x").ok());
}

}  // namespace
}  // namespace ww
