#include "schema/resource_fields.h"

#include <algorithm>
#include <string>

namespace ww {

namespace {

constexpr std::string_view kNamePattern = "^[a-z0-9][a-z0-9-]{0,62}$";
constexpr std::string_view kCidrPattern = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$";
constexpr std::string_view kAddressPattern = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$";
constexpr std::string_view kKeyPattern = "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$";
constexpr std::string_view kPortsPattern = "^[0-9]{1,5}(-[0-9]{1,5})?(,[0-9]{1,5}(-[0-9]{1,5})?)*$";
constexpr std::string_view kInterfacePattern = "^[a-zA-Z0-9_][a-zA-Z0-9_.=+-]{0,14}$";

std::vector<FieldInfo> CommonFields(std::string_view kind) {
  return {
      {"apiVersion", FieldType::kString, Required::kYes, "Always wirewarp.dev/v1.", "", {"wirewarp.dev/v1"}},
      {"kind", FieldType::kString, Required::kYes, "The resource kind.", "", {kind}},
      {"metadata", FieldType::kObject, Required::kYes, "Name and labels."},
      {"metadata.name", FieldType::kString, Required::kYes,
       "Unique per kind: lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters.",
       "", {}, kNamePattern},
      {"metadata.labels", FieldType::kStringMap, Required::kNo, "Free-form string labels."},
      {"spec", FieldType::kObject, Required::kYes, "The resource's desired state."},
  };
}

std::vector<KindInfo> BuildKinds() {
  std::vector<KindInfo> kinds;

  KindInfo tunnel{"Tunnel", "A WireGuard interface on a VPS that clients dial: the tunnel server.", CommonFields("Tunnel")};
  tunnel.fields.insert(tunnel.fields.end(), {
      {"spec.agent", FieldType::kString, Required::kYes, "Name of the enrolled server agent (the VPS) that runs this tunnel.", "", {}, kNamePattern},
      {"spec.endpoint", FieldType::kString, Required::kYes, "Host or host:port that clients dial (the port defaults to listenPort)."},
      {"spec.listenPort", FieldType::kInteger, Required::kNo, "UDP port the server listens on.", "51820", {}, "", 1, 65535},
      {"spec.interface", FieldType::kString, Required::kNo, "WireGuard interface name on the server.", "wg0", {}, kInterfacePattern},
      {"spec.network", FieldType::kString, Required::kYes, "IPv4 tunnel network in CIDR form; the server takes the first host address.", "", {}, kCidrPattern},
      {"spec.publicInterface", FieldType::kString, Required::kNo, "The server's internet-facing interface; when absent, rules match on local destination addresses instead.", "", {}, kInterfacePattern},
      {"spec.mtu", FieldType::kInteger, Required::kNo, "MTU of the tunnel interfaces.", "1420", {}, "", 1280, 9000},
      {"spec.selfHeal", FieldType::kBoolean, Required::kNo, "Repair drift on the hosts; when false, drift is only reported.", "true"},
  });
  kinds.push_back(std::move(tunnel));

  KindInfo peer{"Peer", "A member of a tunnel: a managed gateway/client agent, or an unmanaged device with a public key.", CommonFields("Peer")};
  peer.fields.insert(peer.fields.end(), {
      {"spec.tunnel", FieldType::kString, Required::kYes, "The Tunnel this peer joins.", "", {}, kNamePattern},
      {"spec.agent", FieldType::kString, Required::kNo, "Managed peer: the enrolled client agent's name. Exactly one of agent and publicKey.", "", {}, kNamePattern},
      {"spec.publicKey", FieldType::kString, Required::kNo, "Unmanaged peer: its WireGuard public key (44 characters of base64). Exactly one of agent and publicKey.", "", {}, kKeyPattern},
      {"spec.address", FieldType::kString, Required::kNo, "Tunnel address; allocated from the tunnel network and kept stable when absent.", "", {}, kAddressPattern},
      {"spec.interface", FieldType::kString, Required::kNo, "WireGuard interface name on the client agent (managed peers only).", "wg0", {}, kInterfacePattern},
      {"spec.lan", FieldType::kStringList, Required::kNo, "IPv4 networks behind this peer, routed through the tunnel.", "", {}, kCidrPattern},
      {"spec.gateway", FieldType::kBoolean, Required::kNo, "Route the LAN's internet traffic out through the tunnel server.", "false"},
      {"spec.keepalive", FieldType::kInteger, Required::kNo, "Persistent keepalive in seconds (0 = off); 25 for managed peers.", "", {}, "", 0, 65535},
      {"spec.dns", FieldType::kStringList, Required::kNo, "Unmanaged peer: DNS servers (IPv4 addresses, at most 8) for the device's own config made by wwctl peer new/config; never sent to an agent.", "", {}, kAddressPattern},
  });
  kinds.push_back(std::move(peer));

  KindInfo forward{"PortForward", "Public ports on the tunnel server forwarded through the tunnel to an address behind a peer.", CommonFields("PortForward")};
  forward.fields.insert(forward.fields.end(), {
      {"spec.tunnel", FieldType::kString, Required::kYes, "The Tunnel whose server receives the traffic.", "", {}, kNamePattern},
      {"spec.protocol", FieldType::kString, Required::kNo, "tcp, udp or both; required with ports.", "", {"tcp", "udp", "both"}},
      {"spec.ports", FieldType::kString, Required::kNo, "Ports: \"25565\", \"2302-2305\" or \"2302-2305,27016\". Either protocol+ports or template.", "", {}, kPortsPattern},
      {"spec.template", FieldType::kString, Required::kNo, "A ServiceTemplate (built-in or user) giving the ports. Either protocol+ports or template.", "", {}, kNamePattern},
      {"spec.to", FieldType::kObject, Required::kYes, "Where the traffic goes."},
      {"spec.to.address", FieldType::kString, Required::kYes, "A peer's tunnel address or an address inside a peer's lan.", "", {}, kAddressPattern},
      {"spec.to.port", FieldType::kInteger, Required::kNo, "Destination port when it differs (single-port forwards only).", "", {}, "", 1, 65535},
      {"spec.to.peer", FieldType::kString, Required::kNo, "The peer the address is behind; must agree with the address.", "", {}, kNamePattern},
      {"spec.description", FieldType::kString, Required::kNo, "Free text shown in status."},
      {"spec.hostPort", FieldType::kString, Required::kNo, "allow: the forward may take a port the VPS's own services use (tcp/22, its sshd), which it then no longer answers on. The tunnel's listen port and the control server's port are never allowed.", "refuse", {"refuse", "allow"}},
  });
  kinds.push_back(std::move(forward));

  KindInfo service{"ServiceTemplate", "A named set of ports that forwards can use by name.", CommonFields("ServiceTemplate")};
  service.fields.insert(service.fields.end(), {
      {"spec.ports", FieldType::kObjectList, Required::kYes, "The port sets."},
      {"spec.ports[].protocol", FieldType::kString, Required::kYes, "tcp, udp or both.", "", {"tcp", "udp", "both"}},
      {"spec.ports[].ports", FieldType::kString, Required::kYes, "Ports: \"25565\", \"2302-2305\" or \"2302-2305,27016\".", "", {}, kPortsPattern},
  });
  kinds.push_back(std::move(service));
  return kinds;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      char ca = static_cast<char>(std::tolower(static_cast<unsigned char>(a[i - 1])));
      char cb = static_cast<char>(std::tolower(static_cast<unsigned char>(b[j - 1])));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (ca == cb ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

const std::vector<KindInfo>& ResourceKinds() {
  static const std::vector<KindInfo> kinds = BuildKinds();
  return kinds;
}

const KindInfo* FindKind(std::string_view kind) {
  for (const KindInfo& info : ResourceKinds()) {
    if (info.kind == kind) return &info;
  }
  return nullptr;
}

const FieldInfo* FindField(const KindInfo& kind, std::string_view path) {
  for (const FieldInfo& field : kind.fields) {
    if (field.path == path) return &field;
  }
  return nullptr;
}

std::string_view ClosestName(std::string_view unknown, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = std::max<size_t>(2, unknown.size() / 3) + 1;
  for (std::string_view candidate : candidates) {
    size_t distance = EditDistance(unknown, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

}  // namespace ww
