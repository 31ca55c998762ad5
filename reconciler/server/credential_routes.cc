// Credential routes: see credential_routes.h. JSON stays in this file.

#include "reconciler/server/credential_routes.h"

#include <cctype>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "reconciler/server/http_json.h"
#include "schema/model.h"

namespace ww {
namespace {

using Json = nlohmann::json;

constexpr int kMaxJsonDepth = 4;
constexpr std::size_t kCredentialMaxBody = 16 * 1024;

struct RoleChoice {
  IdentityKind kind;
  CertificateRole role;
};

Result<RoleChoice> ParseRole(const std::string& text) {
  if (text == "admin") return RoleChoice{IdentityKind::kAdmin, CertificateRole::kAdmin};
  if (text == "viewer") return RoleChoice{IdentityKind::kViewer, CertificateRole::kViewer};
  if (text == "ci") return RoleChoice{IdentityKind::kCi, CertificateRole::kCi};
  return Status::InvalidArgument("field \"role\" must be \"admin\", \"viewer\" or \"ci\", not \"" + text + "\"");
}

// "revoked", "expired" or "active", in that order of precedence.
const char* CertificateState(const CertificateRecord& certificate, std::int64_t now) {
  if (certificate.revoked_at) return "revoked";
  if (certificate.not_after <= now) return "expired";
  return "active";
}

Json OptionalTime(const std::optional<std::int64_t>& at) { return at ? Json(*at) : Json(nullptr); }

// 404 for kNotFound, 409 for kFailedPrecondition (a taken name, the last admin), else 500.
HttpResponse StoreError(const Status& status) {
  if (status.code() == StatusCode::kNotFound) return ErrorResponse(404, status.message());
  if (status.code() == StatusCode::kFailedPrecondition) return ErrorResponse(409, status.message());
  return ErrorResponse(500, "internal error: " + status.message());
}

class CredentialRoutes {
 public:
  CredentialRoutes(const CertificateAuthority& ca, Store& store, RevokedSerials& revoked, CredentialOptions options)
      : ca_(ca), store_(store), revoked_(revoked), options_(std::move(options)) {}

  HttpResponse Create(const HttpRequest& request) const {
    if (auto refused = RefuseUnlessAllowed(request, Operation::kManageAccess, "creating credentials")) return *refused;
    Result<Json> body = ParseJsonObject(request.body, kMaxJsonDepth);
    if (!body.ok()) return ErrorResponse(400, body.status().message());
    Result<std::string> name = OptionalText(*body, "name");
    Result<std::string> role_text = OptionalText(*body, "role");
    Result<std::string> csr = OptionalText(*body, "csr");
    for (const Status& status : {name.status(), role_text.status(), csr.status()}) {
      if (!status.ok()) return ErrorResponse(400, status.message());
    }
    if (!IsValidName(*name)) {
      return ErrorResponse(400, "field \"name\" must match ^[a-z0-9][a-z0-9-]{0,62}$, not \"" + *name + "\"");
    }
    Result<RoleChoice> role = ParseRole(*role_text);
    if (!role.ok()) return ErrorResponse(400, role.status().message());
    if (csr->empty()) return ErrorResponse(400, "field \"csr\" is required");
    Result<std::int64_t> ttl = OptionalInteger(*body, "ttlSeconds", kDefaultCredentialLifetime.count(),
                                               kMinCredentialLifetime.count(), kMaxCredentialLifetime.count());
    if (!ttl.ok()) return ErrorResponse(400, ttl.status().message());

    std::int64_t now = options_.now();
    Identity identity{role->kind, *name, options_.fleet};
    Result<IssuedCertificate> issued = ca_.IssueClient(*csr, identity, now, std::chrono::seconds(*ttl));
    if (!issued.ok()) return ErrorResponse(400, "field \"csr\" refused: " + issued.status().message());
    CredentialRecord credential{*name,
                                CertificateRecord{issued->serial_hex, std::nullopt, IdentityUri(identity), role->role,
                                                  issued->not_before, issued->not_after, std::nullopt},
                                IdentityUri(*request.identity), std::nullopt};
    if (Status stored = store_.CreateCredential(credential, now); !stored.ok()) return StoreError(stored);
    Json answer = ToJson(credential, now);
    answer["certificate"] = issued->pem;
    return JsonResponse(200, answer);
  }

  HttpResponse List(const HttpRequest& request) const {
    if (auto refused = RefuseUnlessAllowed(request, Operation::kManageAccess, "listing credentials")) return *refused;
    if (options_.use != nullptr) {
      if (Status recorded = store_.RecordCertificateUse(options_.use->Take()); !recorded.ok()) {
        return ErrorResponse(500, "internal error: " + recorded.message());
      }
    }
    Result<std::vector<CredentialRecord>> credentials = store_.ListCredentials();
    if (!credentials.ok()) return ErrorResponse(500, "internal error: " + credentials.status().message());
    std::int64_t now = options_.now();
    Json list = Json::array();
    for (const CredentialRecord& credential : *credentials) list.push_back(ToJson(credential, now));
    return JsonResponse(200, Json{{"credentials", std::move(list)}});
  }

  HttpResponse Revoke(const HttpRequest& request) const {
    if (auto refused = RefuseUnlessAllowed(request, Operation::kManageAccess, "revoking credentials")) return *refused;
    const std::string& name = request.path_parameters.at(0);
    std::int64_t now = options_.now();
    Result<std::vector<std::string>> revoked = store_.RevokeCredential(name, now);
    if (!revoked.ok()) return StoreError(revoked.status());
    if (Status reloaded = ReloadRevoked(); !reloaded.ok()) return StoreError(reloaded);
    return JsonResponse(200, Json{{"name", name}, {"revokedAt", now}, {"serials", *revoked}});
  }

  HttpResponse RevokeSerial(const HttpRequest& request) const {
    if (auto refused = RefuseUnlessAllowed(request, Operation::kManageAccess, "revoking certificates")) return *refused;
    std::string serial = request.path_parameters.at(0);
    for (char& c : serial) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::int64_t now = options_.now();
    if (Status revoked = store_.RevokeCertificate(serial, now); !revoked.ok()) return StoreError(revoked);
    if (Status reloaded = ReloadRevoked(); !reloaded.ok()) return StoreError(reloaded);
    return JsonResponse(200, Json{{"serial", serial}, {"revokedAt", now}});
  }

 private:
  Status ReloadRevoked() const {
    WW_ASSIGN_OR_RETURN(std::vector<std::string> serials, store_.ListRevokedSerials());
    revoked_.Replace(std::move(serials));
    return Status::Ok();
  }

  static Json ToJson(const CredentialRecord& credential, std::int64_t now) {
    const CertificateRecord& certificate = credential.certificate;
    return Json{{"name", credential.name},
                {"role", CertificateRoleName(certificate.role)},
                {"identity", certificate.subject},
                {"serial", certificate.serial},
                {"state", CertificateState(certificate, now)},
                {"notBefore", certificate.not_before},
                {"notAfter", certificate.not_after},
                {"revokedAt", OptionalTime(certificate.revoked_at)},
                {"lastUsed", OptionalTime(credential.last_used_at)},
                {"createdBy", credential.created_by}};
  }

  const CertificateAuthority& ca_;
  Store& store_;
  RevokedSerials& revoked_;
  CredentialOptions options_;
};

}  // namespace

Status RegisterCredentialRoutes(HttpsServer& server, const CertificateAuthority& ca, Store& store,
                                RevokedSerials& revoked, CredentialOptions options) {
  if (!options.now) return Status::InvalidArgument("credentials need a clock");
  auto routes = std::make_shared<const CredentialRoutes>(ca, store, revoked, std::move(options));
  RouteOptions small{ClientCertificate::kRequired, kCredentialMaxBody};
  const std::string credential = "/v1/credentials/([a-z0-9][a-z0-9-]{0,62})";
  const std::string certificate = "/v1/certificates/([0-9a-fA-F]{1,64})";
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kPost, "/v1/credentials", small,
                                  [routes](const HttpRequest& request) { return routes->Create(request); }));
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kGet, "/v1/credentials", small,
                                  [routes](const HttpRequest& request) { return routes->List(request); }));
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kDelete, credential, small,
                                  [routes](const HttpRequest& request) { return routes->Revoke(request); }));
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kDelete, certificate, small,
                                  [routes](const HttpRequest& request) { return routes->RevokeSerial(request); }));
  return server.Route(HttpMethod::kPost, certificate + "/revoke", small,
                      [routes](const HttpRequest& request) { return routes->RevokeSerial(request); });
}

}  // namespace ww
