#pragma once
// StateDir: the agent's directory of durable state (default /var/lib/wirewarp), mode 0700
// and owned by the agent's user. It holds the WireGuard private key (wireguard.key, 0600, in
// the format `wg set IF private-key FILE` reads), the last successfully applied desired
// config (last-applied.json, for `restore` with no network) and the interfaces the agent
// created (owned.json, for observation and `down`). Every file is written atomically
// (temporary file, fsync, rename, fsync of the directory). One StateDir per process; not
// thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/agent_config.h"
#include "schema/net.h"
#include "schema/result.h"

namespace ww::agent {

inline constexpr std::string_view kWireguardKeyFile = "wireguard.key";
inline constexpr std::string_view kLastAppliedFile = "last-applied.json";
inline constexpr std::string_view kOwnedFile = "owned.json";
// The name the reconciler gave this agent at enrollment (one line); the TLS files beside it
// are named in reconciler/client/enroll_client.h.
inline constexpr std::string_view kAgentNameFile = "agent-name";
// The reconciler URL the agent enrolled with (one line), which `run` dials.
inline constexpr std::string_view kReconcilerUrlFile = "reconciler-url";

enum class CreateMode { kOpenExisting, kCreateIfMissing };

class StateDir {
 public:
  // Opens `path`, creating it (and missing parents, 0755) with mode 0700 under
  // kCreateIfMissing. Refuses a directory that group or others can access, or that another
  // user owns, saying how to fix it. Removes temporary files a crash left behind.
  static Result<StateDir> Open(const std::string& path, CreateMode mode);

  StateDir(StateDir&& other) noexcept;
  StateDir& operator=(StateDir&& other) noexcept;
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;
  ~StateDir();

  const std::string& path() const { return path_; }
  std::string FilePath(std::string_view name) const { return path_ + "/" + std::string(name); }
  std::string WireguardKeyPath() const { return FilePath(kWireguardKeyFile); }

  // Holds an exclusive lock on the directory until this object is destroyed, so two agents
  // (the daemon and a manual `apply`) never change the host at once. kUnavailable when
  // another process holds it.
  Status Lock();

  // The agent's WireGuard public key, generating and storing the private key the first
  // time. Idempotent, also against a concurrent keygen: the first stored key wins.
  Result<WireguardKey> EnsureWireguardKey();
  // kNotFound when no key has been generated yet.
  Result<WireguardKey> LoadWireguardPublicKey() const;

  Status SaveLastApplied(const AgentConfig& config);
  // nullopt when nothing was applied yet; kFailedPrecondition naming the file when it is
  // corrupt.
  Result<std::optional<AgentConfig>> LoadLastApplied() const;

  // Interface names the agent created, sorted and unique; empty when none are recorded.
  Result<std::vector<std::string>> LoadOwnedInterfaces() const;
  Status SaveOwnedInterfaces(std::vector<std::string> names);

  // Replaces `name` in the directory with `contents` (mode 0600) atomically: readers see the
  // old or the new file, never a mix, also after a crash or power loss.
  Status WriteFileAtomically(std::string_view name, std::string_view contents);
  // nullopt when the file does not exist. Refuses files over `max_size` bytes.
  Result<std::optional<std::string>> ReadFile(std::string_view name, size_t max_size = 64u << 20) const;
  // Removes `name` and syncs the directory; a missing file is not an error.
  Status RemoveFile(std::string_view name);

 private:
  StateDir(std::string path, int directory_fd) : path_(std::move(path)), directory_fd_(directory_fd) {}
  enum class Existing { kReplace, kKeep };
  // Writes a temporary file and moves it to `name`; with kKeep an existing `name` wins and
  // the result is false.
  Result<bool> PublishFile(std::string_view name, std::string_view contents, Existing existing);

  std::string path_;
  int directory_fd_ = -1;
};

}  // namespace ww::agent
