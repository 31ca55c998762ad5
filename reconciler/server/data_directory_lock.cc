#include "reconciler/server/data_directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ww {
namespace {

Status ErrnoStatus(const std::string& what, const std::string& path) {
  return Status::Internal(what + " \"" + path + "\": " + std::strerror(errno));
}

// The pid the holder wrote, or "" when unreadable.
std::string HolderPid(int descriptor) {
  char buffer[32] = {};
  ssize_t count = pread(descriptor, buffer, sizeof(buffer) - 1, 0);
  std::string text = count > 0 ? std::string(buffer, static_cast<std::size_t>(count)) : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos ? text : "";
}

}  // namespace

Result<DataDirectoryLock> DataDirectoryLock::Acquire(const std::string& data_dir) {
  if (mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus("creating directory", data_dir);
  std::string path = data_dir + "/" + kDataDirectoryLockFileName;
  int descriptor = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (descriptor < 0) return ErrnoStatus("opening the lock file", path);
  if (flock(descriptor, LOCK_EX | LOCK_NB) != 0) {
    int error = errno;
    std::string pid = HolderPid(descriptor);
    close(descriptor);
    if (error == EWOULDBLOCK) {
      return Status::FailedPrecondition("data directory \"" + data_dir + "\" is in use by another wirewarp-reconciler" +
                                        (pid.empty() ? "" : " (pid " + pid + ")") + ": it holds the lock " + path);
    }
    errno = error;
    return ErrnoStatus("locking", path);
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(descriptor, 0) != 0 || pwrite(descriptor, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    Status status = ErrnoStatus("writing", path);
    close(descriptor);
    return status;
  }
  return DataDirectoryLock(descriptor, std::move(path));
}

DataDirectoryLock::DataDirectoryLock(DataDirectoryLock&& other) noexcept
    : descriptor_(std::exchange(other.descriptor_, -1)), path_(std::move(other.path_)) {}

DataDirectoryLock& DataDirectoryLock::operator=(DataDirectoryLock&& other) noexcept {
  if (this != &other) {
    if (descriptor_ >= 0) close(descriptor_);
    descriptor_ = std::exchange(other.descriptor_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

DataDirectoryLock::~DataDirectoryLock() {
  // Closing the last descriptor of the open file releases the flock.
  if (descriptor_ >= 0) close(descriptor_);
}

}  // namespace ww
