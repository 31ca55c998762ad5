#include "reconciler/server/enrollment.h"

#include "reconciler/server/http_json.h"
#include "schema/model.h"

#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "reconciler/pki/token.h"
#include "schema/net.h"

namespace ww {
namespace {

using Json = nlohmann::json;

constexpr int kMaxJsonDepth = 4;
constexpr std::size_t kMaxFieldLength = 8 * 1024;

// A string field: nullopt when absent; an error when present but not a short string.
Result<std::optional<std::string>> OptionalString(const Json& object, const char* field) {
  auto found = object.find(field);
  if (found == object.end() || found->is_null()) return std::optional<std::string>();
  if (!found->is_string()) return Status::InvalidArgument(std::string("field \"") + field + "\" must be a string");
  std::string value = found->get<std::string>();
  if (value.size() > kMaxFieldLength) {
    return Status::InvalidArgument(std::string("field \"") + field + "\" is too long");
  }
  return std::optional<std::string>(std::move(value));
}

Result<std::string> RequiredString(const Json& object, const char* field) {
  WW_ASSIGN_OR_RETURN(std::optional<std::string> value, OptionalString(object, field));
  if (!value || value->empty()) return Status::InvalidArgument(std::string("field \"") + field + "\" is required");
  return *value;
}

Result<TokenType> ParseTokenType(const std::string& text, const char* field) {
  if (text == "server") return TokenType::kServer;
  if (text == "client") return TokenType::kClient;
  return Status::InvalidArgument(std::string("field \"") + field + "\" must be \"server\" or \"client\", not \"" +
                                 text + "\"");
}

// "revoked", "used", "expired" or "active", in that order of precedence.
const char* TokenState(const TokenRecord& token, std::int64_t now) {
  if (token.revoked_at) return "revoked";
  if (token.used_at) return "used";
  if (token.expires_at <= now) return "expired";
  return "active";
}

class EnrollmentRoutes {
 public:
  EnrollmentRoutes(const CertificateAuthority& ca, Store& store, EnrollmentOptions options)
      : ca_(ca), store_(store), options_(std::move(options)) {}

  HttpResponse GetCa(const HttpRequest&) const {
    return HttpResponse{200, "application/x-pem-file", ca_.CertificatePem()};
  }

  HttpResponse CreateToken(const HttpRequest& request) const {
    if (auto refused = RefuseUnlessAllowed(request, Operation::kManageAccess, "creating tokens")) return *refused;
    if (options_.allow_attempt && !options_.allow_attempt("tokens:" + IdentityUri(*request.identity))) {
      return ErrorResponse(429, "too many tokens created; retry in a minute");
    }
    Result<Json> body = ParseJsonObject(request.body, kMaxJsonDepth);
    if (!body.ok()) return ErrorResponse(400, body.status().message());
    Result<std::string> type_text = RequiredString(*body, "type");
    if (!type_text.ok()) return ErrorResponse(400, type_text.status().message());
    Result<TokenType> type = ParseTokenType(*type_text, "type");
    if (!type.ok()) return ErrorResponse(400, type.status().message());
    Result<std::optional<std::string>> name = OptionalString(*body, "name");
    if (!name.ok()) return ErrorResponse(400, name.status().message());
    if (name->has_value() && !IsValidAgentName(**name)) {
      return ErrorResponse(400, "field \"name\" must match ^[a-z0-9][a-z0-9-]{0,62}$, not \"" + **name + "\"");
    }
    Result<std::int64_t> ttl_field =
        OptionalInteger(*body, "ttlSeconds", kDefaultTokenTtlSeconds, kMinTokenTtlSeconds, kMaxTokenTtlSeconds);
    if (!ttl_field.ok()) return ErrorResponse(400, ttl_field.status().message());
    std::int64_t ttl = *ttl_field;

    Result<GeneratedToken> token = GenerateToken();
    if (!token.ok()) return ErrorResponse(500, "internal error");
    std::int64_t now = options_.now();
    TokenRecord record;
    record.id = token->id;
    record.secret_sha256 = token->secret_sha256;
    record.type = *type;
    record.name = name->value_or("");
    record.created_by = IdentityUri(*request.identity);
    record.created_at = now;
    record.expires_at = now + ttl;
    if (Status stored = store_.CreateToken(record); !stored.ok()) return ErrorResponse(500, "internal error");

    std::string command = "wirewarp-agent enroll --url " + options_.advertise_url +
                          " --token-file TOKEN_FILE --ca-pin " + options_.ca_pin + " --mode " + *type_text +
                          " --state-dir " + kDefaultAgentStateDir;
    if (!record.name.empty()) command += " --name " + record.name;
    std::vector<std::string> warnings;
    if (options_.token_warnings) warnings = options_.token_warnings(record.type, record.name);
    return JsonResponse(200, Json{{"token", token->text},
                                  {"id", token->id},
                                  {"expiresAt", record.expires_at},
                                  {"installCommand", command},
                                  {"warnings", warnings}});
  }

  HttpResponse ListTokens(const HttpRequest& request) const {
    if (auto refused = RefuseUnlessAllowed(request, Operation::kManageAccess, "listing tokens")) return *refused;
    Result<std::vector<TokenRecord>> tokens = store_.ListTokens();
    if (!tokens.ok()) return ErrorResponse(500, "internal error");
    std::int64_t now = options_.now();
    Json list = Json::array();
    for (const TokenRecord& token : *tokens) {
      // Never the secret's hash: it is the only thing standing in for the secret.
      list.push_back(Json{{"id", token.id},
                          {"type", token.type == TokenType::kServer ? "server" : "client"},
                          {"name", token.name},
                          {"state", TokenState(token, now)},
                          {"createdBy", token.created_by},
                          {"createdAt", token.created_at},
                          {"expiresAt", token.expires_at},
                          {"usedAt", token.used_at ? Json(*token.used_at) : Json(nullptr)},
                          {"revokedAt", token.revoked_at ? Json(*token.revoked_at) : Json(nullptr)}});
    }
    return JsonResponse(200, Json{{"tokens", std::move(list)}});
  }

  HttpResponse RevokeToken(const HttpRequest& request) const {
    if (auto refused = RefuseUnlessAllowed(request, Operation::kManageAccess, "revoking tokens")) return *refused;
    const std::string& id = request.path_parameters.at(0);
    Status revoked = store_.RevokeToken(id, options_.now());
    if (revoked.code() == StatusCode::kNotFound) return ErrorResponse(404, revoked.message());
    if (revoked.code() == StatusCode::kFailedPrecondition) return ErrorResponse(409, revoked.message());
    if (!revoked.ok()) return ErrorResponse(500, "internal error");
    return HttpResponse{204, "application/json", ""};
  }

  HttpResponse Enroll(const HttpRequest& request) const {
    if (options_.allow_attempt && !options_.allow_attempt("enroll:" + request.remote_addr)) {
      return ErrorResponse(429, "too many enrollment attempts from " + request.remote_addr + "; retry in a minute");
    }
    Result<Json> body = ParseJsonObject(request.body, kMaxJsonDepth);
    if (!body.ok()) return ErrorResponse(400, body.status().message());
    Result<std::string> token_text = RequiredString(*body, "token");
    Result<std::string> csr = RequiredString(*body, "csr");
    Result<std::string> key_text = RequiredString(*body, "wireguardPublicKey");
    Result<std::string> hostname = RequiredString(*body, "hostname");
    Result<std::string> mode_text = RequiredString(*body, "mode");
    Result<std::optional<std::string>> requested_name = OptionalString(*body, "name");
    Result<std::optional<std::string>> version = OptionalString(*body, "version");
    for (const Status& status : {token_text.status(), csr.status(), key_text.status(), hostname.status(),
                                 mode_text.status(), requested_name.status(), version.status()}) {
      if (!status.ok()) return ErrorResponse(400, status.message());
    }
    Result<ParsedToken> token = ParseToken(*token_text);
    if (!token.ok()) return ErrorResponse(401, kTokenRefusedMessage);
    Result<TokenType> mode = ParseTokenType(*mode_text, "mode");
    if (!mode.ok()) return ErrorResponse(400, mode.status().message());
    Result<WireguardKey> wireguard_key = WireguardKey::Parse(*key_text);
    if (!wireguard_key.ok() || wireguard_key->IsZero()) {
      return ErrorResponse(400, "field \"wireguardPublicKey\" must be 32 non-zero bytes in base64");
    }
    std::string name;
    if (requested_name->has_value()) {
      name = **requested_name;
      if (!IsValidAgentName(name)) {
        return ErrorResponse(400, "field \"name\" must match ^[a-z0-9][a-z0-9-]{0,62}$, not \"" + name + "\"");
      }
    } else {
      name = AgentNameFromHostname(*hostname);
      if (name.empty()) return ErrorResponse(400, "no agent name can be made from hostname \"" + *hostname + "\"");
    }

    std::int64_t now = options_.now();
    // A bad token costs a lookup, not a signature.
    if (!store_.CheckToken(token->id, token->secret_sha256, now).ok()) return ErrorResponse(401, kTokenRefusedMessage);
    Identity identity{IdentityKind::kAgent, name, options_.fleet};
    Result<IssuedCertificate> issued = ca_.IssueClient(*csr, identity, now);
    if (!issued.ok()) return ErrorResponse(400, "field \"csr\" refused: " + issued.status().message());
    Result<std::string> spki = SpkiPin(issued->pem);
    if (!spki.ok()) return ErrorResponse(500, "internal error");

    AgentRecord agent;
    agent.id = name;  // the first enrollment's id; the store numbers later ones
    agent.name = name;
    agent.role = *mode == TokenType::kServer ? AgentRole::kServer : AgentRole::kClient;
    agent.wireguard_public_key = *wireguard_key;
    agent.hostname = *hostname;
    agent.version = version->value_or("");
    agent.created_at = now;
    CertificateRecord certificate{issued->serial_hex, name, IdentityUri(identity), CertificateRole::kAgent,
                                  issued->not_before, issued->not_after, std::nullopt};
    Result<TokenRecord> enrolled =
        store_.Enroll(token->id, token->secret_sha256, now, *spki, agent, certificate);
    if (!enrolled.ok()) {
      std::string message = enrolled.status().message();
      if (message == kTokenRefusedMessage) return ErrorResponse(401, kTokenRefusedMessage);
      // The transaction rolled back, so the token is still usable with other values.
      if (enrolled.status().code() == StatusCode::kFailedPrecondition) return ErrorResponse(403, message);
      // Only agents not deleted hold a name or key (store.h): say which one, and how to free it.
      if (message.find("agents.wireguard_public_key") != std::string::npos) {
        return ErrorResponse(409, "WireGuard public key \"" + *key_text + "\" is already enrolled" +
                                      HolderOfKey(*wireguard_key));
      }
      if (message.find("agents.name") != std::string::npos || message.find("agents.id") != std::string::npos) {
        return ErrorResponse(409, "agent name \"" + name + "\" is taken by an enrolled agent; to replace it, run "
                                  "`wwctl agent delete " + name + "` first");
      }
      return ErrorResponse(500, "internal error");
    }
    if (options_.on_enrolled) options_.on_enrolled(name);
    return JsonResponse(200, Json{{"certificate", issued->pem}, {"agent", name}});
  }

 private:
  // " by agent \"NAME\"; ..." for the enrolled agent holding `key`, else "".
  std::string HolderOfKey(const WireguardKey& key) const {
    Result<std::vector<AgentRecord>> agents = store_.ListAgents();
    if (!agents.ok()) return "";
    for (const AgentRecord& agent : *agents) {
      if (agent.wireguard_public_key == key) {
        return " by agent \"" + agent.name + "\"; to move it to another name, run `wwctl agent delete " +
               agent.name + "` first";
      }
    }
    return "";
  }

  const CertificateAuthority& ca_;
  Store& store_;
  EnrollmentOptions options_;
};

}  // namespace

bool IsValidAgentName(std::string_view name) { return IsValidName(name); }

std::string AgentNameFromHostname(std::string_view hostname) {
  std::string name;
  for (char c : hostname) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool alphanumeric = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    name += alphanumeric ? c : '-';
  }
  std::size_t first = name.find_first_not_of('-');
  if (first == std::string::npos) return "";
  name.erase(0, first);
  if (name.size() > 63) name.resize(63);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name;
}

Status RegisterEnrollmentRoutes(HttpsServer& server, const CertificateAuthority& ca, Store& store,
                                EnrollmentOptions options) {
  if (!options.now) return Status::InvalidArgument("enrollment needs a clock");
  auto routes = std::make_shared<const EnrollmentRoutes>(ca, store, std::move(options));
  RouteOptions anonymous{ClientCertificate::kOptional, kEnrollmentMaxBody};
  RouteOptions authenticated{ClientCertificate::kRequired, kEnrollmentMaxBody};
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kGet, "/v1/ca", anonymous,
                                  [routes](const HttpRequest& request) { return routes->GetCa(request); }));
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kPost, "/v1/tokens", authenticated,
                                  [routes](const HttpRequest& request) { return routes->CreateToken(request); }));
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kGet, "/v1/tokens", authenticated,
                                  [routes](const HttpRequest& request) { return routes->ListTokens(request); }));
  // Token ids are the "<id>" of "wwt_<id>_<secret>": lowercase hex (pki/token.h).
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kDelete, "/v1/tokens/([0-9a-z]{1,64})", authenticated,
                                  [routes](const HttpRequest& request) { return routes->RevokeToken(request); }));
  return server.Route(HttpMethod::kPost, "/v1/enroll", anonymous,
                      [routes](const HttpRequest& request) { return routes->Enroll(request); });
}

}  // namespace ww
