// wwctl's commands against a reconciler: a REAL HttpsServer (mutual TLS, certificates from a
// real first start's CA, the admin.wwctl.yaml it wrote) whose routes give canned API.md
// answers and record every request. Asserts exact output, exit codes and request bodies.
#include <doctest/doctest.h>

#include "tests/support/test_files.h"
#include <nlohmann/json.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <thread>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "reconciler/api/https_server.h"
#include "reconciler/server/bootstrap.h"
#include "tests/support/temporary_directory.h"
#include "tests/unit/cli/wwctl_in_process.h"
#include "tests/unit/cli/wwctl_process.h"

namespace ww::cli {
namespace {
using test_support::UnixNow;

using Json = nlohmann::ordered_json;


struct Recorded {
  std::string method;
  std::string path;
  std::string query;  // "limit=5"
  std::string body;
  std::string identity;
};

// A reconciler stand-in: real TLS and client-certificate checks, canned answers per
// "METHOD PATH" (served in order, the last one repeating), every request recorded.
class FakeReconciler {
 public:
  FakeReconciler() {
    // The advertised port is a placeholder until the server has bound one; fixed below.
    Result<Bootstrap> opened = Bootstrap::Open(directory_.File("data"), "https://127.0.0.1:1", UnixNow());
    REQUIRE(opened.ok());
    bootstrap_ = std::move(opened).value();
    HttpsServerOptions options;
    options.server_certificate_pem = bootstrap_.server_certificate_pem;
    options.server_private_key_pem = bootstrap_.server_private_key_pem;
    options.worker_threads = 4;
    options.fleet = bootstrap_.fleet;
    Result<std::unique_ptr<HttpsServer>> server = HttpsServer::Create(*bootstrap_.ca, std::move(options));
    REQUIRE(server.ok());
    server_ = std::move(server).value();
    RouteOptions upload;
    upload.max_body = size_t{8} << 20;
    REQUIRE(server_->Route(HttpMethod::kGet, "/v1/status", {}, Handler()).ok());
    REQUIRE(server_->Route(HttpMethod::kGet, "/v1/version", {}, Handler()).ok());
    REQUIRE(server_->Route(HttpMethod::kGet, "/v1/revisions", {}, Handler()).ok());
    REQUIRE(server_->Route(HttpMethod::kGet, "/v1/revisions/([0-9]{1,20})", {}, Handler()).ok());
    REQUIRE(server_->Route(HttpMethod::kPost, "/v1/revisions", upload, Handler()).ok());
    REQUIRE(server_->Route(HttpMethod::kPost, "/v1/revisions/([0-9]{1,20})/rollback", {}, Handler()).ok());
    REQUIRE(server_->Route(HttpMethod::kPost, "/v1/tokens", {}, Handler()).ok());
    REQUIRE(server_->Route(HttpMethod::kGet, "/v1/tokens", {}, Handler()).ok());
    REQUIRE(server_->Route(HttpMethod::kDelete, "/v1/tokens/([0-9a-z]{1,64})", {}, Handler()).ok());
    REQUIRE(server_->Route(HttpMethod::kDelete, "/v1/agents/([a-z0-9-]{1,63})", {}, Handler()).ok());
    Result<int> port = server_->Start("127.0.0.1", 0);
    REQUIRE(port.ok());
    url_ = "https://127.0.0.1:" + std::to_string(*port);
    test::WriteText(bootstrap_.admin_config_path,
                    test_support::WithServerUrl(test::ReadText(bootstrap_.admin_config_path), url_));
  }
  ~FakeReconciler() { server_->Stop(); }

  // Every answer from now on waits this long first (timeouts, interrupted commands).
  void Delay(std::chrono::milliseconds delay) { delay_ = delay; }

    void Answer(const std::string& method_and_path, int status, std::string body) {
    std::lock_guard<std::mutex> lock(mutex_);
    answers_[method_and_path].answers.push_back(HttpResponse{status, "application/json", std::move(body)});
  }
  std::vector<Recorded> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  const std::string& config_path() const { return bootstrap_.admin_config_path; }
  const std::string& fleet() const { return bootstrap_.fleet; }
  const std::string& ca_pem() const { return bootstrap_.ca->CertificatePem(); }
  const std::string& url() const { return url_; }
  std::string File(std::string_view name) const { return directory_.File(name); }

 private:
  RouteHandler Handler() {
    return [this](const HttpRequest& request) {
      std::string query;
      for (const auto& [name, value] : request.query) query += (query.empty() ? "" : "&") + name + "=" + value;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(Recorded{request.method, request.path, query, request.body,
                                     request.identity ? IdentityUri(*request.identity) : ""});
      }
      std::this_thread::sleep_for(delay_.load());
      std::lock_guard<std::mutex> lock(mutex_);
      Script& script = answers_[request.method + " " + request.path];
      if (script.answers.empty()) return HttpResponse{404, "application/json", R"({"error": "no canned answer"})"};
      // A long-poll (?after=) with nothing new waits a little, as a reconciler does, rather
      // than inviting the client to ask again at once.
      if (script.served >= script.answers.size() && request.QueryValue("after")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      return script.answers[std::min(script.served++, script.answers.size() - 1)];
    };
  }

  test_support::TemporaryDirectory directory_{"ww-remote-commands"};
  Bootstrap bootstrap_;
  std::unique_ptr<HttpsServer> server_;
  std::string url_;
  mutable std::mutex mutex_;
  // Answers in order; once all were served, the last repeats.
  struct Script {
    std::vector<HttpResponse> answers;
    size_t served = 0;
  };
  std::map<std::string, Script> answers_;  // GUARDED_BY(mutex_)
  std::vector<Recorded> requests_;                           // GUARDED_BY(mutex_)
  std::atomic<std::chrono::milliseconds> delay_{std::chrono::milliseconds(0)};
};

using Run = InProcessRun;

// Runs wwctl in-process with exactly `args`.
Run WwctlArgs(const std::vector<std::string>& args, const std::string& input = "") {
  return RunWwctlInProcess(args, input);
}

// Runs wwctl in-process with the fake's config (--config last).
Run Wwctl(const FakeReconciler& fake, std::vector<std::string> args, const std::string& input = "") {
  args.push_back("--config");
  args.push_back(fake.config_path());
  return WwctlArgs(args, input);
}

const char* const kStatus = R"({"now": 1763780000, "converged": false,
 "revision": {"id": 7, "source": "apply", "commit": "", "author": "", "message": "",
              "appliedBy": "wirewarp://default/admin/admin", "createdAt": 1763779000, "contentSha256": "ab12"},
 "rejected": null,
 "agents": [{"name": "vps", "mode": "server", "connected": true, "lastSeen": 1763779990, "version": "0.1.0",
             "hostname": "vps", "generation": 12, "appliedGeneration": 12, "phase": "converged", "drift": [],
             "lastError": "", "message": "", "system": {"cpuPercent": 1.5}},
            {"name": "home-gw", "mode": "client", "connected": false, "lastSeen": 1763772800, "version": "0.1.0",
             "hostname": "gw", "generation": 12, "appliedGeneration": 11, "phase": "disconnected",
             "drift": ["set peer abc on wg0", "add route 10.8.0.0/24"], "lastError": "", "message": "", "system": {}},
            {"name": "spare", "mode": "client", "enrolled": false, "connected": false, "lastSeen": null,
             "phase": "unknown"},
            {"name": "nas", "mode": "client", "connected": true, "lastSeen": 1763779999, "phase": "degraded",
             "generation": 12, "appliedGeneration": 10, "lastError": "wg: interface busy\nmore", "consecutiveFailures": 3}],
 "tunnels": [{"name": "home", "server": "vps", "interface": "wg0", "selfHeal": true,
              "peers": [{"name": "home-gw", "agent": "home-gw", "managed": true, "address": "10.8.0.2/32",
                         "handshakeAgeSeconds": 12, "rxBytes": 1536, "txBytes": 300},
                        {"name": "phone", "agent": null, "managed": false, "address": "10.8.0.3/32",
                         "handshakeAgeSeconds": null, "rxBytes": 0, "txBytes": 0}]}],
 "forwards": [{"name": "minecraft", "tunnel": "home", "agent": "vps", "protocol": "tcp",
               "ports": "25565", "to": "192.168.1.10:25565", "description": "", "state": "applied"}],
 "revisions": [], "events": []})";

const char* const kRevisions = R"({"revisions": [
 {"id": 7, "source": "git", "commit": "0123456789abcdef0123456789abcdef01234567", "author": "Ada",
  "message": "Open the minecraft port\n\nlong text", "appliedBy": "", "createdAt": 1763779000, "contentSha256": "ab"},
 {"id": 6, "source": "apply", "commit": "", "author": "", "message": "",
  "appliedBy": "wirewarp://default/admin/admin", "createdAt": 1763692600, "contentSha256": "cd"}]})";

// A fleet directory with two files, as `-f DIR` reads them.
std::string WriteFleet(const FakeReconciler& fake) {
  std::string directory = fake.File("fleet");
  std::filesystem::create_directories(directory + "/more");
  test::WriteText(directory + "/tunnel.yaml", "apiVersion: wirewarp.dev/v1\nkind: Tunnel\n");
  test::WriteText(directory + "/more/peer.yml", "kind: Peer\n");
  test::WriteText(directory + "/notes.txt", "not part of the fleet\n");
  return directory;
}

TEST_CASE("apply uploads every fleet file as documents and prints the revision and each agent") {
  FakeReconciler fake;
  fake.Answer("POST /v1/revisions", 200, R"({"accepted": true, "revision": 7, "warnings": ["peer phone has no agent"],
    "agents": [{"agent": "vps", "phase": "pending", "steps": ["create interface wg0", "add address 10.8.0.1/24", "set peer x"],
                "destructive": false},
               {"agent": "home-gw", "phase": "converged", "steps": [], "destructive": false}]})");
  std::string fleet = WriteFleet(fake);
  Run run = Wwctl(fake, {"apply", "-f", fleet});
  CHECK(run.exit_code == 0);
  CHECK(run.out ==
        "Revision 7 accepted.\n"
        "agent vps: 3 steps (pending)\n"
        "agent home-gw: no changes (converged)\n");
  CHECK(run.err == "wwctl: warning: peer phone has no agent\n");
  std::vector<Recorded> requests = fake.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].path == "/v1/revisions");
  CHECK(requests[0].identity == "wirewarp://" + fake.fleet() + "/admin/admin");
  Json expected{{"documents",
                 {{{"path", fleet + "/more/peer.yml"}, {"content", "kind: Peer\n"}},
                  {{"path", fleet + "/tunnel.yaml"}, {"content", "apiVersion: wirewarp.dev/v1\nkind: Tunnel\n"}}}},
                {"dryRun", false},
                {"allowDestructive", false},
                {"force", false}};
  CHECK(Json::parse(requests[0].body) == expected);
}

TEST_CASE("apply --dry-run --allow-destructive --force from stdin shows every agent's steps") {
  FakeReconciler fake;
  fake.Answer("POST /v1/revisions", 200, R"({"accepted": true, "revision": null, "warnings": [],
    "agents": [{"agent": "vps", "phase": "pending", "steps": ["remove peer abc from wg0"], "destructive": true}]})");
  Run run = Wwctl(fake, {"apply", "-f", "-", "--dry-run", "--allow-destructive", "--force"}, "kind: Tunnel\n");
  CHECK(run.exit_code == 0);
  CHECK(run.out ==
        "Dry run: nothing was stored.\n"
        "agent vps: 1 step, destructive (pending)\n"
        "  remove peer abc from wg0\n");
  CHECK(run.err == "");
  REQUIRE(fake.requests().size() == 1);
  CHECK(fake.requests()[0].body ==
        R"({"documents":[{"path":"-","content":"kind: Tunnel\n"}],"dryRun":true,"allowDestructive":true,"force":true})");
}

TEST_CASE("apply of an identical fleet says unchanged and -o json passes the answer through") {
  FakeReconciler fake;
  const std::string answer = R"({"accepted":true,"revision":null,"unchanged":true,"warnings":[],"agents":[]})";
  fake.Answer("POST /v1/revisions", 200, answer);
  Run text = Wwctl(fake, {"apply", "-f", "-"}, "kind: Tunnel\n");
  CHECK(text.exit_code == 0);
  CHECK(text.out == "Unchanged: the fleet is identical to the current revision.\n");
  Run json = Wwctl(fake, {"apply", "-f", "-", "-o", "json"}, "kind: Tunnel\n");
  CHECK(json.exit_code == 0);
  CHECK(json.out == Json::parse(answer).dump(2) + "\n");
  Run yaml = Wwctl(fake, {"apply", "-f", "-", "-o", "yaml"}, "kind: Tunnel\n");
  CHECK(yaml.out == "accepted: true\nrevision: null\nunchanged: true\nwarnings: []\nagents: []\n");
}

TEST_CASE("apply of an invalid fleet prints the diagnostics as validate does and exits 1") {
  FakeReconciler fake;
  fake.Answer("POST /v1/revisions", 422, R"({"error": "the fleet is invalid: 2 errors", "diagnostics": [
    "fleet/vps.yaml:4:3: error: Tunnel/home: spec.listenPort: \"99999\" is not a port",
    "fleet/vps.yaml:9:5: error: Peer/phone: spec.tunnel: no Tunnel \"hme\"; did you mean \"home\"?"]})");
  Run run = Wwctl(fake, {"apply", "-f", "-"}, "kind: Tunnel\n");
  CHECK(run.exit_code == 1);
  CHECK(run.out ==
        "fleet/vps.yaml:4:3: error: Tunnel/home: spec.listenPort: \"99999\" is not a port\n"
        "fleet/vps.yaml:9:5: error: Peer/phone: spec.tunnel: no Tunnel \"hme\"; did you mean \"home\"?\n");
  CHECK(run.err == "wwctl: error: the fleet is invalid: 2 errors\n");
}

TEST_CASE("apply refused as destructive exits 1, unreachable reconciler exits 2") {
  FakeReconciler fake;
  fake.Answer("POST /v1/revisions", 409,
              R"j({"error": "refusing a destructive revision: it removes every tunnel (--allow-destructive)"})j");
  Run refused = Wwctl(fake, {"apply", "-f", "-"}, "kind: Tunnel\n");
  CHECK(refused.exit_code == 1);
  CHECK(refused.out == "");
  CHECK(refused.err == "wwctl: error: refusing a destructive revision: it removes every tunnel (--allow-destructive)\n");

  fake.Answer("POST /v1/tokens", 403, R"({"error": "viewers cannot create tokens"})");
  Run forbidden = Wwctl(fake, {"token", "create", "--type", "client"});
  CHECK(forbidden.exit_code == 1);
  CHECK(forbidden.err == "wwctl: error: the reconciler answered HTTP 403: viewers cannot create tokens\n");

  // Nothing listens on port 1.
  std::string config = test::ReadText(fake.config_path());
  config.replace(config.find(fake.url()), fake.url().size(), "https://127.0.0.1:1");
  test::WriteText(fake.config_path(), config);
  Run down = Wwctl(fake, {"apply", "-f", "-"}, "kind: Tunnel\n");
  CHECK(down.exit_code == 2);
  CHECK(down.err.starts_with("wwctl: error: cannot reach https://127.0.0.1:1: connection refused"));
}

TEST_CASE("apply refuses a file that is not UTF-8 locally, as validate reports it") {
  FakeReconciler fake;
  Run run = Wwctl(fake, {"apply", "-f", "-"}, "kind: Tunnel\nmetadata: {name: \"h\xffme\"}\n");
  CHECK(run.exit_code == 1);
  CHECK(run.out.starts_with("-:2:"));
  CHECK(run.out.find(": error: ") != std::string::npos);
  CHECK(run.err == "wwctl: error: the fleet is invalid: 1 error\n");
  CHECK(fake.requests().empty());
}

// A dry-run answer of today's reconciler: resource changes, then each agent's plan.
const char* const kDiffAnswer = R"({"accepted": true, "revision": null, "unchanged": false, "dryRun": true,
  "warnings": [],
  "changes": [
    {"kind": "Tunnel", "name": "home", "change": "changed", "destructive": false,
     "fields": [{"path": "spec.mtu", "before": "1420", "after": "1380"},
                {"path": "metadata.labels.site", "before": null, "after": "ams 2"}]},
    {"kind": "PortForward", "name": "valheim", "change": "added", "destructive": false,
     "fields": [{"path": "spec.tunnel", "before": null, "after": "home"},
                {"path": "spec.template", "before": null, "after": "valheim"}]}],
  "agents": [{"agent": "vps", "phase": "pending", "steps": ["+ forward udp 2456-2458 to 10.8.0.2"], "destructive": false,
              "message": "1 step"},
             {"agent": "home-gw", "phase": "converged", "steps": [], "destructive": false, "message": ""}]})";

TEST_CASE("diff lists resources added and changed field by field, then each agent's steps, and exits 2") {
  FakeReconciler fake;
  fake.Answer("POST /v1/revisions", 200, kDiffAnswer);
  Run run = Wwctl(fake, {"diff", "-f", "-"}, "kind: Tunnel\n");
  CHECK(run.exit_code == 2);
  CHECK(run.out ==
        "Resources: 1 added, 1 changed, 0 removed\n"
        "  ~ Tunnel/home\n"
        "      spec.mtu: 1420 -> 1380\n"
        "      metadata.labels.site: (unset) -> ams 2\n"
        "  + PortForward/valheim\n"
        "      spec.tunnel: home\n"
        "      spec.template: valheim\n"
        "Agents:\n"
        "  agent vps: 1 step\n"
        "    + forward udp 2456-2458 to 10.8.0.2\n"
        "  agent home-gw: no steps (converged)\n");
  CHECK(run.err == "2 resources and 1 of 2 agents would change\n");
  REQUIRE(fake.requests().size() == 1);
  Json body = Json::parse(fake.requests()[0].body);
  CHECK(body["dryRun"] == true);
  CHECK(body["allowDestructive"] == true);
  CHECK(body["force"] == true);

  // -o json: the answer and the summary the text and the exit status come from.
  Run json = Wwctl(fake, {"diff", "-f", "-", "-o", "json"}, "kind: Tunnel\n");
  CHECK(json.exit_code == 2);
  Json data = Json::parse(json.out);
  CHECK(data["changes"] == Json::parse(kDiffAnswer)["changes"]);
  CHECK(data["diff"] == Json::parse(R"({"differences": true, "destructive": false, "added": 1, "changed": 1,
                                       "removed": 0, "agentsChanging": 1})"));
}

TEST_CASE("diff of a changed fleet whose agents have not reported yet lists the changes, never 'No differences.'") {
  FakeReconciler fake;
  fake.Answer("POST /v1/revisions", 200, R"({"accepted": true, "revision": null, "unchanged": false, "dryRun": true,
    "warnings": [],
    "changes": [{"kind": "PortForward", "name": "minecraft", "change": "changed", "destructive": false,
                 "fields": [{"path": "spec.ports", "before": "25565", "after": "25565-25566"}]}],
    "agents": [{"agent": "vps", "phase": "unknown", "steps": [], "destructive": false, "message": "not enrolled yet"}]})");
  Run run = Wwctl(fake, {"diff", "-f", "-"}, "kind: Tunnel\n");
  CHECK(run.exit_code == 2);
  CHECK(run.out ==
        "Resources: 0 added, 1 changed, 0 removed\n"
        "  ~ PortForward/minecraft\n"
        "      spec.ports: 25565 -> 25565-25566\n"
        "Agents:\n"
        "  agent vps: no steps (unknown: not enrolled yet)\n");
  CHECK(run.out.find("No differences") == std::string::npos);
  CHECK(run.err == "1 resource and 0 of 1 agent would change\n");
  Run json = Wwctl(fake, {"diff", "-f", "-", "-o", "json"}, "kind: Tunnel\n");
  CHECK(json.exit_code == 2);
  Json data = Json::parse(json.out);
  CHECK(data["unchanged"] == false);
  CHECK(data["diff"]["differences"] == true);

  // A reconciler from before "changes": the fleet differs, so it is said, not hidden.
  fake.Answer("POST /v1/revisions", 200, R"({"accepted": true, "revision": null, "unchanged": false, "dryRun": true,
    "warnings": [], "agents": [{"agent": "vps", "phase": "unknown", "steps": [], "destructive": false}]})");
  Run old = Wwctl(fake, {"diff", "-f", "-"}, "kind: Tunnel\n");
  CHECK(old.exit_code == 2);
  CHECK(old.out.starts_with("The fleet differs from the current revision (this reconciler does not list resource "
                            "changes; upgrade it to see them).\n"));
}

TEST_CASE("diff exits 0 without differences, 3 with destructive ones, 1 on errors") {
  FakeReconciler fake;
  fake.Answer("POST /v1/revisions", 200, R"({"accepted": true, "revision": null, "unchanged": true, "warnings": [],
    "changes": [], "agents": [{"agent": "vps", "phase": "converged", "steps": [], "destructive": false}]})");
  fake.Answer("POST /v1/revisions", 200, R"({"accepted": true, "revision": null, "unchanged": false, "warnings": [],
    "changes": [{"kind": "Peer", "name": "phone", "change": "removed", "destructive": true,
                 "fields": [{"path": "spec.tunnel", "before": "home", "after": null}]}],
    "agents": [{"agent": "vps", "phase": "pending", "steps": ["- peer abc on wg0"], "destructive": true}]})");
  fake.Answer("POST /v1/revisions", 422, R"({"error": "the fleet is invalid: 1 error", "diagnostics": ["-:1:1: error: no kind"]})");

  Run same = Wwctl(fake, {"diff", "-f", "-"}, "kind: Tunnel\n");
  CHECK(same.exit_code == 0);
  CHECK(same.out == "No differences.\n");
  CHECK(same.err == "");

  Run destructive = Wwctl(fake, {"diff", "-f", "-"}, "kind: Tunnel\n");
  CHECK(destructive.exit_code == 3);
  CHECK(destructive.out ==
        "Resources: 0 added, 0 changed, 1 removed\n"
        "  - Peer/phone (destructive)\n"
        "Agents:\n"
        "  agent vps: 1 step, destructive\n"
        "    - peer abc on wg0\n");
  CHECK(destructive.err == "1 resource and 1 of 1 agent would change, destructively\n");

  Run invalid = Wwctl(fake, {"diff", "-f", "-"}, "kind: Tunnel\n");
  CHECK(invalid.exit_code == 1);
  CHECK(invalid.out == "-:1:1: error: no kind\n");
  CHECK(invalid.err == "wwctl: error: the fleet is invalid: 1 error\n");

  Run unreadable = Wwctl(fake, {"diff", "-f", fake.File("missing.yaml")});
  CHECK(unreadable.exit_code == 1);
  CHECK(unreadable.err == "wwctl: error: cannot read \"" + fake.File("missing.yaml") + "\": No such file or directory\n");
  Run usage = Wwctl(fake, {"diff"});
  CHECK(usage.exit_code == 1);
  Run bad_output = Wwctl(fake, {"diff", "-f", "-", "-o", "table"}, "kind: Tunnel\n");
  CHECK(bad_output.exit_code == 1);
}

TEST_CASE("get lists agents, tunnels, peers and forwards as aligned tables") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, kStatus);
  Run agents = Wwctl(fake, {"get", "agents"});
  CHECK(agents.exit_code == 0);
  CHECK(agents.out ==
        "NAME      MODE     PHASE          CONNECTED   LAST SEEN   GENERATION   VERSION\n"
        "vps       server   converged      yes         10s         12/12        0.1.0\n"
        "home-gw   client   disconnected   no          2h          11/12        0.1.0\n"
        "spare     client   unknown        no          never       -/-          -\n"
        "nas       client   degraded       yes         1s          10/12        -\n");
  CHECK(agents.err == "");
  Run tunnels = Wwctl(fake, {"get", "tunnels"});
  CHECK(tunnels.out ==
        "NAME   SERVER   INTERFACE   PEERS   SELF-HEAL\n"
        "home   vps      wg0         2       yes\n");
  Run peers = Wwctl(fake, {"get", "peers"});
  CHECK(peers.out ==
        "NAME      TUNNEL   AGENT         ADDRESS       HANDSHAKE   RX        TX\n"
        "home-gw   home     home-gw       10.8.0.2/32   12s ago     1.5 KiB   300 B\n"
        "phone     home     (unmanaged)   10.8.0.3/32   never       0 B       0 B\n");
  Run forwards = Wwctl(fake, {"get", "forwards"});
  CHECK(forwards.out ==
        "NAME        TUNNEL   AGENT   PROTOCOL   PORTS   TO                   STATE\n"
        "minecraft   home     vps     tcp        25565   192.168.1.10:25565   applied\n");
  for (const Recorded& request : fake.requests()) CHECK(request.path == "/v1/status");
}

TEST_CASE("get -o json and -o yaml pass the reconciler's data through") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, kStatus);
  Json status = Json::parse(kStatus);
  Run json = Wwctl(fake, {"get", "forwards", "-o", "json"});
  CHECK(json.exit_code == 0);
  CHECK(json.out == Json{{"forwards", status["forwards"]}}.dump(2) + "\n");
  Run peers = Wwctl(fake, {"get", "peers", "-o", "json"});
  Json flat = Json::parse(peers.out);
  REQUIRE(flat["peers"].size() == 2);
  CHECK(flat["peers"][1] == Json::parse(R"({"tunnel": "home", "name": "phone", "agent": null, "managed": false, "address": "10.8.0.3/32",
                                            "handshakeAgeSeconds": null, "rxBytes": 0, "txBytes": 0})"));
  Run yaml = Wwctl(fake, {"get", "forwards", "-o", "yaml"});
  CHECK(yaml.out ==
        "forwards:\n"
        "  - name: minecraft\n"
        "    tunnel: home\n"
        "    agent: vps\n"
        "    protocol: tcp\n"
        "    ports: \"25565\"\n"
        "    to: \"192.168.1.10:25565\"\n"
        "    description: \"\"\n"
        "    state: applied\n");
}

TEST_CASE("get revisions and history list revisions newest first") {
  FakeReconciler fake;
  fake.Answer("GET /v1/revisions", 200, kRevisions);
  const std::string table =
      "REVISION   SOURCE   COMMIT         CREATED                BY                               MESSAGE\n"
      "7          git      0123456789ab   2025-11-22T02:36:40Z   Ada                              Open the minecraft port\n"
      "6          apply    -              2025-11-21T02:36:40Z   wirewarp://default/admin/admin\n";
  Run get = Wwctl(fake, {"get", "revisions"});
  CHECK(get.exit_code == 0);
  CHECK(get.out == table);
  Run history = Wwctl(fake, {"history", "--limit", "5"});
  CHECK(history.exit_code == 0);
  CHECK(history.out == table);
  Run json = Wwctl(fake, {"history", "-o", "json"});
  CHECK(json.out == Json::parse(kRevisions).dump(2) + "\n");
  std::vector<Recorded> requests = fake.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].query == "");
  CHECK(requests[1].query == "limit=5");
  CHECK(requests[2].query == "limit=20");
}

TEST_CASE("status counts every drift step when the snapshot lists only the first ones") {
  FakeReconciler fake;
  Json status = Json::parse(kStatus);
  for (Json& agent : status["agents"]) {
    if (agent["name"] == "home-gw") agent["driftCount"] = 2400;  // "drift" holds the first steps
  }
  fake.Answer("GET /v1/status", 200, status.dump());
  Run run = Wwctl(fake, {"status"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("drift: set peer abc on wg0 (+2399 more)\n") != std::string::npos);
}

TEST_CASE("status summarises the revision, convergence and every agent") {
  FakeReconciler fake;
  Json status = Json::parse(kStatus);
  status["rejected"] = Json::parse(R"({"commit": "fedcba9876543210", "at": 1763779500,
                                        "errors": ["vps.yaml:4:3: error: bad port"]})");
  fake.Answer("GET /v1/status", 200, status.dump());
  Run run = Wwctl(fake, {"status"});
  CHECK(run.exit_code == 0);
  CHECK(run.out ==
        "Revision:   revision 7 (apply by wirewarp://default/admin/admin), created 2025-11-22T02:36:40Z\n"
        "Converged:  no (1 of 4 agents converged)\n"
        "Rejected:   commit fedcba987654 at 2025-11-22T02:45:00Z, 1 error\n"
        "  vps.yaml:4:3: error: bad port\n"
        "\n"
        "AGENT     MODE     PHASE          CONNECTED   LAST SEEN   NOTE\n"
        "vps       server   converged      yes         10s ago\n"
        "home-gw   client   disconnected   no          2h ago      drift: set peer abc on wg0 (+1 more)\n"
        "spare     client   unknown        no          never       not enrolled yet (wwctl token create)\n"
        "nas       client   degraded       yes         1s ago      wg: interface busy (failed 3 times)\n");
  Run json = Wwctl(fake, {"status", "-o", "json"});
  CHECK(Json::parse(json.out) == status);

  FakeReconciler fresh;
  fresh.Answer("GET /v1/status", 200, R"({"now": 5, "converged": false, "revision": null, "rejected": null,
    "agents": [], "tunnels": [], "forwards": [], "revisions": [], "events": []})");
  Run empty = Wwctl(fresh, {"status"});
  CHECK(empty.exit_code == 0);
  CHECK(empty.out ==
        "Revision:   none yet (run 'wwctl apply -f FLEET' or configure a git source)\n"
        "Converged:  no (0 of 0 agents converged)\n");
}

std::string StatusWith(bool converged, int revision, const std::string& commit = "") {
  Json status = Json::parse(kStatus);
  status["converged"] = converged;
  status["revision"]["id"] = revision;
  status["revision"]["commit"] = commit;
  if (!commit.empty()) status["revision"]["source"] = "git";
  return status.dump();
}

// wait's progress lines without their "[   1.2s] " elapsed-time prefix.
std::string WithoutElapsed(const std::string& text) {
  return std::regex_replace(text, std::regex(R"(^\[ *[0-9]+\.[0-9]s\] )", std::regex::multiline), "");
}

// The "wwctl: ..." lines of stderr, without wait's progress lines.
std::string WwctlLines(const std::string& text) {
  return std::regex_replace(text, std::regex(R"(^\[ *[0-9]+\.[0-9]s\] .*\n)", std::regex::multiline), "");
}

TEST_CASE("wait exits 0 once converged on the awaited revision") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, StatusWith(false, 7));
  fake.Answer("GET /v1/status", 200, StatusWith(true, 8, "0123456789abcdef"));
  Run run = Wwctl(fake, {"wait", "--for=converged", "--revision", "012345", "--timeout", "30s"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "Converged: revision 8 (git commit 0123456789ab).\n");
  CHECK(WwctlLines(run.err) == "");  // progress only (see the long-poll test below)
  CHECK(fake.requests().size() == 2);

  Run by_id = Wwctl(fake, {"wait", "--for=converged", "--revision", "8", "--timeout", "0s"});
  CHECK(by_id.exit_code == 0);
}

TEST_CASE("wait exits 2 when the revision never arrives, 1 on errors") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, StatusWith(true, 7));
  Run timed_out = Wwctl(fake, {"wait", "--for=converged", "--revision", "8", "--timeout", "1s"});
  CHECK(timed_out.exit_code == 2);
  CHECK(timed_out.out == "");
  CHECK(WwctlLines(timed_out.err) ==
        "wwctl: error: timed out after 1s waiting for converged: revision 8 is not current yet (current: revision 7 "
        "(apply by wirewarp://default/admin/admin))\n");

  Run not_converged_once = Wwctl(fake, {"wait", "--for=converged", "--timeout", "0s"});
  CHECK(not_converged_once.exit_code == 0);

  Run bad_timeout = Wwctl(fake, {"wait", "--for=converged", "--timeout", "soon"});
  CHECK(bad_timeout.exit_code == 1);
  CHECK(bad_timeout.err == "wwctl: error: --timeout: \"soon\" is not a duration such as 90s, 5m, 1h30m or 2d\n");
  Run usage = Wwctl(fake, {"wait", "--timeout", "1s"});
  CHECK(usage.exit_code == 1);
  Run bad_revision = Wwctl(fake, {"wait", "--for=converged", "--revision", "main"});
  CHECK(bad_revision.exit_code == 1);
}

TEST_CASE("wait fails at once on a rejected commit and on a refused request") {
  FakeReconciler fake;
  Json status = Json::parse(StatusWith(false, 7));
  status["rejected"] = Json::parse(R"({"commit": "deadbeef00", "at": 1, "errors": ["a.yaml:1:1: error: no"]})");
  fake.Answer("GET /v1/status", 200, status.dump());
  Run rejected = Wwctl(fake, {"wait", "--for=converged", "--revision", "deadbeef", "--timeout", "5m"});
  CHECK(rejected.exit_code == 1);
  CHECK(WwctlLines(rejected.err) == "wwctl: error: commit deadbeef00 was rejected (1 error): a.yaml:1:1: error: no\n");

  FakeReconciler refusing;
  refusing.Answer("GET /v1/status", 401, R"({"error": "certificate revoked"})");
  Run refused = Wwctl(refusing, {"wait", "--for=converged", "--timeout", "5m"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err == "wwctl: error: the reconciler answered HTTP 401: certificate revoked\n");
}

// A snapshot with a version, for the long-poll: vps and home-gw in the given phases.
std::string VersionedStatus(int version, const std::string& vps, const std::string& gw) {
  Json status = Json::parse(kStatus);
  status["version"] = version;
  status["agents"] = Json::array();
  for (const auto& [name, phase] : {std::pair{"vps", vps}, std::pair{"home-gw", gw}}) {
    status["agents"].push_back(Json{{"name", name}, {"phase", phase}, {"connected", true},
                                    {"message", phase == "pending" ? "2 steps to apply\nsecond line" : ""}});
  }
  status["converged"] = vps == "converged" && gw == "converged";
  return status.dump();
}

TEST_CASE("wait long-polls with after=VERSION and prints one line per phase change when not a terminal") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, VersionedStatus(3, "pending", "pending"));
  fake.Answer("GET /v1/status", 200, VersionedStatus(4, "converged", "pending"));
  fake.Answer("GET /v1/status", 200, VersionedStatus(5, "converged", "converged"));
  Run run = Wwctl(fake, {"wait", "--for=converged", "--timeout", "60s"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "Converged: revision 7 (apply by wirewarp://default/admin/admin).\n");
  CHECK(WithoutElapsed(run.err) ==
        "current: revision 7 (apply by wirewarp://default/admin/admin)\n"
        "vps: pending (2 steps to apply)\n"
        "home-gw: pending (2 steps to apply)\n"
        "vps: converged\n"
        "home-gw: converged\n");
  CHECK(run.err.find('\r') == std::string::npos);  // no redrawn summary off a terminal
  std::vector<std::string> queries;
  for (const Recorded& request : fake.requests()) queries.push_back(request.query);
  CHECK(queries == std::vector<std::string>{"", "after=3&wait=25", "after=4&wait=25"});
}

TEST_CASE("get --watch and status --watch print again on every change until --watch-timeout") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, VersionedStatus(3, "pending", "pending"));
  fake.Answer("GET /v1/status", 200, VersionedStatus(4, "converged", "pending"));
  Run run = Wwctl(fake, {"get", "agents", "--watch-timeout", "2s"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "NAME      MODE   PHASE     CONNECTED   LAST SEEN   GENERATION   VERSION\n"
                   "vps       -      pending   yes         never       -/-          -\n"
                   "home-gw   -      pending   yes         never       -/-          -\n"
                   "\n"
                   "NAME      MODE   PHASE       CONNECTED   LAST SEEN   GENERATION   VERSION\n"
                   "vps       -      converged   yes         never       -/-          -\n"
                   "home-gw   -      pending     yes         never       -/-          -\n");
  std::vector<Recorded> requests = fake.requests();
  REQUIRE(requests.size() >= 3);
  CHECK(requests[1].query == "after=3&wait=1");

  FakeReconciler watched;
  Json diverged = Json::parse(VersionedStatus(9, "converged", "converged"));
  diverged["divergence"] = Json{{"commit", "0123456789abcdef0123456789abcdef01234567"}, {"gitRevision", 6},
                                {"revision", 7}, {"source", "rollback"}, {"by", "wirewarp://default/admin/admin"},
                                {"at", 1763779000}};
  watched.Answer("GET /v1/status", 200, VersionedStatus(8, "converged", "pending"));
  watched.Answer("GET /v1/status", 200, diverged.dump());
  Run status = Wwctl(watched, {"status", "--watch", "--watch-timeout", "1s"});
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("Converged:  no (1 of 2 agents converged)\n") < status.out.find("Converged:  yes"));
  CHECK(status.out.find("Diverged:   from git at 0123456789ab (override by wirewarp://default/admin/admin at "
                        "2025-11-22T02:36:40Z, rollback); the next commit replaces it\n") != std::string::npos);
  Run bad = Wwctl(watched, {"status", "--watch-timeout", "soon"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err == "wwctl: error: --watch-timeout: \"soon\" is not a duration such as 90s, 5m, 1h30m or 2d\n");
}

TEST_CASE("wait reports the agents still pending when it times out") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, StatusWith(false, 7));
  Run run = Wwctl(fake, {"wait", "--for=converged", "--timeout", "0s"});
  CHECK(run.exit_code == 2);
  CHECK(WwctlLines(run.err) ==
        "wwctl: error: timed out after 0s waiting for converged: revision 7 (apply by wirewarp://default/admin/admin) "
        "is not converged (home-gw disconnected, spare unknown, nas degraded)\n");
}

TEST_CASE("token create posts the type, name and ttl and prints the install command") {
  FakeReconciler fake;
  fake.Answer("POST /v1/tokens", 200, R"({"token": "wwt_abc", "id": "t1", "expiresAt": 1763866400,
    "installCommand": "wirewarp-agent enroll --url https://vps.example:8443 --token wwt_abc --ca-pin sha256:00 --mode server"})");
  Run run = Wwctl(fake, {"token", "create", "--type", "server", "--name", "vps", "--ttl", "24h"});
  CHECK(run.exit_code == 0);
  CHECK(run.out ==
        "wirewarp-agent enroll --url https://vps.example:8443 --token wwt_abc --ca-pin sha256:00 --mode server\n");
  CHECK(run.err ==
        "Run this on the new server agent's host. The token works once, expires at 2025-11-23T02:53:20Z and is not "
        "shown again.\n");
  REQUIRE(fake.requests().size() == 1);
  CHECK(fake.requests()[0].body == R"({"type":"server","name":"vps","ttlSeconds":86400})");

  // The reconciler's own command names a TOKEN_FILE placeholder instead of the secret.
  fake.Answer("POST /v1/tokens", 200, R"({"token": "wwt_def", "id": "t2", "expiresAt": 1763866400,
    "installCommand": "wirewarp-agent enroll --url https://vps.example:8443 --token-file TOKEN_FILE --ca-pin sha256:00 --mode client --state-dir /var/lib/wirewarp"})");
  Run minimal = Wwctl(fake, {"token", "create", "--type", "client"});
  CHECK(minimal.exit_code == 0);
  CHECK(minimal.out ==
        "wirewarp-agent enroll --url https://vps.example:8443 --token wwt_def --ca-pin sha256:00 --mode client "
        "--state-dir /var/lib/wirewarp\n");
  CHECK(fake.requests()[1].body == R"({"type":"client"})");

  Run bad_ttl = Wwctl(fake, {"token", "create", "--type", "client", "--ttl", "24"});
  CHECK(bad_ttl.exit_code == 2);
  CHECK(bad_ttl.err == "wwctl: error: --ttl: \"24\" is not a duration such as 90s, 5m, 1h30m or 2d\n");
  Run bad_type = Wwctl(fake, {"token", "create", "--type", "router"});
  CHECK(bad_type.exit_code == 2);
  CHECK(fake.requests().size() == 2);
}

// Defect 11: the reconciler's warnings come before the install command; token list and revoke.
TEST_CASE("token create prints the reconciler's warnings; token list and token revoke") {
  FakeReconciler fake;
  fake.Answer("POST /v1/tokens", 200, R"({"token": "wwt_abc", "id": "t1", "expiresAt": 1763866400,
    "installCommand": "wirewarp-agent enroll --url https://vps.example:8443 --token wwt_abc --ca-pin sha256:00 --mode client",
    "warnings": ["agent \"nas\" is not in the fleet (revision 3 names it in no Tunnel.spec.agent or Peer.spec.agent): it can enroll but gets an empty config"]})");
  Run warned = Wwctl(fake, {"token", "create", "--type", "client", "--name", "nas"});
  CHECK(warned.exit_code == 0);
  CHECK(warned.out == "wirewarp-agent enroll --url https://vps.example:8443 --token wwt_abc --ca-pin sha256:00 --mode client\n");
  CHECK(warned.err.find("wwctl: warning: agent \"nas\" is not in the fleet (revision 3 names it in no "
                        "Tunnel.spec.agent or Peer.spec.agent): it can enroll but gets an empty config\nRun this on") == 0);

  fake.Answer("GET /v1/tokens", 200, R"({"tokens": [
    {"id": "k3v9x2ab", "type": "server", "name": "vps", "state": "active", "createdBy": "wirewarp://default/admin/admin",
     "createdAt": 1763780000, "expiresAt": 1763866400, "usedAt": null, "revokedAt": null},
    {"id": "p0q1r2s3", "type": "client", "name": "", "state": "used", "createdBy": "wirewarp://default/admin/admin",
     "createdAt": 1763700000, "expiresAt": 1763786400, "usedAt": 1763700100, "revokedAt": null}]})");
  Run list = Wwctl(fake, {"token", "list"});
  CHECK(list.exit_code == 0);
  CHECK(list.out ==
        "ID         TYPE     NAME   STATE    CREATED                EXPIRES                CREATED BY\n"
        "k3v9x2ab   server   vps    active   2025-11-22T02:53:20Z   2025-11-23T02:53:20Z   wirewarp://default/admin/admin\n"
        "p0q1r2s3   client   -      used     2025-11-21T04:40:00Z   2025-11-22T04:40:00Z   wirewarp://default/admin/admin\n");
  Run list_json = Wwctl(fake, {"token", "list", "-o", "json"});
  CHECK(Json::parse(list_json.out).size() == 2);

  fake.Answer("DELETE /v1/tokens/k3v9x2ab", 204, "");
  fake.Answer("DELETE /v1/tokens/p0q1r2s3", 409, R"({"error": "token p0q1r2s3 was already used to enroll an agent"})");
  Run revoked = Wwctl(fake, {"token", "revoke", "k3v9x2ab"});
  CHECK(revoked.exit_code == 0);
  CHECK(revoked.out == "Token k3v9x2ab revoked; it can no longer enroll an agent.\n");
  Run used = Wwctl(fake, {"token", "revoke", "p0q1r2s3"});
  CHECK(used.exit_code == 1);
  CHECK(used.err == "wwctl: error: the reconciler answered HTTP 409: token p0q1r2s3 was already used to enroll an agent\n");
  size_t before = fake.requests().size();
  Run bad = Wwctl(fake, {"token", "revoke", "../agents/vps"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err == "wwctl: error: \"../agents/vps\" is not a token id (lowercase letters and digits)\n");
  CHECK(fake.requests().size() == before);
  CHECK(fake.requests().back().method == "DELETE");
  CHECK(fake.requests().back().path == "/v1/tokens/p0q1r2s3");
}

TEST_CASE("agent delete sends DELETE and reports an unknown agent") {
  FakeReconciler fake;
  fake.Answer("DELETE /v1/agents/home-gw", 200,
              R"({"agent": "home-gw", "deletedAt": 1763780000,
                  "enrollCommand": "wwctl token create --type client --name home-gw"})");
  fake.Answer("DELETE /v1/agents/ghost", 404, R"({"error": "no agent \"ghost\""})");
  Run run = Wwctl(fake, {"agent", "delete", "home-gw"});
  CHECK(run.exit_code == 0);
  CHECK(run.out ==
        "Agent home-gw deleted; its certificates are revoked.\n"
        "Its history stays. To enroll it again: wwctl token create --type client --name home-gw, then run the "
        "install command it prints on the host.\n");
  Run ghost = Wwctl(fake, {"agent", "delete", "ghost"});
  CHECK(ghost.exit_code == 1);
  CHECK(ghost.err == "wwctl: error: the reconciler answered HTTP 404: no agent \"ghost\"\n");
  Run bad = Wwctl(fake, {"agent", "delete", "../tokens"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err == "wwctl: error: \"../tokens\" is not an agent name (lowercase letters, digits and '-', at most 63)\n");
  std::vector<Recorded> requests = fake.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "DELETE");
  CHECK(requests[0].path == "/v1/agents/home-gw");
}

TEST_CASE("status and get agents show a deleted agent's command and every warning") {
  FakeReconciler fake;
  Json status = Json::parse(kStatus);
  status["agents"][0]["warnings"] = Json::array(
      {"Peer/home-gw of Tunnel/home is left out: agent \"home-gw\" has no WireGuard public key (it is not "
       "enrolled, or was deleted)"});
  Json& gw = status["agents"][1];
  gw = Json{{"name", "home-gw"}, {"mode", "client"}, {"enrolled", false}, {"deleted", true},
            {"deletedAt", 1763779000}, {"enrollCommand", "wwctl token create --type client --name home-gw"},
            {"warnings", Json::array()}, {"connected", false}, {"lastSeen", nullptr}, {"phase", "deleted"},
            {"message", "deleted, its certificates revoked; to enroll it again: `wwctl token create --type client "
                        "--name home-gw`, then run the install command it prints on the host"}};
  status["agents"][2]["enrollCommand"] = "wwctl token create --type client --name spare";
  fake.Answer("GET /v1/status", 200, status.dump());
  Run run = Wwctl(fake, {"status"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("home-gw   client   deleted ") != std::string::npos);
  CHECK(run.out.find("never       deleted, its certificates revoked; to enroll it again: `wwctl token create --type "
                     "client --name home-gw`, then run the install command it prints on the host\n") != std::string::npos);
  CHECK(run.out.find("never       not enrolled yet (wwctl token create --type client --name spare)\n") !=
        std::string::npos);
  CHECK(run.out.ends_with("\nWarnings:\n  vps: Peer/home-gw of Tunnel/home is left out: agent \"home-gw\" has no "
                          "WireGuard public key (it is not enrolled, or was deleted)\n"));

  Run agents = Wwctl(fake, {"get", "agents"});
  CHECK(agents.exit_code == 0);
  CHECK(agents.out.find("home-gw   client   deleted") != std::string::npos);
  CHECK(agents.err ==
        "vps: warning: Peer/home-gw of Tunnel/home is left out: agent \"home-gw\" has no WireGuard public key (it is "
        "not enrolled, or was deleted)\n"
        "home-gw: deleted; to enroll it again: wwctl token create --type client --name home-gw\n"
        "spare: not enrolled yet; to enroll it: wwctl token create --type client --name spare\n");
}

TEST_CASE("rollback posts allowDestructive and prints the new revision") {
  FakeReconciler fake;
  fake.Answer("POST /v1/revisions/6/rollback", 200, R"({"accepted": true, "revision": 9, "warnings": [],
    "agents": [{"agent": "vps", "phase": "pending", "steps": ["remove forward tcp 25565"], "destructive": true}]})");
  fake.Answer("POST /v1/revisions/5/rollback", 409, R"j({"error": "refusing a destructive revision: it removes 2 of 3 peers (--allow-destructive)"})j");
  Run run = Wwctl(fake, {"rollback", "6", "--allow-destructive"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "Revision 9 created by the rollback.\nagent vps: 1 step, destructive (pending)\n");
  Run refused = Wwctl(fake, {"rollback", "5"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err == "wwctl: error: refusing a destructive revision: it removes 2 of 3 peers (--allow-destructive)\n");
  Run bad = Wwctl(fake, {"rollback", "HEAD~1"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err == "wwctl: error: \"HEAD~1\" is not a revision id; see 'wwctl history'\n");
  std::vector<Recorded> requests = fake.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].body == R"({"allowDestructive":true,"force":false,"dryRun":false})");
  CHECK(requests[1].body == R"({"allowDestructive":false,"force":false,"dryRun":false})");
}

TEST_CASE("rollback --force overrides a fleet that follows git") {
  FakeReconciler fake;
  fake.Answer("POST /v1/revisions/6/rollback", 409,
              R"({"error": "the current revision 8 comes from git commit 0123: change the fleet in git, or roll back again with --force to override it until the next commit"})");
  fake.Answer("POST /v1/revisions/6/rollback", 200, R"({"accepted": true, "revision": 9, "warnings": [], "agents": []})");
  Run refused = Wwctl(fake, {"rollback", "6"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("roll back again with --force") != std::string::npos);
  Run forced = Wwctl(fake, {"rollback", "6", "--force"});
  CHECK(forced.exit_code == 0);
  CHECK(forced.out == "Revision 9 created by the rollback.\n");
  std::vector<Recorded> requests = fake.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].body == R"({"allowDestructive":false,"force":true,"dryRun":false})");
}

TEST_CASE("rollback --dry-run posts dryRun and shows each agent's steps without a revision") {
  FakeReconciler fake;
  fake.Answer("POST /v1/revisions/6/rollback", 200, R"({"accepted": true, "dryRun": true, "revision": null,
    "warnings": [], "agents": [{"agent": "vps", "phase": "pending", "steps": ["remove forward tcp 25565"],
    "destructive": true}]})");
  Run run = Wwctl(fake, {"rollback", "6", "--dry-run"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "Dry run: nothing was stored.\nagent vps: 1 step, destructive (pending)\n  remove forward tcp 25565\n");
  REQUIRE(fake.requests().size() == 1);
  CHECK(fake.requests()[0].body == R"({"allowDestructive":false,"force":false,"dryRun":true})");
}

TEST_CASE("the wwctl binary finds its config through WWCTL_CONFIG and refuses it while others can read it") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, kStatus);
  REQUIRE(::chmod(fake.config_path().c_str(), 0640) == 0);
  ::setenv("WWCTL_CONFIG", fake.config_path().c_str(), 1);
  test::WwctlRun run = test::RunWwctl({"get", "tunnels"});
  test::WwctlRun missing = test::RunWwctl({"get", "tunnels", "--config", fake.File("none.yaml")});
  REQUIRE(::chmod(fake.config_path().c_str(), 0600) == 0);
  test::WwctlRun fixed = test::RunWwctl({"get", "tunnels"});
  ::unsetenv("WWCTL_CONFIG");
  CHECK(run.exit_code != 0);
  CHECK(run.out.empty());
  CHECK(run.err == "wwctl: error: \"" + fake.config_path() +
                       "\" holds a private key but is accessible to group or others (mode 0640); run: chmod 600 " +
                       fake.config_path() + "\n");
  CHECK(fixed.exit_code == 0);
  CHECK(fixed.out == "NAME   SERVER   INTERFACE   PEERS   SELF-HEAL\nhome   vps      wg0         2       yes\n");
  CHECK(missing.exit_code == 2);
  CHECK(missing.err == "wwctl: error: cannot read \"" + fake.File("none.yaml") +
                           "\": No such file or directory (from --config)\n");
}

TEST_CASE("global flags work before and after the command") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, kStatus);
  const std::string tunnels = "NAME   SERVER   INTERFACE   PEERS   SELF-HEAL\nhome   vps      wg0         2       yes\n";
  Run before = WwctlArgs({"--config", fake.config_path(), "get", "tunnels"});
  CHECK(before.exit_code == 0);
  CHECK(before.err == "");
  CHECK(before.out == tunnels);
  Run equals = WwctlArgs({"--config=" + fake.config_path(), "get", "tunnels"});
  CHECK(equals.out == tunnels);
  Run after = WwctlArgs({"get", "tunnels", "--config", fake.config_path()});
  CHECK(after.out == tunnels);

  Json status = Json::parse(kStatus);
  Run output_before = WwctlArgs({"-o", "json", "--config", fake.config_path(), "get", "forwards"});
  CHECK(output_before.exit_code == 0);
  CHECK(output_before.out == Json{{"forwards", status["forwards"]}}.dump(2) + "\n");
  Run output_joined = WwctlArgs({"-ojson", "get", "forwards", "--config", fake.config_path()});
  CHECK(output_joined.out == output_before.out);
  // The command's own formats still decide what -o may be.
  Run bad_output = WwctlArgs({"-o", "wide", "get", "forwards", "--config", fake.config_path()});
  CHECK(bad_output.exit_code == 2);
  CHECK(bad_output.err.find("\"wide\" is not one of table|json|yaml") != std::string::npos);

  Run verbose = WwctlArgs({"-v", "--timeout", "20s", "--config", fake.config_path(), "get", "tunnels"});
  CHECK(verbose.exit_code == 0);
  CHECK(verbose.out == tunnels);
  CHECK(verbose.err.starts_with("wwctl: config " + fake.config_path() + " (from --config), server " + fake.url() + "\n" +
                                "wwctl: GET " + fake.url() + "/v1/status -> 200 ("));
  Run bad_timeout = WwctlArgs({"--timeout", "soon", "get", "tunnels", "--config", fake.config_path()});
  CHECK(bad_timeout.exit_code == 2);
  CHECK(bad_timeout.err == "wwctl: error: --timeout: \"soon\" is not a duration such as 90s, 5m, 1h30m or 2d\n");

  // An alias with --config works for the offline commands too (they never connect).
  Run offline = WwctlArgs({"--config", fake.config_path(), "-v", "schema"});
  CHECK(offline.exit_code == 0);
  CHECK(offline.out.starts_with("{"));
  // wait keeps --timeout as its own: how long to wait.
  Run wait = WwctlArgs({"--timeout", "0s", "--config", fake.config_path(), "wait", "--for=converged"});
  CHECK(wait.exit_code == 2);
  CHECK(WwctlLines(wait.err).starts_with("wwctl: error: timed out after 0s waiting for converged"));
  CHECK(fake.requests().size() == 7);
}

TEST_CASE("get takes singular and short names, suggests the closest for a typo, and NAME shows one") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, kStatus);
  Run plural = Wwctl(fake, {"get", "forwards"});
  REQUIRE(plural.exit_code == 0);
  for (const char* name : {"forward", "fw", "pf", "portforwards", "Forwards"}) {
    CAPTURE(name);
    Run run = Wwctl(fake, {"get", name});
    CHECK(run.exit_code == 0);
    CHECK(run.out == plural.out);
  }
  CHECK(Wwctl(fake, {"get", "agent"}).out == Wwctl(fake, {"get", "agents"}).out);
  CHECK(Wwctl(fake, {"get", "tun"}).out == Wwctl(fake, {"get", "tunnels"}).out);

  Run typo = Wwctl(fake, {"get", "fowards"});
  CHECK(typo.exit_code == 2);
  CHECK(typo.err ==
        "wwctl: error: resource: unknown resource \"fowards\"; did you mean \"forwards\"? (resources: agents, tunnels, "
        "peers, forwards, revisions)\nRun 'wwctl get --help' for usage.\n");

  Run one = Wwctl(fake, {"get", "agent", "home-gw"});
  CHECK(one.exit_code == 0);
  CHECK(one.out ==
        "NAME      MODE     PHASE          CONNECTED   LAST SEEN   GENERATION   VERSION\n"
        "home-gw   client   disconnected   no          2h          11/12        0.1.0\n");
  Run peer = Wwctl(fake, {"get", "peer", "phone", "-o", "json"});
  CHECK(peer.exit_code == 0);
  CHECK(Json::parse(peer.out) == Json::parse(R"({"tunnel": "home", "name": "phone", "agent": null, "managed": false,
    "address": "10.8.0.3/32", "handshakeAgeSeconds": null, "rxBytes": 0, "txBytes": 0})"));
  Run missing = Wwctl(fake, {"get", "agents", "home-gv"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.out == "");
  CHECK(missing.err == "wwctl: error: no agent \"home-gv\"; did you mean \"home-gw\"? (see 'wwctl get agents')\n");

  fake.Answer("GET /v1/revisions/7", 200, R"({"id": 7, "source": "apply", "commit": "", "author": "", "message": "",
    "appliedBy": "wirewarp://default/admin/admin", "createdAt": 1763779000, "contentSha256": "ab", "documents": []})");
  Run revision = Wwctl(fake, {"get", "rev", "7"});
  CHECK(revision.exit_code == 0);
  CHECK(revision.out.starts_with("REVISION   SOURCE   COMMIT   CREATED                BY"));
  CHECK(revision.out.find("\n7          apply    -        2025-11-22T02:36:40Z") != std::string::npos);
  Run bad_revision = Wwctl(fake, {"get", "revisions", "HEAD"});
  CHECK(bad_revision.exit_code == 2);
  CHECK(bad_revision.err == "wwctl: error: \"HEAD\" is not a revision id; see 'wwctl history'\n");
}

TEST_CASE("version shows wwctl's and the reconciler's version from GET /v1/version") {
  FakeReconciler fake;
  fake.Answer("GET /v1/version", 200, R"({"version": "0.1.0", "wireFormat": 1})");
  Run run = Wwctl(fake, {"version"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "Client: wwctl 0.1.0 (wire format 1)\nServer: wirewarp-reconciler 0.1.0 (wire format 1) at " +
                       fake.url() + "\n");
  CHECK(run.err == "");
  Run json = Wwctl(fake, {"version", "-o", "json"});
  CHECK(Json::parse(json.out) == Json{{"client", {{"version", "0.1.0"}, {"wireFormat", 1}}},
                                      {"server", {{"version", "0.1.0"}, {"wireFormat", 1}, {"url", fake.url()}}}});
  fake.Answer("GET /v1/version", 200, R"({"version": "0.2.0", "wireFormat": 2})");
  Run newer = Wwctl(fake, {"version"});
  CHECK(newer.exit_code == 0);
  CHECK(newer.err == "wwctl: warning: the reconciler speaks wire format 2 and wwctl 1: upgrade the older one\n");
}

// The config of `fake` with its server URL replaced by `url`.
std::string ConfigFor(const FakeReconciler& fake, const std::string& url, const std::string& name) {
  std::string config = test::ReadText(fake.config_path());
  config.replace(config.find(fake.url()), fake.url().size(), url);
  std::string path = fake.File(name);
  test::WriteText(path, config);
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  return path;
}

TEST_CASE("connection errors name the URL, what failed, what to check and the config file") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, kStatus);

  SUBCASE("nothing listens on the port") {
    std::string config = ConfigFor(fake, "https://127.0.0.1:1", "refused.yaml");
    Run run = WwctlArgs({"--config", config, "get", "agents"});
    CHECK(run.exit_code == 2);
    CHECK(run.err == "wwctl: error: cannot reach https://127.0.0.1:1: connection refused — is the reconciler running, "
                     "and listening on port 1? (\"server\" in " + config + ", from --config)\n");
  }
  SUBCASE("the server's certificate is from another CA") {
    // Another reconciler's admin config (its own CA) pointed at this one.
    test_support::TemporaryDirectory other_directory("ww-other-ca");
    Result<Bootstrap> other = Bootstrap::Open(other_directory.File("data"), "https://127.0.0.1:1", UnixNow());
    REQUIRE(other.ok());
    std::string config = test::ReadText(other->admin_config_path);
    config.replace(config.find("https://127.0.0.1:1"), 19, fake.url());
    std::string path = fake.File("other-ca.yaml");
    test::WriteText(path, config);
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    ::setenv("WWCTL_CONFIG", path.c_str(), 1);
    Run run = WwctlArgs({"get", "agents"});
    ::unsetenv("WWCTL_CONFIG");
    CHECK(run.exit_code == 2);
    CHECK(run.err.starts_with("wwctl: error: the server at " + fake.url() +
                              " presented a certificate the configured CA did not sign ("));
    CHECK(run.err.find(") — is this the reconciler the config was written for?") != std::string::npos);
    CHECK(run.err.ends_with("(\"caCertificate\" in " + path + ", from WWCTL_CONFIG)\n"));
    CHECK(fake.requests().empty());
  }
  SUBCASE("the client certificate is another install's") {
    // Another reconciler's admin certificate, with this one's URL and CA: the answer names both.
    test_support::TemporaryDirectory other_directory("ww-other-fleet");
    Result<Bootstrap> other = Bootstrap::Open(other_directory.File("data"), "https://127.0.0.1:1", UnixNow());
    REQUIRE(other.ok());
    std::string config = test::ReadText(other->admin_config_path);
    config.replace(config.find("https://127.0.0.1:1"), 19, fake.url());
    std::string ours = test::ReadText(fake.config_path());
    auto block = [](const std::string& yaml, const std::string& key) {
      std::size_t start = yaml.find(key + ": |\n");
      std::size_t end = yaml.find("\n", yaml.find("-----END", start));
      return yaml.substr(start, end + 1 - start);
    };
    auto pin_line = [](const std::string& yaml) {
      std::size_t start = yaml.find("caPin: ");
      return yaml.substr(start, yaml.find('\n', start) + 1 - start);
    };
    config.replace(config.find("caPin: "), pin_line(config).size(), pin_line(ours));
    config.replace(config.find("caCertificate: |"), block(config, "caCertificate").size(), block(ours, "caCertificate"));
    std::string path = fake.File("other-fleet.yaml");
    test::WriteText(path, config);
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    Run run = WwctlArgs({"--config", path, "get", "agents"});
    CHECK(run.exit_code == 1);  // an answer, not a connection failure
    CHECK(run.err.find("the reconciler answered HTTP 401: client certificate refused (") != std::string::npos);
    CHECK(run.err.find("it names issuer \"WireWarp CA " + other->fleet + "\" and fleet \"" + other->fleet +
                       "\", but was not signed by this reconciler's CA \"WireWarp CA " + fake.fleet() + "\" (fleet \"" +
                       fake.fleet() + "\") — a credential of another WireWarp install?") != std::string::npos);
    CHECK(fake.requests().empty());
  }
  SUBCASE("the reconciler does not answer within --timeout") {
    fake.Delay(std::chrono::milliseconds(2500));
    auto started = std::chrono::steady_clock::now();
    Run run = Wwctl(fake, {"get", "agents", "--timeout", "1s"});
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(2400));
    CHECK(run.exit_code == 2);
    CHECK(run.err == "wwctl: error: no answer from " + fake.url() +
                         " to GET /v1/status within 1s — is the reconciler overloaded, or the network slow? A longer --timeout "
                         "waits longer "
                         "(\"server\" in " + fake.config_path() + ", from --config)\n");
  }
  SUBCASE("the port is not TLS") {
    // A plain TCP listener that accepts and says something that is not TLS.
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    REQUIRE(::listen(listener, 4) == 0);
    std::thread speaker([listener] {
      int connection = ::accept(listener, nullptr, nullptr);
      if (connection < 0) return;
      const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
      (void)!::write(connection, answer, sizeof answer - 1);
      ::shutdown(connection, SHUT_RDWR);
      ::close(connection);
    });
    std::string url = "https://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
    std::string config = ConfigFor(fake, url, "plain.yaml");
    Run run = WwctlArgs({"get", "agents", "--config", config});
    speaker.join();
    ::close(listener);
    CHECK(run.exit_code == 2);
    CHECK(run.err.starts_with("wwctl: error: TLS handshake with " + url + " failed"));
    CHECK(run.err.ends_with(" — is this the reconciler's API port (--listen), and does it still accept this client "
                            "certificate? (\"server\" in " + config + ", from --config)\n"));
  }
}

// Starts the real wwctl with `args` and `environment` added, returning its pid.
pid_t SpawnWwctl(const std::vector<std::string>& args, const std::vector<std::string>& environment) {
  std::vector<std::string> storage{WWCTL_PATH};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> variables(environment);
  for (char** variable = environ; *variable != nullptr; ++variable) variables.emplace_back(*variable);
  std::vector<char*> envp;
  for (std::string& variable : variables) envp.push_back(variable.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int spawned = ::posix_spawn(&pid, WWCTL_PATH, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(spawned == 0);
  return pid;
}

TEST_CASE("a wwctl interrupted (SIGINT, SIGTERM) or killed mid-request leaves no temporary file") {
  FakeReconciler fake;
  fake.Answer("GET /v1/status", 200, kStatus);
  fake.Delay(std::chrono::milliseconds(3000));
  for (int signal_number : {SIGINT, SIGTERM, SIGKILL}) {
    CAPTURE(signal_number);
    test::ScratchDirectory temporary;
    size_t before = fake.requests().size();
    pid_t pid = SpawnWwctl({"get", "agents", "--config", fake.config_path()}, {"TMPDIR=" + temporary.path().string()});
    // Interrupt it while it waits for the answer, its TLS client set up.
    for (int waited = 0; waited < 100 && fake.requests().size() == before; ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid, signal_number);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    CHECK(std::filesystem::is_empty(temporary.path()));
  }
}

}  // namespace
}  // namespace ww::cli
