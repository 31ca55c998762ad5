#include "schema/plan.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory_resource>
#include <optional>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ww {

namespace {

// Orderings used for set comparisons; they only need to be total and deterministic.
struct RouteLess {
  bool operator()(const Route& a, const Route& b) const {
    return std::tie(a.destination, a.device, a.via, a.table) < std::tie(b.destination, b.device, b.via, b.table);
  }
};
struct RuleLess {
  bool operator()(const RoutingRule& a, const RoutingRule& b) const {
    return std::tie(a.priority, a.from, a.to, a.fwmark, a.table) <
           std::tie(b.priority, b.from, b.to, b.fwmark, b.table);
  }
};
struct JumpLess {
  bool operator()(const FirewallJump& a, const FirewallJump& b) const {
    return std::tie(a.table, a.chain, a.rule) < std::tie(b.table, b.chain, b.rule);
  }
};

using ChainId = std::pair<FirewallTable, std::string_view>;

// The steps of one plan, by group. Concatenated in this order they never cut a working
// path before its replacement exists: everything is created and added first, removals run
// last in reverse dependency order.
struct StepGroups {
  std::vector<Step> interfaces;
  std::vector<Step> sysctls;
  std::vector<Step> peers;
  std::vector<Step> routes;
  std::vector<Step> rules;
  std::vector<Step> chains;
  std::vector<Step> add_jumps;
  std::vector<Step> delete_jumps;
  std::vector<Step> delete_chains;
  std::vector<Step> delete_rules;
  std::vector<Step> delete_routes;
  std::vector<Step> remove_peers;
  std::vector<Step> remove_addresses;
  std::vector<Step> delete_interfaces;

  Plan Concatenate() && {
    Plan plan;
    for (std::vector<Step>* group :
         {&interfaces, &sysctls, &peers, &routes, &rules, &chains, &add_jumps, &delete_jumps, &delete_chains,
          &delete_rules, &delete_routes, &remove_peers, &remove_addresses, &delete_interfaces}) {
      std::move(group->begin(), group->end(), std::back_inserter(plan.steps));
    }
    return plan;
  }
};

std::vector<Ipv4Cidr> CanonicalSet(const std::vector<Ipv4Cidr>& cidrs) {
  std::vector<Ipv4Cidr> result;
  result.reserve(cidrs.size());
  for (const Ipv4Cidr& cidr : cidrs) result.push_back(cidr.Canonical());
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

// True for "203.0.113.7:51820": an endpoint WireGuard reports back verbatim. Hostnames are
// resolved by the agent when it applies, so the observed ip:port cannot be compared.
bool IsIpv4Endpoint(std::string_view endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return false;
  return Ipv4Address::Parse(endpoint.substr(0, colon)).ok();
}

// An IPv4 endpoint is compared with what WireGuard reports. A host name cannot be (the
// kernel only knows the address it resolved to), so it is compared with the endpoint text
// the agent last applied: a changed name is a change even when both names resolve alike,
// and a peer that lost its endpoint gets it back.
bool EndpointMatches(const WireguardPeer& desired, const ObservedPeer& observed) {
  if (desired.endpoint.empty()) return true;  // the peer dials us and may roam
  if (IsIpv4Endpoint(desired.endpoint)) return desired.endpoint == observed.endpoint;
  return !observed.endpoint.empty() && desired.endpoint == observed.applied_endpoint;
}

bool PeerMatches(const WireguardPeer& desired, const ObservedPeer& observed) {
  if (desired.persistent_keepalive != observed.persistent_keepalive) return false;
  if (!EndpointMatches(desired, observed)) return false;
  return CanonicalSet(desired.allowed_ips) == CanonicalSet(observed.allowed_ips);
}

// Pointers to `items` sorted by `less`, stable so the first of equal items comes first.
template <typename T, typename Less>
std::vector<const T*> SortedPointers(const std::vector<T>& items, Less less) {
  std::vector<const T*> sorted;
  sorted.reserve(items.size());
  for (const T& item : items) sorted.push_back(&item);
  std::stable_sort(sorted.begin(), sorted.end(), [&](const T* a, const T* b) { return less(*a, *b); });
  return sorted;
}

// Multiset diff of owned routes, rules or jumps: a desired value missing on the host is
// added; an observed value not desired is deleted once per copy, and extra copies of a
// desired value (ip rules and iptables allow duplicates) are deleted down to one.
template <typename T, typename Less, typename OnAdd, typename OnDelete>
void DiffBag(const std::vector<T>& desired, const std::vector<T>& observed, Less less, OnAdd on_add,
             OnDelete on_delete) {
  std::vector<const T*> want = SortedPointers(desired, less);
  std::vector<const T*> have = SortedPointers(observed, less);
  auto equal = [&](const T* a, const T* b) { return !less(*a, *b) && !less(*b, *a); };
  want.erase(std::unique(want.begin(), want.end(), equal), want.end());
  size_t i = 0;
  size_t j = 0;
  while (i < want.size() || j < have.size()) {
    if (j == have.size() || (i < want.size() && less(*want[i], *have[j]))) {
      on_add(*want[i++]);
    } else if (i == want.size() || less(*have[j], *want[i])) {
      on_delete(*have[j++]);
    } else {
      ++j;  // the one copy that stays
      while (j < have.size() && equal(have[j], want[i])) on_delete(*have[j++]);
      ++i;
    }
  }
}

// Removing a rule from a nat chain that DNATs (the per-forward PREROUTING chain) takes a
// port forward away from its users.
bool RemovesForward(const FirewallChain& chain, const std::string& rule) {
  if (chain.table != FirewallTable::kNat) return false;
  return chain.name == "WIREWARP-PREROUTING" || rule.find("-j DNAT") != std::string::npos;
}

void PlanChain(const FirewallChain& desired, const FirewallChain& observed, std::vector<Step>& steps) {
  if (desired.rules == observed.rules) return;
  // The common case, new forwards: the host has a prefix of the desired rules.
  auto [desired_end, observed_end] =
      std::mismatch(desired.rules.begin(), desired.rules.end(), observed.rules.begin(), observed.rules.end());
  if (observed_end == observed.rules.end()) {
    steps.push_back({EditChain{desired.table, desired.name, {}, {desired_end, desired.rules.end()}}, Destructive::kNo});
    return;
  }
  // Removed forwards: the host has the desired rules plus a run of others in one place.
  // Deleting them by text is exact unless one of them also appears before the run.
  auto prefix = static_cast<size_t>(desired_end - desired.rules.begin());
  auto suffix = static_cast<size_t>(
      std::mismatch(desired.rules.rbegin(), desired.rules.rend() - static_cast<std::ptrdiff_t>(prefix),
                    observed.rules.rbegin(), observed.rules.rend() - static_cast<std::ptrdiff_t>(prefix))
          .first -
      desired.rules.rbegin());
  if (prefix + suffix == desired.rules.size()) {
    auto run_begin = observed.rules.begin() + static_cast<std::ptrdiff_t>(prefix);
    auto run_end = observed.rules.end() - static_cast<std::ptrdiff_t>(suffix);
    std::unordered_set<std::string_view> run(run_begin, run_end);
    bool exact = std::none_of(observed.rules.begin(), run_begin, [&](const std::string& rule) { return run.contains(rule); });
    if (exact) {
      EditChain edit{desired.table, desired.name, {run_begin, run_end}, {}};
      bool forward = std::any_of(run_begin, run_end, [&](const std::string& rule) { return RemovesForward(observed, rule); });
      steps.push_back({std::move(edit), forward ? Destructive::kYes : Destructive::kNo});
      return;
    }
  }

  // Sets of views into both rule lists; one arena keeps 50,000-rule chains cheap.
  std::pmr::monotonic_buffer_resource arena;
  std::pmr::unordered_set<std::string_view> desired_set(&arena);
  desired_set.reserve(desired.rules.size());
  desired_set.insert(desired.rules.begin(), desired.rules.end());
  std::pmr::unordered_set<std::string_view> observed_set(&arena);
  observed_set.reserve(observed.rules.size());
  observed_set.insert(observed.rules.begin(), observed.rules.end());
  bool editable = desired_set.size() == desired.rules.size() && observed_set.size() == observed.rules.size();

  // Editable when the observed rules that stay are a prefix of the desired order and every
  // rule after them is new: deleting the rest and appending the new ones gives the exact order.
  EditChain edit{desired.table, desired.name, {}, {}};
  Destructive destructive = Destructive::kNo;
  size_t next = 0;
  for (const std::string& rule : observed.rules) {
    if (!desired_set.contains(rule)) {
      edit.delete_rules.push_back(rule);
      if (RemovesForward(observed, rule)) destructive = Destructive::kYes;
    } else if (editable && (next >= desired.rules.size() || desired.rules[next] != rule)) {
      editable = false;
    } else {
      ++next;
    }
  }
  if (editable) {
    for (size_t k = next; k < desired.rules.size(); ++k) {
      if (observed_set.contains(desired.rules[k])) {
        editable = false;
        break;
      }
      edit.append_rules.push_back(desired.rules[k]);
    }
  }
  if (editable) {
    steps.push_back({std::move(edit), destructive});
  } else {
    steps.push_back({WriteChain{desired}, destructive});
  }
}

// Peers matched by public key; the first of duplicate keys counts (a host cannot have
// two, and a config with two is invalid).
void PlanPeers(const WireguardInterface& desired, const std::vector<ObservedPeer>& observed, StepGroups& groups) {
  auto key_less = [](const auto& a, const auto& b) { return a.public_key < b.public_key; };
  auto same_key = [](const auto* a, const auto* b) { return a->public_key == b->public_key; };
  std::vector<const WireguardPeer*> want = SortedPointers(desired.peers, key_less);
  want.erase(std::unique(want.begin(), want.end(), same_key), want.end());
  std::vector<const ObservedPeer*> have = SortedPointers(observed, key_less);
  have.erase(std::unique(have.begin(), have.end(), same_key), have.end());
  size_t i = 0;
  size_t j = 0;
  while (i < want.size() || j < have.size()) {
    if (j == have.size() || (i < want.size() && want[i]->public_key < have[j]->public_key)) {
      groups.peers.push_back({UpsertPeer{desired.name, *want[i++]}, Destructive::kNo});
    } else if (i == want.size() || have[j]->public_key < want[i]->public_key) {
      groups.remove_peers.push_back({RemovePeer{desired.name, have[j++]->public_key}, Destructive::kYes});
    } else {
      if (!PeerMatches(*want[i], *have[j])) groups.peers.push_back({UpsertPeer{desired.name, *want[i]}, Destructive::kNo});
      ++i;
      ++j;
    }
  }
}

void PlanInterface(const WireguardInterface& desired, const ObservedInterface* observed, StepGroups& groups) {
  const std::string& name = desired.name;
  if (observed == nullptr) {
    groups.interfaces.push_back({CreateInterface{name, desired.mtu}, Destructive::kNo});
    groups.interfaces.push_back(
        {ConfigureInterface{name, desired.listen_port, desired.fwmark, desired.public_key}, Destructive::kNo});
    groups.interfaces.push_back({AddInterfaceAddress{name, desired.address}, Destructive::kNo});
    groups.interfaces.push_back({SetInterfaceUp{name}, Destructive::kNo});
    PlanPeers(desired, {}, groups);
    return;
  }
  bool key_changes = observed->public_key.has_value() && *observed->public_key != desired.public_key;
  // A desired listen port of 0 means "any": the kernel picked one, which is not drift.
  bool port_differs = desired.listen_port != 0 && observed->listen_port != desired.listen_port;
  if (port_differs || observed->fwmark != desired.fwmark ||
      observed->public_key != desired.public_key) {
    groups.interfaces.push_back({ConfigureInterface{name, desired.listen_port, desired.fwmark, desired.public_key},
                                 key_changes ? Destructive::kYes : Destructive::kNo});
  }
  if (observed->mtu != desired.mtu) {
    groups.interfaces.push_back({SetInterfaceMtu{name, desired.mtu}, Destructive::kNo});
  }
  bool has_address = false;
  for (const Ipv4Cidr& address : observed->addresses) {
    if (address == desired.address) {
      has_address = true;
    } else {
      groups.remove_addresses.push_back({RemoveInterfaceAddress{name, address}, Destructive::kNo});
    }
  }
  if (!has_address) groups.interfaces.push_back({AddInterfaceAddress{name, desired.address}, Destructive::kNo});
  if (!observed->up) groups.interfaces.push_back({SetInterfaceUp{name}, Destructive::kNo});
  PlanPeers(desired, observed->peers, groups);
}

void PlanFirewall(const AgentConfig& desired, const ObservedState& observed, StepGroups& groups) {
  std::map<ChainId, const FirewallChain*> have;
  for (const FirewallChain& chain : observed.chains) have.emplace(ChainId{chain.table, chain.name}, &chain);
  std::map<ChainId, const FirewallChain*> want;
  for (const FirewallChain& chain : desired.chains) want.emplace(ChainId{chain.table, chain.name}, &chain);

  for (const auto& [id, chain] : want) {
    auto found = have.find(id);
    if (found == have.end()) {
      groups.chains.push_back({WriteChain{*chain}, Destructive::kNo});
    } else {
      PlanChain(*chain, *found->second, groups.chains);
    }
  }
  for (const auto& [id, chain] : have) {
    if (!want.contains(id)) groups.delete_chains.push_back({DeleteChain{id.first, chain->name}, Destructive::kYes});
  }
  DiffBag(
      desired.jumps, observed.jumps, JumpLess{},
      [&](const FirewallJump& jump) { groups.add_jumps.push_back({AddJump{jump}, Destructive::kNo}); },
      [&](const FirewallJump& jump) { groups.delete_jumps.push_back({DeleteJump{jump}, Destructive::kNo}); });
}

// --- DescribeStep ---

// Host-supplied text may carry terminal escapes; show control bytes as \xNN.
std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}

std::string ShortKey(const WireguardKey& key) { return key.ToBase64().substr(0, 8) + "…="; }

std::string Hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%x", value);
  return text;
}

std::string TableSuffix(uint32_t table) { return table == kMainTable ? "" : " table " + std::to_string(table); }

std::string DescribeRoute(const Route& route) {
  std::string text = "route " + route.destination.ToString() + " dev " + Printable(route.device);
  if (route.via) text += " via " + route.via->ToString();
  return text + TableSuffix(route.table);
}

std::string DescribeRule(const RoutingRule& rule) {
  std::string text = "rule priority " + std::to_string(rule.priority);
  if (rule.from) text += " from " + rule.from->ToString();
  if (rule.to) text += " to " + rule.to->ToString();
  if (rule.fwmark != 0) text += " fwmark " + Hex(rule.fwmark);
  return text + (rule.table == kMainTable ? " table main" : " table " + std::to_string(rule.table));
}

std::string ChainName(FirewallTable table, std::string_view name) {
  return std::string(FirewallTableName(table)) + "/" + Printable(name);
}

std::string DescribeJump(const FirewallJump& jump) {
  return "jump " + ChainName(jump.table, jump.chain) + ": " + Printable(jump.rule);
}

std::string RuleCount(size_t count) { return std::to_string(count) + (count == 1 ? " rule" : " rules"); }

struct Describer {
  std::string operator()(const CreateInterface& step) const {
    return "+ interface " + Printable(step.name) + " (mtu " + std::to_string(step.mtu) + ")";
  }
  std::string operator()(const ConfigureInterface& step) const {
    std::string port = step.listen_port == 0 ? "random" : std::to_string(step.listen_port);
    return "~ interface " + Printable(step.name) + ": key " + ShortKey(step.public_key) + ", listen port " + port +
           ", fwmark " + Hex(step.fwmark);
  }
  std::string operator()(const SetInterfaceMtu& step) const {
    return "~ interface " + Printable(step.name) + ": mtu " + std::to_string(step.mtu);
  }
  std::string operator()(const AddInterfaceAddress& step) const {
    return "+ address " + step.address.ToString() + " on " + Printable(step.name);
  }
  std::string operator()(const RemoveInterfaceAddress& step) const {
    return "- address " + step.address.ToString() + " on " + Printable(step.name);
  }
  std::string operator()(const SetInterfaceUp& step) const { return "~ interface " + Printable(step.name) + ": up"; }
  std::string operator()(const UpsertPeer& step) const {
    const WireguardPeer& peer = step.peer;
    std::string text = "+ peer ";
    if (!peer.name.empty()) text += Printable(peer.name) + " ";
    text += "(" + ShortKey(peer.public_key) + ") on " + Printable(step.interface) + ": allowed ";
    if (peer.allowed_ips.empty()) text += "(none)";
    for (size_t i = 0; i < peer.allowed_ips.size(); ++i) {
      if (i > 0) text += ", ";
      text += peer.allowed_ips[i].ToString();
    }
    if (!peer.endpoint.empty()) text += "; endpoint " + Printable(peer.endpoint);
    if (peer.persistent_keepalive > 0) text += "; keepalive " + std::to_string(peer.persistent_keepalive) + "s";
    return text;
  }
  std::string operator()(const RemovePeer& step) const {
    return "- peer (" + ShortKey(step.public_key) + ") on " + Printable(step.interface);
  }
  std::string operator()(const AddRoute& step) const { return "+ " + DescribeRoute(step.route); }
  std::string operator()(const DeleteRoute& step) const { return "- " + DescribeRoute(step.route); }
  std::string operator()(const AddRule& step) const { return "+ " + DescribeRule(step.rule); }
  std::string operator()(const DeleteRule& step) const { return "- " + DescribeRule(step.rule); }
  std::string operator()(const WriteChain& step) const {
    return "+ chain " + ChainName(step.chain.table, step.chain.name) + ": write " + RuleCount(step.chain.rules.size());
  }
  std::string operator()(const EditChain& step) const {
    return "~ chain " + ChainName(step.table, step.name) + ": -" + std::to_string(step.delete_rules.size()) + " +" +
           std::to_string(step.append_rules.size()) + " rules";
  }
  std::string operator()(const DeleteChain& step) const { return "- chain " + ChainName(step.table, step.name); }
  std::string operator()(const AddJump& step) const { return "+ " + DescribeJump(step.jump); }
  std::string operator()(const DeleteJump& step) const { return "- " + DescribeJump(step.jump); }
  std::string operator()(const SetSysctl& step) const {
    return "~ sysctl " + Printable(step.sysctl.key) + " = " + Printable(step.sysctl.value);
  }
  std::string operator()(const DeleteInterface& step) const { return "- interface " + Printable(step.name); }
};

// --- SimulateApply ---

// A vector that keeps its order while values are added and removed by value in
// O(log n): removal leaves a hole, compacted at the end.
template <typename T, typename Less>
class OrderedBag {
 public:
  explicit OrderedBag(std::vector<T> items) : items_(items.begin(), items.end()) {
    for (size_t i = 0; i < items_.size(); ++i) index_.emplace(*items_[i], i);
  }
  bool Contains(const T& value) const { return index_.contains(value); }
  void Add(const T& value) {
    index_.emplace(value, items_.size());
    items_.emplace_back(value);
  }
  // Removes the first copy, as `ip rule del` and `iptables -D` do.
  void RemoveFirst(const T& value) {
    // lower_bound finds the earliest of equal keys: a multimap keeps insertion order.
    auto found = index_.lower_bound(value);
    if (found == index_.end() || Less{}(value, found->first)) return;
    items_[found->second].reset();
    index_.erase(found);
  }
  std::vector<T> Take() && {
    std::vector<T> result;
    result.reserve(index_.size());
    for (std::optional<T>& item : items_) {
      if (item) result.push_back(std::move(*item));
    }
    return result;
  }

 private:
  std::vector<std::optional<T>> items_;
  std::multimap<T, size_t, Less> index_;
};

struct KeyHash {
  size_t operator()(const WireguardKey& key) const {
    size_t hash = 0;
    for (size_t i = 0; i < sizeof(size_t); ++i) hash = (hash << 8) | key.bytes[i];
    return hash;
  }
};

// One interface's peers while steps run. WireGuard gives each allowed IP to one peer per
// interface: setting it on a peer takes it from the peer that had it.
class SimulatedPeers {
 public:
  explicit SimulatedPeers(std::vector<ObservedPeer> peers) : peers_(peers.begin(), peers.end()) {
    for (size_t i = 0; i < peers_.size(); ++i) {
      index_.emplace(peers_[i]->public_key, i);
      for (Ipv4Cidr& cidr : peers_[i]->allowed_ips) owners_.emplace(cidr.Canonical(), i);
    }
  }

  void Upsert(const WireguardPeer& peer) {
    auto [found, inserted] = index_.emplace(peer.public_key, peers_.size());
    size_t slot = found->second;
    if (inserted) peers_.emplace_back(ObservedPeer{peer.public_key, "", {}, 0, 0, 0, 0});
    ObservedPeer& target = *peers_[slot];
    for (const Ipv4Cidr& cidr : target.allowed_ips) {
      auto owner = owners_.find(cidr.Canonical());
      if (owner != owners_.end() && owner->second == slot) owners_.erase(owner);
    }
    target.allowed_ips = CanonicalSet(peer.allowed_ips);
    for (const Ipv4Cidr& cidr : target.allowed_ips) {
      auto [owner, fresh] = owners_.emplace(cidr, slot);
      if (!fresh && owner->second != slot) {
        std::vector<Ipv4Cidr>& theirs = peers_[owner->second]->allowed_ips;
        theirs.erase(std::remove_if(theirs.begin(), theirs.end(), [&](const Ipv4Cidr& c) { return c.Canonical() == cidr; }),
                     theirs.end());
        owner->second = slot;
      }
    }
    // `wg set` without an endpoint leaves the current one. For a host name the simulation
    // records the name where the address would be; the agent records the applied text.
    if (!peer.endpoint.empty()) {
      target.endpoint = peer.endpoint;
      target.applied_endpoint = peer.endpoint;
    }
    target.persistent_keepalive = peer.persistent_keepalive;
  }

  void Remove(const WireguardKey& key) {
    auto found = index_.find(key);
    if (found == index_.end()) return;
    for (const Ipv4Cidr& cidr : peers_[found->second]->allowed_ips) {
      auto owner = owners_.find(cidr.Canonical());
      if (owner != owners_.end() && owner->second == found->second) owners_.erase(owner);
    }
    peers_[found->second].reset();
    index_.erase(found);
  }

  std::vector<ObservedPeer> Take() && {
    std::vector<ObservedPeer> result;
    for (std::optional<ObservedPeer>& peer : peers_) {
      if (peer) result.push_back(std::move(*peer));
    }
    return result;
  }

 private:
  std::vector<std::optional<ObservedPeer>> peers_;
  std::unordered_map<WireguardKey, size_t, KeyHash> index_;
  std::map<Ipv4Cidr, size_t> owners_;
};

struct SimulatedInterface {
  ObservedInterface interface;
  std::optional<SimulatedPeers> peers;  // built on the first peer step
  SimulatedPeers& Peers() {
    if (!peers) peers.emplace(std::move(interface.peers));
    return *peers;
  }
};

class Simulation {
 public:
  explicit Simulation(const ObservedState& observed)
      : routes_(observed.routes), rules_(observed.rules), jumps_(observed.jumps), chains_(observed.chains),
        sysctls_(observed.sysctls) {
    for (const ObservedInterface& interface : observed.interfaces) interfaces_.push_back({interface, std::nullopt});
  }

  void operator()(const CreateInterface& step) {
    if (Find(step.name) != nullptr) return;
    ObservedInterface created;
    created.name = step.name;
    created.mtu = step.mtu;
    interfaces_.push_back({std::move(created), std::nullopt});
  }
  void operator()(const ConfigureInterface& step) {
    if (ObservedInterface* found = FindInterface(step.name)) {
      found->listen_port = step.listen_port;
      found->fwmark = step.fwmark;
      found->public_key = step.public_key;
    }
  }
  void operator()(const SetInterfaceMtu& step) {
    if (ObservedInterface* found = FindInterface(step.name)) found->mtu = step.mtu;
  }
  void operator()(const AddInterfaceAddress& step) {
    if (ObservedInterface* found = FindInterface(step.name)) {
      auto& addresses = found->addresses;
      if (std::find(addresses.begin(), addresses.end(), step.address) == addresses.end()) {
        addresses.push_back(step.address);
      }
    }
  }
  void operator()(const RemoveInterfaceAddress& step) {
    if (ObservedInterface* found = FindInterface(step.name)) {
      auto& addresses = found->addresses;
      addresses.erase(std::remove(addresses.begin(), addresses.end(), step.address), addresses.end());
    }
  }
  void operator()(const SetInterfaceUp& step) {
    if (ObservedInterface* found = FindInterface(step.name)) found->up = true;
  }
  void operator()(const UpsertPeer& step) {
    if (SimulatedInterface* found = Find(step.interface)) found->Peers().Upsert(step.peer);
  }
  void operator()(const RemovePeer& step) {
    if (SimulatedInterface* found = Find(step.interface)) found->Peers().Remove(step.public_key);
  }
  void operator()(const AddRoute& step) {
    if (!routes_.Contains(step.route)) routes_.Add(step.route);  // the kernel refuses a duplicate route
  }
  void operator()(const DeleteRoute& step) { routes_.RemoveFirst(step.route); }
  void operator()(const AddRule& step) { rules_.Add(step.rule); }
  void operator()(const DeleteRule& step) { rules_.RemoveFirst(step.rule); }
  void operator()(const WriteChain& step) {
    if (FirewallChain* found = FindChain(step.chain.table, step.chain.name)) {
      found->rules = step.chain.rules;
    } else {
      chains_.push_back(step.chain);
    }
  }
  void operator()(const EditChain& step) {
    FirewallChain* found = FindChain(step.table, step.name);
    if (found == nullptr) return;
    // Each deleted rule removes its first remaining copy, like one `-D` per rule.
    std::unordered_map<std::string_view, size_t> to_delete;
    for (const std::string& rule : step.delete_rules) ++to_delete[rule];
    std::vector<std::string> kept;
    kept.reserve(found->rules.size() + step.append_rules.size());
    for (std::string& rule : found->rules) {
      auto pending = to_delete.find(rule);
      if (pending != to_delete.end() && pending->second > 0) {
        --pending->second;
      } else {
        kept.push_back(std::move(rule));
      }
    }
    kept.insert(kept.end(), step.append_rules.begin(), step.append_rules.end());
    found->rules = std::move(kept);
  }
  void operator()(const DeleteChain& step) {
    auto found = std::find_if(chains_.begin(), chains_.end(), [&](const FirewallChain& chain) {
      return chain.table == step.table && chain.name == step.name;
    });
    if (found != chains_.end()) chains_.erase(found);
  }
  void operator()(const AddJump& step) { jumps_.Add(step.jump); }
  void operator()(const DeleteJump& step) { jumps_.RemoveFirst(step.jump); }
  void operator()(const SetSysctl& step) {
    for (Sysctl& sysctl : sysctls_) {
      if (sysctl.key == step.sysctl.key) {
        sysctl.value = step.sysctl.value;
        return;
      }
    }
    sysctls_.push_back(step.sysctl);
  }
  void operator()(const DeleteInterface& step) {
    auto found = std::find_if(interfaces_.begin(), interfaces_.end(),
                              [&](const SimulatedInterface& interface) { return interface.interface.name == step.name; });
    if (found != interfaces_.end()) interfaces_.erase(found);
  }

  ObservedState Take() && {
    ObservedState state;
    for (SimulatedInterface& simulated : interfaces_) {
      if (simulated.peers) simulated.interface.peers = std::move(*simulated.peers).Take();
      state.interfaces.push_back(std::move(simulated.interface));
    }
    state.routes = std::move(routes_).Take();
    state.rules = std::move(rules_).Take();
    state.chains = std::move(chains_);
    state.jumps = std::move(jumps_).Take();
    state.sysctls = std::move(sysctls_);
    return state;
  }

 private:
  SimulatedInterface* Find(std::string_view name) {
    for (SimulatedInterface& interface : interfaces_) {
      if (interface.interface.name == name) return &interface;
    }
    return nullptr;
  }
  ObservedInterface* FindInterface(std::string_view name) {
    SimulatedInterface* found = Find(name);
    return found == nullptr ? nullptr : &found->interface;
  }
  FirewallChain* FindChain(FirewallTable table, std::string_view name) {
    for (FirewallChain& chain : chains_) {
      if (chain.table == table && chain.name == name) return &chain;
    }
    return nullptr;
  }

  std::vector<SimulatedInterface> interfaces_;
  OrderedBag<Route, RouteLess> routes_;
  OrderedBag<RoutingRule, RuleLess> rules_;
  OrderedBag<FirewallJump, JumpLess> jumps_;
  std::vector<FirewallChain> chains_;
  std::vector<Sysctl> sysctls_;
};

}  // namespace

bool Plan::HasDestructive() const {
  return std::any_of(steps.begin(), steps.end(), [](const Step& step) { return step.destructive == Destructive::kYes; });
}

Plan ComputePlan(const AgentConfig& desired, const ObservedState& observed) {
  StepGroups groups;

  // Interfaces and their peers, by name; the first of duplicate names counts.
  std::map<std::string_view, const ObservedInterface*> have;
  for (const ObservedInterface& interface : observed.interfaces) have.emplace(interface.name, &interface);
  std::map<std::string_view, const WireguardInterface*> want;
  for (const WireguardInterface& interface : desired.interfaces) want.emplace(interface.name, &interface);
  for (const auto& [name, interface] : want) {
    auto found = have.find(name);
    PlanInterface(*interface, found == have.end() ? nullptr : found->second, groups);
  }
  for (const auto& [name, interface] : have) {
    if (!want.contains(name)) {
      groups.delete_interfaces.push_back({DeleteInterface{interface->name}, Destructive::kYes});
    }
  }

  // Sysctls are set, never reverted; observed keys the config does not name are ignored.
  std::unordered_map<std::string_view, std::string_view> current;
  for (const Sysctl& sysctl : observed.sysctls) current.emplace(sysctl.key, sysctl.value);
  std::unordered_set<std::string_view> seen;
  for (const Sysctl& sysctl : desired.sysctls) {
    if (!seen.insert(sysctl.key).second) continue;
    auto found = current.find(sysctl.key);
    if (found == current.end() || found->second != sysctl.value) {
      groups.sysctls.push_back({SetSysctl{sysctl}, Destructive::kNo});
    }
  }

  DiffBag(
      desired.routes, observed.routes, RouteLess{},
      [&](const Route& route) { groups.routes.push_back({AddRoute{route}, Destructive::kNo}); },
      [&](const Route& route) { groups.delete_routes.push_back({DeleteRoute{route}, Destructive::kNo}); });
  DiffBag(
      desired.rules, observed.rules, RuleLess{},
      [&](const RoutingRule& rule) { groups.rules.push_back({AddRule{rule}, Destructive::kNo}); },
      [&](const RoutingRule& rule) { groups.delete_rules.push_back({DeleteRule{rule}, Destructive::kNo}); });
  PlanFirewall(desired, observed, groups);
  return std::move(groups).Concatenate();
}

std::string DescribeStep(const Step& step) {
  std::string text = std::visit(Describer{}, step.action);
  if (step.destructive == Destructive::kYes) text += " [destructive]";
  return text;
}

ObservedState SimulateApply(const ObservedState& observed, const Plan& plan) {
  Simulation simulation(observed);
  for (const Step& step : plan.steps) std::visit(simulation, step.action);
  return std::move(simulation).Take();
}

ObservedState ObservedFromDesired(const AgentConfig& desired) {
  ObservedState state;
  for (const WireguardInterface& interface : desired.interfaces) {
    ObservedInterface observed;
    observed.name = interface.name;
    observed.up = true;
    observed.mtu = interface.mtu;
    observed.addresses = {interface.address};
    observed.listen_port = interface.listen_port;
    observed.fwmark = interface.fwmark;
    observed.public_key = interface.public_key;
    for (const WireguardPeer& peer : interface.peers) {
      observed.peers.push_back(ObservedPeer{peer.public_key, peer.endpoint, CanonicalSet(peer.allowed_ips),
                                            peer.persistent_keepalive, 0, 0, 0, peer.endpoint});
    }
    state.interfaces.push_back(std::move(observed));
  }
  state.routes = desired.routes;
  state.rules = desired.rules;
  state.chains = desired.chains;
  state.jumps = desired.jumps;
  state.sysctls = desired.sysctls;
  return state;
}

}  // namespace ww
