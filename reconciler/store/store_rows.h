#pragma once
// Store-internal pieces shared by store.cc and store_delivery.cc: the revision row format and
// Store::WriteTransaction. Included only by reconciler/store/*.cc.

#include <string_view>

#include "reconciler/store/sqlite_handle.h"
#include "reconciler/store/store.h"

namespace ww {
namespace store {

inline const char* RevisionSourceName(RevisionSource source) {
  switch (source) {
    case RevisionSource::kGit: return "git";
    case RevisionSource::kApply: return "apply";
    case RevisionSource::kRollback: return "rollback";
  }
  return "apply";
}

inline RevisionSource ParseRevisionSource(std::string_view text) {
  if (text == "git") return RevisionSource::kGit;
  if (text == "rollback") return RevisionSource::kRollback;
  return RevisionSource::kApply;
}

inline constexpr const char* kRevisionColumns =
    "id, source, commit_sha, applied_by, created_at, content_sha256, documents, author, message";

inline RevisionRecord ReadRevision(const Statement& row) {
  RevisionRecord revision;
  revision.id = row.ColumnInt(0);
  revision.source = ParseRevisionSource(row.ColumnText(1));
  revision.commit_sha = row.ColumnText(2);
  revision.applied_by = row.ColumnText(3);
  revision.created_at = row.ColumnInt(4);
  revision.content_sha256 = row.ColumnText(5);
  revision.documents = row.ColumnText(6);
  revision.author = row.ColumnText(7);
  revision.message = row.ColumnText(8);
  return revision;
}

}  // namespace store

// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it fails. REQUIRES: mutex_ held.
template <typename Body>
Status Store::WriteTransaction(Body&& body) {
  WW_RETURN_IF_ERROR(store::Exec(db_, "BEGIN IMMEDIATE"));
  Status status = body();
  if (status.ok()) status = store::Exec(db_, "COMMIT");
  if (!status.ok()) (void)store::Exec(db_, "ROLLBACK");
  return status;
}

}  // namespace ww
