// FleetRoutes: see fleet_routes.h. The decisions are FleetService's.

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "reconciler/server/fleet_routes.h"

#include "reconciler/server/fleet_service.h"
#include "reconciler/server/fleet_snapshot_builder.h"
#include "reconciler/server/http_json.h"
#include "reconciler/status/snapshot_json_pieces.h"
#include "schema/json_writer.h"
#include "schema/wire_json.h"

namespace ww {
namespace {

using Json = nlohmann::json;

constexpr int kRequestMaxDepth = 8;
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

// ?events_before=ID&limit=N of GET /v1/status: older pages of the event history.
Result<EventPage> ReadEventPage(const HttpRequest& request) {
  EventPage page;
  WW_ASSIGN_OR_RETURN(page.limit, QueryInteger(request, "limit", kStatusEventCount));
  if (page.limit < 1 || page.limit > kStatusMaxEventCount) {
    return Status::InvalidArgument("query parameter \"limit\" must be from 1 to " +
                                   std::to_string(kStatusMaxEventCount));
  }
  WW_ASSIGN_OR_RETURN(int64_t before, QueryInteger(request, "events_before", -1));
  if (before >= 0) page.before = before;
  return page;
}

Operation UploadOperation(const RevisionRequest& request) {
  return request.dry_run == DryRun::kYes ? Operation::kPreview : Operation::kChange;
}

// 403 unless the caller is the agent `name` itself.
std::optional<HttpResponse> RefuseUnlessAgent(const HttpRequest& request, const std::string& name) {
  if (request.identity && request.identity->kind == IdentityKind::kAgent && request.identity->id == name) {
    return std::nullopt;
  }
  std::string who = request.identity ? IdentityUri(*request.identity) : "an anonymous caller";
  return ErrorResponse(403, who + " may not act for agent \"" + name + "\"");
}

// The previews of a fleet are an answer of megabytes (10,000 agents, their steps each):
// written straight to text, keys in the order nlohmann::json's sorted objects gave them.
void WritePreviews(JsonWriter& out, const std::vector<AgentPreview>& previews) {
  out.BeginArray();
  for (const AgentPreview& preview : previews) {
    out.BeginObject();
    out.Key("agent").String(preview.agent);
    out.Key("destructive").Bool(preview.destructive);
    out.Key("message").String(preview.message);
    out.Key("phase").String(preview.phase);
    out.Key("steps").Strings(preview.steps);
    out.EndObject();
  }
  out.EndArray();
}

// {"change": added|changed|removed, "destructive", "fields": [{"after", "before", "path"}],
// "kind", "name"}: null for a value unset on that side.
void WriteChanges(JsonWriter& out, const FleetDiff& diff) {
  auto value = [&out](const std::optional<std::string>& text) { text ? out.String(*text) : out.Null(); };
  out.BeginArray();
  for (const ResourceChange& change : diff.changes) {
    out.BeginObject();
    out.Key("change").String(ResourceChangeTypeName(change.type));
    out.Key("destructive").Bool(change.destructive);
    out.Key("fields").BeginArray();
    for (const FieldChange& field : change.fields) {
      out.BeginObject();
      out.Key("after");
      value(field.after);
      out.Key("before");
      value(field.before);
      out.Key("path").String(field.path);
      out.EndObject();
    }
    out.EndArray();
    out.Key("kind").String(change.kind);
    out.Key("name").String(change.name);
    out.EndObject();
  }
  out.EndArray();
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
  JsonWriter out(JsonStyle::kCompact);
  out.BeginObject();
  out.Key("accepted").Bool(true);
  out.Key("agents");
  WritePreviews(out, outcome.agents);
  out.Key("changes");
  WriteChanges(out, outcome.changes);
  out.Key("dryRun").Bool(outcome.verdict == RevisionVerdict::kDryRun);
  out.Key("revision");
  outcome.revision_id ? out.Integer(*outcome.revision_id) : out.Null();
  out.Key("unchanged").Bool(outcome.verdict == RevisionVerdict::kUnchanged);
  out.Key("warnings").Strings(outcome.warnings);
  out.EndObject();
  return HttpResponse{200, "application/json", out.Take()};
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

FleetRoutes::FleetRoutes(FleetService& service, Store& store, const CertificateAuthority& ca, HttpsServer& server,
                         std::function<int64_t()> now, std::string version)
    : service_(service), store_(store), ca_(ca), server_(server), now_(std::move(now)), version_(std::move(version)) {}

Status FleetRoutes::Register() {
  auto bind = [this](HttpResponse (FleetRoutes::*handler)(const HttpRequest&)) {
    return [this, handler](const HttpRequest& request) { return (this->*handler)(request); };
  };
  RouteOptions small;
  RouteOptions revisions{ClientCertificate::kRequired, kRevisionMaxBody};
  RouteOptions reports{ClientCertificate::kRequired, kReportMaxBody};
  const std::string agent = std::string("/v1/agents/") + kAgentPattern;
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kPost, "/v1/revisions", revisions, bind(&FleetRoutes::HandleSubmit)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kGet, "/v1/revisions", small, bind(&FleetRoutes::HandleListRevisions)));
  WW_RETURN_IF_ERROR(
      server_.Route(HttpMethod::kGet, "/v1/revisions/([0-9]{1,18})", small, bind(&FleetRoutes::HandleGetRevision)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kPost, "/v1/revisions/([0-9]{1,18})/rollback", small,
                                   bind(&FleetRoutes::HandleRollback)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kGet, "/v1/status", small, bind(&FleetRoutes::HandleStatus)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kGet, "/v1/version", small, bind(&FleetRoutes::HandleVersion)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kDelete, agent, small, bind(&FleetRoutes::HandleDeleteAgent)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kGet, agent + "/plan", small, bind(&FleetRoutes::HandlePlan)));
  WW_RETURN_IF_ERROR(server_.Route(HttpMethod::kPost, agent + "/report", reports, bind(&FleetRoutes::HandleReport)));
  return server_.Route(HttpMethod::kPost, agent + "/certificate", small, bind(&FleetRoutes::HandleRenewal));
}

HttpResponse FleetRoutes::HandleSubmit(const HttpRequest& request) {
  if (auto refused = RefuseUnlessAllowed(request, Operation::kPreview, "uploading a fleet")) return *refused;
  Result<Json> body = ParseJsonObject(request.body, kRequestMaxDepth);
  if (!body.ok()) return ErrorResponse(400, body.status().message());
  RevisionRequest revision;
  revision.source = RevisionSource::kApply;
  revision.applied_by = IdentityUri(*request.identity);
  if (Status flags = ReadRevisionFlags(*body, revision); !flags.ok()) return ErrorResponse(400, flags.message());
  if (auto refused = RefuseUnlessAllowed(request, UploadOperation(revision), "applying a revision (dryRun: false)")) {
    return *refused;
  }
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
  return OutcomeResponse(service_.Submit(revision));
}

HttpResponse FleetRoutes::HandleListRevisions(const HttpRequest& request) {
  if (auto refused = RefuseUnlessAllowed(request, Operation::kRead, "reading revisions")) return *refused;
  Result<int64_t> limit = QueryInteger(request, "limit", kDefaultRevisionLimit);
  if (!limit.ok()) return ErrorResponse(400, limit.status().message());
  Result<std::vector<RevisionRecord>> revisions = store_.ListRevisions(std::clamp<int64_t>(*limit, 1, kMaxRevisionLimit));
  if (!revisions.ok()) return ErrorResponse(500, "internal error: " + revisions.status().message());
  Json list = Json::array();
  for (const RevisionRecord& revision : *revisions) list.push_back(RevisionSummaryJson(SummarizeRevision(revision)));
  return JsonResponse(200, Json{{"revisions", std::move(list)}});
}

HttpResponse FleetRoutes::HandleGetRevision(const HttpRequest& request) {
  if (auto refused = RefuseUnlessAllowed(request, Operation::kRead, "reading revisions")) return *refused;
  Result<RevisionRecord> revision = store_.FindRevision(std::stoll(request.path_parameters.at(0)));
  if (!revision.ok()) {
    int status = revision.status().code() == StatusCode::kNotFound ? 404 : 500;
    return ErrorResponse(status, revision.status().message());
  }
  Result<std::vector<SourceFile>> documents = DocumentsFromJson(revision->documents);
  if (!documents.ok()) return ErrorResponse(500, "internal error: " + documents.status().message());
  Json body = RevisionSummaryJson(SummarizeRevision(*revision));
  Json list = Json::array();
  for (const SourceFile& document : *documents) list.push_back(Json{{"path", document.path}, {"content", document.content}});
  body["documents"] = std::move(list);
  return JsonResponse(200, body);
}

HttpResponse FleetRoutes::HandleRollback(const HttpRequest& request) {
  if (auto refused = RefuseUnlessAllowed(request, Operation::kPreview, "rolling back")) return *refused;
  Result<Json> body = request.body.empty() ? Result<Json>(Json::object()) : ParseJsonObject(request.body, kRequestMaxDepth);
  if (!body.ok()) return ErrorResponse(400, body.status().message());
  RevisionRequest rollback;
  rollback.applied_by = IdentityUri(*request.identity);
  if (Status flags = ReadRevisionFlags(*body, rollback); !flags.ok()) return ErrorResponse(400, flags.message());
  if (auto refused = RefuseUnlessAllowed(request, UploadOperation(rollback), "rolling back (dryRun: false)")) {
    return *refused;
  }
  Result<RevisionOutcome> outcome = service_.Rollback(std::stoll(request.path_parameters.at(0)), std::move(rollback));
  if (!outcome.ok() && outcome.status().code() == StatusCode::kNotFound) {
    return ErrorResponse(404, outcome.status().message());
  }
  return OutcomeResponse(outcome);
}

HttpResponse FleetRoutes::HandleStatus(const HttpRequest& request) {
  if (auto refused = RefuseUnlessAllowed(request, Operation::kRead, "reading the status")) return *refused;
  // ?after=VERSION&wait=S: answer once the snapshot's version differs from VERSION (at once
  // when it already does, e.g. after a restart), or after S seconds with the same version.
  Result<int64_t> after = QueryInteger(request, "after", -1);
  if (!after.ok()) return ErrorResponse(400, after.status().message());
  Result<int64_t> wait = QueryInteger(request, "wait", kDefaultPollWaitSeconds);
  if (!wait.ok()) return ErrorResponse(400, wait.status().message());
  Result<EventPage> page = ReadEventPage(request);
  if (!page.ok()) return ErrorResponse(400, page.status().message());
  auto answer = [this, page = *page](const LongPollHub::WaitResult& waited) {
    if (waited.outcome == LongPollHub::WaitOutcome::kShutdown) return ErrorResponse(503, "the reconciler is stopping");
    Result<std::string> body = service_.StatusJson(page);
    if (!body.ok()) return ErrorResponse(500, "internal error: " + body.status().message());
    return HttpResponse{200, "application/json", std::move(body).value()};
  };
  if (*after >= 0 && static_cast<std::uint64_t>(*after) == service_.StatusVersion() && *wait > 0) {
    // Parked on the hub, holding no thread, until the version moves on or the wait ends.
    return ParkedResponse(LongPoll{kStatusPollKey, static_cast<std::uint64_t>(*after),
                                   std::chrono::seconds(std::min(*wait, kMaxPollWaitSeconds)), answer});
  }
  return answer(LongPollHub::WaitResult{LongPollHub::WaitOutcome::kNewer, service_.StatusVersion()});
}

// Any certificate the CA signed may ask: `wwctl version` of a viewer, an agent's support dump.
HttpResponse FleetRoutes::HandleVersion(const HttpRequest& request) {
  if (!request.identity) return ErrorResponse(401, "a client certificate is required");
  return JsonResponse(200, Json{{"version", version_}, {"wireFormat", kWireFormatVersion}});
}

HttpResponse FleetRoutes::HandleDeleteAgent(const HttpRequest& request) {
  if (auto refused = RefuseUnlessAllowed(request, Operation::kChange, "deleting an agent")) return *refused;
  const std::string& name = request.path_parameters.at(0);
  Result<DeletedAgent> deleted = service_.DeleteAgent(name, IdentityUri(*request.identity));
  if (!deleted.ok()) {
    if (deleted.status().code() == StatusCode::kNotFound) return ErrorResponse(404, deleted.status().message());
    return ErrorResponse(500, "internal error: " + deleted.status().message());
  }
  return JsonResponse(200, Json{{"agent", name}, {"deletedAt", deleted->deleted_at}, {"enrollCommand", deleted->enroll_command}});
}

HttpResponse FleetRoutes::PlanAnswer(const std::string& agent) {
  std::optional<std::string> body = service_.PlanAnswer(agent);
  if (!body) return HttpResponse{204, "application/json", ""};
  return HttpResponse{200, "application/json", std::move(*body)};
}

HttpResponse FleetRoutes::HandlePlan(const HttpRequest& request) {
  const std::string& name = request.path_parameters.at(0);
  if (auto refused = RefuseUnlessAgent(request, name)) return *refused;
  Result<int64_t> after = QueryInteger(request, "after", 0);
  if (!after.ok()) return ErrorResponse(400, after.status().message());
  Result<int64_t> wait = QueryInteger(request, "wait", kDefaultPollWaitSeconds);
  if (!wait.ok()) return ErrorResponse(400, wait.status().message());
  int64_t wait_seconds = std::min(*wait, kMaxPollWaitSeconds);
  Result<PlanPollStart> start = service_.StartPlanPoll(name, *after);
  if (!start.ok()) return ErrorResponse(401, start.status().message());
  if (start->ready) return PlanAnswer(name);
  // Parked on the hub, holding no thread, until a newer generation, a revocation or the wait ends.
  return ParkedResponse(LongPoll{
      name, static_cast<std::uint64_t>(start->wait_after), std::chrono::seconds(wait_seconds),
      [this, name](const LongPollHub::WaitResult& waited) {
        switch (waited.outcome) {
          case LongPollHub::WaitOutcome::kNewer: return PlanAnswer(name);
          case LongPollHub::WaitOutcome::kTimedOut: return HttpResponse{204, "application/json", ""};
          case LongPollHub::WaitOutcome::kRevoked: return ErrorResponse(401, "agent \"" + name + "\" is deleted");
          case LongPollHub::WaitOutcome::kShutdown: return ErrorResponse(503, "the reconciler is stopping");
        }
        return HttpResponse{204, "application/json", ""};
      }});
}

HttpResponse FleetRoutes::HandleReport(const HttpRequest& request) {
  const std::string& name = request.path_parameters.at(0);
  if (auto refused = RefuseUnlessAgent(request, name)) return *refused;
  Result<ReceivedReport> report = ParseReceivedReport(request.body);
  if (!report.ok()) return ErrorResponse(400, report.status().message());
  if (Status recorded = service_.RecordReport(name, std::move(report).value()); !recorded.ok()) {
    if (recorded.code() == StatusCode::kNotFound) return ErrorResponse(401, recorded.message());
    if (recorded.code() == StatusCode::kInvalidArgument) return ErrorResponse(400, recorded.message());
    return ErrorResponse(500, "internal error: " + recorded.message());
  }
  return HttpResponse{204, "application/json", ""};
}

// 429 with Retry-After while the agent's newest certificate is younger than kRenewalInterval.
std::optional<HttpResponse> FleetRoutes::RenewalRateLimited(const std::string& name, const std::string& agent_id) {
  Result<std::optional<int64_t>> refused_until = service_.RenewalRefusedUntil(agent_id);
  if (!refused_until.ok()) return ErrorResponse(500, "internal error: " + refused_until.status().message());
  if (!*refused_until) return std::nullopt;
  const int64_t wait = std::max<int64_t>(1, **refused_until - now_());
  HttpResponse limited = ErrorResponse(
      429, "agent \"" + name + "\" got a certificate less than " +
               std::to_string(std::chrono::duration_cast<std::chrono::minutes>(kRenewalInterval).count()) +
               " minutes ago; renew again in " + std::to_string(wait) + " s (keep using the current certificate)");
  limited.headers.emplace_back("Retry-After", std::to_string(wait));
  return limited;
}

HttpResponse FleetRoutes::HandleRenewal(const HttpRequest& request) {
  const std::string& name = request.path_parameters.at(0);
  if (auto refused = RefuseUnlessAgent(request, name)) return *refused;
  Result<Json> body = ParseJsonObject(request.body, kRequestMaxDepth);
  if (!body.ok()) return ErrorResponse(400, body.status().message());
  Result<std::string> csr = OptionalText(*body, "csr");
  if (!csr.ok() || csr->empty()) return ErrorResponse(400, "field \"csr\" is required");
  Result<std::string> agent_id = service_.EnrolledAgentId(name);
  if (!agent_id.ok()) return ErrorResponse(401, agent_id.status().message());
  if (std::optional<HttpResponse> limited = RenewalRateLimited(name, *agent_id)) return *limited;
  // The identity is the caller's own. The old certificate stays valid until the new one is
  // first used (FleetService::CertificateUsed).
  Result<IssuedCertificate> issued = ca_.IssueClient(*csr, *request.identity, now_());
  if (!issued.ok()) return ErrorResponse(400, "field \"csr\" refused: " + issued.status().message());
  CertificateRecord record{issued->serial_hex, *agent_id, IdentityUri(*request.identity), CertificateRole::kAgent,
                           issued->not_before, issued->not_after, std::nullopt};
  if (Status stored = store_.InsertCertificate(record); !stored.ok()) {
    return ErrorResponse(500, "internal error: " + stored.message());
  }
  return JsonResponse(200, Json{{"certificate", issued->pem}});
}

}  // namespace ww
