#include "schema/firewall_rule.h"

#include <charconv>
#include <cstdio>
#include <vector>

namespace ww {
namespace {

constexpr std::string_view kRestoreMarkOptions = "--restore-mark --nfmask 0xffffffff --ctmask 0xffffffff";
constexpr std::string_view kRestoreMarkTokens[] = {"--restore-mark", "--nfmask", "0xffffffff", "--ctmask", "0xffffffff"};
constexpr std::string_view kFullMask = "/0xffffffff";

std::string QuoteToken(std::string_view token) {
  std::string out = "\"";
  for (char c : token.substr(0, 64)) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + (token.size() > 64 ? "...\"" : "\"");
}

std::string Hex(uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "0x%x", value);
  return buffer;
}

// Lowercase "0x..." without leading zeros, as iptables-save prints marks.
std::optional<uint32_t> ParseHex(std::string_view text) {
  if (text.size() < 3 || text.size() > 10 || text.substr(0, 2) != "0x") return std::nullopt;
  uint32_t value = 0;
  auto [end, error] = std::from_chars(text.data() + 2, text.data() + text.size(), value, 16);
  if (error != std::errc() || end != text.data() + text.size() || Hex(value) != text) return std::nullopt;
  return value;
}

std::optional<uint16_t> ParsePortNumber(std::string_view text) {
  Result<uint16_t> port = ParsePort(text);
  if (!port.ok() || std::to_string(*port) != text) return std::nullopt;
  return *port;
}

// "P" or "P<separator>Q" with P < Q.
std::optional<PortRange> ParsePorts(std::string_view text, char separator) {
  size_t split = text.find(separator);
  std::optional<uint16_t> first = ParsePortNumber(text.substr(0, split));
  if (!first) return std::nullopt;
  if (split == std::string_view::npos) return PortRange{*first, *first};
  std::optional<uint16_t> last = ParsePortNumber(text.substr(split + 1));
  if (!last || *last <= *first) return std::nullopt;
  return PortRange{*first, *last};
}

std::string FormatPorts(const PortRange& range, char separator) {
  std::string text = std::to_string(range.first);
  if (!range.IsSingle()) text += separator + std::to_string(range.last);
  return text;
}

bool IsInterfaceName(std::string_view name) {
  if (name.empty() || name.size() > 15) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.';
    if (!ok) return false;
  }
  return name != "." && name != "..";
}

bool IsOwnedChainName(std::string_view name) {
  constexpr std::string_view kPrefix = "WIREWARP-";
  if (name.size() <= kPrefix.size() || name.size() > 28 || name.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

class RuleParser {
 public:
  explicit RuleParser(std::string_view text) : text_(text) {
    size_t start = 0;
    while (start <= text.size()) {
      size_t space = text.find(' ', start);
      if (space == std::string_view::npos) space = text.size();
      tokens_.push_back(text.substr(start, space - start));
      start = space + 1;
    }
  }

  Result<FirewallRule> Parse() {
    FirewallRule rule;
    WW_RETURN_IF_ERROR(Address("-s", rule.source));
    WW_RETURN_IF_ERROR(Address("-d", rule.destination));
    WW_RETURN_IF_ERROR(Interface("-i", rule.in_interface));
    WW_RETURN_IF_ERROR(Interface("-o", rule.out_interface));
    if (Accept("-p")) {
      std::string_view name = Next();
      if (name == "tcp") rule.protocol = Protocol::kTcp;
      else if (name == "udp") rule.protocol = Protocol::kUdp;
      else return Refuse(name, "a protocol other than tcp or udp");
    }
    if (Peek() == "-m" && (Peek(1) == "tcp" || Peek(1) == "udp")) {
      std::string_view module = Peek(1);
      if (!rule.protocol || module != ProtocolName(*rule.protocol)) return Refuse(module, "a match module without its -p");
      position_ += 2;
      if (Accept("--dport")) {
        std::string_view ports = Next();
        rule.destination_ports = ParsePorts(ports, ':');
        if (!rule.destination_ports) return Refuse(ports, "not a port or port range");
      } else if (module == "tcp" && Accept("--tcp-flags")) {
        if (Next() != "SYN,RST" || Next() != "SYN") return Refuse(Previous(), "tcp flags other than SYN,RST SYN");
        rule.tcp_flags = TcpFlagsMatch::kSyn;
      } else {
        return Refuse(Peek(), "an option of -m " + std::string(module) + " outside WireWarp's rules");
      }
    }
    if (AcceptPair("-m", "conntrack")) {
      if (!Accept("--ctstate")) return Refuse(Peek(), "a conntrack option other than --ctstate");
      std::string_view state = Next();
      if (state == "NEW") rule.connection_state = ConnectionState::kNew;
      else if (state == "DNAT") rule.connection_state = ConnectionState::kDnat;
      else if (state == "RELATED,ESTABLISHED") rule.connection_state = ConnectionState::kRelatedEstablished;
      else return Refuse(state, "a connection state outside WireWarp's rules");
    }
    if (AcceptPair("-m", "connmark")) {
      if (!Accept("--mark")) return Refuse(Peek(), "a connmark option other than --mark");
      std::string_view mark = Next();
      rule.connection_mark = ParseHex(mark);
      if (!rule.connection_mark) return Refuse(mark, "not a mark (lowercase 0x hex)");
    }
    if (AcceptPair("-m", "addrtype")) {
      if (!Accept("--dst-type") || !Accept("LOCAL")) return Refuse(Previous(), "an addrtype match other than --dst-type LOCAL");
      rule.destination_local = true;
    }
    if (!Accept("-j")) return Refuse(Peek(), "a match outside WireWarp's rules (or one out of iptables-save's order)");
    WW_RETURN_IF_ERROR(Target(rule));
    if (position_ != tokens_.size()) return Refuse(Peek(), "text after the target");
    return rule;
  }

 private:
  std::string_view Peek(size_t ahead = 0) const {
    return position_ + ahead < tokens_.size() ? tokens_[position_ + ahead] : std::string_view();
  }
  std::string_view Next() { return position_ < tokens_.size() ? tokens_[position_++] : std::string_view(); }
  std::string_view Previous() const { return position_ > 0 ? tokens_[position_ - 1] : std::string_view(); }
  bool Accept(std::string_view token) {
    if (Peek() != token) return false;
    ++position_;
    return true;
  }
  bool AcceptPair(std::string_view first, std::string_view second) {
    if (Peek() != first || Peek(1) != second) return false;
    position_ += 2;
    return true;
  }
  // Consumes "! OPTION" or "OPTION"; kNo negation when OPTION is not next.
  std::optional<Negation> Negatable(std::string_view option) {
    if (Peek() == "!" && Peek(1) == option) {
      position_ += 2;
      return Negation::kYes;
    }
    if (Accept(option)) return Negation::kNo;
    return std::nullopt;
  }
  Status Address(std::string_view option, std::optional<AddressMatch>& out) {
    std::optional<Negation> negation = Negatable(option);
    if (!negation) return Status::Ok();
    std::string_view text = Next();
    Result<Ipv4Cidr> cidr = Ipv4Cidr::Parse(text);
    if (!cidr.ok() || !cidr->IsCanonical() || cidr->ToString() != text) return Refuse(text, "not a canonical CIDR");
    out = AddressMatch{*negation, *cidr};
    return Status::Ok();
  }
  Status Interface(std::string_view option, std::optional<InterfaceMatch>& out) {
    std::optional<Negation> negation = Negatable(option);
    if (!negation) return Status::Ok();
    std::string_view name = Next();
    if (!IsInterfaceName(name)) return Refuse(name, "not an interface name");
    out = InterfaceMatch{*negation, std::string(name)};
    return Status::Ok();
  }
  Status Target(FirewallRule& rule) {
    std::string_view target = Next();
    if (target == "ACCEPT") {
      rule.target = FirewallTarget::kAccept;
    } else if (target == "MASQUERADE") {
      rule.target = FirewallTarget::kMasquerade;
    } else if (target == "DNAT") {
      rule.target = FirewallTarget::kDnat;
      if (!Accept("--to-destination")) return Refuse(Peek(), "a DNAT option other than --to-destination");
      std::string_view destination = Next();
      size_t colon = destination.find(':');
      Result<Ipv4Address> address = Ipv4Address::Parse(destination.substr(0, colon));
      std::optional<PortRange> ports;
      if (colon != std::string_view::npos) ports = ParsePorts(destination.substr(colon + 1), '-');
      if (!address.ok() || !ports || address->ToString() != destination.substr(0, colon)) {
        return Refuse(destination, "not ADDRESS:PORT[-PORT]");
      }
      rule.dnat_address = *address;
      rule.dnat_ports = *ports;
    } else if (target == "TCPMSS") {
      rule.target = FirewallTarget::kClampMss;
      if (!Accept("--clamp-mss-to-pmtu")) return Refuse(Peek(), "a TCPMSS option other than --clamp-mss-to-pmtu");
    } else if (target == "CONNMARK") {
      if (Accept("--set-xmark")) {
        rule.target = FirewallTarget::kSetConnectionMark;
        std::string_view mark = Next();
        std::optional<uint32_t> value;
        if (mark.size() > kFullMask.size() && mark.substr(mark.size() - kFullMask.size()) == kFullMask) {
          value = ParseHex(mark.substr(0, mark.size() - kFullMask.size()));
        }
        if (!value) return Refuse(mark, "not MARK/0xffffffff");
        rule.set_mark = *value;
      } else {
        rule.target = FirewallTarget::kRestoreMark;
        for (std::string_view want : kRestoreMarkTokens) {
          if (!Accept(want)) return Refuse(Peek(), "a CONNMARK option outside WireWarp's rules");
        }
      }
    } else if (IsOwnedChainName(target)) {
      rule.target = FirewallTarget::kJump;
      rule.jump_chain = std::string(target);
    } else {
      return Refuse(target, "a target outside WireWarp's rules");
    }
    return Status::Ok();
  }
  Status Refuse(std::string_view token, const std::string& why) const {
    return Status::InvalidArgument("firewall rule " + QuoteToken(text_) + ": " +
                                   (token.empty() ? std::string("end of rule") : QuoteToken(token)) + " is " + why);
  }

  std::string_view text_;
  std::vector<std::string_view> tokens_;
  size_t position_ = 0;
};

}  // namespace

Result<FirewallRule> ParseFirewallRule(std::string_view text) {
  if (text.size() > 512) return Status::InvalidArgument("firewall rule of " + std::to_string(text.size()) + " bytes is too long");
  RuleParser parser(text);
  WW_ASSIGN_OR_RETURN(FirewallRule rule, parser.Parse());
  if (rule.destination_ports && !rule.protocol) return Status::InvalidArgument("firewall rule " + QuoteToken(text) + ": --dport without -p");
  return rule;
}

std::string FormatFirewallRule(const FirewallRule& rule) {
  std::string out;
  auto add = [&out](std::string_view part) {
    if (!out.empty()) out += ' ';
    out += part;
  };
  auto negatable = [&](Negation negation, std::string_view option, const std::string& value) {
    if (negation == Negation::kYes) add("!");
    add(option);
    add(value);
  };
  if (rule.source) negatable(rule.source->negation, "-s", rule.source->cidr.ToString());
  if (rule.destination) negatable(rule.destination->negation, "-d", rule.destination->cidr.ToString());
  if (rule.in_interface) negatable(rule.in_interface->negation, "-i", rule.in_interface->name);
  if (rule.out_interface) negatable(rule.out_interface->negation, "-o", rule.out_interface->name);
  if (rule.protocol) {
    std::string name(ProtocolName(*rule.protocol));
    add("-p " + name);
    if (rule.destination_ports) add("-m " + name + " --dport " + FormatPorts(*rule.destination_ports, ':'));
    else if (rule.tcp_flags == TcpFlagsMatch::kSyn) add("-m " + name + " --tcp-flags SYN,RST SYN");
  }
  if (rule.connection_state) {
    switch (*rule.connection_state) {
      case ConnectionState::kNew: add("-m conntrack --ctstate NEW"); break;
      case ConnectionState::kDnat: add("-m conntrack --ctstate DNAT"); break;
      case ConnectionState::kRelatedEstablished: add("-m conntrack --ctstate RELATED,ESTABLISHED"); break;
    }
  }
  if (rule.connection_mark) add("-m connmark --mark " + Hex(*rule.connection_mark));
  if (rule.destination_local) add("-m addrtype --dst-type LOCAL");
  switch (rule.target) {
    case FirewallTarget::kAccept: add("-j ACCEPT"); break;
    case FirewallTarget::kMasquerade: add("-j MASQUERADE"); break;
    case FirewallTarget::kDnat:
      add("-j DNAT --to-destination " + rule.dnat_address.ToString() + ":" + FormatPorts(rule.dnat_ports, '-'));
      break;
    case FirewallTarget::kClampMss: add("-j TCPMSS --clamp-mss-to-pmtu"); break;
    case FirewallTarget::kSetConnectionMark: add("-j CONNMARK --set-xmark " + Hex(rule.set_mark) + std::string(kFullMask)); break;
    case FirewallTarget::kRestoreMark: add("-j CONNMARK " + std::string(kRestoreMarkOptions)); break;
    case FirewallTarget::kJump: add("-j " + rule.jump_chain); break;
  }
  return out;
}

}  // namespace ww
