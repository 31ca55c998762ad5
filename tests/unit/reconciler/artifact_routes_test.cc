// The artifacts the reconciler serves (reconciler/server/artifact_catalog, artifact_routes):
// the closed name pattern, what the directory listing keeps and drops, SHA-256 computed once
// per file change (not per request, and again after a rename or a new mtime), and the routes
// over a real TLS listener without a client certificate: the listing, the file streamed with
// its hash (HEAD too), the .sha256 line, hostile paths that never reach a file outside the
// directory, and a 64 MiB download that raises the server's memory by far less than the file.

#include <doctest/doctest.h>
#include <httplib.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "reconciler/api/https_server.h"
#include "reconciler/pki/certificate_authority.h"
#include "reconciler/server/artifact_catalog.h"
#include "reconciler/server/artifact_routes.h"
#include "tests/support/process_watch.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/test_files.h"

namespace ww {
namespace {

using test_support::TemporaryDirectory;
using test_support::UnixNow;

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  REQUIRE(out.good());
}

// SHA-256 of "hello\n" and of "bye\n".
constexpr const char* kHelloSha = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
constexpr const char* kByeSha = "abc6fd595fc079d3114d4b71a4d84b1d1d0f79df1e70f8813212f2a65d8916df";

TEST_CASE("artifacts: names and platforms come from a closed pattern") {
  CHECK(ParseArtifactFileName("wwctl-linux-amd64") == ArtifactId{"wwctl", "linux-amd64"});
  CHECK(ParseArtifactFileName("wirewarp-agent-linux-arm64") == ArtifactId{"wirewarp-agent", "linux-arm64"});
  CHECK(ParseArtifactFileName("wwctl-linux-386") == ArtifactId{"wwctl", "linux-386"});
  for (const char* refused : {"", "wwctl", "linux-amd64", "-linux-amd64", "wwctl-linux-amd64.sha256", ".wwctl-linux-amd64",
                              "Wwctl-linux-amd64", "wwctl--linux-amd64", "ww_ctl-linux-amd64", "wwctl-linux-", "wwctl-1linux-amd64",
                              "wwctl-linux-amd64 ", "..-linux-amd64", "wwctl-linux-amd64/x", "wwctl-linux-averyveryverylongarch"}) {
    std::string name = refused;
    CAPTURE(name);
    CHECK_FALSE(ParseArtifactFileName(name).has_value());
  }
  CHECK(IsArtifactName(std::string(64, 'a')));
  CHECK_FALSE(IsArtifactName(std::string(65, 'a')));
  for (std::string name : {"a-", "1a", "a--b", "a.b", "a/b", "..", "a b", "A"}) {
    CAPTURE(name);
    CHECK_FALSE(IsArtifactName(name));
  }
}

TEST_CASE("artifacts: the listing keeps regular files named by the pattern, hashed once per change") {
  TemporaryDirectory dir("ww-artifacts");
  WriteFile(dir.File("wwctl-linux-amd64"), "hello\n");
  WriteFile(dir.File("wwctl-linux-amd64.sha256"), "not an artifact\n");
  WriteFile(dir.File("README"), "not an artifact\n");
  WriteFile(dir.File(".wwctl-linux-arm64"), "hidden\n");
  REQUIRE(mkdir(dir.File("wwctl-linux-arm64").c_str(), 0700) == 0);        // a directory
  REQUIRE(mkfifo(dir.File("wwctl-linux-riscv64").c_str(), 0600) == 0);     // must not hang
  REQUIRE(symlink("/etc", dir.File("etc-linux-amd64").c_str()) == 0);      // a directory again
  ArtifactCatalog catalog(dir.path(), "9.9.9");

  Result<std::vector<ArtifactInfo>> listed = catalog.List();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0] == ArtifactInfo{{"wwctl", "linux-amd64"}, "9.9.9", kHelloSha, 6});
  CHECK(catalog.HashesComputed() == 1);
  for (int i = 0; i < 5; ++i) REQUIRE(catalog.Open({"wwctl", "linux-amd64"}).ok());
  REQUIRE(catalog.List().ok());
  CHECK(catalog.HashesComputed() == 1);  // cached: not per request

  // Replaced by rename (a new inode), then rewritten in place with a new mtime: hashed again.
  WriteFile(dir.File("next"), "bye\n");
  REQUIRE(std::rename(dir.File("next").c_str(), dir.File("wwctl-linux-amd64").c_str()) == 0);
  Result<OpenArtifact> opened = catalog.Open({"wwctl", "linux-amd64"});
  REQUIRE(opened.ok());
  CHECK(opened->info.sha256 == kByeSha);
  CHECK(catalog.HashesComputed() == 2);
  WriteFile(dir.File("wwctl-linux-amd64"), "hello\n");
  timespec times[2] = {{0, UTIME_OMIT}, {UnixNow() + 10, 0}};
  REQUIRE(utimensat(AT_FDCWD, dir.File("wwctl-linux-amd64").c_str(), times, 0) == 0);
  opened = catalog.Open({"wwctl", "linux-amd64"});
  REQUIRE(opened.ok());
  CHECK(opened->info.sha256 == kHelloSha);
  CHECK(catalog.HashesComputed() == 3);

  for (ArtifactId missing : {ArtifactId{"wwctl", "linux-arm64"}, ArtifactId{"wwctl", "linux-riscv64"},
                             ArtifactId{"..", "linux-amd64"}, ArtifactId{"wwctl/../wwctl", "linux-amd64"}}) {
    CAPTURE(missing.name);
    CHECK(catalog.Open(missing).status().code() == StatusCode::kNotFound);
  }
  ArtifactCatalog absent(dir.File("no-such-directory"), "9.9.9");
  Result<std::vector<ArtifactInfo>> none = absent.List();
  REQUIRE(none.ok());
  CHECK(none->empty());
}

X509* ReadX509(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(certificate != nullptr);
  return certificate;
}

// A TLS server with only the artifact routes, over `dir`, and a client without a certificate.
struct ArtifactServer {
  explicit ArtifactServer(const std::string& dir) : catalog(dir, "9.9.9") {
    Result<CertificateAuthority> created = CertificateAuthority::Create("artifacts-test", UnixNow());
    REQUIRE(created.ok());
    ca = std::make_unique<CertificateAuthority>(std::move(created).value());
    Result<IssuedServerCertificate> pair = ca->IssueServer("", {"localhost"}, {"127.0.0.1"}, UnixNow());
    REQUIRE(pair.ok());
    HttpsServerOptions options;
    options.server_certificate_pem = pair->certificate.pem;
    options.server_private_key_pem = pair->private_key_pem;
    options.worker_threads = 2;
    Result<std::unique_ptr<HttpsServer>> made = HttpsServer::Create(*ca, std::move(options));
    REQUIRE(made.ok());
    server = std::move(made).value();
    REQUIRE(RegisterArtifactRoutes(*server, catalog).ok());
    Result<int> bound = server->Start("127.0.0.1", 0);
    REQUIRE(bound.ok());
    port = *bound;
  }
  ~ArtifactServer() { server->Stop(); }

  std::unique_ptr<httplib::SSLClient> Client() const {
    auto client = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
    X509_STORE* store = X509_STORE_new();
    X509* ca_certificate = ReadX509(ca->CertificatePem());
    X509_STORE_add_cert(store, ca_certificate);
    X509_free(ca_certificate);
    client->set_ca_cert_store(store);
    client->enable_server_certificate_verification(true);
    client->set_read_timeout(60);
    return client;
  }

  ArtifactCatalog catalog;
  std::unique_ptr<CertificateAuthority> ca;
  std::unique_ptr<HttpsServer> server;
  int port = 0;
};

TEST_CASE("artifacts: the routes list, stream and checksum files to a client without a certificate") {
  TemporaryDirectory top("ww-artifacts-routes");
  const std::string dir = top.File("artifacts");
  REQUIRE(mkdir(dir.c_str(), 0700) == 0);
  WriteFile(dir + "/wwctl-linux-amd64", "hello\n");
  WriteFile(top.File("secret-linux-amd64"), "outside the directory\n");
  ArtifactServer fixture(dir);
  std::unique_ptr<httplib::SSLClient> client = fixture.Client();

  httplib::Result listed = client->Get("/v1/artifacts");
  REQUIRE(listed);
  CHECK(listed->status == 200);
  CHECK(listed->body == std::string("{\"artifacts\":[{\"name\":\"wwctl\",\"platform\":\"linux-amd64\",\"version\":\"9.9.9\","
                                    "\"sha256\":\"") + kHelloSha + "\",\"size\":6}]}");

  httplib::Result file = client->Get("/v1/artifacts/wwctl/linux-amd64");
  REQUIRE(file);
  CHECK(file->status == 200);
  CHECK(file->body == "hello\n");
  CHECK(file->get_header_value("Content-Type") == "application/octet-stream");
  CHECK(file->get_header_value("X-Content-Sha256") == kHelloSha);
  CHECK(file->get_header_value("Content-Disposition") == "attachment; filename=\"wwctl-linux-amd64\"");

  httplib::Result head = client->Head("/v1/artifacts/wwctl/linux-amd64");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->get_header_value("Content-Length") == "6");
  CHECK(head->body.empty());

  httplib::Result checksum = client->Get("/v1/artifacts/wwctl/linux-amd64.sha256");
  REQUIRE(checksum);
  CHECK(checksum->status == 200);
  CHECK(checksum->body == std::string(kHelloSha) + "  wwctl-linux-amd64\n");

  httplib::Result missing = client->Get("/v1/artifacts/wwctl/linux-arm64");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body.find("no artifact wwctl for linux-arm64") != std::string::npos);

  // Hostile names: refused by the request guard (400) or matched by no route (404); never
  // the file beside the directory, whatever the encoding.
  for (const char* target :
       {"/v1/artifacts/../secret/linux-amd64", "/v1/artifacts/..%2fsecret/linux-amd64", "/v1/artifacts/%2e%2e/linux-amd64",
        "/v1/artifacts/wwctl/..%2f..%2fsecret-linux-amd64", "/v1/artifacts/secret%2flinux-amd64",
        "/v1/artifacts/wwctl/linux-amd64%00", "/v1/artifacts/wwctl/linux-amd64/", "/v1/artifacts/WWCTL/linux-amd64",
        "/v1/artifacts/wwctl/linux-amd64.sha256.sha256", "/v1/artifacts/wwctl--/linux-amd64",
        "/v1/artifacts/%77wctl/linux-amd64/../../../secret-linux-amd64", "/v1/artifacts//wwctl/linux-amd64"}) {
    std::string path = target;
    CAPTURE(path);
    httplib::Result refused = client->Get(target);
    REQUIRE(refused);
    CAPTURE(refused->status);
    CHECK((refused->status == 400 || refused->status == 404));
    CHECK(refused->body.find("outside") == std::string::npos);
  }
}

TEST_CASE("artifacts: a 64 MiB file is streamed, not read into memory") {
  TemporaryDirectory dir("ww-artifacts-large");
  constexpr std::size_t kSize = std::size_t{64} << 20;
  {
    std::ofstream out(dir.File("big-linux-amd64"), std::ios::binary);
    std::string block(1 << 20, '\0');
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 7 + 3);
    for (std::size_t written = 0; written < kSize; written += block.size()) out << block;
    REQUIRE(out.good());
  }
  ArtifactServer fixture(dir.path());
  REQUIRE(fixture.catalog.List().ok());  // hashed before the measurement
  std::unique_ptr<httplib::SSLClient> client = fixture.Client();
  std::size_t before = test_support::ResidentBytes();
  std::size_t received = 0;
  std::size_t peak = before;
  httplib::Result got = client->Get("/v1/artifacts/big/linux-amd64", [&](const char*, std::size_t length) {
    received += length;
    peak = std::max(peak, test_support::ResidentBytes());
    return true;
  });
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(received == kSize);
  MESSAGE("resident memory grew by " << (peak - before) / 1024 << " KiB while 64 MiB were sent");
  CHECK(peak - before < std::size_t{16} << 20);
}

}  // namespace
}  // namespace ww
