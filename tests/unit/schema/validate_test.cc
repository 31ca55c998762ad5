// ValidateFleet rule by rule, on fleets built in C++. Each resource sits at a known line of
// "fleet.yaml" (fields without their own mark fall back to the document's line), and every
// test asserts the exact formatted diagnostics.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "schema/diagnostic.h"
#include "schema/model.h"
#include "schema/validate.h"
#include "tests/support/test_values.h"

using namespace ww;

namespace {

Origin At(int line) { return Origin{"fleet.yaml", {line, 1}, {}}; }

using test_support::Address;
using test_support::Cidr;
using test_support::Key;

Tunnel MakeTunnel(const std::string& name, const char* agent, const char* network, int line) {
  Tunnel tunnel;
  tunnel.metadata.name = name;
  tunnel.spec.agent = agent;
  tunnel.spec.endpoint = "vps.example.net";
  tunnel.spec.network = Cidr(network);
  tunnel.origin = At(line);
  return tunnel;
}

Peer ManagedPeer(const std::string& name, const char* tunnel, const char* agent, int line) {
  Peer peer;
  peer.metadata.name = name;
  peer.spec.tunnel = tunnel;
  peer.spec.agent = agent;
  peer.origin = At(line);
  return peer;
}

Peer UnmanagedPeer(const std::string& name, const char* tunnel, uint8_t key, int line) {
  Peer peer;
  peer.metadata.name = name;
  peer.spec.tunnel = tunnel;
  peer.spec.public_key = Key(key);
  peer.origin = At(line);
  return peer;
}

PortForward Forward(const std::string& name, const char* tunnel, Protocol protocol, const char* ports, const char* to,
                    int line) {
  PortForward forward;
  forward.metadata.name = name;
  forward.spec.tunnel = tunnel;
  forward.spec.protocol = protocol;
  forward.spec.ports = *ParsePortList(ports);
  forward.spec.to.address = Address(to);
  forward.origin = At(line);
  return forward;
}

PortForward TemplateForward(const std::string& name, const char* tunnel, const char* service, const char* to, int line) {
  PortForward forward;
  forward.metadata.name = name;
  forward.spec.tunnel = tunnel;
  forward.spec.template_name = service;
  forward.spec.to.address = Address(to);
  forward.origin = At(line);
  return forward;
}

ServiceTemplate Template(const std::string& name, std::vector<PortSet> sets, int line) {
  ServiceTemplate service;
  service.metadata.name = name;
  service.spec.ports = std::move(sets);
  service.origin = At(line);
  return service;
}

// A small valid fleet: tunnel vps (10.77.0.0/24) served by agent vps1; managed gateway peer
// home (agent home-gw, 10.77.0.2, lan 192.168.1.0/24); unmanaged phone (allocated address).
Fleet BaseFleet() {
  Fleet fleet;
  fleet.tunnels.push_back(MakeTunnel("vps", "vps1", "10.77.0.0/24", 1));
  Peer home = ManagedPeer("home", "vps", "home-gw", 10);
  home.spec.address = Address("10.77.0.2");
  home.spec.lan = {Cidr("192.168.1.0/24")};
  home.spec.gateway = true;
  fleet.peers.push_back(home);
  fleet.peers.push_back(UnmanagedPeer("phone", "vps", 1, 20));
  return fleet;
}

// Every diagnostic formatted, one per line.
std::string Validate(const Fleet& fleet, const ValidationContext& context = {}) {
  std::string out;
  for (const Diagnostic& diagnostic : ValidateFleet(fleet, context)) out += FormatDiagnostic(diagnostic) + "\n";
  return out;
}

}  // namespace

TEST_CASE("a valid fleet has no findings") {
  Fleet fleet = BaseFleet();
  fleet.forwards.push_back(Forward("minecraft", "vps", Protocol::kTcp, "25565", "192.168.1.10", 30));
  fleet.forwards.push_back(TemplateForward("dayz", "vps", "dayz", "192.168.1.11", 40));
  PortForward ssh = TemplateForward("ssh", "vps", "ssh", "10.77.0.2", 50);
  ssh.spec.to.port = 2222;
  ssh.spec.to.peer = "home";
  ssh.spec.host_port = HostPort::kAllow;  // the VPS's own sshd listens elsewhere
  fleet.forwards.push_back(ssh);
  fleet.forwards.push_back(Forward("range", "vps", Protocol::kBoth, "27000-27010,28000", "192.168.1.12", 60));
  fleet.templates.push_back(Template("factorio", {{Protocol::kUdp, {{34197, 34197}}}}, 70));
  fleet.forwards.push_back(TemplateForward("factorio", "vps", "factorio", "192.168.1.13", 80));
  // Adjacent ranges and the same port on another protocol do not collide.
  fleet.forwards.push_back(Forward("next", "vps", Protocol::kTcp, "25566-25570", "192.168.1.10", 90));
  fleet.forwards.push_back(Forward("udp-twin", "vps", Protocol::kUdp, "25565", "192.168.1.10", 100));
  CHECK(Validate(fleet) == "");
}

TEST_CASE("names are unique per kind and the duplicate says where the first is") {
  Fleet fleet = BaseFleet();
  fleet.tunnels.push_back(MakeTunnel("vps", "vps2", "10.78.0.0/24", 100));
  fleet.peers.push_back(UnmanagedPeer("phone", "vps", 2, 110));
  fleet.forwards.push_back(Forward("game", "vps", Protocol::kTcp, "1000", "10.77.0.2", 120));
  fleet.forwards.push_back(Forward("game", "vps", Protocol::kTcp, "2000", "10.77.0.2", 130));
  fleet.templates.push_back(Template("svc", {{Protocol::kTcp, {{1, 1}}}}, 140));
  fleet.templates.push_back(Template("svc", {{Protocol::kTcp, {{2, 2}}}}, 150));
  // The same name in different kinds is fine.
  fleet.forwards.push_back(Forward("home", "vps", Protocol::kTcp, "3000", "10.77.0.2", 160));
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: Tunnel/vps: metadata.name: duplicate name: Tunnel/vps is already defined at fleet.yaml:1\n"
        "fleet.yaml:110:1: error: Peer/phone: metadata.name: duplicate name: Peer/phone is already defined at fleet.yaml:20\n"
        "fleet.yaml:130:1: error: PortForward/game: metadata.name: duplicate name: PortForward/game is already defined at "
        "fleet.yaml:120\n"
        "fleet.yaml:150:1: error: ServiceTemplate/svc: metadata.name: duplicate name: ServiceTemplate/svc is already defined "
        "at fleet.yaml:140\n");
}

TEST_CASE("a user template may not take a built-in's name") {
  Fleet fleet = BaseFleet();
  fleet.templates.push_back(Template("dayz", {{Protocol::kUdp, {{2302, 2302}}}}, 100));
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: ServiceTemplate/dayz: metadata.name: name \"dayz\" is taken by a built-in ServiceTemplate "
        "(udp 2302-2305, udp 27016); choose another name\n");
}

TEST_CASE("a user template does not claim one port twice") {
  Fleet fleet = BaseFleet();
  fleet.templates.push_back(
      Template("game", {{Protocol::kTcp, {{80, 80}}}, {Protocol::kBoth, {{79, 81}}}, {Protocol::kUdp, {{81, 81}}}}, 100));
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: ServiceTemplate/game: spec.ports[1]: tcp 79-81 overlaps tcp 80 of spec.ports[0]\n"
        "fleet.yaml:100:1: error: ServiceTemplate/game: spec.ports[2]: udp 81 overlaps udp 79-81 of spec.ports[1]\n");
}

TEST_CASE("references resolve, with a did-you-mean hint when a name is close") {
  Fleet fleet = BaseFleet();
  fleet.peers.push_back(UnmanagedPeer("laptop", "vsp", 2, 100));
  fleet.peers.push_back(UnmanagedPeer("tablet", "elsewhere", 3, 110));
  fleet.forwards.push_back(TemplateForward("game", "vps", "dayzz", "10.77.0.2", 120));
  fleet.forwards.push_back(TemplateForward("other", "vps", "quake", "10.77.0.2", 130));
  PortForward to_peer = Forward("peer", "vps", Protocol::kTcp, "2022", "10.77.0.2", 140);
  to_peer.spec.to.peer = "hom";
  fleet.forwards.push_back(to_peer);
  fleet.forwards.push_back(Forward("lost", "nowhere", Protocol::kTcp, "23", "10.77.0.2", 150));
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: Peer/laptop: spec.tunnel: Tunnel \"vsp\" does not exist; did you mean \"vps\"?\n"
        "fleet.yaml:110:1: error: Peer/tablet: spec.tunnel: Tunnel \"elsewhere\" does not exist\n"
        "fleet.yaml:120:1: error: PortForward/game: spec.template: ServiceTemplate \"dayzz\" does not exist; did you mean "
        "\"dayz\"?\n"
        "fleet.yaml:130:1: error: PortForward/other: spec.template: ServiceTemplate \"quake\" does not exist\n"
        "fleet.yaml:140:1: error: PortForward/peer: spec.to.peer: Peer \"hom\" does not exist; did you mean \"home\"?\n"
        "fleet.yaml:150:1: error: PortForward/lost: spec.tunnel: Tunnel \"nowhere\" does not exist\n");
}

TEST_CASE("to.peer must be a peer of the forward's own tunnel") {
  Fleet fleet = BaseFleet();
  fleet.tunnels.push_back(MakeTunnel("other", "vps2", "10.78.0.0/24", 100));
  Peer far = UnmanagedPeer("far", "other", 2, 110);
  far.spec.address = Address("10.78.0.5");
  fleet.peers.push_back(far);
  PortForward forward = Forward("game", "vps", Protocol::kTcp, "2022", "10.77.0.2", 120);
  forward.spec.to.peer = "far";
  fleet.forwards.push_back(forward);
  CHECK(Validate(fleet) ==
        "fleet.yaml:120:1: error: PortForward/game: spec.to.peer: Peer/far (fleet.yaml:110) is on Tunnel/other, not on "
        "Tunnel/vps\n");
}

TEST_CASE("peer addresses are usable hosts of their tunnel network and unique per tunnel") {
  Fleet fleet = BaseFleet();
  int line = 100;
  for (const char* address : {"10.78.0.5", "10.77.0.0", "10.77.0.1", "10.77.0.255", "10.77.0.2"}) {
    Peer peer = UnmanagedPeer("p" + std::to_string(line), "vps", static_cast<uint8_t>(line), line);
    peer.spec.address = Address(address);
    fleet.peers.push_back(peer);
    line += 10;
  }
  // The same address on another tunnel is fine.
  fleet.tunnels.push_back(MakeTunnel("other", "vps2", "10.77.0.0/24", 200));
  Peer elsewhere = UnmanagedPeer("elsewhere", "other", 9, 210);
  elsewhere.spec.address = Address("10.77.0.2");
  fleet.peers.push_back(elsewhere);
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: Peer/p100: spec.address: address 10.78.0.5 is outside the network of Tunnel/vps "
        "(10.77.0.0/24)\n"
        "fleet.yaml:110:1: error: Peer/p110: spec.address: address 10.77.0.0 is the network address of Tunnel/vps "
        "(10.77.0.0/24)\n"
        "fleet.yaml:120:1: error: Peer/p120: spec.address: address 10.77.0.1 is the server's address of Tunnel/vps "
        "(10.77.0.0/24)\n"
        "fleet.yaml:130:1: error: Peer/p130: spec.address: address 10.77.0.255 is the broadcast address of Tunnel/vps "
        "(10.77.0.0/24)\n"
        "fleet.yaml:140:1: error: Peer/p140: spec.address: address 10.77.0.2 is already used by Peer/home (fleet.yaml:10) "
        "on Tunnel/vps\n");
}

TEST_CASE("a /31 tunnel has no network or broadcast address: the server takes the first, one peer the second") {
  Fleet fleet;
  fleet.tunnels.push_back(MakeTunnel("p2p", "vps1", "10.9.0.0/31", 1));
  Peer peer = UnmanagedPeer("far", "p2p", 1, 10);
  peer.spec.address = Address("10.9.0.1");
  fleet.peers.push_back(peer);
  Peer clash = UnmanagedPeer("near", "p2p", 2, 20);
  clash.spec.address = Address("10.9.0.0");
  fleet.peers.push_back(clash);
  CHECK(Validate(fleet) ==
        "fleet.yaml:20:1: error: Peer/near: spec.address: address 10.9.0.0 is the server's address of Tunnel/p2p "
        "(10.9.0.0/31)\n");
}

TEST_CASE("LANs overlap neither the tunnel network nor each other on one tunnel") {
  Fleet fleet = BaseFleet();
  Peer office = ManagedPeer("office", "vps", "office-gw", 100);
  office.spec.lan = {Cidr("192.168.0.0/16"), Cidr("10.77.0.128/25"), Cidr("172.16.0.0/24"), Cidr("172.16.0.0/25")};
  fleet.peers.push_back(office);
  // Another tunnel may reuse the same LANs.
  fleet.tunnels.push_back(MakeTunnel("other", "vps2", "10.78.0.0/24", 200));
  Peer twin = ManagedPeer("twin", "other", "twin-gw", 210);
  twin.spec.lan = {Cidr("192.168.1.0/24")};
  fleet.peers.push_back(twin);
  CHECK(Validate(fleet) ==
        // One line: sorted by message.
        "fleet.yaml:100:1: error: Peer/office: spec.lan[1]: lan 10.77.0.128/25 overlaps the network 10.77.0.0/24 of "
        "Tunnel/vps\n"
        "fleet.yaml:100:1: error: Peer/office: spec.lan[3]: lan 172.16.0.0/25 overlaps spec.lan[2] 172.16.0.0/24 of the "
        "same peer\n"
        "fleet.yaml:100:1: error: Peer/office: spec.lan[0]: lan 192.168.0.0/16 overlaps lan 192.168.1.0/24 of Peer/home "
        "(fleet.yaml:10) on Tunnel/vps\n");
}

TEST_CASE("no two forwards claim the same tunnel, protocol and port, ranges and templates included") {
  Fleet fleet = BaseFleet();
  fleet.forwards.push_back(TemplateForward("dayz", "vps", "dayz", "192.168.1.10", 100));
  fleet.forwards.push_back(Forward("range", "vps", Protocol::kUdp, "2300-2302", "192.168.1.11", 110));
  fleet.forwards.push_back(Forward("both", "vps", Protocol::kBoth, "27010-27020", "192.168.1.12", 120));
  fleet.forwards.push_back(Forward("web", "vps", Protocol::kTcp, "80", "192.168.1.13", 130));
  fleet.forwards.push_back(TemplateForward("web-tpl", "vps", "web", "192.168.1.14", 140));
  // Another tunnel's ports are its own.
  fleet.tunnels.push_back(MakeTunnel("other", "vps2", "10.78.0.0/24", 200));
  Peer twin = UnmanagedPeer("twin", "other", 7, 210);
  twin.spec.address = Address("10.78.0.2");
  fleet.peers.push_back(twin);
  fleet.forwards.push_back(TemplateForward("dayz-2", "other", "dayz", "10.78.0.2", 220));
  CHECK(Validate(fleet) ==
        "fleet.yaml:110:1: error: PortForward/range: spec.ports: udp 2300-2302 overlaps udp 2302-2305 of "
        "PortForward/dayz (fleet.yaml:100) on Tunnel/vps\n"
        "fleet.yaml:120:1: error: PortForward/both: spec.ports: udp 27010-27020 overlaps udp 27016 of PortForward/dayz "
        "(fleet.yaml:100) on Tunnel/vps\n"
        "fleet.yaml:140:1: error: PortForward/web-tpl: spec.template: tcp 80 overlaps tcp 80 of PortForward/web "
        "(fleet.yaml:130) on Tunnel/vps\n");
}

TEST_CASE("a forward never takes the WireGuard listen port of its agent's tunnels") {
  Fleet fleet = BaseFleet();
  Tunnel second = MakeTunnel("second", "vps1", "10.78.0.0/24", 200);
  second.spec.listen_port = 51821;
  second.spec.interface = "wg1";
  second.origin.fields = {{"spec.listenPort", {205, 15}}};
  fleet.tunnels.push_back(second);
  fleet.forwards.push_back(Forward("wg", "vps", Protocol::kUdp, "51820", "192.168.1.10", 100));
  // A forward on one tunnel cuts every tunnel of the same VPS it hits.
  fleet.forwards.push_back(Forward("games", "vps", Protocol::kBoth, "51821-51830", "192.168.1.11", 110));
  // tcp on the listen port, and udp next to it, take nothing from WireGuard.
  fleet.forwards.push_back(Forward("web", "vps", Protocol::kTcp, "51820", "192.168.1.12", 120));
  fleet.forwards.push_back(Forward("voice", "vps", Protocol::kUdp, "51819", "192.168.1.12", 130));
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: PortForward/wg: spec.ports: udp 51820 is the WireGuard listenPort of Tunnel/vps "
        "(fleet.yaml:1) on agent \"vps1\": forwarding it would cut the tunnel; use another port\n"
        "fleet.yaml:110:1: error: PortForward/games: spec.ports: udp 51821-51830 includes udp 51821, the WireGuard "
        "listenPort of Tunnel/second (fleet.yaml:205) on agent \"vps1\": forwarding it would cut the tunnel; use "
        "another port\n");
}

TEST_CASE("a forward on the control server's port is refused on the control server's own VPS") {
  Fleet fleet = BaseFleet();
  fleet.tunnels[0].spec.endpoint = "VPS.example.net:51820";  // names compare without case
  Tunnel elsewhere = MakeTunnel("elsewhere", "vps2", "10.78.0.0/24", 200);
  elsewhere.spec.endpoint = "203.0.113.50";
  fleet.tunnels.push_back(elsewhere);
  Peer far = UnmanagedPeer("far", "elsewhere", 9, 210);
  far.spec.address = Address("10.78.0.2");
  fleet.peers.push_back(far);
  PortForward api = Forward("api", "vps", Protocol::kTcp, "8000-9000", "192.168.1.10", 100);
  api.origin.fields = {{"spec.ports", {104, 10}}};
  fleet.forwards.push_back(api);
  fleet.forwards.push_back(Forward("api-udp", "vps", Protocol::kUdp, "8443", "192.168.1.10", 110));
  fleet.forwards.push_back(Forward("far-api", "elsewhere", Protocol::kTcp, "8443", "10.78.0.2", 220));

  // Offline without --control-server: not known, not checked.
  CHECK(Validate(fleet) == "");
  ValidationContext context;
  context.control = ControlServer{"vps.example.net", 8443};
  CHECK(Validate(fleet, context) ==
        "fleet.yaml:104:10: error: PortForward/api: spec.ports: tcp 8000-9000 includes tcp 8443, the port of the "
        "control server \"vps.example.net:8443\", which runs on the VPS of Tunnel/vps: forwarding it would cut every "
        "agent's control channel; use another port\n"
        "fleet.yaml:220:1: warning: PortForward/far-api: spec.ports: tcp 8443 is the port of the control server "
        "\"vps.example.net:8443\": if that server runs on the VPS of Tunnel/elsewhere (\"203.0.113.50\"), this "
        "forward cuts the control channel\n");
  context.control = ControlServer{"203.0.113.50", 8443};
  CHECK(Validate(fleet, context) ==
        "fleet.yaml:104:10: warning: PortForward/api: spec.ports: tcp 8000-9000 includes tcp 8443, the port of the "
        "control server \"203.0.113.50:8443\": if that server runs on the VPS of Tunnel/vps (\"VPS.example.net\"), "
        "this forward cuts the control channel\n"
        "fleet.yaml:220:1: error: PortForward/far-api: spec.ports: tcp 8443 is the port of the control server "
        "\"203.0.113.50:8443\", which runs on the VPS of Tunnel/elsewhere: forwarding it would cut every agent's "
        "control channel; use another port\n");
}

TEST_CASE("tcp/22, the VPS's own SSH, needs hostPort: allow") {
  Fleet base = BaseFleet();
  // Another public port remapped to 22 on the LAN host is the usual way, and fine.
  PortForward remap = Forward("ssh-lan", "vps", Protocol::kTcp, "2222", "192.168.1.12", 120);
  remap.spec.to.port = 22;
  base.forwards.push_back(remap);
  CHECK(Validate(base) == "");

  Fleet by_template = base;
  by_template.forwards.push_back(TemplateForward("ssh", "vps", "ssh", "192.168.1.10", 100));
  CHECK(Validate(by_template) ==
        "fleet.yaml:100:1: error: PortForward/ssh: spec.template: tcp 22 (template \"ssh\") is the SSH port of the "
        "VPS of Tunnel/vps: forwarding it takes SSH to the VPS away; forward another public port to it (ports: "
        "\"2222\", to.port: 22), or move the VPS's sshd elsewhere and set hostPort: allow\n");
  by_template.forwards.back().spec.host_port = HostPort::kAllow;
  CHECK(Validate(by_template) == "");

  Fleet by_range = base;
  by_range.forwards.push_back(Forward("low", "vps", Protocol::kBoth, "20-23", "192.168.1.11", 110));
  CHECK(Validate(by_range) ==
        "fleet.yaml:110:1: error: PortForward/low: spec.ports: tcp 20-23 includes tcp 22, the SSH port of the VPS of "
        "Tunnel/vps: forwarding it takes SSH to the VPS away; forward another public port to it (ports: \"2222\", "
        "to.port: 22), or move the VPS's sshd elsewhere and set hostPort: allow\n");
  by_range.forwards.back().spec.ports = *ParsePortList("20-21,23");
  CHECK(Validate(by_range) == "");
}

TEST_CASE("every forward overlapping an earlier one is reported, not only the first pair") {
  Fleet fleet = BaseFleet();
  fleet.forwards.push_back(Forward("wide", "vps", Protocol::kTcp, "1000-1010", "192.168.1.10", 100));
  fleet.forwards.push_back(Forward("inner", "vps", Protocol::kTcp, "1005-1006", "192.168.1.10", 110));
  fleet.forwards.push_back(Forward("tail", "vps", Protocol::kTcp, "1008-1020", "192.168.1.10", 120));
  fleet.forwards.push_back(Forward("end", "vps", Protocol::kTcp, "1020", "192.168.1.10", 130));
  CHECK(Validate(fleet) ==
        "fleet.yaml:110:1: error: PortForward/inner: spec.ports: tcp 1005-1006 overlaps tcp 1000-1010 of PortForward/wide "
        "(fleet.yaml:100) on Tunnel/vps\n"
        "fleet.yaml:120:1: error: PortForward/tail: spec.ports: tcp 1008-1020 overlaps tcp 1000-1010 of PortForward/wide "
        "(fleet.yaml:100) on Tunnel/vps\n"
        "fleet.yaml:130:1: error: PortForward/end: spec.ports: tcp 1020 overlaps tcp 1008-1020 of PortForward/tail "
        "(fleet.yaml:120) on Tunnel/vps\n");
}

TEST_CASE("a remap through a template needs a template of exactly one port") {
  Fleet fleet = BaseFleet();
  PortForward dayz = TemplateForward("dayz", "vps", "dayz", "192.168.1.10", 100);
  dayz.spec.to.port = 2400;
  fleet.forwards.push_back(dayz);
  PortForward valheim = TemplateForward("valheim", "vps", "valheim", "192.168.1.10", 110);
  valheim.spec.to.port = 2400;
  fleet.forwards.push_back(valheim);
  PortForward minecraft = TemplateForward("minecraft", "vps", "minecraft", "192.168.1.10", 120);
  minecraft.spec.to.port = 25000;
  fleet.forwards.push_back(minecraft);
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: PortForward/dayz: spec.to.port: to.port 2400 needs a single port, but "
        "ServiceTemplate/dayz gives udp 2302-2305, udp 27016\n"
        "fleet.yaml:110:1: error: PortForward/valheim: spec.to.port: to.port 2400 needs a single port, but "
        "ServiceTemplate/valheim gives udp 2456-2458\n");
}

TEST_CASE("to.address is routable through exactly one peer of the tunnel") {
  Fleet fleet = BaseFleet();
  Peer lab = ManagedPeer("lab", "vps", "lab-gw", 30);
  lab.spec.lan = {Cidr("192.168.0.0/16")};  // overlaps home's lan: reported once on lab
  lab.spec.gateway = true;
  fleet.peers.push_back(lab);
  fleet.forwards.push_back(Forward("server", "vps", Protocol::kTcp, "1", "10.77.0.1", 100));
  fleet.forwards.push_back(Forward("unpinned", "vps", Protocol::kTcp, "2", "10.77.0.9", 110));
  PortForward phone = Forward("phone", "vps", Protocol::kTcp, "3", "10.77.0.9", 120);
  phone.spec.to.peer = "phone";
  fleet.forwards.push_back(phone);
  PortForward pinned = Forward("pinned", "vps", Protocol::kTcp, "4", "10.77.0.9", 130);
  pinned.spec.to.peer = "home";
  fleet.forwards.push_back(pinned);
  fleet.forwards.push_back(Forward("nowhere", "vps", Protocol::kTcp, "5", "203.0.113.5", 140));
  fleet.forwards.push_back(Forward("ambiguous", "vps", Protocol::kTcp, "6", "192.168.1.20", 150));
  PortForward disagree = Forward("disagree", "vps", Protocol::kTcp, "7", "192.168.7.1", 160);
  disagree.spec.to.peer = "home";
  fleet.forwards.push_back(disagree);
  PortForward agree = Forward("agree", "vps", Protocol::kTcp, "8", "192.168.7.1", 170);
  agree.spec.to.peer = "lab";
  fleet.forwards.push_back(agree);
  CHECK(Validate(fleet) ==
        "fleet.yaml:30:1: error: Peer/lab: spec.lan[0]: lan 192.168.0.0/16 overlaps lan 192.168.1.0/24 of Peer/home "
        "(fleet.yaml:10) on Tunnel/vps\n"
        "fleet.yaml:100:1: error: PortForward/server: spec.to.address: to.address 10.77.0.1 is the server's address of "
        "Tunnel/vps (10.77.0.0/24); forward to a peer's address or to an address in a peer's lan\n"
        "fleet.yaml:110:1: error: PortForward/unpinned: spec.to.address: to.address 10.77.0.9 is inside the network "
        "10.77.0.0/24 of Tunnel/vps but is no peer's spec.address; forward to a peer whose spec.address is set\n"
        "fleet.yaml:120:1: error: PortForward/phone: spec.to.address: Peer/phone has no fixed address; set spec.address on "
        "it to forward to its tunnel address\n"
        "fleet.yaml:130:1: error: PortForward/pinned: spec.to.address: to.address 10.77.0.9 is inside the network "
        "10.77.0.0/24 of Tunnel/vps but is no peer's spec.address; forward to a peer whose spec.address is set "
        "(Peer/home has 10.77.0.2)\n"
        "fleet.yaml:140:1: error: PortForward/nowhere: spec.to.address: to.address 203.0.113.5 is not routable through "
        "Tunnel/vps: it is neither a peer's address nor inside a peer's lan\n"
        "fleet.yaml:150:1: error: PortForward/ambiguous: spec.to.address: to.address 192.168.1.20 is inside the lan of "
        "several peers (Peer/home, Peer/lab); it must be routable through exactly one peer\n"
        "fleet.yaml:160:1: error: PortForward/disagree: spec.to.peer: to.peer \"home\" disagrees with to.address "
        "192.168.7.1, which is routed through Peer/lab\n");
}

TEST_CASE("a forward to a LAN host behind a non-gateway or unmanaged peer warns about the reply path") {
  Fleet fleet = BaseFleet();
  Peer office = ManagedPeer("office", "vps", "office-gw", 30);
  office.spec.lan = {Cidr("192.168.2.0/24")};
  fleet.peers.push_back(office);
  Peer nas = UnmanagedPeer("nas", "vps", 2, 40);
  nas.spec.address = Address("10.77.0.3");
  nas.spec.lan = {Cidr("192.168.3.0/24")};
  fleet.peers.push_back(nas);
  fleet.forwards.push_back(Forward("office", "vps", Protocol::kTcp, "1", "192.168.2.10", 100));
  fleet.forwards.push_back(Forward("nas-lan", "vps", Protocol::kTcp, "2", "192.168.3.10", 110));
  fleet.forwards.push_back(Forward("nas", "vps", Protocol::kTcp, "3", "10.77.0.3", 120));    // its own address: fine
  fleet.forwards.push_back(Forward("home", "vps", Protocol::kTcp, "4", "192.168.1.10", 130));  // gateway: fine
  Diagnostics diagnostics = ValidateFleet(fleet);
  CHECK_FALSE(HasErrors(diagnostics));
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: warning: PortForward/office: spec.to.address: to.address 192.168.2.10 is in the lan of "
        "Peer/office, which has gateway: false, so its client masquerades this forward and the LAN host sees the client's "
        "LAN address, not the player's; to keep real client IPs set gateway: true on Peer/office and route the LAN host "
        "through it\n"
        "fleet.yaml:110:1: warning: PortForward/nas-lan: spec.to.address: to.address 192.168.3.10 is in the lan of "
        "Peer/nas, an unmanaged device: WireWarp configures nothing there, so whether replies come back through the "
        "tunnel depends on that device\n");
}

TEST_CASE("a managed peer runs on another agent than its tunnel's server, once per tunnel") {
  Fleet fleet = BaseFleet();
  fleet.peers.push_back(ManagedPeer("self", "vps", "vps1", 100));
  Peer again = ManagedPeer("again", "vps", "home-gw", 110);
  again.spec.interface = "wg1";
  fleet.peers.push_back(again);
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: Peer/self: spec.agent: agent \"vps1\" is the server of Tunnel/vps (fleet.yaml:1); a "
        "peer of a tunnel must run on a different agent\n"
        "fleet.yaml:110:1: error: Peer/again: spec.agent: agent \"home-gw\" already joins Tunnel/vps as Peer/home "
        "(fleet.yaml:10)\n");
}

TEST_CASE("interfaces on one agent never share a name, server tunnels never share a listen port") {
  Fleet fleet = BaseFleet();
  // vps1 serves a second tunnel: default interface wg0 and port 51820 clash with Tunnel/vps.
  fleet.tunnels.push_back(MakeTunnel("second", "vps1", "10.78.0.0/24", 100));
  // home-gw joins the second tunnel with the default interface wg0, already used for vps.
  fleet.peers.push_back(ManagedPeer("home-second", "second", "home-gw", 110));
  // A distinct interface and port are fine.
  Tunnel third = MakeTunnel("third", "vps1", "10.79.0.0/24", 120);
  third.spec.interface = "wg2";
  third.spec.listen_port = 51822;
  fleet.tunnels.push_back(third);
  Peer home_third = ManagedPeer("home-third", "third", "home-gw", 130);
  home_third.spec.interface = "wg3";
  fleet.peers.push_back(home_third);
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: Tunnel/second: spec.interface: interface \"wg0\" on agent \"vps1\" is already used by "
        "Tunnel/vps (fleet.yaml:1); set spec.interface to another name\n"
        "fleet.yaml:100:1: error: Tunnel/second: spec.listenPort: listenPort 51820 on agent \"vps1\" is already used by "
        "Tunnel/vps (fleet.yaml:1)\n"
        "fleet.yaml:110:1: error: Peer/home-second: spec.interface: interface \"wg0\" on agent \"home-gw\" is already used "
        "by Peer/home (fleet.yaml:10); set spec.interface to another name\n");
}

TEST_CASE("the tunnel networks on one agent do not overlap") {
  Fleet fleet = BaseFleet();
  Tunnel inner = MakeTunnel("inner", "vps1", "10.77.0.128/25", 100);
  inner.spec.interface = "wg1";
  inner.spec.listen_port = 51821;
  fleet.tunnels.push_back(inner);
  Tunnel elsewhere = MakeTunnel("elsewhere", "vps2", "10.77.0.0/16", 110);
  fleet.tunnels.push_back(elsewhere);
  Peer home = ManagedPeer("home-elsewhere", "elsewhere", "home-gw", 120);
  home.spec.interface = "wg1";
  fleet.peers.push_back(home);
  // Unmanaged peers have no agent: no clash.
  fleet.peers.push_back(UnmanagedPeer("phone-elsewhere", "elsewhere", 1, 130));
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: Tunnel/inner: spec.network: network 10.77.0.128/25 of Tunnel/inner overlaps network "
        "10.77.0.0/24 of Tunnel/vps, which agent \"vps1\" also serves (fleet.yaml:1)\n"
        "fleet.yaml:120:1: error: Peer/home-elsewhere: spec.tunnel: network 10.77.0.0/16 of Tunnel/elsewhere overlaps "
        "network 10.77.0.0/24 of Tunnel/vps, which agent \"home-gw\" is also on as Peer/home (fleet.yaml:10)\n");
}

TEST_CASE("two gateway peers of one agent never have overlapping LANs") {
  Fleet fleet = BaseFleet();  // home: agent home-gw, gateway, lan 192.168.1.0/24 on Tunnel/vps
  fleet.tunnels.push_back(MakeTunnel("backup", "vps2", "10.88.0.0/24", 100));
  Peer second = ManagedPeer("home-backup", "backup", "home-gw", 110);
  second.spec.interface = "wg1";
  second.spec.lan = {Cidr("10.99.0.0/24"), Cidr("192.168.1.0/25")};
  second.spec.gateway = true;
  fleet.peers.push_back(second);
  CHECK(Validate(fleet) ==
        "fleet.yaml:110:1: error: Peer/home-backup: spec.lan[1]: lan 192.168.1.0/25 overlaps lan 192.168.1.0/24 of "
        "Peer/home (fleet.yaml:10): agent \"home-gw\" cannot send one LAN's internet traffic into two tunnels; set "
        "gateway: true on one of them only\n");
  // The same LAN reached through two tunnels without gateway mode is fine (forwards from two VPSes).
  fleet.peers.back().spec.gateway = false;
  CHECK(Validate(fleet).empty());
}

TEST_CASE("unmanaged peers' public keys are unique per tunnel") {
  Fleet fleet = BaseFleet();
  fleet.peers.push_back(UnmanagedPeer("laptop", "vps", 1, 100));
  fleet.tunnels.push_back(MakeTunnel("other", "vps2", "10.78.0.0/24", 200));
  fleet.peers.push_back(UnmanagedPeer("phone-other", "other", 1, 210));  // another tunnel: fine
  Peer keepalive = UnmanagedPeer("watch", "vps", 3, 220);                // keepalive is allowed
  keepalive.spec.keepalive = 25;
  fleet.peers.push_back(keepalive);
  CHECK(Validate(fleet) ==
        "fleet.yaml:100:1: error: Peer/laptop: spec.publicKey: publicKey \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\" is "
        "already used by Peer/phone (fleet.yaml:20) on Tunnel/vps\n");
}

TEST_CASE("diagnostics point at the field's own mark and cite the other resource's field line") {
  Fleet fleet = BaseFleet();
  fleet.peers[0].origin.fields = {{"metadata.name", {12, 9}}, {"spec.address", {15, 12}}};
  Peer clash = UnmanagedPeer("clash", "vps", 2, 100);
  clash.spec.address = Address("10.77.0.2");
  clash.origin.file = "peers/clash.yaml";
  clash.origin.fields = {{"metadata.name", {102, 9}}, {"spec.address", {106, 12}}};
  fleet.peers.push_back(clash);
  Diagnostics diagnostics = ValidateFleet(fleet);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0] == Diagnostic{Severity::kError, "peers/clash.yaml", {106, 12}, "Peer/clash", "spec.address",
                                     "address 10.77.0.2 is already used by Peer/home (fleet.yaml:15) on Tunnel/vps"});
}

TEST_CASE("every independent finding is reported, sorted by file and line") {
  Fleet fleet = BaseFleet();
  fleet.peers.push_back(UnmanagedPeer("laptop", "vpn", 2, 100));
  fleet.forwards.push_back(Forward("a", "vps", Protocol::kTcp, "80", "192.168.1.10", 40));
  fleet.forwards.push_back(Forward("b", "vps", Protocol::kTcp, "80", "192.168.1.11", 50));
  fleet.templates.push_back(Template("web", {{Protocol::kTcp, {{8080, 8080}}}}, 30));
  fleet.forwards.push_back(Forward("c", "vps", Protocol::kUdp, "9", "10.77.0.1", 60));
  CHECK(Validate(fleet) ==
        "fleet.yaml:30:1: error: ServiceTemplate/web: metadata.name: name \"web\" is taken by a built-in ServiceTemplate "
        "(tcp 80, tcp 443); choose another name\n"
        "fleet.yaml:50:1: error: PortForward/b: spec.ports: tcp 80 overlaps tcp 80 of PortForward/a (fleet.yaml:40) on "
        "Tunnel/vps\n"
        "fleet.yaml:60:1: error: PortForward/c: spec.to.address: to.address 10.77.0.1 is the server's address of "
        "Tunnel/vps (10.77.0.0/24); forward to a peer's address or to an address in a peer's lan\n"
        "fleet.yaml:100:1: error: Peer/laptop: spec.tunnel: Tunnel \"vpn\" does not exist; did you mean \"vps\"?\n");
}

TEST_CASE("overlaps are found by a sweep at scale: one forward clashing with two of 20,000") {
  Fleet fleet = BaseFleet();
  for (int i = 0; i < 20000; ++i) {
    std::string ports = std::to_string(1000 + 2 * i) + "-" + std::to_string(1001 + 2 * i);
    std::string name = "f";
    name += std::to_string(i);  // not "f" + ...: GCC 12 warns falsely (-Wrestrict) on that
    fleet.forwards.push_back(Forward(name, "vps", Protocol::kBoth, ports.c_str(), "192.168.1.10", 100 + i));
  }
  fleet.forwards.push_back(Forward("clash", "vps", Protocol::kUdp, "40001-40002", "192.168.1.10", 50000));
  CHECK(Validate(fleet) ==
        "fleet.yaml:50000:1: error: PortForward/clash: spec.ports: udp 40001-40002 overlaps udp 40000-40001 of "
        "PortForward/f19500 (fleet.yaml:19600) on Tunnel/vps\n"
        "fleet.yaml:50000:1: error: PortForward/clash: spec.ports: udp 40001-40002 overlaps udp 40002-40003 of "
        "PortForward/f19501 (fleet.yaml:19601) on Tunnel/vps\n");
}

TEST_CASE("references to documents that failed to load are not reported again as missing") {
  Fleet fleet = BaseFleet();
  fleet.peers.push_back(UnmanagedPeer("laptop", "broken", 2, 100));
  fleet.peers.push_back(UnmanagedPeer("tablet", "vpn", 3, 110));
  PortForward forward = Forward("game", "vps", Protocol::kTcp, "2022", "10.77.0.9", 120);
  forward.spec.to.peer = "nas";
  fleet.forwards.push_back(forward);
  fleet.forwards.push_back(TemplateForward("mine", "vps", "mine", "192.168.1.10", 130));
  Diagnostics load = {Diagnostic{Severity::kError, "fleet.yaml", {200, 3}, "Tunnel/broken", "spec.network", "bad"},
                      Diagnostic{Severity::kError, "fleet.yaml", {210, 3}, "Peer/nas", "spec.address", "bad"}};
  std::string findings;
  for (const Diagnostic& diagnostic : ValidateFleet(fleet, load)) findings += FormatDiagnostic(diagnostic) + "\n";
  // Tunnel/broken and Peer/nas exist but did not load; 10.77.0.9 may be Peer/nas's address.
  CHECK(findings ==
        "fleet.yaml:110:1: error: Peer/tablet: spec.tunnel: Tunnel \"vpn\" does not exist; did you mean \"vps\"?\n"
        "fleet.yaml:130:1: error: PortForward/mine: spec.template: ServiceTemplate \"mine\" does not exist\n");

  // A document whose name is unknown may be any Tunnel; a syntax error may hide any document.
  Diagnostics unnamed = {Diagnostic{Severity::kError, "fleet.yaml", {200, 3}, "Tunnel", "metadata.name", "bad"}};
  findings.clear();
  for (const Diagnostic& diagnostic : ValidateFleet(fleet, unnamed)) findings += FormatDiagnostic(diagnostic) + "\n";
  CHECK(findings ==
        "fleet.yaml:120:1: error: PortForward/game: spec.to.peer: Peer \"nas\" does not exist\n"
        "fleet.yaml:120:1: error: PortForward/game: spec.to.address: to.address 10.77.0.9 is inside the network "
        "10.77.0.0/24 of Tunnel/vps but is no peer's spec.address; forward to a peer whose spec.address is set\n"
        "fleet.yaml:130:1: error: PortForward/mine: spec.template: ServiceTemplate \"mine\" does not exist\n");
  CHECK(ValidateFleet(fleet, {Diagnostic{Severity::kError, "fleet.yaml", {1, 1}, "", "", "invalid YAML"}}).empty());
}

TEST_CASE("validate: enrolled modes: a client-enrolled tunnel server and a server-enrolled plain client are refused") {
  Fleet fleet;
  Tunnel tunnel;
  tunnel.metadata.name = "home";
  tunnel.spec.agent = "vps";
  tunnel.spec.endpoint = "vps.example.net";
  tunnel.spec.interface = "wg0";
  tunnel.spec.network = *Ipv4Cidr::Parse("10.77.0.0/24");
  fleet.tunnels.push_back(tunnel);
  Peer peer;
  peer.metadata.name = "gw";
  peer.spec.tunnel = "home";
  peer.spec.agent = "gw";
  peer.spec.interface = "wg0";
  fleet.peers.push_back(peer);

  ValidationContext right;
  right.enrolled = {{"vps", EnrolledMode::kServer}, {"gw", EnrolledMode::kClient}};
  CHECK(ValidateFleet(fleet, right).empty());
  ValidationContext wrong;
  wrong.enrolled = {{"vps", EnrolledMode::kClient}, {"gw", EnrolledMode::kServer}};
  Diagnostics found = ValidateFleet(fleet, wrong);
  REQUIRE(found.size() == 2);
  const Diagnostic& tunnel_finding = found[0].object == "Tunnel/home" ? found[0] : found[1];
  const Diagnostic& peer_finding = found[0].object == "Peer/gw" ? found[0] : found[1];
  CHECK(tunnel_finding.object == "Tunnel/home");
  CHECK(tunnel_finding.field == "spec.agent");
  CHECK(tunnel_finding.message.rfind("agent \"vps\" is enrolled as a client, but Tunnel/home needs it as its server", 0) == 0);
  CHECK(peer_finding.object == "Peer/gw");
  CHECK(peer_finding.message.rfind("agent \"gw\" is enrolled as a server, but Peer/gw needs it as a client of Tunnel/home", 0) == 0);
  // Not enrolled yet: nothing to check.
  CHECK(ValidateFleet(fleet, ValidationContext{}).empty());
}
