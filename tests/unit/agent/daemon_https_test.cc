// AgentDaemon against a real HttpsServer on 127.0.0.1 (reconciler/api/https_server.h) with
// certificates from a real CertificateAuthority, through the real mutual-TLS ApiClient and
// the credentials in a real state directory: the certificate is renewed first (less than a
// third of its life left), the plan is fetched and applied, the report arrives from the
// reporter thread, and a 401 ends the run with kRevoked.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "agent/daemon/control_plane.h"
#include "agent/daemon/daemon.h"
#include "agent/state/state_dir.h"
#include "agent/system/recording_runner.h"
#include "reconciler/api/https_server.h"
#include "reconciler/client/enroll_client.h"
#include "reconciler/pki/certificate_authority.h"
#include "schema/wire_json.h"
#include "tests/support/temporary_directory.h"

namespace ww::agent {
namespace {

int64_t RealNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What the test reconciler saw; handlers run on server threads.
struct Seen {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> plan_requests;   // "SERIAL after=N"
  std::vector<std::string> renewal_serials;
  std::vector<std::string> reports;
  std::string renewed_serial;
  bool Reported(uint64_t generation) {
    for (const std::string& body : reports) {
      if (body.rfind("{\"generation\":" + std::to_string(generation) + ",", 0) == 0) return true;
    }
    return false;
  }
};

TEST_CASE("The daemon renews, polls, applies and reports through a real mutual-TLS server") {
  Result<CertificateAuthority> ca = CertificateAuthority::Create("test CA", RealNow());
  REQUIRE(ca.ok());
  Result<IssuedServerCertificate> server_certificate = ca->IssueServer("", {"localhost"}, {"127.0.0.1"}, RealNow());
  REQUIRE(server_certificate.ok());

  // The enrolled agent's files, with a certificate two thirds through its 30 days.
  test_support::TemporaryDirectory directory("ww-daemon-https");
  auto opened = StateDir::Open(directory.path(), CreateMode::kOpenExisting);
  REQUIRE(opened.ok());
  StateDir state = std::move(*opened);
  Identity identity{IdentityKind::kAgent, "gw", "default"};
  Result<std::string> key = GenerateP256Key();
  REQUIRE(key.ok());
  Result<std::string> csr = MakeCsr(*key, "gw");
  REQUIRE(csr.ok());
  Result<IssuedCertificate> old_certificate = ca->IssueClient(*csr, identity, RealNow() - 21 * 86400);
  REQUIRE(old_certificate.ok());
  REQUIRE(state.WriteFileAtomically(kAgentCaCertificateFile, ca->CertificatePem()).ok());
  REQUIRE(state.WriteFileAtomically(kAgentTlsKeyFile, *key).ok());
  REQUIRE(state.WriteFileAtomically(kAgentTlsCertificateFile, old_certificate->pem).ok());

  Seen seen;
  HttpsServerOptions server_options;
  server_options.server_certificate_pem = server_certificate->certificate.pem;
  server_options.server_private_key_pem = server_certificate->private_key_pem;
  server_options.worker_threads = 8;
  server_options.http.keep_alive_timeout = std::chrono::seconds(1);
  Result<std::unique_ptr<HttpsServer>> created = HttpsServer::Create(*ca, std::move(server_options));
  REQUIRE(created.ok());
  std::unique_ptr<HttpsServer> server = std::move(created).value();

  AgentConfig desired;
  desired.agent = "gw";
  const std::string desired_json = AgentConfigToJson(desired, JsonStyle::kCompact);
  REQUIRE(server->Route(HttpMethod::kGet, "/v1/agents/([a-z0-9-]{1,63})/plan", {}, [&](const HttpRequest& request) {
    if (request.identity->id != request.path_parameters.at(0)) return HttpResponse{403, "application/json", "{}"};
    std::string after = request.QueryValue("after").value_or("?");
    std::unique_lock<std::mutex> lock(seen.mutex);
    seen.plan_requests.push_back(request.certificate_serial + " after=" + after + " wait=" +
                                 request.QueryValue("wait").value_or("?"));
    if (after == "0") {
      return HttpResponse{200, "application/json", "{\"generation\":5,\"revision\":2,\"desired\":" + desired_json + "}"};
    }
    // Deleted: but only once the report of generation 5 is in (it comes from another thread).
    seen.changed.wait_for(lock, std::chrono::seconds(30), [&] { return seen.Reported(5); });
    return HttpResponse{401, "application/json", "{\"error\":\"certificate revoked\"}"};
  }).ok());
  REQUIRE(server->Route(HttpMethod::kPost, "/v1/agents/([a-z0-9-]{1,63})/report", {}, [&](const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(seen.mutex);
    seen.reports.push_back(request.body);
    seen.changed.notify_all();
    return HttpResponse{204, "application/json", ""};
  }).ok());
  REQUIRE(server->Route(HttpMethod::kPost, "/v1/agents/([a-z0-9-]{1,63})/certificate", {}, [&](const HttpRequest& request) {
    std::string new_csr = nlohmann::json::parse(request.body).at("csr").get<std::string>();
    Result<IssuedCertificate> issued = ca->IssueClient(new_csr, *request.identity, RealNow());
    if (!issued.ok()) return HttpResponse{400, "application/json", "{\"error\":\"bad csr\"}"};
    std::lock_guard<std::mutex> lock(seen.mutex);
    seen.renewal_serials.push_back(request.certificate_serial);
    seen.renewed_serial = issued->serial_hex;
    return HttpResponse{200, "application/json", nlohmann::json{{"certificate", issued->pem}}.dump()};
  }).ok());
  Result<int> port = server->Start("127.0.0.1", 0);
  REQUIRE(port.ok());

  RecordingRunner runner;
  runner.SetOutput({"ip", "-4", "-N", "-j", "route", "show", "table", "all", "proto", "87"}, {0, "[]", ""});
  runner.SetOutput({"ip", "-4", "-N", "-j", "rule", "show"}, {0, "[]", ""});
  std::ostringstream log;
  DaemonOptions options;
  options.agent_name = "gw";
  options.hostname = "gw-host";
  options.poll_wait = std::chrono::seconds(5);
  DaemonEnvironment environment;
  environment.runner = &runner;
  environment.state = &state;
  environment.make_client = ApiClientFactory("https://127.0.0.1:" + std::to_string(*port), state);
  environment.random = [] { return 0.5; };
  environment.now = RealNow;
  environment.sample_system = [] { return SystemMetrics{}; };
  environment.log = &log;
  AgentDaemon daemon(options, std::move(environment));
  DaemonExit exit = daemon.Run();
  server->Stop();
  INFO(log.str());
  CHECK(exit == DaemonExit::kRevoked);

  std::lock_guard<std::mutex> lock(seen.mutex);
  CHECK(seen.renewal_serials == std::vector<std::string>{old_certificate->serial_hex});
  // Every poll already carries the renewed certificate.
  CHECK(seen.plan_requests == std::vector<std::string>{seen.renewed_serial + " after=0 wait=5",
                                                       seen.renewed_serial + " after=5 wait=5"});
  CHECK(seen.Reported(5));
  // The renewed pair is on disk and the temporary pair is gone.
  auto stored_certificate = state.ReadFile(kAgentTlsCertificateFile);
  REQUIRE(stored_certificate.ok());
  REQUIRE(stored_certificate->has_value());
  Result<std::string> stored_serial = CertificateSerialHex(**stored_certificate);
  REQUIRE(stored_serial.ok());
  CHECK(*stored_serial == seen.renewed_serial);
  CHECK_FALSE(state.ReadFile(kNextTlsKeyFile)->has_value());
  CHECK_FALSE(state.ReadFile(kNextTlsCertificateFile)->has_value());
  auto last = state.LoadLastApplied();
  REQUIRE(last.ok());
  CHECK(*last == std::optional<AgentConfig>(desired));
}

TEST_CASE("A renewal answered 429 keeps the current certificate and waits for its Retry-After") {
  Result<CertificateAuthority> ca = CertificateAuthority::Create("test CA", RealNow());
  REQUIRE(ca.ok());
  Result<IssuedServerCertificate> server_certificate = ca->IssueServer("", {"localhost"}, {"127.0.0.1"}, RealNow());
  REQUIRE(server_certificate.ok());
  test_support::TemporaryDirectory directory("ww-daemon-429");
  auto opened = StateDir::Open(directory.path(), CreateMode::kOpenExisting);
  REQUIRE(opened.ok());
  StateDir state = std::move(*opened);
  Result<std::string> key = GenerateP256Key();
  REQUIRE(key.ok());
  Result<IssuedCertificate> old_certificate =
      ca->IssueClient(*MakeCsr(*key, "gw"), {IdentityKind::kAgent, "gw", "default"}, RealNow() - 21 * 86400);
  REQUIRE(old_certificate.ok());
  REQUIRE(state.WriteFileAtomically(kAgentCaCertificateFile, ca->CertificatePem()).ok());
  REQUIRE(state.WriteFileAtomically(kAgentTlsKeyFile, *key).ok());
  REQUIRE(state.WriteFileAtomically(kAgentTlsCertificateFile, old_certificate->pem).ok());

  HttpsServerOptions server_options;
  server_options.server_certificate_pem = server_certificate->certificate.pem;
  server_options.server_private_key_pem = server_certificate->private_key_pem;
  server_options.worker_threads = 4;
  Result<std::unique_ptr<HttpsServer>> created = HttpsServer::Create(*ca, std::move(server_options));
  REQUIRE(created.ok());
  std::unique_ptr<HttpsServer> server = std::move(created).value();
  // The agent's clock: it moves on by the Retry-After only when the test says so.
  std::atomic<int64_t> clock_offset{0};
  Seen seen;
  REQUIRE(server->Route(HttpMethod::kGet, "/v1/agents/([a-z0-9-]{1,63})/plan", {}, [&](const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(seen.mutex);
    seen.plan_requests.push_back(request.certificate_serial);
    if (seen.plan_requests.size() == 3) clock_offset = 600;  // the Retry-After has passed
    if (seen.plan_requests.size() == 5) return HttpResponse{401, "application/json", "{\"error\":\"deleted\"}"};
    return HttpResponse{204, "application/json", ""};
  }).ok());
  REQUIRE(server->Route(HttpMethod::kPost, "/v1/agents/([a-z0-9-]{1,63})/report", {}, [](const HttpRequest&) {
    return HttpResponse{204, "application/json", ""};
  }).ok());
  REQUIRE(server->Route(HttpMethod::kPost, "/v1/agents/([a-z0-9-]{1,63})/certificate", {}, [&](const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(seen.mutex);
    seen.renewal_serials.push_back(request.certificate_serial);
    if (seen.renewal_serials.size() == 1) {
      return HttpResponse{429, "application/json", "{\"error\":\"too soon\"}", {{"Retry-After", "600"}}};
    }
    std::string new_csr = nlohmann::json::parse(request.body).at("csr").get<std::string>();
    Result<IssuedCertificate> issued = ca->IssueClient(new_csr, *request.identity, RealNow());
    if (!issued.ok()) return HttpResponse{400, "application/json", "{\"error\":\"bad csr\"}"};
    seen.renewed_serial = issued->serial_hex;
    return HttpResponse{200, "application/json", nlohmann::json{{"certificate", issued->pem}}.dump()};
  }).ok());
  Result<int> port = server->Start("127.0.0.1", 0);
  REQUIRE(port.ok());

  RecordingRunner runner;
  std::ostringstream log;
  DaemonOptions options;
  options.agent_name = "gw";
  options.hostname = "gw-host";
  options.poll_wait = std::chrono::seconds(1);
  options.report_delivery = ReportDelivery::kInline;
  DaemonEnvironment environment;
  environment.runner = &runner;
  environment.state = &state;
  environment.make_client = ApiClientFactory("https://127.0.0.1:" + std::to_string(*port), state);
  environment.random = [] { return 0.5; };
  environment.now = [&clock_offset] { return RealNow() + clock_offset.load(); };
  environment.sample_system = [] { return SystemMetrics{}; };
  environment.log = &log;
  AgentDaemon daemon(options, std::move(environment));
  DaemonExit exit = daemon.Run();
  server->Stop();
  INFO(log.str());
  CHECK(exit == DaemonExit::kRevoked);
  CHECK(log.str().find("event=renew-deferred retry_s=600") != std::string::npos);

  std::lock_guard<std::mutex> lock(seen.mutex);
  // Refused once, then not asked again until the agent's clock passed the Retry-After.
  const std::string old_serial = old_certificate->serial_hex;
  CHECK(seen.renewal_serials == std::vector<std::string>{old_serial, old_serial});
  CHECK(seen.plan_requests ==
        std::vector<std::string>{old_serial, old_serial, old_serial, seen.renewed_serial, seen.renewed_serial});
}

TEST_CASE("LoadTlsCredentials finishes a renewal that crashed after its certificate arrived") {
  Result<CertificateAuthority> ca = CertificateAuthority::Create("test CA", RealNow());
  REQUIRE(ca.ok());
  test_support::TemporaryDirectory directory("ww-daemon-tls");
  auto opened = StateDir::Open(directory.path(), CreateMode::kOpenExisting);
  REQUIRE(opened.ok());
  StateDir state = std::move(*opened);
  auto issue = [&](std::string& key_pem) {
    key_pem = GenerateP256Key().value();
    return ca->IssueClient(MakeCsr(key_pem, "gw").value(), {IdentityKind::kAgent, "gw", "default"}, RealNow()).value().pem;
  };
  std::string old_key;
  std::string old_certificate = issue(old_key);
  std::string new_key;
  std::string new_certificate = issue(new_key);
  REQUIRE(state.WriteFileAtomically(kAgentCaCertificateFile, ca->CertificatePem()).ok());
  REQUIRE(state.WriteFileAtomically(kAgentTlsKeyFile, old_key).ok());
  REQUIRE(state.WriteFileAtomically(kAgentTlsCertificateFile, old_certificate).ok());

  SUBCASE("only the new key was written: the old pair stays") {
    REQUIRE(state.WriteFileAtomically(kNextTlsKeyFile, new_key).ok());
    Result<TlsCredentials> credentials = LoadTlsCredentials(state);
    REQUIRE(credentials.ok());
    CHECK(credentials->key_pem == old_key);
    CHECK(credentials->certificate_pem == old_certificate);
  }
  SUBCASE("both new files were written: the new pair is installed") {
    REQUIRE(state.WriteFileAtomically(kNextTlsKeyFile, new_key).ok());
    REQUIRE(state.WriteFileAtomically(kNextTlsCertificateFile, new_certificate).ok());
    Result<TlsCredentials> credentials = LoadTlsCredentials(state);
    REQUIRE(credentials.ok());
    CHECK(credentials->key_pem == new_key);
    CHECK(credentials->certificate_pem == new_certificate);
    CHECK(state.ReadFile(kAgentTlsKeyFile)->value() == new_key);
  }
  CHECK_FALSE(state.ReadFile(kNextTlsKeyFile)->has_value());
  CHECK_FALSE(state.ReadFile(kNextTlsCertificateFile)->has_value());
}

TEST_CASE("RenewalDue once less than a third of the lifetime is left") {
  CertificateValidity validity{0, 3000};
  CHECK_FALSE(RenewalDue(validity, 0));
  CHECK_FALSE(RenewalDue(validity, 2000));
  CHECK(RenewalDue(validity, 2001));
  CHECK(RenewalDue(validity, 5000));
}

TEST_CASE("LoadTlsCredentials says to enroll when the files are missing") {
  test_support::TemporaryDirectory directory("ww-daemon-tls");
  auto opened = StateDir::Open(directory.path(), CreateMode::kOpenExisting);
  REQUIRE(opened.ok());
  Result<TlsCredentials> credentials = LoadTlsCredentials(*opened);
  CHECK(credentials.status() == Status::FailedPrecondition(directory.path() +
                                                           "/ca.pem is missing: enroll this agent first (wirewarp-agent enroll)"));
}

}  // namespace
}  // namespace ww::agent
