#pragma once
// Plan: what an agent must do to make its host match an AgentConfig, as an ordered list of
// typed steps from a fixed whitelist. A value, separate from whatever runs it (the agent
// turns steps into argv). ComputePlan is pure and shared by wwctl, the reconciler and the
// agent's offline repair.

#include <string>
#include <variant>
#include <vector>

#include "schema/agent_config.h"
#include "schema/observed_state.h"

namespace ww {

struct CreateInterface { std::string name; int mtu = 1420; friend bool operator==(const CreateInterface&, const CreateInterface&) = default; };
// Sets private key (from the agent's state dir), listen port and fwmark with `wg set`.
struct ConfigureInterface {
  std::string name;
  uint16_t listen_port = 0;
  uint32_t fwmark = 0;
  WireguardKey public_key;  // the key the agent must hold; a different one is a key change
  friend bool operator==(const ConfigureInterface&, const ConfigureInterface&) = default;
};
struct SetInterfaceMtu { std::string name; int mtu = 1420; friend bool operator==(const SetInterfaceMtu&, const SetInterfaceMtu&) = default; };
struct AddInterfaceAddress { std::string name; Ipv4Cidr address; friend bool operator==(const AddInterfaceAddress&, const AddInterfaceAddress&) = default; };
struct RemoveInterfaceAddress { std::string name; Ipv4Cidr address; friend bool operator==(const RemoveInterfaceAddress&, const RemoveInterfaceAddress&) = default; };
struct SetInterfaceUp { std::string name; friend bool operator==(const SetInterfaceUp&, const SetInterfaceUp&) = default; };
// Adds or updates one peer; all peer steps of one interface run as one `wg set` call.
struct UpsertPeer { std::string interface; WireguardPeer peer; friend bool operator==(const UpsertPeer&, const UpsertPeer&) = default; };
struct RemovePeer { std::string interface; WireguardKey public_key; friend bool operator==(const RemovePeer&, const RemovePeer&) = default; };
struct AddRoute { Route route; friend bool operator==(const AddRoute&, const AddRoute&) = default; };
struct DeleteRoute { Route route; friend bool operator==(const DeleteRoute&, const DeleteRoute&) = default; };
struct AddRule { RoutingRule rule; friend bool operator==(const AddRule&, const AddRule&) = default; };
struct DeleteRule { RoutingRule rule; friend bool operator==(const DeleteRule&, const DeleteRule&) = default; };
// Rewrites an owned chain to exactly `chain.rules` (creating it if missing). All firewall
// steps of one table run as one `iptables-restore --noflush`.
struct WriteChain { FirewallChain chain; friend bool operator==(const WriteChain&, const WriteChain&) = default; };
// Edits an owned chain in place: deletes rules, then appends rules. Used when the desired
// order is kept that way, so unchanged rules (and their counters) are not touched.
struct EditChain {
  FirewallTable table = FirewallTable::kFilter;
  std::string name;
  std::vector<std::string> delete_rules;
  std::vector<std::string> append_rules;
  friend bool operator==(const EditChain&, const EditChain&) = default;
};
struct DeleteChain { FirewallTable table = FirewallTable::kFilter; std::string name; friend bool operator==(const DeleteChain&, const DeleteChain&) = default; };
struct AddJump { FirewallJump jump; friend bool operator==(const AddJump&, const AddJump&) = default; };
struct DeleteJump { FirewallJump jump; friend bool operator==(const DeleteJump&, const DeleteJump&) = default; };
struct SetSysctl { Sysctl sysctl; friend bool operator==(const SetSysctl&, const SetSysctl&) = default; };
struct DeleteInterface { std::string name; friend bool operator==(const DeleteInterface&, const DeleteInterface&) = default; };

using StepAction = std::variant<CreateInterface, ConfigureInterface, SetInterfaceMtu, AddInterfaceAddress,
                                RemoveInterfaceAddress, SetInterfaceUp, UpsertPeer, RemovePeer, AddRoute,
                                DeleteRoute, AddRule, DeleteRule, WriteChain, EditChain, DeleteChain, AddJump,
                                DeleteJump, SetSysctl, DeleteInterface>;

enum class Destructive { kNo, kYes };

struct Step {
  StepAction action;
  // Yes for peer or interface removal, a key change, and firewall edits that remove a
  // forward's rules.
  Destructive destructive = Destructive::kNo;
  friend bool operator==(const Step&, const Step&) = default;
};

struct Plan {
  std::vector<Step> steps;
  bool empty() const { return steps.empty(); }
  bool HasDestructive() const;
  friend bool operator==(const Plan&, const Plan&) = default;
};

// The steps that turn `observed` into `desired`: empty when converged; minimal (unchanged
// peers, routes, rules and chain entries are not touched); ordered so nothing working is
// cut before its replacement exists (create and add first, remove last); removes only what
// WireWarp owns. An observed peer endpoint is ignored when the desired one is empty (the
// peer roams); a desired host name is compared with the endpoint text last applied
// (ObservedPeer::applied_endpoint), so changing the name plans a `wg set ... endpoint`.
Plan ComputePlan(const AgentConfig& desired, const ObservedState& observed);

// One line per step for people: "+ peer gw-home (abcd...=) on wg0 allowed 10.77.0.2/32".
std::string DescribeStep(const Step& step);

// What the host would look like after every step succeeded. Used by tests and by
// `wwctl plan` previews; the agent never trusts it instead of observing again.
ObservedState SimulateApply(const ObservedState& observed, const Plan& plan);

// What an agent would observe on a host that matches `desired` exactly: every interface up
// with its address, key, port, mtu and peers; every route, rule, chain, jump and sysctl in
// place. ComputePlan(desired, ObservedFromDesired(desired)) is empty.
ObservedState ObservedFromDesired(const AgentConfig& desired);

}  // namespace ww
