#pragma once
// What the control-plane bench leaves behind if it stops early: the reconcilers it started
// and its scratch directories. Install() before any thread is made: it blocks SIGINT, SIGTERM
// and SIGHUP in every thread and takes them on a thread of its own, which kills every
// registered process, removes every registered directory and exits 130. Die() (bench_support.h)
// does the same through ExitNow(). A reconciler also dies with the bench if the bench is
// killed outright (PR_SET_PDEATHSIG in reconciler_process.cc). Thread-safe.

#include <sys/types.h>

#include <filesystem>
#include <mutex>
#include <set>

namespace ww::bench {

class BenchCleanup {
 public:
  static BenchCleanup& Instance();

  // REQUIRES: called once, before any other thread exists.
  void Install();

  void AddProcess(pid_t pid);
  void RemoveProcess(pid_t pid);
  void AddDirectory(const std::filesystem::path& directory);
  void RemoveDirectory(const std::filesystem::path& directory);

  // SIGKILLs and reaps every registered process, removes every registered directory and
  // exits with `exit_code` (without running other threads' destructors).
  [[noreturn]] void ExitNow(int exit_code);

 private:
  BenchCleanup() = default;
  void CleanUp();

  std::mutex mutex_;
  std::set<pid_t> processes_;                  // GUARDED_BY(mutex_)
  std::set<std::filesystem::path> directories_;  // GUARDED_BY(mutex_)
};

}  // namespace ww::bench
