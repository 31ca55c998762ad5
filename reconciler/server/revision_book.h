#pragma once
// RevisionBook: the revision half of the fleet service. The one way a revision comes in
// (POST /v1/revisions, rollback and the git source): validated whole like offline `wwctl
// validate`, addresses allocated, refused when destructive or when it would silently replace
// a git revision, previewed (dry run) or stored and made current, after which every agent is
// reconciled. Also the refused git commits and the token warnings that depend on the revision.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/core/revision_guard.h"
#include "reconciler/server/agent_queue.h"
#include "reconciler/server/fleet_state.h"
#include "schema/fleet_diff.h"
#include "schema/loader.h"
#include "schema/result.h"
#include "schema/validate.h"

namespace ww {

enum class DryRun { kNo, kYes };
// Whether an upload may replace a revision that came from git.
enum class ForceOverGit { kNo, kYes };

struct RevisionRequest {
  std::vector<SourceFile> documents;  // path is only shown in messages
  RevisionSource source = RevisionSource::kApply;
  std::string commit_sha;  // git only
  std::string author;      // git only
  std::string message;     // git only
  std::string applied_by;  // the caller's identity URI, or "git"
  DryRun dry_run = DryRun::kNo;
  AllowDestructive allow_destructive = AllowDestructive::kNo;
  ForceOverGit force = ForceOverGit::kNo;
};

enum class RevisionVerdict {
  kAccepted,     // stored as revision_id
  kUnchanged,    // identical to the current revision: nothing stored
  kDryRun,       // nothing stored
  kInvalid,      // diagnostics: 422
  kDestructive,  // refused without allow_destructive: 409
  kGitOwned,     // the current revision is from git and force was not given: 409
};

struct RevisionOutcome {
  RevisionVerdict verdict = RevisionVerdict::kAccepted;
  std::optional<int64_t> revision_id;  // with kAccepted
  std::string message;                 // why, for kInvalid / kDestructive / kGitOwned
  // kInvalid: every finding as `wwctl validate` prints it (warnings too); error_count errors.
  std::vector<std::string> diagnostics;
  std::size_t error_count = 0;
  std::vector<std::string> warnings;  // accepted or dry-run: warning lines
  std::vector<AgentPreview> agents;   // accepted, unchanged or dry-run
  FleetDiff changes;                  // accepted or dry-run: against the current revision
  // Accepted from git over a forced apply or rollback: ", ending the override by ..." (for
  // logs; the event log has it too). Empty otherwise.
  std::string override_ended;
};

class RevisionBook {
 public:
  // REQUIRES: state and queue outlive the book; now is set.
  RevisionBook(FleetState& state, AgentReconcileQueue& queue, ValidationContext validation,
               std::function<int64_t()> now);

  // Loads the current revision from the store (none before the first). REQUIRES: mutex held.
  Status Load();
  // Errors (Status) are only internal failures; refusals are verdicts. A git revision
  // (source kGit) that is invalid is also recorded as the rejected commit. Takes the mutex.
  Result<RevisionOutcome> Submit(const RevisionRequest& request);
  // Submits the documents of the stored revision `revision_id` again, as a rollback;
  // `request` carries the caller and the flags. kNotFound for an unknown id. Takes the mutex.
  Result<RevisionOutcome> Rollback(int64_t revision_id, RevisionRequest request);
  // A git commit that could not become a revision (fetch refusal, invalid fleet). Takes the mutex.
  Status RecordRejectedCommit(const std::string& commit_sha, const std::vector<std::string>& errors);
  // EnrollmentOptions::token_warnings: a token for an agent the current revision does not
  // name, or of the other mode than the fleet's use of that name (a Tunnel's agent is a
  // server, a Peer's agent a client), enrolls an agent that gets nothing or cannot enroll.
  // Takes the mutex.
  std::vector<std::string> TokenWarnings(TokenType type, const std::string& name);

 private:
  FleetState& state_;
  AgentReconcileQueue& queue_;
  ValidationContext validation_;
  std::function<int64_t()> now_;
};

// Every finding as `wwctl validate` prints it: "vps.yaml:4:3: error: ...".
std::vector<std::string> DiagnosticLines(const Diagnostics& diagnostics);

// Revision documents as stored in RevisionRecord.documents: [{"path", "content"}].
std::string DocumentsToJson(const std::vector<SourceFile>& documents);
Result<std::vector<SourceFile>> DocumentsFromJson(std::string_view text);

// Lowercase hex SHA-256 of `text`.
std::string Sha256Hex(std::string_view text);

}  // namespace ww
