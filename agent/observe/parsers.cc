#include "agent/observe/parsers.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

namespace ww::agent {
namespace {

using Json = nlohmann::json;

// Splits on `separator`, keeping empty pieces.
std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  while (true) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      pieces.push_back(text.substr(start));
      return pieces;
    }
    pieces.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

// Lines without their terminators; a final newline does not make an empty last line.
std::vector<std::string_view> Lines(std::string_view text) {
  if (text.ends_with('\n')) text.remove_suffix(1);
  if (text.empty()) return {};
  std::vector<std::string_view> lines = Split(text, '\n');
  for (std::string_view& line : lines) {
    if (line.ends_with('\r')) line.remove_suffix(1);
  }
  return lines;
}

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// Decimal digits only, or "0x" and hex digits when `allow_hex`; no sign, no spaces.
template <typename Integer>
std::optional<Integer> ParseUnsigned(std::string_view text, bool allow_hex = false) {
  int base = 10;
  if (allow_hex && (text.starts_with("0x") || text.starts_with("0X"))) {
    text.remove_prefix(2);
    base = 16;
  }
  if (text.empty() || text.front() == '-') return std::nullopt;
  Integer value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ---- wg show IF dump ----------------------------------------------------------------------

constexpr std::string_view kNone = "(none)";
constexpr std::string_view kOff = "off";

Result<ObservedPeer> ParsePeerLine(std::string_view line, size_t line_number) {
  const std::string where = "wg show dump line " + std::to_string(line_number);
  std::vector<std::string_view> fields = Split(line, '\t');
  // Fields are never quoted whole: field 1 is the preshared key.
  if (fields.size() != 8) {
    return Status::InvalidArgument(where + ": " + std::to_string(fields.size()) + " fields, expected 8 for a peer");
  }
  ObservedPeer peer;
  auto key = WireguardKey::Parse(fields[0]);
  if (!key.ok()) return Status::InvalidArgument(where + ": public key " + Quoted(fields[0]) + ": " + key.status().message());
  peer.public_key = *key;
  if (fields[2] != kNone) peer.endpoint = std::string(fields[2]);
  if (fields[3] != kNone) {
    for (std::string_view allowed : Split(fields[3], ',')) {
      if (allowed.find(':') != std::string_view::npos) continue;  // IPv6: not WireWarp's
      auto cidr = Ipv4Cidr::Parse(allowed);
      if (!cidr.ok()) {
        return Status::InvalidArgument(where + ": allowed IP " + Quoted(allowed) + ": " + cidr.status().message());
      }
      peer.allowed_ips.push_back(*cidr);
    }
    std::sort(peer.allowed_ips.begin(), peer.allowed_ips.end());
  }
  auto handshake = ParseUnsigned<int64_t>(fields[4]);
  auto rx = ParseUnsigned<uint64_t>(fields[5]);
  auto tx = ParseUnsigned<uint64_t>(fields[6]);
  if (!handshake) return Status::InvalidArgument(where + ": latest handshake " + Quoted(fields[4]) + " is not a number");
  if (!rx) return Status::InvalidArgument(where + ": rx bytes " + Quoted(fields[5]) + " is not a number");
  if (!tx) return Status::InvalidArgument(where + ": tx bytes " + Quoted(fields[6]) + " is not a number");
  peer.latest_handshake = *handshake;
  peer.rx_bytes = *rx;
  peer.tx_bytes = *tx;
  if (fields[7] != kOff) {
    auto keepalive = ParseUnsigned<uint16_t>(fields[7]);
    if (!keepalive) {
      return Status::InvalidArgument(where + ": persistent keepalive " + Quoted(fields[7]) + " is not \"off\" or 1-65535");
    }
    peer.persistent_keepalive = *keepalive;
  }
  return peer;
}

// ---- iptables-save --------------------------------------------------------------------------

// The token after the first unquoted "-j" or "-g" of a rule as iptables-save prints it
// (strings with spaces are double-quoted with backslash escapes); "" when there is none.
std::string_view RuleTarget(std::string_view rule) {
  bool want_target = false;
  size_t i = 0;
  while (i < rule.size()) {
    if (rule[i] == ' ') {
      ++i;
      continue;
    }
    size_t start = i;
    if (rule[i] == '"') {
      for (++i; i < rule.size() && rule[i] != '"'; ++i) {
        if (rule[i] == '\\') ++i;
      }
      i = std::min(i + 1, rule.size());
    } else {
      while (i < rule.size() && rule[i] != ' ') ++i;
    }
    std::string_view token = rule.substr(start, i - start);
    if (want_target) return token;
    want_target = token == "-j" || token == "-g";
  }
  return {};
}

bool IsOwnedChain(std::string_view name) { return name.starts_with(kChainPrefix) && name.size() > kChainPrefix.size(); }

// ---- ip -j ----------------------------------------------------------------------------------

Result<Json> ParseJsonArray(std::string_view text, std::string_view what) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::exception& error) {
    return Status::InvalidArgument(std::string(what) + ": not JSON: " + error.what());
  }
  if (!json.is_array()) return Status::InvalidArgument(std::string(what) + ": expected a JSON array");
  for (const Json& entry : json) {
    if (!entry.is_object()) return Status::InvalidArgument(std::string(what) + ": expected an array of objects");
  }
  return json;
}

// A string member, absent as nullopt; any other type is an error.
Result<std::optional<std::string>> StringMember(const Json& object, const char* key, std::string_view what) {
  auto found = object.find(key);
  if (found == object.end()) return std::optional<std::string>();
  if (!found->is_string()) {
    return Status::InvalidArgument(std::string(what) + ": \"" + key + "\" is " + found->dump() + ", expected a string");
  }
  return std::optional<std::string>(found->get<std::string>());
}

// An unsigned member, absent as nullopt; any other type or a negative value is an error.
Result<std::optional<uint32_t>> NumberMember(const Json& object, const char* key, std::string_view what) {
  auto found = object.find(key);
  if (found == object.end()) return std::optional<uint32_t>();
  if (!found->is_number_unsigned() || found->get<uint64_t>() > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument(std::string(what) + ": \"" + key + "\" is " + found->dump() +
                                   ", expected an unsigned number");
  }
  return std::optional<uint32_t>(found->get<uint32_t>());
}

// iproute2 prints numbers as JSON strings ("87", "101") and, without -N, a few as names.
Result<uint32_t> TableNumber(const std::string& table, std::string_view what) {
  if (table == "main") return kMainTable;
  if (table == "local") return 255u;
  if (table == "default") return 253u;
  if (auto number = ParseUnsigned<uint32_t>(table)) return *number;
  return Status::InvalidArgument(std::string(what) + ": table " + Quoted(table) +
                                 " is not a number (run ip with -N so rt_tables names are not used)");
}

// "protocol" as a number: absent means 0, a name other than a number means "not ours".
Result<std::optional<uint32_t>> ProtocolMember(const Json& object, std::string_view what) {
  WW_ASSIGN_OR_RETURN(std::optional<std::string> protocol, StringMember(object, "protocol", what));
  if (!protocol) return std::optional<uint32_t>();
  return std::optional<uint32_t>(ParseUnsigned<uint32_t>(*protocol).value_or(0));
}

// "src"/"dst" plus "srclen"/"dstlen" of a rule; "all" or absent is no match.
Result<std::optional<Ipv4Cidr>> RuleSelector(const Json& rule, const char* address_key, const char* length_key,
                                             std::string_view what) {
  WW_ASSIGN_OR_RETURN(std::optional<std::string> address, StringMember(rule, address_key, what));
  if (!address || *address == "all") return std::optional<Ipv4Cidr>();
  auto parsed = Ipv4Address::Parse(*address);
  if (!parsed.ok()) {
    return Status::InvalidArgument(std::string(what) + ": " + address_key + " " + Quoted(*address) + ": " +
                                   parsed.status().message());
  }
  WW_ASSIGN_OR_RETURN(std::optional<uint32_t> length, NumberMember(rule, length_key, what));
  if (length.value_or(32) > 32) {
    return Status::InvalidArgument(std::string(what) + ": " + length_key + " " + std::to_string(*length) + " is over 32");
  }
  return std::optional<Ipv4Cidr>(Ipv4Cidr{*parsed, static_cast<int>(length.value_or(32))});
}

}  // namespace

Result<WireguardDump> ParseWireguardDump(std::string_view text) {
  std::vector<std::string_view> lines = Lines(text);
  if (lines.empty()) return Status::InvalidArgument("wg show dump: empty output");

  // Line 1: private key (skipped, never copied), public key, listen port, fwmark.
  std::vector<std::string_view> fields = Split(lines[0], '\t');
  if (fields.size() != 4) {
    return Status::InvalidArgument("wg show dump line 1: " + std::to_string(fields.size()) +
                                   " fields, expected 4 for the interface");
  }
  WireguardDump dump;
  if (fields[1] != kNone) {
    auto key = WireguardKey::Parse(fields[1]);
    if (!key.ok()) {
      return Status::InvalidArgument("wg show dump line 1: public key " + Quoted(fields[1]) + ": " + key.status().message());
    }
    dump.public_key = *key;
  }
  auto port = ParseUnsigned<uint16_t>(fields[2]);
  if (!port) return Status::InvalidArgument("wg show dump line 1: listen port " + Quoted(fields[2]) + " is not 0-65535");
  dump.listen_port = *port;
  if (fields[3] != kOff) {
    auto fwmark = ParseUnsigned<uint32_t>(fields[3], /*allow_hex=*/true);
    if (!fwmark) return Status::InvalidArgument("wg show dump line 1: fwmark " + Quoted(fields[3]) + " is not a number");
    dump.fwmark = *fwmark;
  }

  for (size_t i = 1; i < lines.size(); ++i) {
    WW_ASSIGN_OR_RETURN(ObservedPeer peer, ParsePeerLine(lines[i], i + 1));
    dump.peers.push_back(std::move(peer));
  }
  std::sort(dump.peers.begin(), dump.peers.end(),
            [](const ObservedPeer& a, const ObservedPeer& b) { return a.public_key < b.public_key; });
  return dump;
}

Result<OwnedFirewall> ParseIptablesSave(std::string_view text, FirewallTable table) {
  const std::string_view wanted = FirewallTableName(table);
  OwnedFirewall owned;
  std::map<std::string, std::vector<std::string>, std::less<>> chains;
  std::set<std::string, std::less<>> builtin_chains;
  bool in_table = false;
  bool in_wanted_table = false;
  bool seen_wanted_table = false;

  std::vector<std::string_view> lines = Lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    // Built only for an error: a full dump has thousands of lines.
    auto where = [i] { return "iptables-save line " + std::to_string(i + 1); };
    if (line.empty() || line.starts_with('#')) continue;
    if (line.starts_with('*')) {
      if (in_table) return Status::InvalidArgument(where() + ": " + Quoted(line) + " starts a table before COMMIT");
      in_table = true;
      in_wanted_table = line.substr(1) == wanted;
      if (in_wanted_table && seen_wanted_table) {
        return Status::InvalidArgument(where() + ": table " + Quoted(wanted) + " appears twice");
      }
      seen_wanted_table = seen_wanted_table || in_wanted_table;
      continue;
    }
    if (!in_table) return Status::InvalidArgument(where() + ": " + Quoted(line) + " is outside a table");
    if (line == "COMMIT") {
      in_table = false;
      in_wanted_table = false;
      continue;
    }
    if (!in_wanted_table) continue;

    if (line.starts_with(':')) {
      // ":NAME POLICY [packets:bytes]"; user-defined chains have the policy "-".
      std::vector<std::string_view> parts = Split(line.substr(1), ' ');
      if (parts.size() < 2 || parts[0].empty()) {
        return Status::InvalidArgument(where() + ": chain declaration " + Quoted(line) + " has no policy");
      }
      if (parts[1] != "-") builtin_chains.emplace(parts[0]);
      if (IsOwnedChain(parts[0])) chains.try_emplace(std::string(parts[0]));
      continue;
    }
    if (line.starts_with('[')) {
      // "[packets:bytes] -A ..." from iptables-save -c.
      size_t end = line.find("] ");
      if (end == std::string_view::npos) return Status::InvalidArgument(where() + ": bad counters in " + Quoted(line));
      line.remove_prefix(end + 2);
    }
    if (!line.starts_with("-A ")) {
      return Status::InvalidArgument(where() + ": " + Quoted(line) + " is not a chain, rule or COMMIT");
    }
    std::string_view rest = line.substr(3);
    size_t space = rest.find(' ');
    std::string_view chain = rest.substr(0, space);
    std::string_view rule = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (IsOwnedChain(chain)) {
      auto found = chains.find(chain);  // no string built per rule: a dump has thousands
      if (found == chains.end()) found = chains.try_emplace(std::string(chain)).first;
      found->second.emplace_back(rule);
    } else if (builtin_chains.contains(chain) && IsOwnedChain(RuleTarget(rule))) {
      owned.jumps.push_back({table, std::string(chain), std::string(rule)});
    }
  }
  if (in_table) return Status::InvalidArgument("iptables-save: the last table has no COMMIT");

  for (auto& [name, rules] : chains) owned.chains.push_back({table, name, std::move(rules)});
  return owned;
}

Result<std::vector<Route>> ParseIpRoutes(std::string_view json_text) {
  WW_ASSIGN_OR_RETURN(Json json, ParseJsonArray(json_text, "ip route"));
  std::vector<Route> routes;
  for (size_t i = 0; i < json.size(); ++i) {
    const Json& entry = json[i];
    const std::string what = "ip route entry " + std::to_string(i);
    WW_ASSIGN_OR_RETURN(std::optional<uint32_t> protocol, ProtocolMember(entry, what));
    if (protocol && *protocol != static_cast<uint32_t>(kRouteProtocol)) continue;
    WW_ASSIGN_OR_RETURN(std::optional<std::string> type, StringMember(entry, "type", what));
    if (type && *type != "unicast" && *type != "1") continue;

    WW_ASSIGN_OR_RETURN(std::optional<std::string> destination, StringMember(entry, "dst", what));
    if (!destination) return Status::InvalidArgument(what + ": no \"dst\"");
    Route route;
    if (*destination != "default") {
      auto cidr = Ipv4Cidr::Parse(*destination, Ipv4Cidr::AllowBareAddress::kYes);
      if (!cidr.ok()) return Status::InvalidArgument(what + ": dst " + Quoted(*destination) + ": " + cidr.status().message());
      route.destination = *cidr;
    } else {
      route.destination = Ipv4Cidr{{0}, 0};
    }
    WW_ASSIGN_OR_RETURN(std::optional<std::string> gateway, StringMember(entry, "gateway", what));
    if (gateway) {
      auto via = Ipv4Address::Parse(*gateway);
      if (!via.ok()) return Status::InvalidArgument(what + ": gateway " + Quoted(*gateway) + ": " + via.status().message());
      route.via = *via;
    }
    WW_ASSIGN_OR_RETURN(std::optional<std::string> device, StringMember(entry, "dev", what));
    route.device = device.value_or("");
    WW_ASSIGN_OR_RETURN(std::optional<std::string> table, StringMember(entry, "table", what));
    if (table) {
      WW_ASSIGN_OR_RETURN(route.table, TableNumber(*table, what));
    }
    routes.push_back(std::move(route));
  }
  auto key = [](const Route& route) { return std::tie(route.destination, route.device, route.via, route.table); };
  std::sort(routes.begin(), routes.end(), [&](const Route& a, const Route& b) { return key(a) < key(b); });
  return routes;
}

Result<std::vector<RoutingRule>> ParseIpRules(std::string_view json_text) {
  WW_ASSIGN_OR_RETURN(Json json, ParseJsonArray(json_text, "ip rule"));
  std::vector<RoutingRule> rules;
  for (size_t i = 0; i < json.size(); ++i) {
    const Json& entry = json[i];
    const std::string what = "ip rule entry " + std::to_string(i);
    WW_ASSIGN_OR_RETURN(std::optional<uint32_t> protocol, ProtocolMember(entry, what));
    if (protocol != static_cast<uint32_t>(kRouteProtocol)) continue;
    WW_ASSIGN_OR_RETURN(std::optional<uint32_t> priority, NumberMember(entry, "priority", what));
    if (!priority) return Status::InvalidArgument(what + ": no \"priority\"");
    if (*priority < kRulePriorityFirst || *priority > kRulePriorityLast) continue;

    RoutingRule rule;
    rule.priority = *priority;
    WW_ASSIGN_OR_RETURN(rule.from, RuleSelector(entry, "src", "srclen", what));
    WW_ASSIGN_OR_RETURN(rule.to, RuleSelector(entry, "dst", "dstlen", what));
    // FIXME: RoutingRule has no fwmask, iif/oif or "not"; an owned rule using them reads as
    // the plain rule. Render never emits them.
    WW_ASSIGN_OR_RETURN(std::optional<std::string> fwmark, StringMember(entry, "fwmark", what));
    if (fwmark) {
      auto mark = ParseUnsigned<uint32_t>(*fwmark, /*allow_hex=*/true);
      if (!mark) return Status::InvalidArgument(what + ": fwmark " + Quoted(*fwmark) + " is not a number");
      rule.fwmark = *mark;
    }
    WW_ASSIGN_OR_RETURN(std::optional<std::string> table, StringMember(entry, "table", what));
    if (table) {
      WW_ASSIGN_OR_RETURN(rule.table, TableNumber(*table, what));
    } else {
      rule.table = 0;
    }
    rules.push_back(std::move(rule));
  }
  auto key = [](const RoutingRule& rule) { return std::tie(rule.priority, rule.from, rule.to, rule.fwmark, rule.table); };
  std::sort(rules.begin(), rules.end(), [&](const RoutingRule& a, const RoutingRule& b) { return key(a) < key(b); });
  return rules;
}

Result<LinkState> ParseIpLinkAddress(std::string_view json_text) {
  WW_ASSIGN_OR_RETURN(Json json, ParseJsonArray(json_text, "ip address"));
  if (json.size() != 1) {
    return Status::InvalidArgument("ip address: " + std::to_string(json.size()) + " devices, expected exactly one");
  }
  const Json& device = json[0];
  const std::string what = "ip address";
  LinkState link;
  WW_ASSIGN_OR_RETURN(std::optional<std::string> name, StringMember(device, "ifname", what));
  if (!name) return Status::InvalidArgument(what + ": no \"ifname\"");
  link.name = *name;
  const std::string where = what + " of " + Quoted(link.name);
  WW_ASSIGN_OR_RETURN(std::optional<uint32_t> mtu, NumberMember(device, "mtu", where));
  if (!mtu || *mtu > static_cast<uint32_t>(std::numeric_limits<int>::max())) {
    return Status::InvalidArgument(where + ": no usable \"mtu\"");
  }
  link.mtu = static_cast<int>(*mtu);

  auto flags = device.find("flags");
  if (flags != device.end()) {
    if (!flags->is_array()) return Status::InvalidArgument(where + ": \"flags\" is not an array");
    link.up = std::find(flags->begin(), flags->end(), Json("UP")) != flags->end();
  }
  auto linkinfo = device.find("linkinfo");
  if (linkinfo != device.end() && linkinfo->is_object()) {
    WW_ASSIGN_OR_RETURN(std::optional<std::string> kind, StringMember(*linkinfo, "info_kind", where));
    link.kind = kind.value_or("");
  }
  auto addresses = device.find("addr_info");
  if (addresses != device.end()) {
    if (!addresses->is_array()) return Status::InvalidArgument(where + ": \"addr_info\" is not an array");
    for (const Json& address : *addresses) {
      if (!address.is_object()) return Status::InvalidArgument(where + ": \"addr_info\" holds a non-object");
      WW_ASSIGN_OR_RETURN(std::optional<std::string> family, StringMember(address, "family", where));
      if (family != "inet") continue;
      WW_ASSIGN_OR_RETURN(std::optional<std::string> local, StringMember(address, "local", where));
      WW_ASSIGN_OR_RETURN(std::optional<uint32_t> prefix, NumberMember(address, "prefixlen", where));
      if (!local || !prefix || *prefix > 32) {
        return Status::InvalidArgument(where + ": an inet address without \"local\" or a prefixlen 0-32");
      }
      auto parsed = Ipv4Address::Parse(*local);
      if (!parsed.ok()) {
        return Status::InvalidArgument(where + ": address " + Quoted(*local) + ": " + parsed.status().message());
      }
      link.addresses.push_back({*parsed, static_cast<int>(*prefix)});
    }
    std::sort(link.addresses.begin(), link.addresses.end());
  }
  return link;
}

WireguardImplementation DetectWireguardImplementation(UserspaceSocket socket, std::string_view link_kind) {
  if (socket == UserspaceSocket::kPresent) return WireguardImplementation::kUserspace;
  if (link_kind == "wireguard") return WireguardImplementation::kKernel;
  if (link_kind == "tun") return WireguardImplementation::kUserspace;
  return WireguardImplementation::kUnknown;
}

}  // namespace ww::agent
