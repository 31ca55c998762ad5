// ToCommands: the exact wg / ip / iptables-restore / sysctl lines each plan step becomes,
// how steps are batched, and the checks that keep plan text out of argv options and
// restore-script lines.

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agent/apply/commands.h"
#include "schema/plan.h"
#include "schema/wire_json.h"

namespace ww::agent {
namespace {

const WireguardKey kServerKey = *WireguardKey::Parse("PbSK/Kg/maYUE1U0WBEwpINugfslGFR+2uHLWgigiks=");
const WireguardKey kGatewayKey = *WireguardKey::Parse("jBBZRYNjm427kz+vJYp6mBWXMnUoSRqX1CEhl3qtgGk=");
const WireguardKey kPhoneKey = *WireguardKey::Parse("cg0joZYyMg+Eob9eBe+ae5MfI1eJ7HKf84WRjvC6tAM=");
constexpr const char* kKeyPath = "/var/lib/wirewarp/wireguard.key";

Ipv4Cidr Cidr(const char* text) { return *Ipv4Cidr::Parse(text); }

CommandContext Context(WireguardImplementation implementation = WireguardImplementation::kKernel) {
  CommandContext context;
  context.private_key_path = kKeyPath;
  context.implementation = implementation;
  return context;
}

Plan PlanOf(std::vector<StepAction> actions) {
  Plan plan;
  for (StepAction& action : actions) plan.steps.push_back({std::move(action), Destructive::kNo});
  return plan;
}

std::vector<std::string> Lines(const Plan& plan, const CommandContext& context = Context()) {
  auto commands = ToCommands(plan, context);
  REQUIRE(commands.ok());
  std::vector<std::string> lines;
  for (const Command& command : *commands) lines.push_back(FormatArgv(command.argv));
  return lines;
}

std::vector<std::string> Lines(StepAction action, const CommandContext& context = Context()) {
  return Lines(PlanOf({std::move(action)}), context);
}

WireguardPeer Peer(const WireguardKey& key, std::vector<Ipv4Cidr> allowed, std::string endpoint = "",
                   int keepalive = 0) {
  WireguardPeer peer;
  peer.name = "peer";
  peer.public_key = key;
  peer.allowed_ips = std::move(allowed);
  peer.endpoint = std::move(endpoint);
  peer.persistent_keepalive = keepalive;
  return peer;
}

TEST_CASE("CreateInterface uses the kernel module or wireguard-go, then sets the MTU") {
  CHECK(Lines(CreateInterface{"wg0", 1420}) ==
        std::vector<std::string>{"ip link add wg0 type wireguard", "ip link set wg0 mtu 1420"});
  CHECK(Lines(CreateInterface{"wg0", 1380}, Context(WireguardImplementation::kUserspace)) ==
        std::vector<std::string>{"wireguard-go wg0", "ip link set wg0 mtu 1380"});
  CHECK(Lines(CreateInterface{"wg0", 1420}, Context(WireguardImplementation::kUnknown)) ==
        std::vector<std::string>{"ip link add wg0 type wireguard", "ip link set wg0 mtu 1420"});
  CHECK(CreateInterfaceCommand("wg9", WireguardImplementation::kUserspace).argv ==
        std::vector<std::string>{"wireguard-go", "wg9"});
}

TEST_CASE("ConfigureInterface passes the private key by file, never by value") {
  CHECK(Lines(ConfigureInterface{"wg0", 51820, 0, kServerKey}) ==
        std::vector<std::string>{
            "wg set wg0 private-key /var/lib/wirewarp/wireguard.key listen-port 51820 fwmark off"});
  CHECK(Lines(ConfigureInterface{"wg1", 0, 51820, kServerKey}) ==
        std::vector<std::string>{"wg set wg1 private-key /var/lib/wirewarp/wireguard.key fwmark 0xca6c"});
}

TEST_CASE("Interface address, MTU, link state and deletion map to ip") {
  CHECK(Lines(AddInterfaceAddress{"wg0", Cidr("10.77.0.1/24")}) ==
        std::vector<std::string>{"ip address add 10.77.0.1/24 dev wg0"});
  CHECK(Lines(RemoveInterfaceAddress{"wg0", Cidr("10.66.0.1/24")}) ==
        std::vector<std::string>{"ip address del 10.66.0.1/24 dev wg0"});
  CHECK(Lines(SetInterfaceMtu{"wg0", 1280}) == std::vector<std::string>{"ip link set wg0 mtu 1280"});
  CHECK(Lines(SetInterfaceUp{"wg0"}) == std::vector<std::string>{"ip link set wg0 up"});
  CHECK(Lines(DeleteInterface{"wg0"}) == std::vector<std::string>{"ip link del wg0"});
}

TEST_CASE("All peer steps of one interface become one wg set, also when the plan puts removals last") {
  Plan plan = PlanOf({
      UpsertPeer{"wg0", Peer(kGatewayKey, {Cidr("10.77.0.2/32"), Cidr("192.168.50.0/24")})},
      UpsertPeer{"wg0", Peer(kPhoneKey, {Cidr("10.77.0.10/32")}, "198.51.100.7:40000", 25)},
      AddRoute{Route{Cidr("192.168.50.0/24"), "wg0", std::nullopt, kMainTable}},
      RemovePeer{"wg0", kServerKey},
  });
  auto batches = ToCommandBatches(plan, Context());
  REQUIRE(batches.ok());
  REQUIRE(batches->size() == 2);
  CHECK((*batches)[0].steps == std::vector<size_t>{0, 1, 3});
  REQUIRE((*batches)[0].commands.size() == 1);
  CHECK((*batches)[0].commands[0].argv ==
        std::vector<std::string>{"wg",
                                 "set",
                                 "wg0",
                                 "peer",
                                 "jBBZRYNjm427kz+vJYp6mBWXMnUoSRqX1CEhl3qtgGk=",
                                 "persistent-keepalive",
                                 "0",
                                 "allowed-ips",
                                 "10.77.0.2/32,192.168.50.0/24",
                                 "peer",
                                 "cg0joZYyMg+Eob9eBe+ae5MfI1eJ7HKf84WRjvC6tAM=",
                                 "endpoint",
                                 "198.51.100.7:40000",
                                 "persistent-keepalive",
                                 "25",
                                 "allowed-ips",
                                 "10.77.0.10/32",
                                 "peer",
                                 "PbSK/Kg/maYUE1U0WBEwpINugfslGFR+2uHLWgigiks=",
                                 "remove"});
  CHECK((*batches)[1].steps == std::vector<size_t>{2});
}

TEST_CASE("Peer steps of different interfaces get one wg set each") {
  Plan plan = PlanOf({
      UpsertPeer{"wg0", Peer(kGatewayKey, {})},
      UpsertPeer{"wg1", Peer(kPhoneKey, {Cidr("10.78.0.2/32")})},
      RemovePeer{"wg1", kServerKey},
      RemovePeer{"wg0", kPhoneKey},
  });
  auto batches = ToCommandBatches(plan, Context());
  REQUIRE(batches.ok());
  REQUIRE(batches->size() == 2);
  CHECK((*batches)[0].steps == std::vector<size_t>{0, 3});
  CHECK((*batches)[1].steps == std::vector<size_t>{1, 2});
  CHECK(Lines(plan) ==
        std::vector<std::string>{
            // An empty allowed-ips argument clears the peer's set.
            "wg set wg0 peer jBBZRYNjm427kz+vJYp6mBWXMnUoSRqX1CEhl3qtgGk= persistent-keepalive 0 allowed-ips '' "
            "peer cg0joZYyMg+Eob9eBe+ae5MfI1eJ7HKf84WRjvC6tAM= remove",
            "wg set wg1 peer cg0joZYyMg+Eob9eBe+ae5MfI1eJ7HKf84WRjvC6tAM= persistent-keepalive 0 allowed-ips "
            "10.78.0.2/32 peer PbSK/Kg/maYUE1U0WBEwpINugfslGFR+2uHLWgigiks= remove"});
}

TEST_CASE("Routes carry the table number and proto 87") {
  Route lan{Cidr("192.168.50.0/24"), "wg0", std::nullopt, kMainTable};
  Route default_route{Cidr("0.0.0.0/0"), "wg0", *Ipv4Address::Parse("10.77.0.1"), 10101};
  CHECK(Lines(AddRoute{lan}) == std::vector<std::string>{"ip route replace 192.168.50.0/24 dev wg0 table 254 proto 87"});
  CHECK(Lines(AddRoute{default_route}) ==
        std::vector<std::string>{"ip route replace 0.0.0.0/0 dev wg0 via 10.77.0.1 table 10101 proto 87"});
  CHECK(Lines(DeleteRoute{default_route}) ==
        std::vector<std::string>{"ip route del 0.0.0.0/0 dev wg0 table 10101 proto 87"});
}

TEST_CASE("Rules are deleted with the same selectors they were added with") {
  RoutingRule full{10100, Cidr("192.168.50.0/24"), Cidr("10.0.0.0/8"), 0x51, 10101};
  RoutingRule minimal{10001, std::nullopt, std::nullopt, 0, kMainTable};
  RoutingRule mark_only{10200, std::nullopt, std::nullopt, 0xca6c, 10101};
  CHECK(Lines(AddRule{full}) ==
        std::vector<std::string>{
            "ip rule add priority 10100 from 192.168.50.0/24 to 10.0.0.0/8 fwmark 0x51 lookup 10101 proto 87"});
  CHECK(Lines(DeleteRule{full}) ==
        std::vector<std::string>{
            "ip rule del priority 10100 from 192.168.50.0/24 to 10.0.0.0/8 fwmark 0x51 lookup 10101 proto 87"});
  CHECK(Lines(AddRule{minimal}) == std::vector<std::string>{"ip rule add priority 10001 lookup 254 proto 87"});
  CHECK(Lines(DeleteRule{mark_only}) ==
        std::vector<std::string>{"ip rule del priority 10200 fwmark 0xca6c lookup 10101 proto 87"});
}

TEST_CASE("SetSysctl runs sysctl quietly") {
  CHECK(Lines(SetSysctl{Sysctl{"net.ipv4.conf.all.rp_filter", "2"}}) ==
        std::vector<std::string>{"sysctl -q -w net.ipv4.conf.all.rp_filter=2"});
}

TEST_CASE("Firewall steps of one table become one iptables-restore --noflush script") {
  Plan plan = PlanOf({
      WriteChain{FirewallChain{FirewallTable::kNat, "WIREWARP-PREROUTING",
                               {"! -i wg0 -p tcp -m tcp --dport 25565 -j DNAT --to-destination 192.168.50.10:25565",
                                "! -i wg0 -p udp -m udp --dport 2302:2305 -j DNAT --to-destination "
                                "192.168.50.11:2302-2305"}}},
      EditChain{FirewallTable::kNat, "WIREWARP-POSTROUTING", {"-s 10.66.0.0/24 ! -o wg0 -j MASQUERADE"},
                {"-s 10.77.0.0/24 ! -o wg0 -j MASQUERADE"}},
      AddJump{FirewallJump{FirewallTable::kNat, "POSTROUTING", "-j WIREWARP-POSTROUTING"}},
      AddJump{FirewallJump{FirewallTable::kNat, "PREROUTING", "-m addrtype --dst-type LOCAL -j WIREWARP-PREROUTING"}},
      DeleteJump{FirewallJump{FirewallTable::kNat, "OUTPUT", "-j WIREWARP-OLD"}},
      DeleteChain{FirewallTable::kNat, "WIREWARP-OLD"},
  });
  auto batches = ToCommandBatches(plan, Context());
  REQUIRE(batches.ok());
  REQUIRE(batches->size() == 1);
  CHECK((*batches)[0].steps == std::vector<size_t>{0, 1, 2, 3, 4, 5});
  REQUIRE((*batches)[0].commands.size() == 1);
  const Command& restore = (*batches)[0].commands[0];
  CHECK(restore.argv == std::vector<std::string>{"iptables-restore", "--noflush", "--wait"});
  CHECK(restore.effect == Effect::kMutating);
  CHECK_FALSE(restore.stdin_is_secret);
  CHECK(restore.stdin_data ==
        "*nat\n"
        ":WIREWARP-PREROUTING - [0:0]\n"
        "-A WIREWARP-PREROUTING ! -i wg0 -p tcp -m tcp --dport 25565 -j DNAT --to-destination 192.168.50.10:25565\n"
        "-A WIREWARP-PREROUTING ! -i wg0 -p udp -m udp --dport 2302:2305 -j DNAT --to-destination "
        "192.168.50.11:2302-2305\n"
        "-D WIREWARP-POSTROUTING -s 10.66.0.0/24 ! -o wg0 -j MASQUERADE\n"
        "-A WIREWARP-POSTROUTING -s 10.77.0.0/24 ! -o wg0 -j MASQUERADE\n"
        "-D OUTPUT -j WIREWARP-OLD\n"
        "-I PREROUTING 1 -m addrtype --dst-type LOCAL -j WIREWARP-PREROUTING\n"
        "-I POSTROUTING 1 -j WIREWARP-POSTROUTING\n"
        "-F WIREWARP-OLD\n"
        "-X WIREWARP-OLD\n"
        "COMMIT\n");
}

TEST_CASE("Jumps into one built-in chain end up in plan order") {
  Plan plan = PlanOf({
      AddJump{FirewallJump{FirewallTable::kMangle, "FORWARD", "-j WIREWARP-A"}},
      AddJump{FirewallJump{FirewallTable::kMangle, "FORWARD", "-j WIREWARP-B"}},
  });
  auto commands = ToCommands(plan, Context());
  REQUIRE(commands.ok());
  REQUIRE(commands->size() == 1);
  // Inserted at the top in reverse: FORWARD then reads WIREWARP-A, WIREWARP-B.
  CHECK((*commands)[0].stdin_data == "*mangle\n-I FORWARD 1 -j WIREWARP-B\n-I FORWARD 1 -j WIREWARP-A\nCOMMIT\n");
}

TEST_CASE("A goto into an owned chain that the host has can be deleted") {
  auto commands = ToCommands(PlanOf({DeleteJump{FirewallJump{FirewallTable::kFilter, "INPUT", "-i wg0 -g WIREWARP-IN"}}}),
                             Context());
  REQUIRE(commands.ok());
  CHECK((*commands)[0].stdin_data == "*filter\n-D INPUT -i wg0 -g WIREWARP-IN\nCOMMIT\n");
}

TEST_CASE("Each table gets its own restore, in order of first appearance") {
  Plan plan = PlanOf({
      WriteChain{FirewallChain{FirewallTable::kFilter, "WIREWARP-FORWARD", {"-i wg0 -o wg0 -j ACCEPT"}}},
      WriteChain{FirewallChain{FirewallTable::kNat, "WIREWARP-POSTROUTING", {"-s 10.77.0.0/24 ! -o wg0 -j MASQUERADE"}}},
      AddJump{FirewallJump{FirewallTable::kFilter, "FORWARD", "-j WIREWARP-FORWARD"}},
      AddJump{FirewallJump{FirewallTable::kNat, "POSTROUTING", "-j WIREWARP-POSTROUTING"}},
      SetSysctl{Sysctl{"net.ipv4.ip_forward", "1"}},
      DeleteChain{FirewallTable::kFilter, "WIREWARP-GONE"},
  });
  auto batches = ToCommandBatches(plan, Context());
  REQUIRE(batches.ok());
  REQUIRE(batches->size() == 4);
  CHECK((*batches)[0].steps == std::vector<size_t>{0, 2});
  CHECK((*batches)[0].commands[0].stdin_data ==
        "*filter\n:WIREWARP-FORWARD - [0:0]\n-A WIREWARP-FORWARD -i wg0 -o wg0 -j ACCEPT\n"
        "-I FORWARD 1 -j WIREWARP-FORWARD\nCOMMIT\n");
  CHECK((*batches)[1].steps == std::vector<size_t>{1, 3});
  CHECK((*batches)[1].commands[0].stdin_data ==
        "*nat\n:WIREWARP-POSTROUTING - [0:0]\n-A WIREWARP-POSTROUTING -s 10.77.0.0/24 ! -o wg0 -j MASQUERADE\n"
        "-I POSTROUTING 1 -j WIREWARP-POSTROUTING\nCOMMIT\n");
  // A step between firewall steps ends the run: plan order is kept.
  CHECK((*batches)[2].steps == std::vector<size_t>{4});
  CHECK((*batches)[3].steps == std::vector<size_t>{5});
  CHECK((*batches)[3].commands[0].stdin_data == "*filter\n-F WIREWARP-GONE\n-X WIREWARP-GONE\nCOMMIT\n");
}

TEST_CASE("Every command is mutating and carries the context's timeout") {
  CommandContext context = Context(WireguardImplementation::kUserspace);
  context.timeout = std::chrono::milliseconds(2500);
  Plan plan = PlanOf({CreateInterface{"wg0", 1420}, ConfigureInterface{"wg0", 51820, 0, kServerKey},
                      UpsertPeer{"wg0", Peer(kPhoneKey, {})}, SetSysctl{Sysctl{"net.ipv4.ip_forward", "1"}},
                      WriteChain{FirewallChain{FirewallTable::kFilter, "WIREWARP-FORWARD", {}}}});
  auto commands = ToCommands(plan, context);
  REQUIRE(commands.ok());
  REQUIRE(commands->size() == 6);
  for (const Command& command : *commands) {
    CAPTURE(FormatArgv(command.argv));
    CHECK(command.effect == Effect::kMutating);
    CHECK(command.timeout == std::chrono::milliseconds(2500));
    CHECK_FALSE(command.stdin_is_secret);
  }
}

TEST_CASE("ToCommands refuses plan text that would escape argv or the restore script") {
  struct Case {
    StepAction action;
    std::string message;
  };
  std::vector<Case> cases = {
      {WriteChain{FirewallChain{FirewallTable::kNat, "WIREWARP-X", {"-j ACCEPT\n*filter\n-F FORWARD"}}},
       "plan step 1 (WriteChain): rule \"-j ACCEPT\\x0a*filter\\x0a-F FORWARD\" has a control character"},
      {CreateInterface{"-wg0", 1420},
       "plan step 1 (CreateInterface): interface name \"-wg0\" is not 1-15 letters, digits, '_', '.' or '-'"},
      {DeleteInterface{"wireguard-interface0"},
       "plan step 1 (DeleteInterface): interface name \"wireguard-interface0\" is not 1-15 letters, digits, '_', "
       "'.' or '-'"},
      {AddRoute{Route{Cidr("10.0.0.0/8"), "eth0 x", std::nullopt, kMainTable}},
       "plan step 1 (AddRoute): interface name \"eth0 x\" is not 1-15 letters, digits, '_', '.' or '-'"},
      {DeleteChain{FirewallTable::kFilter, "DOCKER-USER"},
       "plan step 1 (DeleteChain): chain \"DOCKER-USER\" is not an owned chain (WIREWARP-..., at most 28 letters, "
       "digits, '_' or '-')"},
      {AddJump{FirewallJump{FirewallTable::kFilter, "FORWARD", "-j ACCEPT"}},
       "plan step 1 (AddJump): jump rule \"-j ACCEPT\" does not end in \"-j WIREWARP-...\""},
      {DeleteJump{FirewallJump{FirewallTable::kFilter, "DOCKER-USER", "-j WIREWARP-FORWARD"}},
       "plan step 1 (DeleteJump): chain \"DOCKER-USER\" is not a built-in chain"},
      {SetSysctl{Sysctl{"-p", "1"}}, "plan step 1 (SetSysctl): sysctl key \"-p\" is not a sysctl name"},
      {SetSysctl{Sysctl{"net.ipv4.ip_forward", "1\n"}},
       "plan step 1 (SetSysctl): sysctl value \"1\\x0a\" has a control character"},
      {UpsertPeer{"wg0", Peer(kPhoneKey, {}, "--help")},
       "plan step 1 (UpsertPeer): endpoint \"--help\" is not a host:port"},
  };
  for (const Case& test : cases) {
    CAPTURE(test.message);
    auto commands = ToCommands(PlanOf({test.action}), Context());
    REQUIRE_FALSE(commands.ok());
    CHECK(commands.status().code() == StatusCode::kInvalidArgument);
    CHECK(commands.status().message() == test.message);
  }

  CommandContext no_key = Context();
  no_key.private_key_path = "";
  auto configure = ToCommands(PlanOf({SetInterfaceUp{"wg0"}, ConfigureInterface{"wg0", 1, 0, kServerKey}}), no_key);
  REQUIRE_FALSE(configure.ok());
  CHECK(configure.status().message() == "plan step 2 (ConfigureInterface): private key path \"\" is not usable");
}

// A gateway client with a LAN, policy routing and connmark reply routing, built by hand.
AgentConfig GatewayConfig() {
  AgentConfig config;
  config.agent = "home-gw";
  WireguardInterface interface;
  interface.name = "wg0";
  interface.tunnel = "homelab";
  interface.role = InterfaceRole::kClient;
  interface.address = Cidr("10.77.0.2/24");
  interface.fwmark = 0x5757;
  interface.public_key = kGatewayKey;
  interface.peers.push_back(Peer(kServerKey, {Cidr("0.0.0.0/0")}, "vps.example.net:51820", 25));
  config.interfaces.push_back(interface);
  config.routes = {Route{Cidr("0.0.0.0/0"), "wg0", std::nullopt, 10100},
                   Route{Cidr("192.168.50.0/24"), "eth0", std::nullopt, 10100}};
  config.rules = {RoutingRule{10000, std::nullopt, Cidr("203.0.113.10/32"), 0, kMainTable},
                  RoutingRule{10100, Cidr("192.168.50.0/24"), std::nullopt, 0, 10100},
                  RoutingRule{10200, std::nullopt, std::nullopt, 0x100, 10100}};
  config.chains = {
      FirewallChain{FirewallTable::kFilter, "WIREWARP-FORWARD",
                    {"-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", "-d 192.168.50.0/24 -i wg0 -j ACCEPT"}},
      FirewallChain{FirewallTable::kMangle, "WIREWARP-PREROUTING",
                    {"-i wg0 -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x100/0xffffffff"}},
  };
  config.jumps = {FirewallJump{FirewallTable::kFilter, "FORWARD", "-j WIREWARP-FORWARD"},
                  FirewallJump{FirewallTable::kMangle, "PREROUTING", "-j WIREWARP-PREROUTING"}};
  config.sysctls = {Sysctl{"net.ipv4.ip_forward", "1"}, Sysctl{"net.ipv4.conf.all.rp_filter", "2"}};
  return config;
}

TEST_CASE("A gateway's first apply, from ComputePlan against an empty host") {
  Plan plan = ComputePlan(GatewayConfig(), ObservedState{});
  CHECK(Lines(plan) ==
        std::vector<std::string>{
            "ip link add wg0 type wireguard",
            "ip link set wg0 mtu 1420",
            "wg set wg0 private-key /var/lib/wirewarp/wireguard.key fwmark 0x5757",
            "ip address add 10.77.0.2/24 dev wg0",
            "ip link set wg0 up",
            "sysctl -q -w net.ipv4.ip_forward=1",
            "sysctl -q -w net.ipv4.conf.all.rp_filter=2",
            "wg set wg0 peer PbSK/Kg/maYUE1U0WBEwpINugfslGFR+2uHLWgigiks= endpoint vps.example.net:51820 "
            "persistent-keepalive 25 allowed-ips 0.0.0.0/0",
            "ip route replace 0.0.0.0/0 dev wg0 table 10100 proto 87",
            "ip route replace 192.168.50.0/24 dev eth0 table 10100 proto 87",
            "ip rule add priority 10000 to 203.0.113.10/32 lookup 254 proto 87",
            "ip rule add priority 10100 from 192.168.50.0/24 lookup 10100 proto 87",
            "ip rule add priority 10200 fwmark 0x100 lookup 10100 proto 87",
            "iptables-restore --noflush --wait",
            "iptables-restore --noflush --wait",
        });
  auto commands = ToCommands(plan, Context());
  REQUIRE(commands.ok());
  REQUIRE(commands->size() == 15);
  CHECK((*commands)[13].stdin_data ==
        "*filter\n"
        ":WIREWARP-FORWARD - [0:0]\n"
        "-A WIREWARP-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
        "-A WIREWARP-FORWARD -d 192.168.50.0/24 -i wg0 -j ACCEPT\n"
        "-I FORWARD 1 -j WIREWARP-FORWARD\n"
        "COMMIT\n");
  CHECK((*commands)[14].stdin_data ==
        "*mangle\n"
        ":WIREWARP-PREROUTING - [0:0]\n"
        "-A WIREWARP-PREROUTING -i wg0 -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x100/0xffffffff\n"
        "-I PREROUTING 1 -j WIREWARP-PREROUTING\n"
        "COMMIT\n");
}

TEST_CASE("Taking the gateway down removes exactly what it owns, with matching selectors") {
  AgentConfig config = GatewayConfig();
  ObservedState host = SimulateApply(ObservedState{}, ComputePlan(config, ObservedState{}));
  CHECK(ComputePlan(config, host).empty());  // the no-op re-apply runs nothing
  auto nothing = ToCommands(ComputePlan(config, host), Context());
  REQUIRE(nothing.ok());
  CHECK(nothing->empty());

  Plan down = ComputePlan(AgentConfig{}, host);
  CHECK(Lines(down) == std::vector<std::string>{
                           "iptables-restore --noflush --wait",
                           "iptables-restore --noflush --wait",
                           "ip rule del priority 10000 to 203.0.113.10/32 lookup 254 proto 87",
                           "ip rule del priority 10100 from 192.168.50.0/24 lookup 10100 proto 87",
                           "ip rule del priority 10200 fwmark 0x100 lookup 10100 proto 87",
                           "ip route del 0.0.0.0/0 dev wg0 table 10100 proto 87",
                           "ip route del 192.168.50.0/24 dev eth0 table 10100 proto 87",
                           "ip link del wg0",
                       });
  auto commands = ToCommands(down, Context());
  REQUIRE(commands.ok());
  CHECK((*commands)[0].stdin_data ==
        "*filter\n-D FORWARD -j WIREWARP-FORWARD\n-F WIREWARP-FORWARD\n-X WIREWARP-FORWARD\nCOMMIT\n");
  CHECK((*commands)[1].stdin_data ==
        "*mangle\n-D PREROUTING -j WIREWARP-PREROUTING\n-F WIREWARP-PREROUTING\n-X WIREWARP-PREROUTING\nCOMMIT\n");
}

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(WW_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST_CASE("The example VPS config becomes one wg set and one restore per table") {
  auto config = AgentConfigFromJson(ReadSource("examples/homelab/rendered/vps.json"));
  REQUIRE(config.ok());
  Plan plan = ComputePlan(*config, ObservedState{});
  auto batches = ToCommandBatches(plan, Context());
  REQUIRE(batches.ok());

  std::vector<size_t> covered;
  int wg_sets = 0;
  std::vector<std::string> restores;
  for (const CommandBatch& batch : *batches) {
    covered.insert(covered.end(), batch.steps.begin(), batch.steps.end());
    for (const Command& command : batch.commands) {
      if (command.argv[0] == "wg" && command.argv[3] == "peer") ++wg_sets;
      if (command.argv[0] == "iptables-restore") restores.push_back(command.stdin_data);
    }
  }
  std::sort(covered.begin(), covered.end());
  std::vector<size_t> every_step(plan.steps.size());
  for (size_t i = 0; i < every_step.size(); ++i) every_step[i] = i;
  CHECK(covered == every_step);  // each step in exactly one batch
  CHECK(wg_sets == 1);
  REQUIRE(restores.size() == 3);
  // Every rendered rule reaches its table's script verbatim, in order, after its chain
  // is declared; every jump is inserted.
  for (const FirewallChain& chain : config->chains) {
    std::string header = "*" + std::string(FirewallTableName(chain.table)) + "\n";
    auto script = std::find_if(restores.begin(), restores.end(), [&](const std::string& s) { return s.starts_with(header); });
    REQUIRE(script != restores.end());
    size_t declared = script->find(":" + chain.name + " - [0:0]\n");
    std::string lines;
    for (const std::string& rule : chain.rules) lines += "-A " + chain.name + " " + rule + "\n";
    size_t written = script->find(lines);
    CHECK(declared != std::string::npos);
    CHECK(written != std::string::npos);
    CHECK(declared < written);
  }
  for (const FirewallJump& jump : config->jumps) {
    std::string header = "*" + std::string(FirewallTableName(jump.table)) + "\n";
    auto script = std::find_if(restores.begin(), restores.end(), [&](const std::string& s) { return s.starts_with(header); });
    REQUIRE(script != restores.end());
    CHECK(script->find("-I " + jump.chain + " 1 " + jump.rule + "\n") != std::string::npos);
  }
}

}  // namespace
}  // namespace ww::agent
