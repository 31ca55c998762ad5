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
// overlapping LANs. Warnings (not errors): a forward into
// the LAN of a peer with gateway: false (masqueraded) or of an unmanaged peer.
// Per-document checks (syntax, types, formats, exactly-one-of) are LoadFleet's.

#include <vector>

#include "schema/diagnostic.h"
#include "schema/loader.h"
#include "schema/model.h"

namespace ww {

Diagnostics ValidateFleet(const Fleet& fleet);

// The same for a fleet that LoadFleet decoded only in part. `load_diagnostics` (LoadFleet's
// findings) name the documents that failed to load ("Tunnel/vps"): a reference to one of
// them is not reported again as missing, nor is a forward's address unroutable for want of
// a peer that did not load. A failed document whose name is unknown (a syntax error, a bad
// name) makes every name of its kind, or of every kind, possibly present.
Diagnostics ValidateFleet(const Fleet& fleet, const Diagnostics& load_diagnostics);

// LoadFleet, then ValidateFleet on what loaded (given the loader's findings, so nothing that
// only failed to load is reported as missing): the fleet and every finding of one run, the
// loader's and validation's together, sorted.
LoadResult LoadAndValidateFleet(const std::vector<SourceFile>& files, const LoadOptions& options = {});

}  // namespace ww
