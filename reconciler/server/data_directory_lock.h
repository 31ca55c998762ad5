#pragma once
// One reconciler per data directory: two processes on one SQLite file and one CA would each
// think they own the fleet (plan generations, the git cache, the webhook). The lock is an
// exclusive flock(2) on DATA_DIR/reconciler.lock, held for the life of the object; the kernel
// drops it when the process dies, so a crash never leaves a stale lock behind. The file holds
// the owner's pid, for the refusal message only.

#include <string>

#include "schema/result.h"

namespace ww {

inline constexpr const char* kDataDirectoryLockFileName = "reconciler.lock";

class DataDirectoryLock {
 public:
  // Creates `data_dir` (0700) when missing, then takes the lock. kFailedPrecondition naming
  // the lock file and the holder's pid when another process holds it.
  static Result<DataDirectoryLock> Acquire(const std::string& data_dir);

  DataDirectoryLock(DataDirectoryLock&& other) noexcept;
  DataDirectoryLock& operator=(DataDirectoryLock&& other) noexcept;
  DataDirectoryLock(const DataDirectoryLock&) = delete;
  DataDirectoryLock& operator=(const DataDirectoryLock&) = delete;
  ~DataDirectoryLock();  // releases the lock

  const std::string& path() const { return path_; }

 private:
  DataDirectoryLock(int descriptor, std::string path) : descriptor_(descriptor), path_(std::move(path)) {}

  int descriptor_ = -1;
  std::string path_;
};

}  // namespace ww
