#include "agent/observe/observer.h"

#include <algorithm>
#include <utility>

#include <openssl/crypto.h>

#include "agent/observe/parsers.h"

namespace ww::agent {
namespace {

Command ReadOnly(std::vector<std::string> argv) {
  return Command{.argv = std::move(argv), .effect = Effect::kReadOnly};
}

std::vector<std::string> SortedUnique(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// For the commands whose non-zero exit can mean "absent": any other failure reads like
// RunChecked's.
Status CommandFailed(const Command& command, const CommandOutput& output) {
  std::string detail = output.stderr_data;
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  std::string message = "\"" + FormatArgv(command.argv) + "\" failed (exit " + std::to_string(output.exit_code) + ")";
  if (!detail.empty()) message += ": " + detail;
  return Status::FailedPrecondition(std::move(message));
}

// Wipes a buffer that held a private key when it goes out of scope, however the parse ends.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& text) : text_(text) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { OPENSSL_cleanse(text_.data(), text_.size()); }

 private:
  std::string& text_;
};

// The interface, or nullopt when no such device exists.
Result<std::optional<ObservedInterface>> ObserveInterface(CommandRunner& runner, const std::string& name) {
  Command address_command = ReadOnly({"ip", "-d", "-j", "address", "show", "dev", name});
  WW_ASSIGN_OR_RETURN(CommandOutput address_output, runner.Run(address_command));
  if (address_output.exit_code != 0) {
    // iproute2: 'Device "wg0" does not exist.' (exit 1).
    if (address_output.stderr_data.find("does not exist") != std::string::npos) {
      return std::optional<ObservedInterface>();
    }
    return CommandFailed(address_command, address_output);
  }
  auto link = ParseIpLinkAddress(address_output.stdout_data);
  if (!link.ok()) return link.status().WithContext("interface \"" + name + "\"");

  UserspaceSocket socket = UserspaceSocket::kAbsent;
  if (link->kind != "tun") {
    // A tun device is served from userspace whatever the socket says; otherwise the socket
    // decides, as it does for `wg`.
    Command socket_command =
        ReadOnly({"test", "-S", std::string(kUserspaceSocketDirectory) + "/" + name + ".sock"});
    WW_ASSIGN_OR_RETURN(CommandOutput socket_output, runner.Run(socket_command));
    if (socket_output.exit_code == 0) {
      socket = UserspaceSocket::kPresent;
    } else if (socket_output.exit_code != 1) {
      return CommandFailed(socket_command, socket_output);
    }
  }

  auto dump_output = RunChecked(runner, ReadOnly({"wg", "show", name, "dump"}));
  if (!dump_output.ok()) {
    return dump_output.status().WithContext("interface \"" + name + "\" exists but WireGuard cannot read it");
  }
  WipeOnExit wipe(dump_output->stdout_data);
  auto dump = ParseWireguardDump(dump_output->stdout_data);
  if (!dump.ok()) return dump.status().WithContext("interface \"" + name + "\"");

  ObservedInterface interface;
  interface.name = name;
  interface.up = link->up;
  interface.mtu = link->mtu;
  interface.addresses = std::move(link->addresses);
  interface.listen_port = dump->listen_port;
  interface.fwmark = dump->fwmark;
  interface.public_key = dump->public_key;
  interface.implementation = DetectWireguardImplementation(socket, link->kind);
  interface.peers = std::move(dump->peers);
  return std::optional<ObservedInterface>(std::move(interface));
}

PendingObservation::Started StartReadOnly(CommandRunner& runner, std::vector<std::string> argv) {
  PendingObservation::Started started{ReadOnly(std::move(argv)), nullptr};
  started.running = runner.Start(started.command);
  return started;
}

Result<CommandOutput> WaitChecked(PendingObservation::Started& started) {
  return WaitChecked(*started.running, started.command);
}

// The value, or nullopt when the key does not exist on this host (yet: per-interface keys
// appear with the interface).
Result<std::optional<std::string>> ReadSysctl(PendingObservation::Started& started) {
  const Command& command = started.command;
  WW_ASSIGN_OR_RETURN(CommandOutput output, started.running->Wait());
  if (output.exit_code != 0) {
    // procps: "sysctl: cannot stat /proc/sys/net/...: No such file or directory".
    if (output.stderr_data.find("No such file or directory") != std::string::npos) {
      return std::optional<std::string>();
    }
    return CommandFailed(command, output);
  }
  std::string value = std::move(output.stdout_data);
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  return std::optional<std::string>(std::move(value));
}

}  // namespace

ObserveRequest ObserveRequestFor(const AgentConfig& config) {
  ObserveRequest request;
  for (const WireguardInterface& interface : config.interfaces) request.interfaces.push_back(interface.name);
  for (const Sysctl& sysctl : config.sysctls) request.sysctl_keys.push_back(sysctl.key);
  return request;
}

bool SavedByNftables(std::string_view iptables_save) {
  std::string_view header = iptables_save.substr(0, iptables_save.find('\n'));
  return header.starts_with("# Generated by ") && header.find(" (nf_tables)") != std::string_view::npos;
}

PendingObservation StartObserve(CommandRunner& runner, std::optional<FirewallSnapshot> stored) {
  PendingObservation pending;
  // Read before iptables-save starts: a change while it runs then leaves the stored version
  // behind the kernel's, so the next pass looks again.
  if (FirewallGeneration* generation = runner.firewall_generation()) {
    auto version = generation->Read();
    if (version.ok()) pending.firewall_version = std::move(*version);
  }
  pending.routes = StartReadOnly(
      runner, {"ip", "-4", "-N", "-j", "route", "show", "table", "all", "proto", std::to_string(kRouteProtocol)});
  pending.rules = StartReadOnly(runner, {"ip", "-4", "-N", "-j", "rule", "show"});
  // One dump for all tables: on the nf_tables backend `iptables-save -t TABLE` reads every
  // table's rules from the kernel anyway, so three calls cost three full dumps.
  if (stored && pending.firewall_version && stored->version == *pending.firewall_version) {
    pending.firewall = {ReadOnly({"iptables-save"}), nullptr};
    pending.reused = std::move(stored);
  } else {
    pending.firewall = StartReadOnly(runner, {"iptables-save"});
  }
  return pending;
}

Result<ObservedState> Observe(CommandRunner& runner, const ObserveRequest& request) {
  return FinishObserve(runner, StartObserve(runner), request);
}

Result<ObservedState> FinishObserve(CommandRunner& runner, PendingObservation pending, const ObserveRequest& request) {
  WW_ASSIGN_OR_RETURN(Observation observation, FinishObservation(runner, std::move(pending), request));
  return std::move(observation.state);
}

Result<Observation> FinishObservation(CommandRunner& runner, PendingObservation pending,
                                      const ObserveRequest& request) {
  std::vector<std::string> sysctl_keys = SortedUnique(request.sysctl_keys);
  std::vector<PendingObservation::Started> sysctls;
  for (const std::string& key : sysctl_keys) sysctls.push_back(StartReadOnly(runner, {"sysctl", "-n", key}));

  ObservedState state;
  for (const std::string& name : SortedUnique(request.interfaces)) {
    WW_ASSIGN_OR_RETURN(std::optional<ObservedInterface> interface, ObserveInterface(runner, name));
    if (interface) state.interfaces.push_back(std::move(*interface));
  }

  WW_ASSIGN_OR_RETURN(CommandOutput routes_output, WaitChecked(pending.routes));
  WW_ASSIGN_OR_RETURN(state.routes, ParseIpRoutes(routes_output.stdout_data));

  WW_ASSIGN_OR_RETURN(CommandOutput rules_output, WaitChecked(pending.rules));
  WW_ASSIGN_OR_RETURN(state.rules, ParseIpRules(rules_output.stdout_data));

  std::optional<FirewallSnapshot> fresh_snapshot;
  if (pending.reused) {
    state.chains = std::move(pending.reused->chains);
    state.jumps = std::move(pending.reused->jumps);
  } else {
    WW_ASSIGN_OR_RETURN(CommandOutput save_output, WaitChecked(pending.firewall));
    for (FirewallTable table : {FirewallTable::kFilter, FirewallTable::kNat, FirewallTable::kMangle}) {
      WW_ASSIGN_OR_RETURN(OwnedFirewall owned, ParseIptablesSave(save_output.stdout_data, table));
      for (FirewallChain& chain : owned.chains) state.chains.push_back(std::move(chain));
      for (FirewallJump& jump : owned.jumps) state.jumps.push_back(std::move(jump));
    }
    // Legacy iptables changes do not bump the nftables version: such a snapshot could hide drift.
    if (pending.firewall_version && SavedByNftables(save_output.stdout_data)) {
      fresh_snapshot = FirewallSnapshot{std::move(*pending.firewall_version), state.chains, state.jumps};
    }
  }

  for (size_t i = 0; i < sysctls.size(); ++i) {
    WW_ASSIGN_OR_RETURN(std::optional<std::string> value, ReadSysctl(sysctls[i]));
    if (value) state.sysctls.push_back({sysctl_keys[i], std::move(*value)});
  }
  return Observation{std::move(state), std::move(fresh_snapshot)};
}

}  // namespace ww::agent
