#pragma once
// The reconciler's first start and every later one: the data directory (0700) with the CA
// (ca.pem, ca-key.pem, CN "WireWarp CA FLEET"), the fleet id (fleet-id), the server certificate for the advertised host plus 127.0.0.1 and
// localhost (server.pem, server-key.pem), the SQLite store (wirewarp.db), and an admin client
// certificate written into admin.wwctl.yaml (0600, like a kubeconfig: URL, CA, pin, cert, key).
// ca.pem is written last, so a start interrupted half-way simply starts over. Not thread-safe;
// the returned object's CA and store are (see their headers).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "reconciler/pki/certificate_authority.h"
#include "reconciler/store/store.h"
#include "schema/result.h"

namespace ww {

inline constexpr std::string_view kCaCertificateFileName = "ca.pem";
inline constexpr std::string_view kCaKeyFileName = "ca-key.pem";
inline constexpr std::string_view kServerCertificateFileName = "server.pem";
inline constexpr std::string_view kServerKeyFileName = "server-key.pem";
inline constexpr std::string_view kDatabaseFileName = "wirewarp.db";
inline constexpr std::string_view kAdminConfigFileName = "admin.wwctl.yaml";
// The fleet id (fleet-id, beside the CA): the FLEET of every identity URI this install's CA
// issues, checked on every request. A new data directory gets GenerateFleetId() (or keeps a
// fleet-id written there before its first start); one made before fleet ids has no file and
// keeps kDefaultFleet, so the certificates it issued stay valid.
inline constexpr std::string_view kFleetIdFileName = "fleet-id";
inline constexpr std::string_view kDefaultFleet = "default";
inline constexpr std::chrono::seconds kAdminCertificateLifetime = std::chrono::days(365);

enum class BootstrapOutcome { kCreated, kLoaded };

struct Bootstrap {
  std::string data_dir;
  std::string advertise_url;
  BootstrapOutcome outcome = BootstrapOutcome::kLoaded;
  std::unique_ptr<CertificateAuthority> ca;
  std::string ca_pin;  // "sha256:<hex>" of the CA's SPKI
  std::string fleet;   // this install's fleet id
  std::string server_certificate_pem;
  std::string server_private_key_pem;
  std::string admin_config_path;
  std::unique_ptr<Store> store;

  // Creates everything on the first start, loads it on later ones. `advertise_url` is
  // https://HOST[:PORT]; its host goes into the server certificate on the first start.
  static Result<Bootstrap> Open(const std::string& data_dir, const std::string& advertise_url, std::int64_t now);
};

}  // namespace ww
