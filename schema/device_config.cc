#include "schema/device_config.h"

#include <algorithm>

#include "schema/render.h"

namespace ww {

namespace {

std::string JoinCidrs(const std::vector<Ipv4Cidr>& cidrs) {
  std::string out;
  for (const Ipv4Cidr& cidr : cidrs) out += (out.empty() ? "" : ", ") + cidr.ToString();
  return out;
}

}  // namespace

std::vector<Ipv4Cidr> DefaultDeviceAllowedIps(const Fleet& fleet, const Peer& device) {
  std::vector<Ipv4Cidr> allowed;
  for (const Tunnel& tunnel : fleet.tunnels) {
    if (tunnel.metadata.name == device.spec.tunnel) allowed.push_back(tunnel.spec.network.Canonical());
  }
  for (const Peer& peer : fleet.peers) {
    if (peer.spec.tunnel != device.spec.tunnel || peer.metadata.name == device.metadata.name) continue;
    for (const Ipv4Cidr& lan : peer.spec.lan) allowed.push_back(lan.Canonical());
  }
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  return allowed;
}

Result<std::string> RenderDeviceConfig(const Fleet& fleet, const std::string& peer, const DeviceConfigInput& input) {
  auto device = std::find_if(fleet.peers.begin(), fleet.peers.end(),
                             [&](const Peer& candidate) { return candidate.metadata.name == peer; });
  if (device == fleet.peers.end()) return Status::NotFound("no Peer named \"" + peer + "\" in the fleet");
  if (device->IsManaged()) {
    return Status::FailedPrecondition("Peer/" + peer + " is managed by agent \"" + *device->spec.agent +
                                      "\", which configures itself; device configs are for peers with spec.publicKey");
  }
  auto tunnel = std::find_if(fleet.tunnels.begin(), fleet.tunnels.end(),
                             [&](const Tunnel& candidate) { return candidate.metadata.name == device->spec.tunnel; });
  if (tunnel == fleet.tunnels.end()) {
    return Status::NotFound("Peer/" + peer + " names Tunnel \"" + device->spec.tunnel + "\", which does not exist");
  }
  std::optional<Ipv4Address> address = device->spec.address;
  for (const Allocation& allocation : input.allocations) {
    if (!address && allocation.tunnel == device->spec.tunnel && allocation.peer == peer) address = allocation.address;
  }
  if (!address) {
    return Status::FailedPrecondition("Peer/" + peer + " has no tunnel address yet: set spec.address, or apply the " +
                                      "fleet so the reconciler allocates one");
  }

  std::string out = "[Interface]\n";
  out += "PrivateKey = " + input.private_key.ToBase64() + "\n";
  out += "Address = " + address->ToString() + "/32\n";
  if (!device->spec.dns.empty()) {
    std::string servers;
    for (const Ipv4Address& server : device->spec.dns) servers += (servers.empty() ? "" : ", ") + server.ToString();
    out += "DNS = " + servers + "\n";
  }
  out += "MTU = " + std::to_string(tunnel->spec.mtu) + "\n";
  out += "\n[Peer]\n";
  out += "PublicKey = " + input.server_public_key.ToBase64() + "\n";
  out += "Endpoint = " + EndpointWithPort(tunnel->spec) + "\n";
  const std::vector<Ipv4Cidr> allowed =
      input.allowed_ips.empty() ? DefaultDeviceAllowedIps(fleet, *device) : input.allowed_ips;
  out += "AllowedIPs = " + JoinCidrs(allowed) + "\n";
  int keepalive = device->spec.keepalive.value_or(kDeviceKeepaliveSeconds);
  if (keepalive > 0) out += "PersistentKeepalive = " + std::to_string(keepalive) + "\n";
  return out;
}

}  // namespace ww
