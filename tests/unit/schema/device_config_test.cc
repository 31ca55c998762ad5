// RenderDeviceConfig: the wg-quick config of a phone or laptop (issue 9), exactly, from the
// fleet, the server's key and the allocations; the default AllowedIPs; refusals.
#include <doctest/doctest.h>

#include <string>

#include "schema/device_config.h"
#include "schema/loader.h"
#include "tests/support/test_values.h"

namespace ww {
namespace {

using test_support::Address;
using test_support::Cidr;
using test_support::Key;

constexpr const char* kFleet = R"(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: vps}
spec:
  agent: vps
  endpoint: vpn.example.net
  listenPort: 51999
  network: 10.77.0.0/24
  mtu: 1380
---
apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: other}
spec:
  agent: vps
  endpoint: 203.0.113.7:51000
  network: 10.78.0.0/24
  interface: wg1
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: home}
spec:
  tunnel: vps
  agent: home
  lan: [192.168.50.0/24, 192.168.60.0/24]
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: office}
spec:
  tunnel: other
  agent: office
  lan: [172.16.0.0/16]
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: phone}
spec:
  tunnel: vps
  publicKey: AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
  address: 10.77.0.5
  dns: [192.168.50.2, 1.1.1.1]
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: laptop}
spec:
  tunnel: other
  publicKey: AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=
  keepalive: 0
)";

Fleet LoadOrDie() {
  LoadResult loaded = LoadFleet({{"fleet.yaml", kFleet}});
  REQUIRE(loaded.diagnostics.empty());
  return loaded.fleet;
}

TEST_CASE("RenderDeviceConfig writes every wg-quick field from the revision") {
  Fleet fleet = LoadOrDie();
  DeviceConfigInput input{Key(9), Key(1), {}, {}};
  Result<std::string> config = RenderDeviceConfig(fleet, "phone", input);
  REQUIRE_MESSAGE(config.ok(), config.status().ToString());
  CHECK(*config ==
        "[Interface]\n"
        "PrivateKey = " + Key(9).ToBase64() + "\n"
        "Address = 10.77.0.5/32\n"
        "DNS = 192.168.50.2, 1.1.1.1\n"
        "MTU = 1380\n"
        "\n"
        "[Peer]\n"
        "PublicKey = " + Key(1).ToBase64() + "\n"
        "Endpoint = vpn.example.net:51999\n"
        "AllowedIPs = 10.77.0.0/24, 192.168.50.0/24, 192.168.60.0/24\n"
        "PersistentKeepalive = 25\n");
}

TEST_CASE("RenderDeviceConfig: an allocated address, no DNS, keepalive 0 and chosen AllowedIPs") {
  Fleet fleet = LoadOrDie();
  DeviceConfigInput input{Key(9), Key(1), {{"other", "laptop", Address("10.78.0.7")}}, {Cidr("0.0.0.0/0")}};
  Result<std::string> config = RenderDeviceConfig(fleet, "laptop", input);
  REQUIRE_MESSAGE(config.ok(), config.status().ToString());
  CHECK(*config ==
        "[Interface]\n"
        "PrivateKey = " + Key(9).ToBase64() + "\n"
        "Address = 10.78.0.7/32\n"
        "MTU = 1420\n"
        "\n"
        "[Peer]\n"
        "PublicKey = " + Key(1).ToBase64() + "\n"
        "Endpoint = 203.0.113.7:51000\n"
        "AllowedIPs = 0.0.0.0/0\n");
  // Only the tunnel's own network and LANs by default; another tunnel's office LAN is not there.
  CHECK(DefaultDeviceAllowedIps(fleet, fleet.peers[3]) == std::vector<Ipv4Cidr>{Cidr("10.78.0.0/24"), Cidr("172.16.0.0/16")});
}

TEST_CASE("RenderDeviceConfig refuses unknown, managed and unaddressed peers") {
  Fleet fleet = LoadOrDie();
  DeviceConfigInput input{Key(9), Key(1), {}, {}};
  CHECK(RenderDeviceConfig(fleet, "tablet", input).status() == Status::NotFound("no Peer named \"tablet\" in the fleet"));
  Result<std::string> managed = RenderDeviceConfig(fleet, "home", input);
  CHECK(managed.status().code() == StatusCode::kFailedPrecondition);
  CHECK(managed.status().message().find("managed by agent \"home\"") != std::string::npos);
  Result<std::string> unaddressed = RenderDeviceConfig(fleet, "laptop", input);
  CHECK(unaddressed.status().code() == StatusCode::kFailedPrecondition);
  CHECK(unaddressed.status().message().find("has no tunnel address yet") != std::string::npos);
}

}  // namespace
}  // namespace ww
