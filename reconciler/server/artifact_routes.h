#pragma once
// The artifact routes on the reconciler's HttpsServer (reconciler/api/API.md), served without
// a client certificate: the files are programs, not secrets, and the client authenticates
// the server by its CA (curl --cacert) before it trusts what it downloads.
//   GET /v1/artifacts                        {"artifacts": [{name, platform, version, sha256, size}]}
//   GET /v1/artifacts/NAME/PLATFORM          the file, streamed, its SHA-256 in X-Content-Sha256
//   GET /v1/artifacts/NAME/PLATFORM.sha256   "HEX  NAME-PLATFORM\n", for sha256sum -c

#include "reconciler/api/https_server.h"
#include "reconciler/server/artifact_catalog.h"
#include "schema/result.h"

namespace ww {

// REQUIRES: before server.Start(); `catalog` outlives the server.
Status RegisterArtifactRoutes(HttpsServer& server, const ArtifactCatalog& catalog);

}  // namespace ww
