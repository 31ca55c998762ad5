#pragma once
// ArtifactCatalog: the files the reconciler hands out from --artifacts-dir (GET /v1/artifacts,
// reconciler/api/API.md), e.g. wwctl-linux-amd64, the wwctl bundle CI runners download. A file
// is an artifact when its name is NAME-OS-ARCH from a closed pattern (lowercase letters,
// digits and single hyphens: no dot, slash or anything else a path could be made of) and it
// is a regular file; everything else in the directory is ignored. Each file's SHA-256 is
// computed once per change (device, inode, size and mtime), not per request; the file is sent
// from the descriptor that was checked, so a file replaced by rename is never sent with the
// other's hash. Thread-safe.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/api/file_body.h"
#include "schema/result.h"

namespace ww {

inline constexpr const char* kDefaultArtifactsDir = "/usr/share/wirewarp/artifacts";

// NAME: [a-z][a-z0-9]* with single hyphens between parts, at most 64 characters.
bool IsArtifactName(std::string_view name);
// PLATFORM: OS-ARCH, OS [a-z][a-z0-9]* and ARCH [a-z0-9]+ (e.g. linux-amd64, linux-386),
// each at most 16 characters.
bool IsArtifactPlatform(std::string_view platform);

struct ArtifactId {
  std::string name;      // "wwctl"
  std::string platform;  // "linux-amd64"

  // "wwctl-linux-amd64": the file's name in the directory and the name clients save it under.
  std::string FileName() const { return name + "-" + platform; }
  bool operator==(const ArtifactId&) const = default;
};

// "wirewarp-agent-linux-arm64" -> {wirewarp-agent, linux-arm64}: the platform is the last
// two parts. nullopt for a name outside the pattern.
std::optional<ArtifactId> ParseArtifactFileName(std::string_view file_name);

struct ArtifactInfo {
  ArtifactId id;
  std::string version;  // the reconciler's: artifacts ship with it
  std::string sha256;   // lowercase hex
  std::uint64_t size = 0;
  bool operator==(const ArtifactInfo&) const = default;
};

struct OpenArtifact {
  ArtifactInfo info;
  std::shared_ptr<const FileBody> file;  // the bytes `info.sha256` was computed over
};

class ArtifactCatalog {
 public:
  ArtifactCatalog(std::string directory, std::string version);

  // Every artifact, sorted by name and platform; empty when the directory does not exist.
  Result<std::vector<ArtifactInfo>> List() const;
  // kNotFound when `id` is outside the pattern or no such regular file exists.
  Result<OpenArtifact> Open(const ArtifactId& id) const;
  // Files hashed so far (each change of a file counts once).
  std::size_t HashesComputed() const;
  const std::string& directory() const { return directory_; }

 private:
  struct FileVersion {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const FileVersion&) const = default;
  };
  struct CachedHash {
    FileVersion version;
    std::string sha256;
  };

  // The file's SHA-256, from the cache when its version is unchanged.
  Result<std::string> HashOf(const std::string& file_name, const FileBody& file, const FileVersion& version) const;

  std::string directory_;
  std::string version_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, CachedHash> hashes_;  // by file name; GUARDED_BY(mutex_)
  mutable std::size_t hashes_computed_ = 0;           // GUARDED_BY(mutex_)
};

}  // namespace ww
