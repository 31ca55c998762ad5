// DiffFleets: resources added, changed field by field and removed, from real YAML through
// LoadFleet, and a property over random fleets (every path it names is in the field table).
#include "schema/fleet_diff.h"

#include <doctest/doctest.h>

#include <string>

#include "schema/loader.h"
#include "schema/resource_fields.h"
#include "tests/support/random_fleet.h"

using namespace ww;

namespace {

Fleet Load(const std::string& yaml, const std::string& path = "fleet.yaml") {
  LoadResult loaded = LoadFleet({SourceFile{path, yaml}});
  for (const Diagnostic& diagnostic : loaded.diagnostics) FAIL(FormatDiagnostic(diagnostic));
  return loaded.fleet;
}

const std::string kTunnel = R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: vps, labels: {site: ams}}
spec: {agent: vps, endpoint: vps.example.net, network: 10.77.0.0/24}
)yaml";

const std::string kPhone = R"yaml(---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: phone}
spec: {tunnel: vps, publicKey: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="}
)yaml";

const std::string kMinecraft = R"yaml(---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata: {name: minecraft}
spec: {tunnel: vps, protocol: tcp, ports: "25565", to: {address: 10.77.0.2}}
)yaml";

TEST_CASE("DiffFleets: the same resources in another file, order and layout are no change") {
  Fleet before = Load(kTunnel + kPhone + kMinecraft);
  // Defaults written out (listenPort, mtu, selfHeal) and a different document order.
  std::string explicit_tunnel = R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
  labels:
    site: ams
spec:
  agent: vps
  endpoint: vps.example.net
  network: 10.77.0.0/24
  listenPort: 51820
  mtu: 1420
  selfHeal: true
)yaml";
  Fleet after = Load(kMinecraft.substr(4) + "---\n" + explicit_tunnel + kPhone, "other/place.yaml");
  FleetDiff diff = DiffFleets(before, after);
  CHECK(diff.empty());
  CHECK_FALSE(diff.HasDestructive());
}

TEST_CASE("DiffFleets: added, changed field by field and removed, in kind and name order") {
  Fleet before = Load(kTunnel + kPhone + kMinecraft);
  std::string tunnel = R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: vps, labels: {owner: ada}}
spec: {agent: vps, endpoint: vps.example.net, network: 10.77.0.0/24, mtu: 1380, publicInterface: eth0}
)yaml";
  std::string forward = R"yaml(---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata: {name: minecraft}
spec: {tunnel: vps, protocol: both, ports: "25565-25566", to: {address: 10.77.0.2}, description: "Survival"}
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata: {name: bedrock}
spec: {tunnel: vps, protocol: udp, ports: "19132", to: {address: 10.77.0.2, port: 19133}}
)yaml";
  FleetDiff diff = DiffFleets(before, Load(tunnel + forward));

  REQUIRE(diff.changes.size() == 4);
  CHECK(diff.changes[0] == ResourceChange{ResourceChangeType::kChanged,
                                          "Tunnel",
                                          "vps",
                                          {{"metadata.labels.owner", std::nullopt, "ada"},
                                           {"metadata.labels.site", "ams", std::nullopt},
                                           {"spec.publicInterface", std::nullopt, "eth0"},
                                           {"spec.mtu", "1420", "1380"}},
                                          false});
  CHECK(diff.changes[1] == ResourceChange{ResourceChangeType::kRemoved,
                                          "Peer",
                                          "phone",
                                          {{"spec.tunnel", "vps", std::nullopt},
                                           {"spec.publicKey", "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", std::nullopt},
                                           {"spec.gateway", "false", std::nullopt}},
                                          true});
  CHECK(diff.changes[2] == ResourceChange{ResourceChangeType::kAdded,
                                          "PortForward",
                                          "bedrock",
                                          {{"spec.tunnel", std::nullopt, "vps"},
                                           {"spec.protocol", std::nullopt, "udp"},
                                           {"spec.ports", std::nullopt, "19132"},
                                           {"spec.to.address", std::nullopt, "10.77.0.2"},
                                           {"spec.to.port", std::nullopt, "19133"}},
                                          false});
  CHECK(diff.changes[3] == ResourceChange{ResourceChangeType::kChanged,
                                          "PortForward",
                                          "minecraft",
                                          {{"spec.protocol", "tcp", "both"},
                                           {"spec.ports", "25565", "25565-25566"},
                                           {"spec.description", std::nullopt, "Survival"}},
                                          false});
  CHECK(diff.HasDestructive());
}

TEST_CASE("DiffFleets: a peer's new key or a tunnel's new network replaces it, so it is destructive") {
  Fleet before = Load(kTunnel + kPhone);
  std::string phone = kPhone;
  phone.replace(phone.find("xTIBA5"), 6, "yTIBA5");
  FleetDiff key = DiffFleets(before, Load(kTunnel + phone));
  REQUIRE(key.changes.size() == 1);
  CHECK(key.changes[0].type == ResourceChangeType::kChanged);
  CHECK(key.changes[0].destructive);
  CHECK(key.changes[0].fields.size() == 1);
  CHECK(key.changes[0].fields[0].path == "spec.publicKey");

  std::string tunnel = kTunnel;
  tunnel.replace(tunnel.find("vps.example.net"), 15, "vps2.example.net");
  FleetDiff endpoint = DiffFleets(before, Load(tunnel + kPhone));
  REQUIRE(endpoint.changes.size() == 1);
  CHECK_FALSE(endpoint.HasDestructive());

  // From nothing (a reconciler's first revision) everything is added, nothing destructive.
  FleetDiff first = DiffFleets(Fleet{}, before);
  REQUIRE(first.changes.size() == 2);
  CHECK(first.changes[0].type == ResourceChangeType::kAdded);
  CHECK_FALSE(first.HasDestructive());
  CHECK(DiffFleets(before, Fleet{}).changes.size() == 2);
}

TEST_CASE("DiffFleets: hostPort: allow is a change of its own, shown as written") {
  Fleet before = Load(kTunnel + kMinecraft);
  Fleet after = Load(kTunnel + R"yaml(---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata: {name: minecraft}
spec: {tunnel: vps, protocol: tcp, ports: "25565", to: {address: 10.77.0.2}, hostPort: allow}
)yaml");
  FleetDiff diff = DiffFleets(before, after);
  REQUIRE(diff.changes.size() == 1);
  CHECK(diff.changes[0].fields == std::vector<FieldChange>{{"spec.hostPort", std::nullopt, "allow"}});
}

TEST_CASE("DiffFleets: a phone's dns is a change of its own") {
  Fleet before = Load(kTunnel + kPhone);
  Fleet after = Load(kTunnel + R"yaml(---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: phone}
spec: {tunnel: vps, publicKey: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", dns: [192.168.50.1, 192.0.2.53]}
)yaml");
  FleetDiff diff = DiffFleets(before, after);
  REQUIRE(diff.changes.size() == 1);
  CHECK(diff.changes[0].fields ==
        std::vector<FieldChange>{{"spec.dns", std::nullopt, "192.168.50.1, 192.0.2.53"}});
}

TEST_CASE("DiffFleets: every path it reports is a field of the kind's table; a fleet diffed with itself is empty") {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    Fleet fleet = test_support::RandomFleet({}, seed);
    CHECK(DiffFleets(fleet, fleet).empty());
    FleetDiff all = DiffFleets(Fleet{}, fleet);
    CHECK(all.changes.size() ==
          fleet.tunnels.size() + fleet.peers.size() + fleet.forwards.size() + fleet.templates.size());
    for (const ResourceChange& change : all.changes) {
      const KindInfo* kind = FindKind(change.kind);
      REQUIRE(kind != nullptr);
      CHECK_FALSE(change.fields.empty());
      for (const FieldChange& field : change.fields) {
        CAPTURE(field.path);
        std::string path = field.path.starts_with("metadata.labels.") ? "metadata.labels" : field.path;
        CHECK(FindField(*kind, path) != nullptr);
        CHECK_FALSE(field.before.has_value());
        CHECK(field.after.has_value());
      }
    }
  }
}

}  // namespace
