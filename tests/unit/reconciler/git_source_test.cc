// GitSource against real repositories made with the git CLI: a bare "remote", a work clone,
// commits and `git push`, then Fetch by local path and file:// URL. Git runs with no system or
// global configuration and its identity on the command line.

#include "reconciler/git/git_source.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "reconciler/git/git_sync.h"
#include "reconciler/pki/certificate_authority.h"
#include "tests/support/temporary_directory.h"
#include "tests/unit/reconciler/git_remote.h"

extern char** environ;

namespace ww {
namespace {

using test_support::TemporaryDirectory;
using test_support::Remote;
using test_support::RunGit;
namespace fs = std::filesystem;

std::unique_ptr<GitSource> OpenOrDie(GitSourceOptions options) {
  Result<std::unique_ptr<GitSource>> source = GitSource::Open(std::move(options));
  REQUIRE_MESSAGE(source.ok(), source.status().ToString());
  return std::move(source).value();
}

GitSnapshot FetchOrDie(GitSource& source) {
  Result<GitSnapshot> snapshot = source.Fetch();
  REQUIRE_MESSAGE(snapshot.ok(), snapshot.status().ToString());
  return std::move(snapshot).value();
}

std::vector<std::string> Paths(const GitSnapshot& snapshot) {
  std::vector<std::string> paths;
  for (const SourceFile& file : snapshot.files) paths.push_back(file.path);
  return paths;
}

void WriteFleetLayout(Remote& remote) {
  remote.Write("fleet/vps.yaml", "kind: Node\n");
  remote.Write("fleet/sites/home.yml", "kind: Tunnel\n");
  remote.Write("fleet/README.md", "not yaml\n");
  remote.Write("fleet/notes.yaml.txt", "not yaml either\n");
  remote.Write("other/ignored.yaml", "kind: Outside\n");
  remote.Write("top.yaml", "kind: Top\n");
}

TEST_CASE("GitSource reads the YAML under its path from the pushed commit, by path and by file URL") {
  Remote remote;
  WriteFleetLayout(remote);
  const std::string sha = remote.CommitAndPush("Add the fleet\n\nWith a body line.");

  for (const std::string& url : {remote.bare(), "file://" + remote.bare()}) {
    CAPTURE(url);
    GitSourceOptions options = remote.Options(url.starts_with("file://") ? "cache-url" : "cache-path");
    options.url = url;
    options.path = "fleet/";
    std::unique_ptr<GitSource> source = OpenOrDie(options);
    const GitSnapshot snapshot = FetchOrDie(*source);
    CHECK(snapshot.commit_sha == sha);
    CHECK(snapshot.commit_sha.size() == 40);
    CHECK(snapshot.author == "Test User <test@example.org>");
    CHECK(snapshot.message_subject == "Add the fleet");
    CHECK(snapshot.message == "Add the fleet\n\nWith a body line.\n");
    CHECK(snapshot.time == 1700000000);
    CHECK(Paths(snapshot) == std::vector<std::string>{"fleet/sites/home.yml", "fleet/vps.yaml"});
    REQUIRE(snapshot.files.size() == 2);
    CHECK(snapshot.files[0].content == "kind: Tunnel\n");
    CHECK(snapshot.files[1].content == "kind: Node\n");
    // The cache is bare: no work tree was written.
    CHECK(fs::exists(fs::path(options.cache_dir) / "objects"));
    CHECK_FALSE(fs::exists(fs::path(options.cache_dir) / "fleet"));
  }
}

TEST_CASE("GitSource with an empty path reads every YAML file in the repository") {
  Remote remote;
  WriteFleetLayout(remote);
  remote.CommitAndPush("Layout");
  std::unique_ptr<GitSource> source = OpenOrDie(remote.Options());
  CHECK(Paths(FetchOrDie(*source)) ==
        std::vector<std::string>{"fleet/sites/home.yml", "fleet/vps.yaml", "other/ignored.yaml", "top.yaml"});
}

TEST_CASE("GitSource sees a new commit after a push, also through a reopened cache") {
  Remote remote;
  remote.Write("fleet/vps.yaml", "version: 1\n");
  const std::string first = remote.CommitAndPush("First");
  GitSourceOptions options = remote.Options();
  options.path = "fleet";
  std::unique_ptr<GitSource> source = OpenOrDie(options);
  CHECK(FetchOrDie(*source).commit_sha == first);

  remote.Write("fleet/vps.yaml", "version: 2\n");
  remote.Write("fleet/gateway.yaml", "kind: Node\n");
  const std::string second = remote.CommitAndPush("Second");
  REQUIRE(second != first);
  const GitSnapshot snapshot = FetchOrDie(*source);
  CHECK(snapshot.commit_sha == second);
  CHECK(snapshot.message_subject == "Second");
  CHECK(Paths(snapshot) == std::vector<std::string>{"fleet/gateway.yaml", "fleet/vps.yaml"});
  CHECK(snapshot.files[1].content == "version: 2\n");

  // A rewritten branch (force push) is followed too.
  RunGit({"-C", remote.work(), "commit", "-q", "--amend", "-m", "Second, reworded"});
  RunGit({"-C", remote.work(), "push", "-q", "-f", "origin", "HEAD:refs/heads/main"});
  const std::string rewritten = RunGit({"-C", remote.work(), "rev-parse", "HEAD"});
  source.reset();
  std::unique_ptr<GitSource> reopened = OpenOrDie(options);
  const GitSnapshot after_rewrite = FetchOrDie(*reopened);
  CHECK(after_rewrite.commit_sha == rewritten);
  CHECK(after_rewrite.message_subject == "Second, reworded");
}

TEST_CASE("GitSource refuses a symlink under its path, naming it, and ignores one outside") {
  Remote remote;
  remote.Write("fleet/vps.yaml", "kind: Node\n");
  remote.Write("other/target.yaml", "kind: Outside\n");
  fs::create_symlink("../fleet/vps.yaml", fs::path(remote.work()) / "other/link.yaml");
  remote.CommitAndPush("Symlink outside");
  GitSourceOptions options = remote.Options();
  options.path = "fleet";
  std::unique_ptr<GitSource> source = OpenOrDie(options);
  CHECK(Paths(FetchOrDie(*source)) == std::vector<std::string>{"fleet/vps.yaml"});

  fs::create_symlink("/etc/passwd", fs::path(remote.work()) / "fleet/passwd.yaml");
  const std::string sha = remote.CommitAndPush("Symlink inside");
  Result<GitSnapshot> refused = source->Fetch();
  CHECK(refused.status() == Status::FailedPrecondition("commit " + sha +
                                                       ": symlink \"fleet/passwd.yaml\" is refused: the fleet must be plain files"));
}

TEST_CASE("GitSource refuses a submodule under its path") {
  Remote remote;
  remote.Write("fleet/vps.yaml", "kind: Node\n");
  const std::string first = remote.CommitAndPush("First");
  RunGit({"-C", remote.work(), "update-index", "--add", "--cacheinfo", "160000," + first + ",fleet/module"});
  RunGit({"-C", remote.work(), "commit", "-q", "-m", "Add a gitlink"});
  RunGit({"-C", remote.work(), "push", "-q", "origin", "HEAD:refs/heads/main"});
  const std::string sha = RunGit({"-C", remote.work(), "rev-parse", "HEAD"});
  GitSourceOptions options = remote.Options();
  options.path = "fleet";
  std::unique_ptr<GitSource> source = OpenOrDie(options);
  CHECK(source->Fetch().status() ==
        Status::FailedPrecondition("commit " + sha + ": submodule \"fleet/module\" is refused: the fleet must be plain files"));
}

TEST_CASE("GitSource refuses a YAML blob above the size limit and too many files") {
  Remote remote;
  remote.Write("fleet/a.yaml", std::string(100, 'a'));
  remote.Write("fleet/b.yaml", "b: 1\n");
  remote.Write("fleet/huge.txt", std::string(5000, 'x'));  // not YAML: size does not matter
  remote.CommitAndPush("At the limit");
  GitSourceOptions options = remote.Options();
  options.path = "fleet";
  options.max_blob_bytes = 100;
  options.max_files = 2;
  std::unique_ptr<GitSource> source = OpenOrDie(options);
  CHECK(Paths(FetchOrDie(*source)) == std::vector<std::string>{"fleet/a.yaml", "fleet/b.yaml"});

  remote.Write("fleet/a.yaml", std::string(101, 'a'));
  const std::string big = remote.CommitAndPush("Too big");
  CHECK(source->Fetch().status() ==
        Status::FailedPrecondition("commit " + big + ": file \"fleet/a.yaml\" is 101 bytes, above the limit of 100"));

  remote.Write("fleet/a.yaml", "a: 1\n");
  remote.Write("fleet/c.yaml", "c: 1\n");
  const std::string many = remote.CommitAndPush("Too many");
  CHECK(source->Fetch().status() ==
        Status::FailedPrecondition("commit " + many + ": more than 2 YAML files under the git path (at \"fleet/c.yaml\")"));
}

TEST_CASE("GitSource reports a missing branch, a deleted branch and a missing path") {
  Remote remote;
  remote.Write("fleet/vps.yaml", "kind: Node\n");
  const std::string sha = remote.CommitAndPush("First");
  remote.CommitAndPush("On dev", "dev");

  GitSourceOptions wrong_branch = remote.Options("cache-wrong");
  wrong_branch.branch = "production";
  std::unique_ptr<GitSource> wrong = OpenOrDie(wrong_branch);
  CHECK(wrong->Fetch().status() == Status::NotFound("branch \"production\" not found in \"" + remote.bare() + "\""));

  GitSourceOptions dev_options = remote.Options("cache-dev");
  dev_options.branch = "dev";
  std::unique_ptr<GitSource> dev = OpenOrDie(dev_options);
  CHECK(FetchOrDie(*dev).message_subject == "On dev");
  RunGit({"-C", remote.work(), "push", "-q", "origin", ":refs/heads/dev"});
  // The cached tracking ref must not stand in for the deleted branch.
  CHECK(dev->Fetch().status() == Status::NotFound("branch \"dev\" not found in \"" + remote.bare() + "\""));

  GitSourceOptions missing_path = remote.Options("cache-path");
  missing_path.path = "clusters/prod";
  std::unique_ptr<GitSource> missing = OpenOrDie(missing_path);
  CHECK(missing->Fetch().status() == Status::NotFound("git path \"clusters/prod\" not found in commit " + sha));

  GitSourceOptions file_path = remote.Options("cache-file");
  file_path.path = "fleet/vps.yaml";
  std::unique_ptr<GitSource> file = OpenOrDie(file_path);
  CHECK(file->Fetch().status() ==
        Status::FailedPrecondition("git path \"fleet/vps.yaml\" in commit " + sha + " is not a directory"));
}

TEST_CASE("GitSource::Open refuses bad options, quoting them") {
  Remote remote;
  GitSourceOptions bad_branch = remote.Options();
  bad_branch.branch = "main..evil";
  CHECK(GitSource::Open(bad_branch).status() == Status::InvalidArgument("git branch \"main..evil\" is not a valid branch name"));

  GitSourceOptions escaping = remote.Options();
  escaping.path = "fleet/../../etc";
  CHECK(GitSource::Open(escaping).status() ==
        Status::InvalidArgument("git path \"fleet/../../etc\" has an empty, \".\" or \"..\" component"));

  GitSourceOptions absolute = remote.Options();
  absolute.path = "/etc";
  CHECK(GitSource::Open(absolute).status() == Status::InvalidArgument("git path \"/etc\" must be relative to the repository root"));

  GitSourceOptions clear_token = remote.Options();
  clear_token.url = "http://git.example.org/fleet.git";
  clear_token.token_file = "/nonexistent/token";
  CHECK(GitSource::Open(clear_token).status() ==
        Status::InvalidArgument("a git token file needs an https:// url, not \"http://git.example.org/fleet.git\" (the token "
                                "would travel in clear or be ignored)"));

  GitSourceOptions ssh_without_hosts = remote.Options();
  ssh_without_hosts.url = "git@git.example.org:ops/fleet.git";
  ssh_without_hosts.ssh_key_file = "/nonexistent/id_ed25519";
  CHECK(GitSource::Open(ssh_without_hosts).status() ==
        Status::InvalidArgument("the ssh git url \"git@git.example.org:ops/fleet.git\" needs a known_hosts file for the host-key check"));

  GitSourceOptions key_without_ssh = remote.Options();
  key_without_ssh.ssh_key_file = "/nonexistent/id_ed25519";
  CHECK(GitSource::Open(key_without_ssh).status().code() == StatusCode::kInvalidArgument);

  GitSourceOptions not_a_cache = remote.Options();
  not_a_cache.cache_dir = remote.work();  // a non-empty directory that is not a bare repository
  fs::remove_all(fs::path(remote.work()) / ".git");
  remote.Write("file.txt", "x");
  CHECK(GitSource::Open(not_a_cache).status().code() == StatusCode::kFailedPrecondition);
}

// A loopback listener that completes TCP handshakes (the kernel does) but never answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t length = sizeof(address);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  ~SilentServer() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_CASE("GitSource gives up on a server that never answers when the timeout passes") {
  SilentServer server;
  TemporaryDirectory directory("ww-git-timeout-test");
  GitSourceOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/fleet.git";
  options.cache_dir = directory.File("cache");
  options.timeout = std::chrono::milliseconds(300);
  std::unique_ptr<GitSource> source = OpenOrDie(options);
  CHECK(source->Fetch().status() == Status::Unavailable("connecting to \"" + options.url + "\": timed out after 300 ms"));
}

TEST_CASE("GitSource::Cancel stops a fetch blocked on a silent server") {
  SilentServer server;
  TemporaryDirectory directory("ww-git-cancel-test");
  GitSourceOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/fleet.git";
  options.cache_dir = directory.File("cache");
  options.timeout = std::chrono::minutes(10);
  std::unique_ptr<GitSource> source = OpenOrDie(options);
  std::atomic<bool> done = false;
  Result<GitSnapshot> result = Status::Internal("not run");
  std::thread fetcher([&] {
    result = source->Fetch();
    done = true;
  });
  // Cancel until it lands: a Cancel before the fetch starts has nothing to stop.
  while (!done) {
    source->Cancel();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  fetcher.join();
  CHECK(result.status() == Status::Unavailable("connecting to \"" + options.url + "\": cancelled"));
}

TEST_CASE("GitSource refuses an HTTPS server whose certificate it cannot verify") {
  TemporaryDirectory directory("ww-git-tls-test");
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  Result<CertificateAuthority> ca = CertificateAuthority::Create("untrusted test CA", now);
  REQUIRE(ca.ok());
  Result<IssuedServerCertificate> issued = ca->IssueServer("", {"localhost"}, {"127.0.0.1"}, now);
  REQUIRE(issued.ok());
  std::ofstream(directory.File("server.pem")) << issued->certificate.pem;
  std::ofstream(directory.File("server.key")) << issued->private_key_pem;

  httplib::SSLServer server(directory.File("server.pem").c_str(), directory.File("server.key").c_str());
  REQUIRE(server.is_valid());
  std::atomic<int> requests = 0;
  server.Get(".*", [&](const httplib::Request&, httplib::Response& response) {
    ++requests;
    response.status = 404;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread listener([&] { server.listen_after_bind(); });

  GitSourceOptions options;
  options.url = "https://127.0.0.1:" + std::to_string(port) + "/fleet.git";
  options.cache_dir = directory.File("cache");
  options.timeout = std::chrono::seconds(20);
  std::unique_ptr<GitSource> source = OpenOrDie(options);
  const Status status = source->Fetch().status();
  server.stop();
  listener.join();
  CHECK(status.code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(status.message().starts_with("connecting to \"" + options.url + "\": "), status.ToString());
  CHECK_MESSAGE(status.message().find("certificate") != std::string::npos, status.ToString());
  // No request got through the TLS handshake.
  CHECK(requests == 0);
}

TEST_CASE("GitSync with a real GitSource hands over each pushed commit once") {
  Remote remote;
  remote.Write("fleet/vps.yaml", "version: 1\n");
  const std::string first = remote.CommitAndPush("First");
  GitSourceOptions options = remote.Options();
  options.path = "fleet";
  std::unique_ptr<GitSource> source = OpenOrDie(options);

  std::mutex mutex;
  std::vector<std::string> commits;
  std::vector<std::string> errors;
  GitSyncOptions sync_options;
  sync_options.interval = std::chrono::hours(1);
  GitSync sync(
      *source,
      [&](const GitSnapshot& snapshot) {
        std::lock_guard lock(mutex);
        commits.push_back(snapshot.commit_sha + " " + snapshot.files.at(0).content);
      },
      [&](const Status& status) {
        std::lock_guard lock(mutex);
        errors.push_back(status.ToString());
      },
      sync_options);
  sync.Start();
  Result<GitSnapshot> unchanged = sync.SyncNow();
  REQUIRE(unchanged.ok());
  CHECK(unchanged->commit_sha == first);

  remote.Write("fleet/vps.yaml", "version: 2\n");
  const std::string second = remote.CommitAndPush("Second");
  Result<GitSnapshot> changed = sync.SyncNow();
  sync.Stop();
  REQUIRE(changed.ok());
  CHECK(changed->commit_sha == second);
  CHECK(commits == std::vector<std::string>{first + " version: 1\n", second + " version: 2\n"});
  CHECK(errors.empty());
}

}  // namespace
}  // namespace ww
