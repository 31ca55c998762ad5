#include "schema/yaml_writer.h"

#include <array>
#include <cstdio>

namespace ww {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Characters that never change the meaning of a block-context plain scalar once it starts
// with a letter: no ':' or '#' (mapping and comment indicators), no quotes or backslash,
// no flow or tag indicators.
bool IsPlainSafe(char c) {
  if (IsLetter(c) || IsDigit(c)) return true;
  switch (c) {
    case ' ': case '_': case '.': case '/': case '-': case '(': case ')': case '+': case '=':
    case '@': case '\'': case '!': case '?': case ';': case '~': case '^': case '$': case '%':
      return true;
    default:
      return false;
  }
}

// Dotted quads and CIDRs ("10.0.0.1", "10.0.0.0/24") are strings in every YAML version;
// they are the one digit-led shape left plain, because users write them that way.
bool IsAddressShape(std::string_view text) {
  size_t position = 0;
  auto digits = [&](size_t max) {
    size_t start = position;
    while (position < text.size() && IsDigit(text[position]) && position - start < max) ++position;
    return position > start;
  };
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (position >= text.size() || text[position] != '.') return false;
      ++position;
    }
    if (!digits(3)) return false;
  }
  if (position == text.size()) return true;
  if (text[position] != '/') return false;
  ++position;
  return digits(2) && position == text.size();
}

// Plain scalars YAML 1.1 or 1.2 resolve to a boolean or null.
bool IsKeyword(std::string_view text) {
  static constexpr std::array<std::string_view, 9> kKeywords = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"};
  if (text.size() > 5) return false;
  std::string lower;
  for (char c : text) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (std::string_view keyword : kKeywords) {
    if (lower == keyword) return true;
  }
  return false;
}

bool CanBePlain(std::string_view text) {
  if (text.empty()) return false;
  if (IsAddressShape(text)) return true;
  // Digit-led text may be a number, a date or a sexagesimal; anything else led by a symbol
  // may be an indicator. Only letter-led text is left plain.
  if (!IsLetter(text.front()) || text.back() == ' ') return false;
  for (char c : text) {
    if (!IsPlainSafe(c)) return false;
  }
  return !IsKeyword(text);
}

void AppendHexEscape(std::string& out, char prefix, unsigned value, int digits) {
  char buffer[12];
  std::snprintf(buffer, sizeof(buffer), "\\%c%0*X", prefix, digits, value);
  out += buffer;
}

void AppendDoubleQuoted(std::string& out, std::string_view text) {
  out += '"';
  for (size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    auto next = [&](size_t offset) { return i + offset < text.size() ? static_cast<unsigned char>(text[i + offset]) : 0u; };
    switch (byte) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\t': out += "\\t"; continue;
      case '\r': out += "\\r"; continue;
      default: break;
    }
    if (byte < 0x20 || byte == 0x7F) {
      AppendHexEscape(out, 'x', byte, 2);
    } else if (byte == 0xC2 && next(1) >= 0x80 && next(1) <= 0x9F) {
      // C1 controls, NEL (U+0085) among them, which YAML reads as a line break.
      AppendHexEscape(out, 'u', next(1), 4);
      i += 1;
    } else if (byte == 0xE2 && next(1) == 0x80 && (next(2) == 0xA8 || next(2) == 0xA9)) {
      // U+2028 and U+2029: line and paragraph separators, also line breaks to YAML.
      AppendHexEscape(out, 'u', 0x2028u + (next(2) - 0xA8u), 4);
      i += 2;
    } else if (byte == 0xEF && next(1) == 0xBB && next(2) == 0xBF) {
      AppendHexEscape(out, 'u', 0xFEFF, 4);  // a byte order mark inside a stream is an error
      i += 2;
    } else {
      out += static_cast<char>(byte);
    }
  }
  out += '"';
}

void AppendString(std::string& out, std::string_view text) {
  if (CanBePlain(text)) {
    out += text;
  } else {
    AppendDoubleQuoted(out, text);
  }
}

void AppendIndent(std::string& out, int indent) { out.append(static_cast<size_t>(indent), ' '); }

void StringField(std::string& out, int indent, std::string_view key, std::string_view value) {
  AppendIndent(out, indent);
  out += key;
  out += ": ";
  AppendString(out, value);
  out += '\n';
}

void QuotedField(std::string& out, int indent, std::string_view key, std::string_view value) {
  AppendIndent(out, indent);
  out += key;
  out += ": ";
  AppendDoubleQuoted(out, value);
  out += '\n';
}

void IntegerField(std::string& out, int indent, std::string_view key, long value) {
  AppendIndent(out, indent);
  out += key;
  out += ": ";
  out += std::to_string(value);
  out += '\n';
}

void BooleanField(std::string& out, int indent, std::string_view key, bool value) {
  AppendIndent(out, indent);
  out += key;
  out += value ? ": true\n" : ": false\n";
}

void AppendHeader(std::string& out, std::string_view kind, const ObjectMeta& metadata) {
  out += "---\napiVersion: ";
  out += kApiVersion;
  out += "\nkind: ";
  out += kind;
  out += "\nmetadata:\n";
  StringField(out, 2, "name", metadata.name);
  if (!metadata.labels.empty()) {
    out += "  labels:\n";
    for (const auto& [key, value] : metadata.labels) {
      AppendIndent(out, 4);
      AppendString(out, key);
      out += ": ";
      AppendString(out, value);
      out += '\n';
    }
  }
  out += "spec:\n";
}

void AppendTunnel(std::string& out, const Tunnel& tunnel) {
  const TunnelSpec& spec = tunnel.spec;
  const TunnelSpec defaults;
  AppendHeader(out, kKindTunnel, tunnel.metadata);
  StringField(out, 2, "agent", spec.agent);
  StringField(out, 2, "endpoint", spec.endpoint);
  if (spec.listen_port != defaults.listen_port) IntegerField(out, 2, "listenPort", spec.listen_port);
  if (spec.interface != defaults.interface) StringField(out, 2, "interface", spec.interface);
  StringField(out, 2, "network", spec.network.ToString());
  if (spec.public_interface) StringField(out, 2, "publicInterface", *spec.public_interface);
  if (spec.mtu != defaults.mtu) IntegerField(out, 2, "mtu", spec.mtu);
  if (spec.self_heal != defaults.self_heal) BooleanField(out, 2, "selfHeal", spec.self_heal);
}

void AppendPeer(std::string& out, const Peer& peer) {
  const PeerSpec& spec = peer.spec;
  const PeerSpec defaults;
  AppendHeader(out, kKindPeer, peer.metadata);
  StringField(out, 2, "tunnel", spec.tunnel);
  if (spec.agent) StringField(out, 2, "agent", *spec.agent);
  if (spec.public_key) StringField(out, 2, "publicKey", spec.public_key->ToBase64());
  if (spec.address) StringField(out, 2, "address", spec.address->ToString());
  if (spec.interface != defaults.interface) StringField(out, 2, "interface", spec.interface);
  if (!spec.lan.empty()) {
    out += "  lan:\n";
    for (const Ipv4Cidr& lan : spec.lan) {
      out += "    - ";
      AppendString(out, lan.ToString());
      out += '\n';
    }
  }
  if (spec.gateway != defaults.gateway) BooleanField(out, 2, "gateway", spec.gateway);
  if (spec.keepalive) IntegerField(out, 2, "keepalive", *spec.keepalive);
  if (!spec.dns.empty()) {
    out += "  dns:\n";
    for (const Ipv4Address& server : spec.dns) {
      out += "    - ";
      AppendString(out, server.ToString());
      out += '\n';
    }
  }
}

void AppendForward(std::string& out, const PortForward& forward) {
  const PortForwardSpec& spec = forward.spec;
  AppendHeader(out, kKindPortForward, forward.metadata);
  StringField(out, 2, "tunnel", spec.tunnel);
  if (spec.protocol) StringField(out, 2, "protocol", ProtocolName(*spec.protocol));
  if (!spec.ports.empty()) QuotedField(out, 2, "ports", FormatPortList(spec.ports));
  if (spec.template_name) StringField(out, 2, "template", *spec.template_name);
  out += "  to:\n";
  StringField(out, 4, "address", spec.to.address.ToString());
  if (spec.to.port) IntegerField(out, 4, "port", *spec.to.port);
  if (spec.to.peer) StringField(out, 4, "peer", *spec.to.peer);
  if (!spec.description.empty()) StringField(out, 2, "description", spec.description);
  if (spec.host_port != HostPort::kRefuse) StringField(out, 2, "hostPort", HostPortName(spec.host_port));
}

void AppendTemplate(std::string& out, const ServiceTemplate& service) {
  AppendHeader(out, kKindServiceTemplate, service.metadata);
  if (service.spec.ports.empty()) {
    out += "  ports: []\n";
    return;
  }
  out += "  ports:\n";
  for (const PortSet& set : service.spec.ports) {
    out += "    - protocol: ";
    out += ProtocolName(set.protocol);
    out += '\n';
    QuotedField(out, 6, "ports", FormatPortList(set.ranges));
  }
}

}  // namespace

std::string YamlString(std::string_view text) {
  std::string out;
  AppendString(out, text);
  return out;
}

std::string FleetToYaml(const Fleet& fleet) {
  std::string out;
  size_t documents = fleet.tunnels.size() + fleet.peers.size() + fleet.forwards.size() + fleet.templates.size();
  out.reserve(documents * 256);
  for (const Tunnel& tunnel : fleet.tunnels) AppendTunnel(out, tunnel);
  for (const Peer& peer : fleet.peers) AppendPeer(out, peer);
  for (const ServiceTemplate& service : fleet.templates) AppendTemplate(out, service);
  for (const PortForward& forward : fleet.forwards) AppendForward(out, forward);
  return out;
}

}  // namespace ww
