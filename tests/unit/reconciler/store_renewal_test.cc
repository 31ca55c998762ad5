// The Store's side of certificate renewal: the newest notBefore of an enrollment (the rate
// limit counts from it), and revoking what a renewed certificate replaces on its first use.

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reconciler/store/store.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/test_values.h"

namespace ww {
namespace {

using test_support::TemporaryDirectory;

std::unique_ptr<Store> OpenStore(const TemporaryDirectory& directory) {
  Result<std::unique_ptr<Store>> store = Store::Open(directory.File("state.db"));
  REQUIRE(store.ok());
  return std::move(store).value();
}

void AddAgent(Store& store, const std::string& id, int key_fill) {
  REQUIRE(store.InsertAgent(AgentRecord{id, id, AgentRole::kClient, test_support::Key(key_fill), id + ".lan", "0.1.0",
                                        1000, std::nullopt})
              .ok());
}

void AddCertificate(Store& store, const std::string& serial, const std::string& agent_id, int64_t not_before) {
  REQUIRE(store
              .InsertCertificate(CertificateRecord{serial, agent_id, "wirewarp://f0/agent/" + agent_id,
                                                   CertificateRole::kAgent, not_before, not_before + 1000, std::nullopt})
              .ok());
}

TEST_CASE("store renewal: the newest notBefore of an enrollment's certificates") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory);
  AddAgent(*store, "gw", 1);
  CHECK(store->NewestCertificateNotBefore("gw").value() == std::nullopt);
  AddCertificate(*store, "01", "gw", 100);
  AddCertificate(*store, "02", "gw", 700);
  AddCertificate(*store, "03", "gw", 400);
  CHECK(store->NewestCertificateNotBefore("gw").value() == std::optional<int64_t>(700));
  CHECK(store->NewestCertificateNotBefore("vps").value() == std::nullopt);
}

TEST_CASE("store renewal: a certificate's first use revokes the earlier ones of its enrollment only") {
  TemporaryDirectory directory;
  std::unique_ptr<Store> store = OpenStore(directory);
  AddAgent(*store, "gw", 1);
  AddAgent(*store, "vps", 2);
  AddCertificate(*store, "01", "gw", 100);
  AddCertificate(*store, "02", "gw", 200);
  AddCertificate(*store, "03", "gw", 300);
  AddCertificate(*store, "11", "vps", 50);
  REQUIRE(store->RevokeCertificate("01", 150).ok());

  // The oldest in use replaces nothing; the middle one only what came before it.
  CHECK(store->RevokeEarlierAgentCertificates("01", 400).value().empty());
  CHECK(store->RevokeEarlierAgentCertificates("02", 400).value().empty());  // 01 was revoked already
  CHECK(store->RevokeEarlierAgentCertificates("03", 500).value() == std::vector<std::string>{"02"});
  CHECK(store->ListRevokedSerials().value() == std::vector<std::string>{"01", "02"});
  CHECK(store->IsRevoked("03").value() == false);
  CHECK(store->IsRevoked("11").value() == false);  // another agent's, older: untouched
  // Again: nothing left to revoke; an unknown or revoked serial revokes nothing.
  CHECK(store->RevokeEarlierAgentCertificates("03", 600).value().empty());
  CHECK(store->RevokeEarlierAgentCertificates("99", 600).value().empty());
  AddCertificate(*store, "04", "gw", 900);
  REQUIRE(store->RevokeCertificate("04", 950).ok());
  CHECK(store->RevokeEarlierAgentCertificates("04", 1000).value().empty());
  CHECK(store->IsRevoked("03").value() == false);
}

}  // namespace
}  // namespace ww
