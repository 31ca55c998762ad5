#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "schema/ipam.h"
#include "schema/render.h"
#include "tests/support/random_fleet.h"
#include "tests/support/test_values.h"

using namespace ww;

namespace {

// Keys made with `wg genkey | wg pubkey`. In byte order: laptop < phone < vps < home-gw <
// nas < hub, which is not the name order, so peer sorting shows.
const char* const kVpsKey = "gb4nJ50qi9IbSLMOYiIlnZWbUAGUhiTBhMHSB7xJnm0=";
const char* const kHomeGwKey = "pu+NjGY29fGQ1rg9teQjSi+6SjRd+XNYQ37nUzomD0g=";
const char* const kNasKey = "28VQfMZbFCFfYLFmhDZhKzj8I1o5lSpri/aA/t2Qfgc=";
const char* const kPhoneKey = "SR74v1A7ioseVhnxXImKZozrLutpYESMJJF1Du0Z4X4=";
const char* const kHubKey = "3XuJmXQaOBpgr9IfPzJiN//34mnna/DCNp4odqcGimI=";
const char* const kLaptopKey = "Qi/cV1ANWngrYXoSx2a/Oggetwi2RR1FAVcl0l/eH2o=";

WireguardKey Key(const char* text) { return *WireguardKey::Parse(text); }
using test_support::Address;
using test_support::Cidr;

Tunnel MakeTunnel(const std::string& name, const std::string& agent, const std::string& endpoint, const char* network,
                  const std::string& interface = "wg0") {
  Tunnel tunnel;
  tunnel.metadata.name = name;
  tunnel.spec.agent = agent;
  tunnel.spec.endpoint = endpoint;
  tunnel.spec.interface = interface;
  tunnel.spec.network = Cidr(network);
  return tunnel;
}

Peer MakePeer(const std::string& name, const std::string& tunnel, const std::string& agent,
              const std::string& interface = "wg0") {
  Peer peer;
  peer.metadata.name = name;
  peer.spec.tunnel = tunnel;
  peer.spec.agent = agent;
  peer.spec.interface = interface;
  return peer;
}

PortForward MakeForward(const std::string& name, const std::string& tunnel, Protocol protocol, const char* ports,
                        const char* address) {
  PortForward forward;
  forward.metadata.name = name;
  forward.spec.tunnel = tunnel;
  forward.spec.protocol = protocol;
  forward.spec.ports = *ParsePortList(ports);
  forward.spec.to.address = Address(address);
  return forward;
}

// One VPS tunnel with a gateway peer, a non-gateway peer with two LANs and a phone; five
// forwards in shuffled document order covering a template, a range, "both" and a remap.
Fleet HomeFleet() {
  Fleet fleet;
  fleet.tunnels.push_back(MakeTunnel("home", "vps", "vps.example.net", "10.77.0.0/24"));

  Peer gw = MakePeer("gw", "home", "home-gw");
  gw.spec.lan = {Cidr("192.168.50.0/24")};
  gw.spec.gateway = true;
  Peer nas = MakePeer("nas", "home", "nas", "wg-home");
  nas.spec.lan = {Cidr("192.168.60.0/24"), Cidr("10.10.0.0/16")};
  nas.spec.keepalive = 15;
  Peer phone;
  phone.metadata.name = "phone";
  phone.spec.tunnel = "home";
  phone.spec.public_key = Key(kPhoneKey);
  phone.spec.address = Address("10.77.0.50");
  fleet.peers = {gw, nas, phone};

  PortForward web = MakeForward("web", "home", Protocol::kTcp, "8080", "192.168.60.10");
  web.spec.to.port = 80;
  PortForward dayz;
  dayz.metadata.name = "dayz";
  dayz.spec.tunnel = "home";
  dayz.spec.template_name = "dayz";
  dayz.spec.to.address = Address("192.168.50.20");
  fleet.forwards = {
      web,
      MakeForward("minecraft", "home", Protocol::kTcp, "25565", "10.77.0.3"),
      MakeForward("voice", "home", Protocol::kBoth, "9987", "192.168.60.11"),
      dayz,
      MakeForward("range", "home", Protocol::kUdp, "27015-27030", "192.168.50.30"),
  };
  return fleet;
}

std::map<std::string, WireguardKey> AllKeys() {
  return {{"vps", Key(kVpsKey)},   {"home-gw", Key(kHomeGwKey)}, {"nas", Key(kNasKey)},
          {"hub", Key(kHubKey)},   {"laptop", Key(kLaptopKey)}};
}

RenderInput InputFor(const Fleet& fleet) {
  RenderInput input;
  input.agent_public_keys = AllKeys();
  AllocationResult allocation = AllocateAddresses(fleet, {});
  REQUIRE(allocation.diagnostics.empty());
  input.allocations = allocation.allocations;
  return input;
}

AgentConfig MustRender(const Fleet& fleet, const RenderInput& input, const std::string& agent) {
  Result<AgentConfig> config = RenderAgent(fleet, input, agent);
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  return *config;
}

// Every field, one per line, so a failing comparison shows exactly which line differs.
std::string Dump(const AgentConfig& config) {
  std::string out = "agent " + config.agent + "\n";
  for (const WireguardInterface& interface : config.interfaces) {
    out += "interface " + interface.name + " tunnel=" + interface.tunnel + " role=" +
           std::string(InterfaceRoleName(interface.role)) + " address=" + interface.address.ToString() +
           " port=" + std::to_string(interface.listen_port) + " mtu=" + std::to_string(interface.mtu) +
           " fwmark=" + std::to_string(interface.fwmark) + " key=" + interface.public_key.ToBase64() + "\n";
    for (const WireguardPeer& peer : interface.peers) {
      out += "  peer " + peer.name + " key=" + peer.public_key.ToBase64() + " endpoint=" + peer.endpoint +
             " keepalive=" + std::to_string(peer.persistent_keepalive) + " allowed=";
      for (const Ipv4Cidr& cidr : peer.allowed_ips) out += cidr.ToString() + ",";
      out += "\n";
    }
  }
  for (const Route& route : config.routes) {
    out += "route " + route.destination.ToString() + " dev " + route.device +
           (route.via ? " via " + route.via->ToString() : "") + " table " + std::to_string(route.table) + "\n";
  }
  for (const RoutingRule& rule : config.rules) {
    out += "rule " + std::to_string(rule.priority) + (rule.from ? " from " + rule.from->ToString() : "") +
           (rule.to ? " to " + rule.to->ToString() : "") +
           (rule.fwmark != 0 ? " fwmark " + std::to_string(rule.fwmark) : "") + " table " +
           std::to_string(rule.table) + "\n";
  }
  for (const FirewallChain& chain : config.chains) {
    for (const std::string& rule : chain.rules) {
      out += std::string(FirewallTableName(chain.table)) + " -A " + chain.name + " " + rule + "\n";
    }
  }
  for (const FirewallJump& jump : config.jumps) {
    out += "jump " + std::string(FirewallTableName(jump.table)) + " -A " + jump.chain + " " + jump.rule + "\n";
  }
  for (const Sysctl& sysctl : config.sysctls) out += "sysctl " + sysctl.key + "=" + sysctl.value + "\n";
  for (const std::string& notice : config.notices) out += "notice " + notice + "\n";
  return out;
}

void CheckConfig(const AgentConfig& actual, const AgentConfig& expected) {
  CHECK(Dump(actual) == Dump(expected));
  CHECK(actual == expected);
}

constexpr const char* kEstablished = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT";
constexpr const char* kMssOut = " -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu";
constexpr const char* kRestore = " -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff";

std::string Mss(const std::string& direction, const std::string& device) { return direction + " " + device + kMssOut; }

}  // namespace

TEST_CASE("FleetAgents lists servers and managed peers once, sorted - unmanaged peers are not agents") {
  Fleet fleet = HomeFleet();
  CHECK(FleetAgents(fleet) == std::vector<std::string>{"home-gw", "nas", "vps"});
  fleet.peers.push_back(MakePeer("gw-again", "home", "home-gw", "wg7"));
  CHECK(FleetAgents(fleet) == std::vector<std::string>{"home-gw", "nas", "vps"});
  CHECK(FleetAgents(Fleet{}).empty());
}

TEST_CASE("Server agent: interface, peers, routes, DNAT/FORWARD for every forward, masquerade, MSS") {
  Fleet fleet = HomeFleet();
  AgentConfig actual = MustRender(fleet, InputFor(fleet), "vps");

  AgentConfig expected;
  expected.agent = "vps";
  expected.interfaces = {{
      .name = "wg0",
      .tunnel = "home",
      .role = InterfaceRole::kServer,
      .address = Cidr("10.77.0.1/24"),
      .listen_port = 51820,
      .mtu = 1420,
      .fwmark = 0,
      .public_key = Key(kVpsKey),
      .peers =
          {
              // Sorted by public key: phone < home-gw < nas.
              {"phone", Key(kPhoneKey), "", {Cidr("10.77.0.50/32")}, 0},
              {"gw", Key(kHomeGwKey), "", {Cidr("10.77.0.2/32"), Cidr("192.168.50.0/24")}, 0},
              {"nas", Key(kNasKey), "", {Cidr("10.10.0.0/16"), Cidr("10.77.0.3/32"), Cidr("192.168.60.0/24")}, 0},
          },
  }};
  expected.routes = {
      {Cidr("10.10.0.0/16"), "wg0", std::nullopt, kMainTable},
      {Cidr("192.168.50.0/24"), "wg0", std::nullopt, kMainTable},
      {Cidr("192.168.60.0/24"), "wg0", std::nullopt, kMainTable},
  };
  expected.chains = {
      {FirewallTable::kFilter,
       "WIREWARP-FORWARD",
       {
           kEstablished,
           "-i wg0 -o wg0 -j ACCEPT",
           "-d 192.168.50.20/32 -o wg0 -p udp -m udp --dport 2302:2305 -m conntrack --ctstate DNAT -j ACCEPT",
           "-d 192.168.50.20/32 -o wg0 -p udp -m udp --dport 27016 -m conntrack --ctstate DNAT -j ACCEPT",
           "-d 10.77.0.3/32 -o wg0 -p tcp -m tcp --dport 25565 -m conntrack --ctstate DNAT -j ACCEPT",
           "-d 192.168.50.30/32 -o wg0 -p udp -m udp --dport 27015:27030 -m conntrack --ctstate DNAT -j ACCEPT",
           "-d 192.168.60.11/32 -o wg0 -p tcp -m tcp --dport 9987 -m conntrack --ctstate DNAT -j ACCEPT",
           "-d 192.168.60.11/32 -o wg0 -p udp -m udp --dport 9987 -m conntrack --ctstate DNAT -j ACCEPT",
           "-d 192.168.60.10/32 -o wg0 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -j ACCEPT",
           "-s 10.77.0.0/24 -i wg0 -j ACCEPT",
           "-s 192.168.50.0/24 -i wg0 -j ACCEPT",
       }},
      // Clients reach the listen port also where INPUT's policy is DROP (ufw).
      {FirewallTable::kFilter, "WIREWARP-INPUT", {"-p udp -m udp --dport 51820 -j ACCEPT"}},
      {FirewallTable::kNat,
       "WIREWARP-POSTROUTING",
       {
           "-s 10.77.0.0/24 ! -o wg0 -j MASQUERADE",
           "-s 192.168.50.0/24 ! -o wg0 -j MASQUERADE",
       }},
      {FirewallTable::kNat,
       "WIREWARP-PREROUTING",
       {
           "! -i wg0 -p udp -m udp --dport 2302:2305 -j DNAT --to-destination 192.168.50.20:2302-2305",
           "! -i wg0 -p udp -m udp --dport 27016 -j DNAT --to-destination 192.168.50.20:27016",
           "! -i wg0 -p tcp -m tcp --dport 25565 -j DNAT --to-destination 10.77.0.3:25565",
           "! -i wg0 -p udp -m udp --dport 27015:27030 -j DNAT --to-destination 192.168.50.30:27015-27030",
           "! -i wg0 -p tcp -m tcp --dport 9987 -j DNAT --to-destination 192.168.60.11:9987",
           "! -i wg0 -p udp -m udp --dport 9987 -j DNAT --to-destination 192.168.60.11:9987",
           "! -i wg0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.60.10:80",
       }},
      {FirewallTable::kMangle, "WIREWARP-MSS", {Mss("-o", "wg0"), Mss("-i", "wg0")}},
  };
  expected.jumps = {
      {FirewallTable::kFilter, "FORWARD", "-j WIREWARP-FORWARD"},
      {FirewallTable::kFilter, "INPUT", "-j WIREWARP-INPUT"},
      {FirewallTable::kNat, "POSTROUTING", "-j WIREWARP-POSTROUTING"},
      {FirewallTable::kNat, "PREROUTING", "-m addrtype --dst-type LOCAL -j WIREWARP-PREROUTING"},
      {FirewallTable::kMangle, "FORWARD", "-j WIREWARP-MSS"},
  };
  expected.sysctls = {{"net.ipv4.ip_forward", "1"}};
  CheckConfig(actual, expected);
}

TEST_CASE("Server agent: publicInterface binds DNAT and masquerade to it") {
  Fleet fleet = HomeFleet();
  fleet.tunnels[0].spec.public_interface = "ens3";
  AgentConfig config = MustRender(fleet, InputFor(fleet), "vps");
  REQUIRE(config.chains.size() == 5);
  CHECK(config.chains[2].name == "WIREWARP-POSTROUTING");
  CHECK(config.chains[2].rules ==
        std::vector<std::string>{"-s 10.77.0.0/24 -o ens3 -j MASQUERADE", "-s 192.168.50.0/24 -o ens3 -j MASQUERADE"});
  CHECK(config.chains[3].name == "WIREWARP-PREROUTING");
  REQUIRE(config.chains[3].rules.size() == 7);
  CHECK(config.chains[3].rules[2] == "-i ens3 -p tcp -m tcp --dport 25565 -j DNAT --to-destination 10.77.0.3:25565");
  CHECK(config.chains[3].rules[6] == "-i ens3 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.60.10:80");
}

TEST_CASE("Server agent: two forwards to one destination share one FORWARD accept") {
  Fleet fleet = HomeFleet();
  PortForward alias = MakeForward("web-alias", "home", Protocol::kTcp, "8081", "192.168.60.10");
  alias.spec.to.port = 80;
  fleet.forwards.push_back(alias);
  AgentConfig config = MustRender(fleet, InputFor(fleet), "vps");
  const std::vector<std::string>& forward = config.chains[0].rules;
  CHECK(std::count(forward.begin(), forward.end(),
                   "-d 192.168.60.10/32 -o wg0 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -j ACCEPT") == 1);
  CHECK(config.chains[3].rules.back() ==
        "! -i wg0 -p tcp -m tcp --dport 8081 -j DNAT --to-destination 192.168.60.10:80");
}

TEST_CASE("Server agent: a user ServiceTemplate expands like a built-in") {
  Fleet fleet = HomeFleet();
  ServiceTemplate voice;
  voice.metadata.name = "teamspeak";
  voice.spec.ports = {{Protocol::kBoth, *ParsePortList("10011")}, {Protocol::kUdp, *ParsePortList("9987")}};
  fleet.templates.push_back(voice);
  fleet.forwards[2].spec.protocol.reset();  // "voice"
  fleet.forwards[2].spec.ports.clear();
  fleet.forwards[2].spec.template_name = "teamspeak";
  AgentConfig config = MustRender(fleet, InputFor(fleet), "vps");
  const std::vector<std::string>& dnat = config.chains[3].rules;
  REQUIRE(dnat.size() == 8);
  CHECK(dnat[4] == "! -i wg0 -p tcp -m tcp --dport 10011 -j DNAT --to-destination 192.168.60.11:10011");
  CHECK(dnat[5] == "! -i wg0 -p udp -m udp --dport 10011 -j DNAT --to-destination 192.168.60.11:10011");
  CHECK(dnat[6] == "! -i wg0 -p udp -m udp --dport 9987 -j DNAT --to-destination 192.168.60.11:9987");
}

TEST_CASE("Plain client with LANs: connmark reply routing, masquerade for its LAN forwards, and a notice") {
  Fleet fleet = HomeFleet();
  AgentConfig actual = MustRender(fleet, InputFor(fleet), "nas");

  // fnv1a32("wg-home") % 1000 = 893.
  const uint32_t table = 52893;
  AgentConfig expected;
  expected.agent = "nas";
  expected.interfaces = {{
      .name = "wg-home",
      .tunnel = "home",
      .role = InterfaceRole::kClient,
      .address = Cidr("10.77.0.3/24"),
      .listen_port = 0,
      .mtu = 1420,
      .fwmark = 0x5758037d,
      .public_key = Key(kNasKey),
      .peers = {{"home", Key(kVpsKey), "vps.example.net:51820", {Cidr("0.0.0.0/0")}, 15}},
  }};
  expected.routes = {{Cidr("0.0.0.0/0"), "wg-home", std::nullopt, table}};
  expected.rules = {
      {.priority = 10000, .fwmark = 0x5758037d, .table = kMainTable},
      {.priority = 10005, .fwmark = 0x5757037d, .table = table},
  };
  expected.chains = {
      {FirewallTable::kFilter,
       "WIREWARP-FORWARD",
       {kEstablished, "-d 10.10.0.0/16 -i wg-home -j ACCEPT", "-d 192.168.60.0/24 -i wg-home -j ACCEPT"}},
      {FirewallTable::kNat,
       "WIREWARP-POSTROUTING",
       {
           "-d 192.168.60.11/32 ! -o wg-home -m connmark --mark 0x5757037d -j MASQUERADE",
           "-d 192.168.60.10/32 ! -o wg-home -m connmark --mark 0x5757037d -j MASQUERADE",
       }},
      {FirewallTable::kMangle, "WIREWARP-MSS", {Mss("-o", "wg-home"), Mss("-i", "wg-home")}},
      {FirewallTable::kMangle, "WIREWARP-OUTPUT", {std::string("-m connmark --mark 0x5757037d") + kRestore}},
      {FirewallTable::kMangle,
       "WIREWARP-PREROUTING",
       {
           "-i wg-home -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x5757037d/0xffffffff",
           std::string("! -i wg-home -m connmark --mark 0x5757037d") + kRestore,
       }},
  };
  expected.jumps = {
      {FirewallTable::kFilter, "FORWARD", "-j WIREWARP-FORWARD"},
      {FirewallTable::kNat, "POSTROUTING", "-j WIREWARP-POSTROUTING"},
      {FirewallTable::kMangle, "FORWARD", "-j WIREWARP-MSS"},
      {FirewallTable::kMangle, "OUTPUT", "-j WIREWARP-OUTPUT"},
      {FirewallTable::kMangle, "PREROUTING", "-j WIREWARP-PREROUTING"},
  };
  expected.sysctls = {{"net.ipv4.conf.wg-home.rp_filter", "2"}, {"net.ipv4.ip_forward", "1"}};
  const char* tail =
      ", which is not a gateway, so its connections are masqueraded: the LAN host will see the client's LAN address "
      "instead of the player's (set gateway: true on the peer and make the client the host's default gateway to keep "
      "real addresses)";
  expected.notices = {
      std::string("PortForward/voice: 192.168.60.11 is on the LAN of Peer/nas") + tail,
      std::string("PortForward/web: 192.168.60.10 is on the LAN of Peer/nas") + tail,
  };
  CheckConfig(actual, expected);
}

TEST_CASE("Gateway client: LAN policy routing keeps control address and LANs on main - no masquerade") {
  Fleet fleet = HomeFleet();
  RenderInput input = InputFor(fleet);
  input.control_address = Address("198.51.100.7");
  AgentConfig actual = MustRender(fleet, input, "home-gw");

  // fnv1a32("wg0") % 1000 = 553.
  const uint32_t table = 52553;
  AgentConfig expected;
  expected.agent = "home-gw";
  expected.interfaces = {{
      .name = "wg0",
      .tunnel = "home",
      .role = InterfaceRole::kClient,
      .address = Cidr("10.77.0.2/24"),
      .listen_port = 0,
      .mtu = 1420,
      .fwmark = 0x57580229,
      .public_key = Key(kHomeGwKey),
      .peers = {{"home", Key(kVpsKey), "vps.example.net:51820", {Cidr("0.0.0.0/0")}, 25}},
  }};
  expected.routes = {{Cidr("0.0.0.0/0"), "wg0", std::nullopt, table}};
  expected.rules = {
      {.priority = 10000, .fwmark = 0x57580229, .table = kMainTable},
      {.priority = 10005, .fwmark = 0x57570229, .table = table},
      {.priority = 10010, .to = Cidr("198.51.100.7/32"), .table = kMainTable},
      {.priority = 10030, .to = Cidr("192.168.50.0/24"), .table = kMainTable},
      {.priority = 10100, .from = Cidr("192.168.50.0/24"), .table = table},
  };
  expected.chains = {
      {FirewallTable::kFilter,
       "WIREWARP-FORWARD",
       {kEstablished, "-d 192.168.50.0/24 -i wg0 -j ACCEPT", "-s 192.168.50.0/24 -o wg0 -j ACCEPT"}},
      {FirewallTable::kMangle, "WIREWARP-MSS", {Mss("-o", "wg0"), Mss("-i", "wg0")}},
      {FirewallTable::kMangle, "WIREWARP-OUTPUT", {std::string("-m connmark --mark 0x57570229") + kRestore}},
      {FirewallTable::kMangle,
       "WIREWARP-PREROUTING",
       {
           "-i wg0 -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x57570229/0xffffffff",
           std::string("! -i wg0 -m connmark --mark 0x57570229") + kRestore,
       }},
  };
  expected.jumps = {
      {FirewallTable::kFilter, "FORWARD", "-j WIREWARP-FORWARD"},
      {FirewallTable::kMangle, "FORWARD", "-j WIREWARP-MSS"},
      {FirewallTable::kMangle, "OUTPUT", "-j WIREWARP-OUTPUT"},
      {FirewallTable::kMangle, "PREROUTING", "-j WIREWARP-PREROUTING"},
  };
  expected.sysctls = {{"net.ipv4.conf.wg0.rp_filter", "2"}, {"net.ipv4.ip_forward", "1"}};
  CheckConfig(actual, expected);
}

TEST_CASE("Gateway client: an IPv4 endpoint stays on main - a missing control address adds no rule") {
  Fleet fleet = HomeFleet();
  fleet.tunnels[0].spec.endpoint = "203.0.113.10:4500";
  AgentConfig config = MustRender(fleet, InputFor(fleet), "home-gw");
  REQUIRE(config.interfaces.size() == 1);
  CHECK(config.interfaces[0].peers[0].endpoint == "203.0.113.10:4500");
  std::vector<RoutingRule> expected = {
      {.priority = 10000, .fwmark = 0x57580229, .table = kMainTable},
      {.priority = 10005, .fwmark = 0x57570229, .table = 52553},
      {.priority = 10020, .to = Cidr("203.0.113.10/32"), .table = kMainTable},
      {.priority = 10030, .to = Cidr("192.168.50.0/24"), .table = kMainTable},
      {.priority = 10100, .from = Cidr("192.168.50.0/24"), .table = 52553},
  };
  CHECK(config.rules == expected);

  // A bare IPv4 endpoint gets the listen port appended and still counts as a literal.
  fleet.tunnels[0].spec.endpoint = "203.0.113.10";
  fleet.tunnels[0].spec.listen_port = 51000;
  config = MustRender(fleet, InputFor(fleet), "home-gw");
  CHECK(config.interfaces[0].peers[0].endpoint == "203.0.113.10:51000");
  CHECK(config.rules == expected);
}

TEST_CASE("Gateway client: the reply rule comes before every main-table exception") {
  // The kernel takes the first matching rule: a reply to a player at the control server's
  // or the endpoint's address must meet "fwmark M -> tunnel" before "to X -> main", and
  // WireGuard's own packets (fwmark W) must meet "-> main" before anything else.
  Fleet fleet = HomeFleet();
  fleet.tunnels[0].spec.endpoint = "203.0.113.10:51820";
  RenderInput input = InputFor(fleet);
  input.control_address = Address("203.0.113.10");  // the control server runs on the VPS
  AgentConfig config = MustRender(fleet, input, "home-gw");
  REQUIRE(config.rules.size() == 6);
  CHECK(config.rules[0] == RoutingRule{.priority = 10000, .fwmark = 0x57580229, .table = kMainTable});
  CHECK(config.rules[1] == RoutingRule{.priority = 10005, .fwmark = 0x57570229, .table = 52553});
  for (size_t i = 2; i < config.rules.size(); ++i) {
    CAPTURE(i);
    CHECK(config.rules[i].fwmark == 0);
    CHECK(config.rules[i].priority > config.rules[1].priority);
  }
  CHECK(kPriorityWireguardMark < kPriorityReplyMark);
  CHECK(kPriorityReplyMark < std::min({kPriorityControl, kPriorityEndpoint, kPriorityLanMain, kPriorityLanEgress}));
}

TEST_CASE("Server agent: the listen port of every tunnel is opened in WIREWARP-INPUT, jumped from INPUT") {
  Fleet fleet = HomeFleet();
  Tunnel second = MakeTunnel("second", "vps", "vps.example.net:4500", "10.88.0.0/24", "wg1");
  second.spec.listen_port = 4500;
  fleet.tunnels.push_back(second);
  AgentConfig config = MustRender(fleet, InputFor(fleet), "vps");
  auto input = std::find_if(config.chains.begin(), config.chains.end(),
                            [](const FirewallChain& chain) { return chain.name == "WIREWARP-INPUT"; });
  REQUIRE(input != config.chains.end());
  CHECK(input->table == FirewallTable::kFilter);
  CHECK(input->rules == std::vector<std::string>{"-p udp -m udp --dport 51820 -j ACCEPT",
                                                 "-p udp -m udp --dport 4500 -j ACCEPT"});
  CHECK(std::count(config.jumps.begin(), config.jumps.end(),
                   FirewallJump{FirewallTable::kFilter, "INPUT", "-j WIREWARP-INPUT"}) == 1);
  // A client listens on a random port and dials out: nothing to open.
  AgentConfig client = MustRender(fleet, InputFor(fleet), "home-gw");
  for (const FirewallJump& jump : client.jumps) CHECK(jump.chain != "INPUT");
}

TEST_CASE("Client without a LAN: no forwarding, only reply routing") {
  Fleet fleet;
  fleet.tunnels.push_back(MakeTunnel("home", "vps", "vps.example.net:51820", "10.77.0.0/24"));
  Peer laptop = MakePeer("laptop", "home", "laptop", "wg1");
  laptop.spec.keepalive = 0;
  fleet.peers.push_back(laptop);
  fleet.forwards.push_back(MakeForward("game", "home", Protocol::kTcp, "7777", "10.77.0.2"));
  AgentConfig config = MustRender(fleet, InputFor(fleet), "laptop");

  // fnv1a32("wg1") % 1000 = 934.
  REQUIRE(config.interfaces.size() == 1);
  CHECK(config.interfaces[0].fwmark == 0x575803a6);
  CHECK(config.interfaces[0].peers[0].persistent_keepalive == 0);
  CHECK(config.interfaces[0].peers[0].endpoint == "vps.example.net:51820");
  CHECK(config.routes == std::vector<Route>{{Cidr("0.0.0.0/0"), "wg1", std::nullopt, 52934}});
  std::vector<std::string> chain_names;
  for (const FirewallChain& chain : config.chains) chain_names.push_back(chain.name);
  CHECK(chain_names == std::vector<std::string>{"WIREWARP-MSS", "WIREWARP-OUTPUT", "WIREWARP-PREROUTING"});
  CHECK(config.jumps.size() == 3);
  CHECK(config.sysctls == std::vector<Sysctl>{{"net.ipv4.conf.wg1.rp_filter", "2"}});
  CHECK(config.notices.empty());
}

TEST_CASE("An unmanaged peer contributes its own key to the server and needs no agent key") {
  Fleet fleet = HomeFleet();
  RenderInput input = InputFor(fleet);
  input.agent_public_keys.erase("home-gw");
  input.agent_public_keys.erase("nas");
  fleet.peers.erase(fleet.peers.begin(), fleet.peers.begin() + 2);  // only the phone is left
  fleet.forwards.clear();
  AgentConfig config = MustRender(fleet, input, "vps");
  REQUIRE(config.interfaces.size() == 1);
  CHECK(config.interfaces[0].peers ==
        std::vector<WireguardPeer>{{"phone", Key(kPhoneKey), "", {Cidr("10.77.0.50/32")}, 0}});
  CHECK(config.routes.empty());
  CHECK(FleetAgents(fleet) == std::vector<std::string>{"vps"});
  CHECK(RenderAgent(fleet, input, "phone").status() ==
        Status::NotFound("agent \"phone\" is not part of the fleet (no Tunnel or Peer names it)"));
}

TEST_CASE("An agent that is both a server and a client gets both, merged per chain, server first") {
  Fleet fleet;
  Tunnel core = MakeTunnel("core", "hub", "hub.example.net:4500", "10.50.0.0/24", "wg-core");
  core.spec.listen_port = 4500;
  core.spec.public_interface = "eth0";
  core.spec.mtu = 1380;
  fleet.tunnels = {MakeTunnel("upstream", "vps", "203.0.113.10:51820", "10.60.0.0/24"), core};
  Peer uplink = MakePeer("hub-up", "upstream", "hub", "wg-vps");
  uplink.spec.lan = {Cidr("172.16.5.0/24")};
  fleet.peers = {MakePeer("laptop", "core", "laptop"), uplink};
  PortForward ssh = MakeForward("ssh-laptop", "core", Protocol::kTcp, "2222", "10.50.0.2");
  ssh.spec.to.port = 22;
  fleet.forwards = {MakeForward("upstream-web", "upstream", Protocol::kTcp, "443", "172.16.5.9"), ssh};
  AgentConfig actual = MustRender(fleet, InputFor(fleet), "hub");

  // fnv1a32("wg-vps") % 1000 = 53.
  const uint32_t table = 52053;
  AgentConfig expected;
  expected.agent = "hub";
  expected.interfaces = {
      {
          .name = "wg-core",
          .tunnel = "core",
          .role = InterfaceRole::kServer,
          .address = Cidr("10.50.0.1/24"),
          .listen_port = 4500,
          .mtu = 1380,
          .fwmark = 0,
          .public_key = Key(kHubKey),
          .peers = {{"laptop", Key(kLaptopKey), "", {Cidr("10.50.0.2/32")}, 0}},
      },
      {
          .name = "wg-vps",
          .tunnel = "upstream",
          .role = InterfaceRole::kClient,
          .address = Cidr("10.60.0.2/24"),
          .listen_port = 0,
          .mtu = 1420,
          .fwmark = 0x57580035,
          .public_key = Key(kHubKey),
          .peers = {{"upstream", Key(kVpsKey), "203.0.113.10:51820", {Cidr("0.0.0.0/0")}, 25}},
      },
  };
  expected.routes = {{Cidr("0.0.0.0/0"), "wg-vps", std::nullopt, table}};
  expected.rules = {
      {.priority = 10000, .fwmark = 0x57580035, .table = kMainTable},
      {.priority = 10005, .fwmark = 0x57570035, .table = table},
  };
  expected.chains = {
      {FirewallTable::kFilter,
       "WIREWARP-FORWARD",
       {
           kEstablished,
           "-i wg-core -o wg-core -j ACCEPT",
           "-d 10.50.0.2/32 -o wg-core -p tcp -m tcp --dport 22 -m conntrack --ctstate DNAT -j ACCEPT",
           "-s 10.50.0.0/24 -i wg-core -j ACCEPT",
           "-d 172.16.5.0/24 -i wg-vps -j ACCEPT",
       }},
      {FirewallTable::kFilter, "WIREWARP-INPUT", {"-p udp -m udp --dport 4500 -j ACCEPT"}},
      {FirewallTable::kNat,
       "WIREWARP-POSTROUTING",
       {
           "-s 10.50.0.0/24 -o eth0 -j MASQUERADE",
           "-d 172.16.5.9/32 ! -o wg-vps -m connmark --mark 0x57570035 -j MASQUERADE",
       }},
      {FirewallTable::kNat,
       "WIREWARP-PREROUTING",
       {"-i eth0 -p tcp -m tcp --dport 2222 -j DNAT --to-destination 10.50.0.2:22"}},
      {FirewallTable::kMangle,
       "WIREWARP-MSS",
       {Mss("-o", "wg-core"), Mss("-i", "wg-core"), Mss("-o", "wg-vps"), Mss("-i", "wg-vps")}},
      {FirewallTable::kMangle, "WIREWARP-OUTPUT", {std::string("-m connmark --mark 0x57570035") + kRestore}},
      {FirewallTable::kMangle,
       "WIREWARP-PREROUTING",
       {
           "-i wg-vps -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x57570035/0xffffffff",
           std::string("! -i wg-vps -m connmark --mark 0x57570035") + kRestore,
       }},
  };
  expected.jumps = {
      {FirewallTable::kFilter, "FORWARD", "-j WIREWARP-FORWARD"},
      {FirewallTable::kFilter, "INPUT", "-j WIREWARP-INPUT"},
      {FirewallTable::kNat, "POSTROUTING", "-j WIREWARP-POSTROUTING"},
      {FirewallTable::kNat, "PREROUTING", "-m addrtype --dst-type LOCAL -j WIREWARP-PREROUTING"},
      {FirewallTable::kMangle, "FORWARD", "-j WIREWARP-MSS"},
      {FirewallTable::kMangle, "OUTPUT", "-j WIREWARP-OUTPUT"},
      {FirewallTable::kMangle, "PREROUTING", "-j WIREWARP-PREROUTING"},
  };
  expected.sysctls = {{"net.ipv4.conf.wg-vps.rp_filter", "2"}, {"net.ipv4.ip_forward", "1"}};
  expected.notices = {
      "PortForward/upstream-web: 172.16.5.9 is on the LAN of Peer/hub-up, which is not a gateway, so its connections "
      "are masqueraded: the LAN host will see the client's LAN address instead of the player's (set gateway: true on "
      "the peer and make the client the host's default gateway to keep real addresses)",
  };
  CheckConfig(actual, expected);
}

TEST_CASE("Client slots probe past earlier interfaces in name order") {
  // fnv1a32 % 1000: wg0 -> 553, wg2127 -> 553, wg306 -> 554.
  Fleet fleet;
  for (const char* name : {"t3", "t2", "t1"}) {
    fleet.tunnels.push_back(MakeTunnel(name, std::string("server-") + name, std::string(name) + ".example.net",
                                       name[1] == '1' ? "10.1.0.0/24" : name[1] == '2' ? "10.2.0.0/24" : "10.3.0.0/24"));
  }
  fleet.peers = {MakePeer("p3", "t3", "multi", "wg306"), MakePeer("p2", "t2", "multi", "wg2127"),
                 MakePeer("p1", "t1", "multi", "wg0")};
  RenderInput input = InputFor(fleet);
  input.agent_public_keys = {{"multi", Key(kLaptopKey)},
                             {"server-t1", Key(kVpsKey)},
                             {"server-t2", Key(kHubKey)},
                             {"server-t3", Key(kNasKey)}};
  AgentConfig config = MustRender(fleet, input, "multi");
  REQUIRE(config.interfaces.size() == 3);
  CHECK(config.interfaces[0].name == "wg0");
  CHECK(config.interfaces[0].fwmark == 0x57580229);     // 553
  CHECK(config.interfaces[1].name == "wg2127");
  CHECK(config.interfaces[1].fwmark == 0x5758022a);     // 553 taken -> 554
  CHECK(config.interfaces[2].name == "wg306");
  CHECK(config.interfaces[2].fwmark == 0x5758022b);     // 554 taken -> 555
  CHECK(config.routes == std::vector<Route>{{Cidr("0.0.0.0/0"), "wg0", std::nullopt, 52553},
                                            {Cidr("0.0.0.0/0"), "wg2127", std::nullopt, 52554},
                                            {Cidr("0.0.0.0/0"), "wg306", std::nullopt, 52555}});
  REQUIRE(config.chains.size() == 3);
  CHECK(config.chains[1].name == "WIREWARP-OUTPUT");
  CHECK(config.chains[1].rules ==
        std::vector<std::string>{std::string("-m connmark --mark 0x57570229") + kRestore,
                                 std::string("-m connmark --mark 0x5757022a") + kRestore,
                                 std::string("-m connmark --mark 0x5757022b") + kRestore});
}

TEST_CASE("Missing keys and allocations fail with the agent or peer named") {
  Fleet fleet = HomeFleet();
  RenderInput input = InputFor(fleet);

  RenderInput no_server_key = input;
  no_server_key.agent_public_keys.erase("vps");
  CHECK(RenderAgent(fleet, no_server_key, "vps").status() ==
        Status::NotFound("no WireGuard public key for agent \"vps\" (enroll it, or pass it in --keys)"));
  // The client needs the server's key too.
  CHECK(RenderAgent(fleet, no_server_key, "home-gw").status() ==
        Status::NotFound("no WireGuard public key for agent \"vps\" (enroll it, or pass it in --keys)"));
  CHECK(RenderAll(fleet, no_server_key).status().code() == StatusCode::kNotFound);

  RenderInput no_peer_key = input;
  no_peer_key.agent_public_keys.erase("nas");
  CHECK(RenderAgent(fleet, no_peer_key, "vps").status() ==
        Status::NotFound("no WireGuard public key for agent \"nas\" (enroll it, or pass it in --keys)"));
  CHECK(RenderAgent(fleet, no_peer_key, "home-gw").ok());

  RenderInput no_allocations = input;
  no_allocations.allocations.clear();
  CHECK(RenderAgent(fleet, no_allocations, "vps").status() ==
        Status::FailedPrecondition(
            "no tunnel address allocated for Peer/gw of Tunnel/home (allocate addresses before rendering)"));
  CHECK(RenderAgent(fleet, no_allocations, "nas").status() ==
        Status::FailedPrecondition(
            "no tunnel address allocated for Peer/nas of Tunnel/home (allocate addresses before rendering)"));

  CHECK(RenderAgent(fleet, input, "nobody").status() ==
        Status::NotFound("agent \"nobody\" is not part of the fleet (no Tunnel or Peer names it)"));
}

TEST_CASE("kSkipPeer: the server renders without a keyless peer, naming it in a warning; the rest is unchanged") {
  Fleet fleet = HomeFleet();
  RenderInput input = InputFor(fleet);
  AgentConfig full = MustRender(fleet, input, "vps");
  CHECK(full.warnings.empty());

  RenderInput no_peer_key = input;
  no_peer_key.missing_peer_key = MissingPeerKey::kSkipPeer;
  no_peer_key.agent_public_keys.erase("nas");
  AgentConfig actual = MustRender(fleet, no_peer_key, "vps");
  // Only nas's WireGuard peer goes: its routes and every forward stay, so a forward to its
  // LAN ends at wg0 (as while the client is offline) instead of leaving by another route.
  AgentConfig expected = full;
  auto& peers = expected.interfaces.at(0).peers;
  peers.erase(std::remove_if(peers.begin(), peers.end(), [](const WireguardPeer& peer) { return peer.name == "nas"; }),
              peers.end());
  expected.warnings = {
      "Peer/nas of Tunnel/home is left out: agent \"nas\" has no WireGuard public key (it is not enrolled, or was "
      "deleted)"};
  CHECK(Dump(actual) == Dump(expected));
  CHECK(actual == expected);
  CHECK(actual.interfaces.at(0).peers.size() == 2);

  // Every other agent renders as before; RenderAll still names the one that cannot render.
  CHECK(MustRender(fleet, no_peer_key, "home-gw") == MustRender(fleet, input, "home-gw"));
  CHECK(RenderAgent(fleet, no_peer_key, "nas").status() ==
        Status::NotFound("no WireGuard public key for agent \"nas\" (it is not enrolled, or was deleted: enroll it)"));

  // Two keyless peers: two warnings, in peer-name order; the unmanaged phone always stays.
  no_peer_key.agent_public_keys.erase("home-gw");
  AgentConfig only_phone = MustRender(fleet, no_peer_key, "vps");
  REQUIRE(only_phone.interfaces.at(0).peers.size() == 1);
  CHECK(only_phone.interfaces.at(0).peers[0].name == "phone");
  REQUIRE(only_phone.warnings.size() == 2);
  CHECK(only_phone.warnings[0].rfind("Peer/gw of Tunnel/home is left out: agent \"home-gw\"", 0) == 0);
  CHECK(only_phone.warnings[1].rfind("Peer/nas of Tunnel/home is left out", 0) == 0);

  // The server's own key and a client's server key are still needed, and the message there
  // does not send the reader to wwctl's --keys.
  RenderInput no_server_key = input;
  no_server_key.missing_peer_key = MissingPeerKey::kSkipPeer;
  no_server_key.agent_public_keys.erase("vps");
  const Status expected_error =
      Status::NotFound("no WireGuard public key for agent \"vps\" (it is not enrolled, or was deleted: enroll it)");
  CHECK(RenderAgent(fleet, no_server_key, "vps").status() == expected_error);
  CHECK(RenderAgent(fleet, no_server_key, "home-gw").status() == expected_error);
}

TEST_CASE("Render is deterministic: twice equal, and document order does not matter") {
  Fleet fleet = HomeFleet();
  RenderInput input = InputFor(fleet);
  input.control_address = Address("198.51.100.7");
  auto first = RenderAll(fleet, input);
  auto second = RenderAll(fleet, input);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->size() == 3);
  CHECK(*first == *second);

  Fleet shuffled = fleet;
  std::reverse(shuffled.tunnels.begin(), shuffled.tunnels.end());
  std::reverse(shuffled.peers.begin(), shuffled.peers.end());
  std::reverse(shuffled.forwards.begin(), shuffled.forwards.end());
  for (Peer& peer : shuffled.peers) std::reverse(peer.spec.lan.begin(), peer.spec.lan.end());
  RenderInput shuffled_input = input;
  std::reverse(shuffled_input.allocations.begin(), shuffled_input.allocations.end());
  auto third = RenderAll(shuffled, shuffled_input);
  REQUIRE(third.ok());
  for (const auto& [agent, config] : *first) {
    CAPTURE(agent);
    CHECK(Dump(third->at(agent)) == Dump(config));
  }
  CHECK(*third == *first);
  // RenderAll and RenderAgent agree.
  CHECK(MustRender(fleet, input, "nas") == first->at("nas"));
}

TEST_CASE("Render of seeded random fleets: every agent renders, independent of document order") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    test_support::RandomFleetOptions options;
    options.agents = 12;
    options.tunnels = 4;
    options.peers = 40;
    options.forwards = 80;
    Fleet fleet = test_support::RandomFleet(options, seed);
    RenderInput input;
    input.agent_public_keys = test_support::RandomAgentKeys(fleet, seed);
    AllocationResult allocation = AllocateAddresses(fleet, {});
    REQUIRE(allocation.diagnostics.empty());
    input.allocations = allocation.allocations;
    auto configs = RenderAll(fleet, input);
    INFO(configs.status().ToString());
    REQUIRE(configs.ok());
    CHECK(configs->size() == FleetAgents(fleet).size());

    std::mt19937_64 random(seed);
    Fleet shuffled = fleet;
    std::shuffle(shuffled.tunnels.begin(), shuffled.tunnels.end(), random);
    std::shuffle(shuffled.peers.begin(), shuffled.peers.end(), random);
    std::shuffle(shuffled.forwards.begin(), shuffled.forwards.end(), random);
    std::shuffle(shuffled.templates.begin(), shuffled.templates.end(), random);
    auto again = RenderAll(shuffled, input);
    REQUIRE(again.ok());
    CHECK(*again == *configs);
  }
}

TEST_CASE("RenderEach gives every agent its own result: one that cannot render spoils no other") {
  for (uint64_t seed : {4u, 5u}) {
    CAPTURE(seed);
    Fleet fleet = test_support::RandomFleet({.agents = 10, .tunnels = 3, .peers = 30, .forwards = 20}, seed);
    RenderInput input;
    input.agent_public_keys = test_support::RandomAgentKeys(fleet, seed);
    input.missing_peer_key = MissingPeerKey::kSkipPeer;  // as the reconciler renders
    input.allocations = AllocateAddresses(fleet, {}).allocations;
    // All keys: the same configs as RenderAll.
    auto all = RenderAll(fleet, input);
    REQUIRE(all.ok());
    auto each = RenderEach(fleet, input);
    REQUIRE(each.size() == all->size());
    for (const auto& [agent, rendered] : each) {
      REQUIRE(rendered.ok());
      CHECK(*rendered == all->at(agent));
    }
    // A tunnel server without a key: RenderAll fails as a whole, RenderEach fails exactly
    // the agents RenderAgent fails, with the same messages, and renders the rest.
    const std::string server = fleet.tunnels.front().spec.agent;
    input.agent_public_keys.erase(server);
    CHECK_FALSE(RenderAll(fleet, input).ok());
    int failed = 0;
    for (const auto& [agent, rendered] : RenderEach(fleet, input)) {
      CAPTURE(agent);
      Result<AgentConfig> alone = RenderAgent(fleet, input, agent);
      REQUIRE(rendered.ok() == alone.ok());
      if (rendered.ok()) {
        CHECK(*rendered == *alone);
      } else {
        CHECK(rendered.status() == alone.status());
        ++failed;
      }
    }
    CHECK(failed >= 2);  // the server itself and at least one of its clients
  }
}

TEST_CASE("KeyDependents names every agent whose config changes with another agent's key") {
  for (uint64_t seed : {6u, 7u, 8u}) {
    CAPTURE(seed);
    Fleet fleet = test_support::RandomFleet({.agents = 14, .tunnels = 4, .peers = 40, .forwards = 30}, seed);
    RenderInput input;
    input.agent_public_keys = test_support::RandomAgentKeys(fleet, seed);
    input.missing_peer_key = MissingPeerKey::kSkipPeer;
    input.allocations = AllocateAddresses(fleet, {}).allocations;
    const auto dependents = KeyDependents(fleet);
    const auto before = RenderEach(fleet, input);
    std::size_t with_dependents = 0;
    for (const std::string& agent : FleetAgents(fleet)) {
      CAPTURE(agent);
      std::set<std::string> allowed{agent};
      if (auto found = dependents.find(agent); found != dependents.end()) {
        allowed.insert(found->second.begin(), found->second.end());
        with_dependents += found->second.empty() ? 0 : 1;
      }
      // The key goes, then comes back as another key: nobody outside `allowed` changes, and
      // every dependent does (it holds that key, or skips the peer with a warning).
      for (bool remove : {true, false}) {
        RenderInput changed = input;
        if (remove) {
          changed.agent_public_keys.erase(agent);
        } else {
          changed.agent_public_keys[agent].bytes[0] ^= 0xff;
        }
        const auto after = RenderEach(fleet, changed);
        for (const auto& [other, rendered] : after) {
          const Result<AgentConfig>& old = before.at(other);
          const bool same = rendered.ok() == old.ok() && (!rendered.ok() || *rendered == *old);
          CAPTURE(other);
          CHECK((same || allowed.contains(other)));
          if (other != agent && allowed.contains(other)) CHECK_FALSE(same);
        }
      }
    }
    CHECK(with_dependents > 0);
  }
}
