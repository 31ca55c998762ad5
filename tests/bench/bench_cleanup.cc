#include "tests/bench/bench_cleanup.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <thread>

namespace ww::bench {

BenchCleanup& BenchCleanup::Instance() {
  static BenchCleanup* instance = new BenchCleanup();  // never destroyed: the signal thread may use it at exit
  return *instance;
}

void BenchCleanup::Install() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([this, signals] {
    int received = 0;
    sigwait(&signals, &received);
    std::fprintf(stderr, "\ncontrolplane_bench: signal %d: stopping the reconciler and removing scratch files\n",
                 received);
    ExitNow(130);
  }).detach();
}

void BenchCleanup::AddProcess(pid_t pid) {
  std::lock_guard lock(mutex_);
  processes_.insert(pid);
}

void BenchCleanup::RemoveProcess(pid_t pid) {
  std::lock_guard lock(mutex_);
  processes_.erase(pid);
}

void BenchCleanup::AddDirectory(const std::filesystem::path& directory) {
  std::lock_guard lock(mutex_);
  directories_.insert(directory);
}

void BenchCleanup::RemoveDirectory(const std::filesystem::path& directory) {
  std::lock_guard lock(mutex_);
  directories_.erase(directory);
}

void BenchCleanup::CleanUp() {
  std::lock_guard lock(mutex_);
  for (pid_t pid : processes_) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  processes_.clear();
  // Other threads may still be writing into them (an enrollment in flight): try again.
  for (const std::filesystem::path& directory : directories_) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      std::error_code ignored;
      std::filesystem::remove_all(directory, ignored);
      if (!std::filesystem::exists(directory, ignored)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  directories_.clear();
}

void BenchCleanup::ExitNow(int exit_code) {
  CleanUp();
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(exit_code);
}

}  // namespace ww::bench
