#include "reconciler/server/revision_book.h"

#include <openssl/sha.h>

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "schema/ipam.h"

namespace ww {
namespace {

using Json = nlohmann::json;

std::size_t CountErrors(const Diagnostics& diagnostics) {
  return static_cast<std::size_t>(std::count_if(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
    return d.severity == Severity::kError;
  }));
}

std::string Plural(std::size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

void SetFleetAgents(FleetState& state) {
  std::vector<std::string> fleet_agents = FleetAgents(state.current->fleet);
  state.current->fleet_agents = std::set<std::string>(fleet_agents.begin(), fleet_agents.end());
  for (const std::string& name : fleet_agents) state.agents[name];
}

}  // namespace

std::vector<std::string> DiagnosticLines(const Diagnostics& diagnostics) {
  std::vector<std::string> lines;
  lines.reserve(diagnostics.size());
  for (const Diagnostic& diagnostic : diagnostics) lines.push_back(FormatDiagnostic(diagnostic));
  return lines;
}

std::string Sha256Hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : digest) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0xf];
  }
  return hex;
}

std::string DocumentsToJson(const std::vector<SourceFile>& documents) {
  Json list = Json::array();
  for (const SourceFile& document : documents) list.push_back(Json{{"path", document.path}, {"content", document.content}});
  return list.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<std::vector<SourceFile>> DocumentsFromJson(std::string_view text) {
  try {
    Json list = Json::parse(text);
    if (!list.is_array()) return Status::Internal("stored documents are not a JSON array");
    std::vector<SourceFile> documents;
    for (const Json& item : list) {
      documents.push_back(SourceFile{item.at("path").get<std::string>(), item.at("content").get<std::string>()});
    }
    return documents;
  } catch (const std::exception& error) {
    return Status::Internal(std::string("stored documents do not parse: ") + error.what());
  }
}

RevisionBook::RevisionBook(FleetState& state, AgentReconcileQueue& queue, ValidationContext validation,
                           std::function<int64_t()> now)
    : state_(state), queue_(queue), validation_(std::move(validation)), now_(std::move(now)) {}

Status RevisionBook::Load() {
  Store& store = state_.store;
  Result<RevisionRecord> revision = store.CurrentRevision();
  if (!revision.ok()) {
    if (revision.status().code() == StatusCode::kNotFound) return Status::Ok();
    return revision.status();
  }
  WW_ASSIGN_OR_RETURN(std::vector<SourceFile> documents, DocumentsFromJson(revision->documents));
  LoadResult checked = LoadAndValidateFleet(documents, {}, validation_);
  // Accepted once, so only a change of the rules (an upgrade) finds errors here. The agents
  // already run this revision: keep serving it and say what to fix, rather than refuse to
  // start and leave the fleet without a control server that could take the fix.
  std::vector<std::string> stale_findings;
  for (const Diagnostic& finding : checked.diagnostics) {
    if (finding.severity == Severity::kError) stale_findings.push_back(FormatDiagnostic(finding));
  }
  WW_ASSIGN_OR_RETURN(Allocations allocations, store.LoadAllocations());
  state_.current = CurrentRevision{std::move(revision).value(), std::move(checked.fleet), std::move(allocations), {}, {},
                                   std::move(stale_findings)};
  if (state_.current->record.source != RevisionSource::kGit) {
    // A forced apply or rollback survives a restart, and so does saying that it diverges.
    WW_ASSIGN_OR_RETURN(std::optional<RevisionRecord> git, store.LatestGitRevision());
    if (git && git->id < state_.current->record.id) state_.current->diverged_from = GitBase{git->commit_sha, git->id};
  }
  SetFleetAgents(state_);
  return Status::Ok();
}

Status RevisionBook::RecordRejectedCommit(const std::string& commit_sha, const std::vector<std::string>& errors) {
  int64_t now = now_();
  WW_RETURN_IF_ERROR(state_.store.RecordRejectedCommit(RejectedCommitRecord{commit_sha, now, errors}));
  std::lock_guard lock(state_.mutex);
  state_.QueueEvent(now, nullptr, "commit-rejected",
                    "git commit " + commit_sha + " rejected: " + (errors.empty() ? std::string("no reason") : errors.front()) +
                        (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : ""));
  state_.StatusChanged();
  return state_.FlushEvents();
}

Result<RevisionOutcome> RevisionBook::Rollback(int64_t revision_id, RevisionRequest request) {
  WW_ASSIGN_OR_RETURN(RevisionRecord revision, state_.store.FindRevision(revision_id));
  Result<std::vector<SourceFile>> documents = DocumentsFromJson(revision.documents);
  if (!documents.ok()) return Status::Internal(documents.status().message());
  request.source = RevisionSource::kRollback;
  request.message = "rollback to revision " + std::to_string(revision_id);
  request.documents = std::move(documents).value();
  return Submit(request);
}

Result<RevisionOutcome> RevisionBook::Submit(const RevisionRequest& request) {
  RevisionOutcome outcome;
  ValidationContext validation = validation_;
  {
    // The enrolled agents' modes: a certificate's mode cannot serve the other role.
    std::lock_guard lock(state_.mutex);
    for (const auto& [name, view] : state_.agents) {
      if (!view.record) continue;
      validation.enrolled[name] = view.record->role == AgentRole::kServer ? EnrolledMode::kServer : EnrolledMode::kClient;
    }
  }
  LoadResult checked = LoadAndValidateFleet(request.documents, {}, validation);
  std::size_t errors = CountErrors(checked.diagnostics);
  for (const Diagnostic& diagnostic : checked.diagnostics) {
    if (diagnostic.severity == Severity::kWarning) outcome.warnings.push_back(FormatDiagnostic(diagnostic));
  }
  auto refuse_invalid = [&](const Diagnostics& diagnostics, std::size_t error_count) -> Result<RevisionOutcome> {
    outcome.verdict = RevisionVerdict::kInvalid;
    outcome.diagnostics = DiagnosticLines(diagnostics);
    outcome.error_count = error_count;
    outcome.warnings.clear();
    outcome.message = "the fleet is invalid: " + Plural(error_count, "error");
    if (request.source == RevisionSource::kGit && request.dry_run == DryRun::kNo) {
      std::vector<std::string> lines;
      for (const Diagnostic& diagnostic : diagnostics) {
        if (diagnostic.severity == Severity::kError) lines.push_back(FormatDiagnostic(diagnostic));
      }
      WW_RETURN_IF_ERROR(RecordRejectedCommit(request.commit_sha, lines));
    }
    return outcome;
  };
  if (errors > 0) return refuse_invalid(checked.diagnostics, errors);

  std::unique_lock lock(state_.mutex);
  std::optional<CurrentRevision>& current = state_.current;
  const int64_t now = now_();
  AllocationResult allocation = AllocateAddresses(checked.fleet, current ? current->allocations : Allocations{});
  if (std::size_t allocation_errors = CountErrors(allocation.diagnostics); allocation_errors > 0) {
    lock.unlock();
    return refuse_invalid(allocation.diagnostics, allocation_errors);
  }
  std::string documents = DocumentsToJson(request.documents);
  std::string content_sha256 = Sha256Hex(documents);
  // A new git commit with the same files is still recorded: `wwctl wait --revision SHA` and
  // the status page follow commits.
  const bool same_commit = request.source != RevisionSource::kGit || (current && current->record.commit_sha == request.commit_sha);
  if (current && current->record.content_sha256 == content_sha256 && same_commit) {
    outcome.agents = queue_.CurrentPreviews();
    outcome.verdict = RevisionVerdict::kUnchanged;
    outcome.message = "identical to the current revision " + std::to_string(current->record.id);
    return outcome;
  }
  Status destructive = current ? CheckDestructiveRevision(current->fleet, checked.fleet, request.allow_destructive)
                               : Status::Ok();
  outcome.changes = DiffFleets(current ? current->fleet : Fleet{}, checked.fleet);
  if (request.dry_run == DryRun::kYes) {
    outcome.agents = queue_.Preview(checked.fleet, allocation.allocations, now, (current ? current->record.id : 0) + 1);
    outcome.verdict = RevisionVerdict::kDryRun;
    if (!destructive.ok()) outcome.warnings.push_back(destructive.message());
    return outcome;
  }
  const bool over_git = current && current->record.source == RevisionSource::kGit && request.source != RevisionSource::kGit;
  if (over_git && request.force == ForceOverGit::kNo) {
    outcome.verdict = RevisionVerdict::kGitOwned;
    outcome.message = "the current revision " + std::to_string(current->record.id) + " comes from git commit " +
                      current->record.commit_sha + ": change the fleet in git, or " +
                      (request.source == RevisionSource::kRollback ? "roll back" : "apply") +
                      " again with --force to override it until the next commit";
    return outcome;
  }
  if (!destructive.ok()) {
    outcome.verdict = RevisionVerdict::kDestructive;
    outcome.message = destructive.message();
    return outcome;
  }

  Store& store = state_.store;
  RevisionRecord record{0,         request.source, request.commit_sha, request.applied_by, now, content_sha256,
                        documents, request.author, request.message};
  WW_ASSIGN_OR_RETURN(record.id, store.AddRevision(record));
  WW_RETURN_IF_ERROR(store.SaveAllocations(allocation.allocations));
  if (request.source == RevisionSource::kGit) WW_RETURN_IF_ERROR(store.ClearRejectedCommits());
  // Divergence from git: set by a forced apply or rollback over a git revision, carried by
  // later uploads, ended (with an event) only by the next git commit.
  std::optional<GitBase> diverged_from;
  if (over_git) {
    diverged_from = GitBase{current->record.commit_sha, current->record.id};
    state_.QueueEvent(now, nullptr, "revision-forced",
                      "revision " + std::to_string(record.id) + " by " + request.applied_by +
                          " overrides git commit " + current->record.commit_sha +
                          " (--force); the fleet is diverged from git until the next commit");
  } else if (request.source != RevisionSource::kGit && current) {
    diverged_from = current->diverged_from;
  } else if (request.source == RevisionSource::kGit && current && current->record.source != RevisionSource::kGit) {
    const RevisionRecord& replaced = current->record;
    std::string what = replaced.source == RevisionSource::kRollback ? "rollback" : "apply";
    outcome.override_ended = ", ending the override by " + replaced.applied_by + " (revision " +
                             std::to_string(replaced.id) + ", " + what + ")";
    state_.QueueEvent(now, nullptr, "override-ended",
                      "git commit " + request.commit_sha + " (revision " + std::to_string(record.id) +
                          ") replaces revision " + std::to_string(replaced.id) + " (" + what + " by " +
                          replaced.applied_by + ")" +
                          (current->diverged_from ? ": the fleet follows git again, it had diverged at commit " +
                                                        current->diverged_from->commit_sha
                                                  : ": the fleet follows git"));
  }
  std::string origin = request.source == RevisionSource::kGit ? "git commit " + request.commit_sha
                       : request.source == RevisionSource::kRollback ? "a rollback by " + request.applied_by
                                                                     : "apply by " + request.applied_by;
  state_.QueueEvent(now, nullptr, "revision-accepted", "revision " + std::to_string(record.id) + " from " + origin);

  current = CurrentRevision{std::move(record), std::move(checked.fleet), std::move(allocation.allocations), {},
                            std::move(diverged_from)};
  queue_.ResetRenderCache();
  state_.StatusChanged();
  SetFleetAgents(state_);
  WW_RETURN_IF_ERROR(queue_.Reconcile(now, state_.AgentNames()));
  outcome.verdict = RevisionVerdict::kAccepted;
  outcome.revision_id = current->record.id;
  outcome.agents = queue_.CurrentPreviews();
  return outcome;
}

std::vector<std::string> RevisionBook::TokenWarnings(TokenType type, const std::string& name) {
  std::lock_guard lock(state_.mutex);
  const std::optional<CurrentRevision>& current = state_.current;
  if (name.empty() || !current) return {};
  const std::string revision = "revision " + std::to_string(current->record.id);
  if (!current->fleet_agents.contains(name)) {
    return {"agent \"" + name + "\" is not in the fleet (" + revision +
            " names it in no Tunnel.spec.agent or Peer.spec.agent): it can enroll but gets an empty config"};
  }
  // A tunnel server needs the server role; an agent that only joins tunnels is a client.
  const bool server = state_.ExpectedRole(name) == AgentRole::kServer;
  if (type == (server ? TokenType::kServer : TokenType::kClient)) return {};
  const char* wanted = server ? "server" : "client";
  const char* given = type == TokenType::kServer ? "server" : "client";
  std::string use = server ? "runs a Tunnel" : "is a Peer's agent";
  return {"agent \"" + name + "\" " + use + " in " + revision + ", so it enrolls with --mode " + wanted +
          "; this token is for a " + given + " agent (create it with --type " + wanted + ")"};
}

}  // namespace ww
