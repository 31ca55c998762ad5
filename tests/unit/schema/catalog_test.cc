// The invalid-input catalog: YAML that LoadAndValidateFleet refuses (or warns about), each
// case with its exact findings, file:line:column included. The loader cases cover syntax,
// structure, types, formats and hostile input; the others cover every cross-document rule
// of ValidateFleet. Cases written after kBase start at line 21 (kTunnel is lines 1-9, kHome
// lines 10-20); cases written after kTunnel start at line 10.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "schema/diagnostic.h"
#include "schema/loader.h"
#include "schema/validate.h"

using namespace ww;

namespace {

const std::string kTunnel = R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
---
)yaml";

const std::string kHome = R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: home
spec:
  tunnel: vps
  agent: home-gw
  address: 10.77.0.2
  lan: [192.168.1.0/24]
  gateway: true
---
)yaml";

const std::string kBase = kTunnel + kHome;

struct CatalogCase {
  const char* name;
  std::string yaml;
  std::vector<std::string> expected;  // FormatDiagnostic lines, sorted
};

// Every finding of one run over `files`, formatted, one per line.
std::string Findings(const std::vector<SourceFile>& files) {
  std::string out;
  for (const Diagnostic& diagnostic : LoadAndValidateFleet(files).diagnostics) out += FormatDiagnostic(diagnostic) + "\n";
  return out;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

const std::vector<CatalogCase>& Catalog() {
  static const std::vector<CatalogCase> catalog = {
    {"invalid YAML syntax",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: vps
spec:
  agent: vps1
)yaml"),
     {"fleet.yaml:4:5: error: invalid YAML: end of map flow not found (the rest of the file is not read)"}},
    {"document is not a mapping",
     std::string(R"yaml(- apiVersion: wirewarp.dev/v1
- kind: Tunnel
)yaml"),
     {"fleet.yaml:1:1: error: a document must be a mapping with apiVersion, kind, metadata and spec; got a "
      "sequence"}},
    {"wrong apiVersion",
     std::string(R"yaml(apiVersion: wirewarp.dev/v2
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
)yaml"),
     {"fleet.yaml:1:13: error: Tunnel/vps: apiVersion: \"wirewarp.dev/v2\" is not a supported apiVersion "
      "(expected \"wirewarp.dev/v1\")"}},
    {"unknown kind with hint",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
)yaml"),
     {"fleet.yaml:2:7: error: kind: unknown kind \"Tunel\" (did you mean \"Tunnel\"?)"}},
    {"missing kind",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
)yaml"),
     {"fleet.yaml:1:1: error: kind: missing required field \"kind\""}},
    {"missing required field",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
)yaml"),
     {"fleet.yaml:5:1: error: Tunnel/vps: spec.network: missing required field \"network\""}},
    {"unknown field with hint",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
  listenport: 51820
)yaml"),
     {"fleet.yaml:9:3: error: Tunnel/vps: spec.listenport: unknown field \"listenport\" (did you mean "
      "\"listenPort\"?)"}},
    {"unknown nested field with hint",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    adress: 192.168.1.10
)yaml",
     {"fleet.yaml:29:3: error: PortForward/web: spec.to.address: missing required field \"address\"",
      "fleet.yaml:30:5: error: PortForward/web: spec.to.adress: unknown field \"adress\" (did you mean "
      "\"address\"?)"}},
    {"duplicate key",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
  network: 10.78.0.0/24
)yaml"),
     {"fleet.yaml:9:3: error: Tunnel/vps: spec.network: duplicate key \"network\" (first at line 8)"}},
    {"anchor and alias",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: &server vps1
  endpoint: *server
  network: 10.77.0.0/24
)yaml"),
     {"fleet.yaml:6:10: error: Tunnel/vps: spec.agent: anchors and aliases are not supported (found anchor "
      "\"&server\")"}},
    {"name with a leading dash",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: -vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
)yaml"),
     {"fleet.yaml:4:9: error: Tunnel: metadata.name: \"-vps\" must not start with '-' (it could be read as a "
      "command-line option)"}},
    {"name with uppercase letters",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: MyVps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
)yaml"),
     {"fleet.yaml:4:9: error: Tunnel: metadata.name: \"MyVps\" is not a valid name: character 'M' is not "
      "allowed (use lowercase letters, digits and '-')"}},
    {"control character in a string",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 192.168.1.10
  description: "ring\a"
)yaml",
     {"fleet.yaml:31:16: error: PortForward/web: spec.description: \"ring\\u0007\" contains control character "
      "U+0007"}},
    {"listenPort quoted",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
  listenPort: "51820"
)yaml"),
     {"fleet.yaml:9:15: error: Tunnel/vps: spec.listenPort: \"51820\" is a quoted string; write the integer "
      "without quotes"}},
    {"listenPort out of range",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
  listenPort: 70000
)yaml"),
     {"fleet.yaml:9:15: error: Tunnel/vps: spec.listenPort: \"70000\" is out of range (1-65535)"}},
    {"YAML 1.1 boolean",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
  selfHeal: yes
)yaml"),
     {"fleet.yaml:9:13: error: Tunnel/vps: spec.selfHeal: \"yes\" is not a boolean; write true or false (YAML "
      "1.1 words like yes, no, on and off are not accepted)"}},
    {"bad endpoint",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com:0
  network: 10.77.0.0/24
)yaml"),
     {"fleet.yaml:7:13: error: Tunnel/vps: spec.endpoint: in \"vpn.example.com:0\": \"0\" is not a port (expected "
      "1-65535)"}},
    {"bad interface name",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
  interface: wg/0
)yaml"),
     {"fleet.yaml:9:14: error: Tunnel/vps: spec.interface: \"wg/0\" is not a valid interface name (1-15 "
      "characters: letters, digits, '_', '.', '=', '+', '-', starting with a letter, digit or '_')"}},
    {"CIDR prefix out of range",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/33
)yaml"),
     {"fleet.yaml:8:12: error: Tunnel/vps: spec.network: \"10.77.0.0/33\" is not a CIDR (expected "
      "ADDRESS/PREFIX with PREFIX 0-32)"}},
    {"CIDR with host bits",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.1/24
)yaml"),
     {"fleet.yaml:8:12: error: Tunnel/vps: spec.network: \"10.77.0.1/24\" has host bits set (did you mean "
      "10.77.0.0/24?)"}},
    {"tunnel network too small",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/31
)yaml"),
     {"fleet.yaml:8:12: error: Tunnel/vps: spec.network: \"10.77.0.0/31\" is too small for a tunnel network "
      "(the prefix must be at most /30)"}},
    {"bad LAN CIDR",
     kTunnel + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: home
spec:
  tunnel: vps
  agent: home-gw
  lan: [192.168.1.0]
)yaml",
     {"fleet.yaml:17:9: error: Peer/home: spec.lan[0]: \"192.168.1.0\" is not a CIDR (expected ADDRESS/PREFIX, "
      "e.g. 10.77.0.0/24)"}},
    {"bad peer address",
     kTunnel + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: home
spec:
  tunnel: vps
  agent: home-gw
  address: 10.77.0.256
)yaml",
     {"fleet.yaml:17:12: error: Peer/home: spec.address: \"10.77.0.256\" is not an IPv4 address"}},
    {"bad public key",
     kTunnel + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8D
)yaml",
     {"fleet.yaml:16:14: error: Peer/phone: spec.publicKey: \"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8D\" is "
      "not a WireGuard key (expected 44 characters of base64 encoding 32 bytes)"}},
    {"both agent and publicKey",
     kTunnel + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  agent: phone
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
)yaml",
     {"fleet.yaml:14:1: error: Peer/phone: spec: set exactly one of spec.agent (a managed peer) and "
      "spec.publicKey (an unmanaged device)"}},
    {"neither agent nor publicKey",
     kTunnel + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  address: 10.77.0.3
)yaml",
     {"fleet.yaml:14:1: error: Peer/phone: spec: set exactly one of spec.agent (a managed peer) and "
      "spec.publicKey (an unmanaged device)"}},
    {"interface on an unmanaged peer",
     kTunnel + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
  interface: wg1
)yaml",
     {"fleet.yaml:17:14: error: Peer/phone: spec.interface: spec.interface is only for managed peers (those "
      "with spec.agent); an unmanaged device names its own interface"}},
    {"port out of range",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: game
spec:
  tunnel: vps
  protocol: udp
  ports: "70000"
  to:
    address: 192.168.1.10
)yaml",
     {"fleet.yaml:28:10: error: PortForward/game: spec.ports: in \"70000\": \"70000\" is not a port (expected "
      "1-65535)"}},
    {"reversed port range",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: dayz
spec:
  tunnel: vps
  protocol: udp
  ports: "2305-2302"
  to:
    address: 192.168.1.10
)yaml",
     {"fleet.yaml:28:10: error: PortForward/dayz: spec.ports: range \"2305-2302\" is reversed (the first port "
      "must not exceed the last)"}},
    {"overlapping ports in one list",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: game
spec:
  tunnel: vps
  protocol: udp
  ports: "2302-2305,2304"
  to:
    address: 192.168.1.10
)yaml",
     {"fleet.yaml:28:10: error: PortForward/game: spec.ports: \"2304\" overlaps \"2302-2305\" in \"2302-2305,2304\""}},
    {"unknown protocol with hint",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tpc
  ports: "443"
  to:
    address: 192.168.1.10
)yaml",
     {"fleet.yaml:27:13: error: PortForward/web: spec.protocol: \"tpc\" is not one of tcp, udp or both; did you "
      "mean \"tcp\"?"}},
    {"ports without protocol",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  ports: "443"
  to:
    address: 192.168.1.10
)yaml",
     {"fleet.yaml:25:1: error: PortForward/web: spec.protocol: missing required field \"protocol\" (required "
      "with spec.ports)"}},
    {"both ports and template",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  template: web
  to:
    address: 192.168.1.10
)yaml",
     {"fleet.yaml:25:1: error: PortForward/web: spec: set exactly one of spec.ports (with spec.protocol) and "
      "spec.template"}},
    {"remap on a port range",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "8000-8010"
  to:
    address: 192.168.1.10
    port: 80
)yaml",
     {"fleet.yaml:31:11: error: PortForward/web: spec.to.port: spec.to.port remaps a single port, but "
      "spec.ports is \"8000-8010\""}},
    {"remap with a template",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  template: web
  to:
    address: 192.168.1.10
    port: 8080
)yaml",
     {"fleet.yaml:30:11: error: PortForward/web: spec.to.port: spec.to.port remaps a single port; it cannot "
      "be used with spec.template"}},
    {"bad forward address",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 192.168.1
)yaml",
     {"fleet.yaml:30:14: error: PortForward/web: spec.to.address: \"192.168.1\" is not an IPv4 address"}},
    {"tunnel reference with hint",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vsp
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
)yaml",
     {"fleet.yaml:26:11: error: Peer/phone: spec.tunnel: Tunnel \"vsp\" does not exist; did you mean \"vps\"?"}},
    {"template reference with hint",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: dayz
spec:
  tunnel: vps
  template: dyaz
  to:
    address: 192.168.1.10
)yaml",
     {"fleet.yaml:27:13: error: PortForward/dayz: spec.template: ServiceTemplate \"dyaz\" does not exist; did "
      "you mean \"dayz\"?"}},
    {"to.peer reference with hint",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 192.168.1.10
    peer: hom
)yaml",
     {"fleet.yaml:31:11: error: PortForward/web: spec.to.peer: Peer \"hom\" does not exist; did you mean "
      "\"home\"?"}},
    {"to.peer on another tunnel",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: other
spec:
  agent: vps2
  endpoint: other.example.com
  network: 10.78.0.0/24
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: far
spec:
  tunnel: other
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
  address: 10.78.0.2
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 192.168.1.10
    peer: far
)yaml",
     {"fleet.yaml:49:11: error: PortForward/web: spec.to.peer: Peer/far (fleet.yaml:35) is on Tunnel/other, "
      "not on Tunnel/vps"}},
    {"duplicate name",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: home
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
)yaml",
     {"fleet.yaml:24:9: error: Peer/home: metadata.name: duplicate name: Peer/home is already defined at "
      "fleet.yaml:13"}},
    {"template with a built-in's name",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: ServiceTemplate
metadata:
  name: minecraft
spec:
  ports:
  - protocol: tcp
    ports: "25566"
)yaml"),
     {"fleet.yaml:4:9: error: ServiceTemplate/minecraft: metadata.name: name \"minecraft\" is taken by a "
      "built-in ServiceTemplate (tcp 25565); choose another name"}},
    {"template claiming a port twice",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: ServiceTemplate
metadata:
  name: game
spec:
  ports:
  - protocol: tcp
    ports: "7000-7010"
  - protocol: both
    ports: "7005"
)yaml"),
     {"fleet.yaml:9:5: error: ServiceTemplate/game: spec.ports[1]: tcp 7005 overlaps tcp 7000-7010 of "
      "spec.ports[0]"}},
    {"address outside the tunnel network",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
  address: 10.78.0.3
)yaml",
     {"fleet.yaml:28:12: error: Peer/phone: spec.address: address 10.78.0.3 is outside the network of "
      "Tunnel/vps (10.77.0.0/24)"}},
    {"address is the server's",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
  address: 10.77.0.1
)yaml",
     {"fleet.yaml:28:12: error: Peer/phone: spec.address: address 10.77.0.1 is the server's address of "
      "Tunnel/vps (10.77.0.0/24)"}},
    {"address is the network address",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
  address: 10.77.0.0
)yaml",
     {"fleet.yaml:28:12: error: Peer/phone: spec.address: address 10.77.0.0 is the network address of "
      "Tunnel/vps (10.77.0.0/24)"}},
    {"address is the broadcast address",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
  address: 10.77.0.255
)yaml",
     {"fleet.yaml:28:12: error: Peer/phone: spec.address: address 10.77.0.255 is the broadcast address of "
      "Tunnel/vps (10.77.0.0/24)"}},
    {"duplicate address",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
  address: 10.77.0.2
)yaml",
     {"fleet.yaml:28:12: error: Peer/phone: spec.address: address 10.77.0.2 is already used by Peer/home "
      "(fleet.yaml:17) on Tunnel/vps"}},
    {"duplicate public key",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: laptop
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
)yaml",
     {"fleet.yaml:35:14: error: Peer/laptop: spec.publicKey: publicKey "
      "\"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\" is already used by Peer/phone (fleet.yaml:27) on "
      "Tunnel/vps"}},
    {"LAN overlaps the tunnel network",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: office
spec:
  tunnel: vps
  agent: office-gw
  lan: [10.77.0.0/16]
)yaml",
     {"fleet.yaml:28:9: error: Peer/office: spec.lan[0]: lan 10.77.0.0/16 overlaps the network 10.77.0.0/24 "
      "of Tunnel/vps"}},
    {"LAN overlaps another peer's LAN",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: office
spec:
  tunnel: vps
  agent: office-gw
  lan:
  - 172.16.0.0/24
  - 192.168.1.128/25
)yaml",
     {"fleet.yaml:30:5: error: Peer/office: spec.lan[1]: lan 192.168.1.128/25 overlaps lan 192.168.1.0/24 of "
      "Peer/home (fleet.yaml:18) on Tunnel/vps"}},
    {"LANs of one peer overlap",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: office
spec:
  tunnel: vps
  agent: office-gw
  lan:
  - 172.16.0.0/16
  - 172.16.5.0/24
)yaml",
     {"fleet.yaml:30:5: error: Peer/office: spec.lan[1]: lan 172.16.5.0/24 overlaps spec.lan[0] 172.16.0.0/16 "
      "of the same peer"}},
    {"forward port ranges overlap",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: dayz
spec:
  tunnel: vps
  protocol: udp
  ports: "2302-2305"
  to:
    address: 192.168.1.10
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: more
spec:
  tunnel: vps
  protocol: udp
  ports: "2305-2310"
  to:
    address: 192.168.1.11
)yaml",
     {"fleet.yaml:39:10: error: PortForward/more: spec.ports: udp 2305-2310 overlaps udp 2302-2305 of "
      "PortForward/dayz (fleet.yaml:28) on Tunnel/vps"}},
    {"protocol both overlaps a template",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  template: web
  to:
    address: 192.168.1.10
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: https
spec:
  tunnel: vps
  protocol: both
  ports: "443"
  to:
    address: 192.168.1.11
)yaml",
     {"fleet.yaml:38:10: error: PortForward/https: spec.ports: tcp 443 overlaps tcp 443 of PortForward/web "
      "(fleet.yaml:27) on Tunnel/vps"}},
    {"forward to the server's address",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 10.77.0.1
)yaml",
     {"fleet.yaml:30:14: error: PortForward/web: spec.to.address: to.address 10.77.0.1 is the server's "
      "address of Tunnel/vps (10.77.0.0/24); forward to a peer's address or to an address in a peer's lan"}},
    {"forward to an unpinned tunnel address",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 10.77.0.7
)yaml",
     {"fleet.yaml:30:14: error: PortForward/web: spec.to.address: to.address 10.77.0.7 is inside the network "
      "10.77.0.0/24 of Tunnel/vps but is no peer's spec.address; forward to a peer whose spec.address is set"}},
    {"forward to a peer without a fixed address",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 10.77.0.7
    peer: phone
)yaml",
     {"fleet.yaml:38:14: error: PortForward/web: spec.to.address: Peer/phone has no fixed address; set "
      "spec.address on it to forward to its tunnel address"}},
    {"forward to an unroutable address",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 192.168.2.10
)yaml",
     {"fleet.yaml:30:14: error: PortForward/web: spec.to.address: to.address 192.168.2.10 is not routable "
      "through Tunnel/vps: it is neither a peer's address nor inside a peer's lan"}},
    {"forward into two peers' LANs",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: lab
spec:
  tunnel: vps
  agent: lab-gw
  lan: [192.168.0.0/16]
  gateway: true
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 192.168.1.10
)yaml",
     {"fleet.yaml:28:9: error: Peer/lab: spec.lan[0]: lan 192.168.0.0/16 overlaps lan 192.168.1.0/24 of "
      "Peer/home (fleet.yaml:18) on Tunnel/vps",
      "fleet.yaml:40:14: error: PortForward/web: spec.to.address: to.address 192.168.1.10 is inside the lan "
      "of several peers (Peer/home, Peer/lab); it must be routable through exactly one peer"}},
    {"to.peer disagrees with to.address",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: lab
spec:
  tunnel: vps
  agent: lab-gw
  lan: [172.16.0.0/24]
  gateway: true
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 172.16.0.10
    peer: home
)yaml",
     {"fleet.yaml:41:11: error: PortForward/web: spec.to.peer: to.peer \"home\" disagrees with to.address "
      "172.16.0.10, which is routed through Peer/lab"}},
    {"warning: LAN behind a non-gateway peer",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: office
spec:
  tunnel: vps
  agent: office-gw
  lan: [172.16.0.0/24]
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 172.16.0.10
)yaml",
     {"fleet.yaml:39:14: warning: PortForward/web: spec.to.address: to.address 172.16.0.10 is in the lan of "
      "Peer/office, which has gateway: false, so its client masquerades this forward and the LAN host sees "
      "the client's LAN address, not the player's; to keep real client IPs set gateway: true on Peer/office "
      "and route the LAN host through it"}},
    {"warning: LAN behind an unmanaged peer",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: router
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
  lan: [172.16.0.0/24]
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "443"
  to:
    address: 172.16.0.10
)yaml",
     {"fleet.yaml:39:14: warning: PortForward/web: spec.to.address: to.address 172.16.0.10 is in the lan of "
      "Peer/router, an unmanaged device: WireWarp configures nothing there, so whether replies come back "
      "through the tunnel depends on that device"}},
    {"peer on its tunnel's server agent",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: loop
spec:
  tunnel: vps
  agent: vps1
)yaml",
     {"fleet.yaml:27:10: error: Peer/loop: spec.agent: agent \"vps1\" is the server of Tunnel/vps "
      "(fleet.yaml:6); a peer of a tunnel must run on a different agent"}},
    {"one agent twice on a tunnel",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: home-2
spec:
  tunnel: vps
  agent: home-gw
  interface: wg1
)yaml",
     {"fleet.yaml:27:10: error: Peer/home-2: spec.agent: agent \"home-gw\" already joins Tunnel/vps as "
      "Peer/home (fleet.yaml:16)"}},
    {"two interfaces with one name on an agent",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: second
spec:
  agent: vps2
  endpoint: second.example.com
  network: 10.78.0.0/24
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: home-second
spec:
  tunnel: second
  agent: home-gw
)yaml",
     {"fleet.yaml:34:1: error: Peer/home-second: spec.interface: interface \"wg0\" on agent \"home-gw\" is "
      "already used by Peer/home (fleet.yaml:13); set spec.interface to another name"}},
    {"two server tunnels on one listen port",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: second
spec:
  agent: vps1
  endpoint: vpn.example.com
  interface: wg1
  network: 10.78.0.0/24
)yaml",
     {"fleet.yaml:25:1: error: Tunnel/second: spec.listenPort: listenPort 51820 on agent \"vps1\" is already "
      "used by Tunnel/vps (fleet.yaml:4)"}},
    {"overlapping tunnel networks on one agent",
     kBase + R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: second
spec:
  agent: vps2
  endpoint: second.example.com
  network: 10.77.0.0/16
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: home-second
spec:
  tunnel: second
  agent: home-gw
  interface: wg1
)yaml",
     {"fleet.yaml:35:11: error: Peer/home-second: spec.tunnel: network 10.77.0.0/16 of Tunnel/second overlaps "
      "network 10.77.0.0/24 of Tunnel/vps, which agent \"home-gw\" is also on as Peer/home (fleet.yaml:15)"}},
    {"a broken tunnel does not make its peers dangle",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/33
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
)yaml"),
     {"fleet.yaml:8:12: error: Tunnel/vps: spec.network: \"10.77.0.0/33\" is not a CIDR (expected "
      "ADDRESS/PREFIX with PREFIX 0-32)"}},
    {"invalid UTF-8",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
)yaml") + "  publicInterface: eth\xff" "0\n",
     {"fleet.yaml:9:23: error: invalid UTF-8: byte 0xFF never appears in UTF-8"}},
    {"nesting too deep",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: 10.77.0.0/24
  publicInterface: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
)yaml"),
     {"fleet.yaml:9:50: error: nesting deeper than 32 levels is not supported (the rest of the file is not "
      "read)"}},
    {"YAML tag",
     std::string(R"yaml(apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata:
  name: vps
spec:
  agent: vps1
  endpoint: vpn.example.com
  network: !!binary 10.77.0.0/24
)yaml"),
     {"fleet.yaml:8:12: error: Tunnel/vps: spec.network: tag \"!!binary\" is not supported (fleet files use no "
      "tags)"}},
  };
  return catalog;
}

}  // namespace

TEST_CASE("the catalog's base fleet is valid") {
  CHECK(Findings({{"fleet.yaml", kBase}}) == "");
  CHECK(Findings({{"fleet.yaml", kTunnel}}) == "");
}

TEST_CASE("the catalog holds at least 45 distinct cases") {
  std::set<std::string> names;
  for (const CatalogCase& entry : Catalog()) names.insert(entry.name);
  CHECK(names.size() == Catalog().size());
  CHECK(Catalog().size() >= 45);
}

TEST_CASE("every catalog case reports exactly its findings") {
  for (const CatalogCase& entry : Catalog()) {
    std::string name = entry.name;
    CAPTURE(name);
    REQUIRE_FALSE(entry.expected.empty());
    CHECK(Findings({{"fleet.yaml", entry.yaml}}) == Joined(entry.expected));
  }
}

TEST_CASE("a fleet with several independent errors reports every one of them, across files") {
  std::string peers = R"yaml(apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: phone
spec:
  tunnel: vps
  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
  address: 10.77.0.2
  keepAlive: 25
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata:
  name: laptop
spec:
  tunnel: vpn
  publicKey: HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=
)yaml";
  std::string forwards = R"yaml(apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: dayz
spec:
  tunnel: vps
  template: dayz
  to:
    address: 192.168.1.10
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: range
spec:
  tunnel: vps
  protocol: udp
  ports: "2300-2302"
  to:
    address: 10.77.0.1
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata:
  name: web
spec:
  tunnel: vps
  protocol: tcp
  ports: "80"
  to:
    address: 192.168.1.11
    port: 0
)yaml";
  // Peer/phone does not load (unknown field), so its address clash with Peer/home is not checked.
  CHECK(Findings({{"fleet.yaml", kBase + peers}, {"forwards.yaml", forwards}}) ==
        "fleet.yaml:29:3: error: Peer/phone: spec.keepAlive: unknown field \"keepAlive\" (did you mean \"keepalive\"?)\n"
        "fleet.yaml:36:11: error: Peer/laptop: spec.tunnel: Tunnel \"vpn\" does not exist; did you mean \"vps\"?\n"
        "forwards.yaml:18:10: error: PortForward/range: spec.ports: udp 2300-2302 overlaps udp 2302-2305 of "
        "PortForward/dayz (forwards.yaml:7) on Tunnel/vps\n"
        "forwards.yaml:20:14: error: PortForward/range: spec.to.address: to.address 10.77.0.1 is the server's address of "
        "Tunnel/vps (10.77.0.0/24); forward to a peer's address or to an address in a peer's lan\n"
        "forwards.yaml:32:11: error: PortForward/web: spec.to.port: \"0\" is out of range (1-65535)\n");
}
