#pragma once
// FirewallRule: the closed grammar of the iptables rules WireWarp renders, as a typed value.
// AgentConfig keeps rules as the text iptables-save prints (so desired and observed compare
// as strings); the agent's policy (config_policy.h) parses every rule of a config it is given
// into this value and requires that formatting it gives the same text back, so what reaches
// iptables is built from a value of this grammar, never a free string from the server.
//
// Grammar, in iptables-save's order (each part optional unless stated):
//   [! ]-s CIDR  [! ]-d CIDR  [! ]-i IF  [! ]-o IF  -p tcp|udp
//   -m tcp|udp (--dport P[:Q] | --tcp-flags SYN,RST SYN)     (the -p protocol; flags: tcp only)
//   -m conntrack --ctstate NEW|DNAT|RELATED,ESTABLISHED
//   -m connmark --mark 0xHEX
//   -m addrtype --dst-type LOCAL
//   -j ACCEPT | MASQUERADE | DNAT --to-destination ADDR:P[-Q] | TCPMSS --clamp-mss-to-pmtu
//      | CONNMARK --set-xmark 0xHEX/0xffffffff
//      | CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff | WIREWARP-NAME

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schema/model.h"
#include "schema/net.h"
#include "schema/result.h"

namespace ww {

enum class Negation { kNo, kYes };

struct AddressMatch {
  Negation negation = Negation::kNo;
  Ipv4Cidr cidr;
  friend bool operator==(const AddressMatch&, const AddressMatch&) = default;
};

struct InterfaceMatch {
  Negation negation = Negation::kNo;
  std::string name;
  friend bool operator==(const InterfaceMatch&, const InterfaceMatch&) = default;
};

enum class ConnectionState { kNew, kDnat, kRelatedEstablished };
enum class TcpFlagsMatch { kNone, kSyn };  // kSyn: "--tcp-flags SYN,RST SYN"

enum class FirewallTarget {
  kAccept,
  kMasquerade,
  kDnat,                // dnat_address, dnat_ports
  kClampMss,            // TCPMSS --clamp-mss-to-pmtu
  kSetConnectionMark,   // mark
  kRestoreMark,         // CONNMARK --restore-mark with full masks
  kJump,                // jump_chain, a WIREWARP-* chain
};

struct FirewallRule {
  std::optional<AddressMatch> source;
  std::optional<AddressMatch> destination;
  std::optional<InterfaceMatch> in_interface;
  std::optional<InterfaceMatch> out_interface;
  std::optional<Protocol> protocol;  // kTcp or kUdp
  std::optional<PortRange> destination_ports;  // needs protocol
  TcpFlagsMatch tcp_flags = TcpFlagsMatch::kNone;  // needs protocol kTcp
  std::optional<ConnectionState> connection_state;
  std::optional<uint32_t> connection_mark;  // -m connmark --mark
  bool destination_local = false;           // -m addrtype --dst-type LOCAL
  FirewallTarget target = FirewallTarget::kAccept;
  Ipv4Address dnat_address;
  PortRange dnat_ports;
  uint32_t set_mark = 0;
  std::string jump_chain;
  friend bool operator==(const FirewallRule&, const FirewallRule&) = default;
};

// kInvalidArgument quoting the first token that is not in the grammar (or is out of order).
Result<FirewallRule> ParseFirewallRule(std::string_view text);
// The iptables-save text of `rule`; ParseFirewallRule(FormatFirewallRule(r)) == r.
std::string FormatFirewallRule(const FirewallRule& rule);

}  // namespace ww
