// Bootstrap and enrollment end to end over real TLS on 127.0.0.1: the data directory's files
// and modes, admin token creation over mutual TLS, an agent enrolling with a pinned CA, and
// every refusal (reused, expired and malformed tokens, a wrong pin before anything is sent, a
// duplicate WireGuard key, missing or non-admin certificates on /v1/tokens).

#include <doctest/doctest.h>

#include "tests/support/test_files.h"
#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "reconciler/api/https_server.h"
#include "reconciler/client/enroll_client.h"
#include "reconciler/client/https_url.h"
#include "reconciler/pki/token.h"
#include "reconciler/server/bootstrap.h"
#include "reconciler/server/enrollment.h"
#include "tests/support/temporary_directory.h"

namespace ww {
namespace {
using test_support::ReadText;
using test_support::UnixNow;
using test_support::YamlBlock;

using test_support::TemporaryDirectory;


unsigned FileMode(const std::string& path) {
  struct stat info{};
  REQUIRE(stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}


// The PEM under "key: |" in admin.wwctl.yaml (its lines are indented two spaces).

WireguardKey KeyFilledWith(std::uint8_t value) {
  WireguardKey key;
  key.bytes.fill(value);
  return key;
}

struct Credentials {
  std::string certificate_pem;
  std::string key_pem;
};

// A reconciler made by Bootstrap, serving the enrollment routes on an ephemeral port. The
// enrollment clock stands still at the test's start plus `clock_offset`, so tests can expire
// tokens to the second whatever the machine's load.
struct Reconciler {
  TemporaryDirectory directory;
  Bootstrap bootstrap;
  const std::int64_t clock_start = UnixNow();
  std::atomic<std::int64_t> clock_offset{0};
  std::unique_ptr<HttpsServer> server;
  int port = 0;
  std::string url;
  Credentials admin;

  Reconciler() {
    Result<Bootstrap> opened = Bootstrap::Open(directory.path() + "/data", "https://127.0.0.1:8443", UnixNow());
    REQUIRE(opened.ok());
    bootstrap = std::move(opened).value();
    HttpsServerOptions options;
    options.server_certificate_pem = bootstrap.server_certificate_pem;
    options.server_private_key_pem = bootstrap.server_private_key_pem;
    options.worker_threads = 8;
    options.fleet = bootstrap.fleet;
    Store* store = bootstrap.store.get();
    options.is_revoked = [store](const std::string& serial) {
      Result<bool> revoked = store->IsRevoked(serial);
      return !revoked.ok() || *revoked;
    };
    Result<std::unique_ptr<HttpsServer>> created = HttpsServer::Create(*bootstrap.ca, std::move(options));
    REQUIRE(created.ok());
    server = std::move(created).value();
    EnrollmentOptions enrollment{bootstrap.advertise_url, bootstrap.ca_pin, bootstrap.fleet,
                                 [this] { return clock_start + clock_offset.load(); }};
    REQUIRE(RegisterEnrollmentRoutes(*server, *bootstrap.ca, *bootstrap.store, enrollment).ok());
    Result<int> started = server->Start("127.0.0.1", 0);
    REQUIRE(started.ok());
    port = *started;
    url = "https://127.0.0.1:" + std::to_string(port);
    std::string yaml = ReadText(bootstrap.admin_config_path);
    admin = Credentials{YamlBlock(yaml, "clientCertificate"), YamlBlock(yaml, "clientKey")};
  }
  ~Reconciler() { server->Stop(); }

  // A client trusting our CA and presenting `credentials` (none when null).
  std::unique_ptr<httplib::SSLClient> Client(const Credentials* credentials) const {
    std::unique_ptr<httplib::SSLClient> client;
    if (credentials != nullptr) {
      BIO* certificate_bio = BIO_new_mem_buf(credentials->certificate_pem.data(),
                                             static_cast<int>(credentials->certificate_pem.size()));
      BIO* key_bio = BIO_new_mem_buf(credentials->key_pem.data(), static_cast<int>(credentials->key_pem.size()));
      X509* certificate = PEM_read_bio_X509(certificate_bio, nullptr, nullptr, nullptr);
      EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
      REQUIRE(certificate != nullptr);
      REQUIRE(key != nullptr);
      client = std::make_unique<httplib::SSLClient>("127.0.0.1", port, certificate, key);
      X509_free(certificate);
      EVP_PKEY_free(key);
      BIO_free(certificate_bio);
      BIO_free(key_bio);
    } else {
      client = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
    }
    client->set_ca_cert_path((directory.path() + "/data/ca.pem").c_str());
    client->enable_server_certificate_verification(true);
    client->set_connection_timeout(10);
    client->set_read_timeout(10);
    return client;
  }

  // POST /v1/tokens as admin; returns the parsed answer.
  nlohmann::json CreateToken(const nlohmann::json& body) const {
    httplib::Result response = Client(&admin)->Post("/v1/tokens", body.dump(), "application/json");
    REQUIRE(response);
    REQUIRE_MESSAGE(response->status == 200, response->body);
    return nlohmann::json::parse(response->body);
  }
};

// An agent's state directory: records which files Enroll wrote.
struct AgentFiles {
  TemporaryDirectory directory;
  std::map<std::string, std::string> written;

  EnrollRequest Request(const Reconciler& reconciler, const std::string& token, WireguardKey key) {
    EnrollRequest request;
    request.url = reconciler.url;
    request.token = token;
    request.ca_pins = {reconciler.bootstrap.ca_pin};
    request.mode = "client";
    request.hostname = "laptop-7";
    request.version = "test";
    request.wireguard_public_key = key;
    request.state_dir = directory.path();
    request.write_file = [this](std::string_view name, std::string_view contents) {
      std::ofstream(directory.path() + "/" + std::string(name)) << contents;
      written[std::string(name)] = std::string(contents);
      return Status::Ok();
    };
    return request;
  }
};

TEST_CASE("ParseHttpsUrl takes host and port and refuses anything else") {
  CHECK(*ParseHttpsUrl("https://rc.example.com:9443") == HttpsUrl{"rc.example.com", 9443, false});
  CHECK(*ParseHttpsUrl("https://10.0.0.1/") == HttpsUrl{"10.0.0.1", 8443, true});
  CHECK(*ParseHttpsUrl("https://[fd00::1]:443") == HttpsUrl{"fd00::1", 443, true});
  CHECK(ParseHttpsUrl("http://rc:80").status() ==
        Status::InvalidArgument("URL \"http://rc:80\" must start with https://"));
  CHECK(ParseHttpsUrl("https://rc:0").status() == Status::InvalidArgument("URL \"https://rc:0\" has an invalid port"));
  CHECK(ParseHttpsUrl("https://user@rc").status() ==
        Status::InvalidArgument("URL \"https://user@rc\" must be https://HOST[:PORT] with no path, query or user"));
  CHECK(ParseHttpsUrl("https://").status() == Status::InvalidArgument("URL \"https://\" has no host"));
  CHECK(ParseHttpsUrl("https://rc_1").status() == Status::InvalidArgument("URL \"https://rc_1\" has an invalid host name"));
}

TEST_CASE("AgentNameFromHostname makes a valid agent name") {
  CHECK(AgentNameFromHostname("Web_01.example.com") == "web-01-example-com");
  CHECK(AgentNameFromHostname("--x--") == "x");
  CHECK(AgentNameFromHostname("...") == "");
  CHECK(AgentNameFromHostname(std::string(70, 'a')) == std::string(63, 'a'));
  CHECK(IsValidAgentName("web-01"));
  CHECK_FALSE(IsValidAgentName("-web"));
  CHECK_FALSE(IsValidAgentName("Web"));
  CHECK_FALSE(IsValidAgentName(std::string(64, 'a')));
}

TEST_CASE("Bootstrap creates the data directory once and loads it afterwards") {
  TemporaryDirectory directory;
  std::string data = directory.path() + "/data";
  std::int64_t now = UnixNow();
  Result<Bootstrap> first = Bootstrap::Open(data, "https://rc.example.com:9443", now);
  REQUIRE(first.ok());
  CHECK(first->outcome == BootstrapOutcome::kCreated);
  CHECK(FileMode(data) == 0700);
  CHECK(FileMode(data + "/ca-key.pem") == 0600);
  CHECK(FileMode(data + "/server-key.pem") == 0600);
  CHECK(FileMode(data + "/admin.wwctl.yaml") == 0600);
  CHECK(FileMode(data + "/ca.pem") == 0644);
  CHECK(std::filesystem::exists(data + "/wirewarp.db"));
  CHECK(ReadText(data + "/ca.pem") == first->ca->CertificatePem());
  CHECK(first->ca_pin == *SpkiPin(first->ca->CertificatePem()));

  std::string yaml = ReadText(data + "/admin.wwctl.yaml");
  CHECK(yaml.find("\nserver: https://rc.example.com:9443\n") != std::string::npos);
  CHECK(yaml.find("\ncaPin: " + first->ca_pin + "\n") != std::string::npos);
  CHECK(YamlBlock(yaml, "caCertificate") == first->ca->CertificatePem());
  Result<Identity> admin = VerifyClientCertificate(*first->ca, YamlBlock(yaml, "clientCertificate"), now);
  REQUIRE(admin.ok());
  // A new install's fleet id: random, in fleet-id beside the CA, in the CA's name and in
  // every certificate.
  const std::string fleet = first->fleet;
  CHECK(fleet.size() == 17);
  CHECK(fleet[0] == 'f');
  CHECK(fleet.find_first_not_of("0123456789abcdef", 1) == std::string::npos);
  CHECK(ReadText(data + "/fleet-id") == fleet + "\n");
  CHECK(FileMode(data + "/fleet-id") == 0644);
  Result<CertificateClaims> ca_claims = ReadCertificateClaims(first->ca->CertificatePem());
  REQUIRE(ca_claims.ok());
  CHECK(ca_claims->subject_common_name == "WireWarp CA " + fleet);
  CHECK(*admin == Identity{IdentityKind::kAdmin, "admin", fleet});
  Result<bool> admin_revoked = first->store->IsRevoked(*CertificateSerialHex(YamlBlock(yaml, "clientCertificate")));
  REQUIRE(admin_revoked.ok());  // the store knows the admin's serial
  CHECK_FALSE(*admin_revoked);
  std::string ca_pin = first->ca_pin;
  std::string server_pem = first->server_certificate_pem;
  first = Status::Internal("closed");  // closes the store

  Result<Bootstrap> second = Bootstrap::Open(data, "https://rc.example.com:9443", now + 60);
  REQUIRE(second.ok());
  CHECK(second->outcome == BootstrapOutcome::kLoaded);
  CHECK(second->ca_pin == ca_pin);
  CHECK(second->server_certificate_pem == server_pem);
  CHECK(second->fleet == fleet);
  CHECK(ReadText(data + "/admin.wwctl.yaml") == yaml);

  // Another install gets another fleet id.
  Result<Bootstrap> other = Bootstrap::Open(directory.path() + "/other", "https://rc.example.com:9443", now);
  REQUIRE(other.ok());
  CHECK(other->fleet != fleet);
}

TEST_CASE("Bootstrap: a data directory from before fleet ids keeps \"default\", so its certificates stay valid") {
  TemporaryDirectory directory;
  std::string data = directory.path() + "/data";
  REQUIRE(mkdir(data.c_str(), 0700) == 0);
  // Made like an old install: its certificates carry "default" and there is no fleet-id.
  std::ofstream(data + "/fleet-id") << "default\n";
  Result<Bootstrap> first = Bootstrap::Open(data, "https://127.0.0.1:8443", UnixNow());
  REQUIRE(first.ok());
  CHECK(first->fleet == "default");
  std::string admin_pem = YamlBlock(ReadText(first->admin_config_path), "clientCertificate");
  first = Status::Internal("closed");
  REQUIRE(std::filesystem::remove(data + "/fleet-id"));

  Result<Bootstrap> loaded = Bootstrap::Open(data, "https://127.0.0.1:8443", UnixNow());
  REQUIRE(loaded.ok());
  CHECK(loaded->outcome == BootstrapOutcome::kLoaded);
  CHECK(loaded->fleet == "default");
  CHECK(VerifyClientCertificate(*loaded->ca, admin_pem, UnixNow())->fleet == "default");
  CHECK_FALSE(std::filesystem::exists(data + "/fleet-id"));  // nothing rewritten
}

TEST_CASE("Bootstrap keeps a fleet id written before the first start and refuses a malformed one") {
  TemporaryDirectory directory;
  std::string data = directory.path() + "/data";
  REQUIRE(mkdir(data.c_str(), 0700) == 0);
  std::ofstream(data + "/fleet-id") << "home-lab\n";
  Result<Bootstrap> seeded = Bootstrap::Open(data, "https://127.0.0.1:8443", UnixNow());
  REQUIRE(seeded.ok());
  CHECK(seeded->fleet == "home-lab");
  CHECK(ReadCertificateClaims(seeded->ca->CertificatePem())->subject_common_name == "WireWarp CA home-lab");
  seeded = Status::Internal("closed");

  std::ofstream(data + "/fleet-id") << "Home Lab\n";
  Result<Bootstrap> malformed = Bootstrap::Open(data, "https://127.0.0.1:8443", UnixNow());
  CHECK(malformed.status().message() == "loading \"" + data + "\": \"" + data +
                                            "/fleet-id\" holds \"Home Lab\", not a fleet id (^[a-z0-9][a-z0-9-]{0,62}$)");
}

TEST_CASE("Bootstrap refuses a data directory others can read") {
  TemporaryDirectory directory;
  REQUIRE(chmod(directory.path().c_str(), 0755) == 0);
  Result<Bootstrap> opened = Bootstrap::Open(directory.path(), "https://127.0.0.1", UnixNow());
  CHECK(opened.status() == Status::FailedPrecondition("data directory \"" + directory.path() +
                                                      "\" is accessible to group or others; run: chmod 700 " +
                                                      directory.path()));
}

TEST_CASE("An agent enrolls with a token and a pinned CA and the token works once") {
  Reconciler reconciler;
  nlohmann::json token = reconciler.CreateToken({{"type", "client"}});
  std::string text = token["token"];
  CHECK(ParseToken(text).ok());
  CHECK(token["installCommand"] == "wirewarp-agent enroll --url https://127.0.0.1:8443 --token-file TOKEN_FILE "
                                   "--ca-pin " + reconciler.bootstrap.ca_pin +
                                       " --mode client --state-dir /var/lib/wirewarp");
  CHECK(token["expiresAt"].get<std::int64_t>() - UnixNow() <= kDefaultTokenTtlSeconds);
  CHECK(token["expiresAt"].get<std::int64_t>() - UnixNow() >= kDefaultTokenTtlSeconds - 60);

  AgentFiles agent;
  EnrollRequest request = agent.Request(reconciler, text, KeyFilledWith(7));
  request.hostname = "Laptop_7.example.com";
  Result<EnrollResult> enrolled = Enroll(request);
  REQUIRE_MESSAGE(enrolled.ok(), enrolled.status().ToString());
  CHECK(enrolled->agent_name == "laptop-7-example-com");
  Result<Identity> identity = VerifyClientCertificate(*reconciler.bootstrap.ca, enrolled->certificate_pem, UnixNow());
  REQUIRE(identity.ok());
  CHECK(*identity == Identity{IdentityKind::kAgent, "laptop-7-example-com", reconciler.bootstrap.fleet});
  CHECK(agent.written.size() == 3);
  CHECK(agent.written["ca.pem"] == reconciler.bootstrap.ca->CertificatePem());
  CHECK(agent.written["tls.pem"] == enrolled->certificate_pem);
  CHECK(agent.written["tls.key"].find("PRIVATE KEY") != std::string::npos);
  Result<AgentRecord> stored = reconciler.bootstrap.store->FindAgentByName("laptop-7-example-com");
  REQUIRE(stored.ok());
  CHECK(stored->wireguard_public_key == KeyFilledWith(7));
  CHECK(stored->hostname == "Laptop_7.example.com");
  CHECK(stored->role == AgentRole::kClient);

  AgentFiles again;
  Result<EnrollResult> reused = Enroll(again.Request(reconciler, text, KeyFilledWith(8)));
  CHECK(reused.status() ==
        Status::InvalidArgument(std::string("the reconciler refused the enrollment (HTTP 401): ") + kTokenRefusedMessage));
}

TEST_CASE("A wrong CA pin stops enrollment before the token is sent") {
  Reconciler reconciler;
  std::string text = reconciler.CreateToken({{"type", "server"}, {"name", "edge-1"}})["token"];
  AgentFiles agent;
  EnrollRequest request = agent.Request(reconciler, text, KeyFilledWith(9));
  request.ca_pins = {"sha256:" + std::string(64, '0')};
  Result<EnrollResult> refused = Enroll(request);
  CHECK(refused.status() == Status::FailedPrecondition("the reconciler at " + reconciler.url + " presented CA " +
                                                       reconciler.bootstrap.ca_pin +
                                                       ", which matches no --ca-pin; nothing was sent"));
  CHECK(agent.written.empty());

  // The token was never used: it still enrolls, and several pins may be given.
  request.ca_pins = {"sha256:" + std::string(64, '0'), reconciler.bootstrap.ca_pin};
  request.name = "edge-1";
  request.mode = "server";
  Result<EnrollResult> enrolled = Enroll(request);
  REQUIRE_MESSAGE(enrolled.ok(), enrolled.status().ToString());
  CHECK(enrolled->agent_name == "edge-1");
  CHECK(reconciler.bootstrap.store->FindAgentByName("edge-1")->role == AgentRole::kServer);
}

TEST_CASE("Expired and malformed and unknown tokens get the same refusal") {
  Reconciler reconciler;
  std::string text = reconciler.CreateToken({{"type", "client"}, {"ttlSeconds", 60}})["token"];
  std::string expected = std::string("the reconciler refused the enrollment (HTTP 401): ") + kTokenRefusedMessage;
  std::string still_valid = reconciler.CreateToken({{"type", "client"}, {"ttlSeconds", 60}})["token"];
  AgentFiles agent;
  reconciler.clock_offset = 59;
  CHECK(Enroll(agent.Request(reconciler, still_valid, KeyFilledWith(2))).ok());
  reconciler.clock_offset = 61;
  CHECK(Enroll(agent.Request(reconciler, text, KeyFilledWith(1))).status() == Status::InvalidArgument(expected));
  CHECK(Enroll(agent.Request(reconciler, "not-a-token", KeyFilledWith(1))).status() ==
        Status::InvalidArgument(expected));
  Result<GeneratedToken> unknown = GenerateToken();
  REQUIRE(unknown.ok());
  CHECK(Enroll(agent.Request(reconciler, unknown->text, KeyFilledWith(1))).status() ==
        Status::InvalidArgument(expected));
}

TEST_CASE("The token is checked before the CSR: a bad token with a bad CSR is 401, a good token with it 400") {
  Reconciler reconciler;
  Result<GeneratedToken> unknown = GenerateToken();
  REQUIRE(unknown.ok());
  std::string good = reconciler.CreateToken({{"type", "client"}, {"ttlSeconds", 60}})["token"];
  auto enroll = [&](const std::string& token) {
    nlohmann::json body{{"token", token},
                        {"csr", "-----BEGIN CERTIFICATE REQUEST-----\nnot a csr\n-----END CERTIFICATE REQUEST-----\n"},
                        {"wireguardPublicKey", KeyFilledWith(3).ToBase64()},
                        {"hostname", "laptop-7"},
                        {"mode", "client"}};
    httplib::Result response = reconciler.Client(nullptr)->Post("/v1/enroll", body.dump(), "application/json");
    REQUIRE(response);
    return response->status;
  };
  CHECK(enroll(unknown->text) == 401);
  CHECK(enroll(good) == 400);  // the CSR is refused, and the token is not used up
  CHECK(enroll(good) == 400);
}

TEST_CASE("A WireGuard key that is zero or already enrolled is refused without burning the token") {
  Reconciler reconciler;
  std::string first = reconciler.CreateToken({{"type", "client"}})["token"];
  std::string second = reconciler.CreateToken({{"type", "client"}})["token"];
  AgentFiles agent;
  EnrollRequest request = agent.Request(reconciler, first, KeyFilledWith(5));
  request.name = "one";
  REQUIRE(Enroll(request).ok());

  AgentFiles other;
  EnrollRequest duplicate = other.Request(reconciler, second, KeyFilledWith(5));
  duplicate.name = "two";
  CHECK(Enroll(duplicate).status() ==
        Status::InvalidArgument("the reconciler refused the enrollment (HTTP 409): WireGuard public key \"" +
                                KeyFilledWith(5).ToBase64() +
                                "\" is already enrolled by agent \"one\"; to move it to another name, run "
                                "`wwctl agent delete one` first"));
  duplicate.wireguard_public_key = WireguardKey{};
  CHECK(Enroll(duplicate).status() ==
        Status::InvalidArgument("the reconciler refused the enrollment (HTTP 400): field \"wireguardPublicKey\" "
                                "must be 32 non-zero bytes in base64"));
  duplicate.wireguard_public_key = KeyFilledWith(6);
  duplicate.name = "one";
  CHECK(Enroll(duplicate).status() ==
        Status::InvalidArgument("the reconciler refused the enrollment (HTTP 409): agent name \"one\" is taken by "
                                "an enrolled agent; to replace it, run `wwctl agent delete one` first"));
  duplicate.name = "two";
  Result<EnrollResult> enrolled = Enroll(duplicate);
  REQUIRE_MESSAGE(enrolled.ok(), enrolled.status().ToString());
  CHECK(enrolled->agent_name == "two");
}

TEST_CASE("A deleted agent's name enrolls again with a token named for it, with the old key or a new one") {
  Reconciler reconciler;
  AgentFiles agent;
  EnrollRequest request = agent.Request(reconciler, reconciler.CreateToken({{"type", "client"}, {"name", "gw"}})["token"],
                                        KeyFilledWith(5));
  request.name = "gw";
  Result<EnrollResult> first = Enroll(request);
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  Credentials first_credentials{first->certificate_pem, agent.written["tls.key"]};
  REQUIRE(reconciler.bootstrap.store->DeleteAgent("gw", UnixNow()).ok());

  // The same state dir (same WireGuard key), a new token: enrolled, a new certificate.
  request.token = reconciler.CreateToken({{"type", "client"}, {"name", "gw"}})["token"];
  Result<EnrollResult> second = Enroll(request);
  REQUIRE_MESSAGE(second.ok(), second.status().ToString());
  CHECK(second->agent_name == "gw");
  CHECK(second->certificate_pem != first->certificate_pem);
  Result<AgentRecord> stored = reconciler.bootstrap.store->FindAgentByName("gw");
  REQUIRE(stored.ok());
  CHECK(stored->id == "gw.2");
  CHECK(stored->deleted_at == std::nullopt);
  CHECK(stored->wireguard_public_key == KeyFilledWith(5));
  // The first enrollment's certificate stays revoked (401); the new one is a valid agent
  // certificate (403: only an admin creates tokens).
  Credentials second_credentials{second->certificate_pem, agent.written["tls.key"]};
  httplib::Result old_answer = reconciler.Client(&first_credentials)->Post("/v1/tokens", "{}", "application/json");
  httplib::Result new_answer = reconciler.Client(&second_credentials)->Post("/v1/tokens", "{}", "application/json");
  REQUIRE(old_answer);
  REQUIRE(new_answer);
  CHECK(old_answer->status == 401);
  CHECK(new_answer->status == 403);

  // A fresh state dir (a new key) after another delete.
  REQUIRE(reconciler.bootstrap.store->DeleteAgent("gw", UnixNow()).ok());
  AgentFiles fresh;
  EnrollRequest fresh_request =
      fresh.Request(reconciler, reconciler.CreateToken({{"type", "client"}, {"name", "gw"}})["token"], KeyFilledWith(6));
  fresh_request.name = "gw";
  Result<EnrollResult> third = Enroll(fresh_request);
  REQUIRE_MESSAGE(third.ok(), third.status().ToString());
  CHECK(reconciler.bootstrap.store->FindAgentByName("gw")->id == "gw.3");
  CHECK(reconciler.bootstrap.store->FindAgentByName("gw")->wireguard_public_key == KeyFilledWith(6));
  CHECK(reconciler.bootstrap.store->ListAgentHistory()->size() == 3);
}

TEST_CASE("A token enrolls only its own mode and name; a scope refusal is 403 and keeps the token") {
  Reconciler reconciler;
  std::string client_token = reconciler.CreateToken({{"type", "client"}})["token"];
  std::string named_token = reconciler.CreateToken({{"type", "server"}, {"name", "edge-1"}})["token"];
  AgentFiles agent;

  EnrollRequest as_server = agent.Request(reconciler, client_token, KeyFilledWith(11));
  as_server.mode = "server";
  Result<EnrollResult> refused = Enroll(as_server);
  CHECK(refused.status() == Status::InvalidArgument("the reconciler refused the enrollment (HTTP 403): token scope: "
                                                    "this token enrolls a client agent, not mode \"server\""));
  CHECK(refused.status().message().find(client_token) == std::string::npos);
  CHECK(agent.written.count("tls.pem") == 0);  // no certificate was handed out
  CHECK(reconciler.bootstrap.store->FindAgentByName("laptop-7").status().code() == StatusCode::kNotFound);

  as_server.mode = "client";
  Result<EnrollResult> enrolled = Enroll(as_server);
  REQUIRE_MESSAGE(enrolled.ok(), enrolled.status().ToString());
  CHECK(enrolled->agent_name == "laptop-7");
  CHECK(reconciler.bootstrap.store->FindAgentByName("laptop-7")->role == AgentRole::kClient);

  AgentFiles edge;
  EnrollRequest other_name = edge.Request(reconciler, named_token, KeyFilledWith(12));
  other_name.mode = "server";
  other_name.name = "edge-2";
  CHECK(Enroll(other_name).status() ==
        Status::InvalidArgument("the reconciler refused the enrollment (HTTP 403): token scope: this token enrolls "
                                "the agent named \"edge-1\", not \"edge-2\""));
  other_name.name = "";  // the name made from the hostname is another name too
  CHECK(Enroll(other_name).status() ==
        Status::InvalidArgument("the reconciler refused the enrollment (HTTP 403): token scope: this token enrolls "
                                "the agent named \"edge-1\", not \"laptop-7\""));
  CHECK(reconciler.bootstrap.store->FindAgentByName("edge-2").status().code() == StatusCode::kNotFound);
  CHECK(edge.written.count("tls.pem") == 0);

  other_name.name = "edge-1";
  Result<EnrollResult> named = Enroll(other_name);
  REQUIRE_MESSAGE(named.ok(), named.status().ToString());
  CHECK(named->agent_name == "edge-1");
  CHECK(reconciler.bootstrap.store->FindAgentByName("edge-1")->role == AgentRole::kServer);
}

TEST_CASE("POST /v1/tokens needs an admin certificate") {
  Reconciler reconciler;
  std::string body = R"({"type":"client"})";
  httplib::Result anonymous = reconciler.Client(nullptr)->Post("/v1/tokens", body, "application/json");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);

  std::string text = reconciler.CreateToken({{"type", "client"}})["token"];
  AgentFiles agent;
  EnrollRequest request = agent.Request(reconciler, text, KeyFilledWith(3));
  REQUIRE(Enroll(request).ok());
  Credentials agent_credentials{agent.written["tls.pem"], agent.written["tls.key"]};
  httplib::Result as_agent = reconciler.Client(&agent_credentials)->Post("/v1/tokens", body, "application/json");
  REQUIRE(as_agent);
  CHECK(as_agent->status == 403);
  CHECK(as_agent->body.starts_with(R"({"error":"creating tokens needs the admin role; wirewarp://)" +
                                   reconciler.bootstrap.fleet + "/agent/"));
  CHECK(as_agent->body.ends_with(R"( has the agent role"})"));

  httplib::Result ca = reconciler.Client(nullptr)->Get("/v1/ca");
  REQUIRE(ca);
  CHECK(ca->status == 200);
  CHECK(ca->body == reconciler.bootstrap.ca->CertificatePem());
}

TEST_CASE("POST /v1/tokens checks its body") {
  Reconciler reconciler;
  auto post = [&](const std::string& body) {
    httplib::Result response = reconciler.Client(&reconciler.admin)->Post("/v1/tokens", body, "application/json");
    REQUIRE(response);
    return std::to_string(response->status) + " " + response->body;
  };
  CHECK(post(R"({"type":"router"})") == R"(400 {"error":"field \"type\" must be \"server\" or \"client\", not \"router\""})");
  CHECK(post(R"({"type":"client","ttlSeconds":5})") ==
        R"(400 {"error":"field \"ttlSeconds\" must be between 60 and 2592000, not 5"})");
  CHECK(post(R"({"type":"client","name":"Bad Name"})") ==
        R"(400 {"error":"field \"name\" must match ^[a-z0-9][a-z0-9-]{0,62}$, not \"Bad Name\""})");
  CHECK(post(R"({"type":[[[[[["x"]]]]]]})") == R"(400 {"error":"the request body is nested too deeply"})");
  CHECK(post("{") == R"(400 {"error":"the request body is not valid JSON"})");
  CHECK(post(std::string(kEnrollmentMaxBody + 1, ' ')).substr(0, 3) == "413");
}

}  // namespace
}  // namespace ww
