#include "agent/state/state_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "reconciler/pki/wireguard_keys.h"
#include "schema/wire_json.h"

namespace ww::agent {
namespace {

constexpr std::string_view kTemporaryMarker = ".tmp-";
constexpr int kOwnedFormatVersion = 1;

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

// errno becomes a Status here, naming the file and what was being done to it.
Status FileError(const std::string& action, const std::string& path, int error_number) {
  std::string message = action + " " + Quote(path) + ": " + std::strerror(error_number);
  if (error_number == ENOENT) return Status::NotFound(message);
  if (error_number == EACCES || error_number == EPERM || error_number == EEXIST || error_number == ENOTDIR ||
      error_number == ELOOP) {
    return Status::FailedPrecondition(message);
  }
  return Status::Unavailable(message);
}

std::string OctalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Ownership and permissions an agent secret may have: ours, and nobody else's to read.
Status CheckPrivate(const struct stat& info, const std::string& path, std::string_view what) {
  if (info.st_uid != ::geteuid()) {
    return Status::FailedPrecondition(std::string(what) + " " + Quote(path) + " is owned by uid " +
                                      std::to_string(info.st_uid) + ", not by this user (uid " +
                                      std::to_string(::geteuid()) + "); fix with: chown " +
                                      std::to_string(::geteuid()) + " '" + path + "'");
  }
  if ((info.st_mode & 077) != 0) {
    bool directory = S_ISDIR(info.st_mode);
    return Status::FailedPrecondition(std::string(what) + " " + Quote(path) + " has mode " +
                                      OctalMode(info.st_mode) +
                                      ": group and others must have no access; fix with: chmod " +
                                      (directory ? "700" : "600") + " '" + path + "'");
  }
  return Status::Ok();
}

// mkdir -p for the parents of `path`; they get 0755 like any system directory.
Status CreateParents(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string parent = path.substr(0, slash);
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) return FileError("creating", parent, errno);
  }
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view contents, const std::string& path) {
  size_t offset = 0;
  while (offset < contents.size()) {
    ssize_t written = ::write(fd, contents.data() + offset, contents.size() - offset);
    if (written < 0) {
      if (errno == EINTR) continue;
      return FileError("writing", path, errno);
    }
    offset += static_cast<size_t>(written);
  }
  return Status::Ok();
}

std::atomic<unsigned> temporary_counter{0};

}  // namespace

Result<StateDir> StateDir::Open(const std::string& path, CreateMode mode) {
  if (path.empty()) return Status::InvalidArgument("the state directory path is empty");
  std::string clean = path;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();

  if (mode == CreateMode::kCreateIfMissing) {
    WW_RETURN_IF_ERROR(CreateParents(clean));
    if (::mkdir(clean.c_str(), 0700) == 0) {
      // The umask may have taken bits away; never leaves any to add, but be exact.
      if (::chmod(clean.c_str(), 0700) != 0) return FileError("setting permissions of", clean, errno);
    } else if (errno != EEXIST) {
      return FileError("creating state directory", clean, errno);
    }
  }
  int fd = ::open(clean.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("state directory " + Quote(clean) + " does not exist");
    return FileError("opening state directory", clean, errno);
  }
  StateDir directory(clean, fd);
  struct stat info;
  if (::fstat(fd, &info) != 0) return FileError("inspecting", clean, errno);
  WW_RETURN_IF_ERROR(CheckPrivate(info, clean, "state directory"));

  // A crash between writing a temporary file and renaming it leaves the temporary behind.
  int listing_fd = ::dup(fd);
  if (listing_fd < 0) return FileError("listing", clean, errno);
  DIR* listing = ::fdopendir(listing_fd);
  if (listing == nullptr) {
    ::close(listing_fd);
    return FileError("listing", clean, errno);
  }
  std::vector<std::string> stale;
  while (struct dirent* entry = ::readdir(listing)) {
    std::string_view name = entry->d_name;
    if (name.size() > 1 && name[0] == '.' && name.find(kTemporaryMarker) != std::string_view::npos) {
      stale.emplace_back(name);
    }
  }
  ::closedir(listing);
  for (const std::string& name : stale) ::unlinkat(fd, name.c_str(), 0);
  return directory;
}

StateDir::StateDir(StateDir&& other) noexcept
    : path_(std::move(other.path_)), directory_fd_(std::exchange(other.directory_fd_, -1)) {}

StateDir& StateDir::operator=(StateDir&& other) noexcept {
  if (this != &other) {
    if (directory_fd_ >= 0) ::close(directory_fd_);
    path_ = std::move(other.path_);
    directory_fd_ = std::exchange(other.directory_fd_, -1);
  }
  return *this;
}

StateDir::~StateDir() {
  if (directory_fd_ >= 0) ::close(directory_fd_);
}

Status StateDir::Lock() {
  // The lock belongs to this descriptor and ends when it is closed.
  while (::flock(directory_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return Status::Unavailable("state directory " + Quote(path_) + " is in use by another wirewarp-agent");
    }
    return FileError("locking", path_, errno);
  }
  return Status::Ok();
}

Result<bool> StateDir::PublishFile(std::string_view name, std::string_view contents, Existing existing) {
  std::string temporary = "." + std::string(name) + std::string(kTemporaryMarker) + std::to_string(::getpid()) +
                          "-" + std::to_string(temporary_counter.fetch_add(1));
  std::string temporary_path = FilePath(temporary);
  ScopedFd file(::openat(directory_fd_, temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (file.get() < 0) return FileError("creating", temporary_path, errno);
  auto discard = [&](Status status) {
    ::unlinkat(directory_fd_, temporary.c_str(), 0);
    return status;
  };
  if (::fchmod(file.get(), 0600) != 0) return discard(FileError("setting permissions of", temporary_path, errno));
  Status written = WriteAll(file.get(), contents, temporary_path);
  if (!written.ok()) return discard(written);
  if (::fsync(file.get()) != 0) return discard(FileError("syncing", temporary_path, errno));
  if (::close(file.Release()) != 0) return discard(FileError("closing", temporary_path, errno));

  bool published = true;
  if (existing == Existing::kReplace) {
    if (::renameat(directory_fd_, temporary.c_str(), directory_fd_, std::string(name).c_str()) != 0) {
      return discard(FileError("renaming " + Quote(temporary_path) + " to", FilePath(name), errno));
    }
  } else {
    // link() fails with EEXIST instead of replacing: the first writer wins.
    if (::linkat(directory_fd_, temporary.c_str(), directory_fd_, std::string(name).c_str(), 0) != 0) {
      if (errno != EEXIST) return discard(FileError("linking " + Quote(temporary_path) + " to", FilePath(name), errno));
      published = false;
    }
    ::unlinkat(directory_fd_, temporary.c_str(), 0);
  }
  if (::fsync(directory_fd_) != 0) return FileError("syncing", path_, errno);
  return published;
}

Status StateDir::WriteFileAtomically(std::string_view name, std::string_view contents) {
  WW_ASSIGN_OR_RETURN(bool published, PublishFile(name, contents, Existing::kReplace));
  (void)published;
  return Status::Ok();
}

Result<std::optional<std::string>> StateDir::ReadFile(std::string_view name, size_t max_size) const {
  std::string file_path = FilePath(name);
  ScopedFd file(::openat(directory_fd_, std::string(name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (file.get() < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return FileError("opening", file_path, errno);
  }
  struct stat info;
  if (::fstat(file.get(), &info) != 0) return FileError("inspecting", file_path, errno);
  if (!S_ISREG(info.st_mode)) return Status::FailedPrecondition(Quote(file_path) + " is not a regular file");
  if (static_cast<uint64_t>(info.st_size) > max_size) {
    return Status::FailedPrecondition(Quote(file_path) + " is " + std::to_string(info.st_size) +
                                      " bytes, more than the " + std::to_string(max_size) + " allowed");
  }
  std::string contents;
  contents.resize(static_cast<size_t>(info.st_size));
  size_t offset = 0;
  while (offset < contents.size()) {
    ssize_t count = ::read(file.get(), contents.data() + offset, contents.size() - offset);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return FileError("reading", file_path, errno);
    if (count == 0) break;
    offset += static_cast<size_t>(count);
  }
  contents.resize(offset);
  return std::optional<std::string>(std::move(contents));
}

Status StateDir::RemoveFile(std::string_view name) {
  if (::unlinkat(directory_fd_, std::string(name).c_str(), 0) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return FileError("removing", FilePath(name), errno);
  }
  if (::fsync(directory_fd_) != 0) return FileError("syncing", path_, errno);
  return Status::Ok();
}

namespace {

// Reads wireguard.key into a fixed buffer (no reallocation leaves copies of the secret in
// freed memory), checks it is private, parses it and wipes the buffer.
Result<WireguardKey> ReadPrivateKey(int directory_fd, const std::string& file_path) {
  ScopedFd file(::openat(directory_fd, std::string(kWireguardKeyFile).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (file.get() < 0) {
    if (errno == ENOENT) return Status::NotFound("no WireGuard key in " + Quote(file_path) + " yet");
    return FileError("opening", file_path, errno);
  }
  struct stat info;
  if (::fstat(file.get(), &info) != 0) return FileError("inspecting", file_path, errno);
  if (!S_ISREG(info.st_mode)) return Status::FailedPrecondition(Quote(file_path) + " is not a regular file");
  WW_RETURN_IF_ERROR(CheckPrivate(info, file_path, "key file"));

  char buffer[128];
  size_t length = 0;
  while (length < sizeof(buffer)) {
    ssize_t count = ::read(file.get(), buffer + length, sizeof(buffer) - length);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      OPENSSL_cleanse(buffer, sizeof(buffer));
      return FileError("reading", file_path, errno);
    }
    if (count == 0) break;
    length += static_cast<size_t>(count);
  }
  while (length > 0 && (buffer[length - 1] == '\n' || buffer[length - 1] == '\r' || buffer[length - 1] == ' ')) {
    --length;
  }
  Result<WireguardKey> parsed = WireguardKey::Parse(std::string_view(buffer, length));
  OPENSSL_cleanse(buffer, sizeof(buffer));
  // Parse quotes the bad value in its message; never echo a (broken) secret.
  if (!parsed.ok()) {
    return Status::FailedPrecondition(Quote(file_path) +
                                      " does not hold a WireGuard private key (44 characters of base64)");
  }
  return parsed;
}

}  // namespace

Result<WireguardKey> StateDir::LoadWireguardPublicKey() const {
  WW_ASSIGN_OR_RETURN(WireguardKey private_key, ReadPrivateKey(directory_fd_, WireguardKeyPath()));
  Result<WireguardKey> public_key = WireguardPublicKeyFromPrivate(private_key);
  WipeWireguardKey(private_key);
  return public_key;
}

Result<WireguardKey> StateDir::EnsureWireguardKey() {
  Result<WireguardKey> existing = LoadWireguardPublicKey();
  if (existing.ok() || existing.status().code() != StatusCode::kNotFound) return existing;

  WW_ASSIGN_OR_RETURN(WireguardKeyPair pair, GenerateWireguardKeyPair());
  std::string contents = pair.private_key.ToBase64() + "\n";
  Result<bool> published = PublishFile(kWireguardKeyFile, contents, Existing::kKeep);
  OPENSSL_cleanse(contents.data(), contents.size());
  if (!published.ok()) return published.status();
  if (!*published) return LoadWireguardPublicKey();  // another keygen got there first
  return pair.public_key;
}

Status StateDir::SaveLastApplied(const AgentConfig& config) {
  std::string json = AgentConfigToJson(config, JsonStyle::kPretty);
  if (json.empty() || json.back() != '\n') json += '\n';
  return WriteFileAtomically(kLastAppliedFile, json);
}

Result<std::optional<AgentConfig>> StateDir::LoadLastApplied() const {
  WW_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadFile(kLastAppliedFile));
  if (!text) return std::optional<AgentConfig>();
  Result<AgentConfig> config = AgentConfigFromJson(*text);
  if (!config.ok()) {
    return Status::FailedPrecondition(Quote(FilePath(kLastAppliedFile)) + " is corrupt (" +
                                      config.status().message() +
                                      "); remove it and apply a desired config again to recreate it");
  }
  return std::optional<AgentConfig>(std::move(config).value());
}

Result<std::vector<std::string>> StateDir::LoadOwnedInterfaces() const {
  WW_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadFile(kOwnedFile));
  if (!text) return std::vector<std::string>();
  auto corrupt = [&](const std::string& why) {
    return Status::FailedPrecondition(Quote(FilePath(kOwnedFile)) + " is corrupt (" + why +
                                      "); list the agent's WireGuard interfaces in it or remove it");
  };
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& error) {
    return corrupt(error.what());
  }
  if (!document.is_object()) return corrupt("not a JSON object");
  auto version = document.find("formatVersion");
  if (version == document.end() || !version->is_number_integer() || *version != kOwnedFormatVersion) {
    return corrupt("formatVersion must be " + std::to_string(kOwnedFormatVersion));
  }
  auto interfaces = document.find("interfaces");
  if (interfaces == document.end() || !interfaces->is_array()) return corrupt("interfaces must be an array");
  std::vector<std::string> names;
  for (const nlohmann::json& name : *interfaces) {
    if (!name.is_string() || name.get_ref<const std::string&>().empty()) {
      return corrupt("interfaces must hold non-empty strings");
    }
    names.push_back(name.get<std::string>());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Status StateDir::SaveOwnedInterfaces(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  nlohmann::json document = {{"formatVersion", kOwnedFormatVersion}, {"interfaces", names}};
  return WriteFileAtomically(kOwnedFile, document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace ww::agent
