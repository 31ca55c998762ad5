#pragma once
// ValidateFleet: the cross-document rules of one revision. Every finding is reported (not
// just the first), each with the file, line and field it is about. An invalid revision is
// rejected whole; nothing is rendered from it.
//
// Rules: references resolve (tunnel, template, to.peer); names unique per kind; user
// templates do not shadow built-ins nor claim a port twice; peer addresses inside their
// tunnel network, unique, not the network/broadcast/server address; unmanaged peers' keys
// unique per tunnel; LANs overlap neither each other nor the tunnel network on one tunnel;
// no two forwards claim the same (tunnel, protocol, port), ranges included; a remap only on
// single ports; a forward's to.address is routable through exactly one peer and agrees with
// to.peer; a managed peer runs on another agent than its tunnel's server, once per tunnel;
// two interfaces on one agent never share a name, nor two server tunnels a listen port, and
// the tunnel networks on one agent do not overlap; two gateway peers of one agent never have
// overlapping LANs. No forward takes a port its VPS needs: udp on a WireGuard listenPort of
// the tunnel's agent, tcp on the control server's port when that server is the tunnel's
// endpoint host (given in ValidationContext), nor tcp/22 (the VPS's sshd; the ssh template)
// without hostPort: allow. Warnings (not errors): a forward into the LAN of a peer with
// gateway: false (masqueraded) or of an unmanaged peer; a forward on the control server's
// port of a tunnel whose endpoint is another host name (it may be the same machine).
// Per-document checks (syntax, types, formats, exactly-one-of) are LoadFleet's.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/diagnostic.h"
#include "schema/loader.h"
#include "schema/model.h"

namespace ww {

// The VPS's own SSH port: a forward may take it only with hostPort: allow.
inline constexpr uint16_t kHostSshPort = 22;

// What validation knows beyond the fleet. The reconciler passes its advertised address;
// offline (`wwctl validate`) it is given by --control-server or left out, and the control
// port check is skipped.
struct ControlServer {
  std::string host;  // as agents dial it: a name or an IPv4 literal
  uint16_t port = 0;
  friend bool operator==(const ControlServer&, const ControlServer&) = default;
};
// How an agent enrolled: its token's --type, fixed for the life of its certificate.
enum class EnrolledMode { kServer, kClient };

struct ValidationContext {
  std::optional<ControlServer> control;
  // The reconciler's enrolled agents: a Tunnel's agent must have enrolled as a server and a
  // Peer's as a client (agents not listed are not checked: they may enroll later).
  std::map<std::string, EnrolledMode> enrolled;
};

Diagnostics ValidateFleet(const Fleet& fleet, const ValidationContext& context = {});

// The same for a fleet that LoadFleet decoded only in part. `load_diagnostics` (LoadFleet's
// findings) name the documents that failed to load ("Tunnel/vps"): a reference to one of
// them is not reported again as missing, nor is a forward's address unroutable for want of
// a peer that did not load. A failed document whose name is unknown (a syntax error, a bad
// name) makes every name of its kind, or of every kind, possibly present.
Diagnostics ValidateFleet(const Fleet& fleet, const Diagnostics& load_diagnostics,
                          const ValidationContext& context = {});

// LoadFleet, then ValidateFleet on what loaded (given the loader's findings, so nothing that
// only failed to load is reported as missing): the fleet and every finding of one run, the
// loader's and validation's together, sorted.
LoadResult LoadAndValidateFleet(const std::vector<SourceFile>& files, const LoadOptions& options = {},
                                const ValidationContext& context = {});

}  // namespace ww
