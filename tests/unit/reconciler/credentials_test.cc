// Credentials for people and CI over real TLS on 127.0.0.1: POST/GET/DELETE /v1/credentials
// and revocation by serial with a Bootstrap data directory, the FleetService's routes and the
// real ApiClient. Covers the role table on the real routes (viewer reads, ci previews, only
// admin changes), refusals naming the field, revocation taking effect on an open connection,
// and the last admin that must remain.

#include <filesystem>
#include <fstream>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reconciler/api/https_server.h"
#include "reconciler/client/api_client.h"
#include "reconciler/server/bootstrap.h"
#include "reconciler/server/certificate_use.h"
#include "reconciler/server/credential_routes.h"
#include "reconciler/server/enrollment.h"
#include "reconciler/server/fleet_service.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/test_files.h"
#include "tests/support/test_values.h"

namespace ww {
namespace {

using Json = nlohmann::json;
using test_support::ReadText;
using test_support::TemporaryDirectory;
using test_support::UnixNow;
using test_support::YamlBlock;

struct Credentials {
  std::string certificate_pem;
  std::string key_pem;
};

constexpr const char* kFleet = R"(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: lab
spec:
  agent: vps
  endpoint: 203.0.113.10:51820
  network: 10.77.0.0/24
)";

// The fleet, or with `port` instead of 51820 a changed one.
Json Upload(bool dry_run, const std::string& port = "51820") {
  std::string content = kFleet;
  content.replace(content.find("51820"), 5, port);
  return Json{{"documents", Json::array({Json{{"path", "fleet.yaml"}, {"content", content}}})}, {"dryRun", dry_run}};
}

// A reconciler on an ephemeral port with the fleet, enrollment and credential routes.
struct Reconciler {
  TemporaryDirectory directory;
  const std::int64_t clock_start = UnixNow();
  std::atomic<std::int64_t> clock_offset{0};
  Bootstrap bootstrap;
  RevokedSerials revoked;
  CertificateUse use;
  std::unique_ptr<HttpsServer> server;
  std::unique_ptr<FleetService> service;
  std::string url;
  Credentials admin;

  Reconciler() {
    // Seeded as an install made before fleet ids, so the messages below read "default".
    std::filesystem::create_directories(directory.path() + "/data");
    std::filesystem::permissions(directory.path() + "/data", std::filesystem::perms::owner_all);
    std::ofstream(directory.path() + "/data/fleet-id") << "default\n";
    Result<Bootstrap> opened = Bootstrap::Open(directory.path() + "/data", "https://127.0.0.1:8443", UnixNow());
    REQUIRE(opened.ok());
    bootstrap = std::move(opened).value();
    HttpsServerOptions options;
    options.server_certificate_pem = bootstrap.server_certificate_pem;
    options.server_private_key_pem = bootstrap.server_private_key_pem;
    options.worker_threads = 4;
    options.is_revoked = [this](const std::string& serial) { return revoked.Contains(serial); };
    options.fleet = bootstrap.fleet;
    options.on_authenticated = [this](const Identity& identity, const std::string& serial) {
      if (identity.kind != IdentityKind::kAgent) use.Record(serial, Now());
    };
    Result<std::unique_ptr<HttpsServer>> created = HttpsServer::Create(*bootstrap.ca, std::move(options));
    REQUIRE(created.ok());
    server = std::move(created).value();
    FleetServiceOptions service_options;
    service_options.now = [this] { return Now(); };
    service = std::make_unique<FleetService>(*bootstrap.store, *bootstrap.ca, *server, revoked, service_options);
    REQUIRE(service->Start().ok());
    EnrollmentOptions enrollment{"https://127.0.0.1:8443", bootstrap.ca_pin, bootstrap.fleet,
                                 [this] { return Now(); }};
    REQUIRE(RegisterEnrollmentRoutes(*server, *bootstrap.ca, *bootstrap.store, enrollment).ok());
    CredentialOptions credentials{bootstrap.fleet, [this] { return Now(); }, &use};
    REQUIRE(RegisterCredentialRoutes(*server, *bootstrap.ca, *bootstrap.store, revoked, credentials).ok());
    Result<int> port = server->Start("127.0.0.1", 0);
    REQUIRE(port.ok());
    url = "https://127.0.0.1:" + std::to_string(*port);
    std::string yaml = ReadText(bootstrap.admin_config_path);
    admin = Credentials{YamlBlock(yaml, "clientCertificate"), YamlBlock(yaml, "clientKey")};
  }
  ~Reconciler() {
    server->Stop();
    service->Stop();
  }

  std::int64_t Now() const { return clock_start + clock_offset.load(); }

  std::unique_ptr<ApiClient> Client(const Credentials& credentials) const {
    Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(
        ApiClientOptions{url, bootstrap.ca->CertificatePem(), credentials.certificate_pem, credentials.key_pem});
    REQUIRE(client.ok());
    return std::move(client).value();
  }

  static ApiResponse Call(ApiClient& client, const std::string& method, const std::string& path,
                          const Json& body = nullptr) {
    Result<ApiResponse> response = method == "GET"      ? client.Get(path)
                                   : method == "DELETE" ? client.Delete(path)
                                                        : client.Post(path, body.is_null() ? "" : body.dump());
    REQUIRE_MESSAGE(response.ok(), response.status().ToString());
    return *response;
  }

  ApiResponse Call(const Credentials& who, const std::string& method, const std::string& path,
                   const Json& body = nullptr) const {
    return Call(*Client(who), method, path, body);
  }

  // POST /v1/credentials as `who` with a key made here; the answer and the credentials.
  std::pair<Json, Credentials> Create(const std::string& name, const std::string& role, const Credentials& who,
                                      Json extra = Json::object()) const {
    Result<std::string> key = GenerateP256Key();
    REQUIRE(key.ok());
    extra["name"] = name;
    extra["role"] = role;
    extra["csr"] = *MakeCsr(*key, name);
    ApiResponse response = Call(who, "POST", "/v1/credentials", extra);
    REQUIRE_MESSAGE(response.status == 200, response.body);
    Json answer = Json::parse(response.body);
    return {answer, Credentials{answer["certificate"], *key}};
  }
  Credentials Create(const std::string& name, const std::string& role) const {
    return Create(name, role, admin).second;
  }

  // An enrolled agent with its certificate, stored as enrollment stores it.
  Credentials Agent(const std::string& name) {
    Result<std::string> key = GenerateP256Key();
    Identity identity{IdentityKind::kAgent, name, std::string(kDefaultFleet)};
    Result<IssuedCertificate> issued = bootstrap.ca->IssueClient(*MakeCsr(*key, name), identity, Now());
    REQUIRE(issued.ok());
    REQUIRE(bootstrap.store
                ->InsertAgent(AgentRecord{name, name, AgentRole::kServer, test_support::Key(7), name, "0.1.0", Now(),
                                          std::nullopt})
                .ok());
    REQUIRE(bootstrap.store
                ->InsertCertificate(CertificateRecord{issued->serial_hex, name, IdentityUri(identity),
                                                      CertificateRole::kAgent, issued->not_before, issued->not_after,
                                                      std::nullopt})
                .ok());
    REQUIRE(service->AgentEnrolled(name).ok());
    return Credentials{issued->pem, *key};
  }
};

std::string Error(const ApiResponse& response) { return Json::parse(response.body).value("error", ""); }

TEST_CASE("credentials: create signs the CSR for the named role and answers the certificate") {
  Reconciler reconciler;
  auto [answer, ci] = reconciler.Create("github-ci", "ci", reconciler.admin, Json{{"ttlSeconds", 7200}});
  CHECK(answer["name"] == "github-ci");
  CHECK(answer["role"] == "ci");
  CHECK(answer["identity"] == "wirewarp://default/ci/github-ci");
  CHECK(answer["state"] == "active");
  CHECK(answer["createdBy"] == "wirewarp://default/admin/admin");
  CHECK(answer["lastUsed"].is_null());
  CHECK(answer["notAfter"].get<std::int64_t>() == reconciler.Now() + 7200);
  CHECK(answer["serial"] == *CertificateSerialHex(ci.certificate_pem));
  Result<Identity> identity = VerifyClientCertificate(*reconciler.bootstrap.ca, ci.certificate_pem, UnixNow());
  REQUIRE(identity.ok());
  CHECK(*identity == Identity{IdentityKind::kCi, "github-ci", "default"});

  // The default lifetime is 90 days.
  Json viewer = reconciler.Create("alice", "viewer", reconciler.admin).first;
  CHECK(viewer["notAfter"].get<std::int64_t>() == reconciler.Now() + 90 * 86400);
}

TEST_CASE("credentials: bad fields are 400 naming them, a taken name 409, and only an admin creates") {
  Reconciler reconciler;
  std::string csr = *MakeCsr(*GenerateP256Key(), "x");
  auto post = [&](const Json& body) {
    ApiResponse response = reconciler.Call(reconciler.admin, "POST", "/v1/credentials", body);
    return std::to_string(response.status) + " " + Error(response);
  };
  CHECK(post(Json{{"name", "Bad_Name"}, {"role", "ci"}, {"csr", csr}}) ==
        "400 field \"name\" must match ^[a-z0-9][a-z0-9-]{0,62}$, not \"Bad_Name\"");
  CHECK(post(Json{{"name", "x"}, {"role", "root"}, {"csr", csr}}) ==
        "400 field \"role\" must be \"admin\", \"viewer\" or \"ci\", not \"root\"");
  CHECK(post(Json{{"name", "x"}, {"role", "agent"}, {"csr", csr}}) ==
        "400 field \"role\" must be \"admin\", \"viewer\" or \"ci\", not \"agent\"");
  CHECK(post(Json{{"name", "x"}, {"role", "ci"}}) == "400 field \"csr\" is required");
  CHECK(post(Json{{"name", "x"}, {"role", "ci"}, {"csr", csr}, {"ttlSeconds", 60}}) ==
        "400 field \"ttlSeconds\" must be between 3600 and 71280000, not 60");
  CHECK(post(Json{{"name", "x"}, {"role", "ci"}, {"csr", "not a csr"}}).starts_with("400 field \"csr\" refused: "));
  CHECK(post(Json{{"name", "admin"}, {"role", "viewer"}, {"csr", csr}}).starts_with(
      "409 credential \"admin\" exists (certificate "));

  Credentials ci = reconciler.Create("ci", "ci");
  Credentials viewer = reconciler.Create("viewer", "viewer");
  for (const Credentials* who : {&ci, &viewer}) {
    ApiResponse refused = reconciler.Call(*who, "POST", "/v1/credentials",
                                          Json{{"name", "y"}, {"role", "admin"}, {"csr", csr}});
    CHECK(refused.status == 403);
    CHECK(Error(refused).starts_with("creating credentials needs the admin role; wirewarp://default/"));
    CHECK(reconciler.Call(*who, "GET", "/v1/credentials").status == 403);
    CHECK(reconciler.Call(*who, "DELETE", "/v1/credentials/admin").status == 403);
  }
}

TEST_CASE("credentials: viewer reads, ci reads and previews, only admin changes, on the real routes") {
  Reconciler reconciler;
  REQUIRE(reconciler.Call(reconciler.admin, "POST", "/v1/revisions", Upload(false)).status == 200);
  Credentials viewer = reconciler.Create("alice", "viewer");
  Credentials ci = reconciler.Create("github-ci", "ci");
  for (const Credentials* reader : {&viewer, &ci}) {
    CHECK(reconciler.Call(*reader, "GET", "/v1/status").status == 200);
    CHECK(reconciler.Call(*reader, "GET", "/v1/revisions").status == 200);
    CHECK(reconciler.Call(*reader, "GET", "/v1/revisions/1").status == 200);
    CHECK(reconciler.Call(*reader, "GET", "/v1/version").status == 200);
    CHECK(reconciler.Call(*reader, "POST", "/v1/tokens", Json{{"type", "client"}}).status == 403);
    CHECK(reconciler.Call(*reader, "GET", "/v1/tokens").status == 403);
    CHECK(reconciler.Call(*reader, "DELETE", "/v1/agents/vps").status == 403);
    CHECK(reconciler.Call(*reader, "POST", "/v1/certificates/01/revoke").status == 403);
  }

  ApiResponse viewer_preview = reconciler.Call(viewer, "POST", "/v1/revisions", Upload(true));
  CHECK(viewer_preview.status == 403);
  CHECK(Error(viewer_preview) == "uploading a fleet needs the ci or admin role; wirewarp://default/viewer/alice has "
                                 "the viewer role");

  ApiResponse preview = reconciler.Call(ci, "POST", "/v1/revisions", Upload(true, "51821"));
  CHECK(preview.status == 200);
  CHECK(Json::parse(preview.body)["dryRun"] == true);
  ApiResponse apply = reconciler.Call(ci, "POST", "/v1/revisions", Upload(false, "51821"));
  CHECK(apply.status == 403);
  CHECK(Error(apply) == "applying a revision (dryRun: false) needs the admin role; wirewarp://default/ci/github-ci "
                        "has the ci role (it may preview with a dry run)");
  CHECK(reconciler.Call(ci, "POST", "/v1/revisions/1/rollback", Json{{"dryRun", true}}).status == 200);
  ApiResponse rollback = reconciler.Call(ci, "POST", "/v1/revisions/1/rollback");
  CHECK(rollback.status == 403);
  CHECK(Error(rollback).starts_with("rolling back (dryRun: false) needs the admin role"));
  CHECK(reconciler.Call(viewer, "POST", "/v1/revisions/1/rollback", Json{{"dryRun", true}}).status == 403);
  // Nothing but the admin's upload became a revision.
  Json revisions = Json::parse(reconciler.Call(ci, "GET", "/v1/revisions").body);
  CHECK(revisions["revisions"].size() == 1);

  // An agent's certificate is no person's: it reads nothing.
  Credentials agent = reconciler.Agent("vps");
  CHECK(reconciler.Call(agent, "GET", "/v1/credentials").status == 403);
  CHECK(reconciler.Call(agent, "POST", "/v1/revisions", Upload(true)).status == 403);
}

TEST_CASE("credentials: the list shows every certificate with its state and last use") {
  Reconciler reconciler;
  Credentials ci = reconciler.Create("github-ci", "ci");
  reconciler.clock_offset = 30;
  CHECK(reconciler.Call(ci, "GET", "/v1/status").status == 200);
  reconciler.clock_offset = 40;
  REQUIRE(reconciler.Call(reconciler.admin, "DELETE", "/v1/credentials/github-ci").status == 200);
  Json listed = Json::parse(reconciler.Call(reconciler.admin, "GET", "/v1/credentials").body);
  REQUIRE(listed["credentials"].size() == 2);
  Json admin = listed["credentials"][0];
  CHECK(admin["name"] == "admin");
  CHECK(admin["role"] == "admin");
  CHECK(admin["createdBy"] == "");
  CHECK(admin["state"] == "active");
  CHECK(admin["lastUsed"] == reconciler.Now());  // this very request
  Json revoked = listed["credentials"][1];
  CHECK(revoked["name"] == "github-ci");
  CHECK(revoked["state"] == "revoked");
  CHECK(revoked["revokedAt"] == reconciler.clock_start + 40);
  CHECK(revoked["lastUsed"] == reconciler.clock_start + 30);
  // Kept in the store: a later list without new use shows the same.
  CHECK(reconciler.bootstrap.store->ListCredentials()->at(1).last_used_at ==
        std::optional<std::int64_t>(reconciler.clock_start + 30));
}

TEST_CASE("credentials: revoking a name refuses its next request, also on a connection already open") {
  Reconciler reconciler;
  Credentials second_admin = reconciler.Create("alice", "admin");
  std::unique_ptr<ApiClient> open = reconciler.Client(second_admin);
  REQUIRE(Reconciler::Call(*open, "GET", "/v1/status").status == 200);  // keep-alive connection now open

  ApiResponse revoked = reconciler.Call(reconciler.admin, "DELETE", "/v1/credentials/alice");
  REQUIRE(revoked.status == 200);
  Json answer = Json::parse(revoked.body);
  CHECK(answer["serials"] == Json::array({*CertificateSerialHex(second_admin.certificate_pem)}));
  ApiResponse refused = Reconciler::Call(*open, "GET", "/v1/status");
  CHECK(refused.status == 401);
  CHECK(Error(refused).ends_with(" is revoked"));
  CHECK(reconciler.Call(second_admin, "GET", "/v1/status").status == 401);  // and a new connection
  CHECK(reconciler.Call(reconciler.admin, "DELETE", "/v1/credentials/nobody").status == 404);
  // Revoking again is fine and revokes nothing more.
  ApiResponse again = reconciler.Call(reconciler.admin, "DELETE", "/v1/credentials/alice");
  CHECK(again.status == 200);
  CHECK(Json::parse(again.body)["serials"] == Json::array());
}

TEST_CASE("credentials: the bootstrap admin is revocable once another admin exists, the last one never") {
  Reconciler reconciler;
  ApiResponse last = reconciler.Call(reconciler.admin, "DELETE", "/v1/credentials/admin");
  CHECK(last.status == 409);
  CHECK(Error(last).starts_with("another admin must remain: revoking credential \"admin\""));
  std::string admin_serial = *CertificateSerialHex(reconciler.admin.certificate_pem);
  CHECK(reconciler.Call(reconciler.admin, "POST", "/v1/certificates/" + admin_serial + "/revoke").status == 409);
  CHECK(reconciler.Call(reconciler.admin, "GET", "/v1/status").status == 200);

  Credentials alice = reconciler.Create("alice", "admin");
  CHECK(reconciler.Call(alice, "DELETE", "/v1/credentials/admin").status == 200);
  CHECK(reconciler.Call(reconciler.admin, "GET", "/v1/status").status == 401);
  ApiResponse self = reconciler.Call(alice, "DELETE", "/v1/credentials/alice");
  CHECK(self.status == 409);
  CHECK(Error(self).starts_with("another admin must remain"));
  CHECK(reconciler.Call(alice, "GET", "/v1/status").status == 200);
}

TEST_CASE("credentials: any one certificate is revoked by serial, an agent's too, by POST or DELETE") {
  Reconciler reconciler;
  Credentials agent = reconciler.Agent("vps");
  CHECK(reconciler.Call(agent, "GET", "/v1/agents/vps/plan?wait=0").status != 401);
  std::string serial = *CertificateSerialHex(agent.certificate_pem);
  std::string upper = serial;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ApiResponse revoked = reconciler.Call(reconciler.admin, "POST", "/v1/certificates/" + upper + "/revoke");
  REQUIRE(revoked.status == 200);
  CHECK(Json::parse(revoked.body)["serial"] == serial);
  CHECK(reconciler.Call(agent, "GET", "/v1/agents/vps/plan?wait=0").status == 401);

  Credentials viewer = reconciler.Create("alice", "viewer");
  std::string viewer_serial = *CertificateSerialHex(viewer.certificate_pem);
  CHECK(reconciler.Call(reconciler.admin, "DELETE", "/v1/certificates/" + viewer_serial).status == 200);
  CHECK(reconciler.Call(viewer, "GET", "/v1/status").status == 401);
  Json listed = Json::parse(reconciler.Call(reconciler.admin, "GET", "/v1/credentials").body);
  CHECK(listed["credentials"][1]["state"] == "revoked");
  CHECK(reconciler.Call(reconciler.admin, "DELETE", "/v1/certificates/abc123").status == 404);
}

}  // namespace
}  // namespace ww
