#include "reconciler/server/artifact_catalog.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>
#include <utility>

#include "reconciler/pki/certificate_authority.h"

namespace ww {
namespace {

constexpr std::size_t kMaxNameLength = 64;
constexpr std::size_t kMaxPlatformPartLength = 16;
constexpr std::size_t kHashReadSize = 256 * 1024;

bool IsLowerOrDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// [a-z0-9]+ (starting with a letter when `letter_first`), at most `max` characters.
bool IsPart(std::string_view part, bool letter_first, std::size_t max) {
  if (part.empty() || part.size() > max) return false;
  if (letter_first && !(part.front() >= 'a' && part.front() <= 'z')) return false;
  return std::all_of(part.begin(), part.end(), IsLowerOrDigit);
}

std::string ErrnoText() { return std::strerror(errno); }

struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) close(fd);
  }
  int Release() { return std::exchange(fd, -1); }
};

}  // namespace

bool IsArtifactName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || !(name.front() >= 'a' && name.front() <= 'z')) return false;
  if (name.back() == '-' || name.find("--") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsLowerOrDigit(c) || c == '-'; });
}

bool IsArtifactPlatform(std::string_view platform) {
  std::size_t hyphen = platform.find('-');
  if (hyphen == std::string_view::npos) return false;
  return IsPart(platform.substr(0, hyphen), /*letter_first=*/true, kMaxPlatformPartLength) &&
         IsPart(platform.substr(hyphen + 1), /*letter_first=*/false, kMaxPlatformPartLength);
}

std::optional<ArtifactId> ParseArtifactFileName(std::string_view file_name) {
  std::size_t arch = file_name.rfind('-');
  if (arch == std::string_view::npos || arch == 0) return std::nullopt;
  std::size_t os = file_name.rfind('-', arch - 1);
  if (os == std::string_view::npos) return std::nullopt;
  ArtifactId id{std::string(file_name.substr(0, os)), std::string(file_name.substr(os + 1))};
  if (!IsArtifactName(id.name) || !IsArtifactPlatform(id.platform)) return std::nullopt;
  return id;
}

ArtifactCatalog::ArtifactCatalog(std::string directory, std::string version)
    : directory_(std::move(directory)), version_(std::move(version)) {}

Result<std::vector<ArtifactInfo>> ArtifactCatalog::List() const {
  std::vector<ArtifactId> ids;
  DIR* dir = opendir(directory_.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return std::vector<ArtifactInfo>{};
    return Status::Internal("cannot read the artifacts directory " + directory_ + ": " + ErrnoText());
  }
  while (dirent* entry = readdir(dir)) {
    if (std::optional<ArtifactId> id = ParseArtifactFileName(entry->d_name)) ids.push_back(std::move(*id));
  }
  closedir(dir);
  std::sort(ids.begin(), ids.end(), [](const ArtifactId& a, const ArtifactId& b) {
    return std::tie(a.name, a.platform) < std::tie(b.name, b.platform);
  });
  std::vector<ArtifactInfo> artifacts;
  for (const ArtifactId& id : ids) {
    Result<OpenArtifact> opened = Open(id);
    if (opened.ok()) {
      artifacts.push_back(std::move(opened->info));
    } else if (opened.status().code() != StatusCode::kNotFound) {
      return opened.status();
    }
  }
  return artifacts;
}

Result<OpenArtifact> ArtifactCatalog::Open(const ArtifactId& id) const {
  if (!IsArtifactName(id.name) || !IsArtifactPlatform(id.platform)) {
    return Status::NotFound("no artifact named \"" + id.name + "\" for \"" + id.platform + "\"");
  }
  const std::string file_name = id.FileName();
  const std::string path = directory_ + "/" + file_name;
  // O_NONBLOCK: a FIFO put there must not hang the handler; it is refused below.
  Descriptor file{open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (file.fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return Status::NotFound("no artifact " + id.name + " for " + id.platform);
    }
    return Status::Internal("cannot open the artifact " + file_name + ": " + ErrnoText());
  }
  struct stat facts {};
  if (fstat(file.fd, &facts) != 0) return Status::Internal("cannot stat the artifact " + file_name + ": " + ErrnoText());
  if (!S_ISREG(facts.st_mode)) return Status::NotFound("no artifact " + id.name + " for " + id.platform);
  FileVersion version{static_cast<std::uint64_t>(facts.st_dev), static_cast<std::uint64_t>(facts.st_ino),
                      static_cast<std::uint64_t>(facts.st_size),
                      std::int64_t{facts.st_mtim.tv_sec} * 1000000000 + facts.st_mtim.tv_nsec};
  auto body = std::make_shared<const FileBody>(file.Release(), version.size);
  WW_ASSIGN_OR_RETURN(std::string sha256, HashOf(file_name, *body, version));
  return OpenArtifact{ArtifactInfo{id, version_, std::move(sha256), version.size}, std::move(body)};
}

Result<std::string> ArtifactCatalog::HashOf(const std::string& file_name, const FileBody& file,
                                            const FileVersion& version) const {
  {
    std::lock_guard lock(mutex_);
    if (auto found = hashes_.find(file_name); found != hashes_.end() && found->second.version == version) {
      return found->second.sha256;
    }
  }
  // Outside the lock: hashing a large file must not hold up other requests.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    return Status::Internal("cannot start a SHA-256 digest");
  }
  std::string buffer(kHashReadSize, '\0');
  std::uint64_t offset = 0;
  while (offset < version.size) {
    WW_ASSIGN_OR_RETURN(std::size_t got, file.ReadAt(offset, buffer.data(), buffer.size()));
    if (got == 0) return Status::Internal("the artifact " + file_name + " shrank while it was hashed");
    std::size_t used = static_cast<std::size_t>(std::min<std::uint64_t>(got, version.size - offset));
    if (EVP_DigestUpdate(context.get(), buffer.data(), used) != 1) return Status::Internal("SHA-256 digest failed");
    offset += used;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1) return Status::Internal("SHA-256 digest failed");
  std::string sha256 = LowercaseHex(digest, length);
  std::lock_guard lock(mutex_);
  hashes_[file_name] = CachedHash{version, sha256};
  ++hashes_computed_;
  return sha256;
}

std::size_t ArtifactCatalog::HashesComputed() const {
  std::lock_guard lock(mutex_);
  return hashes_computed_;
}

}  // namespace ww
