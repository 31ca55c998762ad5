#pragma once
// The fleet as the user declares it: Tunnel, Peer, PortForward and ServiceTemplate
// documents (apiVersion wirewarp.dev/v1). Plain values with operator== so diffs and tests
// are trivial. The loader fills them with defaults applied and values already parsed;
// semantic checks live in validate.h. Field names follow the YAML contract in comments.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schema/diagnostic.h"
#include "schema/net.h"

namespace ww {

inline constexpr std::string_view kApiVersion = "wirewarp.dev/v1";

// Where a document and its fields came from. Metadata only: two Origins always compare
// equal, so moving a document between files does not make a resource "different".
struct Origin {
  std::string file;
  Mark mark;  // the document's first line
  // Field path as written in messages ("spec.to.address", "spec.lan[1]") to its value's mark.
  std::vector<std::pair<std::string, Mark>> fields;

  // The mark of `field`, or of its closest recorded parent, or of the document.
  Mark Find(std::string_view field) const;
  friend bool operator==(const Origin&, const Origin&) { return true; }
};

struct ObjectMeta {
  std::string name;  // ^[a-z0-9][a-z0-9-]{0,62}$
  std::map<std::string, std::string> labels;
  friend bool operator==(const ObjectMeta&, const ObjectMeta&) = default;
};

enum class Protocol { kTcp, kUdp, kBoth };
std::string_view ProtocolName(Protocol protocol);  // "tcp", "udp", "both"

// An inclusive port range; a single port has first == last.
struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  bool IsSingle() const { return first == last; }
  bool Overlaps(const PortRange& other) const { return first <= other.last && other.first <= last; }
  std::string ToString() const;  // "25565" or "2302-2305"
  friend auto operator<=>(const PortRange&, const PortRange&) = default;
};

// Parses "25565", "2302-2305" or "2302-2305,27016": ranges ordered (first <= last), each
// port 1-65535, no overlaps inside the list, no spaces. Errors quote the bad part.
Result<std::vector<PortRange>> ParsePortList(std::string_view text);
std::string FormatPortList(const std::vector<PortRange>& ranges);

struct PortSet {
  Protocol protocol = Protocol::kTcp;
  std::vector<PortRange> ranges;
  friend bool operator==(const PortSet&, const PortSet&) = default;
};

struct TunnelSpec {
  std::string agent;                             // agent: the server agent's name
  std::string endpoint;                          // endpoint: host or host:port clients dial
  uint16_t listen_port = 51820;                  // listenPort
  std::string interface = "wg0";                 // interface
  Ipv4Cidr network;                              // network: the server takes the first host
  std::optional<std::string> public_interface;   // publicInterface: detected if absent
  int mtu = 1420;                                // mtu
  bool self_heal = true;                         // selfHeal
  friend bool operator==(const TunnelSpec&, const TunnelSpec&) = default;
};

struct PeerSpec {
  std::string tunnel;                            // tunnel
  std::optional<std::string> agent;              // agent: managed peer (exactly one of agent,
  std::optional<WireguardKey> public_key;        // publicKey: unmanaged device)
  std::optional<Ipv4Address> address;            // address: allocated by IPAM if absent
  std::string interface = "wg0";                 // interface (managed only)
  std::vector<Ipv4Cidr> lan;                     // lan
  bool gateway = false;                          // gateway
  std::optional<int> keepalive;                  // keepalive: seconds; 25 for managed peers
  // dns: resolvers written into the device's own wg-quick config by `wwctl peer new/config`
  // (unmanaged only); never rendered for an agent.
  std::vector<Ipv4Address> dns;
  friend bool operator==(const PeerSpec&, const PeerSpec&) = default;
};

struct ForwardTarget {
  Ipv4Address address;               // to.address
  std::optional<uint16_t> port;      // to.port: remap, single-port forwards only
  std::optional<std::string> peer;   // to.peer: must agree with the address
  friend bool operator==(const ForwardTarget&, const ForwardTarget&) = default;
};

// Whether a forward may take a port the VPS's own services use (tcp/22, sshd): the DNAT
// answers before the local service, so forwarding it takes the service away.
enum class HostPort { kRefuse, kAllow };
std::string_view HostPortName(HostPort host_port);  // "refuse", "allow"

struct PortForwardSpec {
  std::string tunnel;                            // tunnel
  // Either protocol + ports, or template (then protocol is unset and ports empty).
  std::optional<Protocol> protocol;              // protocol
  std::vector<PortRange> ports;                  // ports
  std::optional<std::string> template_name;      // template
  ForwardTarget to;                              // to
  std::string description;                       // description
  HostPort host_port = HostPort::kRefuse;        // hostPort: allow takes tcp/22 from the VPS
  friend bool operator==(const PortForwardSpec&, const PortForwardSpec&) = default;
};

struct ServiceTemplateSpec {
  std::vector<PortSet> ports;  // ports: [{protocol, ports}]
  friend bool operator==(const ServiceTemplateSpec&, const ServiceTemplateSpec&) = default;
};

struct Tunnel {
  ObjectMeta metadata;
  TunnelSpec spec;
  Origin origin;
  friend bool operator==(const Tunnel&, const Tunnel&) = default;
};

struct Peer {
  ObjectMeta metadata;
  PeerSpec spec;
  Origin origin;
  bool IsManaged() const { return spec.agent.has_value(); }
  friend bool operator==(const Peer&, const Peer&) = default;
};

struct PortForward {
  ObjectMeta metadata;
  PortForwardSpec spec;
  Origin origin;
  friend bool operator==(const PortForward&, const PortForward&) = default;
};

struct ServiceTemplate {
  ObjectMeta metadata;
  ServiceTemplateSpec spec;
  Origin origin;
  friend bool operator==(const ServiceTemplate&, const ServiceTemplate&) = default;
};

// Every document of one revision, in file order. Built-in templates are not included
// (see templates.h); lookups by name are linear or via the caller's own index.
struct Fleet {
  std::vector<Tunnel> tunnels;
  std::vector<Peer> peers;
  std::vector<PortForward> forwards;
  std::vector<ServiceTemplate> templates;
  friend bool operator==(const Fleet&, const Fleet&) = default;
};

// Kind names as written in YAML and in messages.
inline constexpr std::string_view kKindTunnel = "Tunnel";
inline constexpr std::string_view kKindPeer = "Peer";
inline constexpr std::string_view kKindPortForward = "PortForward";
inline constexpr std::string_view kKindServiceTemplate = "ServiceTemplate";

// True for ^[a-z0-9][a-z0-9-]{0,62}$: safe as an argv element and in a file name.
bool IsValidName(std::string_view name);

}  // namespace ww
