#include "tests/support/random_fleet.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "schema/render.h"
#include "schema/templates.h"
#include "schema/validate.h"

namespace ww::test_support {

namespace {

// Uniform helpers over mt19937_64 written out by hand: std distributions may differ between
// standard libraries, and a seed must give the same fleet everywhere.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  // Uniform in [low, high].
  int64_t Between(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(engine_() % static_cast<uint64_t>(high - low + 1));
  }
  bool Chance(int percent) { return Between(0, 99) < percent; }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[static_cast<size_t>(Between(0, static_cast<int64_t>(items.size()) - 1))];
  }
  uint64_t Next() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

const std::vector<std::string_view> kCities = {"fra", "ams", "par", "lon", "nyc", "sfo", "sgp", "syd", "tor", "waw", "hel", "mad"};
const std::vector<std::string_view> kPlaces = {"home", "cabin", "office", "studio", "garage", "attic", "lab", "barn", "loft", "shed", "flat", "farm"};
const std::vector<std::string_view> kDevices = {"phone", "laptop", "tablet", "desktop", "watch", "router", "deck", "tv"};
const std::vector<std::string_view> kServices = {"factorio", "rust", "ark", "cs2", "jellyfin", "gitea", "mumble", "teamspeak",
                                                 "satisfactory", "palworld", "nextcloud", "grafana", "mqtt", "radio", "api", "vnc"};
const std::vector<std::string_view> kDescriptionHeads = {
    "Game server for the Friday crew", "Family photo library",  "Home automation dashboard",
    "Friends' survival world",         "Build cache for CI",    "Media server (4K transcoding off)",
    "Voice chat for the guild",        "Staging copy of the shop", "Backup target",
    "Self-hosted git forge",           "Weather station uplink", "Retro arcade cabinet"};
const std::vector<std::string_view> kDescriptionTails = {
    "ask Bob before restarting",  "season #3",          "map: Chernarus",      "owner: \"Alice\"",
    "50% of the CPU at peak",     "yes, really public", "- not a list item",   "port 8080 -> 80",
    "'quoted' on purpose",        "see wiki page 12",   "keep: true",          "back up nightly at 03:00"};
const std::vector<int> kKeepalives = {0, 10, 15, 25, 60};
const std::vector<std::string_view> kLabelKeys = {"env", "owner", "site", "tier", "game", "managed-by", "app.example.org/team"};
const std::vector<std::string_view> kLabelValues = {"prod", "lab", "alice", "bob", "1", "yes", "off", "null", "2024-05-01",
                                                    "0x1F", "true", "on call", "edge-eu", "- dash", "a: b", "#tag"};

std::string Padded(int64_t value, int width) {
  std::string digits = std::to_string(value);
  if (static_cast<int>(digits.size()) < width) digits.insert(0, static_cast<size_t>(width) - digits.size(), '0');
  return digits;
}

int Width(int count) { return static_cast<int>(std::to_string(std::max(count, 1)).size()); }

std::map<std::string, std::string> RandomLabels(Random& random, int percent) {
  std::map<std::string, std::string> labels;
  if (!random.Chance(percent)) return labels;
  int count = static_cast<int>(random.Between(1, 3));
  for (int i = 0; i < count; ++i) labels[std::string(random.Pick(kLabelKeys))] = std::string(random.Pick(kLabelValues));
  return labels;
}

// A key no other generated key shares: a tag byte and the index, then random bytes.
WireguardKey TaggedKey(Random& random, uint8_t tag, uint32_t index) {
  WireguardKey key;
  for (uint8_t& byte : key.bytes) byte = static_cast<uint8_t>(random.Next());
  key.bytes[0] = tag;
  for (int i = 0; i < 4; ++i) key.bytes[static_cast<size_t>(1 + i)] = static_cast<uint8_t>(index >> (8 * i));
  return key;
}

uint32_t PowerOfTwoAtLeast(uint32_t value) {
  uint32_t size = 1;
  while (size < value) size <<= 1;
  return size;
}

int PrefixForSize(uint32_t size) {
  int prefix = 32;
  while (size > 1) {
    size >>= 1;
    --prefix;
  }
  return prefix;
}

// Which (protocol, port) pairs of one tunnel are claimed by a forward.
class PortMap {
 public:
  PortMap() : used_(65536, 0) {}
  bool Free(Protocol protocol, PortRange range) const {
    uint8_t bits = Bits(protocol);
    for (uint32_t port = range.first; port <= range.last; ++port) {
      if ((used_[port] & bits) != 0) return false;
    }
    return true;
  }
  bool Free(const std::vector<PortSet>& sets) const {
    for (const PortSet& set : sets) {
      for (const PortRange& range : set.ranges) {
        if (!Free(set.protocol, range)) return false;
      }
    }
    return true;
  }
  void Claim(Protocol protocol, PortRange range) {
    uint8_t bits = Bits(protocol);
    for (uint32_t port = range.first; port <= range.last; ++port) used_[port] = static_cast<uint8_t>(used_[port] | bits);
  }
  void Claim(const std::vector<PortSet>& sets) {
    for (const PortSet& set : sets) {
      for (const PortRange& range : set.ranges) Claim(set.protocol, range);
    }
  }
  // A free run of `length` ports in 1024-65535 for `protocol`: a few random probes, then a
  // scan from a random start. nullopt when the tunnel has no such run left.
  std::optional<PortRange> FindFree(Random& random, Protocol protocol, uint32_t length) const {
    constexpr uint32_t kLow = 1024;
    constexpr uint32_t kHigh = 65535;
    uint32_t last_start = kHigh - length + 1;
    auto range_at = [length](uint32_t start) {
      return PortRange{static_cast<uint16_t>(start), static_cast<uint16_t>(start + length - 1)};
    };
    for (int attempt = 0; attempt < 16; ++attempt) {
      PortRange range = range_at(static_cast<uint32_t>(random.Between(kLow, last_start)));
      if (Free(protocol, range)) return range;
    }
    uint32_t span = last_start - kLow + 1;
    uint32_t offset = static_cast<uint32_t>(random.Between(0, span - 1));
    for (uint32_t step = 0; step < span; ++step) {
      PortRange range = range_at(kLow + (offset + step) % span);
      if (Free(protocol, range)) return range;
    }
    return std::nullopt;
  }

 private:
  static uint8_t Bits(Protocol protocol) {
    switch (protocol) {
      case Protocol::kTcp: return 1;
      case Protocol::kUdp: return 2;
      case Protocol::kBoth: return 3;
    }
    return 3;
  }
  std::vector<uint8_t> used_;
};

// Carves LANs from 192.168.0.0/16 (as /24s) and 172.16.0.0/12 (as /24 to /28), each block
// handed out once, so no two LANs of the fleet overlap and none touches 10.0.0.0/8.
class LanPool {
 public:
  std::optional<Ipv4Cidr> Next(Random& random) {
    if (next_home_ < 256 && random.Chance(10)) {
      return Ipv4Cidr{Ipv4Address{kHomeBase + (next_home_++ << 8)}, 24};
    }
    int prefix = random.Chance(60) ? 24 : static_cast<int>(random.Between(25, 28));
    uint32_t size = uint32_t{1} << (32 - prefix);
    uint32_t start = (next_private_ + size - 1) & ~(size - 1);
    if (start + size > kPrivateSize) return std::nullopt;
    next_private_ = start + size;
    return Ipv4Cidr{Ipv4Address{kPrivateBase + start}, prefix};
  }

 private:
  static constexpr uint32_t kHomeBase = 0xC0A80000;     // 192.168.0.0
  static constexpr uint32_t kPrivateBase = 0xAC100000;  // 172.16.0.0
  static constexpr uint32_t kPrivateSize = uint32_t{1} << 20;
  uint32_t next_home_ = 0;
  uint32_t next_private_ = 0;
};

struct TunnelPlan {
  int server = 0;       // index into the server agents
  int count = 0;        // peers on the tunnel
  uint32_t size = 0;    // addresses in its network
  std::vector<bool> used_offsets;  // pinned peer addresses (offset 1 is the server's)
  std::vector<size_t> targets;     // peers a forward can point at (pinned address or LAN)
  PortMap ports;
};

struct PeerSlot {
  std::optional<int> client;  // client agent index; nullopt = unmanaged device
  int tunnel = 0;
};

void Fail(const char* message) {
  std::fprintf(stderr, "RandomFleet: %s\n", message);
  std::abort();
}

std::vector<ServiceTemplate> RandomTemplates(Random& random, int count) {
  std::vector<ServiceTemplate> templates;
  int width = Width(count);
  for (int i = 0; i < count; ++i) {
    ServiceTemplate service;
    service.metadata.name = "custom-" + Padded(i, width) + "-" + std::string(random.Pick(kServices));
    service.metadata.labels = RandomLabels(random, 30);
    PortMap taken;
    int sets = static_cast<int>(random.Between(1, 3));
    for (int s = 0; s < sets; ++s) {
      Protocol protocol = static_cast<Protocol>(random.Between(0, 2));
      PortSet set{protocol, {}};
      int ranges = static_cast<int>(random.Between(1, 2));
      for (int r = 0; r < ranges; ++r) {
        uint32_t length = random.Chance(50) ? 1 : static_cast<uint32_t>(random.Between(2, 8));
        std::optional<PortRange> range = taken.FindFree(random, protocol, length);
        if (!range) continue;
        taken.Claim(protocol, *range);
        set.ranges.push_back(*range);
      }
      std::sort(set.ranges.begin(), set.ranges.end());
      if (!set.ranges.empty()) service.spec.ports.push_back(std::move(set));
    }
    templates.push_back(std::move(service));
  }
  return templates;
}

}  // namespace

Fleet RandomFleet(const RandomFleetOptions& options, uint64_t seed) {
  Random random(seed);
  Fleet fleet;
  if (options.agents < 1) Fail("options.agents must be at least 1");
  if (options.tunnels < 1 && (options.peers > 0 || options.forwards > 0)) Fail("peers and forwards need a tunnel");

  fleet.templates = RandomTemplates(random, std::max(options.templates, 0));
  if (options.tunnels < 1) return fleet;

  // Agents: servers run the tunnels, clients join them as managed peers.
  int servers = options.server_agents > 0 ? options.server_agents : std::max(1, options.agents / 10);
  servers = std::min({servers, options.tunnels, options.agents});
  int clients = options.agents - servers;
  std::vector<std::string> server_names;
  std::vector<std::string> client_names;
  int agent_width = Width(options.agents);
  for (int s = 0; s < servers; ++s) server_names.push_back("vps-" + Padded(s, agent_width));
  for (int c = 0; c < clients; ++c) {
    client_names.push_back(std::string(random.Pick(kPlaces)) + "-" + Padded(c, agent_width));
  }

  std::vector<TunnelPlan> plans(static_cast<size_t>(options.tunnels));
  for (int t = 0; t < options.tunnels; ++t) plans[static_cast<size_t>(t)].server = t % servers;

  // Memberships: every client once, then extra tunnels for some, then unmanaged devices.
  int peers = std::max(options.peers, 0);
  int managed = options.managed_peers > 0 ? options.managed_peers : clients + peers * 15 / 100;
  managed = std::min(managed, peers);
  std::vector<PeerSlot> slots;
  std::vector<std::vector<int>> joined(static_cast<size_t>(clients));
  auto join = [&](int client, int tunnel) {
    joined[static_cast<size_t>(client)].push_back(tunnel);
    slots.push_back({client, tunnel});
  };
  for (int c = 0; c < clients && static_cast<int>(slots.size()) < managed; ++c) {
    join(c, static_cast<int>(random.Between(0, options.tunnels - 1)));
  }
  for (int attempt = 0; static_cast<int>(slots.size()) < managed && attempt < managed * 8 && clients > 0; ++attempt) {
    int client = static_cast<int>(random.Between(0, clients - 1));
    int tunnel = static_cast<int>(random.Between(0, options.tunnels - 1));
    const std::vector<int>& tunnels_of = joined[static_cast<size_t>(client)];
    if (std::find(tunnels_of.begin(), tunnels_of.end(), tunnel) != tunnels_of.end()) continue;
    join(client, tunnel);
  }
  while (static_cast<int>(slots.size()) < peers) {
    slots.push_back({std::nullopt, static_cast<int>(random.Between(0, options.tunnels - 1))});
  }
  // Interleave managed and unmanaged peers as people would add them over time.
  for (size_t i = slots.size(); i > 1; --i) {
    std::swap(slots[i - 1], slots[static_cast<size_t>(random.Between(0, static_cast<int64_t>(i) - 1))]);
  }
  for (const PeerSlot& slot : slots) ++plans[static_cast<size_t>(slot.tunnel)].count;

  // Tunnel networks: aligned blocks from 10.0.0.0/8, sized for their peers with room to grow.
  constexpr uint32_t kTunnelBase = 0x0A000000;  // 10.0.0.0
  uint32_t cursor = 0;
  int tunnel_width = Width(options.tunnels);
  std::vector<int> tunnels_on_server(static_cast<size_t>(servers), 0);
  for (int t = 0; t < options.tunnels; ++t) {
    TunnelPlan& plan = plans[static_cast<size_t>(t)];
    uint32_t size = PowerOfTwoAtLeast(static_cast<uint32_t>(plan.count) + 4);
    size = std::max<uint32_t>(size, 32) << random.Between(0, 2);
    cursor = (cursor + size - 1) & ~(size - 1);
    if (cursor + size > (uint32_t{1} << 24)) Fail("tunnel networks do not fit in 10.0.0.0/8");
    plan.size = size;
    plan.used_offsets.assign(size, false);
    plan.used_offsets[0] = plan.used_offsets[1] = plan.used_offsets[size - 1] = true;

    int index_on_server = tunnels_on_server[static_cast<size_t>(plan.server)]++;
    const std::string& server = server_names[static_cast<size_t>(plan.server)];
    Tunnel tunnel;
    tunnel.metadata.name = "t" + Padded(t, tunnel_width) + "-" + std::string(random.Pick(kCities));
    tunnel.metadata.labels = RandomLabels(random, 40);
    tunnel.spec.agent = server;
    tunnel.spec.interface = "wg" + std::to_string(index_on_server);
    tunnel.spec.listen_port = static_cast<uint16_t>(51820 + index_on_server);
    tunnel.spec.network = Ipv4Cidr{Ipv4Address{kTunnelBase + cursor}, PrefixForSize(size)};
    bool hostname = plan.server % 2 == 0;
    std::string host = hostname ? server + ".example.net" : "203.0.113." + std::to_string(1 + plan.server % 254);
    bool with_port = index_on_server > 0 || random.Chance(30);
    tunnel.spec.endpoint = with_port ? host + ":" + std::to_string(tunnel.spec.listen_port) : host;
    if (random.Chance(50)) tunnel.spec.public_interface = random.Chance(50) ? "eth0" : "ens3";
    if (random.Chance(20)) tunnel.spec.mtu = 1380;
    if (random.Chance(10)) tunnel.spec.self_heal = false;
    fleet.tunnels.push_back(std::move(tunnel));
    cursor += size;
  }

  // Peers.
  LanPool lans;
  int peer_width = Width(peers);
  std::vector<int> interfaces_of_client(static_cast<size_t>(clients), 0);
  for (size_t j = 0; j < slots.size(); ++j) {
    const PeerSlot& slot = slots[j];
    TunnelPlan& plan = plans[static_cast<size_t>(slot.tunnel)];
    const Tunnel& tunnel = fleet.tunnels[static_cast<size_t>(slot.tunnel)];
    Peer peer;
    peer.spec.tunnel = tunnel.metadata.name;
    bool first_interface = true;
    if (slot.client) {
      const std::string& client = client_names[static_cast<size_t>(*slot.client)];
      int interface_index = interfaces_of_client[static_cast<size_t>(*slot.client)]++;
      first_interface = interface_index == 0;
      peer.metadata.name = client + "-" + tunnel.metadata.name;
      peer.spec.agent = client;
      peer.spec.interface = "wg" + std::to_string(interface_index);
      if (random.Chance(20)) peer.spec.keepalive = random.Pick(kKeepalives);
    } else {
      peer.metadata.name = std::string(random.Pick(kDevices)) + "-" + Padded(static_cast<int64_t>(j), peer_width);
      peer.spec.public_key = TaggedKey(random, 0xA5, static_cast<uint32_t>(j));
      if (random.Chance(40)) peer.spec.keepalive = 25;
    }
    peer.metadata.labels = RandomLabels(random, 15);
    // The first peer of a tunnel always pins its address, so every tunnel has a target.
    if (plan.targets.empty() || random.Chance(55)) {
      uint32_t offset = 0;
      do {
        offset = static_cast<uint32_t>(random.Between(2, plan.size - 2));
      } while (plan.used_offsets[offset]);
      plan.used_offsets[offset] = true;
      peer.spec.address = Ipv4Address{tunnel.spec.network.address.value + offset};
    }
    int lan_count = 0;
    if (slot.client) {
      lan_count = random.Chance(75) ? (random.Chance(20) ? 2 : 1) : 0;
    } else {
      lan_count = random.Chance(4) ? 1 : 0;
    }
    for (int l = 0; l < lan_count; ++l) {
      if (std::optional<Ipv4Cidr> lan = lans.Next(random)) peer.spec.lan.push_back(*lan);
    }
    if (slot.client && first_interface && !peer.spec.lan.empty() && random.Chance(50)) peer.spec.gateway = true;
    if (peer.spec.address || !peer.spec.lan.empty()) plan.targets.push_back(fleet.peers.size());
    fleet.peers.push_back(std::move(peer));
  }

  // Forwards, over the tunnels that have somewhere to send traffic. None takes a WireGuard
  // listen port of its server (validation refuses that).
  for (TunnelPlan& plan : plans) {
    int on_server = tunnels_on_server[static_cast<size_t>(plan.server)];
    plan.ports.Claim(Protocol::kUdp, PortRange{51820, static_cast<uint16_t>(51820 + on_server - 1)});
  }
  std::vector<const ServiceTemplate*> templates;
  for (const ServiceTemplate& builtin : BuiltinTemplates()) templates.push_back(&builtin);
  for (const ServiceTemplate& user : fleet.templates) {
    if (!user.spec.ports.empty()) templates.push_back(&user);
  }
  std::vector<int> open_tunnels;
  for (int t = 0; t < options.tunnels; ++t) {
    if (!plans[static_cast<size_t>(t)].targets.empty()) open_tunnels.push_back(t);
  }
  int forward_width = Width(options.forwards);
  for (int f = 0; f < options.forwards && !open_tunnels.empty();) {
    size_t open_index = static_cast<size_t>(random.Between(0, static_cast<int64_t>(open_tunnels.size()) - 1));
    int t = open_tunnels[open_index];
    TunnelPlan& plan = plans[static_cast<size_t>(t)];
    PortForward forward;
    forward.spec.tunnel = fleet.tunnels[static_cast<size_t>(t)].metadata.name;
    std::string word;

    int kind = static_cast<int>(random.Between(0, 99));
    if (kind < 15) {
      const ServiceTemplate* service = templates[static_cast<size_t>(random.Between(0, static_cast<int64_t>(templates.size()) - 1))];
      if (plan.ports.Free(service->spec.ports)) {
        plan.ports.Claim(service->spec.ports);
        forward.spec.template_name = service->metadata.name;
        // The ssh template takes the VPS's own tcp/22, which needs the opt-in.
        for (const PortSet& set : service->spec.ports) {
          for (const PortRange& range : set.ranges) {
            if (set.protocol != Protocol::kUdp && range.first <= kHostSshPort && kHostSshPort <= range.last) {
              forward.spec.host_port = HostPort::kAllow;
            }
          }
        }
        word = service->metadata.name;
      }
    }
    if (!forward.spec.template_name) {
      int protocol_roll = static_cast<int>(random.Between(0, 99));
      Protocol protocol = protocol_roll < 50 ? Protocol::kTcp : protocol_roll < 85 ? Protocol::kUdp : Protocol::kBoth;
      int items = kind < 85 ? 1 : static_cast<int>(random.Between(2, 3));
      bool single = kind < 60;
      for (int item = 0; item < items; ++item) {
        uint32_t length = single || (items > 1 && random.Chance(50)) ? 1 : static_cast<uint32_t>(random.Between(2, 32));
        std::optional<PortRange> range = plan.ports.FindFree(random, protocol, length);
        if (!range) break;
        plan.ports.Claim(protocol, *range);
        forward.spec.ports.push_back(*range);
      }
      if (forward.spec.ports.empty()) {
        // This tunnel is full for this shape; try the forward elsewhere.
        open_tunnels.erase(open_tunnels.begin() + static_cast<std::ptrdiff_t>(open_index));
        continue;
      }
      std::sort(forward.spec.ports.begin(), forward.spec.ports.end());
      forward.spec.protocol = protocol;
      if (forward.spec.ports.size() == 1 && forward.spec.ports[0].IsSingle() && random.Chance(35)) {
        forward.spec.to.port = static_cast<uint16_t>(random.Between(1, 65535));
      }
      word = std::string(random.Pick(kServices));
    }

    // Forwards into a LAN whose replies may not come back (a non-gateway or unmanaged
    // peer's LAN) draw a validation warning; keep them rare, as in a fleet people fixed.
    const Peer* target = nullptr;
    bool into_lan = false;
    for (int attempt = 0; attempt < 4; ++attempt) {
      target = &fleet.peers[random.Pick(plan.targets)];
      into_lan = !target->spec.address || (!target->spec.lan.empty() && random.Chance(target->spec.gateway ? 60 : 10));
      if (!into_lan || (target->IsManaged() && target->spec.gateway)) break;
    }
    if (!into_lan) {
      forward.spec.to.address = *target->spec.address;
    } else {
      const Ipv4Cidr& lan = random.Pick(target->spec.lan);
      uint32_t hosts = ~lan.Mask() - 1;  // excludes network and broadcast
      forward.spec.to.address = Ipv4Address{lan.address.value + 1 + static_cast<uint32_t>(random.Between(0, hosts - 1))};
    }
    if (random.Chance(12)) forward.spec.to.peer = target->metadata.name;
    forward.metadata.name = "f" + Padded(f, forward_width) + "-" + word;
    forward.metadata.labels = RandomLabels(random, 6);
    if (random.Chance(20)) {
      forward.spec.description = std::string(random.Pick(kDescriptionHeads));
      if (random.Chance(30)) forward.spec.description += "; " + std::string(random.Pick(kDescriptionTails));
    }
    fleet.forwards.push_back(std::move(forward));
    ++f;
  }
  return fleet;
}

std::map<std::string, WireguardKey> RandomAgentKeys(const Fleet& fleet, uint64_t seed) {
  Random random(seed ^ 0x9E3779B97F4A7C15ull);
  std::map<std::string, WireguardKey> keys;
  uint32_t index = 0;
  for (const std::string& agent : FleetAgents(fleet)) keys[agent] = TaggedKey(random, 0x5A, index++);
  return keys;
}

}  // namespace ww::test_support
