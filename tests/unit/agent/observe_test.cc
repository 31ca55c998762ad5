// Observation: the parsers on real captures from tests/testdata/agent/ (see its README.md
// for how they were made; re-capturing changes keys, ports and counters, so the expected
// values below must be updated with it), and Observe against a RecordingRunner scripted
// with the same captures.

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "agent/observe/observer.h"
#include "agent/observe/parsers.h"
#include "agent/system/recording_runner.h"
#include "tests/support/test_values.h"

using namespace ww;
using namespace ww::agent;

namespace {

std::string Testdata(const std::string& name) {
  std::ifstream file(std::string(WW_SOURCE_DIR) + "/tests/testdata/agent/" + name, std::ios::binary);
  REQUIRE_MESSAGE(file.good(), "missing testdata file " << name);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

using test_support::Cidr;
using test_support::KeyFromBase64;

Ipv4Address Ip(const char* text) {
  auto address = Ipv4Address::Parse(text);
  REQUIRE(address.ok());
  return *address;
}

// Keys in the captures (public keys; the private and preshared keys were replaced).
constexpr const char* kVpsPublic = "6HjdmlDvPz/Za0Hu1XBAsOUOK9hwxSoAXPM0wQMPVnU=";
constexpr const char* kGwPublic = "78db5NPxfjXbuy/9Lnx2hUL2GUquVLM0Q6ICQuhdYT0=";
constexpr const char* kPeerXPublic = "UTjUr2+2go+gnChVFEmrR3Q269h7/Cr1GTXplVaW6Rw=";
constexpr const char* kPeerYPublic = "lxEnWa0Qzed9ACp2DPsxRLDBVSt9Bt9rurrr+c/YIx8=";
constexpr const char* kRedactedPrivate = "oE3C8w4Svy/6RFTYo/M2bWk5GuWri1PxC13tx4OoI3s=";
constexpr const char* kRedactedPreshared = "B/UoJCcu6AvXGlofhfeN3RKA5cyo8XtbPJlXESt68gE=";

std::vector<ObservedPeer> VpsPeers() {
  // Sorted by key bytes: 0x51.. (UTj), 0x97.. (lxE), 0xef.. (78d), not by base64 text.
  return {
      ObservedPeer{.public_key = KeyFromBase64(kPeerXPublic), .endpoint = "", .allowed_ips = {}, .persistent_keepalive = 25,
                   .latest_handshake = 0, .rx_bytes = 0, .tx_bytes = 0},
      ObservedPeer{.public_key = KeyFromBase64(kPeerYPublic), .endpoint = "198.51.100.20:51820",
                   .allowed_ips = {Cidr("10.77.0.3/32")}, .persistent_keepalive = 0, .latest_handshake = 0,
                   .rx_bytes = 0, .tx_bytes = 0},
      ObservedPeer{.public_key = KeyFromBase64(kGwPublic), .endpoint = "192.0.2.2:51821",
                   .allowed_ips = {Cidr("10.77.0.2/32"), Cidr("192.168.1.0/24")}, .persistent_keepalive = 0,
                   .latest_handshake = 1795305720, .rx_bytes = 420, .tx_bytes = 428},
  };
}

// The owned chains and jumps an iptables-restore input file declares: "-A CHAIN RULE" for
// WIREWARP-* chains and "-I BUILTIN 1 RULE" jumps, per table.
std::map<FirewallTable, OwnedFirewall> OwnedInRestoreInput(const std::string& text) {
  std::map<FirewallTable, OwnedFirewall> owned;
  std::map<FirewallTable, std::map<std::string, std::vector<std::string>>> chains;
  FirewallTable table = FirewallTable::kFilter;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line == "*filter") table = FirewallTable::kFilter;
    if (line == "*nat") table = FirewallTable::kNat;
    if (line == "*mangle") table = FirewallTable::kMangle;
    if (line.starts_with(":WIREWARP-")) chains[table][line.substr(1, line.find(' ') - 1)];
    if (line.starts_with("-A WIREWARP-")) {
      size_t space = line.find(' ', 3);
      chains[table][line.substr(3, space - 3)].push_back(line.substr(space + 1));
    }
    if (line.starts_with("-I ")) {
      size_t chain_end = line.find(' ', 3);
      REQUIRE(line.compare(chain_end, 3, " 1 ") == 0);
      owned[table].jumps.push_back({table, line.substr(3, chain_end - 3), line.substr(chain_end + 3)});
    }
  }
  for (auto& [chain_table, by_name] : chains) {
    for (auto& [name, rules] : by_name) owned[chain_table].chains.push_back({chain_table, name, rules});
  }
  return owned;
}

std::vector<FirewallJump> SortedJumps(std::vector<FirewallJump> jumps) {
  std::sort(jumps.begin(), jumps.end(), [](const FirewallJump& a, const FirewallJump& b) {
    return std::tie(a.table, a.chain, a.rule) < std::tie(b.table, b.chain, b.rule);
  });
  return jumps;
}

CommandOutput Output(std::string stdout_data, int exit_code = 0, std::string stderr_data = "") {
  return CommandOutput{.exit_code = exit_code, .stdout_data = std::move(stdout_data), .stderr_data = std::move(stderr_data)};
}

int ExitCode(const std::string& file) { return std::stoi(Testdata(file)); }

// A RecordingRunner answering like the captured VPS namespace.
void ScriptVps(RecordingRunner& runner) {
  runner.SetOutput({"ip", "-d", "-j", "address", "show", "dev", "wwobs0"}, Output(Testdata("ip-address-vps-wwobs0-detail.json")));
  runner.SetOutput({"ip", "-d", "-j", "address", "show", "dev", "wwobs2"}, Output(Testdata("ip-address-vps-wwobs2-detail.json")));
  runner.SetOutput({"ip", "-d", "-j", "address", "show", "dev", "wwobs9"},
                   Output(Testdata("ip-address-missing.stdout"), ExitCode("ip-address-missing.exitcode"),
                          Testdata("ip-address-missing.stderr")));
  runner.SetOutput({"wg", "show", "wwobs0", "dump"}, Output(Testdata("wg-dump-vps-wwobs0.txt")));
  runner.SetOutput({"wg", "show", "wwobs2", "dump"}, Output(Testdata("wg-dump-vps-wwobs2-unconfigured.txt")));
  runner.SetOutput({"ip", "-4", "-N", "-j", "route", "show", "table", "all", "proto", "87"},
                   Output(Testdata("ip-route-vps-proto87.json")));
  runner.SetOutput({"ip", "-4", "-N", "-j", "rule", "show"}, Output(Testdata("ip-rule-vps-numeric.json")));
  // The captures are per table; the observer reads one dump of all tables.
  runner.SetOutput({"iptables-save"}, Output(Testdata("iptables-save-vps-filter.txt") + Testdata("iptables-save-vps-nat.txt") +
                                             Testdata("iptables-save-vps-mangle.txt")));
  runner.SetOutput({"sysctl", "-n", "net.ipv4.ip_forward"}, Output(Testdata("sysctl-vps-ip_forward.txt")));
  runner.SetOutput({"sysctl", "-n", "net.ipv4.conf.wwobs0.rp_filter"}, Output(Testdata("sysctl-vps-wwobs0-rp_filter.txt")));
  runner.SetOutput({"sysctl", "-n", "net.ipv4.conf.wwobs9.rp_filter"},
                   Output(Testdata("sysctl-missing.stdout"), ExitCode("sysctl-missing.exitcode"),
                          Testdata("sysctl-missing.stderr")));
}

// A host with nothing owned beyond what a test adds: no routes, rules or chains.
void ScriptEmptyHost(RecordingRunner& runner) {
  runner.SetOutput({"ip", "-4", "-N", "-j", "route", "show", "table", "all", "proto", "87"}, Output("[]\n"));
  runner.SetOutput({"ip", "-4", "-N", "-j", "rule", "show"}, Output(Testdata("ip-rule-vps-numeric.json")));
  runner.SetOutput({"iptables-save"}, Output("*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n*nat\nCOMMIT\n*mangle\nCOMMIT\n"));
}

// The captured wwobs1 device as the kernel module would show it (no capture host had the
// module): only linkinfo differs.
std::string KernelLinkJson() {
  std::string json = Testdata("ip-address-gw-wwobs1-detail.json");
  const std::string tun = R"("linkinfo":{"info_kind":"tun","info_data":{"type":"tun","pi":true,"vnet_hdr":false,"multi_queue":false,"persist":false}})";
  size_t at = json.find(tun);
  REQUIRE(at != std::string::npos);
  json.replace(at, tun.size(), R"("linkinfo":{"info_kind":"wireguard"})");
  return json;
}

}  // namespace

// ---- wg show IF dump ------------------------------------------------------------------------

TEST_CASE("ParseWireguardDump reads a server device with three kinds of peers") {
  auto dump = ParseWireguardDump(Testdata("wg-dump-vps-wwobs0.txt"));
  REQUIRE(dump.ok());
  CHECK(dump->public_key == KeyFromBase64(kVpsPublic));
  CHECK(dump->listen_port == 51820);
  CHECK(dump->fwmark == 0xca6c);
  CHECK(dump->peers == VpsPeers());
}

TEST_CASE("ParseWireguardDump reads a client device: fwmark off, keepalive, 0.0.0.0/0") {
  auto dump = ParseWireguardDump(Testdata("wg-dump-gw-wwobs1.txt"));
  REQUIRE(dump.ok());
  CHECK(*dump == WireguardDump{.public_key = KeyFromBase64(kGwPublic),
                               .listen_port = 51821,
                               .fwmark = 0,
                               .peers = {ObservedPeer{.public_key = KeyFromBase64(kVpsPublic),
                                                      .endpoint = "192.0.2.1:51820",
                                                      .allowed_ips = {Cidr("0.0.0.0/0")},
                                                      .persistent_keepalive = 25,
                                                      .latest_handshake = 1795305720,
                                                      .rx_bytes = 428,
                                                      .tx_bytes = 420}}});
}

TEST_CASE("ParseWireguardDump reads an unconfigured device: no key, no peers") {
  auto dump = ParseWireguardDump(Testdata("wg-dump-vps-wwobs2-unconfigured.txt"));
  REQUIRE(dump.ok());
  CHECK(*dump == WireguardDump{.public_key = std::nullopt, .listen_port = 39325, .fwmark = 0, .peers = {}});
}

TEST_CASE("ParseWireguardDump never parses or quotes the private and preshared keys") {
  // The private key field is skipped unread: even garbage there does not matter.
  auto dump = ParseWireguardDump("SECRET-not-a-key\t(none)\t51820\toff\n");
  REQUIRE(dump.ok());
  CHECK(dump->listen_port == 51820);

  // Errors name fields by position and quote only public values.
  std::string bad_peer = std::string(kGwPublic) + "\tSECRET-PRESHARED\t(none)\t10.0.0.0/33\t0\t0\t0\toff";
  auto failed = ParseWireguardDump(std::string("SECRET-PRIVATE\t") + kVpsPublic + "\t1\toff\n" + bad_peer + "\n");
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == StatusCode::kInvalidArgument);
  CHECK(failed.status().message().starts_with("wg show dump line 2: allowed IP \"10.0.0.0/33\": "));
  CHECK(failed.status().message().find("SECRET") == std::string::npos);

  auto short_line = ParseWireguardDump("SECRET-PRIVATE\t(none)\t1\n");
  REQUIRE_FALSE(short_line.ok());
  CHECK(short_line.status().message() == "wg show dump line 1: 3 fields, expected 4 for the interface");
  auto short_peer = ParseWireguardDump(std::string("x\t(none)\t1\toff\n") + kGwPublic + "\tSECRET-PRESHARED\n");
  REQUIRE_FALSE(short_peer.ok());
  CHECK(short_peer.status().message() == "wg show dump line 2: 2 fields, expected 8 for a peer");

  // The captures themselves hold only the replacement keys, and they reach no result.
  std::string capture = Testdata("wg-dump-vps-wwobs0.txt");
  CHECK(capture.starts_with(std::string(kRedactedPrivate) + "\t"));
  CHECK(capture.find(kRedactedPreshared) != std::string::npos);
}

TEST_CASE("ParseWireguardDump skips IPv6 allowed IPs and sorts the IPv4 ones") {
  std::string text = std::string("x\t") + kVpsPublic + "\t51820\t0x10\n" + kGwPublic +
                     "\t(none)\t[2001:db8::1]:51820\tfd00::/64,192.168.1.0/24,10.77.0.2/32\t5\t6\t7\t25\n";
  auto dump = ParseWireguardDump(text);
  REQUIRE(dump.ok());
  CHECK(dump->fwmark == 0x10);
  REQUIRE(dump->peers.size() == 1);
  CHECK(dump->peers[0].endpoint == "[2001:db8::1]:51820");
  CHECK(dump->peers[0].allowed_ips == std::vector<Ipv4Cidr>{Cidr("10.77.0.2/32"), Cidr("192.168.1.0/24")});
}

TEST_CASE("ParseWireguardDump refuses malformed fields, quoting them") {
  const std::string peer_prefix = std::string("x\t(none)\t1\toff\n") + kGwPublic + "\t(none)\t(none)\t(none)\t";
  struct Case {
    std::string text;
    std::string message;
  };
  std::vector<Case> cases = {
      {"", "wg show dump: empty output"},
      {"x\tnot-a-key\t1\toff", "wg show dump line 1: public key \"not-a-key\": "},
      {"x\t(none)\t70000\toff", "wg show dump line 1: listen port \"70000\" is not 0-65535"},
      {"x\t(none)\t-1\toff", "wg show dump line 1: listen port \"-1\" is not 0-65535"},
      {"x\t(none)\t1\t0xZZ", "wg show dump line 1: fwmark \"0xZZ\" is not a number"},
      {peer_prefix + "soon\t0\t0\toff", "wg show dump line 2: latest handshake \"soon\" is not a number"},
      {peer_prefix + "0\t1.5\t0\toff", "wg show dump line 2: rx bytes \"1.5\" is not a number"},
      {peer_prefix + "0\t0\tx\toff", "wg show dump line 2: tx bytes \"x\" is not a number"},
      {peer_prefix + "0\t0\t0\ton", "wg show dump line 2: persistent keepalive \"on\" is not \"off\" or 1-65535"},
      {std::string("x\t(none)\t1\toff\nbad\t(none)\t(none)\t(none)\t0\t0\t0\toff"),
       "wg show dump line 2: public key \"bad\": "},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto dump = ParseWireguardDump(c.text);
    REQUIRE_FALSE(dump.ok());
    CHECK(dump.status().code() == StatusCode::kInvalidArgument);
    CHECK(dump.status().message().starts_with(c.message));
  }
}

// ---- iptables-save --------------------------------------------------------------------------

TEST_CASE("ParseIptablesSave keeps owned nat chains and jumps, not Docker's or the user's") {
  auto owned = ParseIptablesSave(Testdata("iptables-save-vps-nat.txt"), FirewallTable::kNat);
  REQUIRE(owned.ok());
  CHECK(owned->chains == std::vector<FirewallChain>{
                             {FirewallTable::kNat, "WIREWARP-POSTROUTING",
                              {"-s 10.77.0.0/24 -o eth0 -j MASQUERADE",
                               "-o wwobs-lan -m connmark --mark 0x102 -j MASQUERADE",
                               "-s 10.77.0.0/24 -o eth0 -j SNAT --to-source 203.0.113.10"}},
                             {FirewallTable::kNat, "WIREWARP-PREROUTING",
                              {"-d 203.0.113.10/32 -p tcp -m tcp --dport 25565 -j DNAT --to-destination 10.77.0.2:25565",
                               "-d 203.0.113.10/32 -p udp -m udp --dport 27015:27030 -j DNAT --to-destination "
                               "10.77.0.2:27015-27030",
                               "-d 203.0.113.10/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.1.10:80",
                               "-d 203.0.113.10/32 -p tcp -m multiport --dports 80,443 -j DNAT --to-destination "
                               "192.168.1.10",
                               "-i eth0 -p udp -m udp --dport 51000:51010 -m comment --comment \"wirewarp:forward/voice "
                               "chat\" -j DNAT --to-destination 192.168.1.11",
                               "-p tcp -m tcp --dport 2222 -m comment --comment \"wirewarp:forward/ssh\" -j DNAT "
                               "--to-destination 192.168.1.12:22",
                               "-p tcp -m tcp --dport 80 -j DNAT --to-destination 10.77.0.2:80"}},
                         });
  // WIREWARPISH (no dash) and the user's MASQUERADE are not ours.
  CHECK(owned->jumps == std::vector<FirewallJump>{
                            {FirewallTable::kNat, "PREROUTING", "-m addrtype --dst-type LOCAL -j WIREWARP-PREROUTING"},
                            {FirewallTable::kNat, "POSTROUTING", "-j WIREWARP-POSTROUTING"},
                        });
}

TEST_CASE("ParseIptablesSave keeps empty owned chains and ignores a comment naming an owned chain") {
  auto owned = ParseIptablesSave(Testdata("iptables-save-vps-filter.txt"), FirewallTable::kFilter);
  REQUIRE(owned.ok());
  REQUIRE(owned->chains.size() == 2);
  CHECK(owned->chains[0] == FirewallChain{FirewallTable::kFilter, "WIREWARP-EMPTY", {}});
  CHECK(owned->chains[1] ==
        FirewallChain{FirewallTable::kFilter, "WIREWARP-FORWARD",
                      {"-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                       "-d 10.77.0.2/32 -p tcp -m tcp --dport 25565 -j ACCEPT",
                       "-d 192.168.1.10/32 -i eth0 -o wwobs0 -p tcp -m multiport --dports 80,443 -m conntrack "
                       "--ctstate NEW -j ACCEPT",
                       "-d 10.77.0.2/32 -p udp -m udp --dport 27015:27030 -j ACCEPT",
                       "-i wwobs0 -o eth0 -j ACCEPT",
                       "-m state --state RELATED,ESTABLISHED -j ACCEPT",
                       "-p tcp -m tcp --dport 1000:2000 -m comment --comment \"say \\\"hi\\\"\" -j ACCEPT"}});
  // Not "-j DOCKER-USER", not the DROP whose comment says "-j WIREWARP-FORWARD".
  CHECK(owned->jumps == std::vector<FirewallJump>{{FirewallTable::kFilter, "FORWARD", "-j WIREWARP-FORWARD"}});
}

TEST_CASE("ParseIptablesSave reads the mangle table's marks and clamps") {
  auto owned = ParseIptablesSave(Testdata("iptables-save-vps-mangle.txt"), FirewallTable::kMangle);
  REQUIRE(owned.ok());
  std::vector<std::string> names;
  for (const FirewallChain& chain : owned->chains) names.push_back(chain.name);
  CHECK(names == std::vector<std::string>{"WIREWARP-FORWARD", "WIREWARP-OUTPUT", "WIREWARP-POSTROUTING",
                                          "WIREWARP-PREROUTING"});
  CHECK(owned->chains[1].rules ==
        std::vector<std::string>{"-j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff",
                                 "-m connmark --mark 0x101 -j MARK --set-xmark 0x101/0xffffffff"});
  // Duplicates are kept: the plan must see them to remove them.
  CHECK(owned->chains[2].rules ==
        std::vector<std::string>(2, "-o wwobs0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu"));
  CHECK(owned->jumps == std::vector<FirewallJump>{
                            {FirewallTable::kMangle, "PREROUTING", "-j WIREWARP-PREROUTING"},
                            {FirewallTable::kMangle, "FORWARD", "-j WIREWARP-FORWARD"},
                            {FirewallTable::kMangle, "OUTPUT", "-j WIREWARP-OUTPUT"},
                            {FirewallTable::kMangle, "POSTROUTING", "-j WIREWARP-POSTROUTING"},
                        });
}

TEST_CASE("ParseIptablesSave picks one table out of a full iptables-save, on either backend") {
  const std::string all_tables = Testdata("iptables-save-vps.txt");
  const std::string legacy = Testdata("iptables-legacy-save-gw.txt");
  for (auto [table, file] : {std::pair{FirewallTable::kFilter, "iptables-save-vps-filter.txt"},
                             std::pair{FirewallTable::kNat, "iptables-save-vps-nat.txt"},
                             std::pair{FirewallTable::kMangle, "iptables-save-vps-mangle.txt"}}) {
    CAPTURE(file);
    auto single = ParseIptablesSave(Testdata(file), table);
    auto picked = ParseIptablesSave(all_tables, table);
    // The same rules loaded through iptables-legacy-restore in another namespace.
    auto from_legacy = ParseIptablesSave(legacy, table);
    REQUIRE(single.ok());
    REQUIRE(picked.ok());
    REQUIRE(from_legacy.ok());
    CHECK(*picked == *single);
    CHECK(*from_legacy == *single);
    CHECK_FALSE(single->chains.empty());
  }
}

TEST_CASE("iptables-save prints render.cc's rule shapes back byte for byte") {
  // The canonical-form contract: what render emits is what observation reads back, so a
  // converged host plans nothing. Captured from both backends.
  std::map<FirewallTable, OwnedFirewall> given = OwnedInRestoreInput(Testdata("iptables-restore-render-shapes.rules"));
  REQUIRE(given.size() == 3);
  for (const char* file : {"iptables-save-render-shapes.txt", "iptables-legacy-save-render-shapes.txt"}) {
    for (auto& [table, expected] : given) {
      CAPTURE(file);
      CAPTURE(FirewallTableName(table));
      auto saved = ParseIptablesSave(Testdata(file), table);
      REQUIRE(saved.ok());
      CHECK(saved->chains == expected.chains);
      CHECK(SortedJumps(saved->jumps) == SortedJumps(expected.jumps));
    }
  }
}

TEST_CASE("iptables-save rewrites non-canonical rule text: the differences, rule by rule") {
  // Every owned rule given to iptables-restore that came back different, with what came
  // back. A renderer must emit the right-hand form.
  std::map<FirewallTable, OwnedFirewall> given = OwnedInRestoreInput(Testdata("iptables-restore-input.rules"));
  std::vector<std::pair<std::string, std::string>> rewritten;
  for (auto& [table, expected] : given) {
    auto saved = ParseIptablesSave(Testdata("iptables-save-vps.txt"), table);
    REQUIRE(saved.ok());
    REQUIRE(saved->chains.size() == expected.chains.size());
    for (size_t c = 0; c < expected.chains.size(); ++c) {
      REQUIRE(saved->chains[c].name == expected.chains[c].name);
      REQUIRE(saved->chains[c].rules.size() == expected.chains[c].rules.size());
      for (size_t r = 0; r < expected.chains[c].rules.size(); ++r) {
        if (saved->chains[c].rules[r] != expected.chains[c].rules[r]) {
          rewritten.emplace_back(expected.chains[c].rules[r], saved->chains[c].rules[r]);
        }
      }
    }
  }
  const std::vector<std::pair<std::string, std::string>> expected_rewrites = {
      // filter
      {"-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"},
      {"-d 10.77.0.2 -p tcp --dport 25565 -j ACCEPT", "-d 10.77.0.2/32 -p tcp -m tcp --dport 25565 -j ACCEPT"},
      {"-i eth0 -o wwobs0 -d 192.168.1.10/32 -p tcp -m multiport --dports 80,443 -m conntrack --ctstate NEW -j ACCEPT",
       "-d 192.168.1.10/32 -i eth0 -o wwobs0 -p tcp -m multiport --dports 80,443 -m conntrack --ctstate NEW -j ACCEPT"},
      {"-p udp -d 10.77.0.2 --dport 27015:27030 -j ACCEPT", "-d 10.77.0.2/32 -p udp -m udp --dport 27015:27030 -j ACCEPT"},
      // nat
      {"-s 10.77.0.0/255.255.255.0 -o eth0 -j SNAT --to-source 203.0.113.10",
       "-s 10.77.0.0/24 -o eth0 -j SNAT --to-source 203.0.113.10"},
      {"-d 203.0.113.10 -p tcp --dport 25565 -j DNAT --to-destination 10.77.0.2:25565",
       "-d 203.0.113.10/32 -p tcp -m tcp --dport 25565 -j DNAT --to-destination 10.77.0.2:25565"},
      {"-p tcp -d 203.0.113.10 --dport 8080 -j DNAT --to-destination 192.168.1.10:80",
       "-d 203.0.113.10/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.1.10:80"},
      {"-i eth0 -p udp --dport 51000:51010 -m comment --comment \"wirewarp:forward/voice chat\" -j DNAT "
       "--to-destination 192.168.1.11",
       "-i eth0 -p udp -m udp --dport 51000:51010 -m comment --comment \"wirewarp:forward/voice chat\" -j DNAT "
       "--to-destination 192.168.1.11"},
      {"-p tcp --dport 2222 -m comment --comment wirewarp:forward/ssh -j DNAT --to-destination 192.168.1.12:22",
       "-p tcp -m tcp --dport 2222 -m comment --comment \"wirewarp:forward/ssh\" -j DNAT --to-destination "
       "192.168.1.12:22"},
      {"-p tcp --dport 0x50 -j DNAT --to-destination 10.77.0.2:80",
       "-p tcp -m tcp --dport 80 -j DNAT --to-destination 10.77.0.2:80"},
      // mangle
      {"-j CONNMARK --restore-mark", "-j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff"},
      {"-m connmark --mark 0x101 -j MARK --set-mark 0x101", "-m connmark --mark 0x101 -j MARK --set-xmark 0x101/0xffffffff"},
      {"-o wwobs0 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
       "-o wwobs0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu"},
      {"-p tcp --tcp-flags SYN,RST SYN -o wwobs0 -j TCPMSS --clamp-mss-to-pmtu",
       "-o wwobs0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu"},
      {"-i wwobs0 -m conntrack --ctstate NEW -j CONNMARK --set-mark 0x101",
       "-i wwobs0 -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x101/0xffffffff"},
      {"! -i wwobs0 -j CONNMARK --restore-mark", "! -i wwobs0 -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff"},
      {"-i wwobs0 -j MARK --set-mark 0x1", "-i wwobs0 -j MARK --set-xmark 0x1/0xffffffff"},
      {"-i wwobs0 -j CONNMARK --save-mark", "-i wwobs0 -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff"},
      {"-m connmark --mark 0x101/0xfff -j MARK --set-mark 257", "-m connmark --mark 0x101/0xfff -j MARK --set-xmark 0x101/0xffffffff"},
  };
  CHECK(rewritten == expected_rewrites);
}

TEST_CASE("ParseIptablesSave handles counters, goto, a missing table and refuses broken text") {
  const std::string text =
      "# Generated by iptables-save v1.8.9 (nf_tables)\n"
      "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j WIREWARP-RAW\nCOMMIT\n"
      "*filter\n"
      ":INPUT DROP [12:3456]\n"
      ":WIREWARP-IN - [0:0]\n"
      ":WIREWARP-UNDECLARED-USE - [0:0]\n"
      ":DOCKER-USER - [0:0]\n"
      "-A DOCKER-USER -j WIREWARP-IN\n"
      "[7:420] -A INPUT -i wg0 -g WIREWARP-IN\n"
      "[0:0] -A WIREWARP-IN -p udp -m udp --dport 51820 -j ACCEPT\n"
      "-A WIREWARP-IN\n"
      "-A INPUT -j WIREWARP\n"
      "COMMIT\n";
  auto owned = ParseIptablesSave(text, FirewallTable::kFilter);
  REQUIRE(owned.ok());
  CHECK(owned->chains == std::vector<FirewallChain>{
                             {FirewallTable::kFilter, "WIREWARP-IN", {"-p udp -m udp --dport 51820 -j ACCEPT", ""}},
                             {FirewallTable::kFilter, "WIREWARP-UNDECLARED-USE", {}},
                         });
  // Only built-in chains (those with a policy) jump: DOCKER-USER's rule is not ours.
  CHECK(owned->jumps == std::vector<FirewallJump>{{FirewallTable::kFilter, "INPUT", "-i wg0 -g WIREWARP-IN"}});

  auto absent = ParseIptablesSave(text, FirewallTable::kMangle);
  REQUIRE(absent.ok());
  CHECK(*absent == OwnedFirewall{});

  struct Case {
    std::string text;
    std::string message;
  };
  std::vector<Case> cases = {
      {"-A WIREWARP-X -j ACCEPT\n", "iptables-save line 1: \"-A WIREWARP-X -j ACCEPT\" is outside a table"},
      {"*filter\n:INPUT ACCEPT [0:0]\n", "iptables-save: the last table has no COMMIT"},
      {"*filter\n*nat\n", "iptables-save line 2: \"*nat\" starts a table before COMMIT"},
      {"*filter\n-I INPUT 1 -j WIREWARP-X\nCOMMIT\n",
       "iptables-save line 2: \"-I INPUT 1 -j WIREWARP-X\" is not a chain, rule or COMMIT"},
      {"*filter\n:INPUT\nCOMMIT\n", "iptables-save line 2: chain declaration \":INPUT\" has no policy"},
      {"*filter\nCOMMIT\n*filter\nCOMMIT\n", "iptables-save line 3: table \"filter\" appears twice"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto result = ParseIptablesSave(c.text, FirewallTable::kFilter);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
    CHECK(result.status().message() == c.message);
  }
}

// ---- ip -j route / rule / address -----------------------------------------------------------

TEST_CASE("ParseIpRoutes reads owned routes in every table, skipping non-unicast ones") {
  const std::vector<Route> expected = {
      {.destination = Cidr("0.0.0.0/0"), .device = "wwobs1", .via = Ip("10.77.0.1"), .table = 101},
      {.destination = Cidr("10.77.0.1/32"), .device = "wwobs1", .via = std::nullopt, .table = 101},
      {.destination = Cidr("10.93.0.0/16"), .device = "wwobs1", .via = Ip("10.77.0.1"), .table = kMainTable},
      {.destination = Cidr("10.94.0.0/16"), .device = "wwobs1", .via = std::nullopt, .table = 253},
      {.destination = Cidr("192.168.1.0/24"), .device = "wwobs-lan", .via = std::nullopt, .table = 101},
  };
  auto numeric = ParseIpRoutes(Testdata("ip-route-gw-proto87.json"));
  REQUIRE(numeric.ok());
  CHECK(*numeric == expected);
  // Without -N: "unreachable" and "default" as names.
  auto named = ParseIpRoutes(Testdata("ip-route-gw-proto87-named.json"));
  REQUIRE(named.ok());
  CHECK(*named == expected);

  auto vps = ParseIpRoutes(Testdata("ip-route-vps-proto87.json"));
  REQUIRE(vps.ok());
  CHECK(*vps == std::vector<Route>{{.destination = Cidr("192.168.1.0/24"), .device = "wwobs0", .table = kMainTable}});
}

TEST_CASE("ParseIpRoutes skips routes naming another protocol and refuses what it cannot read") {
  // Entries of the unfiltered listing that carry a protocol: only "87" is kept.
  auto mixed = ParseIpRoutes(
      R"([{"dst":"10.77.0.0/24","dev":"wwobs1","protocol":"kernel","scope":"link","flags":[]},)"
      R"({"dst":"10.93.0.0/16","gateway":"10.77.0.1","dev":"wwobs1","protocol":"87","flags":[]},)"
      R"({"type":"local","dst":"10.77.0.2","dev":"wwobs1","table":"local","protocol":"87","flags":[]}])");
  REQUIRE(mixed.ok());
  CHECK(*mixed == std::vector<Route>{{.destination = Cidr("10.93.0.0/16"), .device = "wwobs1", .via = Ip("10.77.0.1")}});
  CHECK(ParseIpRoutes("[]")->empty());

  struct Case {
    std::string json;
    std::string message;
  };
  std::vector<Case> cases = {
      {"[", "ip route: not JSON: "},
      {"{}", "ip route: expected a JSON array"},
      {"[1]", "ip route: expected an array of objects"},
      {R"([{"dev":"wg0"}])", "ip route entry 0: no \"dst\""},
      {R"([{"dst":"10.0.0.0/33"}])", "ip route entry 0: dst \"10.0.0.0/33\": "},
      {R"([{"dst":"fd00::/64"}])", "ip route entry 0: dst \"fd00::/64\": "},
      {R"([{"dst":"default","gateway":"fe80::1"}])", "ip route entry 0: gateway \"fe80::1\": "},
      {R"([{"dst":"default","dev":7}])", "ip route entry 0: \"dev\" is 7, expected a string"},
      {R"([{"dst":"default","table":"wirewarp_101"}])",
       "ip route entry 0: table \"wirewarp_101\" is not a number (run ip with -N so rt_tables names are not used)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.json);
    auto result = ParseIpRoutes(c.json);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
    CHECK(result.status().message().starts_with(c.message));
  }
}

TEST_CASE("ParseIpRules keeps protocol 87 rules in the owned priority range") {
  const std::vector<RoutingRule> expected = {
      {.priority = 10000, .to = Cidr("192.0.2.1/32"), .table = kMainTable},
      {.priority = 10001, .to = Cidr("203.0.113.5/32"), .table = kMainTable},
      {.priority = 10002, .to = Cidr("192.168.1.0/24"), .table = kMainTable},
      {.priority = 10003, .fwmark = 0x101, .table = 101},
      {.priority = 10004, .from = Cidr("192.168.1.0/24"), .table = 101},
      {.priority = 10005, .from = Cidr("10.77.0.2/32"), .table = 101},
  };
  // Left out: 0/32766/32767 (kernel), 9000 and 10006 (no protocol), 20000 (out of range).
  auto numeric = ParseIpRules(Testdata("ip-rule-gw-numeric.json"));
  REQUIRE(numeric.ok());
  CHECK(*numeric == expected);
  auto named = ParseIpRules(Testdata("ip-rule-gw.json"));
  REQUIRE(named.ok());
  CHECK(*named == expected);
  auto vps = ParseIpRules(Testdata("ip-rule-vps-numeric.json"));
  REQUIRE(vps.ok());
  CHECK(vps->empty());
}

TEST_CASE("ParseIpRules gives a table-less owned rule table 0 and refuses bad fields") {
  auto goto_rule = ParseIpRules(R"([{"priority":10500,"src":"all","protocol":"87","action":"goto","goto":10600}])");
  REQUIRE(goto_rule.ok());
  CHECK(*goto_rule == std::vector<RoutingRule>{{.priority = 10500, .table = 0}});

  struct Case {
    std::string json;
    std::string message;
  };
  std::vector<Case> cases = {
      {R"([{"src":"all","protocol":"87","table":"254"}])", "ip rule entry 0: no \"priority\""},
      {R"([{"priority":-1,"protocol":"87"}])", "ip rule entry 0: \"priority\" is -1, expected an unsigned number"},
      {R"([{"priority":10000,"src":"10.0.0.256","protocol":"87","table":"254"}])",
       "ip rule entry 0: src \"10.0.0.256\": "},
      {R"([{"priority":10000,"dst":"10.0.0.0","dstlen":40,"protocol":"87","table":"254"}])",
       "ip rule entry 0: dstlen 40 is over 32"},
      {R"([{"priority":10000,"fwmark":"0xno","protocol":"87","table":"254"}])",
       "ip rule entry 0: fwmark \"0xno\" is not a number"},
      {R"([{"priority":10000,"protocol":"87","table":"wirewarp"}])", "ip rule entry 0: table \"wirewarp\" is not a number"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.json);
    auto result = ParseIpRules(c.json);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().message().starts_with(c.message));
  }
}

TEST_CASE("ParseIpLinkAddress reads flags, MTU, IPv4 addresses and the link kind") {
  auto wwobs0 = ParseIpLinkAddress(Testdata("ip-address-vps-wwobs0-detail.json"));
  REQUIRE(wwobs0.ok());
  CHECK(*wwobs0 == LinkState{.name = "wwobs0", .up = true, .mtu = 1420, .addresses = {Cidr("10.77.0.1/24")}, .kind = "tun"});

  auto unconfigured = ParseIpLinkAddress(Testdata("ip-address-vps-wwobs2-detail.json"));
  REQUIRE(unconfigured.ok());
  CHECK(*unconfigured == LinkState{.name = "wwobs2", .up = false, .mtu = 1420, .addresses = {}, .kind = "tun"});

  // A veth: IPv6 link-local skipped.
  auto uplink = ParseIpLinkAddress(Testdata("ip-address-vps-uplink-detail.json"));
  REQUIRE(uplink.ok());
  CHECK(*uplink ==
        LinkState{.name = "wwobs-uplink", .up = true, .mtu = 1500, .addresses = {Cidr("192.0.2.1/24")}, .kind = "veth"});

  auto kernel = ParseIpLinkAddress(KernelLinkJson());
  REQUIRE(kernel.ok());
  CHECK(kernel->kind == "wireguard");

  auto all = ParseIpLinkAddress(Testdata("ip-address-vps-all.json"));
  REQUIRE_FALSE(all.ok());
  CHECK(all.status().message() == "ip address: 4 devices, expected exactly one");
  auto none = ParseIpLinkAddress("[]");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message() == "ip address: 0 devices, expected exactly one");
  auto bad_address = ParseIpLinkAddress(
      R"([{"ifname":"wg0","mtu":1420,"flags":[],"addr_info":[{"family":"inet","local":"10.1","prefixlen":24}]}])");
  REQUIRE_FALSE(bad_address.ok());
  CHECK(bad_address.status().message().starts_with("ip address of \"wg0\": address \"10.1\": "));
  auto no_mtu = ParseIpLinkAddress(R"([{"ifname":"wg0"}])");
  REQUIRE_FALSE(no_mtu.ok());
  CHECK(no_mtu.status().message() == "ip address of \"wg0\": no usable \"mtu\"");
}

TEST_CASE("DetectWireguardImplementation: the socket first, then the link kind") {
  CHECK(DetectWireguardImplementation(UserspaceSocket::kPresent, "tun") == WireguardImplementation::kUserspace);
  CHECK(DetectWireguardImplementation(UserspaceSocket::kPresent, "wireguard") == WireguardImplementation::kUserspace);
  CHECK(DetectWireguardImplementation(UserspaceSocket::kAbsent, "wireguard") == WireguardImplementation::kKernel);
  CHECK(DetectWireguardImplementation(UserspaceSocket::kAbsent, "tun") == WireguardImplementation::kUserspace);
  CHECK(DetectWireguardImplementation(UserspaceSocket::kAbsent, "veth") == WireguardImplementation::kUnknown);
  CHECK(DetectWireguardImplementation(UserspaceSocket::kAbsent, "") == WireguardImplementation::kUnknown);
}

// ---- Observe --------------------------------------------------------------------------------

TEST_CASE("Observe reads the captured VPS: interfaces, routes, rules, chains, jumps, sysctls") {
  RecordingRunner runner;
  ScriptVps(runner);
  ObserveRequest request{
      .interfaces = {"wwobs9", "wwobs2", "wwobs0", "wwobs2"},
      .sysctl_keys = {"net.ipv4.ip_forward", "net.ipv4.conf.wwobs9.rp_filter", "net.ipv4.conf.wwobs0.rp_filter"},
  };
  auto state = Observe(runner, request);
  REQUIRE(state.ok());

  CHECK(runner.CommandLines() == std::vector<std::string>{
                                     "ip -4 -N -j route show table all proto 87",
                                     "ip -4 -N -j rule show",
                                     "iptables-save",
                                     "sysctl -n net.ipv4.conf.wwobs0.rp_filter",
                                     "sysctl -n net.ipv4.conf.wwobs9.rp_filter",
                                     "sysctl -n net.ipv4.ip_forward",
                                     "ip -d -j address show dev wwobs0",
                                     "wg show wwobs0 dump",
                                     "ip -d -j address show dev wwobs2",
                                     "wg show wwobs2 dump",
                                     "ip -d -j address show dev wwobs9",
                                 });
  CHECK(runner.MutatingCommands().empty());

  REQUIRE(state->interfaces.size() == 2);
  CHECK(state->interfaces[0] == ObservedInterface{.name = "wwobs0",
                                                  .up = true,
                                                  .mtu = 1420,
                                                  .addresses = {Cidr("10.77.0.1/24")},
                                                  .listen_port = 51820,
                                                  .fwmark = 0xca6c,
                                                  .public_key = KeyFromBase64(kVpsPublic),
                                                  .implementation = WireguardImplementation::kUserspace,
                                                  .peers = VpsPeers()});
  CHECK(state->interfaces[1] == ObservedInterface{.name = "wwobs2",
                                                  .up = false,
                                                  .mtu = 1420,
                                                  .addresses = {},
                                                  .listen_port = 39325,
                                                  .fwmark = 0,
                                                  .public_key = std::nullopt,
                                                  .implementation = WireguardImplementation::kUserspace,
                                                  .peers = {}});
  CHECK(state->routes == std::vector<Route>{{.destination = Cidr("192.168.1.0/24"), .device = "wwobs0"}});
  CHECK(state->rules.empty());

  std::vector<std::pair<FirewallTable, std::string>> chains;
  for (const FirewallChain& chain : state->chains) chains.emplace_back(chain.table, chain.name);
  CHECK(chains == std::vector<std::pair<FirewallTable, std::string>>{
                      {FirewallTable::kFilter, "WIREWARP-EMPTY"},
                      {FirewallTable::kFilter, "WIREWARP-FORWARD"},
                      {FirewallTable::kNat, "WIREWARP-POSTROUTING"},
                      {FirewallTable::kNat, "WIREWARP-PREROUTING"},
                      {FirewallTable::kMangle, "WIREWARP-FORWARD"},
                      {FirewallTable::kMangle, "WIREWARP-OUTPUT"},
                      {FirewallTable::kMangle, "WIREWARP-POSTROUTING"},
                      {FirewallTable::kMangle, "WIREWARP-PREROUTING"},
                  });
  CHECK(state->chains[3].rules.size() == 7);
  CHECK(state->jumps.size() == 7);
  CHECK(state->jumps[0] == FirewallJump{FirewallTable::kFilter, "FORWARD", "-j WIREWARP-FORWARD"});
  CHECK(state->jumps[1] ==
        FirewallJump{FirewallTable::kNat, "PREROUTING", "-m addrtype --dst-type LOCAL -j WIREWARP-PREROUTING"});
  CHECK(state->sysctls == std::vector<Sysctl>{{"net.ipv4.conf.wwobs0.rp_filter", "2"}, {"net.ipv4.ip_forward", "1"}});
}

TEST_CASE("Observe reads the captured gateway's routes and rules") {
  RecordingRunner runner;
  ScriptEmptyHost(runner);
  runner.SetOutput({"ip", "-4", "-N", "-j", "route", "show", "table", "all", "proto", "87"},
                   Output(Testdata("ip-route-gw-proto87.json")));
  runner.SetOutput({"ip", "-4", "-N", "-j", "rule", "show"}, Output(Testdata("ip-rule-gw-numeric.json")));
  auto state = Observe(runner, ObserveRequest{});
  REQUIRE(state.ok());
  CHECK(state->routes == *ParseIpRoutes(Testdata("ip-route-gw-proto87.json")));
  CHECK(state->rules == *ParseIpRules(Testdata("ip-rule-gw-numeric.json")));
  CHECK(state->rules.size() == 6);
  CHECK(state->chains.empty());
  CHECK(state->interfaces.empty());
}

TEST_CASE("Observe asks for the userspace socket when the device is not a tun") {
  for (auto [socket_exit, expected] : {std::pair{1, WireguardImplementation::kKernel},
                                       std::pair{0, WireguardImplementation::kUserspace}}) {
    CAPTURE(socket_exit);
    RecordingRunner runner;
    ScriptEmptyHost(runner);
    runner.SetOutput({"ip", "-d", "-j", "address", "show", "dev", "wwobs1"}, Output(KernelLinkJson()));
    runner.SetOutput({"test", "-S", "/var/run/wireguard/wwobs1.sock"}, Output("", socket_exit));
    runner.SetOutput({"wg", "show", "wwobs1", "dump"}, Output(Testdata("wg-dump-gw-wwobs1.txt")));
    auto state = Observe(runner, ObserveRequest{.interfaces = {"wwobs1"}, .sysctl_keys = {}});
    REQUIRE(state.ok());
    REQUIRE(state->interfaces.size() == 1);
    CHECK(state->interfaces[0].implementation == expected);
    CHECK(state->interfaces[0].peers.size() == 1);
    CHECK(runner.CommandLines() == std::vector<std::string>{"ip -4 -N -j route show table all proto 87",
                                                            "ip -4 -N -j rule show", "iptables-save",
                                                            "ip -d -j address show dev wwobs1",
                                                            "test -S /var/run/wireguard/wwobs1.sock",
                                                            "wg show wwobs1 dump"});
    CHECK(runner.MutatingCommands().empty());
  }
}

TEST_CASE("Observe fails with the command and its stderr when a tool fails") {
  SUBCASE("a device wg cannot read") {
    RecordingRunner runner;
    ScriptVps(runner);
    runner.SetOutput({"wg", "show", "wwobs0", "dump"},
                     Output(Testdata("wg-dump-missing.stdout"), ExitCode("wg-dump-missing.exitcode"),
                            Testdata("wg-dump-missing.stderr")));
    auto state = Observe(runner, ObserveRequest{.interfaces = {"wwobs0"}, .sysctl_keys = {}});
    REQUIRE_FALSE(state.ok());
    CHECK(state.status().code() == StatusCode::kFailedPrecondition);
    CHECK(state.status().message().starts_with("interface \"wwobs0\" exists but WireGuard cannot read it: "));
    CHECK(state.status().message().find("\"wg show wwobs0 dump\" failed (exit 1)") != std::string::npos);
    CHECK(state.status().message().find("Unable to access interface: Protocol not supported") != std::string::npos);
  }
  SUBCASE("ip address failing for another reason than a missing device") {
    RecordingRunner runner;
    runner.SetOutput({"ip", "-d", "-j", "address", "show", "dev", "wg0"}, Output("", 255, "RTNETLINK answers: Permission denied\n"));
    auto state = Observe(runner, ObserveRequest{.interfaces = {"wg0"}, .sysctl_keys = {}});
    REQUIRE_FALSE(state.ok());
    CHECK(state.status().message() ==
          "\"ip -d -j address show dev wg0\" failed (exit 255): RTNETLINK answers: Permission denied");
  }
  SUBCASE("iptables-save") {
    RecordingRunner runner;
    ScriptVps(runner);
    runner.SetOutput({"iptables-save"}, Output("", 1, "iptables-save: permission denied\n"));
    auto state = Observe(runner, ObserveRequest{});
    REQUIRE_FALSE(state.ok());
    CHECK(state.status().message().find("\"iptables-save\" failed (exit 1)") != std::string::npos);
  }
  SUBCASE("unparseable iptables-save output") {
    RecordingRunner runner;
    ScriptVps(runner);
    runner.SetOutput({"iptables-save"}, Output("*filter\nCOMMIT\n*mangle\n"));
    auto state = Observe(runner, ObserveRequest{});
    REQUIRE_FALSE(state.ok());
    CHECK(state.status().message() == "iptables-save: the last table has no COMMIT");
  }
  SUBCASE("a sysctl that exists but cannot be read") {
    RecordingRunner runner;
    ScriptVps(runner);
    runner.SetOutput({"sysctl", "-n", "kernel.secret"}, Output("", 255, "sysctl: permission denied on key \"kernel.secret\"\n"));
    auto state = Observe(runner, ObserveRequest{.interfaces = {}, .sysctl_keys = {"kernel.secret"}});
    REQUIRE_FALSE(state.ok());
    CHECK(state.status().message() ==
          "\"sysctl -n kernel.secret\" failed (exit 255): sysctl: permission denied on key \"kernel.secret\"");
  }
  SUBCASE("a runner that cannot start the tool") {
    RecordingRunner runner;
    ScriptVps(runner);
    runner.SetFailure({"ip", "-4", "-N", "-j", "rule", "show"}, Status::Unavailable("ip: timed out"));
    auto state = Observe(runner, ObserveRequest{});
    REQUIRE_FALSE(state.ok());
    CHECK(state.status() == Status::Unavailable("ip: timed out"));
  }
}

TEST_CASE("ObserveRequestFor names the config's interfaces and sysctl keys") {
  AgentConfig config;
  config.interfaces.push_back(WireguardInterface{.name = "wg0"});
  config.interfaces.push_back(WireguardInterface{.name = "wg-home"});
  config.sysctls = {{"net.ipv4.conf.wg-home.rp_filter", "2"}, {"net.ipv4.ip_forward", "1"}};
  ObserveRequest request = ObserveRequestFor(config);
  CHECK(request.interfaces == std::vector<std::string>{"wg0", "wg-home"});
  CHECK(request.sysctl_keys == std::vector<std::string>{"net.ipv4.conf.wg-home.rp_filter", "net.ipv4.ip_forward"});
}
