// The Store's credentials (schema v6): named certificates of people and CI jobs, the ci role,
// revocation by name and by serial that always leaves an admin, last use, and the migration
// of a version 5 database's certificates.

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reconciler/store/store.h"
#include "tests/support/temporary_directory.h"
#include "tests/unit/reconciler/raw_sql.h"
#include "tests/support/test_values.h"

namespace ww {
namespace {

using test_support::TemporaryDirectory;

constexpr int64_t kNow = 10000;

std::unique_ptr<Store> OpenStore(const std::string& path) {
  Result<std::unique_ptr<Store>> store = Store::Open(path);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return std::move(store).value();
}

CredentialRecord Credential(const std::string& name, CertificateRole role, const std::string& serial,
                            int64_t not_after = kNow + 1000) {
  std::string kind = CertificateRoleName(role);
  return CredentialRecord{name,
                          CertificateRecord{serial, std::nullopt, "wirewarp://default/" + kind + "/" + name, role,
                                            kNow - 100, not_after, std::nullopt},
                          "wirewarp://default/admin/admin", std::nullopt};
}

using test_support::RawExec;

TEST_CASE("store: a credential is created, listed and refused again while its name is active") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory.File("state.db"));
  CredentialRecord ci = Credential("github-ci", CertificateRole::kCi, "0a");
  REQUIRE(store->CreateCredential(ci, kNow).ok());
  REQUIRE(store->CreateCredential(Credential("alice", CertificateRole::kViewer, "0b"), kNow).ok());
  CHECK(store->ListCredentials().value() ==
        std::vector<CredentialRecord>{Credential("alice", CertificateRole::kViewer, "0b"), ci});
  CHECK(store->IsRevoked("0a").value() == false);

  Status again = store->CreateCredential(Credential("github-ci", CertificateRole::kAdmin, "0c"), kNow);
  CHECK(again == Status::FailedPrecondition("credential \"github-ci\" exists (certificate 0a); revoke it first or "
                                            "choose another name"));
  // An agent certificate is no credential.
  CredentialRecord agent = Credential("gw", CertificateRole::kAgent, "0d");
  CHECK(store->CreateCredential(agent, kNow).code() == StatusCode::kInvalidArgument);
  CHECK(store->ListCredentials()->size() == 2);
}

TEST_CASE("store: a revoked or expired credential's name can be created again") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory.File("state.db"));
  REQUIRE(store->CreateCredential(Credential("ci", CertificateRole::kCi, "01"), kNow).ok());
  Result<std::vector<std::string>> revoked = store->RevokeCredential("ci", kNow + 5);
  REQUIRE(revoked.ok());
  CHECK(*revoked == std::vector<std::string>{"01"});
  REQUIRE(store->CreateCredential(Credential("ci", CertificateRole::kCi, "02"), kNow + 6).ok());
  // 02 expires at kNow + 1000: then the name is free again.
  CHECK(store->CreateCredential(Credential("ci", CertificateRole::kCi, "03"), kNow + 999).code() ==
        StatusCode::kFailedPrecondition);
  CHECK(store->CreateCredential(Credential("ci", CertificateRole::kCi, "03", kNow + 5000), kNow + 1000).ok());

  std::vector<CredentialRecord> listed = store->ListCredentials().value();
  REQUIRE(listed.size() == 3);
  CHECK(listed[0].certificate.revoked_at == std::optional<int64_t>(kNow + 5));
  CHECK_FALSE(listed[1].certificate.revoked_at);
  // Revoking a name revokes all of its live certificates, and says which.
  CHECK(store->RevokeCredential("ci", kNow + 1001).value() == std::vector<std::string>{"02", "03"});
  CHECK(store->RevokeCredential("ci", kNow + 1002).value().empty());
  CHECK(store->ListRevokedSerials().value() == std::vector<std::string>{"01", "02", "03"});
  CHECK(store->RevokeCredential("nobody", kNow).status() == Status::NotFound("no credential named \"nobody\""));
}

TEST_CASE("store: the last valid admin cannot be revoked, by name or by serial") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory.File("state.db"));
  REQUIRE(store->CreateCredential(Credential("admin", CertificateRole::kAdmin, "aa"), kNow).ok());
  REQUIRE(store->CreateCredential(Credential("viewer", CertificateRole::kViewer, "bb"), kNow).ok());
  // An admin certificate that expired long ago does not count.
  REQUIRE(store->CreateCredential(Credential("old", CertificateRole::kAdmin, "cc", kNow - 1), kNow - 200).ok());

  Result<std::vector<std::string>> by_name = store->RevokeCredential("admin", kNow);
  REQUIRE_FALSE(by_name.ok());
  CHECK(by_name.status().code() == StatusCode::kFailedPrecondition);
  CHECK(by_name.status().message().starts_with("another admin must remain: revoking credential \"admin\" would "
                                               "leave no valid admin certificate; create another first"));
  Status by_serial = store->RevokeCertificate("aa", kNow);
  CHECK(by_serial.code() == StatusCode::kFailedPrecondition);
  CHECK(by_serial.message().starts_with("another admin must remain: revoking certificate aa"));
  CHECK(store->ListRevokedSerials().value().empty());  // both rolled back
  // Other certificates are revocable, the expired admin too.
  CHECK(store->RevokeCertificate("bb", kNow).ok());
  CHECK(store->RevokeCertificate("cc", kNow).ok());

  // With a second admin, the first one goes; then the second is the last.
  REQUIRE(store->CreateCredential(Credential("alice", CertificateRole::kAdmin, "dd"), kNow).ok());
  CHECK(store->RevokeCredential("admin", kNow).value() == std::vector<std::string>{"aa"});
  CHECK(store->RevokeCertificate("dd", kNow).code() == StatusCode::kFailedPrecondition);
  CHECK(store->IsRevoked("dd").value() == false);
}

TEST_CASE("store: the last use of a certificate keeps the latest time") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory.File("state.db"));
  REQUIRE(store->CreateCredential(Credential("ci", CertificateRole::kCi, "01"), kNow).ok());
  REQUIRE(store->RecordCertificateUse({{"01", kNow + 50}, {"ffff", kNow}}).ok());
  REQUIRE(store->RecordCertificateUse({{"01", kNow + 20}}).ok());
  REQUIRE(store->RecordCertificateUse({}).ok());
  CHECK(store->ListCredentials().value().at(0).last_used_at == std::optional<int64_t>(kNow + 50));
}

TEST_CASE("store: migrating a version 5 database names its admin and viewer certificates and allows ci") {
  TemporaryDirectory directory;
  std::string path = directory.File("state.db");
  {
    std::unique_ptr<Store> store = OpenStore(path);
    REQUIRE(store->InsertAgent(AgentRecord{"gw", "gw", AgentRole::kClient, test_support::Key(1), "gw", "0.1.0", 10,
                                           std::nullopt})
                .ok());
  }
  // The certificates table exactly as version 5 made it, with a version 5 reconciler's rows.
  RawExec(path, R"sql(
    DROP TABLE certificates;
    CREATE TABLE certificates (serial TEXT PRIMARY KEY, agent_id TEXT REFERENCES agents(id), subject TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('admin', 'viewer', 'agent')), not_before INTEGER NOT NULL,
      not_after INTEGER NOT NULL, revoked_at INTEGER, CHECK ((role = 'agent') = (agent_id IS NOT NULL)));
    CREATE INDEX certificates_by_agent ON certificates(agent_id);
    INSERT INTO certificates VALUES ('01', NULL, 'wirewarp://default/admin/admin', 'admin', 0, 20000, NULL);
    INSERT INTO certificates VALUES ('02', NULL, 'wirewarp://default/viewer/bob', 'viewer', 0, 20000, 500);
    INSERT INTO certificates VALUES ('03', 'gw', 'wirewarp://default/agent/gw', 'agent', 0, 20000, NULL);
    PRAGMA user_version=5;)sql");
  std::unique_ptr<Store> store = OpenStore(path);
  CHECK(store->Settings()->user_version == 6);
  std::vector<CredentialRecord> listed = store->ListCredentials().value();
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].name == "admin");
  CHECK(listed[0].certificate.role == CertificateRole::kAdmin);
  CHECK(listed[0].created_by == "");
  CHECK(listed[1].name == "bob");
  CHECK(listed[1].certificate.revoked_at == std::optional<int64_t>(500));
  CHECK(store->ListRevokedSerials().value() == std::vector<std::string>{"02"});
  CHECK(store->IsRevoked("03").value() == false);
  // The ci role now fits, the admin of version 5 is the last admin, and its name is taken.
  REQUIRE(store->CreateCredential(Credential("github-ci", CertificateRole::kCi, "04"), kNow).ok());
  CHECK(store->RevokeCredential("admin", kNow).status().code() == StatusCode::kFailedPrecondition);
  CHECK(store->CreateCredential(Credential("admin", CertificateRole::kAdmin, "05"), kNow).code() ==
        StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ww
