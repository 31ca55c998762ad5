// The command interface: the real ProcessRunner on real programs, and the recording,
// logging and failing runners the agent's tests and --dry-run are built on.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sched.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/system/capabilities.h"
#include "agent/system/command_runner.h"
#include "agent/system/failing_runner.h"
#include "agent/system/firewall_generation.h"
#include "agent/system/logging_runner.h"
#include "agent/system/process_runner.h"
#include "agent/system/recording_runner.h"
#include "tests/support/temporary_directory.h"

namespace ww::agent {
namespace {

using namespace std::chrono_literals;

Command ReadOnly(std::vector<std::string> argv) {
  Command command;
  command.argv = std::move(argv);
  command.effect = Effect::kReadOnly;
  return command;
}

Command Mutating(std::vector<std::string> argv) {
  Command command;
  command.argv = std::move(argv);
  return command;
}

std::string Pattern(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return data;
}

TEST_CASE("ProcessRunner reports exit codes of real programs") {
  ProcessRunner runner;
  auto ok = runner.Run(ReadOnly({"true"}));
  REQUIRE(ok.ok());
  CHECK(ok->exit_code == 0);
  CHECK(ok->stdout_data.empty());
  CHECK(ok->stderr_data.empty());

  auto failed = runner.Run(ReadOnly({"/bin/false"}));
  REQUIRE(failed.ok());
  CHECK(failed->exit_code == 1);

  auto killed = runner.Run(ReadOnly({"sh", "-c", "kill -9 $$"}));
  REQUIRE(killed.ok());
  CHECK(killed->exit_code == 137);
}

TEST_CASE("ProcessRunner round-trips 1 MB through cat's stdin and stdout") {
  ProcessRunner runner;
  Command command = ReadOnly({"cat"});
  command.stdin_data = Pattern(1 << 20);
  auto output = runner.Run(command);
  REQUIRE(output.ok());
  CHECK(output->exit_code == 0);
  CHECK(output->stdout_data.size() == command.stdin_data.size());
  CHECK(output->stdout_data == command.stdin_data);
}

TEST_CASE("ProcessRunner closes stdin when there is no input") {
  ProcessRunner runner;
  Command command = ReadOnly({"cat"});
  command.timeout = 10s;
  auto output = runner.Run(command);
  REQUIRE(output.ok());
  CHECK(output->exit_code == 0);
  CHECK(output->stdout_data.empty());
}

TEST_CASE("ProcessRunner reads 5 MB of stdout while the program writes it") {
  ProcessRunner runner;
  auto output = runner.Run(ReadOnly({"head", "-c", "5242880", "/dev/zero"}));
  REQUIRE(output.ok());
  CHECK(output->exit_code == 0);
  CHECK(output->stdout_data.size() == 5242880);
  CHECK(output->stdout_data == std::string(5242880, '\0'));
}

TEST_CASE("ProcessRunner drains stdout and stderr together") {
  ProcessRunner runner;
  // 2 MB on each stream: a runner reading one stream at a time would deadlock.
  auto output = runner.Run(ReadOnly({"sh", "-c", "head -c 2097152 /dev/zero >&2; head -c 2097152 /dev/zero"}));
  REQUIRE(output.ok());
  CHECK(output->stdout_data.size() == 2097152);
  CHECK(output->stderr_data.size() == 2097152);
}

TEST_CASE("ProcessRunner captures stderr in the C locale") {
  ProcessRunner runner;
  auto output = runner.Run(ReadOnly({"ls", "/nonexistent-agentsys-test"}));
  REQUIRE(output.ok());
  CHECK(output->exit_code == 2);
  CHECK(output->stdout_data.empty());
  CHECK(output->stderr_data == "ls: cannot access '/nonexistent-agentsys-test': No such file or directory\n");
}

TEST_CASE("ProcessRunner gives the child a clean environment") {
  ::setenv("WG_PROCESS_FOREGROUND", "1", 1);  // must not reach wireguard-go
  ProcessRunner runner;
  auto output = runner.Run(ReadOnly({"env"}));
  ::unsetenv("WG_PROCESS_FOREGROUND");
  REQUIRE(output.ok());
  CHECK(output->stdout_data == "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLC_ALL=C\n");
}

TEST_CASE("ProcessRunner passes only stdin, stdout and stderr to the child") {
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(leaked >= 3);
  ProcessRunner runner;
  // ls opens one descriptor (3) to read the directory itself.
  auto output = runner.Run(ReadOnly({"ls", "/proc/self/fd"}));
  ::close(leaked);
  REQUIRE(output.ok());
  CHECK(output->stdout_data == "0\n1\n2\n3\n");
}

TEST_CASE("ProcessRunner kills a program that outlives its timeout") {
  ProcessRunner runner;
  Command command = ReadOnly({"sleep", "5"});
  command.timeout = 200ms;
  auto output = runner.Run(command);
  REQUIRE_FALSE(output.ok());
  CHECK(output.status().code() == StatusCode::kUnavailable);
  CHECK(output.status().message() == "\"sleep 5\" timed out after 200 ms and was killed");
}

TEST_CASE("ProcessRunner escalates to SIGKILL when SIGTERM is ignored") {
  ProcessRunnerOptions options;
  options.kill_grace = 100ms;
  ProcessRunner runner(options);
  Command command = ReadOnly({"sh", "-c", "trap '' TERM; echo ready; sleep 5; echo survived"});
  command.timeout = 300ms;
  auto output = runner.Run(command);
  REQUIRE_FALSE(output.ok());
  CHECK(output.status().code() == StatusCode::kUnavailable);
  CHECK(output.status().message() ==
        "\"sh -c 'trap '\\'''\\'' TERM; echo ready; sleep 5; echo survived'\" timed out after 300 ms and was killed");
}

TEST_CASE("ProcessRunner returns when the program exits even if a daemon it started keeps the pipes") {
  ProcessRunner runner;
  Command command = ReadOnly({"sh", "-c", "sleep 3 & echo started"});
  command.timeout = 10s;
  auto output = runner.Run(command);
  REQUIRE(output.ok());  // a runner waiting for end of file would time out here
  CHECK(output->exit_code == 0);
  CHECK(output->stdout_data == "started\n");
}

TEST_CASE("ProcessRunner names a program it cannot find") {
  ProcessRunner runner;
  auto missing = runner.Run(ReadOnly({"wirewarp-no-such-program", "x"}));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kUnavailable);
  CHECK(missing.status().message() ==
        "\"wirewarp-no-such-program\" not found in /usr/sbin:/usr/bin:/sbin:/bin (is it installed?)");

  auto missing_path = runner.Run(ReadOnly({"/nonexistent/wirewarp-prog"}));
  REQUIRE_FALSE(missing_path.ok());
  CHECK(missing_path.status().code() == StatusCode::kUnavailable);
  CHECK(missing_path.status().message() == "starting \"/nonexistent/wirewarp-prog\": No such file or directory");

  auto empty = runner.Run(ReadOnly({}));
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("ProcessRunner survives a program that exits without reading its input") {
  ProcessRunner runner;
  Command command = ReadOnly({"true"});
  command.stdin_data = Pattern(4 << 20);  // more than a pipe holds: the write hits EPIPE
  auto output = runner.Run(command);
  REQUIRE(output.ok());
  CHECK(output->exit_code == 0);
}

TEST_CASE("ProcessRunner::Start runs commands at the same time") {
  test_support::TemporaryDirectory dir("ww-start-test");
  std::string fifo = dir.File("handshake");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  ProcessRunner runner;
  // The reader blocks until the writer opens the FIFO: run one after the other, the reader
  // would time out.
  Command reader = ReadOnly({"sh", "-c", "read line < \"$0\" && echo \"got $line\"", fifo});
  reader.timeout = 10s;
  Command writer = ReadOnly({"sh", "-c", "echo hello > \"$0\"", fifo});
  writer.timeout = 10s;
  std::unique_ptr<RunningCommand> reading = runner.Start(reader);
  std::unique_ptr<RunningCommand> writing = runner.Start(writer);
  auto written = writing->Wait();
  auto read = reading->Wait();
  REQUIRE_MESSAGE(written.ok(), written.status().message());
  REQUIRE_MESSAGE(read.ok(), read.status().message());
  CHECK(written->exit_code == 0);
  CHECK(read->exit_code == 0);
  CHECK(read->stdout_data == "got hello\n");
}

TEST_CASE("ProcessRunner::Start drains a large output while the caller waits for something else") {
  test_support::TemporaryDirectory dir("ww-start-test");
  std::string marker = dir.File("done");
  ProcessRunner runner;
  // 5 MB is far more than a pipe holds: the writer only reaches `touch` when its output is
  // read in the background, and the watcher only ends when the marker appears.
  Command writer = ReadOnly({"sh", "-c", "head -c 5000000 /dev/zero && touch \"$0\" && echo end >&2", marker});
  writer.timeout = 20s;
  Command watcher = ReadOnly({"sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.01; done", marker});
  watcher.timeout = 20s;
  std::unique_ptr<RunningCommand> writing = runner.Start(writer);
  std::unique_ptr<RunningCommand> watching = runner.Start(watcher);
  auto watched = watching->Wait();
  REQUIRE_MESSAGE(watched.ok(), watched.status().message());
  CHECK(watched->exit_code == 0);
  auto written = writing->Wait();
  REQUIRE(written.ok());
  CHECK(written->exit_code == 0);
  CHECK(written->stdout_data == std::string(5000000, '\0'));
  CHECK(written->stderr_data == "end\n");
}

TEST_CASE("ProcessRunner::Start reports what Run reports: exit codes, missing programs, timeouts") {
  ProcessRunner runner;
  auto failed = runner.Start(ReadOnly({"sh", "-c", "echo no >&2; exit 3"}))->Wait();
  REQUIRE(failed.ok());
  CHECK(failed->exit_code == 3);
  CHECK(failed->stderr_data == "no\n");

  auto missing = runner.Start(ReadOnly({"wirewarp-no-such-program"}))->Wait();
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() ==
        "\"wirewarp-no-such-program\" not found in /usr/sbin:/usr/bin:/sbin:/bin (is it installed?)");

  Command slow = ReadOnly({"sleep", "30"});
  slow.timeout = 100ms;
  auto timed_out = runner.Start(slow)->Wait();
  REQUIRE_FALSE(timed_out.ok());
  CHECK(timed_out.status().code() == StatusCode::kUnavailable);
  CHECK(timed_out.status().message() == "\"sleep 30\" timed out after 100 ms and was killed");

  auto checked = WaitChecked(*runner.Start(ReadOnly({"sh", "-c", "echo broken >&2; exit 2"})),
                             ReadOnly({"sh", "-c", "echo broken >&2; exit 2"}));
  REQUIRE_FALSE(checked.ok());
  CHECK(checked.status().message() == "\"sh -c 'echo broken >&2; exit 2'\" failed (exit 2): broken");
}

TEST_CASE("RunChecked turns a non-zero exit into an error quoting argv and stderr") {
  ProcessRunner runner;
  auto failed = RunChecked(runner, ReadOnly({"ls", "/nonexistent-agentsys-test"}));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == StatusCode::kFailedPrecondition);
  CHECK(failed.status().message() ==
        "\"ls /nonexistent-agentsys-test\" failed (exit 2): ls: cannot access '/nonexistent-agentsys-test': No "
        "such file or directory");

  auto silent = RunChecked(runner, ReadOnly({"false"}));
  REQUIRE_FALSE(silent.ok());
  CHECK(silent.status().message() == "\"false\" failed (exit 1)");

  auto ok = RunChecked(runner, ReadOnly({"echo", "hi"}));
  REQUIRE(ok.ok());
  CHECK(ok->stdout_data == "hi\n");
}

TEST_CASE("FormatArgv quotes only what a shell would split or expand") {
  CHECK(FormatArgv({"ip", "link", "add", "wg0", "type", "wireguard"}) == "ip link add wg0 type wireguard");
  CHECK(FormatArgv({"wg", "set", "wg0", "allowed-ips", "10.0.0.0/24,192.168.1.0/24"}) ==
        "wg set wg0 allowed-ips 10.0.0.0/24,192.168.1.0/24");
  CHECK(FormatArgv({"wg", "set", "wg0", "peer", "abc+/=", "allowed-ips", ""}) ==
        "wg set wg0 peer abc+/= allowed-ips ''");
  CHECK(FormatArgv({"echo", "two words", "it's", "$HOME"}) == "echo 'two words' 'it'\\''s' '$HOME'");
}

TEST_CASE("RecordingRunner records commands and answers from its script") {
  RecordingRunner recorder;
  recorder.SetOutput({"wg", "show", "interfaces"}, CommandOutput{0, "wg0\n", ""});
  recorder.SetFailure({"ip", "link", "add", "wg1", "type", "wireguard"}, Status::Unavailable("timed out"));

  auto scripted = recorder.Run(ReadOnly({"wg", "show", "interfaces"}));
  REQUIRE(scripted.ok());
  CHECK(scripted->stdout_data == "wg0\n");

  auto other = recorder.Run(ReadOnly({"wg", "show", "interfaces", "extra"}));
  REQUIRE(other.ok());
  CHECK(other->exit_code == 0);
  CHECK(other->stdout_data.empty());

  Command add = Mutating({"ip", "link", "add", "wg1", "type", "wireguard"});
  auto failed = recorder.Run(add);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().message() == "timed out");

  Command restore = Mutating({"iptables-restore", "--noflush", "--wait"});
  restore.stdin_data = "*nat\nCOMMIT\n";
  REQUIRE(recorder.Run(restore).ok());

  REQUIRE(recorder.commands().size() == 4);
  CHECK(recorder.commands()[3] == restore);
  CHECK(recorder.MutatingCommands() == std::vector<Command>{add, restore});
  CHECK(recorder.CommandLines() == std::vector<std::string>{"wg show interfaces", "wg show interfaces extra",
                                                            "ip link add wg1 type wireguard",
                                                            "iptables-restore --noflush --wait"});
  CHECK(recorder.MutatingCommandLines() ==
        std::vector<std::string>{"ip link add wg1 type wireguard", "iptables-restore --noflush --wait"});
  recorder.ClearCommands();
  CHECK(recorder.commands().empty());
}

TEST_CASE("RecordingRunner for --dry-run runs read-only commands and records mutating ones") {
  RecordingRunner real_host;  // stands in for the ProcessRunner
  real_host.SetOutput({"iptables-save"}, CommandOutput{0, "*nat\nCOMMIT\n", ""});
  RecordingRunner dry_run(&real_host);

  auto observed = dry_run.Run(ReadOnly({"iptables-save"}));
  REQUIRE(observed.ok());
  CHECK(observed->stdout_data == "*nat\nCOMMIT\n");
  REQUIRE(dry_run.Run(Mutating({"ip", "link", "del", "wg0"})).ok());

  CHECK(real_host.CommandLines() == std::vector<std::string>{"iptables-save"});
  CHECK(dry_run.CommandLines() == std::vector<std::string>{"iptables-save", "ip link del wg0"});
  CHECK(dry_run.MutatingCommandLines() == std::vector<std::string>{"ip link del wg0"});
}

TEST_CASE("RecordingRunner::Start records in start order and answers from its script") {
  RecordingRunner real_host;  // stands in for the ProcessRunner
  real_host.SetOutput({"iptables-save"}, CommandOutput{0, "*nat\nCOMMIT\n", ""});
  RecordingRunner dry_run(&real_host);
  dry_run.SetOutput({"ip", "-4", "-N", "-j", "rule", "show"}, CommandOutput{0, "[]", ""});

  std::unique_ptr<RunningCommand> save = dry_run.Start(ReadOnly({"iptables-save"}));
  std::unique_ptr<RunningCommand> rules = dry_run.Start(ReadOnly({"ip", "-4", "-N", "-j", "rule", "show"}));
  std::unique_ptr<RunningCommand> del = dry_run.Start(Mutating({"ip", "link", "del", "wg0"}));
  auto deleted = del->Wait();
  auto listed = rules->Wait();
  auto saved = save->Wait();
  REQUIRE(saved.ok());
  REQUIRE(listed.ok());
  REQUIRE(deleted.ok());
  CHECK(saved->stdout_data == "*nat\nCOMMIT\n");
  CHECK(listed->stdout_data == "[]");
  CHECK(deleted->stdout_data.empty());
  CHECK(real_host.CommandLines() == std::vector<std::string>{"iptables-save"});
  CHECK(dry_run.CommandLines() ==
        std::vector<std::string>{"iptables-save", "ip -4 -N -j rule show", "ip link del wg0"});
  CHECK(dry_run.MutatingCommandLines() == std::vector<std::string>{"ip link del wg0"});
}

TEST_CASE("LoggingRunner and FailingRunner pass Start through") {
  RecordingRunner recorder;
  std::ostringstream log;
  LoggingRunner logger(recorder, log);
  FailingRunner failing(logger, 2);
  REQUIRE(failing.Start(ReadOnly({"iptables-save"}))->Wait().ok());
  auto first = failing.Start(Mutating({"ip", "link", "set", "wg0", "up"}))->Wait();
  auto second = failing.Start(Mutating({"ip", "link", "del", "wg0"}))->Wait();
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->exit_code == 0);
  CHECK(second->exit_code == 1);
  CHECK(second->stderr_data == "injected failure of mutating command #2\n");
  CHECK(failing.mutating_count() == 2);
  CHECK(log.str() == "[#] iptables-save\n[#] ip link set wg0 up\n");
  CHECK(recorder.CommandLines() == std::vector<std::string>{"iptables-save", "ip link set wg0 up"});
}

TEST_CASE("LoggingRunner writes wg-quick style lines and hides secrets") {
  RecordingRunner recorder;
  std::ostringstream log;
  LoggingRunner logger(recorder, log);

  REQUIRE(logger.Run(Mutating({"ip", "link", "add", "wg0", "type", "wireguard"})).ok());
  Command secret = Mutating({"wg", "set", "wg0", "private-key", "/dev/stdin"});
  secret.stdin_data = "aGVsbG8gd29ybGQgdGhpcyBpcyBhIHNlY3JldCBrZXk=\n";
  secret.stdin_is_secret = true;
  REQUIRE(logger.Run(secret).ok());
  Command restore = Mutating({"iptables-restore", "--noflush", "--wait"});
  restore.stdin_data = "*nat\nCOMMIT\n";
  REQUIRE(logger.Run(restore).ok());
  REQUIRE(logger.Run(ReadOnly({"wg", "show", "wg0", "dump"})).ok());

  CHECK(log.str() ==
        "[#] ip link add wg0 type wireguard\n"
        "[#] wg set wg0 private-key /dev/stdin <<< (hidden)\n"
        "[#] iptables-restore --noflush --wait <<< 12 bytes\n"
        "[#] wg show wg0 dump\n");
  CHECK(log.str().find("aGVsbG8") == std::string::npos);
  // The wrapped runner still gets the whole command, input included.
  REQUIRE(recorder.commands().size() == 4);
  CHECK(recorder.commands()[1] == secret);
}

TEST_CASE("LoggingRunner can log only mutating commands") {
  RecordingRunner recorder;
  std::ostringstream log;
  LoggingRunner logger(recorder, log, LoggedCommands::kMutatingOnly);
  REQUIRE(logger.Run(ReadOnly({"iptables-save"})).ok());
  REQUIRE(logger.Run(Mutating({"ip", "link", "set", "wg0", "up"})).ok());
  CHECK(log.str() == "[#] ip link set wg0 up\n");
  CHECK(recorder.commands().size() == 2);
}

TEST_CASE("FailingRunner fails the Nth mutating command and passes the rest through") {
  RecordingRunner recorder;
  FailingRunner failing(recorder, 2);

  REQUIRE(failing.Run(ReadOnly({"wg", "show", "interfaces"})).ok());
  auto first = failing.Run(Mutating({"ip", "link", "add", "wg0", "type", "wireguard"}));
  REQUIRE(first.ok());
  CHECK(first->exit_code == 0);
  auto second = failing.Run(Mutating({"ip", "link", "set", "wg0", "up"}));
  REQUIRE(second.ok());
  CHECK(second->exit_code == 1);
  CHECK(second->stderr_data == "injected failure of mutating command #2\n");
  auto third = failing.Run(Mutating({"ip", "link", "set", "wg0", "mtu", "1420"}));
  REQUIRE(third.ok());
  CHECK(third->exit_code == 0);
  CHECK(failing.mutating_count() == 3);

  // The failed command never reached the host.
  CHECK(recorder.CommandLines() == std::vector<std::string>{"wg show interfaces", "ip link add wg0 type wireguard",
                                                            "ip link set wg0 mtu 1420"});

  auto checked = RunChecked(failing, Mutating({"ip", "link", "del", "wg0"}));
  REQUIRE(checked.ok());  // only the 2nd fails
}

TEST_CASE("FailingRunner can make a command unavailable") {
  RecordingRunner recorder;
  FailingRunner failing(recorder, 1, InjectedFailure::kUnavailable);
  auto result = failing.Run(Mutating({"wg", "set", "wg0", "peer", "x", "remove"}));
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kUnavailable);
  CHECK(result.status().message() == "\"wg set wg0 peer x remove\": injected failure of mutating command #1");
  CHECK(recorder.commands().empty());
}

}  // namespace
}  // namespace ww::agent

namespace ww::agent {
namespace {

TEST_CASE("NetlinkFirewallGeneration reads a fresh namespace's ruleset version and sees each iptables change") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root to create a network namespace");
    return;
  }
  // unshare(CLONE_NEWNET) moves only the calling thread, and ProcessRunner::Run spawns from
  // the calling thread: the namespace ends with the thread.
  Result<RulesetVersion> host = Status::Unavailable("not read");
  std::vector<Result<RulesetVersion>> versions;
  std::vector<int> exit_codes;
  std::thread worker([&] {
    NetlinkFirewallGeneration generation(kDefaultSearchPath);
    host = generation.Read();
    if (::unshare(CLONE_NEWNET) != 0) return;
    ProcessRunner runner;
    auto run = [&](std::vector<std::string> argv) {
      auto output = runner.Run(Command{.argv = std::move(argv)});
      exit_codes.push_back(output.ok() ? output->exit_code : -1);
    };
    versions.push_back(generation.Read());
    run({"iptables", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "9", "-j", "ACCEPT"});
    versions.push_back(generation.Read());
    run({"iptables", "-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "ACCEPT"});  // another table
    versions.push_back(generation.Read());
    run({"iptables", "-t", "nat", "-C", "PREROUTING", "-p", "tcp", "--dport", "9", "-j", "ACCEPT"});
    run({"iptables-save"});
    versions.push_back(generation.Read());  // reading changes nothing
    run({"iptables", "-t", "nat", "-D", "PREROUTING", "-p", "tcp", "--dport", "9", "-j", "ACCEPT"});
    versions.push_back(generation.Read());
  });
  worker.join();
  REQUIRE_MESSAGE(host.ok(), host.status().message());
  REQUIRE(versions.size() == 5);
  for (const auto& version : versions) REQUIRE_MESSAGE(version.ok(), version.status().message());
  CHECK(exit_codes == std::vector<int>{0, 0, 0, 0, 0});
  // A new namespace has its own ruleset, starting at generation 1.
  CHECK(versions[0]->network_namespace != host->network_namespace);
  CHECK(versions[0]->boot_id == host->boot_id);
  CHECK(versions[0]->boot_id.size() == 36);
  CHECK(versions[0]->iptables_save.starts_with("/"));
  CHECK(versions[0]->generation == 1);
  CHECK(versions[1]->generation == 2);
  CHECK(versions[2]->generation == 3);
  CHECK(*versions[3] == *versions[2]);
  CHECK(versions[4]->generation == 4);
  CHECK(versions[4]->network_namespace == versions[0]->network_namespace);
}

TEST_CASE("NetlinkFirewallGeneration is unavailable when iptables-save is not in the search path") {
  NetlinkFirewallGeneration generation("/nonexistent-directory");
  auto version = generation.Read();
  REQUIRE(!version.ok());
  CHECK(version.status().code() == StatusCode::kUnavailable);
  CHECK(version.status().message() == "iptables-save is not in /nonexistent-directory");
}

TEST_CASE("the runners hand on the firewall generation of the runner they wrap") {
  RecordingRunner recording;
  CHECK(recording.firewall_generation() == nullptr);
  FakeFirewallGeneration fake;
  recording.SetFirewallGeneration(&fake);
  std::ostringstream log;
  LoggingRunner logging(recording, log);
  FailingRunner failing(logging, 1);
  CHECK(failing.firewall_generation() == &fake);
  ProcessRunner process;
  CHECK(process.firewall_generation() != nullptr);
}

}  // namespace
}  // namespace ww::agent

namespace ww::agent {
namespace {

TEST_CASE("CapabilityNames names each bit, and none") {
  CHECK(CapabilityNames(0) == "none");
  CHECK(CapabilityNames(KeptCapabilityMask()) == "cap_net_admin,cap_net_raw");
  CHECK(CapabilityNames(1ULL << 21 | 1ULL << 62) == "cap_sys_admin,cap_62");
}

TEST_CASE("DropCapabilities keeps CAP_NET_ADMIN and CAP_NET_RAW: ip and iptables still work, nothing else does") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root to hold capabilities and create a network namespace");
    return;
  }
  // Capability sets and the network namespace are per thread, so the test's own process keeps
  // everything; ProcessRunner spawns from the calling thread, so its children inherit both.
  Status dropped = Status::Unavailable("not run");
  Result<CapabilityReport> held = Status::Unavailable("not read");
  std::vector<int> exit_codes;
  std::string child_status;
  std::string errors;  // each command's stderr, for the failure message
  int mount_namespace_errno = 0;
  std::thread worker([&] {
    if (::unshare(CLONE_NEWNET) != 0) return;
    dropped = DropCapabilities(CapabilityPolicy::kDrop);
    held = ReadCapabilities();
    ProcessRunner runner;
    auto run = [&](std::vector<std::string> argv) {
      auto output = runner.Run(Command{.argv = argv});
      exit_codes.push_back(output.ok() ? output->exit_code : -1);
      errors += FormatArgv(argv) + ": " + (output.ok() ? output->stderr_data : output.status().message()) + "\n";
      return output.ok() ? output->stdout_data : std::string();
    };
    run({"ip", "link", "add", "ww-cap0", "type", "veth", "peer", "name", "ww-cap1"});
    run({"ip", "address", "add", "192.0.2.1/24", "dev", "ww-cap0"});
    run({"iptables", "-A", "INPUT", "-i", "ww-cap0", "-p", "udp", "--dport", "9", "-j", "ACCEPT"});
    child_status = run({"cat", "/proc/self/status"});
    // CAP_SYS_ADMIN is gone: no new mount namespace (harmless if it had worked: it dies with the thread).
    if (::unshare(CLONE_NEWNS) != 0) mount_namespace_errno = errno;
  });
  worker.join();
  REQUIRE_MESSAGE(dropped.ok(), dropped.message());
  REQUIRE_MESSAGE(held.ok(), held.status().message());
  CHECK(held->effective == KeptCapabilityMask());
  CHECK(held->permitted == KeptCapabilityMask());
  CHECK(held->bounding == KeptCapabilityMask());
  const std::vector<int> all_succeeded{0, 0, 0, 0};
  CHECK_MESSAGE(exit_codes == all_succeeded, errors);
  CHECK(mount_namespace_errno == EPERM);
  // What the daemon spawns holds the same two and no more.
  CHECK(child_status.find("CapBnd:\t0000000000003000") != std::string::npos);
  CHECK(child_status.find("CapEff:\t0000000000003000") != std::string::npos);
  CHECK(child_status.find("NoNewPrivs:\t1") != std::string::npos);
}

TEST_CASE("DropCapabilities with kKeep changes nothing") {
  Result<CapabilityReport> before = ReadCapabilities();
  REQUIRE(before.ok());
  REQUIRE(DropCapabilities(CapabilityPolicy::kKeep).ok());
  CHECK(*ReadCapabilities() == *before);
}

}  // namespace
}  // namespace ww::agent
