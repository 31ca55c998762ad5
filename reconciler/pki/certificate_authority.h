#pragma once
// The reconciler's certificate authority: one P-256 CA that issues the reconciler's server
// certificate and the client certificates that carry every agent's and person's identity
// (a wirewarp://FLEET/KIND/ID URI SAN). Also the SPKI pin the install command carries, and the
// key/CSR helpers an enrolling agent uses. No function reads the clock: callers pass `now`
// (unix seconds), so tests control time. A CertificateAuthority is immutable after Create/Load
// and safe to share between threads for issuing and verifying.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/result.h"

namespace ww {

enum class IdentityKind { kAgent, kAdmin, kViewer, kCi };

// "agent", "admin", "viewer", "ci": the path segment in the identity URI.
std::string_view IdentityKindName(IdentityKind kind);

// Who a client certificate speaks for. `id` and `fleet` match ^[a-z0-9][a-z0-9-]{0,62}$.
struct Identity {
  IdentityKind kind = IdentityKind::kAgent;
  std::string id;
  std::string fleet;

  friend bool operator==(const Identity&, const Identity&) = default;
};

// "wirewarp://FLEET/KIND/ID".
std::string IdentityUri(const Identity& identity);

// ^[a-z0-9][a-z0-9-]{0,62}$, the pattern of an Identity's id and fleet.
bool IsValidIdentityPart(std::string_view text);

// A new install's fleet id: "f" and 16 random lowercase hex digits.
Result<std::string> GenerateFleetId();

struct IssuedCertificate {
  std::string pem;
  std::string serial_hex;       // lowercase, no leading "0x"; 40 digits for a 159-bit serial
  std::int64_t not_before = 0;  // unix seconds
  std::int64_t not_after = 0;   // unix seconds
};

struct IssuedServerCertificate {
  IssuedCertificate certificate;
  std::string private_key_pem;  // the key passed in, or the new one; write it 0600
};

inline constexpr std::chrono::seconds kClientCertificateLifetime = std::chrono::days(30);
inline constexpr std::chrono::seconds kServerCertificateLifetime = std::chrono::days(365);
inline constexpr std::chrono::seconds kCaCertificateLifetime = std::chrono::days(3650);
// Credentials of people and CI (`wwctl credential create --ttl`): the default and the bounds.
inline constexpr std::chrono::seconds kDefaultCredentialLifetime = std::chrono::days(90);
inline constexpr std::chrono::seconds kMinCredentialLifetime = std::chrono::hours(1);
inline constexpr std::chrono::seconds kMaxCredentialLifetime = std::chrono::days(825);
// notBefore is backdated by this much so an agent whose clock runs a little behind accepts it.
inline constexpr std::chrono::seconds kClockSkewAllowance = std::chrono::seconds(300);

class CertificateAuthority {
 public:
  // A new P-256 key and a self-signed CA certificate (CA:TRUE and keyCertSign+cRLSign, both
  // critical; SKI), valid from now - skew for 10 years.
  static Result<CertificateAuthority> Create(std::string_view common_name, std::int64_t now);
  // Refuses a certificate that is not a CA or a key that does not belong to it.
  static Result<CertificateAuthority> Load(std::string_view ca_cert_pem, std::string_view ca_key_pem);

  CertificateAuthority(CertificateAuthority&&) noexcept;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept;
  ~CertificateAuthority();

  const std::string& CertificatePem() const { return certificate_pem_; }
  // The CA's private key (PKCS#8 PEM). Callers write it with mode 0600.
  const std::string& PrivateKeyPem() const { return private_key_pem_; }

  // The reconciler's TLS certificate: serverAuth EKU, DNS and IP SANs. An empty key_pem makes
  // a new P-256 key. Each DNS name must be a plain host name; IPs are IPv4 or IPv6 literals.
  Result<IssuedServerCertificate> IssueServer(std::string_view key_pem,
                                              const std::vector<std::string>& dns_names,
                                              const std::vector<std::string>& ip_addresses, std::int64_t now,
                                              std::chrono::seconds lifetime = kServerCertificateLifetime) const;

  // A client certificate for `identity`, for the key in the CSR. The CSR must be self-signed by
  // its key (proof of possession) with a P-256 or Ed25519 key; everything else in it (subject,
  // requested extensions) is ignored. Subject CN=id; SAN = IdentityUri; clientAuth;
  // digitalSignature and CA:FALSE, critical; SKI and AKI; 159-bit random serial;
  // notBefore = now - skew, notAfter = now + lifetime.
  Result<IssuedCertificate> IssueClient(std::string_view csr_pem, const Identity& identity, std::int64_t now,
                                        std::chrono::seconds lifetime = kClientCertificateLifetime) const;

 private:
  struct Keys;
  friend Result<Identity> VerifyClientCertificate(const CertificateAuthority& ca, std::string_view cert_pem,
                                                  std::int64_t now);
  explicit CertificateAuthority(std::unique_ptr<Keys> keys, std::string certificate_pem,
                                std::string private_key_pem);

  std::unique_ptr<Keys> keys_;
  std::string certificate_pem_;
  std::string private_key_pem_;
};

// Checks that `cert_pem` chains to `ca`, is valid at `now`, carries the clientAuth EKU and
// exactly one wirewarp:// URI SAN, and returns the identity in it. Revocation is the caller's
// business (the store knows revoked serials).
Result<Identity> VerifyClientCertificate(const CertificateAuthority& ca, std::string_view cert_pem,
                                         std::int64_t now);

// What a certificate says about itself, unchecked: only for telling a person why it was
// refused (one of another install names that install's CA and fleet).
struct CertificateClaims {
  std::string subject_common_name;  // "" when it has none
  std::string issuer_common_name;
  std::optional<Identity> identity;  // its wirewarp:// URI SAN, when it has exactly one
  friend bool operator==(const CertificateClaims&, const CertificateClaims&) = default;
};
Result<CertificateClaims> ReadCertificateClaims(std::string_view cert_pem);

// The certificate's serial number as lowercase hex (the form IssuedCertificate uses).
Result<std::string> CertificateSerialHex(std::string_view cert_pem);

// "sha256:" + lowercase hex of SHA-256 over the DER SubjectPublicKeyInfo (RFC 7469, kubeadm's
// --discovery-token-ca-cert-hash). X509_pubkey_digest hashes only the key bits, not the SPKI.
Result<std::string> SpkiPin(std::string_view cert_pem);

// True when the certificate's SPKI pin equals any of `pins` (compared in constant time;
// malformed pins never match; hex case is ignored).
bool PinMatches(std::string_view cert_pem, const std::vector<std::string>& pins);

// `size` bytes as lowercase hex (digests, pins).
std::string LowercaseHex(const unsigned char* data, std::size_t size);

// Agent side: a new P-256 private key as PKCS#8 PEM.
Result<std::string> GenerateP256Key();

// Agent side: a CSR for `key_pem` (any key OpenSSL can sign with; Ed25519 signs without a
// digest) with subject CN=common_name. The CA ignores the subject, it only names the request.
Result<std::string> MakeCsr(std::string_view key_pem, std::string_view common_name);

}  // namespace ww
