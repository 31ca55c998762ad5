// FleetService's HTTP handlers (reconciler/api/API.md): who may call what, request parsing
// and answers. The decisions are in fleet_service.cc.

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "reconciler/server/fleet_json.h"
#include "reconciler/server/fleet_service.h"

#include "reconciler/server/http_json.h"
#include "schema/wire_json.h"

namespace ww {
namespace {

using Json = nlohmann::json;

constexpr int kRequestMaxDepth = 8;
constexpr int kReportMaxDepth = 64;
constexpr std::size_t kMaxDocuments = 10000;
constexpr int64_t kDefaultRevisionLimit = 20;
constexpr int64_t kMaxRevisionLimit = 500;
constexpr const char* kAgentPattern = "([a-z0-9][a-z0-9-]{0,62})";


// A boolean field, false when absent.
Result<bool> OptionalBool(const Json& object, const char* field) {
  auto found = object.find(field);
  if (found == object.end() || found->is_null()) return false;
  if (!found->is_boolean()) return Status::InvalidArgument(std::string("field \"") + field + "\" must be true or false");
  return found->get<bool>();
}

Result<std::string> OptionalText(const Json& object, const char* field) {
  auto found = object.find(field);
  if (found == object.end() || found->is_null()) return std::string();
  if (!found->is_string()) return Status::InvalidArgument(std::string("field \"") + field + "\" must be a string");
  return found->get<std::string>();
}

// A non-negative integer query parameter, or `fallback` when absent.
Result<int64_t> QueryInteger(const HttpRequest& request, const char* name, int64_t fallback) {
  std::optional<std::string> text = request.QueryValue(name);
  if (!text) return fallback;
  if (text->empty() || text->size() > 18 || text->find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument(std::string("query parameter \"") + name + "\" must be a non-negative integer, not \"" +
                                   *text + "\"");
  }
  return std::stoll(*text);
}

bool IsAdmin(const HttpRequest& request) { return request.identity && request.identity->kind == IdentityKind::kAdmin; }
bool IsReader(const HttpRequest& request) {
  return request.identity && (request.identity->kind == IdentityKind::kAdmin || request.identity->kind == IdentityKind::kViewer);
}

// 403 unless the caller is the agent `name` itself.
std::optional<HttpResponse> RefuseUnlessAgent(const HttpRequest& request, const std::string& name) {
  if (request.identity && request.identity->kind == IdentityKind::kAgent && request.identity->id == name) {
    return std::nullopt;
  }
  std::string who = request.identity ? IdentityUri(*request.identity) : "an anonymous caller";
  return ErrorResponse(403, who + " may not act for agent \"" + name + "\"");
}

Json AgentPreviewsJson(const std::vector<AgentPreview>& previews) {
  Json list = Json::array();
  for (const AgentPreview& preview : previews) {
    list.push_back(Json{{"agent", preview.agent},
                        {"phase", preview.phase},
                        {"steps", preview.steps},
                        {"destructive", preview.destructive},
                        {"message", preview.message}});
  }
  return list;
}

// {"kind", "name", "change": added|changed|removed, "destructive", "fields": [{"path",
// "before", "after"}]}: null for a value unset on that side.
Json ResourceChangesJson(const FleetDiff& diff) {
  auto value = [](const std::optional<std::string>& text) { return text ? Json(*text) : Json(nullptr); };
  Json list = Json::array();
  for (const ResourceChange& change : diff.changes) {
    Json fields = Json::array();
    for (const FieldChange& field : change.fields) {
      fields.push_back(Json{{"path", field.path}, {"before", value(field.before)}, {"after", value(field.after)}});
    }
    list.push_back(Json{{"kind", change.kind},
                        {"name", change.name},
                        {"change", ResourceChangeTypeName(change.type)},
                        {"destructive", change.destructive},
                        {"fields", std::move(fields)}});
  }
  return list;
}

HttpResponse OutcomeResponse(const Result<RevisionOutcome>& result) {
  if (!result.ok()) return ErrorResponse(500, "internal error: " + result.status().message());
  const RevisionOutcome& outcome = *result;
  switch (outcome.verdict) {
    case RevisionVerdict::kInvalid:
      return JsonResponse(422, Json{{"error", outcome.message}, {"diagnostics", outcome.diagnostics}});
    case RevisionVerdict::kDestructive:
    case RevisionVerdict::kGitOwned:
      return JsonResponse(409, Json{{"error", outcome.message}});
    case RevisionVerdict::kAccepted:
    case RevisionVerdict::kUnchanged:
    case RevisionVerdict::kDryRun:
      break;
  }
  Json body{{"accepted", true},
            {"revision", outcome.revision_id ? Json(*outcome.revision_id) : Json(nullptr)},
            {"unchanged", outcome.verdict == RevisionVerdict::kUnchanged},
            {"dryRun", outcome.verdict == RevisionVerdict::kDryRun},
            {"warnings", outcome.warnings},
            {"changes", ResourceChangesJson(outcome.changes)},
            {"agents", AgentPreviewsJson(outcome.agents)}};
  return JsonResponse(200, body);
}

// The flags shared by uploads and rollbacks.
Status ReadRevisionFlags(const Json& body, RevisionRequest& request) {
  WW_ASSIGN_OR_RETURN(bool dry_run, OptionalBool(body, "dryRun"));
  WW_ASSIGN_OR_RETURN(bool allow_destructive, OptionalBool(body, "allowDestructive"));
  WW_ASSIGN_OR_RETURN(bool force, OptionalBool(body, "force"));
  request.dry_run = dry_run ? DryRun::kYes : DryRun::kNo;
  request.allow_destructive = allow_destructive ? AllowDestructive::kYes : AllowDestructive::kNo;
  request.force = force ? ForceOverGit::kYes : ForceOverGit::kNo;
  return Status::Ok();
}

}  // namespace

Status FleetService::RegisterRoutes() {
  auto bind = [this](HttpResponse (FleetService::*handler)(const HttpRequest&)) {
    return [this, handler](const HttpRequest& request) { return (this->*handler)(request); };
  };
  RouteOptions small;
  RouteOptions revisions{ClientCertificate::kRequired, kRevisionMaxBody};
  RouteOptions reports{ClientCertificate::kRequired, kReportMaxBody};
  const std::string agent = std::string("/v1/agents/") + kAgentPattern;
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kPost, "/v1/revisions", revisions, bind(&FleetService::HandleSubmit)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kGet, "/v1/revisions", small, bind(&FleetService::HandleListRevisions)));
  WW_RETURN_IF_ERROR(
      server_.Route(HttpMethod::kGet, "/v1/revisions/([0-9]{1,18})", small, bind(&FleetService::HandleGetRevision)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kPost, "/v1/revisions/([0-9]{1,18})/rollback", small,
                                   bind(&FleetService::HandleRollback)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kGet, "/v1/status", small, bind(&FleetService::HandleStatus)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kGet, "/v1/version", small, bind(&FleetService::HandleVersion)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kDelete, agent, small, bind(&FleetService::HandleDeleteAgent)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kGet, agent + "/plan", small, bind(&FleetService::HandlePlan)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kPost, agent + "/report", reports, bind(&FleetService::HandleReport)));
  return server_.Route(HttpMethod::kPost, agent + "/certificate", small, bind(&FleetService::HandleRenewal));
}

HttpResponse FleetService::HandleSubmit(const HttpRequest& request) {
  if (!IsAdmin(request)) return ErrorResponse(403, "uploading a fleet needs an admin certificate");
  Result<Json> body = ParseJsonObject(request.body, kRequestMaxDepth);
  if (!body.ok()) return ErrorResponse(400, body.status().message());
  RevisionRequest revision;
  revision.source = RevisionSource::kApply;
  revision.applied_by = IdentityUri(*request.identity);
  if (Status flags = ReadRevisionFlags(*body, revision); !flags.ok()) return ErrorResponse(400, flags.message());
  auto documents = body->find("documents");
  if (documents == body->end() || !documents->is_array()) {
    return ErrorResponse(400, "field \"documents\" must be a list of {path, content}");
  }
  if (documents->size() > kMaxDocuments) {
    return ErrorResponse(400, "field \"documents\" has more than " + std::to_string(kMaxDocuments) + " entries");
  }
  for (std::size_t i = 0; i < documents->size(); ++i) {
    const Json& item = (*documents)[i];
    std::string field = "documents[" + std::to_string(i) + "]";
    if (!item.is_object() || !item.contains("path") || !item["path"].is_string() || !item.contains("content") ||
        !item["content"].is_string()) {
      return ErrorResponse(400, "field \"" + field + "\" must be {\"path\": string, \"content\": string}");
    }
    revision.documents.push_back(SourceFile{item["path"].get<std::string>(), item["content"].get<std::string>()});
  }
  return OutcomeResponse(Submit(revision));
}

HttpResponse FleetService::HandleListRevisions(const HttpRequest& request) {
  if (!IsReader(request)) return ErrorResponse(403, "reading revisions needs an admin or viewer certificate");
  Result<int64_t> limit = QueryInteger(request, "limit", kDefaultRevisionLimit);
  if (!limit.ok()) return ErrorResponse(400, limit.status().message());
  Result<std::vector<RevisionRecord>> revisions = store_.ListRevisions(std::clamp<int64_t>(*limit, 1, kMaxRevisionLimit));
  if (!revisions.ok()) return ErrorResponse(500, "internal error: " + revisions.status().message());
  Json list = Json::array();
  for (const RevisionRecord& revision : *revisions) list.push_back(RevisionSummaryJson(revision));
  return JsonResponse(200, Json{{"revisions", std::move(list)}});
}

HttpResponse FleetService::HandleGetRevision(const HttpRequest& request) {
  if (!IsReader(request)) return ErrorResponse(403, "reading revisions needs an admin or viewer certificate");
  Result<RevisionRecord> revision = store_.FindRevision(std::stoll(request.path_parameters.at(0)));
  if (!revision.ok()) {
    int status = revision.status().code() == StatusCode::kNotFound ? 404 : 500;
    return ErrorResponse(status, revision.status().message());
  }
  Result<std::vector<SourceFile>> documents = DocumentsFromJson(revision->documents);
  if (!documents.ok()) return ErrorResponse(500, "internal error: " + documents.status().message());
  Json body = RevisionSummaryJson(*revision);
  Json list = Json::array();
  for (const SourceFile& document : *documents) list.push_back(Json{{"path", document.path}, {"content", document.content}});
  body["documents"] = std::move(list);
  return JsonResponse(200, body);
}

HttpResponse FleetService::HandleRollback(const HttpRequest& request) {
  if (!IsAdmin(request)) return ErrorResponse(403, "rolling back needs an admin certificate");
  Result<Json> body = request.body.empty() ? Result<Json>(Json::object()) : ParseJsonObject(request.body, kRequestMaxDepth);
  if (!body.ok()) return ErrorResponse(400, body.status().message());
  int64_t id = std::stoll(request.path_parameters.at(0));
  Result<RevisionRecord> revision = store_.FindRevision(id);
  if (!revision.ok()) {
    int status = revision.status().code() == StatusCode::kNotFound ? 404 : 500;
    return ErrorResponse(status, revision.status().message());
  }
  RevisionRequest rollback;
  rollback.source = RevisionSource::kRollback;
  rollback.applied_by = IdentityUri(*request.identity);
  rollback.message = "rollback to revision " + std::to_string(id);
  if (Status flags = ReadRevisionFlags(*body, rollback); !flags.ok()) return ErrorResponse(400, flags.message());
  Result<std::vector<SourceFile>> documents = DocumentsFromJson(revision->documents);
  if (!documents.ok()) return ErrorResponse(500, "internal error: " + documents.status().message());
  rollback.documents = std::move(documents).value();
  return OutcomeResponse(Submit(rollback));
}

HttpResponse FleetService::HandleStatus(const HttpRequest& request) {
  if (!IsReader(request)) return ErrorResponse(403, "reading the status needs an admin or viewer certificate");
  // ?after=VERSION&wait=S: answer once the snapshot's version differs from VERSION (at once
  // when it already does, e.g. after a restart), or after S seconds with the same version.
  Result<int64_t> after = QueryInteger(request, "after", -1);
  if (!after.ok()) return ErrorResponse(400, after.status().message());
  Result<int64_t> wait = QueryInteger(request, "wait", kDefaultPollWaitSeconds);
  if (!wait.ok()) return ErrorResponse(400, wait.status().message());
  if (*after >= 0 && static_cast<std::uint64_t>(*after) == StatusVersion() && *wait > 0) {
    LongPollHub::WaitResult waited = server_.long_polls().Wait(
        kStatusPollKey, static_cast<std::uint64_t>(*after), std::chrono::seconds(std::min(*wait, kMaxPollWaitSeconds)));
    if (waited.outcome == LongPollHub::WaitOutcome::kShutdown) return ErrorResponse(503, "the reconciler is stopping");
  }
  Result<std::string> body = StatusJson();
  if (!body.ok()) return ErrorResponse(500, "internal error: " + body.status().message());
  return HttpResponse{200, "application/json", std::move(body).value()};
}

// Any certificate the CA signed may ask: `wwctl version` of a viewer, an agent's support dump.
HttpResponse FleetService::HandleVersion(const HttpRequest& request) {
  if (!request.identity) return ErrorResponse(401, "a client certificate is required");
  return JsonResponse(200, Json{{"version", options_.version}, {"wireFormat", kWireFormatVersion}});
}

HttpResponse FleetService::HandleDeleteAgent(const HttpRequest& request) {
  if (!IsAdmin(request)) return ErrorResponse(403, "deleting an agent needs an admin certificate");
  const std::string& name = request.path_parameters.at(0);
  int64_t now = options_.now();
  std::lock_guard lock(mutex_);
  if (Status deleted = store_.DeleteAgent(name, now); !deleted.ok()) {
    return ErrorResponse(deleted.code() == StatusCode::kNotFound ? 404 : 500, deleted.message());
  }
  // Refused from the next request on, and its open long-poll is answered now.
  Result<std::vector<std::string>> serials = store_.ListRevokedSerials();
  if (!serials.ok()) return ErrorResponse(500, "internal error: " + serials.status().message());
  revoked_.Replace(std::move(serials).value());
  server_.long_polls().Revoke(name);
  ResetRenderCacheLocked();
  // The view starts again from the deleted record: history stays in the store, and a new
  // enrollment of the name starts clean (its long-poll above the old generations).
  AgentView& view = agents_[name];
  QueueEventLocked(now, &view, "agent-deleted",
                   name + " deleted by " + IdentityUri(*request.identity) + "; its certificates are revoked");
  AgentView replacement;
  replacement.deleted = view.record;
  if (!replacement.deleted) {
    // Enrolled without this service hearing of it yet: the store has the record.
    if (Result<AgentRecord> stored = store_.FindAgentByName(name); stored.ok()) replacement.deleted = *stored;
  }
  if (replacement.deleted) replacement.deleted->deleted_at = now;
  replacement.generation_floor = std::max(view.generation_floor, view.latest_plan ? view.latest_plan->generation : 0);
  view = std::move(replacement);
  if (Status reconciled = ReconcileAgentsLocked(now, AgentNamesLocked()); !reconciled.ok()) {
    return ErrorResponse(500, "internal error: " + reconciled.message());
  }
  return JsonResponse(200, Json{{"agent", name}, {"deletedAt", now}, {"enrollCommand", EnrollCommandLocked(name)}});
}

Result<bool> FleetService::RefreshAgentsLocked(int64_t now) {
  WW_ASSIGN_OR_RETURN(std::vector<AgentRecord> enrolled, store_.ListAgents());
  bool added = false;
  for (AgentRecord& record : enrolled) {
    AgentView& view = agents_[record.name];
    if (view.record) continue;
    std::string name = record.name;
    // A later enrollment's id is "NAME.N" (store.h).
    std::string again = record.id != name ? " again (enrollment " + record.id + ")" : "";
    view.record = std::move(record);
    view.deleted.reset();
    server_.long_polls().Reinstate(name);
    QueueEventLocked(now, &view, "agent-enrolled", name + " enrolled" + again);
    added = true;
  }
  if (added) ResetRenderCacheLocked();
  return added;
}

Status FleetService::AgentEnrolled(const std::string& name) {
  std::lock_guard lock(mutex_);
  int64_t now = options_.now();
  WW_ASSIGN_OR_RETURN(bool added, RefreshAgentsLocked(now));
  if (!added) return Status::NotFound("agent \"" + name + "\" is not enrolled");
  // Its key is new: every agent that peers with it renders differently now.
  return ReconcileAgentsLocked(now, AgentNamesLocked());
}

Result<FleetService::AgentView*> FleetService::EnrolledAgentLocked(const std::string& name, int64_t now) {
  auto found = agents_.find(name);
  if (found != agents_.end() && found->second.record) return &found->second;
  // Enrolled without the hook telling us (another process, a missed call): load it now.
  WW_ASSIGN_OR_RETURN(bool added, RefreshAgentsLocked(now));
  found = agents_.find(name);
  if (found == agents_.end() || !found->second.record) {
    return Status::NotFound("agent \"" + name + "\" is not enrolled or was deleted");
  }
  if (added) WW_RETURN_IF_ERROR(ReconcileAgentsLocked(now, AgentNamesLocked()));
  return &found->second;
}

HttpResponse FleetService::PlanAnswer(const std::string& agent) {
  std::lock_guard lock(mutex_);
  auto found = agents_.find(agent);
  if (found == agents_.end() || !found->second.latest_plan) return HttpResponse{204, "application/json", ""};
  const PlanGenerationRecord& plan = *found->second.latest_plan;
  // Stored compact JSON goes out as is: no re-encoding per poll.
  return HttpResponse{200, "application/json",
                      "{\"generation\":" + std::to_string(plan.generation) + ",\"revision\":" +
                          std::to_string(plan.revision_id) + ",\"desired\":" + plan.desired_json +
                          ",\"plan\":" + plan.plan_json + "}"};
}

HttpResponse FleetService::HandlePlan(const HttpRequest& request) {
  const std::string& name = request.path_parameters.at(0);
  if (auto refused = RefuseUnlessAgent(request, name)) return *refused;
  Result<int64_t> after = QueryInteger(request, "after", 0);
  if (!after.ok()) return ErrorResponse(400, after.status().message());
  Result<int64_t> wait = QueryInteger(request, "wait", kDefaultPollWaitSeconds);
  if (!wait.ok()) return ErrorResponse(400, wait.status().message());
  int64_t wait_seconds = std::min(*wait, kMaxPollWaitSeconds);
  bool ready = false;
  int64_t wait_after = 0;
  {
    std::lock_guard lock(mutex_);
    int64_t now = options_.now();
    Result<AgentView*> view = EnrolledAgentLocked(name, now);
    if (!view.ok()) return ErrorResponse(401, view.status().message());
    (*view)->last_seen = std::max((*view)->last_seen, now);
    ready = (*view)->latest_plan && (*view)->latest_plan->generation > *after;
    wait_after = std::max(*after, (*view)->generation_floor);
  }
  if (ready) return PlanAnswer(name);
  LongPollHub::WaitResult waited =
      server_.long_polls().Wait(name, static_cast<std::uint64_t>(wait_after), std::chrono::seconds(wait_seconds));
  switch (waited.outcome) {
    case LongPollHub::WaitOutcome::kNewer: return PlanAnswer(name);
    case LongPollHub::WaitOutcome::kTimedOut: return HttpResponse{204, "application/json", ""};
    case LongPollHub::WaitOutcome::kRevoked: return ErrorResponse(401, "agent \"" + name + "\" is deleted");
    case LongPollHub::WaitOutcome::kShutdown: return ErrorResponse(503, "the reconciler is stopping");
  }
  return HttpResponse{204, "application/json", ""};
}

HttpResponse FleetService::HandleReport(const HttpRequest& request) {
  const std::string& name = request.path_parameters.at(0);
  if (auto refused = RefuseUnlessAgent(request, name)) return *refused;
  Result<Json> body = ParseJsonObject(request.body, kReportMaxDepth);
  if (!body.ok()) return ErrorResponse(400, body.status().message());
  auto generation = body->find("generation");
  if (generation == body->end() || !generation->is_number_integer() || generation->get<int64_t>() < 0) {
    return ErrorResponse(400, "field \"generation\" must be a non-negative integer");
  }
  auto converged = body->find("converged");
  if (converged == body->end() || !converged->is_boolean()) {
    return ErrorResponse(400, "field \"converged\" must be true or false");
  }
  Result<std::string> error = OptionalText(*body, "error");
  Result<std::string> version = OptionalText(*body, "version");
  Result<std::string> hostname = OptionalText(*body, "hostname");
  for (const Status& status : {error.status(), version.status(), hostname.status()}) {
    if (!status.ok()) return ErrorResponse(400, status.message());
  }
  auto observed_json = body->find("observed");
  if (observed_json == body->end() || !observed_json->is_object()) {
    return ErrorResponse(400, "field \"observed\" must be an ObservedState object");
  }
  std::string observed_text = observed_json->dump(-1, ' ', false, Json::error_handler_t::replace);
  Result<ObservedState> observed = ObservedStateFromJson(observed_text);
  if (!observed.ok()) return ErrorResponse(400, "field \"observed\": " + observed.status().message());
  Json metrics{{"converged", converged->get<bool>()},
               {"error", *error},
               {"version", *version},
               {"hostname", *hostname},
               {"peers", body->value("peers", Json::array())},
               {"system", body->value("system", Json(nullptr))}};

  std::lock_guard lock(mutex_);
  int64_t now = options_.now();
  Result<AgentView*> found = EnrolledAgentLocked(name, now);
  if (!found.ok()) return ErrorResponse(401, found.status().message());
  AgentView& view = **found;
  // The snapshot shows the applied generation and the last error: a change of either is news
  // for GET /v1/status long-polls even when the phase stays.
  const std::optional<int64_t> previous_generation =
      view.report ? std::optional<int64_t>(view.report->generation) : std::nullopt;
  ReportRecord report{view.record->id, now, generation->get<int64_t>(), std::move(observed_text),
                      metrics.dump(-1, ' ', false, Json::error_handler_t::replace)};
  if (Status saved = store_.SaveReport(report); !saved.ok()) return ErrorResponse(500, "internal error: " + saved.message());
  view.report = std::move(report);
  view.observed = std::move(observed).value();
  view.last_seen = now;

  AgentHealthRecord health = view.health;
  health.agent_id = view.record->id;
  if (converged->get<bool>()) {
    health.consecutive_failures = 0;
    health.last_error.clear();
  } else if (!error->empty() && view.report->generation != health.last_failed_generation) {
    // Counted once per generation: the agent repeats its report every 30 s.
    ++health.consecutive_failures;
    health.last_failure_at = now;
    health.last_failed_generation = view.report->generation;
    health.last_error = *error;
    QueueEventLocked(now, &view, "apply-failed",
                     name + " failed to apply generation " + std::to_string(view.report->generation) + ": " + *error);
  }
  const bool health_changed = !(health == view.health);
  if (health_changed) {
    if (Status saved = store_.SaveAgentHealth(health); !saved.ok()) {
      return ErrorResponse(500, "internal error: " + saved.message());
    }
    view.health = std::move(health);
  }
  if (health_changed || previous_generation != view.report->generation) StatusChangedLocked();
  if (Status reconciled = ReconcileAgentsLocked(now, {name}); !reconciled.ok()) {
    return ErrorResponse(500, "internal error: " + reconciled.message());
  }
  return HttpResponse{204, "application/json", ""};
}

HttpResponse FleetService::HandleRenewal(const HttpRequest& request) {
  const std::string& name = request.path_parameters.at(0);
  if (auto refused = RefuseUnlessAgent(request, name)) return *refused;
  Result<Json> body = ParseJsonObject(request.body, kRequestMaxDepth);
  if (!body.ok()) return ErrorResponse(400, body.status().message());
  Result<std::string> csr = OptionalText(*body, "csr");
  if (!csr.ok() || csr->empty()) return ErrorResponse(400, "field \"csr\" is required");
  int64_t now = options_.now();
  std::string agent_id;
  {
    std::lock_guard lock(mutex_);
    Result<AgentView*> view = EnrolledAgentLocked(name, now);
    if (!view.ok()) return ErrorResponse(401, view.status().message());
    agent_id = (*view)->record->id;
  }
  // The identity is the caller's own; the old certificate stays valid until it expires.
  Result<IssuedCertificate> issued = ca_.IssueClient(*csr, *request.identity, now);
  if (!issued.ok()) return ErrorResponse(400, "field \"csr\" refused: " + issued.status().message());
  CertificateRecord record{issued->serial_hex, agent_id, IdentityUri(*request.identity), CertificateRole::kAgent,
                           issued->not_before, issued->not_after, std::nullopt};
  if (Status stored = store_.InsertCertificate(record); !stored.ok()) {
    return ErrorResponse(500, "internal error: " + stored.message());
  }
  return JsonResponse(200, Json{{"certificate", issued->pem}});
}

}  // namespace ww
