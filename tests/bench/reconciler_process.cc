#include "tests/bench/reconciler_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/remote_config.h"
#include "reconciler/client/api_client.h"
#include "tests/bench/bench_cleanup.h"
#include "tests/bench/bench_support.h"

namespace ww::bench {
namespace {

// Runs in the forked child: unblocks the signals BenchCleanup blocked, asks for SIGKILL when
// the forking thread (the bench's main thread) dies, sends output to the log and execs.
// Only async-signal-safe calls: the bench has many threads.
[[noreturn]] void ExecReconciler(char* const* argv, const char* log_path, pid_t parent) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the bench died before prctl
  int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log >= 0) {
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
  }
  execv(argv[0], argv);
  _exit(127);
}

// Waits for `pid` up to `timeout`; its wait status, or nullopt when it is still running.
std::optional<int> WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int FreeLocalPort() {
  int descriptor = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (descriptor < 0 || bind(descriptor, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(descriptor, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    Die("cannot find a free port on 127.0.0.1");
  }
  close(descriptor);
  return ntohs(address.sin_port);
}

std::string ReconcilerHelp(const std::string& binary) {
  std::string command = "'" + binary + "' --help 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string text;
  std::array<char, 4096> buffer{};
  while (size_t count = fread(buffer.data(), 1, buffer.size(), pipe)) text.append(buffer.data(), count);
  pclose(pipe);
  return text;
}

Result<std::unique_ptr<ReconcilerProcess>> ReconcilerProcess::Start(ReconcilerLaunch launch,
                                                                    std::chrono::seconds timeout) {
  std::unique_ptr<ReconcilerProcess> process(new ReconcilerProcess());
  std::string listen = "127.0.0.1:" + std::to_string(launch.port);
  std::string url = "https://" + listen;
  std::vector<std::string> arguments{launch.binary, "--data-dir", launch.data_dir, "--listen", listen,
                                     "--advertise", url, "--enroll-rate", "0", "--log-level", "warning",
                                     "--status-listen",
                                     launch.status_port ? "127.0.0.1:" + std::to_string(*launch.status_port) : "off"};
  arguments.insert(arguments.end(), launch.flags.begin(), launch.flags.end());
  process->launch_ = std::move(launch);
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) ExecReconciler(argv.data(), process->launch_.log_path.c_str(), parent);
  process->pid_ = pid;
  BenchCleanup::Instance().AddProcess(pid);

  // Wait for the admin config and an answering listener.
  std::string admin_path = process->launch_.data_dir + "/admin.wwctl.yaml";
  std::string last_error = "no admin config yet";
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (WaitFor(pid, std::chrono::milliseconds(0))) {
      BenchCleanup::Instance().RemoveProcess(pid);
      process->pid_ = -1;
      return Status::Internal("the reconciler exited at start: " + process->LogTail());
    }
    if (!std::filesystem::exists(admin_path)) continue;
    auto loaded = cli::LoadRemoteConfig({admin_path, cli::ConfigOrigin::kFlag});
    if (!loaded.ok()) {
      last_error = loaded.status().ToString();
      continue;
    }
    AdminAccess admin{url, loaded->config.ca_certificate_pem, loaded->config.ca_pin,
                      loaded->config.client_certificate_pem, loaded->config.client_key_pem};
    auto client = ApiClient::Create({url, admin.ca_pem, admin.certificate_pem, admin.key_pem});
    if (!client.ok()) {
      last_error = client.status().ToString();
      continue;
    }
    auto probe = (*client)->Get("/v1/status");
    if (probe.ok() && probe->status == 200) {
      process->admin_ = std::move(admin);
      return process;
    }
    last_error = probe.ok() ? "HTTP " + std::to_string(probe->status) : probe.status().ToString();
  }
  (void)process->Stop(std::chrono::seconds(1));
  return Status::Unavailable("the reconciler did not come up at " + url + ": " + last_error);
}

ReconcilerProcess::~ReconcilerProcess() { (void)Stop(); }

Status ReconcilerProcess::Stop(std::chrono::seconds grace) {
  if (pid_ < 0) return Status::Ok();
  kill(pid_, SIGTERM);
  std::optional<int> status = WaitFor(pid_, grace);
  bool killed = !status;
  if (killed) {
    kill(pid_, SIGKILL);
    status = WaitFor(pid_, std::chrono::seconds(10));
  }
  BenchCleanup::Instance().RemoveProcess(pid_);
  pid_t stopped = pid_;
  pid_ = -1;
  if (killed) return Status::Internal("reconciler " + std::to_string(stopped) + " ignored SIGTERM and was killed");
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return Status::Internal("reconciler " + std::to_string(stopped) + " stopped abnormally: " + LogTail());
  }
  return Status::Ok();
}

std::string ReconcilerProcess::LogTail(std::size_t max_bytes) const {
  std::ifstream in(launch_.log_path);
  std::stringstream text;
  text << in.rdbuf();
  std::string log = text.str();
  if (log.size() > max_bytes) log = "..." + log.substr(log.size() - max_bytes);
  return log.empty() ? "(its log is empty)" : log;
}

ProcessSample ReconcilerProcess::Sample() const {
  ProcessSample sample;
  if (pid_ < 0) return sample;
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    long value = std::atol(line.c_str() + colon + 1);
    if (key == "VmRSS") sample.rss_kb = value;
    if (key == "VmHWM") sample.peak_rss_kb = value;
    if (key == "Threads") sample.threads = value;
  }
  std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
  std::string text;
  std::getline(stat, text);
  size_t end = text.rfind(')');
  if (end == std::string::npos) return sample;
  std::istringstream fields(text.substr(end + 2));
  std::string field;
  long user = 0;
  long system = 0;
  // Fields counted from 3 (state) on, as proc(5) numbers them: 14 utime, 15 stime.
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) user = std::atol(field.c_str());
    if (index == 15) {
      system = std::atol(field.c_str());
      break;
    }
  }
  sample.cpu_seconds = static_cast<double>(user + system) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return sample;
}

Status ReconcilerProcess::ResetPeak() const {
  std::ofstream clear("/proc/" + std::to_string(pid_) + "/clear_refs");
  clear << "5";
  clear.flush();
  if (!clear) return Status::Unavailable("cannot write /proc/" + std::to_string(pid_) + "/clear_refs");
  return Status::Ok();
}

}  // namespace ww::bench
