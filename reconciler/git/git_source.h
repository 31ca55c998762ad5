#pragma once
// GitSource: fetches one branch of a git repository into a bare cache with libgit2 and reads the
// fleet's YAML straight from the commit's tree (no work tree, no checkout). Symlinks,
// submodules, oversized blobs and too many files are refused; fetches have a deadline;
// certificate and SSH host-key checks are never disabled.
// Not thread-safe: one thread (GitSync's) owns a GitSource and calls Fetch().

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "schema/loader.h"
#include "schema/result.h"

namespace ww {

struct GitSourceOptions {
  // "https://host/owner/repo.git", "ssh://git@host/repo.git", "git@host:repo.git",
  // "file:///srv/fleet.git" or a local path to a repository.
  std::string url;
  // The branch to follow (without "refs/heads/"). Default: "main".
  std::string branch = "main";
  // The directory inside the repository holding the YAML; "" means the root.
  std::string path;
  // A bare repository used as the fetch cache; created when missing.
  std::string cache_dir;
  // HTTPS: a file holding a token, sent as the basic-auth password. Refused with http://.
  std::string token_file;
  // SSH: the private key, and the known_hosts file the server's host key must appear in.
  // A host that is not listed is refused (never trusted on first use).
  std::string ssh_key_file;
  std::string known_hosts_file;
  // The whole fetch (connect, negotiation, download) must finish within this. Default: 30 s.
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  // A YAML blob larger than this is refused. Default: 1 MiB.
  std::size_t max_blob_bytes = std::size_t{1} << 20;
  // More YAML files than this under `path` are refused. Default: 1000.
  std::size_t max_files = 1000;
};

struct GitSnapshot {
  std::string commit_sha;       // 40 hex digits
  std::string author;           // "Name <email>"
  std::string message_subject;  // the first line of the message
  std::string message;          // the whole message
  int64_t time = 0;             // committer time, unix seconds
  // Every *.yaml / *.yml blob under `path`, recursively, in tree order; each path is relative
  // to the repository root ("fleet/nodes/vps.yaml").
  std::vector<SourceFile> files;
};

class GitSource {
 public:
  // Checks the options (branch and path syntax, credentials that fit the URL) and opens or
  // creates the bare cache. kInvalidArgument names the bad option and value.
  static Result<std::unique_ptr<GitSource>> Open(GitSourceOptions options);

  GitSource(const GitSource&) = delete;
  GitSource& operator=(const GitSource&) = delete;
  ~GitSource();

  // Fetches the branch and reads the snapshot of its head commit.
  // kUnavailable: the fetch failed or timed out (retryable). kNotFound: no such branch, or
  // `path` is not in the commit. kFailedPrecondition: the commit holds a symlink, a submodule,
  // an oversized YAML blob or too many YAML files under `path` (the message names the path).
  Result<GitSnapshot> Fetch();

  // Makes a running Fetch() return kUnavailable ("cancelled") soon; safe from any thread.
  // A Fetch() that starts later is not affected.
  void Cancel();

  const GitSourceOptions& options() const { return options_; }

 private:
  struct Repository;
  GitSource(GitSourceOptions options, std::unique_ptr<Repository> repository);

  GitSourceOptions options_;
  std::unique_ptr<Repository> repository_;
};

}  // namespace ww
