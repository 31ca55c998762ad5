// The SQLite store against a real database file in a fresh temporary directory.

#include "reconciler/store/store.h"
#include "tests/support/temporary_directory.h"
#include "tests/unit/reconciler/raw_sql.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace ww {
namespace {

using test_support::TemporaryDirectory;

namespace fs = std::filesystem;

std::unique_ptr<Store> OpenOrDie(const std::string& path) {
  Result<std::unique_ptr<Store>> store = Store::Open(path);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return std::move(store).value();
}

using test_support::RawExec;

// The first column of every row of `sql`, as text.
std::vector<std::string> RawColumn(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  std::vector<std::string> values;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    values.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return values;
}

Sha256 Hash(uint8_t fill) {
  Sha256 hash;
  hash.fill(fill);
  return hash;
}

TokenRecord MakeToken(const std::string& id, int64_t expires_at) {
  TokenRecord token;
  token.id = id;
  token.secret_sha256 = Hash(0xab);
  token.type = TokenType::kServer;
  token.name = "vps-1";
  token.created_by = "admin";
  token.created_at = 1000;
  token.expires_at = expires_at;
  return token;
}

AgentRecord MakeAgent(const std::string& id, const std::string& name, uint8_t key_byte) {
  AgentRecord agent;
  agent.id = id;
  agent.name = name;
  agent.role = AgentRole::kClient;
  agent.wireguard_public_key.bytes.fill(key_byte);
  agent.hostname = name + ".lan";
  agent.version = "0.1.0";
  agent.created_at = 1000;
  return agent;
}

RevisionRecord MakeRevision(RevisionSource source, int64_t created_at, const std::string& documents) {
  RevisionRecord revision;
  revision.source = source;
  revision.commit_sha = source == RevisionSource::kGit ? "0123abcd" : "";
  revision.applied_by = "admin";
  revision.created_at = created_at;
  revision.content_sha256 = "sha-" + documents;
  revision.documents = documents;
  return revision;
}

Allocation MakeAllocation(const char* tunnel, const char* peer, const char* address) {
  return Allocation{tunnel, peer, *Ipv4Address::Parse(address)};
}

// The names of backup files ("<db>.bak-...") next to the database, sorted.
std::vector<std::string> BackupFiles(const TemporaryDirectory& directory, const std::string& db_name) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(fs::path(directory.File(db_name)).parent_path())) {
    std::string name = entry.path().filename().string();
    if (name.rfind(db_name + ".bak-", 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("store: every connection setting is in effect") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  Result<ConnectionSettings> settings = store->Settings();
  REQUIRE(settings.ok());
  CHECK(settings->foreign_keys == 1);
  CHECK(settings->busy_timeout_ms == 5000);
  CHECK(settings->trusted_schema == 0);
  CHECK(settings->journal_mode == "wal");
  CHECK(settings->synchronous == 2);
  CHECK(settings->defensive == 1);
  CHECK(settings->user_version == 6);
}

TEST_CASE("store: the database and its WAL are readable by the owner only, also when they were not") {
  TemporaryDirectory directory;
  const std::string path = directory.File("state.db");
  auto mode = [](const std::string& file) {
    struct stat info {};
    REQUIRE(::stat(file.c_str(), &info) == 0);
    return info.st_mode & 07777;
  };
  {
    std::unique_ptr<Store> store = OpenOrDie(path);
    REQUIRE(store->CreateToken(MakeToken("tok1", 2000)).ok());  // a write: the WAL exists
    CHECK(mode(path) == 0600);
    CHECK(mode(path + "-wal") == 0600);
  }
  REQUIRE(::chmod(path.c_str(), 0644) == 0);  // an older version's file
  std::unique_ptr<Store> reopened = OpenOrDie(path);
  CHECK(mode(path) == 0600);
}

TEST_CASE("store: migrating an empty file creates the tables of every version and no backup") {
  TemporaryDirectory directory;
  std::string path = directory.File("state.db");
  OpenOrDie(path).reset();
  CHECK(RawColumn(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") ==
        std::vector<std::string>{"agent_health", "agents", "certificates", "current_revision", "events",
                                 "ip_allocations", "plan_generations", "rejected_commits", "reports", "revisions",
                                 "tokens"});
  CHECK(RawColumn(path, "PRAGMA user_version") == std::vector<std::string>{"6"});
  CHECK(BackupFiles(directory, "state.db").empty());
}

TEST_CASE("store: reopening a current database changes nothing") {
  TemporaryDirectory directory;
  std::string path = directory.File("state.db");
  int64_t revision_id = 0;
  {
    std::unique_ptr<Store> store = OpenOrDie(path);
    Result<int64_t> added = store->AddRevision(MakeRevision(RevisionSource::kApply, 50, "docs"));
    REQUIRE(added.ok());
    revision_id = *added;
  }
  std::unique_ptr<Store> store = OpenOrDie(path);
  Result<RevisionRecord> current = store->CurrentRevision();
  REQUIRE(current.ok());
  CHECK(current->id == revision_id);
  CHECK(current->documents == "docs");
  CHECK(RawColumn(path, "PRAGMA user_version") == std::vector<std::string>{"6"});
  CHECK(BackupFiles(directory, "state.db").empty());
}

TEST_CASE("store: a database from a newer version is refused, naming both versions") {
  TemporaryDirectory directory;
  std::string path = directory.File("state.db");
  OpenOrDie(path).reset();
  RawExec(path, "PRAGMA user_version=7");
  Result<std::unique_ptr<Store>> store = Store::Open(path);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kFailedPrecondition);
  CHECK(store.status().message() == "opening " + path + ": database " + path +
                                        " has schema version 7, newer than version 6 that this "
                                        "reconciler knows; run a newer reconciler");
  CHECK(RawColumn(path, "PRAGMA user_version") == std::vector<std::string>{"7"});
}

TEST_CASE("store: migrating a non-empty older database backs it up first") {
  TemporaryDirectory directory;
  std::string path = directory.File("state.db");
  RawExec(path, "CREATE TABLE legacy (x INTEGER); INSERT INTO legacy VALUES (42);");

  SUBCASE("to <path>.bak-v0") {
    OpenOrDie(path).reset();
    CHECK(BackupFiles(directory, "state.db") == std::vector<std::string>{"state.db.bak-v0"});
  }
  SUBCASE("without overwriting an earlier backup") {
    RawExec(directory.File("state.db.bak-v0"), "CREATE TABLE older (y INTEGER)");
    OpenOrDie(path).reset();
    CHECK(BackupFiles(directory, "state.db") == std::vector<std::string>{"state.db.bak-v0", "state.db.bak-v0.2"});
    CHECK(RawColumn(directory.File("state.db.bak-v0"), "SELECT name FROM sqlite_master") ==
          std::vector<std::string>{"older"});
  }
  std::string backup = BackupFiles(directory, "state.db").back();
  CHECK(RawColumn(directory.File(backup), "SELECT x FROM legacy") == std::vector<std::string>{"42"});
  CHECK(RawColumn(directory.File(backup), "PRAGMA user_version") == std::vector<std::string>{"0"});
  CHECK(RawColumn(directory.File(backup), "SELECT name FROM sqlite_master WHERE name = 'agents'").empty());
  CHECK(RawColumn(path, "PRAGMA user_version") == std::vector<std::string>{"6"});
  CHECK(RawColumn(path, "SELECT x FROM legacy") == std::vector<std::string>{"42"});
}

TEST_CASE("store: a token is consumed once and stores only its hash") {
  TemporaryDirectory directory;
  std::string path = directory.File("state.db");
  std::unique_ptr<Store> store = OpenOrDie(path);
  REQUIRE(store->CreateToken(MakeToken("tok1", 2000)).ok());
  CHECK(RawColumn(path, "SELECT hex(secret_sha256) FROM tokens") ==
        std::vector<std::string>{"ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB"});

  Result<TokenRecord> consumed = store->ConsumeToken("tok1", Hash(0xab), 1500, "sha256:00ff");
  REQUIRE_MESSAGE(consumed.ok(), consumed.status().ToString());
  TokenRecord expected = MakeToken("tok1", 2000);
  expected.used_at = 1500;
  expected.bound_spki = "sha256:00ff";
  CHECK(*consumed == expected);

  Result<TokenRecord> again = store->ConsumeToken("tok1", Hash(0xab), 1501, "sha256:00ff");
  REQUIRE_FALSE(again.ok());
  CHECK(again.status() == Status::InvalidArgument(kTokenRefusedMessage));
}

TEST_CASE("store: expired, unknown and wrong-secret tokens get one and the same error") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  REQUIRE(store->CreateToken(MakeToken("tok1", 2000)).ok());
  const Status refused = Status::InvalidArgument(kTokenRefusedMessage);

  CHECK(store->ConsumeToken("nope", Hash(0xab), 1500, "spki").status() == refused);
  CHECK(store->ConsumeToken("tok1", Hash(0xac), 1500, "spki").status() == refused);
  CHECK(store->ConsumeToken("tok1", Hash(0xab), 2000, "spki").status() == refused);  // expires_at is exclusive
  CHECK(store->ConsumeToken("tok1", Hash(0xab), 9999, "spki").status() == refused);
  // CheckToken refuses the same, and never uses the token.
  CHECK(store->CheckToken("nope", Hash(0xab), 1500) == refused);
  CHECK(store->CheckToken("tok1", Hash(0xac), 1500) == refused);
  CHECK(store->CheckToken("tok1", Hash(0xab), 2000) == refused);
  CHECK(store->CheckToken("tok1", Hash(0xab), 1500).ok());
  CHECK(store->CheckToken("tok1", Hash(0xab), 1500).ok());
  // None of the refusals used the token up.
  CHECK(store->ConsumeToken("tok1", Hash(0xab), 1999, "spki").ok());
  CHECK(store->CheckToken("tok1", Hash(0xab), 1999) == refused);  // used
}

// Defect 11: `wwctl token list` and `wwctl token revoke ID` (schema version 4: revoked_at).
TEST_CASE("store: tokens are listed newest first, and a revoked token is refused like an unknown one") {
  TemporaryDirectory directory;
  std::string path = directory.File("state.db");
  std::unique_ptr<Store> store = OpenOrDie(path);
  TokenRecord older = MakeToken("tok1", 2000);
  TokenRecord newer = MakeToken("tok2", 3000);
  newer.created_at = older.created_at + 10;
  TokenRecord used = MakeToken("tok3", 3000);
  used.created_at = older.created_at + 5;
  REQUIRE(store->CreateToken(older).ok());
  REQUIRE(store->CreateToken(newer).ok());
  REQUIRE(store->CreateToken(used).ok());
  REQUIRE(store->ConsumeToken("tok3", Hash(0xab), 1500, "spki").ok());

  CHECK(store->RevokeToken("tok1", 1600).ok());
  CHECK(store->RevokeToken("tok1", 1700).ok());  // the first time stays
  CHECK(store->RevokeToken("nope", 1600) == Status::NotFound("no token with id \"nope\""));
  Status used_up = store->RevokeToken("tok3", 1600);
  CHECK(used_up.code() == StatusCode::kFailedPrecondition);
  CHECK(used_up.message().find("already used to enroll an agent") != std::string::npos);

  Result<std::vector<TokenRecord>> listed = store->ListTokens();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 3);
  CHECK((*listed)[0].id == "tok2");
  CHECK((*listed)[1].id == "tok3");
  CHECK((*listed)[1].used_at == 1500);
  CHECK((*listed)[1].revoked_at == std::nullopt);
  CHECK((*listed)[2].id == "tok1");
  CHECK((*listed)[2].revoked_at == 1600);

  CHECK(store->ConsumeToken("tok1", Hash(0xab), 1800, "spki").status() == Status::InvalidArgument(kTokenRefusedMessage));
  CHECK(store->ConsumeToken("tok2", Hash(0xab), 1800, "spki").ok());
}

TEST_CASE("store: of two concurrent uses of a token exactly one wins") {
  TemporaryDirectory directory;
  std::string path = directory.File("state.db");
  // Two connections, as two reconciler threads or processes would race through SQLite itself.
  std::unique_ptr<Store> first = OpenOrDie(path);
  std::unique_ptr<Store> second = OpenOrDie(path);
  for (int round = 0; round < 50; ++round) {
    std::string id = "race" + std::to_string(round);
    REQUIRE(first->CreateToken(MakeToken(id, 2000)).ok());
    std::latch start(2);
    std::atomic<int> wins = 0;
    std::atomic<int> refusals = 0;
    auto attempt = [&](Store* store) {
      start.arrive_and_wait();
      Result<TokenRecord> result = store->ConsumeToken(id, Hash(0xab), 1500, "spki");
      if (result.ok()) {
        ++wins;
      } else if (result.status() == Status::InvalidArgument(kTokenRefusedMessage)) {
        ++refusals;
      }
    };
    std::thread one(attempt, first.get());
    std::thread two(attempt, second.get());
    one.join();
    two.join();
    CHECK(wins == 1);
    CHECK(refusals == 1);
  }
}

TEST_CASE("store: agents are unique by name and WireGuard key") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  REQUIRE(store->InsertAgent(MakeAgent("a1", "laptop", 1)).ok());
  CHECK_FALSE(store->InsertAgent(MakeAgent("a2", "laptop", 2)).ok());
  CHECK_FALSE(store->InsertAgent(MakeAgent("a3", "desktop", 1)).ok());
  Result<AgentRecord> found = store->FindAgentByName("laptop");
  REQUIRE(found.ok());
  CHECK(*found == MakeAgent("a1", "laptop", 1));
  CHECK(store->FindAgentByName("desktop").status().code() == StatusCode::kNotFound);
}

TEST_CASE("store: certificate revocation round trip") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  REQUIRE(store->InsertAgent(MakeAgent("a1", "laptop", 1)).ok());
  CertificateRecord agent_certificate{"0a1b", "a1", "CN=laptop", CertificateRole::kAgent, 900, 5000, std::nullopt};
  CertificateRecord admin_certificate{"0c2d", std::nullopt, "CN=admin", CertificateRole::kAdmin, 900, 5000, std::nullopt};
  REQUIRE(store->InsertCertificate(agent_certificate).ok());
  REQUIRE(store->InsertCertificate(admin_certificate).ok());
  // An agent certificate must name its agent, and the agent must exist.
  CHECK_FALSE(store->InsertCertificate({"0e3f", std::nullopt, "CN=x", CertificateRole::kAgent, 0, 1, {}}).ok());
  CHECK_FALSE(store->InsertCertificate({"0e40", "ghost", "CN=x", CertificateRole::kAgent, 0, 1, {}}).ok());

  CHECK(store->IsRevoked("0a1b").value() == false);
  REQUIRE(store->RevokeCertificate("0a1b", 1200).ok());
  CHECK(store->IsRevoked("0a1b").value() == true);
  CHECK(store->IsRevoked("0c2d").value() == false);
  CHECK(store->RevokeCertificate("0a1b", 1300).ok());
  CHECK(store->IsRevoked("ffff").status() == Status::NotFound("no certificate with serial ffff"));
  CHECK(store->RevokeCertificate("ffff", 1200) == Status::NotFound("no certificate with serial ffff"));
}

TEST_CASE("store: deleting an agent revokes all its certificates") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  REQUIRE(store->InsertAgent(MakeAgent("a1", "laptop", 1)).ok());
  REQUIRE(store->InsertAgent(MakeAgent("a2", "desktop", 2)).ok());
  REQUIRE(store->InsertCertificate({"01", "a1", "CN=laptop", CertificateRole::kAgent, 0, 9, {}}).ok());
  REQUIRE(store->InsertCertificate({"02", "a1", "CN=laptop", CertificateRole::kAgent, 0, 9, {}}).ok());
  REQUIRE(store->InsertCertificate({"03", "a2", "CN=desktop", CertificateRole::kAgent, 0, 9, {}}).ok());
  CHECK(store->ListRevokedSerials().value().empty());

  REQUIRE(store->DeleteAgent("laptop", 500).ok());
  CHECK(store->ListRevokedSerials().value() == std::vector<std::string>{"01", "02"});
  CHECK(store->FindAgentByName("laptop").value().deleted_at == std::optional<int64_t>(500));
  CHECK(store->DeleteAgent("laptop", 600) == Status::NotFound("no agent named \"laptop\""));
  CHECK(store->DeleteAgent("ghost", 600) == Status::NotFound("no agent named \"ghost\""));
}

TEST_CASE("store: enrollment consumes the token and stores agent and certificate together") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  REQUIRE(store->InsertAgent(MakeAgent("a0", "taken", 9)).ok());
  TokenRecord unnamed_client = MakeToken("tok1", 2000);
  unnamed_client.type = TokenType::kClient;
  unnamed_client.name = "";
  REQUIRE(store->CreateToken(unnamed_client).ok());
  CertificateRecord certificate{"0a", "a1", "CN=laptop", CertificateRole::kAgent, 900, 5000, std::nullopt};

  // A refused agent rolls the whole enrollment back: the token is still usable.
  Result<TokenRecord> clash = store->Enroll("tok1", Hash(0xab), 1500, "spki", MakeAgent("a1", "taken", 1), certificate);
  REQUIRE_FALSE(clash.ok());
  CHECK(clash.status().message().find("inserting agent \"taken\"") != std::string::npos);
  CHECK(store->IsRevoked("0a").status().code() == StatusCode::kNotFound);

  Result<TokenRecord> enrolled = store->Enroll("tok1", Hash(0xab), 1500, "spki", MakeAgent("a1", "laptop", 1), certificate);
  REQUIRE_MESSAGE(enrolled.ok(), enrolled.status().ToString());
  CHECK(enrolled->used_at == std::optional<int64_t>(1500));
  CHECK(store->FindAgentByName("laptop").value() == MakeAgent("a1", "laptop", 1));
  CHECK(store->IsRevoked("0a").value() == false);

  Result<TokenRecord> reused = store->Enroll("tok1", Hash(0xab), 1600, "spki", MakeAgent("a2", "other", 2),
                                             CertificateRecord{"0b", "a2", "CN=other", CertificateRole::kAgent, 0, 1, {}});
  CHECK(reused.status() == Status::InvalidArgument(kTokenRefusedMessage));
  CHECK(store->FindAgentByName("other").status().code() == StatusCode::kNotFound);
}

TEST_CASE("store: a client token does not enroll a server, and the refusal keeps the token") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  TokenRecord client_token = MakeToken("tok1", 2000);
  client_token.type = TokenType::kClient;
  client_token.name = "";
  REQUIRE(store->CreateToken(client_token).ok());
  CertificateRecord certificate{"0a", "a1", "CN=edge", CertificateRole::kAgent, 900, 5000, std::nullopt};
  AgentRecord server_agent = MakeAgent("a1", "edge", 1);
  server_agent.role = AgentRole::kServer;

  Result<TokenRecord> refused = store->Enroll("tok1", Hash(0xab), 1500, "spki", server_agent, certificate);
  CHECK(refused.status() ==
        Status::FailedPrecondition("token scope: this token enrolls a client agent, not mode \"server\""));
  CHECK(store->FindAgentByName("edge").status().code() == StatusCode::kNotFound);
  CHECK(store->IsRevoked("0a").status().code() == StatusCode::kNotFound);

  // Rolled back: the same token still enrolls in its own mode.
  Result<TokenRecord> enrolled = store->Enroll("tok1", Hash(0xab), 1500, "spki", MakeAgent("a1", "edge", 1), certificate);
  REQUIRE_MESSAGE(enrolled.ok(), enrolled.status().ToString());
  CHECK(enrolled->used_at == std::optional<int64_t>(1500));
  CHECK(store->FindAgentByName("edge")->role == AgentRole::kClient);
}

TEST_CASE("store: a server token does not enroll a client") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  REQUIRE(store->CreateToken(MakeToken("tok1", 2000)).ok());  // server, named "vps-1"
  CertificateRecord certificate{"0a", "a1", "CN=vps-1", CertificateRole::kAgent, 900, 5000, std::nullopt};
  Result<TokenRecord> refused = store->Enroll("tok1", Hash(0xab), 1500, "spki", MakeAgent("a1", "vps-1", 1), certificate);
  CHECK(refused.status() ==
        Status::FailedPrecondition("token scope: this token enrolls a server agent, not mode \"client\""));
  CHECK(store->FindAgentByName("vps-1").status().code() == StatusCode::kNotFound);
}

TEST_CASE("store: a named token enrolls only that name") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  REQUIRE(store->CreateToken(MakeToken("tok1", 2000)).ok());  // server, named "vps-1"
  CertificateRecord certificate{"0a", "a1", "CN=vps-1", CertificateRole::kAgent, 900, 5000, std::nullopt};
  AgentRecord other = MakeAgent("a1", "vps-2", 1);
  other.role = AgentRole::kServer;

  Result<TokenRecord> refused = store->Enroll("tok1", Hash(0xab), 1500, "spki", other, certificate);
  CHECK(refused.status() ==
        Status::FailedPrecondition("token scope: this token enrolls the agent named \"vps-1\", not \"vps-2\""));
  CHECK(store->FindAgentByName("vps-2").status().code() == StatusCode::kNotFound);

  AgentRecord named = MakeAgent("a1", "vps-1", 1);
  named.role = AgentRole::kServer;
  Result<TokenRecord> enrolled = store->Enroll("tok1", Hash(0xab), 1500, "spki", named, certificate);
  REQUIRE_MESSAGE(enrolled.ok(), enrolled.status().ToString());
  CHECK(store->FindAgentByName("vps-1").value() == named);

  // A used token is refused with the one token message, before any scope is checked.
  Result<TokenRecord> reused = store->Enroll("tok1", Hash(0xab), 1600, "spki", MakeAgent("a2", "x", 2),
                                             CertificateRecord{"0b", "a2", "CN=x", CertificateRole::kAgent, 0, 1, {}});
  CHECK(reused.status() == Status::InvalidArgument(kTokenRefusedMessage));
}

TEST_CASE("store: revisions keep their order and the current pointer follows the latest") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  CHECK(store->CurrentRevision().status() == Status::NotFound("no revision has been accepted yet"));

  std::vector<RevisionRecord> added = {MakeRevision(RevisionSource::kGit, 10, "one"),
                                       MakeRevision(RevisionSource::kApply, 20, "two"),
                                       MakeRevision(RevisionSource::kRollback, 30, "one")};
  for (RevisionRecord& revision : added) {
    Result<int64_t> id = store->AddRevision(revision);
    REQUIRE(id.ok());
    revision.id = *id;
    Result<RevisionRecord> current = store->CurrentRevision();
    REQUIRE(current.ok());
    CHECK(*current == revision);
  }
  CHECK(added[0].id < added[1].id);
  CHECK(added[1].id < added[2].id);

  Result<std::vector<RevisionRecord>> all = store->ListRevisions(10);
  REQUIRE(all.ok());
  CHECK(*all == std::vector<RevisionRecord>{added[2], added[1], added[0]});
  Result<std::vector<RevisionRecord>> two = store->ListRevisions(2);
  REQUIRE(two.ok());
  CHECK(*two == std::vector<RevisionRecord>{added[2], added[1]});
}

TEST_CASE("store: allocations round trip and one address per tunnel") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  Allocations saved = {MakeAllocation("edge", "bob", "10.0.0.3"), MakeAllocation("alpha", "carol", "10.1.0.2"),
                       MakeAllocation("edge", "alice", "10.0.0.2"), MakeAllocation("alpha", "dave", "10.0.0.2")};
  REQUIRE(store->SaveAllocations(saved).ok());
  Allocations sorted = {saved[1], saved[3], saved[2], saved[0]};
  CHECK(store->LoadAllocations().value() == sorted);

  Status clash = store->SaveAllocations({MakeAllocation("edge", "alice", "10.0.0.2"),
                                         MakeAllocation("edge", "bob", "10.0.0.2")});
  CHECK_FALSE(clash.ok());
  CHECK(clash.message().find("allocating 10.0.0.2 to peer \"bob\" of tunnel \"edge\"") != std::string::npos);
  CHECK(clash.message().find("UNIQUE constraint failed") != std::string::npos);
  CHECK(store->LoadAllocations().value() == sorted);

  REQUIRE(store->SaveAllocations({}).ok());
  CHECK(store->LoadAllocations().value().empty());
}

TEST_CASE("store: foreign keys are enforced") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  ReportRecord report{"ghost", 1000, 1, "{}", "{}"};
  Status orphan = store->SaveReport(report);
  CHECK_FALSE(orphan.ok());
  CHECK(orphan.message().find("FOREIGN KEY constraint failed") != std::string::npos);
  CHECK(store->LatestReport("ghost").status().code() == StatusCode::kNotFound);
  CHECK_FALSE(store->AddPlanGeneration({"ghost", 0, 1, 1000, "{}", "{}"}).ok());
  CHECK_FALSE(store->AppendEvent({0, 1000, "ghost", "enrolled", "x"}).ok());
}

TEST_CASE("store: the latest report replaces the previous one") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  REQUIRE(store->InsertAgent(MakeAgent("a1", "laptop", 1)).ok());
  REQUIRE(store->SaveReport({"a1", 1000, 1, "{\"old\":1}", "{}"}).ok());
  ReportRecord newer{"a1", 1030, 2, "{\"new\":2}", "{\"cpu\":3}"};
  REQUIRE(store->SaveReport(newer).ok());
  CHECK(store->LatestReport("a1").value() == newer);
}

TEST_CASE("store: plan generations count up per agent") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  REQUIRE(store->InsertAgent(MakeAgent("a1", "laptop", 1)).ok());
  REQUIRE(store->InsertAgent(MakeAgent("a2", "desktop", 2)).ok());
  int64_t revision = store->AddRevision(MakeRevision(RevisionSource::kApply, 10, "docs")).value();
  CHECK(store->LatestPlanGeneration("a1").status() == Status::NotFound("no plan for agent a1"));

  CHECK(store->AddPlanGeneration({"a1", 0, revision, 100, "d1", "p1"}).value() == 1);
  CHECK(store->AddPlanGeneration({"a1", 0, revision, 200, "d2", "p2"}).value() == 2);
  CHECK(store->AddPlanGeneration({"a2", 0, revision, 300, "d3", "p3"}).value() == 1);
  CHECK(store->LatestPlanGeneration("a1").value() == PlanGenerationRecord{"a1", 2, revision, 200, "d2", "p2"});
  CHECK(store->LatestPlanGeneration("a2").value() == PlanGenerationRecord{"a2", 1, revision, 300, "d3", "p3"});
  // A plan must point at a stored revision.
  CHECK_FALSE(store->AddPlanGeneration({"a1", 0, revision + 100, 400, "d", "p"}).ok());
}

TEST_CASE("store: recent events come newest first") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  REQUIRE(store->InsertAgent(MakeAgent("a1", "laptop", 1)).ok());
  std::vector<EventRecord> events = {{0, 100, std::nullopt, "applied", "revision 1"},
                                     {0, 110, "a1", "enrolled", "laptop"},
                                     {0, 120, "a1", "drift", "tunnel edge"}};
  for (EventRecord& event : events) event.id = store->AppendEvent(event).value();
  CHECK(store->RecentEvents(2).value() == std::vector<EventRecord>{events[2], events[1]});
  CHECK(store->RecentEvents(10).value() == std::vector<EventRecord>{events[2], events[1], events[0]});
}

}  // namespace
}  // namespace ww

namespace ww {
namespace {

// A client token named `name` with secret Hash(0xab), valid until 9000.
void CreateClientToken(Store& store, const std::string& id, const std::string& name) {
  TokenRecord token = MakeToken(id, 9000);
  token.type = TokenType::kClient;
  token.name = name;
  REQUIRE(store.CreateToken(token).ok());
}

CertificateRecord AgentCertificate(const std::string& serial, const std::string& name) {
  return CertificateRecord{serial, name, "wirewarp://default/agent/" + name, CertificateRole::kAgent, 900, 9000, {}};
}

TEST_CASE("store: a deleted agent's name and key enroll again as a new record, the old one kept as history") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  CreateClientToken(*store, "tok1", "gw");
  CreateClientToken(*store, "tok2", "gw");
  CreateClientToken(*store, "tok3", "gw");
  REQUIRE(store->Enroll("tok1", Hash(0xab), 1500, "spki1", MakeAgent("gw", "gw", 1), AgentCertificate("01", "gw")).ok());
  REQUIRE(store->SaveReport({"gw", 1600, 0, "{}", "{}"}).ok());
  REQUIRE(store->AppendEvent({0, 1600, "gw", "agent-enrolled", "gw enrolled"}).ok());

  // While it is enrolled, the name and the key stay its own (the token is not burnt).
  Result<TokenRecord> taken = store->Enroll("tok2", Hash(0xab), 1700, "spki2", MakeAgent("gw", "gw", 2),
                                            AgentCertificate("02", "gw"));
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.status().message().find("UNIQUE constraint failed: agents.name") != std::string::npos);
  CHECK(store->FindAgentByName("gw")->id == "gw");

  REQUIRE(store->DeleteAgent("gw", 2000).ok());
  // The same key (an old state dir) under the same name: a new record.
  Result<TokenRecord> again = store->Enroll("tok2", Hash(0xab), 2100, "spki2", MakeAgent("gw", "gw", 1),
                                            AgentCertificate("02", "gw"));
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  Result<AgentRecord> current = store->FindAgentByName("gw");
  REQUIRE(current.ok());
  CHECK(current->id == "gw.2");
  CHECK(current->deleted_at == std::nullopt);
  CHECK(current->created_at == 1000);
  // The old enrollment's certificate stays revoked; the new one is valid and belongs to gw.2.
  CHECK(store->IsRevoked("01").value() == true);
  CHECK(store->IsRevoked("02").value() == false);
  CHECK(store->ListAgents().value() == std::vector<AgentRecord>{*current});
  std::vector<AgentRecord> history = store->ListAgentHistory().value();
  REQUIRE(history.size() == 2);
  CHECK(history[0].id == "gw");
  CHECK(history[0].deleted_at == std::optional<int64_t>(2000));
  CHECK(history[1] == *current);
  // History stays: the old enrollment's report and event.
  CHECK(store->LatestReport("gw")->received_at == 1600);
  CHECK(store->RecentEvents(10).value().back().agent_id == std::optional<std::string>("gw"));

  // The key is taken again while gw.2 is enrolled, by any name.
  CreateClientToken(*store, "tok5", "");
  Result<TokenRecord> key_taken = store->Enroll("tok5", Hash(0xab), 2200, "spki5", MakeAgent("laptop", "laptop", 1),
                                                AgentCertificate("05", "laptop"));
  REQUIRE_FALSE(key_taken.ok());
  CHECK(key_taken.status().message().find("UNIQUE constraint failed: agents.wireguard_public_key") != std::string::npos);

  // A third enrollment with a new key (a fresh state dir); deleting revokes only what is live.
  REQUIRE(store->DeleteAgent("gw", 3000).ok());
  CHECK(store->FindAgentByName("gw")->id == "gw.2");  // the latest, deleted
  CHECK(store->FindAgentByName("gw")->deleted_at == std::optional<int64_t>(3000));
  REQUIRE(store->Enroll("tok3", Hash(0xab), 3100, "spki3", MakeAgent("gw", "gw", 3), AgentCertificate("03", "gw")).ok());
  CHECK(store->FindAgentByName("gw")->id == "gw.3");
  CHECK(store->ListRevokedSerials().value() == std::vector<std::string>{"01", "02"});
  REQUIRE(store->DeleteAgent("gw", 4000).ok());
  CHECK(store->ListRevokedSerials().value() == std::vector<std::string>{"01", "02", "03"});
  CHECK(store->DeleteAgent("gw", 4100) == Status::NotFound("no agent named \"gw\""));
  CHECK(store->ListAgents().value().empty());
  CHECK(store->ListAgentHistory().value().size() == 3);
}

TEST_CASE("store: plan generations continue across the enrollments of a name") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenOrDie(directory.File("state.db"));
  CreateClientToken(*store, "tok1", "gw");
  CreateClientToken(*store, "tok2", "gw");
  REQUIRE(store->Enroll("tok1", Hash(0xab), 1500, "spki1", MakeAgent("gw", "gw", 1), AgentCertificate("01", "gw")).ok());
  REQUIRE(store->InsertAgent(MakeAgent("vps", "vps", 9)).ok());
  int64_t revision = store->AddRevision(MakeRevision(RevisionSource::kApply, 10, "docs")).value();
  CHECK(store->AddPlanGeneration({"gw", 0, revision, 100, "d1", "p1"}).value() == 1);
  CHECK(store->AddPlanGeneration({"gw", 0, revision, 110, "d2", "p2"}).value() == 2);
  REQUIRE(store->DeleteAgent("gw", 200).ok());
  REQUIRE(store->Enroll("tok2", Hash(0xab), 300, "spki2", MakeAgent("gw", "gw", 2), AgentCertificate("02", "gw")).ok());
  // The re-enrolled agent's long-poll (after=2 from its old run, or 0 from a fresh one) sees 3.
  CHECK(store->AddPlanGeneration({"gw.2", 0, revision, 400, "d3", "p3"}).value() == 3);
  CHECK(store->AddPlanGeneration({"vps", 0, revision, 400, "d4", "p4"}).value() == 1);
  CHECK(store->LatestPlanGeneration("gw").value().generation == 2);  // history
  std::vector<PlanGenerationRecord> latest = store->ListLatestPlanGenerations().value();
  REQUIRE(latest.size() == 3);
  CHECK(latest[1].agent_id == "gw.2");
  CHECK(latest[1].generation == 3);
}

TEST_CASE("store: migrating a version 2 database keeps agents and frees deleted names and keys") {
  TemporaryDirectory directory;
  std::string path = directory.File("state.db");
  // The agents table as versions 1 and 2 made it (name and key UNIQUE), with a certificate
  // referencing it, as a reconciler of version 2 left them, and the events table (version 1)
  // that version 5 indexes.
  RawExec(path, R"sql(
    CREATE TABLE events (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, agent_id TEXT REFERENCES agents(id),
      kind TEXT NOT NULL, message TEXT NOT NULL);
    CREATE TABLE agents (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,
      role TEXT NOT NULL CHECK (role IN ('server', 'client')), wireguard_public_key TEXT NOT NULL UNIQUE,
      hostname TEXT NOT NULL, version TEXT NOT NULL, created_at INTEGER NOT NULL, deleted_at INTEGER);
    CREATE TABLE certificates (serial TEXT PRIMARY KEY, agent_id TEXT REFERENCES agents(id), subject TEXT NOT NULL,
      role TEXT NOT NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, revoked_at INTEGER);
    CREATE TABLE tokens (id TEXT PRIMARY KEY, secret_sha256 BLOB NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,
      created_by TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER, bound_spki TEXT);
    INSERT INTO agents VALUES ('gw', 'gw', 'client', 'AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=', 'gw.lan', '0.1.0', 1000, 1500);
    INSERT INTO agents VALUES ('vps', 'vps', 'server', 'CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=', 'vps.lan', '0.1.0', 1000, NULL);
    INSERT INTO certificates VALUES ('01', 'gw', 'CN=gw', 'agent', 0, 9, 1500);
    PRAGMA user_version=2;)sql");
  std::unique_ptr<Store> store = OpenOrDie(path);
  CHECK(RawColumn(path, "PRAGMA user_version") == std::vector<std::string>{"6"});
  CHECK(BackupFiles(directory, "state.db") == std::vector<std::string>{"state.db.bak-v2"});
  CHECK(store->Settings()->foreign_keys == 1);  // switched back on after the step
  CHECK(RawColumn(path, "SELECT id FROM agents ORDER BY rowid") == std::vector<std::string>{"gw", "vps"});
  CHECK(store->IsRevoked("01").value() == true);
  CHECK(store->FindAgentByName("gw")->deleted_at == std::optional<int64_t>(1500));
  // The deleted gw's name and key are free; vps's are not.
  REQUIRE(store->InsertAgent(MakeAgent("gw.2", "gw", 1)).ok());
  CHECK_FALSE(store->InsertAgent(MakeAgent("vps.2", "vps", 5)).ok());
  CHECK_FALSE(store->InsertAgent(MakeAgent("other", "other", 9)).ok());
  CHECK(RawColumn(path, "PRAGMA foreign_key_check").empty());
}

TEST_CASE("store: events are pruned by age and to the newest N, the age through an index") {
  TemporaryDirectory directory;
  std::string path = directory.File("state.db");
  std::unique_ptr<Store> store = OpenOrDie(path);
  std::vector<EventRecord> events;
  for (int64_t at = 1; at <= 30; ++at) events.push_back(EventRecord{0, at, std::nullopt, "x", std::to_string(at)});
  REQUIRE(store->AppendEvents(events).ok());

  Result<int64_t> pruned = store->PruneEvents(10, 0);
  REQUIRE(pruned.ok());
  CHECK(*pruned == 20);
  Result<std::vector<EventRecord>> kept = store->RecentEvents(100);
  REQUIRE(kept.ok());
  REQUIRE(kept->size() == 10);
  CHECK(kept->front().id == 30);
  CHECK(kept->back().id == 21);

  pruned = store->PruneEvents(10, 25);  // everything before second 25
  REQUIRE(pruned.ok());
  CHECK(*pruned == 4);
  kept = store->RecentEvents(100);
  REQUIRE(kept.ok());
  CHECK(kept->size() == 6);
  CHECK(kept->back().at == 25);
  pruned = store->PruneEvents(10, 25);
  REQUIRE(pruned.ok());
  CHECK(*pruned == 0);  // nothing left to prune
  // The age goes through events_by_at, not a scan of the table.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN DELETE FROM events WHERE at < 5", -1, &statement, nullptr) ==
          SQLITE_OK);
  std::string details;
  while (sqlite3_step(statement) == SQLITE_ROW) details += reinterpret_cast<const char*>(sqlite3_column_text(statement, 3));
  sqlite3_finalize(statement);
  sqlite3_close(db);
  CHECK(details.find("USING INDEX events_by_at") != std::string::npos);
}

}  // namespace
}  // namespace ww
