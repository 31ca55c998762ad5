// FleetService over real TLS on 127.0.0.1: a Bootstrap data directory (real CA, SQLite file),
// the real HttpsServer, and the real ApiClient as admin and as enrolled agents. Covers
// uploads (accepted, unchanged, invalid with the exact diagnostics, destructive, dry-run, git
// ownership), long-polls, reports, status, deletion, renewal, rollback and restarts.

#include <doctest/doctest.h>

#include "tests/support/test_files.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reconciler/api/https_server.h"
#include "reconciler/client/api_client.h"
#include "reconciler/client/enroll_client.h"
#include "reconciler/server/bootstrap.h"
#include "reconciler/server/enrollment.h"
#include "reconciler/server/fleet_service.h"
#include "reconciler/server/git_feed.h"
#include "reconciler/server/rate_limiter.h"
#include "schema/plan.h"
#include "schema/wire_json.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/test_values.h"
#include "tests/unit/reconciler/git_remote.h"

namespace ww {
namespace {
using test_support::ReadText;
using test_support::UnixNow;
using test_support::YamlBlock;

using Json = nlohmann::json;
using test_support::TemporaryDirectory;



// The PEM under "key: |" in admin.wwctl.yaml (its lines are indented two spaces).

struct Credentials {
  std::string certificate_pem;
  std::string key_pem;
};

constexpr const char* kTunnel = R"(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: lab
spec:
  agent: vps
  endpoint: 203.0.113.10:51820
  network: 10.77.0.0/24
)";

constexpr const char* kPeers = R"(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: gw
spec:
  tunnel: lab
  agent: gw
  gateway: true
  lan:
    - 192.168.50.0/24
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: lab
  publicKey: cg0joZYyMg+Eob9eBe+ae5MfI1eJ7HKf84WRjvC6tAM=
  address: 10.77.0.10
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: minecraft
spec:
  tunnel: lab
  protocol: tcp
  ports: "25565"
  to:
    address: 192.168.50.10
  description: Minecraft
)";

Json Documents(const std::vector<std::pair<std::string, std::string>>& files) {
  Json list = Json::array();
  for (const auto& [path, content] : files) list.push_back(Json{{"path", path}, {"content", content}});
  return list;
}

Json LabFleet() { return Documents({{"fleet/tunnel.yaml", kTunnel}, {"fleet/peers.yaml", kPeers}}); }

// A reconciler on an ephemeral port with the fleet service; Restart() reopens the same data
// directory like a new process would.
struct Reconciler {
  TemporaryDirectory directory;
  std::string data_dir = directory.path() + "/data";
  // The service's clock stands still unless a test moves it, so no rule depends on how long
  // a request took (certificates are checked against the real clock by the TLS layer).
  const std::int64_t clock_start = UnixNow();
  std::atomic<std::int64_t> clock_offset{0};
  Bootstrap bootstrap;
  RevokedSerials revoked;
  RateLimiter enroll_limiter{RateLimit{4, 60}, [this] { return Now(); }};
  std::unique_ptr<HttpsServer> server;
  std::unique_ptr<FleetService> service;
  // Set, then Restart(): the reconciler also follows this git source (POST /v1/sync fetches).
  std::optional<GitFeedOptions> git_options;
  std::unique_ptr<GitFeed> git;
  std::string url;
  Credentials admin;
  ValidationContext validation;  // what the reconciler tells validation (its advertised address)
  EventRetention events;         // set, then Restart(): the event history it keeps

  Reconciler() {
    Open();
    std::string yaml = ReadText(bootstrap.admin_config_path);
    admin = Credentials{YamlBlock(yaml, "clientCertificate"), YamlBlock(yaml, "clientKey")};
  }
  ~Reconciler() { Close(); }

  std::int64_t Now() const { return clock_start + clock_offset.load(); }
  std::string AdminUri() const { return "wirewarp://" + bootstrap.fleet + "/admin/admin"; }

  void Open() {
    Result<Bootstrap> opened = Bootstrap::Open(data_dir, "https://127.0.0.1:8443", UnixNow());
    REQUIRE(opened.ok());
    bootstrap = std::move(opened).value();
    HttpsServerOptions options;
    options.server_certificate_pem = bootstrap.server_certificate_pem;
    options.server_private_key_pem = bootstrap.server_private_key_pem;
    options.worker_threads = 16;
    options.fleet = bootstrap.fleet;
    options.is_revoked = [this](const std::string& serial) { return revoked.Contains(serial); };
    Result<std::unique_ptr<HttpsServer>> created = HttpsServer::Create(*bootstrap.ca, std::move(options));
    REQUIRE(created.ok());
    server = std::move(created).value();
    FleetServiceOptions service_options;
    service_options.now = [this] { return Now(); };
    service_options.tick_interval = std::chrono::milliseconds(50);
    service_options.validation = validation;
    service_options.events = events;
    service = std::make_unique<FleetService>(*bootstrap.store, *bootstrap.ca, *server, revoked, service_options);
    Status started = service->Start();
    REQUIRE_MESSAGE(started.ok(), started.ToString());
    EnrollmentOptions enrollment{"https://127.0.0.1:8443", bootstrap.ca_pin, bootstrap.fleet,
                                 [this] { return Now(); }};
    enrollment.allow_attempt = [this](std::string_view key) { return enroll_limiter.Allow(key); };
    enrollment.on_enrolled = [this](const std::string& name) { REQUIRE(service->AgentEnrolled(name).ok()); };
    enrollment.token_warnings = [this](TokenType type, const std::string& name) {
      return service->TokenWarnings(type, name);
    };
    REQUIRE(RegisterEnrollmentRoutes(*server, *bootstrap.ca, *bootstrap.store, enrollment).ok());
    if (git_options) {
      Result<std::unique_ptr<GitFeed>> feed = GitFeed::Create(*service, *bootstrap.store, *server, *git_options);
      REQUIRE_MESSAGE(feed.ok(), feed.status().ToString());
      git = std::move(feed).value();
    }
    Result<int> port = server->Start("127.0.0.1", 0);
    REQUIRE(port.ok());
    url = "https://127.0.0.1:" + std::to_string(*port);
    if (git) git->Start();
  }

  void Close() {
    if (git) git->Stop();
    git.reset();
    if (server) server->Stop();
    if (service) service->Stop();
    service.reset();
    server.reset();
    bootstrap.store.reset();
  }

  void Restart() {
    Close();
    Open();
  }

  std::unique_ptr<ApiClient> Client(const Credentials& credentials) const {
    Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(
        ApiClientOptions{url, bootstrap.ca->CertificatePem(), credentials.certificate_pem, credentials.key_pem});
    REQUIRE(client.ok());
    return std::move(client).value();
  }

  // An enrolled agent: its record and a certificate for a key made here, as enrollment does.
  Credentials Enroll(const std::string& name, AgentRole role, int key_fill) {
    Result<std::string> key = GenerateP256Key();
    REQUIRE(key.ok());
    Result<std::string> csr = MakeCsr(*key, name);
    REQUIRE(csr.ok());
    Identity identity{IdentityKind::kAgent, name, bootstrap.fleet};
    Result<IssuedCertificate> issued = bootstrap.ca->IssueClient(*csr, identity, Now());
    REQUIRE(issued.ok());
    AgentRecord agent{name, name, role, test_support::Key(key_fill), name + ".lan", "0.1.0", Now(), std::nullopt};
    REQUIRE(bootstrap.store->InsertAgent(agent).ok());
    REQUIRE(bootstrap.store
                ->InsertCertificate(CertificateRecord{issued->serial_hex, name, IdentityUri(identity),
                                                      CertificateRole::kAgent, issued->not_before, issued->not_after,
                                                      std::nullopt})
                .ok());
    REQUIRE(service->AgentEnrolled(name).ok());  // as enrollment's on_enrolled hook does
    return Credentials{issued->pem, *key};
  }

  // Enrolls through POST /v1/tokens and POST /v1/enroll as `wirewarp-agent enroll` does, with
  // a new TLS key and the WireGuard key Key(key_fill). Counts against the enrollment rate limit.
  Result<Credentials> EnrollWithToken(const std::string& name, const std::string& mode, int key_fill) {
    Json token = CallJson(admin, "POST", "/v1/tokens", Json{{"type", mode}, {"name", name}}, 200);
    TemporaryDirectory state;
    EnrollRequest request;
    request.url = url;
    request.token = token["token"];
    request.ca_pins = {bootstrap.ca_pin};
    request.mode = mode;
    request.name = name;
    request.hostname = name + "-host";
    request.version = "0.1.0";
    request.wireguard_public_key = test_support::Key(key_fill);
    request.state_dir = state.path();
    request.write_file = [&state](std::string_view file, std::string_view contents) {
      std::ofstream(state.File(file)) << contents;
      return Status::Ok();
    };
    Result<EnrollResult> enrolled = ww::Enroll(request);
    if (!enrolled.ok()) return enrolled.status();
    return Credentials{ReadText(state.File(std::string(kAgentTlsCertificateFile))),
                       ReadText(state.File(std::string(kAgentTlsKeyFile)))};
  }

  ApiResponse Call(const Credentials& who, const std::string& method, const std::string& path,
                   const std::string& body = "") const {
    std::unique_ptr<ApiClient> client = Client(who);
    Result<ApiResponse> response = method == "GET"      ? client->Get(path)
                                   : method == "DELETE" ? client->Delete(path)
                                                        : client->Post(path, body);
    REQUIRE_MESSAGE(response.ok(), response.status().ToString());
    return *response;
  }

  Json CallJson(const Credentials& who, const std::string& method, const std::string& path, const Json& body,
                int expected_status) const {
    ApiResponse response = Call(who, method, path, body.is_null() ? "" : body.dump());
    REQUIRE_MESSAGE(response.status == expected_status, response.body);
    return response.body.empty() ? Json(nullptr) : Json::parse(response.body);
  }

  Json Upload(const Json& documents, int expected_status, const Json& flags = Json::object()) const {
    Json body = flags;
    body["documents"] = documents;
    return CallJson(admin, "POST", "/v1/revisions", body, expected_status);
  }

  Json Snapshot() const { return CallJson(admin, "GET", "/v1/status", Json(nullptr), 200); }
};

Json AgentStatus(const Json& status, const std::string& name) {
  for (const Json& agent : status["agents"]) {
    if (agent["name"] == name) return agent;
  }
  FAIL("no agent " << name << " in " << status.dump());
  return Json();
}

// A report saying the host matches `desired` exactly.
Json ConvergedReport(int64_t generation, const std::string& desired_json) {
  Result<AgentConfig> desired = AgentConfigFromJson(desired_json);
  REQUIRE(desired.ok());
  return Json{{"generation", generation},
              {"converged", true},
              {"error", ""},
              {"version", "0.1.0"},
              {"hostname", "host-" + desired->agent},
              {"observed", Json::parse(ObservedStateToJson(ObservedFromDesired(*desired), JsonStyle::kCompact))},
              {"peers", Json::array()},
              {"system", Json{{"cpuPercent", 1.5}, {"memoryUsedBytes", 1}, {"memoryTotalBytes", 2}}}};
}

TEST_CASE("fleet service: an upload becomes revision 1, the same content again is unchanged") {
  Reconciler reconciler;
  Json accepted = reconciler.Upload(LabFleet(), 200);
  CHECK(accepted["accepted"] == true);
  CHECK(accepted["revision"] == 1);
  CHECK(accepted["unchanged"] == false);
  CHECK(accepted["warnings"] == Json::array());
  REQUIRE(accepted["agents"].size() == 2);
  CHECK(accepted["agents"][0]["agent"] == "gw");
  CHECK(accepted["agents"][0]["phase"] == "unknown");
  CHECK(accepted["agents"][0]["message"] ==
        "not enrolled yet: `wwctl token create --type client --name gw`, then run the install command it prints on "
        "the host");

  Json again = reconciler.Upload(LabFleet(), 200);
  CHECK(again["revision"].is_null());
  CHECK(again["unchanged"] == true);

  Json listed = reconciler.CallJson(reconciler.admin, "GET", "/v1/revisions?limit=5", Json(nullptr), 200);
  REQUIRE(listed["revisions"].size() == 1);
  CHECK(listed["revisions"][0]["id"] == 1);
  CHECK(listed["revisions"][0]["source"] == "apply");
  CHECK(listed["revisions"][0]["appliedBy"] == reconciler.AdminUri());
  Json one = reconciler.CallJson(reconciler.admin, "GET", "/v1/revisions/1", Json(nullptr), 200);
  CHECK(one["documents"] == LabFleet());
  CHECK(reconciler.Call(reconciler.admin, "GET", "/v1/revisions/9").status == 404);
}

TEST_CASE("fleet service: an invalid fleet is 422 with the lines of wwctl validate and changes nothing") {
  Reconciler reconciler;
  reconciler.Upload(LabFleet(), 200);
  std::string broken = std::string(kPeers) + R"(---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: laptop
spec:
  tunnel: nope
  publicKey: AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=
)";
  Json refused = reconciler.Upload(Documents({{"fleet/tunnel.yaml", kTunnel}, {"fleet/peers.yaml", broken}}), 422);
  CHECK(refused["error"] == "the fleet is invalid: 1 error");
  CHECK(refused["diagnostics"] ==
        Json::array({"fleet/peers.yaml:38:11: error: Peer/laptop: spec.tunnel: Tunnel \"nope\" does not exist"}));
  Json status = reconciler.Snapshot();
  CHECK(status["revision"]["id"] == 1);
}

TEST_CASE("fleet service: a forward on the control server's own port on its VPS is 422, naming the clash") {
  Reconciler reconciler;
  // This reconciler runs on the lab VPS (the tunnel's endpoint) and listens on 25565.
  reconciler.validation.control = ControlServer{"203.0.113.10", 25565};
  reconciler.Restart();
  Json refused = reconciler.Upload(LabFleet(), 422);
  CHECK(refused["error"] == "the fleet is invalid: 1 error");
  CHECK(refused["diagnostics"] ==
        Json::array({"fleet/peers.yaml:28:10: error: PortForward/minecraft: spec.ports: tcp 25565 is the port of the "
                     "control server \"203.0.113.10:25565\", which runs on the VPS of Tunnel/lab: forwarding it would "
                     "cut every agent's control channel; use another port"}));
  Json listed = reconciler.CallJson(reconciler.admin, "GET", "/v1/revisions?limit=5", Json(nullptr), 200);
  CHECK(listed["revisions"].empty());
}

TEST_CASE("fleet service: a revision that a later rule refuses stays in force after a restart, and status says why") {
  Reconciler reconciler;
  reconciler.Upload(LabFleet(), 200);
  // As after an upgrade (or a move of --advertise): the stored revision now breaks a rule.
  reconciler.validation.control = ControlServer{"203.0.113.10", 25565};
  reconciler.Restart();
  Json status = reconciler.CallJson(reconciler.admin, "GET", "/v1/status", Json(nullptr), 200);
  CHECK(status["revision"]["id"] == 1);
  REQUIRE(status["revisionErrors"].size() == 1);
  CHECK(status["revisionErrors"][0].get<std::string>().find("PortForward/minecraft: spec.ports: tcp 25565 is the port "
                                                           "of the control server") != std::string::npos);
  // The next accepted revision (the forward moved off the control port) clears it.
  std::string peers = kPeers;
  std::string::size_type port = peers.find("\"25565\"");
  REQUIRE(port != std::string::npos);
  peers.replace(port, 7, "\"25566\"");
  reconciler.Upload(Documents({{"fleet/tunnel.yaml", kTunnel}, {"fleet/peers.yaml", peers}}), 200,
                    Json{{"allowDestructive", true}});
  status = reconciler.CallJson(reconciler.admin, "GET", "/v1/status", Json(nullptr), 200);
  CHECK(status["revision"]["id"] == 2);
  CHECK(status["revisionErrors"] == Json::array());
}

TEST_CASE("fleet service: a destructive revision is 409 until allowDestructive") {
  Reconciler reconciler;
  reconciler.Upload(LabFleet(), 200);
  Json refused = reconciler.Upload(Json::array(), 409);
  CHECK(refused["error"] ==
        "refusing a destructive revision: it removes every tunnel (lab) and removes 2 of 2 peers (gw, phone); if "
        "this is intended, apply again with --allow-destructive");
  Json accepted = reconciler.Upload(Json::array(), 200, Json{{"allowDestructive", true}});
  CHECK(accepted["revision"] == 2);
}

TEST_CASE("fleet service: a dry run shows each agent's plan and stores nothing") {
  Reconciler reconciler;
  reconciler.Enroll("vps", AgentRole::kServer, 1);
  reconciler.Enroll("gw", AgentRole::kClient, 2);
  Json previewed = reconciler.Upload(LabFleet(), 200, Json{{"dryRun", true}});
  CHECK(previewed["revision"].is_null());
  CHECK(previewed["dryRun"] == true);
  REQUIRE(previewed["agents"].size() == 2);
  CHECK(previewed["agents"][1]["agent"] == "vps");
  CHECK(previewed["agents"][1]["phase"] == "pending");
  CHECK(previewed["agents"][1]["steps"][0] == "+ interface wg0 (mtu 1420)");
  CHECK(reconciler.Snapshot()["revision"].is_null());
  CHECK(reconciler.CallJson(reconciler.admin, "GET", "/v1/revisions", Json(nullptr), 200)["revisions"] ==
        Json::array());
}

TEST_CASE("fleet service: a dry run lists the resources it adds, changes and removes, even before any report") {
  Reconciler reconciler;
  Json first = reconciler.Upload(LabFleet(), 200, Json{{"dryRun", true}});
  // Nothing is current yet: everything is added; no agent is enrolled, so none has steps.
  REQUIRE(first["changes"].size() == 4);
  CHECK(first["changes"][0]["kind"] == "Tunnel");
  CHECK(first["changes"][0]["change"] == "added");
  CHECK(first["agents"][0]["steps"] == Json::array());
  reconciler.Upload(LabFleet(), 200);

  std::string peers = kPeers;
  peers.replace(peers.find("  address: 10.77.0.10\n"), 22, "  address: 10.77.0.11\n");
  peers = peers.substr(0, peers.find("---\napiVersion: wirewarp.dev/v1\nkind: PortForward"));
  Json previewed = reconciler.Upload(Documents({{"fleet/tunnel.yaml", kTunnel}, {"fleet/peers.yaml", peers}}), 200,
                                     Json{{"dryRun", true}});
  CHECK(previewed["unchanged"] == false);
  CHECK(previewed["changes"] == Json::parse(R"([
    {"kind": "Peer", "name": "phone", "change": "changed", "destructive": false,
     "fields": [{"path": "spec.address", "before": "10.77.0.10", "after": "10.77.0.11"}]},
    {"kind": "PortForward", "name": "minecraft", "change": "removed", "destructive": true,
     "fields": [{"path": "spec.tunnel", "before": "lab", "after": null},
                {"path": "spec.protocol", "before": "tcp", "after": null},
                {"path": "spec.ports", "before": "25565", "after": null},
                {"path": "spec.to.address", "before": "192.168.50.10", "after": null},
                {"path": "spec.description", "before": "Minecraft", "after": null}]}])"));
  Json same = reconciler.Upload(LabFleet(), 200, Json{{"dryRun", true}});
  CHECK(same["unchanged"] == true);
  CHECK(same["changes"] == Json::array());
}

TEST_CASE("fleet service: GET /v1/version answers any certificate of the CA") {
  Reconciler reconciler;
  Json version = reconciler.CallJson(reconciler.admin, "GET", "/v1/version", Json(nullptr), 200);
  CHECK(version == Json{{"version", "unknown"}, {"wireFormat", kWireFormatVersion}});
  Credentials agent = reconciler.Enroll("vps", AgentRole::kServer, 1);
  CHECK(reconciler.Call(agent, "GET", "/v1/version").status == 200);
}

TEST_CASE("fleet service: long-polls answer at once when newer, 204 after the wait, 403 for another agent") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  Credentials gw = reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);

  Json plan = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=1", Json(nullptr), 200);
  CHECK(plan["generation"] == 1);
  CHECK(plan["revision"] == 1);
  Result<AgentConfig> desired = AgentConfigFromJson(plan["desired"].dump());
  REQUIRE(desired.ok());
  CHECK(desired->agent == "vps");
  REQUIRE(desired->interfaces.size() == 1);
  CHECK(desired->interfaces[0].address.ToString() == "10.77.0.1/24");
  CHECK(desired->interfaces[0].peers.size() == 2);
  CHECK(PlanFromJson(plan["plan"].dump()).ok());

  CHECK(reconciler.Call(vps, "GET", "/v1/agents/vps/plan?after=1&wait=1").status == 204);
  ApiResponse other = reconciler.Call(vps, "GET", "/v1/agents/gw/plan?after=0&wait=1");
  CHECK(other.status == 403);
  CHECK(ApiErrorMessage(other) == "wirewarp://" + reconciler.bootstrap.fleet + "/agent/vps may not act for agent \"gw\"");
  CHECK(reconciler.Call(reconciler.admin, "GET", "/v1/agents/gw/plan").status == 403);
  CHECK(reconciler.Call(gw, "GET", "/v1/agents/gw/plan?after=x").status == 400);
  CHECK(reconciler.Call(gw, "POST", "/v1/agents/vps/report", "{}").status == 403);
}

TEST_CASE("fleet service: an agent past every generation this server issued gets the latest plan at once") {
  // A restored backup or a new data directory numbers from 1 again; the agent still asks
  // after the number the old server gave it, and must not wait for this one to reach it.
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  Json plan = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=1000&wait=1", Json(nullptr), 200);
  CHECK(plan["generation"] == 1);
  // From there on it follows this server's numbering: nothing newer than 1 yet.
  CHECK(reconciler.Call(vps, "GET", "/v1/agents/vps/plan?after=1&wait=1").status == 204);
}

TEST_CASE("fleet service: a waiting long-poll is woken by a new revision") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  std::unique_ptr<ApiClient> poller = reconciler.Client(vps);
  Result<ApiResponse> woken = Status::Unavailable("not run");
  std::thread poll([&] { woken = poller->Get("/v1/agents/vps/plan?after=1&wait=20", std::chrono::seconds(30)); });
  while (reconciler.server->long_polls().Waiting() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string changed = kPeers;
  changed.replace(changed.find("\"25565\""), 7, "\"25566\"");
  reconciler.Upload(Documents({{"fleet/tunnel.yaml", kTunnel}, {"fleet/peers.yaml", changed}}), 200);
  poll.join();
  REQUIRE(woken.ok());
  REQUIRE(woken->status == 200);
  Json plan = Json::parse(woken->body);
  CHECK(plan["generation"] == 2);
  CHECK(plan["revision"] == 2);
}

TEST_CASE("fleet service: reports drive the status to converged, and a restart keeps everything") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  Credentials gw = reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  Json before = reconciler.Snapshot();
  CHECK(before["converged"] == false);
  CHECK(AgentStatus(before, "vps")["phase"] == "pending");
  CHECK(AgentStatus(before, "vps")["connected"] == false);

  for (const auto& [name, credentials] : {std::pair{std::string("vps"), vps}, std::pair{std::string("gw"), gw}}) {
    Json plan = reconciler.CallJson(credentials, "GET", "/v1/agents/" + name + "/plan?after=0&wait=1", Json(nullptr), 200);
    ApiResponse reported = reconciler.Call(credentials, "POST", "/v1/agents/" + name + "/report",
                                           ConvergedReport(plan["generation"], plan["desired"].dump()).dump());
    CHECK(reported.status == 204);
  }
  Json status = reconciler.Snapshot();
  CHECK(status["converged"] == true);
  Json vps_status = AgentStatus(status, "vps");
  CHECK(vps_status["phase"] == "converged");
  CHECK(vps_status["connected"] == true);
  CHECK(vps_status["generation"] == 1);
  CHECK(vps_status["appliedGeneration"] == 1);
  CHECK(vps_status["hostname"] == "host-vps");
  CHECK(vps_status["drift"] == Json::array());
  CHECK(vps_status["system"]["cpuPercent"] == 1.5);
  REQUIRE(status["tunnels"].size() == 1);
  CHECK(status["tunnels"][0]["peers"][0]["name"] == "gw");
  CHECK(status["tunnels"][0]["peers"][0]["address"] == "10.77.0.2/32");
  CHECK(status["tunnels"][0]["peers"][1]["address"] == "10.77.0.10/32");
  // Issue 9 / defect 11: a phone is flagged unmanaged, and the server's key is there for its config.
  CHECK(status["tunnels"][0]["peers"][0]["managed"] == true);
  CHECK(status["tunnels"][0]["peers"][1]["managed"] == false);
  CHECK(status["tunnels"][0]["peers"][1]["agent"] == nullptr);
  CHECK(status["tunnels"][0]["serverPublicKey"] == test_support::Key(1).ToBase64());
  REQUIRE(status["forwards"].size() == 1);
  CHECK(status["forwards"][0] == Json{{"name", "minecraft"}, {"tunnel", "lab"}, {"agent", "vps"},
                                      {"protocol", "tcp"}, {"ports", "25565"}, {"template", nullptr},
                                      {"to", "192.168.50.10:25565"}, {"description", "Minecraft"},
                                      {"state", "applied"}});
  CHECK(status["revision"]["id"] == 1);

  reconciler.Restart();
  Json restarted = reconciler.Snapshot();
  CHECK(restarted["revision"] == status["revision"]);
  CHECK(restarted["converged"] == true);
  CHECK(AgentStatus(restarted, "vps")["generation"] == 1);
  CHECK(AgentStatus(restarted, "gw")["generation"] == 1);
  // Nothing new to deliver after a restart: generation 1 is still the latest.
  CHECK(reconciler.Call(vps, "GET", "/v1/agents/vps/plan?after=1&wait=1").status == 204);
  Json plan = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=1", Json(nullptr), 200);
  CHECK(plan["generation"] == 1);
}

TEST_CASE("fleet service: drift is healed with a new generation once the agent applied the latest") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  Json plan = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=1", Json(nullptr), 200);
  Json report = ConvergedReport(1, plan["desired"].dump());
  report["observed"]["sysctls"] = Json::array();  // someone reset net.ipv4.ip_forward
  CHECK(reconciler.Call(vps, "POST", "/v1/agents/vps/report", report.dump()).status == 204);
  Json healed = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=1&wait=1", Json(nullptr), 200);
  CHECK(healed["generation"] == 2);
  CHECK(healed["revision"] == 1);
  Json vps_status = AgentStatus(reconciler.Snapshot(), "vps");
  CHECK(vps_status["phase"] == "pending");
  CHECK(vps_status["drift"] == Json::array({"~ sysctl net.ipv4.ip_forward = 1"}));

  // Still drifting after applying the heal: the next heal waits (1 s, then 2, 4, ...).
  report["generation"] = 2;
  CHECK(reconciler.Call(vps, "POST", "/v1/agents/vps/report", report.dump()).status == 204);
  CHECK(reconciler.Call(vps, "GET", "/v1/agents/vps/plan?after=2&wait=0").status == 204);
  CHECK(AgentStatus(reconciler.Snapshot(), "vps")["retryAt"].is_number());
  reconciler.clock_offset += 1;
  Json again = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=2&wait=5", Json(nullptr), 200);
  CHECK(again["generation"] == 3);
}

TEST_CASE("fleet service: an agent the new revision leaves out is sent an empty config once") {
  Reconciler reconciler;
  reconciler.Enroll("vps", AgentRole::kServer, 1);
  Credentials gw = reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  reconciler.CallJson(gw, "GET", "/v1/agents/gw/plan?after=0&wait=1", Json(nullptr), 200);
  std::string without_gw = kPeers;
  without_gw.erase(0, without_gw.find("---\n") + 4);  // drop Peer/gw
  without_gw.replace(without_gw.find("    address: 192.168.50.10"), 26, "    address: 10.77.0.10");
  reconciler.Upload(Documents({{"fleet/tunnel.yaml", kTunnel}, {"fleet/peers.yaml", without_gw}}), 200);
  Json emptied = reconciler.CallJson(gw, "GET", "/v1/agents/gw/plan?after=1&wait=1", Json(nullptr), 200);
  CHECK(emptied["generation"] == 2);
  CHECK(emptied["revision"] == 2);
  CHECK(emptied["desired"]["interfaces"] == Json::array());
  CHECK(AgentStatus(reconciler.Snapshot(), "gw")["phase"] == "converged");
  // Nothing more: the next poll waits.
  CHECK(reconciler.Call(gw, "GET", "/v1/agents/gw/plan?after=2&wait=1").status == 204);
}

TEST_CASE("fleet service: a revision that makes a client-enrolled agent a tunnel's server is refused, naming both") {
  Reconciler reconciler;
  reconciler.Enroll("vps", AgentRole::kClient, 1);
  Json refused = reconciler.Upload(LabFleet(), 422);
  bool named = false;
  for (const Json& line : refused["diagnostics"]) {
    const std::string text = line.get<std::string>();
    named = named || (text.find("spec.agent: agent \"vps\" is enrolled as a client, but Tunnel/") != std::string::npos &&
                      text.find("wwctl token create --type server --name vps") != std::string::npos);
  }
  CHECK_MESSAGE(named, refused.dump());
}

TEST_CASE("fleet service: a failing agent is degraded and backs off") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=1", Json(nullptr), 200);
  Json failed{{"generation", 1}, {"converged", false}, {"error", "iptables-restore: exit 1"},
              {"observed", Json::parse(ObservedStateToJson(ObservedState{}, JsonStyle::kCompact))}};
  CHECK(reconciler.Call(vps, "POST", "/v1/agents/vps/report", failed.dump()).status == 204);
  Json vps_status = AgentStatus(reconciler.Snapshot(), "vps");
  CHECK(vps_status["phase"] == "degraded");
  CHECK(vps_status["consecutiveFailures"] == 1);
  CHECK(vps_status["lastError"] == "iptables-restore: exit 1");
  CHECK(vps_status["retryAt"].is_number());
  // The same failed generation reported again is not a second failure.
  CHECK(reconciler.Call(vps, "POST", "/v1/agents/vps/report", failed.dump()).status == 204);
  CHECK(AgentStatus(reconciler.Snapshot(), "vps")["consecutiveFailures"] == 1);
  // Once the retry is due, the tick delivers generation 2.
  reconciler.clock_offset += 2;
  Json retried = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=1&wait=5", Json(nullptr), 200);
  CHECK(retried["generation"] == 2);
}

TEST_CASE("fleet service: a stale plan is not a failure and is answered at once with a plan from the fresh observation") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  Json first = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=1", Json(nullptr), 200);
  // The host already had ip_forward on, which the first plan (from no report) would set.
  Result<AgentConfig> desired = AgentConfigFromJson(first["desired"].dump());
  REQUIRE(desired.ok());
  ObservedState fresh;
  fresh.sysctls = {{"net.ipv4.ip_forward", "1"}};
  const Plan replanned = ComputePlan(*desired, fresh);
  REQUIRE(Json::parse(PlanToJson(replanned, JsonStyle::kCompact)) != first["plan"]);
  Json stale{{"generation", 1}, {"converged", false}, {"stalePlan", true},
             {"error", "the pushed plan (9 steps) is stale: this host's fresh observation plans 8 steps; nothing was run"},
             {"observed", Json::parse(ObservedStateToJson(fresh, JsonStyle::kCompact))}};
  CHECK(reconciler.Call(vps, "POST", "/v1/agents/vps/report", stale.dump()).status == 204);
  // No backoff, no failure: the next poll gets a plan made from the fresh observation.
  Json second = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=1&wait=1", Json(nullptr), 200);
  CHECK(second["generation"] == 2);
  CHECK(second["plan"] == Json::parse(PlanToJson(replanned, JsonStyle::kCompact)));
  Json status = reconciler.Snapshot();
  Json vps_status = AgentStatus(status, "vps");
  CHECK(vps_status["consecutiveFailures"] == 0);
  CHECK(vps_status["phase"] == "pending");
  bool stale_event = false;
  for (const Json& event : status["events"]) stale_event = stale_event || event["kind"] == "plan-stale";
  CHECK(stale_event);
  Json bad = stale;
  bad["stalePlan"] = "yes";
  CHECK(reconciler.Call(vps, "POST", "/v1/agents/vps/report", bad.dump()).status == 400);
}

TEST_CASE("fleet service: deleting an agent answers its open long-poll 401 and refuses it afterwards") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  Credentials gw = reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  reconciler.CallJson(gw, "GET", "/v1/agents/gw/plan?after=0&wait=1", Json(nullptr), 200);
  std::unique_ptr<ApiClient> poller = reconciler.Client(gw);
  Result<ApiResponse> answered = Status::Unavailable("not run");
  std::thread poll([&] { answered = poller->Get("/v1/agents/gw/plan?after=1&wait=20", std::chrono::seconds(30)); });
  while (reconciler.server->long_polls().Waiting() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(reconciler.Call(vps, "DELETE", "/v1/agents/gw").status == 403);
  Json deleted_answer = reconciler.CallJson(reconciler.admin, "DELETE", "/v1/agents/gw", Json(nullptr), 200);
  CHECK(deleted_answer == Json{{"agent", "gw"},
                               {"deletedAt", reconciler.Now()},
                               {"enrollCommand", "wwctl token create --type client --name gw"}});
  poll.join();
  REQUIRE(answered.ok());
  CHECK(answered->status == 401);
  CHECK(reconciler.Call(gw, "GET", "/v1/agents/gw/plan?after=0&wait=1").status == 401);
  CHECK(reconciler.Call(reconciler.admin, "DELETE", "/v1/agents/gw").status == 404);
  Json status = reconciler.Snapshot();
  Json gw_status = AgentStatus(status, "gw");
  CHECK(gw_status["enrolled"] == false);
  CHECK(gw_status["deleted"] == true);
  CHECK(gw_status["deletedAt"] == reconciler.Now());
  CHECK(gw_status["phase"] == "deleted");
  CHECK(gw_status["enrollCommand"] == "wwctl token create --type client --name gw");
  CHECK(gw_status["message"] ==
        "deleted, its certificates revoked; to enroll it again: `wwctl token create --type client --name gw`, then "
        "run the install command it prints on the host");
  Json deleted;
  for (const Json& event : status["events"]) {
    if (event["kind"] == "agent-deleted") deleted = event;
  }
  CHECK(deleted["agent"] == "gw");
  CHECK(deleted["message"] == "gw deleted by " + reconciler.AdminUri() + "; its certificates are revoked");
  // The server renders without the deleted peer, saying so.
  Json vps_status = AgentStatus(status, "vps");
  CHECK(vps_status["phase"] == "pending");
  CHECK(vps_status["generation"] == 2);
  CHECK(vps_status["warnings"] ==
        Json::array({"Peer/gw of Tunnel/lab is left out: agent \"gw\" has no WireGuard public key (it is not "
                     "enrolled, or was deleted)"}));
  // Still refused after a restart: the revocation is stored.
  reconciler.Restart();
  CHECK(reconciler.Call(gw, "GET", "/v1/agents/gw/plan?after=0&wait=1").status == 401);
  CHECK(AgentStatus(reconciler.Snapshot(), "gw")["phase"] == "deleted");
}

// The WireGuard peers of the server's latest plan, as "name=key".
std::vector<std::string> ServerPeers(Reconciler& reconciler, const Credentials& vps) {
  Json plan = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=0", Json(nullptr), 200);
  std::vector<std::string> peers;
  for (const Json& peer : plan["desired"]["interfaces"][0]["peers"]) {
    peers.push_back(peer["name"].get<std::string>() + "=" + peer["publicKey"].get<std::string>());
  }
  return peers;
}

TEST_CASE("fleet service: a deleted agent enrolls again with a token, with its old key or a new one") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  Result<Credentials> first = reconciler.EnrollWithToken("gw", "client", 7);
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  reconciler.Upload(LabFleet(), 200);
  const std::string phone = "phone=cg0joZYyMg+Eob9eBe+ae5MfI1eJ7HKf84WRjvC6tAM=";
  CHECK(ServerPeers(reconciler, vps) == std::vector<std::string>{"gw=" + test_support::Key(7).ToBase64(), phone});
  Json gw_plan = reconciler.CallJson(*first, "GET", "/v1/agents/gw/plan?after=0&wait=0", Json(nullptr), 200);
  CHECK(gw_plan["generation"] == 1);

  // While gw is deleted, a new forward still reaches the server (without gw's peer).
  reconciler.CallJson(reconciler.admin, "DELETE", "/v1/agents/gw", Json(nullptr), 200);
  Json vps_before = AgentStatus(reconciler.Snapshot(), "vps");
  std::string more = std::string(kPeers) + "---\n" + R"(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: lab
  protocol: tcp
  ports: "8080"
  to:
    address: 192.168.50.11
    port: 80
)";
  reconciler.Upload(Documents({{"fleet/tunnel.yaml", kTunnel}, {"fleet/peers.yaml", more}}), 200);
  Json vps_after = AgentStatus(reconciler.Snapshot(), "vps");
  CHECK(vps_after["generation"].get<int64_t>() == vps_before["generation"].get<int64_t>() + 1);
  Json plan = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=0", Json(nullptr), 200);
  CHECK(plan["revision"] == 2);
  CHECK(plan["desired"].dump().find("--dport 8080 -j DNAT --to-destination 192.168.50.11:80") != std::string::npos);
  CHECK(ServerPeers(reconciler, vps) == std::vector<std::string>{phone});
  CHECK(vps_after["warnings"].size() == 1);
  CHECK(AgentStatus(reconciler.Snapshot(), "gw")["phase"] == "deleted");

  // Again with the old WireGuard key (the old state dir): a new certificate, the old one refused.
  Result<Credentials> second = reconciler.EnrollWithToken("gw", "client", 7);
  REQUIRE_MESSAGE(second.ok(), second.status().ToString());
  CHECK(reconciler.Call(*first, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 401);
  Json again = reconciler.CallJson(*second, "GET", "/v1/agents/gw/plan?after=0&wait=0", Json(nullptr), 200);
  CHECK(again["generation"] == 2);  // generations of a name continue
  CHECK(again["revision"] == 2);
  // A poll past the newest generation waits instead of answering the deleted enrollment's.
  CHECK(reconciler.Call(*second, "GET", "/v1/agents/gw/plan?after=2&wait=1").status == 204);
  CHECK(ServerPeers(reconciler, vps) == std::vector<std::string>{"gw=" + test_support::Key(7).ToBase64(), phone});
  Json gw_status = AgentStatus(reconciler.Snapshot(), "gw");
  CHECK(gw_status["enrolled"] == true);
  CHECK(gw_status["deleted"] == false);
  CHECK(gw_status["phase"] == "pending");
  CHECK(AgentStatus(reconciler.Snapshot(), "vps")["warnings"] == Json::array());

  // While enrolled, the name and the key are refused, saying how to free them.
  Result<Credentials> clash = reconciler.EnrollWithToken("gw", "client", 9);
  CHECK(clash.status().message().find("agent name \"gw\" is taken by an enrolled agent; to replace it, run "
                                      "`wwctl agent delete gw` first") != std::string::npos);
  Result<Credentials> key_clash = reconciler.EnrollWithToken("laptop", "client", 7);
  CHECK(key_clash.status().message().find("is already enrolled by agent \"gw\"; to move it to another name, run "
                                          "`wwctl agent delete gw` first") != std::string::npos);

  // And with a new key (a fresh state dir): the server's peer follows. (A minute later: four
  // enrollment attempts a minute; less than the certificates' backdating, which the TLS layer
  // checks against the real clock.)
  reconciler.CallJson(reconciler.admin, "DELETE", "/v1/agents/gw", Json(nullptr), 200);
  reconciler.clock_offset += 61;
  Result<Credentials> third = reconciler.EnrollWithToken("gw", "client", 8);
  REQUIRE_MESSAGE(third.ok(), third.status().ToString());
  CHECK(ServerPeers(reconciler, vps) == std::vector<std::string>{"gw=" + test_support::Key(8).ToBase64(), phone});
  CHECK(reconciler.CallJson(*third, "GET", "/v1/agents/gw/plan?after=0&wait=0", Json(nullptr), 200)["generation"] == 3);
  Json enrolled_event;
  Json snapshot = reconciler.Snapshot();
  for (const Json& event : snapshot["events"]) {  // newest first
    if (event["kind"] == "agent-enrolled" && enrolled_event.is_null()) enrolled_event = event;
  }
  CHECK(enrolled_event["agent"] == "gw");
  CHECK(enrolled_event["message"] == "gw enrolled again (enrollment gw.3)");

  // Everything holds after a restart: old certificates refused, the newest one served.
  reconciler.Restart();
  CHECK(reconciler.Call(*first, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 401);
  CHECK(reconciler.Call(*second, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 401);
  CHECK(reconciler.CallJson(*third, "GET", "/v1/agents/gw/plan?after=0&wait=0", Json(nullptr), 200)["generation"] == 3);
  CHECK(ServerPeers(reconciler, vps) == std::vector<std::string>{"gw=" + test_support::Key(8).ToBase64(), phone});
}

TEST_CASE("fleet service: stopping the server answers an open long-poll 503") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  std::unique_ptr<ApiClient> poller = reconciler.Client(vps);
  Result<ApiResponse> answered = Status::Unavailable("not run");
  std::thread poll([&] { answered = poller->Get("/v1/agents/vps/plan?after=0&wait=20", std::chrono::seconds(30)); });
  while (reconciler.server->long_polls().Waiting() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  reconciler.server->Stop();
  poll.join();
  REQUIRE(answered.ok());
  CHECK(answered->status == 503);
  CHECK(ApiErrorMessage(*answered) == "the reconciler is stopping");
}

TEST_CASE("fleet service: a git revision refuses an apply without force, and force is logged") {
  Reconciler reconciler;
  RevisionRequest from_git;
  from_git.source = RevisionSource::kGit;
  from_git.commit_sha = "0123456789abcdef0123456789abcdef01234567";
  from_git.author = "Alex <alex@example.net>";
  from_git.message = "open minecraft";
  from_git.applied_by = "git";
  from_git.documents = {SourceFile{"tunnel.yaml", kTunnel}, SourceFile{"peers.yaml", kPeers}};
  Result<RevisionOutcome> accepted = reconciler.service->Submit(from_git);
  REQUIRE(accepted.ok());
  CHECK(accepted->verdict == RevisionVerdict::kAccepted);
  CHECK(accepted->revision_id == 1);

  Json refused = reconciler.Upload(LabFleet(), 409);
  CHECK(refused["error"] ==
        "the current revision 1 comes from git commit 0123456789abcdef0123456789abcdef01234567: change the fleet in "
        "git, or apply again with --force to override it until the next commit");
  Json forced = reconciler.Upload(LabFleet(), 200, Json{{"force", true}});
  CHECK(forced["revision"] == 2);
  Json status = reconciler.Snapshot();
  CHECK(status["revisions"][1]["author"] == "Alex <alex@example.net>");
  CHECK(status["revisions"][1]["message"] == "open minecraft");
  CHECK(status["events"][0]["kind"] == "revision-accepted");
  CHECK(status["events"][1]["kind"] == "revision-forced");
  CHECK(status["events"][1]["message"] ==
        "revision 2 by " + reconciler.AdminUri() + " overrides git commit 0123456789abcdef0123456789abcdef01234567 "
        "(--force); the fleet is diverged from git until the next commit");
  CHECK(status["divergence"] == Json{{"commit", "0123456789abcdef0123456789abcdef01234567"},
                                     {"gitRevision", 1},
                                     {"revision", 2},
                                     {"source", "apply"},
                                     {"by", reconciler.AdminUri()},
                                     {"at", reconciler.Now()}});
  // An apply over the override needs no --force (git is not in force) and stays diverged.
  std::string changed = kPeers;
  changed.replace(changed.find("\"25565\""), 7, "\"25566\"");
  CHECK(reconciler.Upload(Documents({{"tunnel.yaml", kTunnel}, {"peers.yaml", changed}}), 200)["revision"] == 3);
  CHECK(reconciler.Snapshot()["divergence"]["revision"] == 3);
  CHECK(reconciler.Snapshot()["divergence"]["commit"] == "0123456789abcdef0123456789abcdef01234567");

  // A new commit with the same files is a new revision (commits are what people wait for).
  RevisionRequest same_files = from_git;
  same_files.commit_sha = "1111111111111111111111111111111111111111";
  same_files.documents = {SourceFile{"fleet/tunnel.yaml", kTunnel}, SourceFile{"fleet/peers.yaml", kPeers}};
  Result<RevisionOutcome> recorded = reconciler.service->Submit(same_files);
  REQUIRE(recorded.ok());
  CHECK(recorded->revision_id == 4);
  CHECK(recorded->override_ended == ", ending the override by " + reconciler.AdminUri() + " (revision 3, apply)");
  Json followed = reconciler.Snapshot();
  CHECK(followed["divergence"].is_null());
  CHECK(followed["events"][1]["kind"] == "override-ended");
  CHECK(followed["events"][1]["message"] ==
        "git commit 1111111111111111111111111111111111111111 (revision 4) replaces revision 3 (apply by " +
            reconciler.AdminUri() + "): the fleet follows git again, it had diverged at commit "
        "0123456789abcdef0123456789abcdef01234567");
  CHECK(reconciler.service->Submit(same_files)->verdict == RevisionVerdict::kUnchanged);

  RevisionRequest broken = from_git;
  broken.commit_sha = "fedcba9876543210fedcba9876543210fedcba98";
  broken.documents = {SourceFile{"tunnel.yaml", "kind: Tunnel\n"}};
  Result<RevisionOutcome> rejected = reconciler.service->Submit(broken);
  REQUIRE(rejected.ok());
  CHECK(rejected->verdict == RevisionVerdict::kInvalid);
  Json after = reconciler.Snapshot();
  CHECK(after["rejected"]["commit"] == "fedcba9876543210fedcba9876543210fedcba98");
  CHECK(after["rejected"]["errors"] == Json(rejected->diagnostics));
  CHECK(after["revision"]["id"] == 4);
}

TEST_CASE("fleet service: a forced rollback over git stays in force across a restart until the next commit") {
  test_support::Remote remote;
  remote.Write("fleet/tunnel.yaml", kTunnel);
  remote.Write("fleet/peers.yaml", kPeers);
  const std::string first = remote.CommitAndPush("open minecraft");
  Reconciler reconciler;
  GitFeedOptions options;
  options.source = remote.Options();
  options.source.path = "fleet";
  options.interval = std::chrono::hours(1);  // only the first fetch and POST /v1/sync
  reconciler.git_options = options;
  reconciler.Restart();
  auto sync = [&] { return reconciler.CallJson(reconciler.admin, "POST", "/v1/sync", Json::object(), 200)["commit"]; };
  CHECK(sync() == first);
  CHECK(reconciler.Snapshot()["revision"]["commit"] == first);

  std::string changed = kPeers;
  changed.replace(changed.find("\"25565\""), 7, "\"25566\"");
  remote.Write("fleet/peers.yaml", changed);
  const std::string second = remote.CommitAndPush("move minecraft");
  CHECK(sync() == second);
  Json status = reconciler.Snapshot();
  REQUIRE(status["revision"]["id"] == 2);
  CHECK(status["divergence"].is_null());

  // Without --force the refusal names the flag `wwctl rollback` accepts.
  Json refused = reconciler.CallJson(reconciler.admin, "POST", "/v1/revisions/1/rollback", Json::object(), 409);
  CHECK(refused["error"] == "the current revision 2 comes from git commit " + second +
                                ": change the fleet in git, or roll back again with --force to override it until "
                                "the next commit");
  Json rolled =
      reconciler.CallJson(reconciler.admin, "POST", "/v1/revisions/1/rollback", Json{{"force", true}}, 200);
  CHECK(rolled["revision"] == 3);
  Json diverged = reconciler.Snapshot();
  CHECK(diverged["revision"]["source"] == "rollback");
  CHECK(diverged["divergence"]["commit"] == second);
  CHECK(diverged["divergence"]["source"] == "rollback");
  CHECK(diverged["divergence"]["by"] == reconciler.AdminUri());
  CHECK(diverged["events"][1]["kind"] == "revision-forced");

  // A restart fetches the same commit again: the override stays, and still says so.
  reconciler.Restart();
  CHECK(sync() == second);
  Json restarted = reconciler.Snapshot();
  CHECK(restarted["revision"]["id"] == 3);
  CHECK(restarted["revision"]["source"] == "rollback");
  CHECK(restarted["divergence"] == diverged["divergence"]);
  CHECK(restarted["events"][0]["id"] == diverged["events"][0]["id"]);  // nothing happened

  // The next commit ends the override, with an event saying so.
  remote.Write("fleet/peers.yaml", kPeers);
  const std::string third = remote.CommitAndPush("back to 25565");
  CHECK(sync() == third);
  Json followed = reconciler.Snapshot();
  CHECK(followed["revision"]["id"] == 4);
  CHECK(followed["revision"]["commit"] == third);
  CHECK(followed["divergence"].is_null());
  bool ended = false;
  for (const Json& event : followed["events"]) {
    if (event["kind"] != "override-ended") continue;
    ended = true;
    CHECK(event["message"] == "git commit " + third + " (revision 4) replaces revision 3 (rollback by " +
                                  reconciler.AdminUri() + "): the fleet follows git again, it had diverged at "
                                  "commit " + second);
  }
  CHECK(ended);
}

TEST_CASE("fleet service: GET /v1/status?after=VERSION long-polls until the snapshot changes") {
  Reconciler reconciler;
  std::unique_ptr<ApiClient> client = reconciler.Client(reconciler.admin);
  auto timed_get = [&](const std::string& query) {
    auto start = std::chrono::steady_clock::now();
    Result<ApiResponse> response = client->Get("/v1/status" + query, std::chrono::seconds(40));
    REQUIRE_MESSAGE(response.ok(), response.status().ToString());
    REQUIRE_MESSAGE(response->status == 200, response->body);
    auto took = std::chrono::steady_clock::now() - start;
    return std::make_pair(Json::parse(response->body), took);
  };
  Json first = reconciler.Snapshot();
  REQUIRE(first["version"].is_number_unsigned());
  const std::uint64_t version = first["version"].get<std::uint64_t>();

  // A stale version (older, or from before a restart) is answered at once.
  auto [stale, stale_took] = timed_get("?after=" + std::to_string(version - 1) + "&wait=20");
  CHECK(stale["version"] == version);
  CHECK(stale_took < std::chrono::seconds(2));
  auto [ahead, ahead_took] = timed_get("?after=" + std::to_string(version + 1000) + "&wait=20");
  CHECK(ahead["version"] == version);
  CHECK(ahead_took < std::chrono::seconds(2));

  // The current version waits the whole S seconds when nothing changes.
  auto [same, same_took] = timed_get("?after=" + std::to_string(version) + "&wait=1");
  CHECK(same["version"] == version);
  CHECK(same_took >= std::chrono::milliseconds(950));

  // A change answers at once: a revision arrives while the poll waits.
  std::atomic<std::int64_t> uploaded_at_ns{0};
  std::thread uploader([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    reconciler.Upload(LabFleet(), 200);
    uploaded_at_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  });
  auto [changed, changed_took] = timed_get("?after=" + std::to_string(version) + "&wait=20");
  auto answered_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  uploader.join();
  CHECK(changed["version"].get<std::uint64_t>() > version);
  CHECK(changed["revision"]["id"] == 1);
  CHECK(changed_took < std::chrono::seconds(5));
  // Woken by the change itself, not by a timer: answered about when the upload returned.
  CHECK(std::abs(answered_ns - uploaded_at_ns.load()) < 500'000'000);

  // Reading the snapshot changes nothing, so the version stays.
  const std::uint64_t after_upload = changed["version"].get<std::uint64_t>();
  CHECK(reconciler.Snapshot()["version"] == after_upload);

  // An agent's report is news when it changes what the snapshot says; the same report again,
  // as agents repeat every 30 s, is not.
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  reconciler.Enroll("gw", AgentRole::kClient, 2);  // the vps renders once its peer's key is known
  Json plan = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=0", Json(nullptr), 200);
  const std::uint64_t enrolled = reconciler.Snapshot()["version"].get<std::uint64_t>();
  CHECK(enrolled > after_upload);
  std::string report = ConvergedReport(plan["generation"], plan["desired"].dump()).dump();
  REQUIRE(reconciler.Call(vps, "POST", "/v1/agents/vps/report", report).status == 204);
  const std::uint64_t reported = reconciler.Snapshot()["version"].get<std::uint64_t>();
  CHECK(reported > enrolled);
  REQUIRE(reconciler.Call(vps, "POST", "/v1/agents/vps/report", report).status == 204);
  CHECK(reconciler.Snapshot()["version"] == reported);

  for (const char* bad : {"?after=x", "?after=-1", "?after=1&wait=soon"}) {
    ApiResponse response = reconciler.Call(reconciler.admin, "GET", std::string("/v1/status") + bad);
    CHECK_MESSAGE(response.status == 400, bad);
  }
}

TEST_CASE("fleet service: rollback makes a new revision from an old one") {
  Reconciler reconciler;
  reconciler.Upload(LabFleet(), 200);
  std::string changed = kPeers;
  changed.replace(changed.find("\"25565\""), 7, "\"25566\"");
  reconciler.Upload(Documents({{"fleet/tunnel.yaml", kTunnel}, {"fleet/peers.yaml", changed}}), 200);
  Json rolled = reconciler.CallJson(reconciler.admin, "POST", "/v1/revisions/1/rollback", Json::object(), 200);
  CHECK(rolled["revision"] == 3);
  Json status = reconciler.Snapshot();
  CHECK(status["revision"]["source"] == "rollback");
  CHECK(status["revision"]["contentSha256"] == status["revisions"][2]["contentSha256"]);
  CHECK(reconciler.Call(reconciler.admin, "POST", "/v1/revisions/42/rollback", "{}").status == 404);
}

// A renewal through POST /v1/agents/NAME/certificate with `who`'s certificate.
Credentials Renew(const Reconciler& reconciler, const Credentials& who, const std::string& name) {
  Result<std::string> key = GenerateP256Key();
  REQUIRE(key.ok());
  Result<std::string> csr = MakeCsr(*key, "anything");
  REQUIRE(csr.ok());
  Json renewed = reconciler.CallJson(who, "POST", "/v1/agents/" + name + "/certificate", Json{{"csr", *csr}}, 200);
  return Credentials{renewed["certificate"].get<std::string>(), *key};
}

std::string Serial(const Credentials& credentials) { return CertificateSerialHex(credentials.certificate_pem).value(); }

TEST_CASE("fleet service: an agent renews its certificate with its current one, at most every 10 minutes") {
  Reconciler reconciler;
  // The service's clock starts 20 minutes back, so certificates it issues are valid for TLS now.
  reconciler.clock_offset = -1200;
  Credentials gw = reconciler.Enroll("gw", AgentRole::kClient, 2);
  ApiResponse limited = reconciler.Call(gw, "POST", "/v1/agents/gw/certificate", Json{{"csr", "x"}}.dump());
  CHECK(limited.status == 429);
  CHECK(limited.retry_after_seconds == std::optional<std::int64_t>(600));
  CHECK(ApiErrorMessage(limited) == "agent \"gw\" got a certificate less than 10 minutes ago; renew again in 600 s "
                                    "(keep using the current certificate)");
  reconciler.clock_offset = -1200 + 599;
  CHECK(reconciler.Call(gw, "POST", "/v1/agents/gw/certificate", Json{{"csr", "x"}}.dump()).retry_after_seconds ==
        std::optional<std::int64_t>(1));

  reconciler.clock_offset = -600;
  Credentials fresh = Renew(reconciler, gw, "gw");
  Result<Identity> identity = VerifyClientCertificate(*reconciler.bootstrap.ca, fresh.certificate_pem, UnixNow());
  REQUIRE(identity.ok());
  CHECK(*identity == Identity{IdentityKind::kAgent, "gw", reconciler.bootstrap.fleet});
  // Counted from the renewed certificate now.
  CHECK(reconciler.Call(gw, "POST", "/v1/agents/gw/certificate", Json{{"csr", "x"}}.dump()).status == 429);
}

TEST_CASE("fleet service: a renewed certificate's first use revokes the agent's earlier ones, not before") {
  Reconciler reconciler;
  reconciler.clock_offset = -1400;
  Credentials gw = reconciler.Enroll("gw", AgentRole::kClient, 2);
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  // A renewal whose answer the agent never stored (it crashed, or the answer was lost).
  reconciler.clock_offset = -700;
  Credentials lost = Renew(reconciler, gw, "gw");
  // The old certificate keeps working, also across a restart of the reconciler.
  CHECK(reconciler.Call(gw, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 204);
  reconciler.Restart();
  CHECK(reconciler.Call(gw, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 204);

  // Ten minutes on, the agent renews again and uses the new certificate.
  reconciler.clock_offset = 0;
  Credentials fresh = Renew(reconciler, gw, "gw");
  CHECK(reconciler.Call(gw, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 204);
  CHECK(reconciler.Call(fresh, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 204);
  // That revoked both earlier ones, and nobody else's.
  ApiResponse old = reconciler.Call(gw, "GET", "/v1/agents/gw/plan?after=0&wait=0");
  CHECK(old.status == 401);
  CHECK(ApiErrorMessage(old) == "client certificate " + Serial(gw) + " is revoked");
  CHECK(reconciler.Call(lost, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 401);
  CHECK(reconciler.Call(fresh, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 204);
  CHECK(reconciler.Call(vps, "GET", "/v1/agents/vps/plan?after=0&wait=0").status == 204);
  CHECK(*reconciler.bootstrap.store->IsRevoked(Serial(gw)));
  CHECK(*reconciler.bootstrap.store->IsRevoked(Serial(lost)));
  CHECK_FALSE(*reconciler.bootstrap.store->IsRevoked(Serial(fresh)));

  std::vector<std::string> renewed;
  Json events = reconciler.Snapshot()["events"];
  INFO(events.dump());
  for (const Json& event : events) {
    if (event["kind"] == "certificate-renewed") renewed.push_back(event["message"]);
  }
  CHECK(renewed == std::vector<std::string>{"gw uses its renewed certificate " + Serial(fresh) +
                                            "; revoked the certificates it replaces: " + Serial(gw) + ", " +
                                            Serial(lost)});
  // Still revoked after a restart; the new one still works.
  reconciler.Restart();
  CHECK(reconciler.Call(gw, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 401);
  CHECK(reconciler.Call(fresh, "GET", "/v1/agents/gw/plan?after=0&wait=0").status == 204);
}

TEST_CASE("fleet service: an agent enrolled with a token shows up at once, and enrollment is rate limited") {
  Reconciler reconciler;
  reconciler.Upload(LabFleet(), 200);
  reconciler.Enroll("vps", AgentRole::kServer, 1);
  // No key for gw yet: vps gets its config without that peer, and gw says how to enroll.
  Json before = reconciler.Snapshot();
  CHECK(AgentStatus(before, "vps")["phase"] == "pending");
  CHECK(AgentStatus(before, "vps")["warnings"].size() == 1);
  CHECK(AgentStatus(before, "gw")["phase"] == "unknown");
  CHECK(AgentStatus(before, "gw")["deleted"] == false);
  CHECK(AgentStatus(before, "gw")["enrollCommand"] == "wwctl token create --type client --name gw");
  Json token = reconciler.CallJson(reconciler.admin, "POST", "/v1/tokens", Json{{"type", "client"}, {"name", "gw"}}, 200);
  TemporaryDirectory state;
  EnrollRequest request;
  request.url = reconciler.url;
  request.token = token["token"];
  request.ca_pins = {reconciler.bootstrap.ca_pin};
  request.mode = "client";
  request.name = "gw";
  request.hostname = "gw-host";
  request.version = "0.1.0";
  request.wireguard_public_key = test_support::Key(7);
  request.state_dir = state.path();
  request.write_file = [&state](std::string_view name, std::string_view contents) {
    std::ofstream(state.File(name)) << contents;
    return Status::Ok();
  };
  Result<EnrollResult> enrolled = Enroll(request);
  REQUIRE_MESSAGE(enrolled.ok(), enrolled.status().ToString());
  Json gw = AgentStatus(reconciler.Snapshot(), "gw");
  CHECK(gw["enrolled"] == true);
  CHECK(gw["phase"] == "pending");
  CHECK(gw["generation"] == 1);
  CHECK(gw["enrollCommand"] == nullptr);
  CHECK(AgentStatus(reconciler.Snapshot(), "vps")["phase"] == "pending");
  CHECK(AgentStatus(reconciler.Snapshot(), "vps")["warnings"] == Json::array());

  // Four attempts a minute per address (this fixture's limit); the first one was the enrollment.
  Json bogus{{"token", "wwt_nope_nope"}, {"csr", "x"}, {"wireguardPublicKey", test_support::Key(8).ToBase64()},
             {"hostname", "h"}, {"mode", "client"}};
  Credentials anonymous;
  for (int attempt = 0; attempt < 3; ++attempt) {
    CHECK(reconciler.Call(anonymous, "POST", "/v1/enroll", bogus.dump()).status == 401);
  }
  ApiResponse limited = reconciler.Call(anonymous, "POST", "/v1/enroll", bogus.dump());
  CHECK(limited.status == 429);
  CHECK(ApiErrorMessage(limited) == "too many enrollment attempts from 127.0.0.1; retry in a minute");
  reconciler.clock_offset += 60;
  CHECK(reconciler.Call(anonymous, "POST", "/v1/enroll", bogus.dump()).status == 401);
}

// Defect 11: the dayz template is all UDP, so the snapshot says udp, not "mixed".
TEST_CASE("fleet service: a forward's template ports of one protocol show as that protocol") {
  Reconciler reconciler;
  std::string forwards = R"(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: dayz
spec:
  tunnel: lab
  template: dayz
  to:
    address: 192.168.50.11
)";
  reconciler.Upload(Documents({{"fleet/tunnel.yaml", kTunnel}, {"fleet/peers.yaml", kPeers}, {"fleet/dayz.yaml", forwards}}),
                    200);
  Json status = reconciler.Snapshot();
  CHECK(status["tunnels"][0]["serverPublicKey"] == nullptr);  // vps has not enrolled
  REQUIRE(status["forwards"].size() == 2);
  CHECK(status["forwards"][1]["name"] == "dayz");
  CHECK(status["forwards"][1]["protocol"] == "udp");
  CHECK(status["forwards"][1]["ports"] == "2302-2305,27016");
  CHECK(status["forwards"][1]["to"] == "192.168.50.11");
}

// Defect 11: token create warns about names the fleet does not use that way; token list and
// token revoke, admin only.
TEST_CASE("fleet service: token warnings, token list without secrets, and revoking an unused token") {
  Reconciler reconciler;
  Json no_revision = reconciler.CallJson(reconciler.admin, "POST", "/v1/tokens", Json{{"type", "server"}, {"name", "vps"}}, 200);
  CHECK(no_revision["warnings"] == Json::array());  // nothing to compare with yet
  reconciler.Upload(LabFleet(), 200);

  Json wrong_mode = reconciler.CallJson(reconciler.admin, "POST", "/v1/tokens", Json{{"type", "client"}, {"name", "vps"}}, 200);
  CHECK(wrong_mode["warnings"] ==
        Json::array({"agent \"vps\" runs a Tunnel in revision 1, so it enrolls with --mode server; this token is for "
                     "a client agent (create it with --type server)"}));
  Json unknown = reconciler.CallJson(reconciler.admin, "POST", "/v1/tokens", Json{{"type", "client"}, {"name", "nas"}}, 200);
  CHECK(unknown["warnings"] ==
        Json::array({"agent \"nas\" is not in the fleet (revision 1 names it in no Tunnel.spec.agent or "
                     "Peer.spec.agent): it can enroll but gets an empty config"}));
  Json fine = reconciler.CallJson(reconciler.admin, "POST", "/v1/tokens", Json{{"type", "client"}, {"name", "gw"}}, 200);
  CHECK(fine["warnings"] == Json::array());

  Json listed = reconciler.CallJson(reconciler.admin, "GET", "/v1/tokens", Json(nullptr), 200);
  REQUIRE(listed["tokens"].size() == 4);
  for (const Json& token : listed["tokens"]) {
    CHECK(token["state"] == "active");
    CHECK_FALSE(token.contains("secretSha256"));
    CHECK(listed.dump().find(std::string(token["id"]) + "_") == std::string::npos);
  }
  CHECK(listed.dump().find(std::string(fine["token"])) == std::string::npos);
  const std::string id = fine["id"];
  CHECK(reconciler.Call(reconciler.admin, "DELETE", "/v1/tokens/" + id).status == 204);
  CHECK(reconciler.Call(reconciler.admin, "DELETE", "/v1/tokens/" + id).status == 204);
  CHECK(reconciler.Call(reconciler.admin, "DELETE", "/v1/tokens/zzzzzzzz").status == 404);
  listed = reconciler.CallJson(reconciler.admin, "GET", "/v1/tokens", Json(nullptr), 200);
  for (const Json& token : listed["tokens"]) CHECK(token["state"] == (token["id"] == id ? "revoked" : "active"));

  // A revoked token enrolls nothing: the same 401 as an unknown one.
  Result<std::string> agent_key = GenerateP256Key();
  REQUIRE(agent_key.ok());
  Result<std::string> csr = MakeCsr(*agent_key, "gw");
  REQUIRE(csr.ok());
  Json enroll{{"token", fine["token"]}, {"csr", *csr}, {"wireguardPublicKey", test_support::Key(9).ToBase64()},
              {"hostname", "gw"}, {"mode", "client"}, {"name", "gw"}};
  Credentials anonymous;
  ApiResponse refused = reconciler.Call(anonymous, "POST", "/v1/enroll", enroll.dump());
  CHECK(refused.status == 401);
  CHECK(ApiErrorMessage(refused) == kTokenRefusedMessage);

  // Agents may not see or revoke tokens.
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  CHECK(reconciler.Call(vps, "GET", "/v1/tokens").status == 403);
  CHECK(reconciler.Call(vps, "DELETE", "/v1/tokens/" + std::string(unknown["id"])).status == 403);
}

TEST_CASE("RateLimiter allows a number of attempts per key and window") {
  int64_t now = 1000;
  RateLimiter limiter(RateLimit{2, 60, 2}, [&now] { return now; });
  CHECK(limiter.Allow("a"));
  CHECK(limiter.Allow("a"));
  CHECK_FALSE(limiter.Allow("a"));
  CHECK(limiter.Allow("b"));
  now += 59;
  CHECK_FALSE(limiter.Allow("a"));
  now += 1;
  CHECK(limiter.Allow("a"));
  // Past max_keys, ended windows are dropped: "b" starts afresh.
  now += 60;
  CHECK(limiter.Allow("c"));
  CHECK(limiter.Allow("b"));
  CHECK(limiter.Allow("b"));
  CHECK_FALSE(limiter.Allow("b"));
}

TEST_CASE("fleet service: a report is checked against its agent: issued generations, its config's peers") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  Json plan = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=1", Json(nullptr), 200);
  REQUIRE(plan["generation"] == 1);
  auto post = [&](const Json& report) {
    ApiResponse response = reconciler.Call(vps, "POST", "/v1/agents/vps/report", report.dump());
    return std::to_string(response.status) + " " + response.body;
  };

  Json report = ConvergedReport(2, plan["desired"].dump());
  CHECK(post(report) ==
        R"x(400 {"error":"field \"generation\": 2 was not issued to agent \"vps\" (its latest plan generation is 1)"})x");
  report["generation"] = 0;  // restored from disk before any contact
  CHECK(post(report) == "204 ");
  report["generation"] = 1;

  // vps serves gw and the phone: 2 peers, plus the allowance for peers added by hand.
  report["peers"] = Json::array();
  for (std::size_t i = 0; i < 2 + kReportPeerAllowance; ++i) report["peers"].push_back(Json::object());
  CHECK(post(report) == "204 ");
  report["peers"].push_back(Json::object());
  CHECK(post(report) == R"(400 {"error":"field \"peers\" lists 19 peers; agent \"vps\" may report at most 18 )"
                        R"x((its config's peers plus 16)"})x");
  // The attack of issue 10: 80,000 empty objects, refused by the same rule.
  report["peers"] = Json::array();
  for (int i = 0; i < 80000; ++i) report["peers"].push_back(Json::object());
  CHECK(post(report).rfind(R"(400 {"error":"field \"peers\" lists 80000 peers;)", 0) == 0);
  // A refused report changes nothing.
  CHECK(AgentStatus(reconciler.Snapshot(), "vps")["appliedGeneration"] == 1);
}

TEST_CASE("fleet service: at most one stored report per agent per second, and none lost at Stop") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  Json plan = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=1", Json(nullptr), 200);
  auto stored_hostname = [&] {
    Result<ReportRecord> stored = reconciler.bootstrap.store->LatestReport("vps");
    REQUIRE(stored.ok());
    return Json::parse(stored->metrics_json)["hostname"].get<std::string>();
  };
  Json report = ConvergedReport(1, plan["desired"].dump());
  report["hostname"] = "first";
  REQUIRE(reconciler.Call(vps, "POST", "/v1/agents/vps/report", report.dump()).status == 204);
  CHECK(stored_hostname() == "first");
  // The service's clock stands still: the same second. The view is current, the store waits.
  report["hostname"] = "second";
  REQUIRE(reconciler.Call(vps, "POST", "/v1/agents/vps/report", report.dump()).status == 204);
  report["hostname"] = "third";
  REQUIRE(reconciler.Call(vps, "POST", "/v1/agents/vps/report", report.dump()).status == 204);
  CHECK(AgentStatus(reconciler.Snapshot(), "vps")["hostname"] == "third");
  CHECK(stored_hostname() == "first");
  // The next second, the tick stores the latest.
  reconciler.clock_offset += 1;
  for (int tick = 0; tick < 400 && stored_hostname() != "third"; ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(stored_hostname() == "third");
  // One more in that second, then a restart: Stop() stores it.
  report["hostname"] = "before-stop";
  REQUIRE(reconciler.Call(vps, "POST", "/v1/agents/vps/report", report.dump()).status == 204);
  reconciler.Restart();
  CHECK(stored_hostname() == "before-stop");
  CHECK(AgentStatus(reconciler.Snapshot(), "vps")["hostname"] == "before-stop");
}

// The kinds of the snapshot's events, oldest first.
std::vector<std::string> EventKinds(const Json& snapshot) {
  std::vector<std::string> kinds;
  for (const Json& event : snapshot["events"]) kinds.push_back(event["kind"].get<std::string>());
  std::reverse(kinds.begin(), kinds.end());  // the snapshot lists them newest first
  return kinds;
}

TEST_CASE("fleet service: events say what changed, not every generation an agent applies") {
  Reconciler reconciler;
  Credentials vps = reconciler.Enroll("vps", AgentRole::kServer, 1);
  reconciler.Enroll("gw", AgentRole::kClient, 2);
  reconciler.Upload(LabFleet(), 200);
  Json plan = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=0&wait=1", Json(nullptr), 200);
  REQUIRE(reconciler.Call(vps, "POST", "/v1/agents/vps/report", ConvergedReport(1, plan["desired"].dump()).dump())
              .status == 204);
  CHECK(AgentStatus(reconciler.Snapshot(), "vps")["phase"] == "converged");
  // unknown -> pending at the upload is news; pending -> converged for each generation is not.
  CHECK(EventKinds(reconciler.Snapshot()) == std::vector<std::string>{"agent-enrolled", "agent-enrolled",
                                                                      "revision-accepted", "agent-phase",
                                                                      "agent-phase", "agent-connected"});

  // A failure is news, and so is the degraded phase; the retries failing the same way are not.
  Json failed{{"generation", 1}, {"converged", false}, {"error", "iptables-restore: exit 1"},
              {"observed", Json::parse(ObservedStateToJson(ObservedState{}, JsonStyle::kCompact))}};
  REQUIRE(reconciler.Call(vps, "POST", "/v1/agents/vps/report", failed.dump()).status == 204);
  std::size_t after_failure = EventKinds(reconciler.Snapshot()).size();
  CHECK(EventKinds(reconciler.Snapshot()).back() == "agent-phase");  // converged -> degraded
  reconciler.clock_offset += 2;
  Json retried = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=1&wait=5", Json(nullptr), 200);
  failed["generation"] = retried["generation"];
  REQUIRE(reconciler.Call(vps, "POST", "/v1/agents/vps/report", failed.dump()).status == 204);
  CHECK(AgentStatus(reconciler.Snapshot(), "vps")["consecutiveFailures"] == 2);
  CHECK(EventKinds(reconciler.Snapshot()).size() == after_failure);
  // A different error is news again.
  reconciler.clock_offset += 4;
  retried = reconciler.CallJson(vps, "GET", "/v1/agents/vps/plan?after=2&wait=5", Json(nullptr), 200);
  failed["generation"] = retried["generation"];
  failed["error"] = "wg: no such device";
  REQUIRE(reconciler.Call(vps, "POST", "/v1/agents/vps/report", failed.dump()).status == 204);
  Json snapshot = reconciler.Snapshot();
  CHECK(EventKinds(snapshot).size() == after_failure + 1);
  CHECK(snapshot["events"][0]["message"] == "vps failed to apply generation 3: wg: no such device");
}

TEST_CASE("fleet service: the event history is pruned to its count and age in the tick") {
  Reconciler reconciler;
  reconciler.events = EventRetention{3, std::chrono::seconds(86400)};
  reconciler.Restart();
  for (int i = 0; i < 6; ++i) {
    REQUIRE(reconciler.service->RecordRejectedCommit("c" + std::to_string(i), {"bad"}).ok());
  }
  auto stored = [&] {
    Result<std::vector<EventRecord>> events = reconciler.bootstrap.store->RecentEvents(100);
    REQUIRE(events.ok());
    return *events;
  };
  for (int tick = 0; tick < 400 && stored().size() > 3; ++tick) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(stored().size() == 3);
  CHECK(stored().front().message == "git commit c5 rejected: bad");
  // A day and an hour later, with nothing new, the age prunes them all.
  reconciler.clock_offset += 86400 + 3600;
  for (int tick = 0; tick < 400 && !stored().empty(); ++tick) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(stored().empty());
}

// A fleet of vps serving gw01..gwNN, one Peer each.
Json WideFleet(int peers) {
  std::string yaml;
  for (int i = 1; i <= peers; ++i) {
    std::string name = (i < 10 ? "gw0" : "gw") + std::to_string(i);
    yaml += "---\napiVersion: wirewarp.dev/v1\nkind: Peer\nmetadata:\n  name: " + name + "\nspec:\n  tunnel: lab\n  agent: " +
            name + "\n";
  }
  return Documents({{"fleet/tunnel.yaml", kTunnel}, {"fleet/peers.yaml", yaml}});
}

TEST_CASE("fleet service: the snapshot stays bounded with 30 agents sending hostile max-size reports") {
  Reconciler reconciler;
  std::vector<std::pair<std::string, Credentials>> agents;
  agents.emplace_back("vps", reconciler.Enroll("vps", AgentRole::kServer, 1));
  for (int i = 1; i <= 29; ++i) {
    std::string name = (i < 10 ? "gw0" : "gw") + std::to_string(i);
    agents.emplace_back(name, reconciler.Enroll(name, AgentRole::kClient, i + 1));
  }
  reconciler.Upload(WideFleet(29), 200);
  const std::string longest(kReportMaxString, 'x');
  // Thousands of routes no config has: thousands of drift steps per agent.
  std::vector<Route> foreign_routes;
  for (int route = 0; route < 2000; ++route) {
    Result<Ipv4Cidr> destination =
        Ipv4Cidr::Parse("10.200." + std::to_string(route / 250) + "." + std::to_string(route % 250) + "/32");
    REQUIRE(destination.ok());
    foreign_routes.push_back(Route{*destination, "wg0", std::nullopt, 1000});
  }
  for (const auto& [name, credentials] : agents) {
    Json plan = reconciler.CallJson(credentials, "GET", "/v1/agents/" + name + "/plan?after=0&wait=1", Json(nullptr), 200);
    Result<AgentConfig> desired = AgentConfigFromJson(plan["desired"].dump());
    REQUIRE(desired.ok());
    ObservedState observed = ObservedFromDesired(*desired);
    observed.routes.insert(observed.routes.end(), foreign_routes.begin(), foreign_routes.end());
    Json report{{"generation", plan["generation"]},
                {"converged", false},
                {"error", longest},
                {"version", longest},
                {"hostname", longest},
                {"observed", Json::parse(ObservedStateToJson(observed, JsonStyle::kCompact))},
                {"system", Json{{"cpuPercent", 100}, {"memoryUsedBytes", std::uint64_t{1} << 60},
                                {"uptimeSeconds", kReportMaxUptimeSeconds}}}};
    REQUIRE(reconciler.Call(credentials, "POST", "/v1/agents/" + name + "/report", report.dump()).status == 204);
  }

  ApiResponse status = reconciler.Call(reconciler.admin, "GET", "/v1/status");
  REQUIRE(status.status == 200);
  Json snapshot = Json::parse(status.body);
  REQUIRE(snapshot["agents"].size() == 30);
  for (const Json& agent : snapshot["agents"]) {
    CAPTURE(agent["name"]);
    CHECK(agent["driftCount"].get<std::size_t>() >= 2000);
    CHECK(agent["drift"].size() == kSnapshotMaxEntries);
    CHECK(agent["hostname"].get<std::string>().size() <= kSnapshotMaxText);
    // Each agent's entry is bounded whatever it reports: its texts are 1 KiB each at most.
    CHECK(agent.dump().size() < 8 * 1024 + kSnapshotMaxEntries * 128);
  }
  // Unbounded, the drift alone would be 30 agents x 2,000 steps (over 2 MB).
  CHECK(status.body.size() < 512 * 1024);
  MESSAGE("snapshot of 30 hostile agents: " << status.body.size() << " bytes");
}

TEST_CASE("fleet service: status history pages with events_before and limit; a snapshot is shared per version") {
  Reconciler reconciler;
  for (int i = 0; i < 8; ++i) {
    REQUIRE(reconciler.service->RecordRejectedCommit("c" + std::to_string(i), {"bad"}).ok());
  }
  Json newest = reconciler.CallJson(reconciler.admin, "GET", "/v1/status?limit=3", Json(nullptr), 200);
  REQUIRE(newest["events"].size() == 3);
  CHECK(newest["events"][0]["message"] == "git commit c7 rejected: bad");
  const int64_t oldest_shown = newest["events"][2]["id"];
  Json older = reconciler.CallJson(reconciler.admin, "GET",
                                   "/v1/status?limit=3&events_before=" + std::to_string(oldest_shown), Json(nullptr),
                                   200);
  REQUIRE(older["events"].size() == 3);
  CHECK(older["events"][0]["id"] == oldest_shown - 1);
  CHECK(older["events"][0]["message"] == "git commit c4 rejected: bad");
  Json first = reconciler.CallJson(reconciler.admin, "GET", "/v1/status?events_before=3", Json(nullptr), 200);
  CHECK(first["events"].size() == 2);
  CHECK(reconciler.Snapshot()["events"].size() == 8);  // default: the newest 50
  for (const char* bad : {"limit=0", "limit=501", "limit=x", "events_before=-1"}) {
    CAPTURE(bad);
    CHECK(reconciler.Call(reconciler.admin, "GET", std::string("/v1/status?") + bad).status == 400);
  }

  // Readers of one version in one second share one build; a change makes a new one for the
  // API at once, while the status page's documents may lag until the next second.
  Result<std::shared_ptr<const PublishedSnapshot>> one = reconciler.service->Snapshot(EventPage{});
  Result<std::shared_ptr<const PublishedSnapshot>> two = reconciler.service->Snapshot(EventPage{});
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  CHECK(one->get() == two->get());
  REQUIRE(reconciler.service->RecordRejectedCommit("c8", {"bad"}).ok());
  Result<std::shared_ptr<const PublishedSnapshot>> page_view = reconciler.service->Snapshot();
  REQUIRE(page_view.ok());
  CHECK(page_view->get() == one->get());
  Result<std::shared_ptr<const PublishedSnapshot>> three = reconciler.service->Snapshot(EventPage{});
  REQUIRE(three.ok());
  CHECK(three->get() != one->get());
  CHECK((*three)->snapshot.version > (*one)->snapshot.version);
  reconciler.clock_offset += 1;
  Result<std::shared_ptr<const PublishedSnapshot>> next_second = reconciler.service->Snapshot();
  REQUIRE(next_second.ok());
  CHECK((*next_second)->snapshot.version == (*three)->snapshot.version);
  CHECK((*next_second)->snapshot.now == (*three)->snapshot.now + 1);
  CHECK((*three)->snapshot.events.front().message == "git commit c8 rejected: bad");
}

}  // namespace
}  // namespace ww
