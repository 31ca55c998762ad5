#pragma once
// RenderDeviceConfig: the wg-quick config of an unmanaged peer (a phone or a laptop), for
// `wwctl peer new` and `wwctl peer config`. Everything but the private key comes from the
// fleet's revision: the address (explicit, or allocated), DNS (Peer.spec.dns, rendered only
// here), the server's endpoint, MTU and key. Pure: the caller reads the key file and keeps
// the private key away from everything but the file it writes.

#include <string>
#include <vector>

#include "schema/ipam.h"
#include "schema/model.h"
#include "schema/result.h"

namespace ww {

inline constexpr int kDeviceKeepaliveSeconds = 25;  // a phone is nearly always behind NAT

struct DeviceConfigInput {
  WireguardKey private_key;
  WireguardKey server_public_key;     // the enrolled key of the tunnel's server agent
  Allocations allocations;            // used when the Peer pins no address
  std::vector<Ipv4Cidr> allowed_ips;  // empty: DefaultDeviceAllowedIps
};

// What the device sends into the tunnel by default: the tunnel network and every LAN behind
// the tunnel's other peers (split tunnel), sorted, without duplicates.
std::vector<Ipv4Cidr> DefaultDeviceAllowedIps(const Fleet& fleet, const Peer& device);

// REQUIRES: ValidateFleet(fleet) has no errors.
// kNotFound when `peer` is not a Peer of the fleet; kFailedPrecondition when it is a managed
// peer (its agent writes its own config) or has no address (not allocated yet).
//
//   [Interface]
//   PrivateKey = ...
//   Address = 10.77.0.5/32
//   DNS = 192.168.50.2, 1.1.1.1        (only with spec.dns)
//   MTU = 1420
//
//   [Peer]
//   PublicKey = <server>
//   Endpoint = vps.example.net:51820
//   AllowedIPs = 10.77.0.0/24, 192.168.50.0/24
//   PersistentKeepalive = 25           (spec.keepalive, else 25; left out for 0)
Result<std::string> RenderDeviceConfig(const Fleet& fleet, const std::string& peer, const DeviceConfigInput& input);

}  // namespace ww
