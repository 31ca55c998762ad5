#include "reconciler/server/access_policy.h"

#include <array>
#include <vector>

namespace ww {
namespace {

struct Grant {
  IdentityKind kind;
  std::vector<Operation> operations;
};

// The table. A role missing here may do nothing.
const std::array<Grant, 3>& Grants() {
  static const std::array<Grant, 3> grants = {{
      {IdentityKind::kViewer, {Operation::kRead}},
      {IdentityKind::kCi, {Operation::kRead, Operation::kPreview}},
      {IdentityKind::kAdmin, {Operation::kRead, Operation::kPreview, Operation::kChange, Operation::kManageAccess}},
  }};
  return grants;
}

}  // namespace

bool RoleAllows(IdentityKind kind, Operation operation) {
  for (const Grant& grant : Grants()) {
    if (grant.kind != kind) continue;
    for (Operation allowed : grant.operations) {
      if (allowed == operation) return true;
    }
  }
  return false;
}

std::string RolesAllowed(Operation operation) {
  std::vector<std::string_view> names;
  for (const Grant& grant : Grants()) {
    if (RoleAllows(grant.kind, operation)) names.push_back(IdentityKindName(grant.kind));
  }
  std::string roles;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) roles += i + 1 == names.size() ? " or " : ", ";
    roles += names[i];
  }
  return roles;
}

Status Authorize(const std::optional<Identity>& caller, Operation operation, std::string_view action) {
  if (caller && RoleAllows(caller->kind, operation)) return Status::Ok();
  std::string message = std::string(action) + " needs the " + RolesAllowed(operation) + " role";
  if (caller) {
    message += "; " + IdentityUri(*caller) + " has the " + std::string(IdentityKindName(caller->kind)) + " role";
    if (operation == Operation::kChange && RoleAllows(caller->kind, Operation::kPreview)) {
      message += " (it may preview with a dry run)";
    }
  } else {
    message += "; the request has no client certificate";
  }
  return Status::FailedPrecondition(message);
}

}  // namespace ww
