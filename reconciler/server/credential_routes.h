#pragma once
// Credentials for people and CI on the reconciler's HttpsServer (reconciler/api/API.md), all
// for the admin role (access_policy.h):
//   POST   /v1/credentials         {name, role: admin|viewer|ci, ttlSeconds?, csr} -> the signed
//                                  certificate; the private key never leaves the client. 409
//                                  while a credential of that name is active.
//   GET    /v1/credentials         every credential certificate, revoked and expired ones too.
//   DELETE /v1/credentials/{name}  revokes that name's certificates; 409 for the last admin.
//   POST   /v1/certificates/{serial}/revoke, DELETE /v1/certificates/{serial}: revokes any one
//                                  certificate, an agent's or a person's; 409 for the last admin.
// A revocation reloads RevokedSerials, which the server checks on every request, so it holds
// at once for new connections and for the next request of one already open.

#include <cstdint>
#include <functional>
#include <string>

#include "reconciler/api/https_server.h"
#include "reconciler/pki/certificate_authority.h"
#include "reconciler/server/certificate_use.h"
#include "reconciler/server/revoked_serials.h"
#include "reconciler/store/store.h"
#include "schema/result.h"

namespace ww {

struct CredentialOptions {
  std::string fleet;                  // the fleet segment of issued identities
  std::function<std::int64_t()> now;  // unix seconds; required
  // Flushed to the Store before credentials are listed (lastUsed). Null: no lastUsed tracking.
  CertificateUse* use = nullptr;
};

// REQUIRES: before server.Start(); ca, store, revoked (and options.use) outlive the server.
Status RegisterCredentialRoutes(HttpsServer& server, const CertificateAuthority& ca, Store& store,
                                RevokedSerials& revoked, CredentialOptions options);

}  // namespace ww
