#include "reconciler/git/git_source.h"

#include <git2.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include "reconciler/git/known_hosts.h"
#include "reconciler/git/network_deadline.h"

namespace ww {
namespace {

using Clock = std::chrono::steady_clock;
using git_internal::FetchEnd;
using git_internal::FetchNetwork;

// Deeper directory nesting under `path` than this is refused (a fleet needs two or three).
constexpr int kMaxTreeDepth = 32;
// libgit2 calls the credential callback again after a refusal; give up after this many.
constexpr int kMaxCredentialAttempts = 3;

struct GitFree {
  void operator()(git_repository* repository) const { git_repository_free(repository); }
  void operator()(git_remote* remote) const { git_remote_free(remote); }
  void operator()(git_commit* commit) const { git_commit_free(commit); }
  void operator()(git_tree* tree) const { git_tree_free(tree); }
  void operator()(git_tree_entry* entry) const { git_tree_entry_free(entry); }
  void operator()(git_blob* blob) const { git_blob_free(blob); }
  void operator()(git_odb* odb) const { git_odb_free(odb); }
  void operator()(git_reference* reference) const { git_reference_free(reference); }
};
using UniqueRepository = std::unique_ptr<git_repository, GitFree>;
using UniqueRemote = std::unique_ptr<git_remote, GitFree>;
using UniqueCommit = std::unique_ptr<git_commit, GitFree>;
using UniqueTree = std::unique_ptr<git_tree, GitFree>;
using UniqueTreeEntry = std::unique_ptr<git_tree_entry, GitFree>;
using UniqueBlob = std::unique_ptr<git_blob, GitFree>;
using UniqueOdb = std::unique_ptr<git_odb, GitFree>;
using UniqueReference = std::unique_ptr<git_reference, GitFree>;

// libgit2's thread-local last error as text.
std::string LastGitError() {
  const git_error* error = git_error_last();
  return error != nullptr && error->message != nullptr ? error->message : "unknown libgit2 error";
}

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string OidHex(const git_oid* oid) {
  char hex[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(hex, sizeof(hex), oid);
  return hex;
}

enum class Transport { kLocal, kHttps, kHttp, kSsh, kGit };

struct SshEndpoint {
  std::string host;
  int port = 22;
};

Transport TransportOf(std::string_view url) {
  if (url.starts_with("https://")) return Transport::kHttps;
  if (url.starts_with("http://")) return Transport::kHttp;
  if (url.starts_with("ssh://") || url.starts_with("ssh+git://") || url.starts_with("git+ssh://")) return Transport::kSsh;
  if (url.starts_with("git://")) return Transport::kGit;
  if (url.starts_with("file://") || url.starts_with("/") || url.starts_with(".")) return Transport::kLocal;
  // scp-like "user@host:path": a colon before any slash.
  const size_t colon = url.find(':');
  const size_t slash = url.find('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash)) return Transport::kSsh;
  return Transport::kLocal;
}

// Host and port of an SSH URL, for the known_hosts lookup.
std::optional<SshEndpoint> SshEndpointOf(std::string_view url) {
  SshEndpoint endpoint;
  std::string_view rest;
  const size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    rest = url.substr(scheme + 3);
    rest = rest.substr(0, rest.find('/'));
    if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
    if (rest.starts_with("[")) {
      const size_t close = rest.find(']');
      if (close == std::string_view::npos) return std::nullopt;
      endpoint.host = std::string(rest.substr(1, close - 1));
      rest.remove_prefix(close + 1);
    } else {
      const size_t colon = rest.find(':');
      endpoint.host = std::string(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
    }
    if (!rest.empty()) {
      if (rest.front() != ':' || rest.size() < 2) return std::nullopt;
      int port = 0;
      for (char digit : rest.substr(1)) {
        if (digit < '0' || digit > '9' || port > 65535) return std::nullopt;
        port = port * 10 + (digit - '0');
      }
      if (port < 1 || port > 65535) return std::nullopt;
      endpoint.port = port;
    }
  } else {
    rest = url.substr(0, url.find(':'));
    if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
    endpoint.host = std::string(rest);
  }
  if (endpoint.host.empty()) return std::nullopt;
  return endpoint;
}

Result<std::string> ReadSmallFile(const std::string& path, std::string_view what) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) return Status::FailedPrecondition("reading " + std::string(what) + " " + Quote(path) + ": " + error.message());
  if (size > (size_t{1} << 20)) return Status::FailedPrecondition(std::string(what) + " " + Quote(path) + " is larger than 1 MiB");
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::FailedPrecondition("cannot open " + std::string(what) + " " + Quote(path));
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

std::string TrimWhitespace(std::string text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// Refuses "", "/x", "x/../y", "./x", "x//y" and control characters; drops a trailing "/".
Result<std::string> NormalizeTreePath(std::string path) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.empty()) return path;
  if (path.front() == '/') return Status::InvalidArgument("git path " + Quote(path) + " must be relative to the repository root");
  std::string_view rest = path;
  while (true) {
    const size_t slash = rest.find('/');
    const std::string_view component = rest.substr(0, slash);
    if (component.empty() || component == "." || component == "..") {
      return Status::InvalidArgument("git path " + Quote(path) + " has an empty, \".\" or \"..\" component");
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  for (unsigned char character : path) {
    if (character < 0x20 || character == 0x7f) return Status::InvalidArgument("git path " + Quote(path) + " has a control character");
  }
  return path;
}

bool IsYamlName(std::string_view name) { return name.ends_with(".yaml") || name.ends_with(".yml"); }

// State shared with the libgit2 callbacks of one fetch.
struct FetchContext {
  const GitSourceOptions* options = nullptr;
  FetchNetwork* network = nullptr;
  std::string token;
  std::optional<SshEndpoint> ssh_endpoint;
  int credential_attempts = 0;
  std::string refusal;  // why a callback stopped the fetch, in our words
};

int StopIfOverdue(FetchContext& context) {
  switch (context.network->end()) {
    case FetchEnd::kRunning:
      if (Clock::now() < context.network->deadline()) return 0;
      [[fallthrough]];
    case FetchEnd::kTimedOut:
    case FetchEnd::kFinished:
      context.refusal = "timed out";
      break;
    case FetchEnd::kCancelled:
      context.refusal = "cancelled";
      break;
  }
  git_error_set_str(GIT_ERROR_NET, context.refusal.c_str());
  return -1;
}

int OnSideband(const char* /*text*/, int /*length*/, void* payload) {
  return StopIfOverdue(*static_cast<FetchContext*>(payload));
}

int OnTransferProgress(const git_indexer_progress* /*stats*/, void* payload) {
  return StopIfOverdue(*static_cast<FetchContext*>(payload));
}

int OnCredentials(git_credential** out, const char* /*url*/, const char* username_from_url, unsigned int allowed_types,
                  void* payload) {
  auto& context = *static_cast<FetchContext*>(payload);
  if (++context.credential_attempts > kMaxCredentialAttempts) {
    context.refusal = "authentication failed";
    git_error_set_str(GIT_ERROR_NET, "the server refused the configured credentials");
    return GIT_EAUTH;
  }
  const char* username = username_from_url != nullptr && username_from_url[0] != '\0' ? username_from_url : "git";
  if (!context.token.empty() && (allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) != 0) {
    return git_credential_userpass_plaintext_new(out, "x-access-token", context.token.c_str());
  }
  if (!context.options->ssh_key_file.empty()) {
    if ((allowed_types & GIT_CREDENTIAL_SSH_KEY) != 0) {
      return git_credential_ssh_key_new(out, username, nullptr, context.options->ssh_key_file.c_str(), nullptr);
    }
    if ((allowed_types & GIT_CREDENTIAL_USERNAME) != 0) return git_credential_username_new(out, username);
  }
  return GIT_PASSTHROUGH;
}

// TLS: libgit2's verdict stands (GIT_PASSTHROUGH), so an invalid certificate is never accepted.
// SSH: the host key must be listed for this host in the configured known_hosts file.
int OnCertificate(git_cert* certificate, int /*valid*/, const char* host, void* payload) {
  auto& context = *static_cast<FetchContext*>(payload);
  if (certificate->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) return GIT_PASSTHROUGH;
  const auto* host_key = reinterpret_cast<const git_cert_hostkey*>(certificate);
  const std::string known_hosts_file = context.options->known_hosts_file;
  if ((host_key->type & GIT_CERT_SSH_RAW) == 0 || known_hosts_file.empty() || !context.ssh_endpoint) {
    context.refusal = "cannot check the SSH host key of " + Quote(host);
    git_error_set_str(GIT_ERROR_NET, context.refusal.c_str());
    return GIT_ECERTIFICATE;
  }
  Result<std::string> known_hosts = ReadSmallFile(known_hosts_file, "known_hosts file");
  if (!known_hosts.ok()) {
    context.refusal = known_hosts.status().message();
    git_error_set_str(GIT_ERROR_NET, context.refusal.c_str());
    return GIT_ECERTIFICATE;
  }
  const HostKeyMatch match = MatchKnownHosts(*known_hosts, host, context.ssh_endpoint->port,
                                             std::string_view(host_key->hostkey, host_key->hostkey_len));
  switch (match) {
    case HostKeyMatch::kMatch:
      return 0;
    case HostKeyMatch::kMismatch:
      context.refusal = "the SSH host key of " + Quote(host) + " does not match " + Quote(known_hosts_file) +
                        " (the key changed, or someone is intercepting the connection)";
      break;
    case HostKeyMatch::kUnknownHost:
      context.refusal = "SSH host " + Quote(host) + " is not listed in " + Quote(known_hosts_file);
      break;
    case HostKeyMatch::kRevoked:
      context.refusal = "the SSH host key of " + Quote(host) + " is marked @revoked in " + Quote(known_hosts_file);
      break;
  }
  git_error_set_str(GIT_ERROR_NET, context.refusal.c_str());
  return GIT_ECERTIFICATE;
}

// Walks `tree` (at `prefix` in the commit) collecting YAML blobs, refusing what we never read.
class TreeReader {
 public:
  TreeReader(git_repository* repository, git_odb* odb, const GitSourceOptions& options)
      : repository_(repository), odb_(odb), options_(options) {}

  Status Read(const git_tree* tree, const std::string& prefix, int depth) {
    if (depth > kMaxTreeDepth) {
      return Status::FailedPrecondition("directory " + Quote(prefix) + " is nested deeper than " +
                                        std::to_string(kMaxTreeDepth) + " levels");
    }
    const size_t count = git_tree_entrycount(tree);
    for (size_t index = 0; index < count; ++index) {
      const git_tree_entry* entry = git_tree_entry_byindex(tree, index);
      const std::string name = git_tree_entry_name(entry);
      const std::string path = prefix.empty() ? name : prefix + "/" + name;
      switch (git_tree_entry_filemode(entry)) {
        case GIT_FILEMODE_TREE: {
          git_tree* subtree_raw = nullptr;
          if (git_tree_lookup(&subtree_raw, repository_, git_tree_entry_id(entry)) != 0) {
            return Status::Internal("reading directory " + Quote(path) + ": " + LastGitError());
          }
          UniqueTree subtree(subtree_raw);
          WW_RETURN_IF_ERROR(Read(subtree.get(), path, depth + 1));
          break;
        }
        case GIT_FILEMODE_LINK:
          return Status::FailedPrecondition("symlink " + Quote(path) + " is refused: the fleet must be plain files");
        case GIT_FILEMODE_COMMIT:
          return Status::FailedPrecondition("submodule " + Quote(path) + " is refused: the fleet must be plain files");
        case GIT_FILEMODE_BLOB:
        case GIT_FILEMODE_BLOB_EXECUTABLE:
          if (IsYamlName(name)) WW_RETURN_IF_ERROR(ReadBlob(entry, path));
          break;
        default:
          return Status::FailedPrecondition("entry " + Quote(path) + " has an unknown file mode");
      }
    }
    return Status::Ok();
  }

  std::vector<SourceFile> TakeFiles() { return std::move(files_); }

 private:
  Status ReadBlob(const git_tree_entry* entry, const std::string& path) {
    if (files_.size() >= options_.max_files) {
      return Status::FailedPrecondition("more than " + std::to_string(options_.max_files) + " YAML files under the git path (at " +
                                        Quote(path) + ")");
    }
    // The header gives the size without loading the object, so a huge blob is never read.
    size_t size = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    if (git_odb_read_header(&size, &type, odb_, git_tree_entry_id(entry)) != 0) {
      return Status::Internal("reading " + Quote(path) + ": " + LastGitError());
    }
    if (type != GIT_OBJECT_BLOB) return Status::FailedPrecondition(Quote(path) + " is not a blob");
    if (size > options_.max_blob_bytes) {
      return Status::FailedPrecondition("file " + Quote(path) + " is " + std::to_string(size) + " bytes, above the limit of " +
                                        std::to_string(options_.max_blob_bytes));
    }
    git_blob* blob_raw = nullptr;
    if (git_blob_lookup(&blob_raw, repository_, git_tree_entry_id(entry)) != 0) {
      return Status::Internal("reading " + Quote(path) + ": " + LastGitError());
    }
    UniqueBlob blob(blob_raw);
    const auto raw_size = static_cast<size_t>(git_blob_rawsize(blob.get()));
    files_.push_back(SourceFile{path, std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())), raw_size)});
    return Status::Ok();
  }

  git_repository* repository_;
  git_odb* odb_;
  const GitSourceOptions& options_;
  std::vector<SourceFile> files_;
};

std::string FirstLine(std::string_view message) {
  const size_t end = message.find('\n');
  std::string line(message.substr(0, end));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Keeps libgit2 initialised while any GitSource lives.
class LibraryUse {
 public:
  LibraryUse() : result_(git_libgit2_init()) {}
  LibraryUse(const LibraryUse&) = delete;
  LibraryUse& operator=(const LibraryUse&) = delete;
  ~LibraryUse() {
    if (result_ >= 0) git_libgit2_shutdown();
  }
  bool ok() const { return result_ >= 0; }

 private:
  int result_;
};

}  // namespace

struct GitSource::Repository {
  LibraryUse library;
  UniqueRepository handle;
  std::mutex mutex;
  FetchNetwork* running = nullptr;  // guarded by mutex; the fetch Cancel() stops
};

Result<std::unique_ptr<GitSource>> GitSource::Open(GitSourceOptions options) {
  if (options.url.empty()) return Status::InvalidArgument("git url is empty");
  if (options.cache_dir.empty()) return Status::InvalidArgument("git cache directory is empty");
  if (options.timeout.count() <= 0) return Status::InvalidArgument("git timeout must be positive");
  WW_ASSIGN_OR_RETURN(options.path, NormalizeTreePath(std::move(options.path)));

  auto repository = std::make_unique<Repository>();
  if (!repository->library.ok()) return Status::Internal("initialising libgit2: " + LastGitError());
  WW_RETURN_IF_ERROR(git_internal::InstallDeadlineSocketStream());

  int valid = 0;
  if (options.branch.empty() || git_reference_name_is_valid(&valid, ("refs/heads/" + options.branch).c_str()) != 0 || valid == 0) {
    return Status::InvalidArgument("git branch " + Quote(options.branch) + " is not a valid branch name");
  }
  const Transport transport = TransportOf(options.url);
  if (!options.token_file.empty() && transport != Transport::kHttps) {
    return Status::InvalidArgument("a git token file needs an https:// url, not " + Quote(options.url) +
                                   " (the token would travel in clear or be ignored)");
  }
  if (transport == Transport::kSsh) {
    if (options.known_hosts_file.empty()) {
      return Status::InvalidArgument("the ssh git url " + Quote(options.url) + " needs a known_hosts file for the host-key check");
    }
    if (!SshEndpointOf(options.url)) return Status::InvalidArgument("cannot read the host of the ssh git url " + Quote(options.url));
  } else if (!options.ssh_key_file.empty() || !options.known_hosts_file.empty()) {
    return Status::InvalidArgument("an ssh key or known_hosts file needs an ssh git url, not " + Quote(options.url));
  }

  std::error_code error;
  std::filesystem::create_directories(options.cache_dir, error);
  if (error) return Status::FailedPrecondition("creating git cache " + Quote(options.cache_dir) + ": " + error.message());
  git_repository* handle = nullptr;
  if (git_repository_open_bare(&handle, options.cache_dir.c_str()) != 0) {
    if (!std::filesystem::is_empty(options.cache_dir, error) || error) {
      return Status::FailedPrecondition("git cache " + Quote(options.cache_dir) + " is not a bare repository: " + LastGitError());
    }
    if (git_repository_init(&handle, options.cache_dir.c_str(), /*is_bare=*/1) != 0) {
      return Status::FailedPrecondition("creating git cache " + Quote(options.cache_dir) + ": " + LastGitError());
    }
  }
  repository->handle.reset(handle);
  return std::unique_ptr<GitSource>(new GitSource(std::move(options), std::move(repository)));
}

GitSource::GitSource(GitSourceOptions options, std::unique_ptr<Repository> repository)
    : options_(std::move(options)), repository_(std::move(repository)) {}

GitSource::~GitSource() = default;

void GitSource::Cancel() {
  std::lock_guard lock(repository_->mutex);
  if (repository_->running != nullptr) repository_->running->Cancel();
}

Result<GitSnapshot> GitSource::Fetch() {
  git_repository* repository = repository_->handle.get();
  const std::string where = Quote(options_.url);

  FetchContext context;
  context.options = &options_;
  if (TransportOf(options_.url) == Transport::kSsh) context.ssh_endpoint = SshEndpointOf(options_.url);
  if (!options_.token_file.empty()) {
    WW_ASSIGN_OR_RETURN(std::string token, ReadSmallFile(options_.token_file, "git token file"));
    context.token = TrimWhitespace(std::move(token));
    if (context.token.empty()) return Status::FailedPrecondition("git token file " + Quote(options_.token_file) + " is empty");
  }

  // Declared before the remote so it outlives every stream the remote opens.
  FetchNetwork network(Clock::now() + options_.timeout);
  context.network = &network;
  {
    std::lock_guard lock(repository_->mutex);
    repository_->running = &network;
  }
  struct ClearRunning {
    Repository& repository;
    ~ClearRunning() {
      std::lock_guard lock(repository.mutex);
      repository.running = nullptr;
    }
  } clear_running{*repository_};
  git_internal::ScopedFetchNetwork scoped_network(network);

  auto fetch_error = [&](std::string_view step) -> Status {
    std::string reason = context.refusal.empty() ? LastGitError() : context.refusal;
    const FetchEnd end = network.end();
    if (end == FetchEnd::kCancelled) {
      reason = "cancelled";
    } else if (end == FetchEnd::kTimedOut || Clock::now() >= network.deadline()) {
      reason = "timed out after " + std::to_string(options_.timeout.count()) + " ms";
    }
    return Status::Unavailable(std::string(step) + " " + where + ": " + reason);
  };

  git_remote* remote_raw = nullptr;
  if (git_remote_create_anonymous(&remote_raw, repository, options_.url.c_str()) != 0) {
    return Status::InvalidArgument("git url " + where + ": " + LastGitError());
  }
  UniqueRemote remote(remote_raw);

  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  callbacks.sideband_progress = OnSideband;
  callbacks.transfer_progress = OnTransferProgress;
  callbacks.credentials = OnCredentials;
  callbacks.certificate_check = OnCertificate;
  callbacks.payload = &context;

  git_remote_connect_options connect_options = GIT_REMOTE_CONNECT_OPTIONS_INIT;
  connect_options.callbacks = callbacks;
  connect_options.follow_redirects = GIT_REMOTE_REDIRECT_INITIAL;
  if (git_remote_connect_ext(remote.get(), GIT_DIRECTION_FETCH, &connect_options) != 0) return fetch_error("connecting to");

  // The branch must exist now: a stale tracking ref must never stand in for a deleted branch.
  const std::string branch_ref = "refs/heads/" + options_.branch;
  const git_remote_head** heads = nullptr;
  size_t head_count = 0;
  if (git_remote_ls(&heads, &head_count, remote.get()) != 0) return fetch_error("listing branches of");
  std::optional<git_oid> head_oid;
  for (size_t index = 0; index < head_count; ++index) {
    if (branch_ref == heads[index]->name) head_oid = heads[index]->oid;
  }
  if (!head_oid) return Status::NotFound("branch " + Quote(options_.branch) + " not found in " + where);

  const std::string tracking_ref = "refs/remotes/origin/" + options_.branch;
  const std::string refspec = "+" + branch_ref + ":" + tracking_ref;
  char* refspec_text = const_cast<char*>(refspec.c_str());
  const git_strarray refspecs{&refspec_text, 1};
  git_fetch_options fetch_options = GIT_FETCH_OPTIONS_INIT;
  fetch_options.callbacks = callbacks;
  fetch_options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  fetch_options.update_fetchhead = 0;
  fetch_options.follow_redirects = GIT_REMOTE_REDIRECT_INITIAL;
  if (git_remote_download(remote.get(), &refspecs, &fetch_options) != 0) return fetch_error("fetching from");
  git_remote_disconnect(remote.get());

  // Our own tracking ref: the next fetch negotiates from it, so only new objects travel.
  git_reference* reference_raw = nullptr;
  if (git_reference_create(&reference_raw, repository, tracking_ref.c_str(), &*head_oid, /*force=*/1, "wirewarp fetch") != 0) {
    return Status::Internal("updating " + Quote(tracking_ref) + " in the git cache: " + LastGitError());
  }
  UniqueReference reference(reference_raw);

  const std::string sha = OidHex(&*head_oid);
  git_commit* commit_raw = nullptr;
  if (git_commit_lookup(&commit_raw, repository, &*head_oid) != 0) {
    return Status::FailedPrecondition("branch " + Quote(options_.branch) + " of " + where + " points at " + sha +
                                      ", which is not a commit: " + LastGitError());
  }
  UniqueCommit commit(commit_raw);
  git_tree* root_raw = nullptr;
  if (git_commit_tree(&root_raw, commit.get()) != 0) return Status::Internal("reading the tree of " + sha + ": " + LastGitError());
  UniqueTree root(root_raw);

  UniqueTree subtree;
  const git_tree* fleet_tree = root.get();
  if (!options_.path.empty()) {
    git_tree_entry* entry_raw = nullptr;
    if (git_tree_entry_bypath(&entry_raw, root.get(), options_.path.c_str()) != 0) {
      return Status::NotFound("git path " + Quote(options_.path) + " not found in commit " + sha);
    }
    UniqueTreeEntry entry(entry_raw);
    if (git_tree_entry_filemode(entry.get()) != GIT_FILEMODE_TREE) {
      return Status::FailedPrecondition("git path " + Quote(options_.path) + " in commit " + sha + " is not a directory");
    }
    git_tree* subtree_raw = nullptr;
    if (git_tree_lookup(&subtree_raw, repository, git_tree_entry_id(entry.get())) != 0) {
      return Status::Internal("reading " + Quote(options_.path) + " of " + sha + ": " + LastGitError());
    }
    subtree.reset(subtree_raw);
    fleet_tree = subtree.get();
  }

  git_odb* odb_raw = nullptr;
  if (git_repository_odb(&odb_raw, repository) != 0) return Status::Internal("opening the git object database: " + LastGitError());
  UniqueOdb odb(odb_raw);
  TreeReader reader(repository, odb.get(), options_);
  Status read = reader.Read(fleet_tree, options_.path, 0);
  if (!read.ok()) return read.WithContext("commit " + sha);

  GitSnapshot snapshot;
  snapshot.commit_sha = sha;
  const git_signature* author = git_commit_author(commit.get());
  snapshot.author = std::string(author->name) + " <" + author->email + ">";
  const char* message = git_commit_message(commit.get());
  snapshot.message = message != nullptr ? message : "";
  snapshot.message_subject = FirstLine(snapshot.message);
  snapshot.time = static_cast<int64_t>(git_commit_time(commit.get()));
  snapshot.files = reader.TakeFiles();
  return snapshot;
}

}  // namespace ww
