// One agent pass (agent/agent.h) against a host that exists only in memory: ApplyConfig,
// RestoreLastApplied, TearDown and the JSON report, with every command recorded by a
// RecordingRunner and compared line by line. No root and no real tools: FakeHost answers
// the observer's read-only commands in the output formats of the real tools (as captured in
// tests/testdata/agent/) and changes its state only when a whole batch of the plan it was
// told about has run, so a failed command leaves it as a real host would be.

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "agent/agent.h"
#include "agent/apply/commands.h"
#include "agent/observe/observer.h"
#include "agent/state/applied_endpoints.h"
#include "agent/state/firewall_snapshot.h"
#include "agent/state/state_dir.h"
#include "agent/system/endpoint_resolver.h"
#include "agent/system/failing_runner.h"
#include "agent/system/recording_runner.h"
#include "schema/plan.h"
#include "schema/wire_json.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/test_values.h"

namespace ww::agent {
namespace {

namespace fs = std::filesystem;

// A throwaway key standing in for the private key field of `wg show dump` (never used).
constexpr const char* kRedactedPrivate = "oE3C8w4Svy/6RFTYo/M2bWk5GuWri1PxC13tx4OoI3s=";
// The public key examples/homelab/rendered/vps.json was rendered with.
constexpr const char* kRenderedVpsKey = "PbSK/Kg/maYUE1U0WBEwpINugfslGFR+2uHLWgigiks=";
const std::vector<std::string> kProbeAdd = {"ip", "link", "add", "wwprobe0", "type", "wireguard"};

std::string ReadSourceFile(const std::string& relative_path) {
  std::ifstream file(std::string(WW_SOURCE_DIR) + "/" + relative_path, std::ios::binary);
  REQUIRE_MESSAGE(file.good(), "missing file " << relative_path);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

std::string Testdata(const std::string& name) { return ReadSourceFile("tests/testdata/agent/" + name); }

using test_support::Cidr;
using test_support::KeyFromBase64;

std::string Hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%x", value);
  return text;
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string joined;
  for (const std::string& part : parts) {
    if (!joined.empty()) joined += separator;
    joined += part;
  }
  return joined;
}

// A state directory in a fresh mkdtemp directory (0700), removed with its files at the end.
class TemporaryStateDir {
 public:
  TemporaryStateDir() {
    auto opened = StateDir::Open(directory_.path(), CreateMode::kOpenExisting);
    REQUIRE_MESSAGE(opened.ok(), opened.status().message());
    state_.emplace(std::move(*opened));
  }

  StateDir& state() { return *state_; }
  const std::string& path() const { return directory_.path(); }
  WireguardKey PublicKey() {
    auto key = state_->EnsureWireguardKey();
    REQUIRE(key.ok());
    return *key;
  }
  std::optional<AgentConfig> LastApplied() const {
    auto last = state_->LoadLastApplied();
    REQUIRE(last.ok());
    return *last;
  }
  std::vector<std::string> OwnedInterfaces() const {
    auto owned = state_->LoadOwnedInterfaces();
    REQUIRE(owned.ok());
    return *owned;
  }

 private:
  test_support::TemporaryDirectory directory_{"ww-agent-test"};  // outlives state_
  std::optional<StateDir> state_;
};

ino_t Inode(const std::string& path) {
  struct stat info;
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_ino;
}

// A config wwctl rendered for the homelab example, with this agent's key.
AgentConfig RenderedExample(const std::string& agent, const WireguardKey& key) {
  auto config = AgentConfigFromJson(ReadSourceFile("examples/homelab/rendered/" + agent + ".json"));
  REQUIRE_MESSAGE(config.ok(), config.status().message());
  for (WireguardInterface& interface : config->interfaces) interface.public_key = key;
  return *config;
}

// ---- the fake host ------------------------------------------------------------------------

enum class KernelModule { kPresent, kAbsent };

// The real tools' output for one piece of an ObservedState.
std::string AddressJson(const ObservedInterface& interface, KernelModule module) {
  std::vector<std::string> addresses;
  for (const Ipv4Cidr& address : interface.addresses) {
    addresses.push_back(R"({"family":"inet","local":")" + address.address.ToString() + R"(","prefixlen":)" +
                        std::to_string(address.prefix) + R"(,"scope":"global","label":")" + interface.name + R"("})");
  }
  std::string flags = interface.up ? R"("POINTOPOINT","NOARP","UP","LOWER_UP")" : R"("POINTOPOINT","NOARP")";
  std::string kind = module == KernelModule::kPresent ? "wireguard" : "tun";
  return R"([{"ifindex":7,"ifname":")" + interface.name + R"(","flags":[)" + flags + R"(],"mtu":)" +
         std::to_string(interface.mtu) + R"(,"qdisc":"noqueue","operstate":"UNKNOWN","linkinfo":{"info_kind":")" + kind +
         R"("},"addr_info":[)" + Join(addresses, ",") + "]}]\n";
}

std::string WireguardDump(const ObservedInterface& interface) {
  std::string text = interface.public_key ? std::string(kRedactedPrivate) + "\t" + interface.public_key->ToBase64()
                                          : std::string("(none)\t(none)");
  text += "\t" + std::to_string(interface.listen_port) + "\t" + (interface.fwmark == 0 ? "off" : Hex(interface.fwmark)) + "\n";
  for (const ObservedPeer& peer : interface.peers) {
    std::vector<std::string> allowed;
    for (const Ipv4Cidr& cidr : peer.allowed_ips) allowed.push_back(cidr.ToString());
    text += peer.public_key.ToBase64() + "\t(none)\t" + (peer.endpoint.empty() ? "(none)" : peer.endpoint) + "\t" +
            (allowed.empty() ? "(none)" : Join(allowed, ",")) + "\t" + std::to_string(peer.latest_handshake) + "\t" +
            std::to_string(peer.rx_bytes) + "\t" + std::to_string(peer.tx_bytes) + "\t" +
            (peer.persistent_keepalive == 0 ? "off" : std::to_string(peer.persistent_keepalive)) + "\n";
  }
  return text;
}

// `ip -N -j` prints a /32 as a bare address and 0.0.0.0/0 as "default".
std::string IpDestination(const Ipv4Cidr& cidr) {
  if (cidr.prefix == 0) return "default";
  if (cidr.prefix == 32) return cidr.address.ToString();
  return cidr.Canonical().ToString();
}

std::string RoutesJson(const std::vector<Route>& routes) {
  std::vector<std::string> entries;
  for (const Route& route : routes) {
    std::string entry = R"({"dst":")" + IpDestination(route.destination) + "\"";
    if (route.via) entry += R"(,"gateway":")" + route.via->ToString() + "\"";
    entry += R"(,"dev":")" + route.device + "\"";
    if (route.table != kMainTable) entry += R"(,"table":")" + std::to_string(route.table) + "\"";
    entries.push_back(entry + R"(,"scope":"253","flags":[]})");
  }
  return "[" + Join(entries, ",") + "]\n";
}

std::string RuleSelectorJson(const char* address_key, const char* length_key, const std::optional<Ipv4Cidr>& cidr) {
  if (!cidr) return std::string(R"(")") + address_key + R"(":"all")";
  std::string text = std::string("\"") + address_key + R"(":")" + cidr->address.ToString() + "\"";
  if (cidr->prefix != 32) text += std::string(",\"") + length_key + "\":" + std::to_string(cidr->prefix);
  return text;
}

// The host's own rules (local, main, default) around the owned ones.
std::string RulesJson(const std::vector<RoutingRule>& rules) {
  std::vector<std::string> entries = {R"({"priority":0,"src":"all","table":"255"})"};
  for (const RoutingRule& rule : rules) {
    std::string entry = R"({"priority":)" + std::to_string(rule.priority) + "," + RuleSelectorJson("src", "srclen", rule.from);
    if (rule.to) entry += "," + RuleSelectorJson("dst", "dstlen", rule.to);
    if (rule.fwmark != 0) entry += R"(,"fwmark":")" + Hex(rule.fwmark) + "\"";
    entries.push_back(entry + R"(,"table":")" + std::to_string(rule.table) + R"(","protocol":"87"})");
  }
  entries.push_back(R"({"priority":32766,"src":"all","table":"254"})");
  entries.push_back(R"({"priority":32767,"src":"all","table":"253"})");
  return "[" + Join(entries, ",") + "]\n";
}

// One table's section of `iptables-save`, with foreign rules (Docker's chain, a
// user's NAT rule) that the agent must leave alone.
std::string IptablesSave(const ObservedState& state, FirewallTable table) {
  std::vector<std::string> builtin;
  std::vector<std::string> foreign_chains;
  std::vector<std::string> foreign_rules;
  switch (table) {
    case FirewallTable::kFilter:
      builtin = {"INPUT", "FORWARD", "OUTPUT"};
      foreign_chains = {"DOCKER-USER"};
      foreign_rules = {"-A FORWARD -j DOCKER-USER", "-A DOCKER-USER -j RETURN"};
      break;
    case FirewallTable::kNat:
      builtin = {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"};
      foreign_rules = {"-A POSTROUTING -s 172.31.99.0/24 -j MASQUERADE"};
      break;
    case FirewallTable::kMangle:
      builtin = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
      break;
  }
  std::string text = "# Generated by iptables-save v1.8.9 (nf_tables)\n*" + std::string(FirewallTableName(table)) + "\n";
  for (const std::string& chain : builtin) text += ":" + chain + " ACCEPT [0:0]\n";
  for (const std::string& chain : foreign_chains) text += ":" + chain + " - [0:0]\n";
  for (const FirewallChain& chain : state.chains) {
    if (chain.table == table) text += ":" + chain.name + " - [0:0]\n";
  }
  for (const FirewallJump& jump : state.jumps) {
    if (jump.table == table) text += "-A " + jump.chain + " " + jump.rule + "\n";
  }
  for (const std::string& rule : foreign_rules) text += rule + "\n";
  for (const FirewallChain& chain : state.chains) {
    if (chain.table != table) continue;
    for (const std::string& rule : chain.rules) text += "-A " + chain.name + " " + rule + "\n";
  }
  return text + "COMMIT\n# Completed\n";
}

CommandOutput Exit(int code, std::string stdout_data, std::string stderr_data = "") {
  return CommandOutput{code, std::move(stdout_data), std::move(stderr_data)};
}

// A host in memory. Read-only commands (the observer's list in observer.h) are answered
// from `state`; every command goes through a RecordingRunner, so tests read the exact lines.
// Mutating commands change nothing unless Expect() announced them: when the last command of
// an announced batch succeeds, the batch's steps are applied to the state with SimulateApply.
class FakeHost : public CommandRunner {
 public:
  FakeHost(ObservedState state, KernelModule module) : state_(std::move(state)), module_(module) {
    if (module_ == KernelModule::kAbsent) recorder_.SetOutput(kProbeAdd, Exit(2, "", "Error: Unknown device type.\n"));
  }

  void Expect(const Plan& plan, const std::vector<CommandBatch>& batches) {
    for (const CommandBatch& batch : batches) {
      REQUIRE(!batch.commands.empty());
      Plan part;
      for (size_t index : batch.steps) part.steps.push_back(plan.steps[index]);
      const Command& last = batch.commands.back();
      effects_.insert_or_assign({last.argv, last.stdin_data}, std::move(part));
    }
  }

  Result<CommandOutput> Run(const Command& command) override {
    if (command.effect == Effect::kReadOnly) recorder_.SetOutput(command.argv, Answer(command.argv));
    auto output = recorder_.Run(command);
    if (command.effect == Effect::kMutating && output.ok() && output->exit_code == 0) {
      auto effect = effects_.find({command.argv, command.stdin_data});
      if (effect != effects_.end()) {
        state_ = SimulateApply(state_, effect->second);
        effects_.erase(effect);
      }
    }
    return output;
  }

  const ObservedState& state() const { return state_; }
  void SetState(ObservedState state) { state_ = std::move(state); }
  KernelModule module() const { return module_; }
  RecordingRunner& recorder() { return recorder_; }
  FirewallGeneration* firewall_generation() override { return recorder_.firewall_generation(); }

 private:
  const ObservedInterface* FindInterface(const std::string& name) const {
    for (const ObservedInterface& interface : state_.interfaces) {
      if (interface.name == name) return &interface;
    }
    return nullptr;
  }

  CommandOutput Answer(const std::vector<std::string>& argv) const {
    using Argv = std::vector<std::string>;
    if (argv.size() == 7 && Argv(argv.begin(), argv.end() - 1) == Argv{"ip", "-d", "-j", "address", "show", "dev"}) {
      const ObservedInterface* interface = FindInterface(argv[6]);
      if (interface == nullptr) return Exit(1, "", "Device \"" + argv[6] + "\" does not exist.\n");
      return Exit(0, AddressJson(*interface, module_));
    }
    if (argv.size() == 3 && argv[0] == "test" && argv[1] == "-S") {
      bool userspace = module_ == KernelModule::kAbsent;
      for (const ObservedInterface& interface : state_.interfaces) {
        if (userspace && argv[2] == std::string(kUserspaceSocketDirectory) + "/" + interface.name + ".sock") {
          return Exit(0, "");
        }
      }
      return Exit(1, "");
    }
    if (argv.size() == 4 && argv[0] == "wg" && argv[1] == "show" && argv[3] == "dump") {
      const ObservedInterface* interface = FindInterface(argv[2]);
      if (interface == nullptr) return Exit(1, "", "Unable to access interface: Protocol not supported\n");
      return Exit(0, WireguardDump(*interface));
    }
    if (argv == Argv{"ip", "-4", "-N", "-j", "route", "show", "table", "all", "proto", "87"}) {
      return Exit(0, RoutesJson(state_.routes));
    }
    if (argv == Argv{"ip", "-4", "-N", "-j", "rule", "show"}) return Exit(0, RulesJson(state_.rules));
    if (argv == Argv{"iptables-save"}) {
      std::string text;
      for (FirewallTable table : {FirewallTable::kFilter, FirewallTable::kNat, FirewallTable::kMangle}) {
        text += IptablesSave(state_, table);
      }
      return Exit(0, text);
    }
    if (argv.size() == 3 && argv[0] == "sysctl" && argv[1] == "-n") {
      for (const Sysctl& sysctl : state_.sysctls) {
        if (sysctl.key == argv[2]) return Exit(0, sysctl.value + "\n");
      }
      std::string path = argv[2];
      for (char& c : path) c = c == '.' ? '/' : c;
      return Exit(1, "", "sysctl: cannot stat /proc/sys/" + path + ": No such file or directory\n");
    }
    return Exit(127, "", "fake host: no such read-only command\n");
  }

  ObservedState state_;
  KernelModule module_;
  RecordingRunner recorder_;
  std::map<std::pair<std::vector<std::string>, std::string>, Plan> effects_;
};

// A host with nothing of WireWarp's on it: forwarding off, and the foreign firewall rules
// IptablesSave adds.
ObservedState EmptyHost() {
  ObservedState state;
  state.sysctls = {{"net.ipv4.ip_forward", "0"}};
  return state;
}

// What the agent observes on `host` now, through a scratch copy (nothing is recorded).
ObservedState ObserveThrough(const FakeHost& host, const ObserveRequest& request) {
  FakeHost scratch(host.state(), host.module());
  auto observed = Observe(scratch, request);
  REQUIRE_MESSAGE(observed.ok(), observed.status().message());
  return *observed;
}

// The record of peer endpoints an agent keeps after setting every peer of `config`.
AppliedEndpoints RecordOf(const AgentConfig& config) {
  AppliedEndpoints record;
  for (const WireguardInterface& interface : config.interfaces) {
    for (const WireguardPeer& peer : interface.peers) {
      if (!peer.endpoint.empty()) record.push_back({interface.name, peer.public_key, peer.endpoint, ""});
    }
  }
  return record;
}

// The plan the agent must make for `desired` on `host`, computed independently of it; with
// `state`, peers carry the endpoints its record says were applied, as the agent sees them.
Plan PlanOn(const FakeHost& host, const AgentConfig& desired, const StateDir* state = nullptr) {
  ObservedState observed = ObserveThrough(host, ObserveRequestFor(desired));
  if (state != nullptr) FillAppliedEndpoints(LoadAppliedEndpoints(*state), observed);
  return ComputePlan(desired, observed);
}

std::vector<CommandBatch> Batches(const Plan& plan, const StateDir& state, WireguardImplementation implementation) {
  CommandContext context;
  context.private_key_path = state.WireguardKeyPath();
  context.implementation = implementation;
  auto batches = ToCommandBatches(plan, context);
  REQUIRE_MESSAGE(batches.ok(), batches.status().message());
  return *batches;
}

std::vector<Command> Flatten(const std::vector<CommandBatch>& batches) {
  std::vector<Command> commands;
  for (const CommandBatch& batch : batches) commands.insert(commands.end(), batch.commands.begin(), batch.commands.end());
  return commands;
}

std::vector<std::string> Lines(const std::vector<Command>& commands) {
  std::vector<std::string> lines;
  for (const Command& command : commands) lines.push_back(FormatArgv(command.argv));
  return lines;
}

std::vector<std::string> Concat(std::vector<std::string> first, const std::vector<std::string>& second) {
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

std::vector<std::string> ReadOnlyLines(const RecordingRunner& recorder) {
  std::vector<std::string> lines;
  for (const Command& command : recorder.commands()) {
    if (command.effect == Effect::kReadOnly) lines.push_back(FormatArgv(command.argv));
  }
  return lines;
}

std::vector<StepReport::Outcome> Outcomes(const ApplyReport& report) {
  std::vector<StepReport::Outcome> outcomes;
  for (const StepReport& step : report.steps) outcomes.push_back(step.outcome);
  return outcomes;
}

// The observer's commands for examples/homelab/rendered/home-gw.json: one interface, two
// sysctl keys; `test -S` only when the device is not a tun (kernel module present). The
// commands that do not depend on the interfaces start first, so they run meanwhile.
const std::vector<std::string> kGatewayObservationWithDevice = {
    "ip -4 -N -j route show table all proto 87",
    "ip -4 -N -j rule show",
    "iptables-save",
    "sysctl -n net.ipv4.conf.wg0.rp_filter",
    "sysctl -n net.ipv4.ip_forward",
    "ip -d -j address show dev wg0",
    "test -S /var/run/wireguard/wg0.sock",
    "wg show wg0 dump",
};
const std::vector<std::string> kGatewayObservationWithoutDevice = {
    "ip -4 -N -j route show table all proto 87",
    "ip -4 -N -j rule show",
    "iptables-save",
    "sysctl -n net.ipv4.conf.wg0.rp_filter",
    "sysctl -n net.ipv4.ip_forward",
    "ip -d -j address show dev wg0",
};

// What runs before a config is checked: the observation's commands with a fixed argv, which
// no value of a config reaches (they overlap the checks).
const std::vector<std::string> kFixedObservation = {
    "ip -4 -N -j route show table all proto 87",
    "ip -4 -N -j rule show",
    "iptables-save",
};

// ---- tests ----------------------------------------------------------------------------------

TEST_CASE("the fake host answers in formats the observer reads back exactly") {
  TemporaryStateDir dir;
  for (const char* agent : {"vps", "home-gw"}) {
    AgentConfig desired = RenderedExample(agent, dir.PublicKey());
    FakeHost host(ObservedFromDesired(desired), KernelModule::kAbsent);
    ObservedState observed = ObserveThrough(host, ObserveRequestFor(desired));
    ObservedState expected = ObservedFromDesired(desired);
    for (ObservedInterface& interface : expected.interfaces) {
      interface.implementation = WireguardImplementation::kUserspace;
      for (ObservedPeer& peer : interface.peers) peer.applied_endpoint = "";  // the state dir's, not the tools'
    }
    CHECK_MESSAGE(observed == expected, agent);
    FillAppliedEndpoints(RecordOf(desired), observed);
    CHECK(ComputePlan(desired, observed).empty());
  }
}

TEST_CASE("ApplyConfig on an empty host runs exactly the planned commands in order and stores the config") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(EmptyHost(), KernelModule::kPresent);
  Plan plan = PlanOn(host, desired);
  std::vector<CommandBatch> batches = Batches(plan, dir.state(), WireguardImplementation::kKernel);
  host.Expect(plan, batches);
  std::vector<Command> planned = Flatten(batches);
  REQUIRE(planned.size() >= 10);

  auto report = ApplyConfig(host, dir.state(), desired, AgentOptions{});
  REQUIRE_MESSAGE(report.ok(), report.status().message());

  // The kernel probe (a throwaway device, removed at once), then the plan's commands.
  std::vector<Command> mutating = host.recorder().MutatingCommands();
  REQUIRE(mutating.size() == planned.size() + 2);
  CHECK(FormatArgv(mutating[0].argv) == "ip link add wwprobe0 type wireguard");
  CHECK(FormatArgv(mutating[1].argv) == "ip link del wwprobe0");
  CHECK(std::vector<Command>(mutating.begin() + 2, mutating.end()) == planned);  // argv, stdin, timeout
  // Spelled out, so the test does not only trust ToCommands.
  CHECK(FormatArgv(mutating[2].argv) == "ip link add wg0 type wireguard");
  CHECK(FormatArgv(mutating[3].argv) == "ip link set wg0 mtu 1420");
  CHECK(FormatArgv(mutating[4].argv) == "wg set wg0 private-key " + dir.path() + "/wireguard.key fwmark 0x57580229");
  for (const Command& command : mutating) {
    CHECK(command.stdin_data.find("DOCKER-USER") == std::string::npos);
    CHECK(command.stdin_data.find("172.31.99.0") == std::string::npos);
  }

  CHECK(report->commands == Lines(planned));
  CHECK(report->plan == plan);
  CHECK(report->converged);
  CHECK(report->error == "");
  CHECK(Outcomes(*report) == std::vector<StepReport::Outcome>(plan.steps.size(), StepReport::Outcome::kApplied));
  REQUIRE(report->after.has_value());
  CHECK(ComputePlan(desired, *report->after).empty());
  REQUIRE(report->after->interfaces.size() == 1);
  CHECK(report->after->interfaces[0].implementation == WireguardImplementation::kKernel);
  CHECK(ComputePlan(desired, host.state()).empty());
  CHECK(ReadOnlyLines(host.recorder()) == Concat(kGatewayObservationWithoutDevice, kGatewayObservationWithDevice));

  CHECK(dir.LastApplied() == std::optional<AgentConfig>(desired));
  CHECK(dir.OwnedInterfaces() == std::vector<std::string>{"wg0"});
}

TEST_CASE("ApplyConfig without the WireGuard kernel module creates the device with wireguard-go") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("vps", dir.PublicKey());
  FakeHost host(EmptyHost(), KernelModule::kAbsent);
  Plan plan = PlanOn(host, desired);
  std::vector<CommandBatch> batches = Batches(plan, dir.state(), WireguardImplementation::kUserspace);
  host.Expect(plan, batches);

  auto report = ApplyConfig(host, dir.state(), desired, AgentOptions{});
  REQUIRE_MESSAGE(report.ok(), report.status().message());

  // The refused probe leaves no device to delete.
  std::vector<std::string> lines = host.recorder().MutatingCommandLines();
  CHECK(lines == Concat({"ip link add wwprobe0 type wireguard"}, Lines(Flatten(batches))));
  REQUIRE(lines.size() >= 3);
  CHECK(lines[1] == "wireguard-go wg0");
  CHECK(lines[2] == "ip link set wg0 mtu 1420");
  CHECK(report->converged);
  REQUIRE(report->after.has_value());
  REQUIRE(report->after->interfaces.size() == 1);
  CHECK(report->after->interfaces[0].implementation == WireguardImplementation::kUserspace);
  CHECK(dir.LastApplied() == std::optional<AgentConfig>(desired));

  SUBCASE("--wireguard userspace skips the probe") {
    TemporaryStateDir other;
    AgentConfig config = RenderedExample("vps", other.PublicKey());
    FakeHost fresh(EmptyHost(), KernelModule::kAbsent);
    AgentOptions options;
    options.wireguard = WireguardMode::kUserspace;
    auto forced = ApplyConfig(fresh, other.state(), config, options);
    REQUIRE(forced.ok());
    REQUIRE(!fresh.recorder().MutatingCommandLines().empty());
    CHECK(fresh.recorder().MutatingCommandLines()[0] == "wireguard-go wg0");
  }
}

TEST_CASE("a failed step stops the plan, is reported with its command and stderr, and the next apply repairs") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(EmptyHost(), KernelModule::kPresent);
  Plan plan = PlanOn(host, desired);
  std::vector<CommandBatch> batches = Batches(plan, dir.state(), WireguardImplementation::kKernel);
  host.Expect(plan, batches);
  std::vector<std::string> planned = Lines(Flatten(batches));

  // Fail the first iptables-restore: interface, peers, routes and rules are done by then.
  size_t failing_batch = 0;
  size_t failing_command = 0;  // index into `planned`
  for (size_t commands_before = 0; failing_batch < batches.size(); ++failing_batch) {
    const std::vector<std::string>& argv = batches[failing_batch].commands[0].argv;
    if (argv[0] == "iptables-restore") {
      failing_command = commands_before;
      break;
    }
    commands_before += batches[failing_batch].commands.size();
  }
  REQUIRE(failing_batch < batches.size());
  REQUIRE(failing_batch > 0);
  REQUIRE(failing_batch + 1 < batches.size());  // something after it gets skipped
  const int fail_at = static_cast<int>(failing_command) + 3;  // after the probe's add and del
  FailingRunner failing(host, fail_at);

  auto report = ApplyConfig(failing, dir.state(), desired, AgentOptions{});
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  const std::string error = "\"iptables-restore --noflush --wait\" failed (exit 1): injected failure of mutating command #" +
                            std::to_string(fail_at);
  CHECK_FALSE(report->converged);
  CHECK(report->error == error);
  // Every command up to the failed one is listed; the host never saw the failed one.
  CHECK(report->commands == std::vector<std::string>(planned.begin(), planned.begin() + failing_command + 1));
  CHECK(host.recorder().MutatingCommandLines() ==
        Concat({"ip link add wwprobe0 type wireguard", "ip link del wwprobe0"},
               std::vector<std::string>(planned.begin(), planned.begin() + failing_command)));

  std::vector<StepReport::Outcome> expected_outcomes(plan.steps.size());
  for (size_t batch = 0; batch < batches.size(); ++batch) {
    StepReport::Outcome outcome = batch < failing_batch    ? StepReport::Outcome::kApplied
                                  : batch == failing_batch ? StepReport::Outcome::kFailed
                                                           : StepReport::Outcome::kSkipped;
    for (size_t step : batches[batch].steps) expected_outcomes[step] = outcome;
  }
  CHECK(Outcomes(*report) == expected_outcomes);
  for (const StepReport& step : report->steps) {
    CHECK(step.error == (step.outcome == StepReport::Outcome::kFailed ? error : ""));
  }
  std::string json = ApplyReportToJson(*report);
  CHECK(json.find("\"result\": \"failed\",\n      \"error\": \"\\\"iptables-restore --noflush --wait\\\" failed (exit 1): "
                  "injected failure of mutating command #" + std::to_string(fail_at) + "\"") != std::string::npos);
  CHECK(json.find("\"converged\": false") != std::string::npos);

  // The pass observed the partial host, did not store the config, but owns the interface.
  REQUIRE(report->after.has_value());
  CHECK_FALSE(ComputePlan(desired, *report->after).empty());
  CHECK_FALSE(dir.LastApplied().has_value());
  CHECK_FALSE(fs::exists(dir.path() + "/last-applied.json"));
  CHECK(dir.OwnedInterfaces() == std::vector<std::string>{"wg0"});

  // The next apply plans from what it observes: exactly the failed and skipped steps.
  std::vector<Step> unfinished;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (expected_outcomes[i] != StepReport::Outcome::kApplied) unfinished.push_back(plan.steps[i]);
  }
  Plan repair = PlanOn(host, desired, &dir.state());
  CHECK(repair.steps == unfinished);
  std::vector<CommandBatch> repair_batches = Batches(repair, dir.state(), WireguardImplementation::kKernel);
  host.Expect(repair, repair_batches);
  host.recorder().ClearCommands();

  auto repaired = ApplyConfig(host, dir.state(), desired, AgentOptions{});
  REQUIRE_MESSAGE(repaired.ok(), repaired.status().message());
  // No probe: nothing is created. Everything from the failed command on runs.
  CHECK(host.recorder().MutatingCommandLines() ==
        std::vector<std::string>(planned.begin() + failing_command, planned.end()));
  CHECK(repaired->commands == host.recorder().MutatingCommandLines());
  CHECK(repaired->converged);
  CHECK(repaired->error == "");
  CHECK(dir.LastApplied() == std::optional<AgentConfig>(desired));
}

TEST_CASE("a command that cannot run at all (a timeout) is reported like a failed one") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("vps", dir.PublicKey());
  FakeHost host(EmptyHost(), KernelModule::kPresent);
  FailingRunner failing(host, 3, InjectedFailure::kUnavailable);  // the first planned command

  auto report = ApplyConfig(failing, dir.state(), desired, AgentOptions{});
  REQUIRE(report.ok());
  CHECK_FALSE(report->converged);
  CHECK(report->error == "\"ip link add wg0 type wireguard\": injected failure of mutating command #3");
  CHECK(report->commands == std::vector<std::string>{"ip link add wg0 type wireguard"});
  REQUIRE(!report->steps.empty());
  CHECK(report->steps[0].outcome == StepReport::Outcome::kFailed);
  for (size_t i = 1; i < report->steps.size(); ++i) CHECK(report->steps[i].outcome == StepReport::Outcome::kSkipped);
  CHECK_FALSE(dir.LastApplied().has_value());
}

TEST_CASE("a config for another agent's key is refused before any command that depends on it runs") {
  TemporaryStateDir dir;
  const WireguardKey own_key = dir.PublicKey();
  AgentConfig desired = RenderedExample("vps", KeyFromBase64(kRenderedVpsKey));
  FakeHost host(EmptyHost(), KernelModule::kPresent);

  auto report = ApplyConfig(host, dir.state(), desired, AgentOptions{});
  REQUIRE_FALSE(report.ok());
  CHECK(report.status().code() == StatusCode::kFailedPrecondition);
  CHECK(report.status().message() == std::string("the config for interface wg0 expects public key ") + kRenderedVpsKey +
                                         " but this agent's key is " + own_key.ToBase64() +
                                         " (render the config with this agent's key)");
  CHECK(host.recorder().CommandLines() == kFixedObservation);
  CHECK_FALSE(dir.LastApplied().has_value());
}

TEST_CASE("a config outside the policy is refused before any command runs, observation included") {
  TemporaryStateDir dir;
  const WireguardKey own_key = dir.PublicKey();
  struct Case {
    const char* what;
    std::function<void(AgentConfig&)> change;
  };
  const std::vector<Case> cases = {
      {"core_pattern", [](AgentConfig& c) { c.sysctls.push_back({"kernel.core_pattern", "|/tmp/x %p"}); }},
      {"default route", [](AgentConfig& c) { c.routes.push_back({Cidr("0.0.0.0/0"), "wg0", std::nullopt, kMainTable}); }},
      {"local table", [](AgentConfig& c) { c.routes[0].table = 255; }},
      {"INPUT accept", [](AgentConfig& c) { c.chains[1].rules.push_back("-j ACCEPT"); }},
      {"OUTPUT DNAT", [](AgentConfig& c) { c.jumps.push_back({FirewallTable::kNat, "OUTPUT", "-j WIREWARP-PREROUTING"}); }},
      {"DNAT outside", [](AgentConfig& c) {
         c.chains[3].rules[0] = "! -i wg0 -p tcp -m tcp --dport 443 -j DNAT --to-destination 203.0.113.9:443";
       }},
  };
  for (const Case& hostile : cases) {
    const std::string what = hostile.what;
    CAPTURE(what);
    AgentConfig desired = RenderedExample("vps", own_key);
    hostile.change(desired);
    for (DryRun dry_run : {DryRun::kYes, DryRun::kNo}) {
      FakeHost host(EmptyHost(), KernelModule::kPresent);
      AgentOptions options;
      options.dry_run = dry_run;
      auto report = ApplyConfig(host, dir.state(), desired, options);
      REQUIRE_FALSE(report.ok());
      CHECK(report.status().code() == StatusCode::kInvalidArgument);
      CHECK(report.status().message().rfind("refusing the config, nothing was run: ", 0) == 0);
      CHECK(host.recorder().CommandLines().empty());
    }
  }
  CHECK_FALSE(dir.LastApplied().has_value());
}

TEST_CASE("--dry-run observes, runs no mutating command and lists the planned ones") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(EmptyHost(), KernelModule::kAbsent);
  Plan plan = PlanOn(host, desired);
  AgentOptions options;
  options.dry_run = DryRun::kYes;

  SUBCASE("auto: lists kernel commands without probing") {
    auto report = ApplyConfig(host, dir.state(), desired, options);
    REQUIRE(report.ok());
    CHECK(host.recorder().MutatingCommands().empty());
    CHECK(ReadOnlyLines(host.recorder()) == kGatewayObservationWithoutDevice);
    CHECK(report->commands == Lines(Flatten(Batches(plan, dir.state(), WireguardImplementation::kKernel))));
    REQUIRE(!report->commands.empty());
    CHECK(report->commands[0] == "ip link add wg0 type wireguard");
    CHECK(Outcomes(*report) == std::vector<StepReport::Outcome>(plan.steps.size(), StepReport::Outcome::kPlanned));
    CHECK_FALSE(report->converged);
    CHECK_FALSE(report->after.has_value());
  }
  SUBCASE("userspace: lists wireguard-go") {
    options.wireguard = WireguardMode::kUserspace;
    auto report = ApplyConfig(host, dir.state(), desired, options);
    REQUIRE(report.ok());
    CHECK(host.recorder().MutatingCommands().empty());
    CHECK(report->commands == Lines(Flatten(Batches(plan, dir.state(), WireguardImplementation::kUserspace))));
    REQUIRE(!report->commands.empty());
    CHECK(report->commands[0] == "wireguard-go wg0");
  }
  CHECK(host.state() == EmptyHost());
  CHECK_FALSE(dir.LastApplied().has_value());
  CHECK(dir.OwnedInterfaces().empty());
}

TEST_CASE("a no-op apply on a host that matches the config runs no mutating command") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(ObservedFromDesired(desired), KernelModule::kPresent);
  REQUIRE(SaveAppliedEndpoints(dir.state(), RecordOf(desired)).ok());  // the agent set these peers

  auto report = ApplyConfig(host, dir.state(), desired, AgentOptions{});
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  CHECK(host.recorder().MutatingCommands().empty());
  CHECK(report->plan.empty());
  CHECK(report->steps.empty());
  CHECK(report->commands.empty());
  CHECK(report->converged);
  CHECK(report->error == "");
  // One observation: with nothing run, the host is as it was observed.
  CHECK(host.recorder().CommandLines() == kGatewayObservationWithDevice);
  CHECK(dir.LastApplied() == std::optional<AgentConfig>(desired));
  CHECK(dir.OwnedInterfaces() == std::vector<std::string>{"wg0"});

  // Again, with the state directory up to date: its files are not rewritten (each atomic
  // write replaces the file, so its inode would change).
  const ino_t last_applied = Inode(dir.path() + "/last-applied.json");
  const ino_t owned = Inode(dir.path() + "/owned.json");
  host.recorder().ClearCommands();
  auto again = ApplyConfig(host, dir.state(), desired, AgentOptions{});
  REQUIRE(again.ok());
  CHECK(again->converged);
  CHECK(host.recorder().CommandLines() == kGatewayObservationWithDevice);
  CHECK(Inode(dir.path() + "/last-applied.json") == last_applied);
  CHECK(Inode(dir.path() + "/owned.json") == owned);
}

TEST_CASE("ApplyConfig does not parse last-applied.json again when it holds the desired text") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(ObservedFromDesired(desired), KernelModule::kPresent);
  REQUIRE(ApplyConfig(host, dir.state(), desired, AgentOptions{}).ok());
  auto read = dir.state().ReadFile("last-applied.json");
  REQUIRE(read.ok());
  REQUIRE(read->has_value());
  const std::string stored = **read;
  CHECK(stored == AgentConfigToJson(desired, JsonStyle::kPretty));

  // The stored text, given as the desired text: a no-op, the file untouched.
  const ino_t last_applied = Inode(dir.path() + "/last-applied.json");
  host.recorder().ClearCommands();
  auto again = ApplyConfig(host, dir.state(), desired, AgentOptions{}, stored);
  REQUIRE_MESSAGE(again.ok(), again.status().message());
  CHECK(again->converged);
  CHECK(host.recorder().CommandLines() == kGatewayObservationWithDevice);
  CHECK(Inode(dir.path() + "/last-applied.json") == last_applied);

  // Which path ran shows with a file the parser refuses: the same bytes as the desired text
  // are taken as `desired` unparsed; any other bytes are parsed (and refused).
  const std::string unparseable = stored.substr(0, stored.size() / 2);
  REQUIRE(dir.state().WriteFileAtomically("last-applied.json", unparseable).ok());
  host.recorder().ClearCommands();
  auto same_bytes = ApplyConfig(host, dir.state(), desired, AgentOptions{}, unparseable);
  REQUIRE_MESSAGE(same_bytes.ok(), same_bytes.status().message());
  CHECK(same_bytes->converged);
  auto other_bytes = ApplyConfig(host, dir.state(), desired, AgentOptions{}, stored);
  REQUIRE_FALSE(other_bytes.ok());
  CHECK(other_bytes.status().code() == StatusCode::kFailedPrecondition);
  CHECK(other_bytes.status().message().find("last-applied.json\" is corrupt (") != std::string::npos);
}

// The same on real captures (tests/testdata/agent/): the desired config is what the capture
// shows, with the interface key replaced by this agent's key.
TEST_CASE("the captured VPS observes back as its own config, which the policy refuses without running anything") {
  TemporaryStateDir dir;
  const WireguardKey key = dir.PublicKey();
  std::string dump = Testdata("wg-dump-vps-wwobs0.txt");
  const std::string captured_key = "6HjdmlDvPz/Za0Hu1XBAsOUOK9hwxSoAXPM0wQMPVnU=";
  REQUIRE(dump.find(captured_key) != std::string::npos);
  dump.replace(dump.find(captured_key), captured_key.size(), key.ToBase64());
  RecordingRunner recorder;
  auto read_only = [](std::string stdout_data) { return Exit(0, std::move(stdout_data)); };
  recorder.SetOutput({"ip", "-d", "-j", "address", "show", "dev", "wwobs0"}, read_only(Testdata("ip-address-vps-wwobs0-detail.json")));
  recorder.SetOutput({"wg", "show", "wwobs0", "dump"}, read_only(dump));
  recorder.SetOutput({"ip", "-4", "-N", "-j", "route", "show", "table", "all", "proto", "87"},
                     read_only(Testdata("ip-route-vps-proto87.json")));
  recorder.SetOutput({"ip", "-4", "-N", "-j", "rule", "show"}, read_only(Testdata("ip-rule-vps-numeric.json")));
  recorder.SetOutput({"iptables-save"}, read_only(Testdata("iptables-save-vps-filter.txt") + Testdata("iptables-save-vps-nat.txt") +
                                                 Testdata("iptables-save-vps-mangle.txt")));
  recorder.SetOutput({"sysctl", "-n", "net.ipv4.ip_forward"}, read_only(Testdata("sysctl-vps-ip_forward.txt")));
  recorder.SetOutput({"sysctl", "-n", "net.ipv4.conf.wwobs0.rp_filter"}, read_only(Testdata("sysctl-vps-wwobs0-rp_filter.txt")));

  ObserveRequest request{{"wwobs0"}, {"net.ipv4.conf.wwobs0.rp_filter", "net.ipv4.ip_forward"}};
  auto observed = Observe(recorder, request);
  REQUIRE_MESSAGE(observed.ok(), observed.status().message());
  REQUIRE(observed->interfaces.size() == 1);
  REQUIRE(observed->sysctls.size() == 2);
  REQUIRE(!observed->chains.empty());
  REQUIRE(!observed->jumps.empty());
  REQUIRE(!observed->routes.empty());

  AgentConfig desired;
  desired.agent = "vps";
  const ObservedInterface& seen = observed->interfaces[0];
  WireguardInterface interface;
  interface.name = seen.name;
  interface.tunnel = "captured";
  interface.address = seen.addresses.at(0);
  interface.listen_port = seen.listen_port;
  interface.mtu = seen.mtu;
  interface.fwmark = seen.fwmark;
  interface.public_key = key;
  for (const ObservedPeer& peer : seen.peers) {
    interface.peers.push_back({"peer", peer.public_key, peer.endpoint, peer.allowed_ips, peer.persistent_keepalive});
  }
  desired.interfaces = {interface};
  desired.routes = observed->routes;
  desired.rules = observed->rules;
  desired.chains = observed->chains;
  desired.jumps = observed->jumps;
  desired.sysctls = observed->sysctls;
  recorder.ClearCommands();

  // The engine finds nothing to do on the captured host...
  CHECK(ComputePlan(desired, *observed).empty());
  // ...but the capture holds shapes render never produces (a fwmark on a server interface,
  // an empty WIREWARP-EMPTY chain, rp_filter on a server), so the agent's policy refuses it
  // before running anything; the no-op apply of a rendered config is tested above.
  auto report = ApplyConfig(recorder, dir.state(), desired, AgentOptions{});
  REQUIRE_FALSE(report.ok());
  CHECK(report.status().message().find("render never produces this") != std::string::npos);
  CHECK(recorder.CommandLines().empty());
}

TEST_CASE("RestoreLastApplied re-applies the stored config after a reboot, with no config given") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(EmptyHost(), KernelModule::kPresent);
  Plan plan = PlanOn(host, desired);
  std::vector<CommandBatch> batches = Batches(plan, dir.state(), WireguardImplementation::kKernel);
  host.Expect(plan, batches);
  REQUIRE(ApplyConfig(host, dir.state(), desired, AgentOptions{}).ok());
  REQUIRE(dir.LastApplied().has_value());

  // A reboot: the device, routes, rules and chains are gone; the state dir stays.
  host.SetState(EmptyHost());
  host.Expect(plan, batches);
  host.recorder().ClearCommands();
  auto report = RestoreLastApplied(host, dir.state(), AgentOptions{});
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  CHECK(host.recorder().MutatingCommandLines() ==
        Concat({"ip link add wwprobe0 type wireguard", "ip link del wwprobe0"}, Lines(Flatten(batches))));
  CHECK(report->converged);
  CHECK(ComputePlan(desired, host.state()).empty());
}

TEST_CASE("TearDown removes what the agent owns and the last applied config - restore then finds nothing") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(EmptyHost(), KernelModule::kPresent);
  Plan plan = PlanOn(host, desired);
  host.Expect(plan, Batches(plan, dir.state(), WireguardImplementation::kKernel));
  REQUIRE(ApplyConfig(host, dir.state(), desired, AgentOptions{}).ok());
  REQUIRE(fs::exists(dir.path() + "/last-applied.json"));

  AgentConfig nothing;
  nothing.agent = "home-gw";
  Plan removal = ComputePlan(nothing, ObserveThrough(host, {{"wg0"}, {}}));
  std::vector<CommandBatch> removal_batches = Batches(removal, dir.state(), WireguardImplementation::kKernel);
  host.Expect(removal, removal_batches);
  host.recorder().ClearCommands();

  auto report = TearDown(host, dir.state(), AgentOptions{});
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  std::vector<std::string> lines = host.recorder().MutatingCommandLines();
  CHECK(lines == Lines(Flatten(removal_batches)));
  CHECK(std::find(lines.begin(), lines.end(), "ip link del wg0") != lines.end());
  CHECK(report->converged);
  CHECK(report->agent == "home-gw");
  CHECK_FALSE(fs::exists(dir.path() + "/last-applied.json"));
  // Nothing owned is left; the sysctls stay as they were set.
  CHECK(host.state().interfaces.empty());
  CHECK(host.state().routes.empty());
  CHECK(host.state().rules.empty());
  CHECK(host.state().chains.empty());
  CHECK(host.state().jumps.empty());
  std::vector<Sysctl> sysctls = host.state().sysctls;
  std::sort(sysctls.begin(), sysctls.end(), [](const Sysctl& a, const Sysctl& b) { return a.key < b.key; });
  CHECK(sysctls == desired.sysctls);

  // Idempotent: a second `down` has nothing to do.
  host.recorder().ClearCommands();
  auto again = TearDown(host, dir.state(), AgentOptions{});
  REQUIRE(again.ok());
  CHECK(host.recorder().MutatingCommands().empty());
  CHECK(again->converged);

  host.recorder().ClearCommands();
  auto restored = RestoreLastApplied(host, dir.state(), AgentOptions{});
  REQUIRE_FALSE(restored.ok());
  CHECK(restored.status().code() == StatusCode::kNotFound);
  CHECK(restored.status().message() == "nothing to restore: no config was applied from " + dir.path());
  CHECK(host.recorder().commands().empty());
}

TEST_CASE("RestoreLastApplied without a stored config is kNotFound and runs nothing") {
  TemporaryStateDir dir;
  FakeHost host(EmptyHost(), KernelModule::kPresent);
  auto restored = RestoreLastApplied(host, dir.state(), AgentOptions{});
  REQUIRE_FALSE(restored.ok());
  CHECK(restored.status().code() == StatusCode::kNotFound);
  CHECK(restored.status().message() == "nothing to restore: no config was applied from " + dir.path());
  CHECK(host.recorder().commands().empty());
}

TEST_CASE("ApplyReportToJson prints the report in a fixed shape") {
  const WireguardKey peer = KeyFromBase64(kRenderedVpsKey);
  ApplyReport report;
  report.agent = "vps";
  Route route{Cidr("192.168.50.0/24"), "wg0", std::nullopt, kMainTable};
  report.plan.steps = {Step{AddRoute{route}, Destructive::kNo}, Step{RemovePeer{"wg0", peer}, Destructive::kYes},
                       Step{SetSysctl{{"net.ipv4.ip_forward", "1"}}, Destructive::kNo}};
  const std::string error = "\"wg set wg0 peer " + std::string(kRenderedVpsKey) + " remove\" failed (exit 1): no \xff";
  report.steps = {{0, DescribeStep(report.plan.steps[0]), StepReport::Outcome::kApplied, ""},
                  {1, DescribeStep(report.plan.steps[1]), StepReport::Outcome::kFailed, error},
                  {2, DescribeStep(report.plan.steps[2]), StepReport::Outcome::kSkipped, ""}};
  report.commands = {"ip route replace 192.168.50.0/24 dev wg0 table 254 proto 87",
                     "wg set wg0 peer " + std::string(kRenderedVpsKey) + " remove"};
  report.converged = false;
  report.error = error;
  ObservedState after;
  after.sysctls = {{"net.ipv4.ip_forward", "0"}};
  report.after = after;

  // Invalid UTF-8 from a tool's stderr is printed as U+FFFD, not a crash.
  const std::string kReplacement = "\xef\xbf\xbd";
  CHECK(ApplyReportToJson(report) == R"({
  "agent": "vps",
  "converged": false,
  "destructive": true,
  "steps": [
    {
      "index": 0,
      "step": "+ route 192.168.50.0/24 dev wg0",
      "result": "applied"
    },
    {
      "index": 1,
      "step": "- peer (PbSK/Kg/…=) on wg0 [destructive]",
      "result": "failed",
      "error": "\"wg set wg0 peer PbSK/Kg/maYUE1U0WBEwpINugfslGFR+2uHLWgigiks= remove\" failed (exit 1): no )" + kReplacement + R"("
    },
    {
      "index": 2,
      "step": "~ sysctl net.ipv4.ip_forward = 1",
      "result": "skipped"
    }
  ],
  "commands": [
    "ip route replace 192.168.50.0/24 dev wg0 table 254 proto 87",
    "wg set wg0 peer PbSK/Kg/maYUE1U0WBEwpINugfslGFR+2uHLWgigiks= remove"
  ],
  "error": "\"wg set wg0 peer PbSK/Kg/maYUE1U0WBEwpINugfslGFR+2uHLWgigiks= remove\" failed (exit 1): no )" + kReplacement + R"(",
  "observed": {
    "formatVersion": 1,
    "interfaces": [],
    "routes": [],
    "rules": [],
    "chains": [],
    "jumps": [],
    "sysctls": [
      {
        "key": "net.ipv4.ip_forward",
        "value": "0"
      }
    ]
  }
}
)");

  ApplyReport converged;
  converged.agent = "gw";
  converged.converged = true;
  CHECK(ApplyReportToJson(converged) == R"({
  "agent": "gw",
  "converged": true,
  "destructive": false,
  "steps": [],
  "commands": []
}
)");
}

TEST_CASE("hostile desired configs are refused with a clear error before any command that carries them runs") {
  SUBCASE("from JSON") {
    std::string deep = R"({"formatVersion":1,"agent":"vps","notices":)" + std::string(200, '[') + std::string(200, ']') + "}";
    auto nested = AgentConfigFromJson(deep);
    REQUIRE_FALSE(nested.ok());
    CHECK(nested.status().code() == StatusCode::kInvalidArgument);
    CHECK(nested.status().message().starts_with("notices[0][0]"));
    CHECK(nested.status().message().ends_with("]: nesting deeper than 64 levels"));

    std::string text = ReadSourceFile("examples/homelab/rendered/vps.json");
    auto replace = [&](const std::string& from, const std::string& to) {
      std::string changed = text;
      REQUIRE(changed.find(from) != std::string::npos);
      changed.replace(changed.find(from), from.size(), to);
      return changed;
    };
    auto option_name = AgentConfigFromJson(replace(R"("name": "wg0")", R"("name": "-wg0")"));
    REQUIRE_FALSE(option_name.ok());
    CHECK(option_name.status().message() ==
          "interfaces[0].name: \"-wg0\" is not an interface name (expected 1-15 of A-Z a-z 0-9 _ . = + -, not starting "
          "with . = + -)");

    auto newline = AgentConfigFromJson(replace(R"("-i wg0 -o wg0 -j ACCEPT")", R"("-i wg0 -o wg0 -j ACCEPT\n-F FORWARD")"));
    REQUIRE_FALSE(newline.ok());
    CHECK(newline.status().message().find("chains[0].rules[1]: ") == 0);
    CHECK(newline.status().message().find("contains a control character") != std::string::npos);
  }

  // Configs built in code skip the JSON checks; ApplyConfig checks them itself.
  SUBCASE("built in code") {
    TemporaryStateDir dir;
    AgentConfig desired = RenderedExample("vps", dir.PublicKey());
    std::string expected;
    std::vector<std::string> commands_run;  // none when the policy refuses
    // The policy (config_policy.h) is the first to refuse these; CheckConfigIsSafe stays
    // behind it for whatever a later render might allow.
    SUBCASE("an interface name that reads as an option") {
      desired.interfaces[0].name = "-wg0";
      desired.routes.clear();
      desired.sysctls.clear();
      desired.chains.clear();
      desired.jumps.clear();
      expected = "interface name \"-wg0\" is not 1-15 letters, digits, '_', '.' or '-'";
      commands_run = kFixedObservation;  // the policy passes it: the later check refuses
    }
    SUBCASE("a rule with a newline that would inject a restore line") {
      desired.chains[0].rules[1] = "-i wg0 -o wg0 -j ACCEPT\n-F FORWARD";
      expected = "chains[0].rules[1] (filter WIREWARP-FORWARD): firewall rule \"-i wg0 -o wg0 -j ACCEPT\\x0a-F FORWARD\"";
    }
    SUBCASE("a jump to a chain the agent does not own") {
      desired.jumps[0].rule = "-j DOCKER-USER";
      expected = "jumps[0]: filter \"FORWARD\" \"-j DOCKER-USER\" is not a jump WireWarp makes";
    }
    FakeHost host(EmptyHost(), KernelModule::kPresent);
    auto report = ApplyConfig(host, dir.state(), desired, AgentOptions{});
    REQUIRE_FALSE(report.ok());
    CHECK(report.status().code() == StatusCode::kInvalidArgument);
    CHECK(report.status().message().find(expected) != std::string::npos);
    CHECK(report.status().message().find("nothing was run") != std::string::npos);
    CHECK(host.recorder().CommandLines() == commands_run);
    CHECK_FALSE(dir.LastApplied().has_value());
    CHECK(dir.OwnedInterfaces().empty());
  }
}

// The observation's lines without iptables-save: what a pass runs when the stored firewall
// snapshot was taken at the kernel's current ruleset version.
std::vector<std::string> WithoutIptablesSave(std::vector<std::string> lines) {
  lines.erase(std::remove(lines.begin(), lines.end(), "iptables-save"), lines.end());
  return lines;
}

RulesetVersion Version(uint32_t generation) {
  return RulesetVersion{"7465d394-a874-4907-8b13-e081b2a39284", 3, generation, "/usr/sbin/xtables-nft-multi"};
}

TEST_CASE("a no-op apply at an unchanged ruleset version reuses the stored firewall instead of iptables-save") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(ObservedFromDesired(desired), KernelModule::kPresent);
  REQUIRE(SaveAppliedEndpoints(dir.state(), RecordOf(desired)).ok());
  FakeFirewallGeneration generation;
  generation.Set(Version(7));
  host.recorder().SetFirewallGeneration(&generation);

  // No snapshot yet: iptables-save runs, and the converged pass stores what it saw.
  auto first = ApplyConfig(host, dir.state(), desired, AgentOptions{});
  REQUIRE_MESSAGE(first.ok(), first.status().message());
  CHECK(first->converged);
  CHECK(host.recorder().CommandLines() == kGatewayObservationWithDevice);
  std::optional<FirewallSnapshot> stored = LoadFirewallSnapshot(dir.state());
  REQUIRE(stored.has_value());
  CHECK(stored->version == Version(7));
  CHECK(stored->chains == desired.chains);
  CHECK(stored->jumps == desired.jumps);

  // Same version: no iptables-save, the same observation, and the snapshot is not rewritten.
  const ino_t snapshot_inode = Inode(dir.path() + "/firewall-snapshot");
  host.recorder().ClearCommands();
  auto again = ApplyConfig(host, dir.state(), desired, AgentOptions{});
  REQUIRE(again.ok());
  CHECK(again->converged);
  CHECK(again->plan.empty());
  CHECK(again->after == first->after);
  CHECK(host.recorder().CommandLines() == WithoutIptablesSave(kGatewayObservationWithDevice));
  CHECK(Inode(dir.path() + "/firewall-snapshot") == snapshot_inode);

  // The daemon's observation reuses it too.
  host.recorder().ClearCommands();
  auto observed = ObserveOwned(host, dir.state());
  REQUIRE(observed.ok());
  CHECK(*observed == *first->after);
  std::vector<std::string> lines = host.recorder().CommandLines();
  CHECK(std::count(lines.begin(), lines.end(), "iptables-save") == 0);
}

TEST_CASE("drift by hand changes the ruleset version, so the next apply runs iptables-save and heals it") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(ObservedFromDesired(desired), KernelModule::kPresent);
  FakeFirewallGeneration generation;
  generation.Set(Version(7));
  host.recorder().SetFirewallGeneration(&generation);
  REQUIRE(ApplyConfig(host, dir.state(), desired, AgentOptions{}).ok());

  // Someone deletes the owned jumps: the kernel bumps the generation.
  ObservedState drifted = host.state();
  REQUIRE(!drifted.jumps.empty());
  drifted.jumps.clear();
  host.SetState(drifted);
  generation.Set(Version(8));
  host.recorder().ClearCommands();
  Plan plan = ComputePlan(desired, drifted);
  REQUIRE(!plan.empty());
  CommandContext context;
  context.private_key_path = dir.state().WireguardKeyPath();
  auto batches = ToCommandBatches(plan, context);
  REQUIRE(batches.ok());
  host.Expect(plan, *batches);
  auto healed = ApplyConfig(host, dir.state(), desired, AgentOptions{});
  REQUIRE_MESSAGE(healed.ok(), healed.status().message());
  CHECK(healed->plan == plan);
  CHECK(healed->converged);
  std::vector<std::string> lines = host.recorder().CommandLines();
  CHECK(std::count(lines.begin(), lines.end(), "iptables-save") == 2);  // before and after applying
  CHECK(host.state() == ObservedFromDesired(desired));
  // The snapshot stored is the after-observation's, at the version read before it.
  std::optional<FirewallSnapshot> stored = LoadFirewallSnapshot(dir.state());
  REQUIRE(stored.has_value());
  CHECK(stored->version == Version(8));
  CHECK(stored->jumps == desired.jumps);
}

TEST_CASE("iptables-save runs when the version differs, cannot be read, or the snapshot is garbled or missing") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(ObservedFromDesired(desired), KernelModule::kPresent);
  FakeFirewallGeneration generation;
  generation.Set(Version(7));
  host.recorder().SetFirewallGeneration(&generation);
  REQUIRE(ApplyConfig(host, dir.state(), desired, AgentOptions{}).ok());
  auto applies_with_iptables_save = [&] {
    host.recorder().ClearCommands();
    auto report = ApplyConfig(host, dir.state(), desired, AgentOptions{});
    REQUIRE_MESSAGE(report.ok(), report.status().message());
    CHECK(report->converged);
    return host.recorder().CommandLines() == kGatewayObservationWithDevice;
  };

  SUBCASE("another generation") {
    generation.Set(Version(9));
    CHECK(applies_with_iptables_save());
  }
  SUBCASE("another network namespace with the same generation") {
    RulesetVersion other = Version(7);
    other.network_namespace = 4;
    generation.Set(other);
    CHECK(applies_with_iptables_save());
  }
  SUBCASE("another boot with the same generation") {
    RulesetVersion other = Version(7);
    other.boot_id = "00000000-0000-0000-0000-000000000000";
    generation.Set(other);
    CHECK(applies_with_iptables_save());
  }
  SUBCASE("another iptables backend") {
    RulesetVersion other = Version(7);
    other.iptables_save = "/usr/sbin/xtables-legacy-multi";
    generation.Set(other);
    CHECK(applies_with_iptables_save());
  }
  SUBCASE("the version cannot be read") {
    generation.SetFailure(Status::Unavailable("netlink refused"));
    CHECK(applies_with_iptables_save());
  }
  SUBCASE("no snapshot") {
    REQUIRE(dir.state().RemoveFile(kFirewallSnapshotFile).ok());
    CHECK(applies_with_iptables_save());
    CHECK(LoadFirewallSnapshot(dir.state()).has_value());  // stored again
  }
  SUBCASE("a garbled snapshot") {
    auto text = dir.state().ReadFile(kFirewallSnapshotFile);
    REQUIRE((text.ok() && text->has_value()));
    REQUIRE(dir.state().WriteFileAtomically(kFirewallSnapshotFile, (*text)->substr(0, (*text)->size() / 2)).ok());
    CHECK(applies_with_iptables_save());
  }
  SUBCASE("a hostile snapshot that claims more than the firewall") {
    FirewallSnapshot snapshot{Version(7), {}, {}};
    std::string text = FirewallSnapshotToText(snapshot);
    ObservedState extra;
    extra.sysctls.push_back({"net.ipv4.ip_forward", "1"});
    text = text.substr(0, text.rfind('\n') + 1) + ObservedStateToJson(extra, JsonStyle::kCompact);
    REQUIRE(dir.state().WriteFileAtomically(kFirewallSnapshotFile, text).ok());
    CHECK(applies_with_iptables_save());
  }
}

TEST_CASE("a snapshot taken at the current version is believed - which is why only nf_tables output is stored") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  FakeHost host(ObservedFromDesired(desired), KernelModule::kPresent);
  FakeFirewallGeneration generation;
  generation.Set(Version(7));
  host.recorder().SetFirewallGeneration(&generation);
  // A stored snapshot without the jumps at the kernel's version: the pass trusts it and puts
  // the jumps back (the planned commands are idempotent, so this costs a restore, not harm).
  FirewallSnapshot snapshot{Version(7), desired.chains, {}};
  REQUIRE(SaveFirewallSnapshot(dir.state(), snapshot).ok());
  REQUIRE(dir.state().SaveLastApplied(desired).ok());
  auto report = ApplyConfig(host, dir.state(), desired, AgentOptions{AgentOptions{}.dry_run, WireguardMode::kKernel});
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  CHECK(!report->plan.empty());
  std::vector<std::string> lines = host.recorder().CommandLines();
  CHECK(lines[2] == "sysctl -n net.ipv4.conf.wg0.rp_filter");  // no iptables-save before the plan
}

TEST_CASE("a host-name endpoint is resolved by the agent, recorded, and set again when the name or address moves") {
  TemporaryStateDir dir;
  AgentConfig desired = RenderedExample("home-gw", dir.PublicKey());
  REQUIRE(desired.interfaces[0].peers[0].endpoint == "vps.example.net:51820");
  const WireguardPeer& vps = desired.interfaces[0].peers[0];
  FakeResolver resolver;
  resolver.addresses["vps.example.net"] = *Ipv4Address::Parse("203.0.113.7");
  AgentOptions options;
  options.resolver = &resolver;
  FakeHost host(EmptyHost(), KernelModule::kPresent);
  auto batches_with = [&](const Plan& plan, std::map<std::string, std::string> resolved) {
    CommandContext context;
    context.private_key_path = dir.state().WireguardKeyPath();
    context.resolved_endpoints = std::move(resolved);
    auto batches = ToCommandBatches(plan, context);
    REQUIRE(batches.ok());
    return *batches;
  };
  const std::string peer_set = "wg set wg0 peer " + vps.public_key.ToBase64();
  // One converged pass of `config`, with only this pass's commands recorded.
  auto converged_pass = [&](const AgentConfig& config) {
    host.recorder().ClearCommands();
    auto report = ApplyConfig(host, dir.state(), config, options);
    REQUIRE_MESSAGE(report.ok(), report.status().message());
    CHECK(report->converged);
    return *report;
  };

  // First apply: `wg set` gets the address the agent resolved, and the record keeps both.
  Plan plan = PlanOn(host, desired);
  host.Expect(plan, batches_with(plan, {{"vps.example.net:51820", "203.0.113.7:51820"}}));
  auto first = ApplyConfig(host, dir.state(), desired, options);
  REQUIRE_MESSAGE(first.ok(), first.status().message());
  CHECK(first->converged);
  CHECK(std::count(first->commands.begin(), first->commands.end(),
                   peer_set + " endpoint 203.0.113.7:51820 persistent-keepalive 25 allowed-ips 0.0.0.0/0") == 1);
  CHECK(LoadAppliedEndpoints(dir.state()) ==
        AppliedEndpoints{{"wg0", vps.public_key, "vps.example.net:51820", "203.0.113.7:51820"}});
  REQUIRE(first->after.has_value());
  CHECK(first->after->interfaces[0].peers[0].applied_endpoint == "vps.example.net:51820");

  // The same name at the same address: nothing to do, and `observe` shows the name applied.
  converged_pass(desired);
  CHECK(host.recorder().MutatingCommands().empty());
  auto observed = ObserveOwned(host, dir.state());
  REQUIRE(observed.ok());
  CHECK(observed->interfaces[0].peers[0].applied_endpoint == "vps.example.net:51820");

  // The VPS moved: the name now resolves elsewhere, so the peer is set again.
  resolver.addresses["vps.example.net"] = *Ipv4Address::Parse("203.0.113.9");
  Plan moved{{{UpsertPeer{"wg0", vps}, Destructive::kNo}}};
  host.Expect(moved, batches_with(moved, {{"vps.example.net:51820", "203.0.113.9:51820"}}));
  CHECK(converged_pass(desired).commands ==
        std::vector<std::string>{peer_set + " endpoint 203.0.113.9:51820 persistent-keepalive 25 allowed-ips 0.0.0.0/0"});
  CHECK(LoadAppliedEndpoints(dir.state())[0].address == "203.0.113.9:51820");

  // A name that does not resolve leaves the peer as it is and says so.
  resolver.addresses.clear();
  ApplyReport unresolved = converged_pass(desired);
  CHECK(host.recorder().MutatingCommands().empty());
  CHECK(unresolved.warnings ==
        std::vector<std::string>{"peer homelab on wg0: resolving \"vps.example.net\": unknown host"});
  CHECK(ApplyReportToJson(unresolved).find("\"warnings\": [") != std::string::npos);

  // Another name is a change even at the same address (the config changed, the host must
  // follow it); the record then holds the new name.
  AgentConfig renamed = desired;
  renamed.interfaces[0].peers[0].endpoint = "edge.example.net:51820";
  resolver.addresses["edge.example.net"] = *Ipv4Address::Parse("203.0.113.9");
  Plan rename = PlanOn(host, renamed);
  REQUIRE(rename.steps.size() == 1);
  host.Expect(rename, batches_with(rename, {{"edge.example.net:51820", "203.0.113.9:51820"}}));
  CHECK(converged_pass(renamed).commands ==
        std::vector<std::string>{peer_set + " endpoint 203.0.113.9:51820 persistent-keepalive 25 allowed-ips 0.0.0.0/0"});
  CHECK(LoadAppliedEndpoints(dir.state()) ==
        AppliedEndpoints{{"wg0", vps.public_key, "edge.example.net:51820", "203.0.113.9:51820"}});
}

}  // namespace
}  // namespace ww::agent
