#include "agent/system/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

namespace ww::agent {
namespace {

using Clock = std::chrono::steady_clock;

// errno becomes a Status here and only here; the message names the program and the call.
Status PosixError(const std::string& context, int error_number) {
  return Status::Unavailable(context + ": " + std::strerror(error_number));
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Result<Pipe> MakePipe(const std::string& program) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return PosixError("creating a pipe for " + program, errno);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Status SetNonBlocking(int fd, const std::string& program) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return PosixError("configuring a pipe for " + program, errno);
  }
  return Status::Ok();
}

bool IsExecutableFile(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// posix_spawnp would search the *agent's* PATH; the child's PATH is fixed, so search it here.
Result<std::string> ResolveProgram(const std::string& program, const std::string& search_path) {
  if (program.find('/') != std::string::npos) return program;
  size_t start = 0;
  while (start <= search_path.size()) {
    size_t end = search_path.find(':', start);
    if (end == std::string::npos) end = search_path.size();
    std::string directory = search_path.substr(start, end - start);
    if (!directory.empty()) {
      std::string candidate = directory + "/" + program;
      if (IsExecutableFile(candidate)) return candidate;
    }
    start = end + 1;
  }
  return Status::Unavailable("\"" + program + "\" not found in " + search_path + " (is it installed?)");
}

int ExitCodeFromWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 128;
}

// Blocks SIGPIPE for this thread while feeding stdin, so a child that exits without reading
// makes write() fail with EPIPE instead of killing the agent. A SIGPIPE raised meanwhile is
// consumed before the mask is restored.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &previous_);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;
  ~ScopedSigpipeBlock() {
    if (!sigismember(&previous_, SIGPIPE)) {
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      struct timespec zero = {0, 0};
      while (sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }

 private:
  sigset_t previous_;
};

// A spawned child: its pid, an optional pidfd (so poll() wakes when it exits) and its
// exit status once reaped. The destructor kills and reaps a child still running, so no
// early return leaves a zombie or an orphan behind.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd >= 0) {
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      pidfd_.Reset(fd);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (!exited_) {
      ::kill(-pid_, SIGKILL);
      WaitBlocking();
    }
  }

  int pidfd() const { return exited_ ? -1 : pidfd_.get(); }
  bool exited() const { return exited_; }
  int exit_code() const { return ExitCodeFromWaitStatus(wait_status_); }

  // Reaps the child if it has exited.
  void Poll() {
    if (exited_) return;
    int status = 0;
    pid_t result;
    do {
      result = ::waitpid(pid_, &status, WNOHANG);
    } while (result < 0 && errno == EINTR);
    if (result == pid_ || (result < 0 && errno == ECHILD)) Reaped(status);
  }

  // Signals the whole process group (the child leads its own group), so helpers it
  // started are stopped too.
  void SignalGroup(int signal_number) const { ::kill(-pid_, signal_number); }

  // Waits up to `limit` for the child to exit.
  void WaitFor(std::chrono::milliseconds limit) {
    Clock::time_point deadline = Clock::now() + limit;
    while (!exited_) {
      Poll();
      if (exited_) return;
      auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (remaining.count() <= 0) return;
      if (pidfd_.valid()) {
        struct pollfd entry = {pidfd_.get(), POLLIN, 0};
        ::poll(&entry, 1, static_cast<int>(remaining.count()));
      } else {
        ::poll(nullptr, 0, static_cast<int>(std::min<int64_t>(remaining.count(), 10)));
      }
    }
  }

  void WaitBlocking() {
    int status = 0;
    pid_t result;
    do {
      result = ::waitpid(pid_, &status, 0);
    } while (result < 0 && errno == EINTR);
    Reaped(status);
  }

 private:
  void Reaped(int status) {
    exited_ = true;
    wait_status_ = status;
    pidfd_.Reset();
  }

  pid_t pid_;
  UniqueFd pidfd_;
  bool exited_ = false;
  int wait_status_ = 0;
};

// Reads what is available without blocking; closes `fd` at end of file.
Status ReadAvailable(UniqueFd& fd, std::string& sink, const std::string& program) {
  char buffer[65536];
  while (fd.valid()) {
    ssize_t count = ::read(fd.get(), buffer, sizeof(buffer));
    if (count > 0) {
      sink.append(buffer, static_cast<size_t>(count));
    } else if (count == 0) {
      fd.Reset();
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else {
      return PosixError("reading the output of " + program, errno);
    }
  }
  return Status::Ok();
}

Status WriteAvailable(UniqueFd& fd, const std::string& data, size_t& offset, const std::string& program) {
  while (fd.valid() && offset < data.size()) {
    size_t chunk = std::min<size_t>(data.size() - offset, 65536);
    ssize_t count = ::write(fd.get(), data.data() + offset, chunk);
    if (count > 0) {
      offset += static_cast<size_t>(count);
    } else if (count < 0 && errno == EINTR) {
      continue;
    } else if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Status::Ok();
    } else if (count < 0 && errno == EPIPE) {
      // The program stopped reading; its exit status tells whether that is a failure.
      fd.Reset();
      return Status::Ok();
    } else {
      return PosixError("writing the input of " + program, errno);
    }
  }
  if (offset >= data.size()) fd.Reset();  // end of input
  return Status::Ok();
}

class SpawnAttributes {
 public:
  SpawnAttributes() {
    ::posix_spawnattr_init(&attributes_);
    ::posix_spawn_file_actions_init(&actions_);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  ~SpawnAttributes() {
    ::posix_spawn_file_actions_destroy(&actions_);
    ::posix_spawnattr_destroy(&attributes_);
  }
  posix_spawnattr_t* attributes() { return &attributes_; }
  posix_spawn_file_actions_t* actions() { return &actions_; }

 private:
  posix_spawnattr_t attributes_;
  posix_spawn_file_actions_t actions_;
};

// A spawned process with the agent's ends of its pipes, and when its time is up.
struct Spawned {
  explicit Spawned(pid_t pid) : child(pid) {}
  Child child;
  UniqueFd input;
  UniqueFd output;
  UniqueFd errors;
  Clock::time_point deadline;
};

Result<std::unique_ptr<Spawned>> Spawn(const Command& command, const ProcessRunnerOptions& options) {
  if (command.argv.empty() || command.argv[0].empty()) {
    return Status::InvalidArgument("cannot run a command with an empty argv");
  }
  const std::string& program = command.argv[0];
  WW_ASSIGN_OR_RETURN(std::string path, ResolveProgram(program, options.search_path));

  WW_ASSIGN_OR_RETURN(Pipe stdin_pipe, MakePipe(program));
  WW_ASSIGN_OR_RETURN(Pipe stdout_pipe, MakePipe(program));
  WW_ASSIGN_OR_RETURN(Pipe stderr_pipe, MakePipe(program));

  SpawnAttributes spawn;
  // dup2 clears close-on-exec on 0/1/2; everything else the agent holds is closed.
  ::posix_spawn_file_actions_adddup2(spawn.actions(), stdin_pipe.read_end.get(), STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(spawn.actions(), stdout_pipe.write_end.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(spawn.actions(), stderr_pipe.write_end.get(), STDERR_FILENO);
  ::posix_spawn_file_actions_addclosefrom_np(spawn.actions(), 3);
  // The child starts with no blocked signals, default dispositions (an agent ignoring
  // SIGPIPE must not pass that on) and its own process group (so a timeout kills helpers).
  sigset_t empty_set;
  sigset_t all_signals;
  sigemptyset(&empty_set);
  sigfillset(&all_signals);
  ::posix_spawnattr_setsigmask(spawn.attributes(), &empty_set);
  ::posix_spawnattr_setsigdefault(spawn.attributes(), &all_signals);
  ::posix_spawnattr_setpgroup(spawn.attributes(), 0);
  ::posix_spawnattr_setflags(spawn.attributes(),
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> argv;
  argv.reserve(command.argv.size() + 1);
  for (const std::string& argument : command.argv) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  std::string path_variable = "PATH=" + options.search_path;
  std::string locale_variable = "LC_ALL=C";
  char* environment[] = {path_variable.data(), locale_variable.data(), nullptr};

  pid_t pid = 0;
  int spawn_error = ::posix_spawn(&pid, path.c_str(), spawn.actions(), spawn.attributes(), argv.data(), environment);
  if (spawn_error != 0) return PosixError("starting \"" + path + "\"", spawn_error);
  auto spawned = std::make_unique<Spawned>(pid);
  spawned->deadline = Clock::now() + command.timeout;

  stdin_pipe.read_end.Reset();
  stdout_pipe.write_end.Reset();
  stderr_pipe.write_end.Reset();
  WW_RETURN_IF_ERROR(SetNonBlocking(stdin_pipe.write_end.get(), program));
  WW_RETURN_IF_ERROR(SetNonBlocking(stdout_pipe.read_end.get(), program));
  WW_RETURN_IF_ERROR(SetNonBlocking(stderr_pipe.read_end.get(), program));
  spawned->input = std::move(stdin_pipe.write_end);
  spawned->output = std::move(stdout_pipe.read_end);
  spawned->errors = std::move(stderr_pipe.read_end);
  if (command.stdin_data.empty()) spawned->input.Reset();
  return spawned;
}

// Feeds stdin, collects stdout and stderr and reaps the process, killing it at its deadline.
Result<CommandOutput> Drive(Spawned& spawned, const Command& command, const ProcessRunnerOptions& options) {
  const std::string& program = command.argv[0];
  ScopedSigpipeBlock sigpipe_block;
  Child& child = spawned.child;
  UniqueFd& input = spawned.input;
  UniqueFd& output = spawned.output;
  UniqueFd& errors = spawned.errors;

  CommandOutput result;
  size_t input_offset = 0;
  while (true) {
    child.Poll();
    if (child.exited() && (input.valid() || output.valid() || errors.valid())) {
      // What the child wrote before exiting is in the pipes; a daemon it left behind may
      // hold them open forever, so take what is there and stop listening.
      input.Reset();
      WW_RETURN_IF_ERROR(ReadAvailable(output, result.stdout_data, program));
      WW_RETURN_IF_ERROR(ReadAvailable(errors, result.stderr_data, program));
      output.Reset();
      errors.Reset();
    }
    if (child.exited()) break;

    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(spawned.deadline - Clock::now());
    if (remaining.count() <= 0) {
      child.SignalGroup(SIGTERM);
      child.WaitFor(options.kill_grace);
      if (!child.exited()) {
        child.SignalGroup(SIGKILL);
        child.WaitBlocking();
      }
      return Status::Unavailable("\"" + FormatArgv(command.argv) + "\" timed out after " +
                                 std::to_string(command.timeout.count()) + " ms and was killed");
    }

    struct pollfd entries[4];
    nfds_t count = 0;
    int input_index = -1, output_index = -1, errors_index = -1;
    if (input.valid()) {
      input_index = static_cast<int>(count);
      entries[count++] = {input.get(), POLLOUT, 0};
    }
    if (output.valid()) {
      output_index = static_cast<int>(count);
      entries[count++] = {output.get(), POLLIN, 0};
    }
    if (errors.valid()) {
      errors_index = static_cast<int>(count);
      entries[count++] = {errors.get(), POLLIN, 0};
    }
    int wait_ms = static_cast<int>(std::min<int64_t>(remaining.count(), 60000));
    if (child.pidfd() >= 0) {
      entries[count++] = {child.pidfd(), POLLIN, 0};
    } else {
      wait_ms = std::min(wait_ms, 10);  // no pidfd: notice the exit by polling
    }
    int ready = ::poll(entries, count, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return PosixError("waiting for " + program, errno);
    }
    if (input_index >= 0 && entries[input_index].revents != 0) {
      WW_RETURN_IF_ERROR(WriteAvailable(input, command.stdin_data, input_offset, program));
    }
    if (output_index >= 0 && entries[output_index].revents != 0) {
      WW_RETURN_IF_ERROR(ReadAvailable(output, result.stdout_data, program));
    }
    if (errors_index >= 0 && entries[errors_index].revents != 0) {
      WW_RETURN_IF_ERROR(ReadAvailable(errors, result.stderr_data, program));
    }
  }
  result.exit_code = child.exit_code();
  return result;
}

// A process spawned and driven by a thread of its own: Start returns at once (a spawn waits
// for the child's exec), and the pipes are drained while the caller works (a large output
// would otherwise fill its pipe and stall the process).
class BackgroundProcess : public RunningCommand {
 public:
  BackgroundProcess(Command command, const ProcessRunnerOptions& options)
      : command_(std::move(command)), options_(options) {
    thread_ = std::thread([this] {
      Result<std::unique_ptr<Spawned>> spawned = Spawn(command_, options_);
      result_ = spawned.ok() ? Drive(**spawned, command_, options_) : Result<CommandOutput>(spawned.status());
    });
  }
  ~BackgroundProcess() override {
    if (thread_.joinable()) thread_.join();
  }

  Result<CommandOutput> Wait() override {
    if (thread_.joinable()) thread_.join();
    return std::move(result_);
  }

 private:
  Command command_;
  ProcessRunnerOptions options_;
  Result<CommandOutput> result_ = Status::Internal("the command has not ended");
  std::thread thread_;
};

}  // namespace

ProcessRunner::ProcessRunner(ProcessRunnerOptions options) : options_(std::move(options)) {}

Result<CommandOutput> ProcessRunner::Run(const Command& command) {
  WW_ASSIGN_OR_RETURN(std::unique_ptr<Spawned> spawned, Spawn(command, options_));
  return Drive(*spawned, command, options_);
}

std::unique_ptr<RunningCommand> ProcessRunner::Start(const Command& command) {
  return std::make_unique<BackgroundProcess>(command, options_);
}

}  // namespace ww::agent
