#include "schema/config_policy.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "schema/firewall_rule.h"
#include "schema/render.h"

namespace ww {
namespace {

std::string Quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 120)) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + (text.size() > 120 ? "...\"" : "\"");
}

std::string Field(std::string_view list, size_t index) { return std::string(list) + "[" + std::to_string(index) + "]"; }

Status Refuse(const std::string& field, const std::string& why) {
  return Status::InvalidArgument(field + ": " + why + " (render never produces this; the agent refuses it)");
}

bool InRange(uint32_t value, uint32_t base) { return value >= base && value < base + kClientSlots; }
bool IsClientTable(uint32_t table) { return InRange(table, kClientTableBase); }

// What the config's own interfaces tell about what it may touch.
struct OwnInterfaces {
  std::set<std::string> servers;
  std::set<std::string> clients;
  std::set<uint16_t> listen_ports;  // of server interfaces
  // Where a DNAT may send packets: the server interfaces' tunnel networks, their peers'
  // allowed IPs and their main-table routes (the LANs of peers not enrolled yet stay routed).
  std::vector<Ipv4Cidr> dnat_destinations;

  bool Owns(const std::string& name) const { return servers.contains(name) || clients.contains(name); }
  bool MayDnatTo(Ipv4Address address) const {
    return std::any_of(dnat_destinations.begin(), dnat_destinations.end(),
                       [&](const Ipv4Cidr& cidr) { return cidr.Contains(address); });
  }
};

Result<OwnInterfaces> CheckInterfaces(const AgentConfig& config) {
  OwnInterfaces own;
  for (size_t i = 0; i < config.interfaces.size(); ++i) {
    const WireguardInterface& interface = config.interfaces[i];
    const std::string field = Field("interfaces", i);
    if (interface.mtu < 1280 || interface.mtu > 9000) {
      return Refuse(field + ".mtu", "MTU " + std::to_string(interface.mtu) + " is outside 1280-9000");
    }
    if (interface.role == InterfaceRole::kServer) {
      if (interface.fwmark != 0) return Refuse(field + ".fwmark", "a server interface carries no fwmark");
      own.servers.insert(interface.name);
      own.listen_ports.insert(interface.listen_port);
      own.dnat_destinations.push_back(interface.address.Canonical());
      for (const WireguardPeer& peer : interface.peers) {
        own.dnat_destinations.insert(own.dnat_destinations.end(), peer.allowed_ips.begin(), peer.allowed_ips.end());
      }
    } else {
      if (!InRange(interface.fwmark, kWireguardMarkBase)) {
        return Refuse(field + ".fwmark", "fwmark " + std::to_string(interface.fwmark) + " is outside WireWarp's marks");
      }
      own.clients.insert(interface.name);
    }
  }
  return own;
}

Status CheckSysctls(const AgentConfig& config, const OwnInterfaces& own) {
  for (size_t i = 0; i < config.sysctls.size(); ++i) {
    const Sysctl& sysctl = config.sysctls[i];
    const std::string field = Field("sysctls", i);
    std::string wanted;
    if (sysctl.key == "net.ipv4.ip_forward") {
      wanted = "1";
    } else {
      constexpr std::string_view kPrefix = "net.ipv4.conf.";
      constexpr std::string_view kSuffix = ".rp_filter";
      std::string_view key = sysctl.key;
      bool rp_filter = key.size() > kPrefix.size() + kSuffix.size() && key.starts_with(kPrefix) && key.ends_with(kSuffix);
      std::string device(rp_filter ? key.substr(kPrefix.size(), key.size() - kPrefix.size() - kSuffix.size()) : "");
      if (!rp_filter || !own.clients.contains(device)) {
        return Refuse(field + ".key", Quoted(sysctl.key) +
                                          " is not a key WireWarp sets (net.ipv4.ip_forward, and rp_filter of its "
                                          "client interfaces)");
      }
      wanted = "2";
    }
    if (sysctl.value != wanted) {
      return Refuse(field + ".value", sysctl.key + " = " + Quoted(sysctl.value) + ", where WireWarp sets " + wanted);
    }
  }
  return Status::Ok();
}

Status CheckRoutes(const AgentConfig& config, OwnInterfaces& own) {
  for (size_t i = 0; i < config.routes.size(); ++i) {
    const Route& route = config.routes[i];
    const std::string field = Field("routes", i);
    const std::string text = route.destination.ToString() + " dev " + route.device + " table " + std::to_string(route.table);
    if (!own.Owns(route.device)) return Refuse(field + ".device", Quoted(route.device) + " is not one of its interfaces");
    if (route.via) return Refuse(field + ".via", "a route through a gateway (" + text + ")");
    if (route.table == kMainTable) {
      if (!own.servers.contains(route.device)) {
        return Refuse(field, "a main-table route through a client interface (" + text + ")");
      }
      if (route.destination.prefix < kMinLanPrefix) {
        return Refuse(field + ".destination", "a main-table route wider than /" + std::to_string(kMinLanPrefix) +
                                                  " would take the host's own traffic (" + text + ")");
      }
      own.dnat_destinations.push_back(route.destination);
    } else if (IsClientTable(route.table)) {
      if (!own.clients.contains(route.device) || route.destination.prefix != 0) {
        return Refuse(field, "a client table holds only its interface's default route (" + text + ")");
      }
    } else {
      return Refuse(field + ".table", "table " + std::to_string(route.table) + " is neither main nor WireWarp's " +
                                          std::to_string(kClientTableBase) + "-" +
                                          std::to_string(kClientTableBase + kClientSlots - 1) + " (" + text + ")");
    }
  }
  return Status::Ok();
}

Status CheckRoutingRules(const AgentConfig& config) {
  for (size_t i = 0; i < config.rules.size(); ++i) {
    const RoutingRule& rule = config.rules[i];
    const std::string field = Field("rules", i);
    const bool selects_nothing_else = !rule.from && !rule.to;
    bool shaped = false;
    switch (rule.priority) {
      case kPriorityWireguardMark:
        shaped = selects_nothing_else && InRange(rule.fwmark, kWireguardMarkBase) && rule.table == kMainTable;
        break;
      case kPriorityReplyMark:
        shaped = selects_nothing_else && InRange(rule.fwmark, kReplyMarkBase) && IsClientTable(rule.table);
        break;
      case kPriorityControl:
      case kPriorityEndpoint:
        shaped = !rule.from && rule.to && rule.to->prefix == 32 && rule.fwmark == 0 && rule.table == kMainTable;
        break;
      case kPriorityLanMain:
        shaped = !rule.from && rule.to && rule.to->prefix >= kMinLanPrefix && rule.fwmark == 0 && rule.table == kMainTable;
        break;
      case kPriorityLanEgress:
        shaped = rule.from && rule.from->prefix >= kMinLanPrefix && !rule.to && rule.fwmark == 0 &&
                 IsClientTable(rule.table);
        break;
      default:
        return Refuse(field + ".priority", "priority " + std::to_string(rule.priority) + " is not one WireWarp uses");
    }
    if (!shaped) {
      return Refuse(field, "the rule at priority " + std::to_string(rule.priority) +
                               " does not have the selector and table render gives it");
    }
  }
  return Status::Ok();
}

// Which targets each owned chain may hold.
Status CheckChainRule(const FirewallChain& chain, const FirewallRule& rule, const OwnInterfaces& own) {
  const bool filter = chain.table == FirewallTable::kFilter;
  const bool nat = chain.table == FirewallTable::kNat;
  if (filter && chain.name == "WIREWARP-FORWARD") {
    if (rule.target != FirewallTarget::kAccept) return Status::InvalidArgument("WIREWARP-FORWARD only accepts");
    return Status::Ok();
  }
  if (filter && chain.name == "WIREWARP-INPUT") {
    FirewallRule listen;
    listen.protocol = Protocol::kUdp;
    if (rule.destination_ports && rule.destination_ports->IsSingle()) listen.destination_ports = rule.destination_ports;
    if (rule != listen || !own.listen_ports.contains(rule.destination_ports->first)) {
      return Status::InvalidArgument("INPUT accepts only udp to a server interface's listen port");
    }
    return Status::Ok();
  }
  if (nat && chain.name == "WIREWARP-PREROUTING") {
    if (rule.target != FirewallTarget::kDnat) return Status::InvalidArgument("WIREWARP-PREROUTING only DNATs");
    const bool from_outside =
        rule.in_interface && (rule.in_interface->negation == Negation::kYes ? own.servers.contains(rule.in_interface->name)
                                                                             : !own.Owns(rule.in_interface->name));
    if (!from_outside || !rule.protocol || !rule.destination_ports || rule.source || rule.destination ||
        rule.out_interface || rule.connection_state || rule.connection_mark) {
      return Status::InvalidArgument("a DNAT matches only a port arriving from outside its tunnel");
    }
    if (!own.MayDnatTo(rule.dnat_address)) {
      return Status::InvalidArgument("DNAT to " + rule.dnat_address.ToString() +
                                     ", outside its tunnels' addresses and its peers' LANs");
    }
    return Status::Ok();
  }
  if (nat && chain.name == "WIREWARP-POSTROUTING") {
    if (rule.target != FirewallTarget::kMasquerade) return Status::InvalidArgument("WIREWARP-POSTROUTING only masquerades");
    return Status::Ok();
  }
  if (chain.name == "WIREWARP-MSS") {
    if (rule.target != FirewallTarget::kClampMss) return Status::InvalidArgument("WIREWARP-MSS only clamps the MSS");
    return Status::Ok();
  }
  const bool restores = rule.target == FirewallTarget::kRestoreMark;
  const bool sets = rule.target == FirewallTarget::kSetConnectionMark;
  const bool marks_ok = (!rule.connection_mark || InRange(*rule.connection_mark, kReplyMarkBase)) &&
                        (!sets || InRange(rule.set_mark, kReplyMarkBase));
  if (chain.name == "WIREWARP-OUTPUT") {
    if (!restores || !marks_ok) return Status::InvalidArgument("WIREWARP-OUTPUT only restores WireWarp's marks");
    return Status::Ok();
  }
  // mangle WIREWARP-PREROUTING: kOwnedChains has no other chain.
  if (!(restores || sets) || !marks_ok) {
    return Status::InvalidArgument("mangle WIREWARP-PREROUTING only sets and restores WireWarp's marks");
  }
  return Status::Ok();
}

const OwnedChain* FindOwnedChain(FirewallTable table, std::string_view name) {
  for (const OwnedChain& owned : kOwnedChains) {
    if (owned.table == table && owned.name == name) return &owned;
  }
  return nullptr;
}

Status CheckFirewall(const AgentConfig& config, const OwnInterfaces& own) {
  for (size_t c = 0; c < config.chains.size(); ++c) {
    const FirewallChain& chain = config.chains[c];
    const std::string field = Field("chains", c);
    if (FindOwnedChain(chain.table, chain.name) == nullptr) {
      return Refuse(field + ".name", std::string(FirewallTableName(chain.table)) + " chain " + Quoted(chain.name) +
                                         " is not one WireWarp owns");
    }
    for (size_t r = 0; r < chain.rules.size(); ++r) {
      const std::string rule_field = field + ".rules[" + std::to_string(r) + "] (" +
                                     std::string(FirewallTableName(chain.table)) + " " + chain.name + ")";
      Result<FirewallRule> rule = ParseFirewallRule(chain.rules[r]);
      if (!rule.ok()) return Refuse(rule_field, rule.status().message());
      if (FormatFirewallRule(*rule) != chain.rules[r]) {
        return Refuse(rule_field, Quoted(chain.rules[r]) + " is not written as iptables-save prints it");
      }
      if (Status allowed = CheckChainRule(chain, *rule, own); !allowed.ok()) {
        return Refuse(rule_field, Quoted(chain.rules[r]) + ": " + allowed.message());
      }
    }
  }
  for (size_t j = 0; j < config.jumps.size(); ++j) {
    const FirewallJump& jump = config.jumps[j];
    bool known = std::any_of(std::begin(kOwnedChains), std::end(kOwnedChains), [&](const OwnedChain& owned) {
      return owned.table == jump.table && owned.builtin == jump.chain && owned.jump == jump.rule;
    });
    if (!known) {
      return Refuse(Field("jumps", j), std::string(FirewallTableName(jump.table)) + " " + Quoted(jump.chain) + " " +
                                           Quoted(jump.rule) + " is not a jump WireWarp makes");
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckConfigPolicy(const AgentConfig& config) {
  WW_ASSIGN_OR_RETURN(OwnInterfaces own, CheckInterfaces(config));
  WW_RETURN_IF_ERROR(CheckSysctls(config, own));
  WW_RETURN_IF_ERROR(CheckRoutes(config, own));
  WW_RETURN_IF_ERROR(CheckRoutingRules(config));
  return CheckFirewall(config, own);
}

}  // namespace ww
