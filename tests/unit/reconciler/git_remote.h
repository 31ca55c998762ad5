#pragma once
// A git "remote" for tests, made with the git CLI: a bare repository and a work clone that
// commits and pushes to it. Git runs with no system or global configuration and its identity
// on the command line. Shared by the git source tests and the fleet service's git feed tests.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/git/git_source.h"
#include "tests/support/temporary_directory.h"

extern char** environ;

namespace ww::test_support {

inline constexpr std::string_view kCommitterDate = "1700000000 +0000";

// Runs git with `arguments`, returning its stdout; fails the test when git fails.
inline std::string RunGit(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv = {"git", "-c", "user.name=Test User", "-c", "user.email=test@example.org",
                                   "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  std::vector<char*> raw_argv;
  for (std::string& argument : argv) raw_argv.push_back(argument.data());
  raw_argv.push_back(nullptr);

  std::vector<std::string> environment = {"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
                                          "GIT_COMMITTER_DATE=" + std::string(kCommitterDate), "LC_ALL=C"};
  for (char** variable = environ; *variable != nullptr; ++variable) {
    const std::string_view entry(*variable);
    if (!entry.starts_with("GIT_")) environment.emplace_back(entry);
  }
  std::vector<char*> raw_environment;
  for (std::string& variable : environment) raw_environment.push_back(variable.data());
  raw_environment.push_back(nullptr);

  int output[2];
  REQUIRE(::pipe2(output, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, output[1], STDOUT_FILENO);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, "git", &actions, nullptr, raw_argv.data(), raw_environment.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(output[1]);
  REQUIRE_MESSAGE(spawned == 0, "spawning git: " << std::strerror(spawned));
  std::string text;
  char buffer[4096];
  ssize_t length = 0;
  while ((length = ::read(output[0], buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<size_t>(length));
  ::close(output[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  std::string command;
  for (const std::string& argument : arguments) command += " " + argument;
  REQUIRE_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "git" << command << " failed");
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// A bare repository with a work clone that pushes to it.
class Remote {
 public:
  Remote() : bare_(directory_.File("remote.git")), work_(directory_.File("work")) {
    RunGit({"init", "-q", "--bare", bare_});
    RunGit({"init", "-q", work_});
    RunGit({"-C", work_, "remote", "add", "origin", bare_});
  }

  void Write(const std::string& path, std::string_view content) {
    const std::filesystem::path file = std::filesystem::path(work_) / path;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
  }
  void Remove(const std::string& path) { RunGit({"-C", work_, "rm", "-q", "-r", path}); }

  // Commits everything in the work tree and pushes it to `branch`; returns the commit SHA.
  std::string CommitAndPush(const std::string& message, const std::string& branch = "main") {
    RunGit({"-C", work_, "add", "-A"});
    RunGit({"-C", work_, "commit", "-q", "--allow-empty", "-m", message});
    RunGit({"-C", work_, "push", "-q", "-f", "origin", "HEAD:refs/heads/" + branch});
    return RunGit({"-C", work_, "rev-parse", "HEAD"});
  }

  GitSourceOptions Options(const std::string& cache = "cache") const {
    GitSourceOptions options;
    options.url = bare_;
    options.branch = "main";
    options.cache_dir = directory_.File(cache);
    return options;
  }

  const std::string& bare() const { return bare_; }
  const std::string& work() const { return work_; }

 private:
  test_support::TemporaryDirectory directory_{"ww-git-source-test"};
  std::string bare_;
  std::string work_;
};

}  // namespace ww::test_support
