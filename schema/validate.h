#pragma once
// ValidateFleet: the cross-document rules of one revision. Every finding is reported (not
// just the first), each with the file, line and field it is about. An invalid revision is
// rejected whole; nothing is rendered from it.
//
// Rules: references resolve (tunnel, template, to.peer); names unique per kind; user
// templates do not shadow built-ins; peer addresses inside their tunnel network, unique, not
// the network/broadcast/server address; LANs overlap neither each other nor any tunnel
// network on the same tunnel; no two forwards claim the same (tunnel, protocol, port),
// ranges included; a remap only on single ports; a forward's to.address is routable
// through exactly one peer and agrees with to.peer; unmanaged peers have no interface;
// two interfaces on one agent never share a name or listen port; a managed peer and its
// tunnel's server are different agents.

#include "schema/diagnostic.h"
#include "schema/model.h"

namespace ww {

Diagnostics ValidateFleet(const Fleet& fleet);

}  // namespace ww
