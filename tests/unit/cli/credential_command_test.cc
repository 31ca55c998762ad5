// wwctl credential create | list | revoke against a real reconciler's credential routes (a
// first start's data directory, the real HttpsServer and its revoked-serials check): the
// config file written (0600, complete, usable at once, never overwritten without --force), the
// table and -o json of list, revocation by name and serial, and every usage error.
#include <filesystem>
#include <fstream>
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reconciler/api/https_server.h"
#include "reconciler/server/bootstrap.h"
#include "reconciler/server/credential_routes.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/test_files.h"
#include "tests/unit/cli/wwctl_in_process.h"
#include "tests/unit/cli/wwctl_process.h"

namespace ww::cli {
namespace {

using Json = nlohmann::json;
using test_support::UnixNow;

// A reconciler serving only the credential routes (and GET /v1/revisions as a stand-in read).
class CredentialReconciler {
 public:
  CredentialReconciler() {
    // Seeded as an install made before fleet ids, so the identities below read "default".
    std::filesystem::create_directories(directory_.File("data"));
    std::filesystem::permissions(directory_.File("data"), std::filesystem::perms::owner_all);
    std::ofstream(directory_.File("data") + "/fleet-id") << "default\n";
    Result<Bootstrap> opened = Bootstrap::Open(directory_.File("data"), "https://127.0.0.1:1", UnixNow());
    REQUIRE(opened.ok());
    bootstrap_ = std::move(opened).value();
    HttpsServerOptions options;
    options.server_certificate_pem = bootstrap_.server_certificate_pem;
    options.server_private_key_pem = bootstrap_.server_private_key_pem;
    options.worker_threads = 2;
    options.is_revoked = [this](const std::string& serial) { return revoked_.Contains(serial); };
    options.fleet = bootstrap_.fleet;
    Result<std::unique_ptr<HttpsServer>> server = HttpsServer::Create(*bootstrap_.ca, std::move(options));
    REQUIRE(server.ok());
    server_ = std::move(server).value();
    CredentialOptions credentials{bootstrap_.fleet, [] { return UnixNow(); }, nullptr};
    REQUIRE(RegisterCredentialRoutes(*server_, *bootstrap_.ca, *bootstrap_.store, revoked_, credentials).ok());
    REQUIRE(server_->Route(HttpMethod::kGet, "/v1/revisions", {}, [](const HttpRequest&) {
                      return HttpResponse{200, "application/json", R"({"revisions": []})"};
                    }).ok());
    Result<int> port = server_->Start("127.0.0.1", 0);
    REQUIRE(port.ok());
    url_ = "https://127.0.0.1:" + std::to_string(*port);
    test::WriteText(config_path(), test_support::WithServerUrl(test::ReadText(config_path()), url_));
  }
  ~CredentialReconciler() { server_->Stop(); }

  const std::string& config_path() const { return bootstrap_.admin_config_path; }
  std::string File(std::string_view name) const { return directory_.File(name); }
  const std::string& url() const { return url_; }

 private:
  test_support::TemporaryDirectory directory_{"ww-credential-command"};
  Bootstrap bootstrap_;
  RevokedSerials revoked_;
  std::unique_ptr<HttpsServer> server_;
  std::string url_;
};

InProcessRun As(const std::string& config, std::vector<std::string> args) {
  args.push_back("--config");
  args.push_back(config);
  return RunWwctlInProcess(args);
}

unsigned Mode(const std::string& path) {
  struct stat info{};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

TEST_CASE("credential create writes a complete 0600 config that works at once, and never overwrites") {
  CredentialReconciler reconciler;
  std::string admin = reconciler.config_path();
  std::string path = reconciler.File("ci.wwctl.yaml");
  InProcessRun created = As(admin, {"credential", "create", "--role", "ci", "--name", "github-ci", "-o", path});
  REQUIRE_MESSAGE(created.exit_code == 0, created.err);
  CHECK(created.out == "");
  CHECK(created.err.starts_with("Wrote " + path + " (0600, holds the private key): credential github-ci, role ci, "
                                "valid until "));
  CHECK(Mode(path) == 0600);
  std::string text = test::ReadText(path);
  CHECK(text.starts_with("# wwctl configuration for wirewarp://default/ci/github-ci. Keep it secret"));
  CHECK(text.find("server: " + reconciler.url() + "\n") != std::string::npos);
  CHECK(text.find("PRIVATE KEY") != std::string::npos);
  // The new config reads; its role stops it at the credential routes.
  CHECK(As(path, {"history"}).exit_code == 0);
  InProcessRun refused = As(path, {"credential", "list"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err == "wwctl: error: the reconciler answered HTTP 403: listing credentials needs the admin role; "
                       "wirewarp://default/ci/github-ci has the ci role\n");

  // The file exists: refused before the reconciler is asked; --force replaces it.
  std::string before = test::ReadText(path);
  InProcessRun exists = As(admin, {"credential", "create", "--role", "viewer", "--name", "alice", "-o", path});
  CHECK(exists.exit_code == 2);
  CHECK(exists.err == "wwctl: error: -o: \"" + path + "\" already exists; choose another path, or add --force to "
                      "replace it\n");
  CHECK(test::ReadText(path) == before);
  InProcessRun forced =
      As(admin, {"credential", "create", "--role", "viewer", "--name", "alice", "-o", path, "--force"});
  CHECK(forced.exit_code == 0);
  CHECK(Mode(path) == 0600);
  CHECK(test::ReadText(path).starts_with("# wwctl configuration for wirewarp://default/viewer/alice."));
  CHECK(As(path, {"history"}).exit_code == 0);

  // A taken name is the reconciler's 409.
  InProcessRun taken = As(admin, {"credential", "create", "--role", "ci", "--name", "github-ci", "-o",
                                  reconciler.File("other.yaml")});
  CHECK(taken.exit_code == 1);
  CHECK(taken.err.starts_with("wwctl: error: the reconciler answered HTTP 409: credential \"github-ci\" exists"));
}

TEST_CASE("credential create checks role, name and ttl before sending anything") {
  CredentialReconciler reconciler;
  std::string admin = reconciler.config_path();
  std::string out = reconciler.File("x.yaml");
  InProcessRun role = As(admin, {"credential", "create", "--role", "root", "--name", "x", "-o", out});
  CHECK(role.exit_code == 2);
  CHECK(role.err.find("--role") != std::string::npos);
  InProcessRun name = As(admin, {"credential", "create", "--role", "ci", "--name", "X_1", "-o", out});
  CHECK(name.exit_code == 2);
  CHECK(name.err == "wwctl: error: --name: \"X_1\" is not a name (lowercase letters, digits and '-', at most 63)\n");
  InProcessRun short_ttl =
      As(admin, {"credential", "create", "--role", "ci", "--name", "x", "--ttl", "30m", "-o", out});
  CHECK(short_ttl.exit_code == 2);
  CHECK(short_ttl.err == "wwctl: error: --ttl: \"30m\" is outside 1h..825d\n");
  InProcessRun long_ttl =
      As(admin, {"credential", "create", "--role", "ci", "--name", "x", "--ttl", "900d", "-o", out});
  CHECK(long_ttl.err == "wwctl: error: --ttl: \"900d\" is outside 1h..825d\n");
  InProcessRun bad_ttl = As(admin, {"credential", "create", "--role", "ci", "--name", "x", "--ttl", "soon", "-o", out});
  CHECK(bad_ttl.err == "wwctl: error: --ttl: \"soon\" is not a duration such as 90s, 5m, 1h30m or 2d\n");
  InProcessRun ok = As(admin, {"credential", "create", "--role", "ci", "--name", "x", "--ttl", "36h", "-o", out});
  CHECK(ok.exit_code == 0);
  InProcessRun listed = As(admin, {"credential", "list", "-o", "json"});
  REQUIRE(listed.exit_code == 0);
  Json credentials = Json::parse(listed.out);
  REQUIRE(credentials.size() == 2);
  CHECK(credentials[1]["notAfter"].get<int64_t>() - credentials[1]["notBefore"].get<int64_t>() == 36 * 3600 + 300);
}

TEST_CASE("credential list shows a table; revoke by name and by serial; the last admin stays") {
  CredentialReconciler reconciler;
  std::string admin = reconciler.config_path();
  std::string second = reconciler.File("alice.yaml");
  REQUIRE(As(admin, {"credential", "create", "--role", "admin", "--name", "alice", "-o", second}).exit_code == 0);
  std::string viewer = reconciler.File("bob.yaml");
  REQUIRE(As(admin, {"credential", "create", "--role", "viewer", "--name", "bob", "-o", viewer}).exit_code == 0);

  InProcessRun table = As(admin, {"credential", "list"});
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.starts_with("NAME    ROLE     STATE    SERIAL "));
  CHECK(table.out.find("\nadmin   admin    active   ") != std::string::npos);
  CHECK(table.out.find("\nalice   admin    active   ") != std::string::npos);
  CHECK(table.out.find("\nbob     viewer   active   ") != std::string::npos);
  CHECK(table.out.find("wirewarp://default/admin/admin") != std::string::npos);  // CREATED BY of alice, bob

  InProcessRun revoked = As(second, {"credential", "revoke", "admin"});
  CHECK(revoked.exit_code == 0);
  CHECK(revoked.out.starts_with("Credential admin revoked (certificate "));
  InProcessRun old_admin = As(admin, {"history"});
  CHECK(old_admin.exit_code == 1);
  CHECK(old_admin.err.find("HTTP 401: client certificate ") != std::string::npos);
  InProcessRun last = As(second, {"credential", "revoke", "alice"});
  CHECK(last.exit_code == 1);
  CHECK(last.err.starts_with("wwctl: error: the reconciler answered HTTP 409: another admin must remain: revoking "
                             "credential \"alice\""));

  Json listed = Json::parse(As(second, {"credential", "list", "-o", "json"}).out);
  std::string bob_serial;
  for (const Json& credential : listed) {
    if (credential["name"] == "bob") bob_serial = credential["serial"];
    if (credential["name"] == "admin") CHECK(credential["state"] == "revoked");
  }
  REQUIRE(!bob_serial.empty());
  InProcessRun by_serial = As(second, {"credential", "revoke", "--serial", bob_serial});
  CHECK(by_serial.exit_code == 0);
  CHECK(by_serial.out == "Certificate " + bob_serial + " revoked; it is refused from its next request.\n");
  CHECK(As(viewer, {"history"}).exit_code == 1);

  CHECK(As(second, {"credential", "revoke"}).exit_code == 2);
  CHECK(As(second, {"credential", "revoke", "bob", "--serial", "01"}).exit_code == 2);
  InProcessRun bad_serial = As(second, {"credential", "revoke", "--serial", "xyz"});
  CHECK(bad_serial.exit_code == 2);
  CHECK(bad_serial.err == "wwctl: error: --serial: \"xyz\" is not a certificate serial (hex)\n");
  InProcessRun unknown = As(second, {"credential", "revoke", "nobody"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err == "wwctl: error: the reconciler answered HTTP 404: no credential named \"nobody\"\n");
}

}  // namespace
}  // namespace ww::cli
