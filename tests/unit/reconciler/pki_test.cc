// The reconciler's PKI: CA creation and reload, server and client issuance (the CSR's own
// subject and extensions are ignored), proof of possession, key-type policy, verification at a
// given time, SPKI pins checked against the openssl CLI, and enrollment token parsing.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "reconciler/pki/certificate_authority.h"
#include "reconciler/pki/openssl_handles.h"
#include "reconciler/pki/token.h"

namespace ww {
namespace {

using pki_internal::UniqueBio;
using pki_internal::UniqueEvpPkey;
using pki_internal::UniqueGeneralNames;
using pki_internal::UniqueX509;
using pki_internal::UniqueX509Req;

// 2026-01-01T00:00:00Z. Every test passes its own clock.
constexpr std::int64_t kNow = 1767225600;
constexpr std::int64_t kDay = 86400;

CertificateAuthority NewCa(const char* name = "WireWarp test CA") {
  Result<CertificateAuthority> ca = CertificateAuthority::Create(name, kNow);
  REQUIRE_MESSAGE(ca.ok(), ca.status().message());
  return std::move(ca).value();
}

UniqueX509 ParseCertificate(const std::string& pem) {
  Result<UniqueX509> certificate = pki_internal::ReadCertificatePem(pem);
  REQUIRE_MESSAGE(certificate.ok(), certificate.status().message());
  return std::move(certificate).value();
}

UniqueEvpPkey ParseKey(const std::string& pem) {
  Result<UniqueEvpPkey> key = pki_internal::ReadPrivateKeyPem(pem);
  REQUIRE_MESSAGE(key.ok(), key.status().message());
  return std::move(key).value();
}

std::string P256KeyPem() {
  Result<std::string> key = GenerateP256Key();
  REQUIRE_MESSAGE(key.ok(), key.status().message());
  return *key;
}

std::string Csr(const std::string& key_pem, const char* common_name = "requested-name") {
  Result<std::string> csr = MakeCsr(key_pem, common_name);
  REQUIRE_MESSAGE(csr.ok(), csr.status().message());
  return *csr;
}

std::string KeyPem(EVP_PKEY* key) {
  Result<std::string> pem = pki_internal::WritePrivateKeyPem(key);
  REQUIRE(pem.ok());
  return *pem;
}

std::string CommonName(X509* certificate) {
  std::array<char, 256> buffer{};
  REQUIRE(X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, buffer.data(),
                                    static_cast<int>(buffer.size())) > 0);
  return buffer.data();
}

int Critical(X509* certificate, int nid) {
  const int index = X509_get_ext_by_NID(certificate, nid, -1);
  REQUIRE(index >= 0);
  return X509_EXTENSION_get_critical(X509_get_ext(certificate, index));
}

std::vector<std::string> SubjectAltNames(X509* certificate) {
  UniqueGeneralNames names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr)));
  std::vector<std::string> result;
  if (!names) return result;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    int type = 0;
    const auto* value =
        static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(names.get(), i), &type));
    const std::string bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                            static_cast<std::size_t>(ASN1_STRING_length(value)));
    if (type == GEN_DNS) {
      result.push_back("DNS:" + bytes);
    } else if (type == GEN_URI) {
      result.push_back("URI:" + bytes);
    } else if (type == GEN_IPADD) {
      std::array<char, INET6_ADDRSTRLEN> text{};
      REQUIRE(inet_ntop(bytes.size() == 4 ? AF_INET : AF_INET6, bytes.data(), text.data(), text.size()) != nullptr);
      result.push_back(std::string("IP:") + text.data());
    } else {
      result.push_back("other:" + std::to_string(type));
    }
  }
  return result;
}

std::string Hex(const unsigned char* data, std::size_t size) {
  std::string hex;
  char pair[3];
  for (std::size_t i = 0; i < size; ++i) {
    std::snprintf(pair, sizeof(pair), "%02x", data[i]);
    hex += pair;
  }
  return hex;
}

std::string Sha256Hex(const unsigned char* data, std::size_t size) {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  REQUIRE(EVP_Digest(data, size, digest.data(), &length, EVP_sha256(), nullptr) == 1);
  return Hex(digest.data(), length);
}

bool TimeEquals(const ASN1_TIME* time, std::int64_t expected) {
  return ASN1_TIME_cmp_time_t(time, static_cast<time_t>(expected)) == 0;
}

// A CSR that asks for everything the CA must ignore: a CA:TRUE certificate with admin and DNS
// SANs, other key usages and a subject with extra attributes.
std::string HostileCsr(const std::string& key_pem) {
  UniqueEvpPkey key = ParseKey(key_pem);
  UniqueX509Req request(X509_REQ_new());
  REQUIRE(request);
  REQUIRE(X509_REQ_set_version(request.get(), 0) == 1);
  X509_NAME* subject = X509_REQ_get_subject_name(request.get());
  REQUIRE(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("root"), -1,
                                     -1, 0) == 1);
  REQUIRE(X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Evil"), -1,
                                     -1, 0) == 1);
  REQUIRE(X509_REQ_set_pubkey(request.get(), key.get()) == 1);
  STACK_OF(X509_EXTENSION)* extensions = sk_X509_EXTENSION_new_null();
  X509V3_CTX context;
  X509V3_set_ctx(&context, nullptr, nullptr, request.get(), nullptr, 0);
  const std::vector<std::pair<int, std::string>> asked = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_subject_alt_name, "DNS:evil.example,URI:wirewarp://prod/admin/root"},
      {NID_key_usage, "critical,keyCertSign,cRLSign"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
  };
  for (const auto& [nid, value] : asked) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
    REQUIRE(extension != nullptr);
    sk_X509_EXTENSION_push(extensions, extension);
  }
  REQUIRE(X509_REQ_add_extensions(request.get(), extensions) == 1);
  sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
  REQUIRE(X509_REQ_sign(request.get(), key.get(), EVP_sha256()) > 0);
  Result<std::string> pem = pki_internal::WriteRequestPem(request.get());
  REQUIRE(pem.ok());
  return *pem;
}

// A leaf signed by `ca` with exactly the extensions given (OpenSSL config syntax), to reach the
// verification checks that IssueClient never produces.
std::string LeafSignedBy(const CertificateAuthority& ca, const std::vector<std::pair<int, std::string>>& extensions) {
  UniqueX509 ca_certificate = ParseCertificate(ca.CertificatePem());
  UniqueEvpPkey ca_key = ParseKey(ca.PrivateKeyPem());
  UniqueEvpPkey leaf_key = ParseKey(P256KeyPem());
  UniqueX509 leaf(X509_new());
  REQUIRE(X509_set_version(leaf.get(), X509_VERSION_3) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(leaf.get()), 7) == 1);
  REQUIRE(X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca_certificate.get())) == 1);
  REQUIRE(X509_NAME_add_entry_by_txt(X509_get_subject_name(leaf.get()), "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("handmade"), -1, -1, 0) == 1);
  REQUIRE(X509_set_pubkey(leaf.get(), leaf_key.get()) == 1);
  REQUIRE(ASN1_TIME_set(X509_getm_notBefore(leaf.get()), kNow - 60) != nullptr);
  REQUIRE(ASN1_TIME_set(X509_getm_notAfter(leaf.get()), kNow + kDay) != nullptr);
  X509V3_CTX context;
  X509V3_set_ctx(&context, ca_certificate.get(), leaf.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
    REQUIRE(extension != nullptr);
    REQUIRE(X509_add_ext(leaf.get(), extension, -1) == 1);
    X509_EXTENSION_free(extension);
  }
  REQUIRE(X509_sign(leaf.get(), ca_key.get(), EVP_sha256()) > 0);
  Result<std::string> pem = pki_internal::WriteCertificatePem(leaf.get());
  REQUIRE(pem.ok());
  return *pem;
}

std::string VerifyError(const CertificateAuthority& ca, const std::string& pem, std::int64_t now) {
  Result<Identity> identity = VerifyClientCertificate(ca, pem, now);
  REQUIRE_FALSE(identity.ok());
  return identity.status().message();
}

TEST_CASE("CA: creation has the CA extensions and validity, and survives a reload") {
  CertificateAuthority ca = NewCa();
  UniqueX509 certificate = ParseCertificate(ca.CertificatePem());
  UniqueEvpPkey key = ParseKey(ca.PrivateKeyPem());

  CHECK(CommonName(certificate.get()) == "WireWarp test CA");
  CHECK(X509_NAME_cmp(X509_get_subject_name(certificate.get()), X509_get_issuer_name(certificate.get())) == 0);
  CHECK(X509_verify(certificate.get(), key.get()) == 1);  // self-signed with its own key
  CHECK(EVP_PKEY_is_a(key.get(), "EC") == 1);
  CHECK(EVP_PKEY_get_bits(key.get()) == 256);
  CHECK(X509_get_version(certificate.get()) == X509_VERSION_3);
  CHECK(X509_check_ca(certificate.get()) == 1);
  CHECK(Critical(certificate.get(), NID_basic_constraints) == 1);
  CHECK(X509_get_key_usage(certificate.get()) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK(Critical(certificate.get(), NID_key_usage) == 1);
  CHECK(X509_get0_subject_key_id(certificate.get()) != nullptr);
  CHECK(X509_get_ext_count(certificate.get()) == 3);
  CHECK(TimeEquals(X509_get0_notBefore(certificate.get()), kNow - 300));
  CHECK(TimeEquals(X509_get0_notAfter(certificate.get()), kNow + 3650 * kDay));

  Result<CertificateAuthority> reloaded = CertificateAuthority::Load(ca.CertificatePem(), ca.PrivateKeyPem());
  REQUIRE_MESSAGE(reloaded.ok(), reloaded.status().message());
  CHECK(reloaded->CertificatePem() == ca.CertificatePem());
  CHECK(reloaded->PrivateKeyPem() == ca.PrivateKeyPem());

  // The reloaded CA issues certificates the original accepts, and the other way round.
  Result<IssuedCertificate> from_reloaded =
      reloaded->IssueClient(Csr(P256KeyPem()), {IdentityKind::kAgent, "node-1", "prod"}, kNow);
  REQUIRE(from_reloaded.ok());
  CHECK(VerifyClientCertificate(ca, from_reloaded->pem, kNow).ok());

  CertificateAuthority other = NewCa("other CA");
  Result<CertificateAuthority> mismatched = CertificateAuthority::Load(ca.CertificatePem(), other.PrivateKeyPem());
  REQUIRE_FALSE(mismatched.ok());
  CHECK(mismatched.status().message().find("the CA private key does not belong to the CA certificate") == 0);

  Result<CertificateAuthority> leaf_as_ca = CertificateAuthority::Load(from_reloaded->pem, ca.PrivateKeyPem());
  REQUIRE_FALSE(leaf_as_ca.ok());
  CHECK(leaf_as_ca.status().message() == "the CA certificate is not a CA (no basicConstraints CA:TRUE)");

  CHECK_FALSE(CertificateAuthority::Load("", ca.PrivateKeyPem()).ok());
  CHECK_FALSE(CertificateAuthority::Load("not a pem", ca.PrivateKeyPem()).ok());
  CHECK_FALSE(CertificateAuthority::Create("", kNow).ok());
}

TEST_CASE("CA: server certificate has the SANs and serverAuth") {
  CertificateAuthority ca = NewCa();
  Result<IssuedServerCertificate> server =
      ca.IssueServer("", {"reconciler.example", "localhost"}, {"10.0.0.1", "::1"}, kNow);
  REQUIRE_MESSAGE(server.ok(), server.status().message());
  UniqueX509 certificate = ParseCertificate(server->certificate.pem);
  UniqueEvpPkey key = ParseKey(server->private_key_pem);

  CHECK(SubjectAltNames(certificate.get()) ==
        std::vector<std::string>{"DNS:reconciler.example", "DNS:localhost", "IP:10.0.0.1", "IP:::1"});
  CHECK((X509_get_extension_flags(certificate.get()) & EXFLAG_XKUSAGE) != 0);
  CHECK(X509_get_extended_key_usage(certificate.get()) == XKU_SSL_SERVER);
  CHECK(X509_check_ca(certificate.get()) == 0);
  CHECK(CommonName(certificate.get()) == "reconciler.example");
  CHECK(X509_check_private_key(certificate.get(), key.get()) == 1);
  CHECK(X509_check_host(certificate.get(), "reconciler.example", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(certificate.get(), "10.0.0.1", 0) == 1);
  CHECK(server->certificate.not_before == kNow - 300);
  CHECK(server->certificate.not_after == kNow + 365 * kDay);
  CHECK(TimeEquals(X509_get0_notAfter(certificate.get()), kNow + 365 * kDay));
  UniqueX509 ca_certificate = ParseCertificate(ca.CertificatePem());
  CHECK(X509_check_issued(ca_certificate.get(), certificate.get()) == X509_V_OK);

  // A given key is used as is (renewal keeps the key).
  Result<IssuedServerCertificate> renewed = ca.IssueServer(server->private_key_pem, {"reconciler.example"}, {}, kNow);
  REQUIRE(renewed.ok());
  CHECK(renewed->private_key_pem == server->private_key_pem);
  CHECK(X509_check_private_key(ParseCertificate(renewed->certificate.pem).get(), key.get()) == 1);

  // A server certificate is no client identity.
  CHECK(VerifyError(ca, server->certificate.pem, kNow) == "client certificate refused: unsuitable certificate purpose");

  // Names are never parsed as extension configuration.
  Result<IssuedServerCertificate> injected = ca.IssueServer("", {"a.example,URI:wirewarp://prod/admin/x"}, {}, kNow);
  REQUIRE_FALSE(injected.ok());
  CHECK(injected.status().message() ==
        "server DNS name \"a.example,URI:wirewarp://prod/admin/x\" is not a valid host name");
  Result<IssuedServerCertificate> bad_ip = ca.IssueServer("", {}, {"10.0.0.300"}, kNow);
  REQUIRE_FALSE(bad_ip.ok());
  CHECK(bad_ip.status().message() == "server IP address \"10.0.0.300\" is not an IPv4 or IPv6 address");
  CHECK_FALSE(ca.IssueServer("", {}, {}, kNow).ok());
  CHECK_FALSE(ca.IssueServer("", {"*.example"}, {}, kNow).ok());
}

TEST_CASE("CA: client certificate takes identity from the caller, not from the CSR") {
  CertificateAuthority ca = NewCa();
  const std::string csr = HostileCsr(P256KeyPem());
  {
    // The request really asks for all of it, so ignoring it is what the assertions below show.
    Result<UniqueX509Req> request = pki_internal::ReadRequestPem(csr);
    REQUIRE(request.ok());
    STACK_OF(X509_EXTENSION)* asked = X509_REQ_get_extensions(request->get());
    CHECK(sk_X509_EXTENSION_num(asked) == 4);
    sk_X509_EXTENSION_pop_free(asked, X509_EXTENSION_free);
  }
  Result<IssuedCertificate> issued = ca.IssueClient(csr, {IdentityKind::kAgent, "node-1", "prod"}, kNow);
  REQUIRE_MESSAGE(issued.ok(), issued.status().message());
  UniqueX509 certificate = ParseCertificate(issued->pem);
  UniqueX509 ca_certificate = ParseCertificate(ca.CertificatePem());

  X509_NAME* subject = X509_get_subject_name(certificate.get());
  CHECK(X509_NAME_entry_count(subject) == 1);
  CHECK(CommonName(certificate.get()) == "node-1");
  CHECK(X509_NAME_cmp(X509_get_issuer_name(certificate.get()), X509_get_subject_name(ca_certificate.get())) == 0);
  CHECK(X509_get_ext_count(certificate.get()) == 6);
  CHECK(SubjectAltNames(certificate.get()) == std::vector<std::string>{"URI:wirewarp://prod/agent/node-1"});
  CHECK(Critical(certificate.get(), NID_subject_alt_name) == 0);
  CHECK(X509_get_extended_key_usage(certificate.get()) == XKU_SSL_CLIENT);
  CHECK(X509_get_key_usage(certificate.get()) == KU_DIGITAL_SIGNATURE);
  CHECK(Critical(certificate.get(), NID_key_usage) == 1);
  CHECK(X509_check_ca(certificate.get()) == 0);
  CHECK(Critical(certificate.get(), NID_basic_constraints) == 1);
  {
    int critical = -1;
    auto* constraints = static_cast<BASIC_CONSTRAINTS*>(
        X509_get_ext_d2i(certificate.get(), NID_basic_constraints, &critical, nullptr));
    REQUIRE(constraints != nullptr);
    CHECK(constraints->ca == 0);
    BASIC_CONSTRAINTS_free(constraints);
  }
  const ASN1_OCTET_STRING* subject_key_id = X509_get0_subject_key_id(certificate.get());
  const ASN1_OCTET_STRING* authority_key_id = X509_get0_authority_key_id(certificate.get());
  REQUIRE(subject_key_id != nullptr);
  REQUIRE(authority_key_id != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(authority_key_id, X509_get0_subject_key_id(ca_certificate.get())) == 0);
  CHECK(ASN1_OCTET_STRING_cmp(subject_key_id, authority_key_id) != 0);

  // 159-bit serial: 40 hex digits, the top one 4..7.
  CHECK(issued->serial_hex.size() == 40);
  CHECK(issued->serial_hex.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(std::string("4567").find(issued->serial_hex[0]) != std::string::npos);
  Result<std::string> serial = CertificateSerialHex(issued->pem);
  REQUIRE(serial.ok());
  CHECK(*serial == issued->serial_hex);
  pki_internal::UniqueBignum serial_number(ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate.get()), nullptr));
  REQUIRE(serial_number);
  CHECK(BN_num_bits(serial_number.get()) == 159);

  CHECK(issued->not_before == kNow - 300);
  CHECK(issued->not_after == kNow + 30 * kDay);
  CHECK(TimeEquals(X509_get0_notBefore(certificate.get()), kNow - 300));
  CHECK(TimeEquals(X509_get0_notAfter(certificate.get()), kNow + 30 * kDay));

  // The certificate is for the CSR's key, and a second issue gets a different serial.
  Result<IssuedCertificate> again = ca.IssueClient(csr, {IdentityKind::kAgent, "node-1", "prod"}, kNow,
                                                   std::chrono::hours(1));
  REQUIRE(again.ok());
  CHECK(again->serial_hex != issued->serial_hex);
  CHECK(again->not_after == kNow + 3600);
  CHECK(EVP_PKEY_eq(X509_get0_pubkey(certificate.get()), X509_get0_pubkey(ParseCertificate(again->pem).get())) == 1);
}

TEST_CASE("CA: refuses CSRs without proof of possession or with a disallowed key") {
  CertificateAuthority ca = NewCa();
  const Identity identity{IdentityKind::kAgent, "node-1", "prod"};

  // Tamper with the signed part of the DER: the subject changes, the signature does not.
  const std::string honest = Csr(P256KeyPem(), "honest-name");
  Result<UniqueX509Req> request = pki_internal::ReadRequestPem(honest);
  REQUIRE(request.ok());
  unsigned char* der = nullptr;
  const int length = i2d_X509_REQ(request->get(), &der);
  REQUIRE(length > 0);
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  const std::size_t at = bytes.find("honest-name");
  REQUIRE(at != std::string::npos);
  bytes.replace(at, 11, "forged-name");
  const auto* cursor = reinterpret_cast<const unsigned char*>(bytes.data());
  UniqueX509Req tampered(d2i_X509_REQ(nullptr, &cursor, static_cast<long>(bytes.size())));
  REQUIRE(tampered);
  Result<std::string> tampered_pem = pki_internal::WriteRequestPem(tampered.get());
  REQUIRE(tampered_pem.ok());
  CHECK(*tampered_pem != honest);
  CHECK(ca.IssueClient(honest, identity, kNow).ok());
  Result<IssuedCertificate> refused = ca.IssueClient(*tampered_pem, identity, kNow);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
  CHECK(refused.status().message().find("the CSR signature does not match its public key: error:") == 0);

  UniqueEvpPkey rsa(EVP_RSA_gen(2048));
  REQUIRE(rsa);
  Result<IssuedCertificate> rsa_refused = ca.IssueClient(Csr(KeyPem(rsa.get())), identity, kNow);
  REQUIRE_FALSE(rsa_refused.ok());
  CHECK(rsa_refused.status().message() == "CSR key type \"RSA\" (2048 bits) is not allowed: use a P-256 or Ed25519 key");

  UniqueEvpPkey p384(EVP_EC_gen("P-384"));
  REQUIRE(p384);
  Result<IssuedCertificate> p384_refused = ca.IssueClient(Csr(KeyPem(p384.get())), identity, kNow);
  REQUIRE_FALSE(p384_refused.ok());
  CHECK(p384_refused.status().message() == "CSR key type \"EC\" (384 bits) is not allowed: use a P-256 or Ed25519 key");

  UniqueEvpPkey ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  REQUIRE(ed25519);
  Result<IssuedCertificate> ed25519_issued = ca.IssueClient(Csr(KeyPem(ed25519.get())), identity, kNow);
  REQUIRE_MESSAGE(ed25519_issued.ok(), ed25519_issued.status().message());
  Result<Identity> ed25519_identity = VerifyClientCertificate(ca, ed25519_issued->pem, kNow);
  REQUIRE(ed25519_identity.ok());
  CHECK(*ed25519_identity == identity);

  CHECK_FALSE(ca.IssueClient("garbage", identity, kNow).ok());
  Result<IssuedCertificate> bad_id = ca.IssueClient(honest, {IdentityKind::kAgent, "Node_1", "prod"}, kNow);
  REQUIRE_FALSE(bad_id.ok());
  CHECK(bad_id.status().message() == "identity id \"Node_1\" does not match ^[a-z0-9][a-z0-9-]{0,62}$");
  Result<IssuedCertificate> bad_fleet = ca.IssueClient(honest, {IdentityKind::kAgent, "node-1", "a/b"}, kNow);
  REQUIRE_FALSE(bad_fleet.ok());
  CHECK(bad_fleet.status().message() == "fleet \"a/b\" does not match ^[a-z0-9][a-z0-9-]{0,62}$");
  CHECK_FALSE(ca.IssueClient(honest, identity, kNow, std::chrono::seconds(0)).ok());
}

TEST_CASE("CA: verification checks chain, time, usage and the identity URI") {
  CertificateAuthority ca = NewCa();
  Result<IssuedCertificate> agent = ca.IssueClient(Csr(P256KeyPem()), {IdentityKind::kAgent, "node-1", "prod"}, kNow);
  REQUIRE(agent.ok());

  Result<Identity> valid = VerifyClientCertificate(ca, agent->pem, kNow);
  REQUIRE_MESSAGE(valid.ok(), valid.status().message());
  CHECK(*valid == Identity{IdentityKind::kAgent, "node-1", "prod"});
  // A verifier whose clock is a little behind still accepts it (notBefore is backdated).
  CHECK(VerifyClientCertificate(ca, agent->pem, kNow - 200).ok());
  CHECK(VerifyClientCertificate(ca, agent->pem, agent->not_after - 1).ok());

  CHECK(VerifyError(ca, agent->pem, agent->not_after + 1) == "client certificate refused: certificate has expired");
  CHECK(VerifyError(ca, agent->pem, kNow - 600) == "client certificate refused: certificate is not yet valid");
  CertificateAuthority other = NewCa("other CA");
  CHECK(VerifyError(other, agent->pem, kNow) == "client certificate refused: unable to get local issuer certificate");
  // Same subject name, different key: still refused.
  CertificateAuthority impostor = NewCa("WireWarp test CA");
  CHECK(VerifyError(impostor, agent->pem, kNow).find("client certificate refused: ") == 0);
  CHECK(VerifyError(ca, ca.CertificatePem(), kNow) == "client certificate refused: unsuitable certificate purpose");

  for (const IdentityKind kind :
       {IdentityKind::kAgent, IdentityKind::kAdmin, IdentityKind::kViewer, IdentityKind::kCi}) {
    const Identity identity{kind, "person-7", "edge"};
    Result<IssuedCertificate> issued = ca.IssueClient(Csr(P256KeyPem()), identity, kNow);
    REQUIRE(issued.ok());
    CHECK(SubjectAltNames(ParseCertificate(issued->pem).get()) ==
          std::vector<std::string>{"URI:" + IdentityUri(identity)});
    Result<Identity> parsed = VerifyClientCertificate(ca, issued->pem, kNow);
    REQUIRE(parsed.ok());
    CHECK(*parsed == identity);
  }
  CHECK(IdentityUri({IdentityKind::kViewer, "ci", "prod"}) == "wirewarp://prod/viewer/ci");
  CHECK(IdentityUri({IdentityKind::kAdmin, "alice", "prod"}) == "wirewarp://prod/admin/alice");
  CHECK(IdentityUri({IdentityKind::kCi, "github-ci", "prod"}) == "wirewarp://prod/ci/github-ci");

  // Hand-made leaves from the right CA that IssueClient would never produce.
  CHECK(VerifyError(ca, LeafSignedBy(ca, {{NID_ext_key_usage, "clientAuth"}}), kNow) ==
        "client certificate refused: no (or more than one) subjectAltName extension");
  CHECK(VerifyError(ca, LeafSignedBy(ca, {{NID_subject_alt_name, "URI:wirewarp://prod/agent/node-1"}}), kNow) ==
        "client certificate refused: no clientAuth extended key usage");
  CHECK(VerifyError(ca,
                    LeafSignedBy(ca, {{NID_ext_key_usage, "clientAuth"},
                                      {NID_subject_alt_name, "URI:wirewarp://prod/root/node-1"}}),
                    kNow) ==
        "client certificate refused: client certificate URI \"wirewarp://prod/root/node-1\" is not "
        "wirewarp://FLEET/agent|admin|viewer|ci/ID");
  CHECK(VerifyError(ca,
                    LeafSignedBy(ca, {{NID_ext_key_usage, "clientAuth"},
                                      {NID_subject_alt_name, "URI:wirewarp://prod/agent/node-1/extra"}}),
                    kNow)
            .find("is not wirewarp://FLEET/agent|admin|viewer|ci/ID") != std::string::npos);
  CHECK(VerifyError(ca,
                    LeafSignedBy(ca, {{NID_ext_key_usage, "clientAuth"},
                                      {NID_subject_alt_name, "URI:https://prod/agent/node-1"}}),
                    kNow)
            .find("is not wirewarp://FLEET/agent|admin|viewer|ci/ID") != std::string::npos);
  CHECK(VerifyError(ca, LeafSignedBy(ca, {{NID_ext_key_usage, "clientAuth"}, {NID_subject_alt_name, "DNS:node-1"}}),
                    kNow) == "client certificate refused: the subjectAltName is not a URI");
  CHECK(VerifyError(ca,
                    LeafSignedBy(ca, {{NID_ext_key_usage, "clientAuth"},
                                      {NID_subject_alt_name,
                                       "URI:wirewarp://prod/agent/node-1,URI:wirewarp://prod/admin/root"}}),
                    kNow) == "client certificate refused: expected exactly one subjectAltName, found 2");
  CHECK(VerifyError(ca,
                    LeafSignedBy(ca, {{NID_basic_constraints, "critical,CA:TRUE"},
                                      {NID_ext_key_usage, "clientAuth"},
                                      {NID_subject_alt_name, "URI:wirewarp://prod/agent/node-1"}}),
                    kNow) == "client certificate refused: it is a CA certificate");
  // The hand-made path itself works: a well-formed leaf passes.
  Result<Identity> handmade = VerifyClientCertificate(
      ca,
      LeafSignedBy(ca, {{NID_ext_key_usage, "clientAuth"}, {NID_subject_alt_name, "URI:wirewarp://prod/admin/root"}}),
      kNow);
  REQUIRE_MESSAGE(handmade.ok(), handmade.status().message());
  CHECK(*handmade == Identity{IdentityKind::kAdmin, "root", "prod"});

  CHECK_FALSE(VerifyClientCertificate(ca, "", kNow).ok());
  CHECK_FALSE(VerifyClientCertificate(ca, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", kNow).ok());
}

TEST_CASE("SPKI pin: equals the openssl CLI pipeline and is not X509_pubkey_digest") {
  CertificateAuthority ca = NewCa();
  Result<std::string> pin = SpkiPin(ca.CertificatePem());
  REQUIRE_MESSAGE(pin.ok(), pin.status().message());
  CHECK(pin->size() == 7 + 64);
  CHECK(pin->rfind("sha256:", 0) == 0);
  UniqueX509 certificate = ParseCertificate(ca.CertificatePem());

  // Independent computation: the DER SubjectPublicKeyInfo of the public key.
  unsigned char* spki = nullptr;
  const int spki_length = i2d_PUBKEY(X509_get0_pubkey(certificate.get()), &spki);
  REQUIRE(spki_length > 0);
  const std::string expected = "sha256:" + Sha256Hex(spki, static_cast<std::size_t>(spki_length));
  OPENSSL_free(spki);
  CHECK(*pin == expected);

  if (::access("/usr/bin/openssl", X_OK) == 0) {
    const std::filesystem::path file =
        std::filesystem::temp_directory_path() / ("ww-pki-test-" + std::to_string(::getpid()) + ".pem");
    std::ofstream(file) << ca.CertificatePem();
    const std::string command = "/usr/bin/openssl x509 -pubkey -noout -in '" + file.string() +
                                "' | /usr/bin/openssl pkey -pubin -outform DER | sha256sum";
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::array<char, 128> line{};
    const bool read = std::fgets(line.data(), static_cast<int>(line.size()), pipe) != nullptr;
    CHECK(::pclose(pipe) == 0);
    std::filesystem::remove(file);
    REQUIRE(read);
    CHECK(*pin == "sha256:" + std::string(line.data(), 64));
  }

  std::array<unsigned char, EVP_MAX_MD_SIZE> key_digest{};
  unsigned int key_digest_length = 0;
  REQUIRE(X509_pubkey_digest(certificate.get(), EVP_sha256(), key_digest.data(), &key_digest_length) == 1);
  CHECK(*pin != "sha256:" + Hex(key_digest.data(), key_digest_length));

  CertificateAuthority other = NewCa("other CA");
  Result<std::string> other_pin = SpkiPin(other.CertificatePem());
  REQUIRE(other_pin.ok());
  CHECK(*other_pin != *pin);
  std::string upper = *pin;
  for (std::size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));

  CHECK(PinMatches(ca.CertificatePem(), {*pin}));
  CHECK(PinMatches(ca.CertificatePem(), {*other_pin, *pin}));  // rotation: any of several pins
  CHECK(PinMatches(ca.CertificatePem(), {upper}));
  CHECK_FALSE(PinMatches(ca.CertificatePem(), {}));
  CHECK_FALSE(PinMatches(ca.CertificatePem(), {*other_pin}));
  CHECK_FALSE(PinMatches(ca.CertificatePem(), {pin->substr(0, 70)}));
  CHECK_FALSE(PinMatches(ca.CertificatePem(), {"sha1:" + pin->substr(7)}));
  CHECK_FALSE(PinMatches(ca.CertificatePem(), {"sha256:" + std::string(64, 'z')}));
  CHECK_FALSE(PinMatches("not a certificate", {*pin}));
  CHECK_FALSE(SpkiPin("not a certificate").ok());
}

constexpr const char* kMalformedToken =
    "enrollment token is malformed: expected wwt_<8 characters a-z0-9>_<43 base64url characters> (the token is "
    "not shown here)";

TEST_CASE("token: generate and parse round trip, known vector, uniqueness") {
  Result<GeneratedToken> token = GenerateToken();
  REQUIRE_MESSAGE(token.ok(), token.status().message());
  CHECK(token->text.size() == 56);
  CHECK(token->text.rfind("wwt_" + token->id + "_", 0) == 0);
  CHECK(token->id.size() == 8);
  CHECK(token->id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string::npos);

  Result<ParsedToken> parsed = ParseToken(token->text);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().message());
  CHECK(parsed->id == token->id);
  CHECK(TokenHashesEqual(parsed->secret_sha256, token->secret_sha256));

  // The hash is over the 32 raw secret bytes: decode independently with EVP_DecodeBlock.
  std::string secret = token->text.substr(13);
  for (char& c : secret) c = c == '-' ? '+' : c == '_' ? '/' : c;
  secret += "=";
  std::array<unsigned char, 33> raw{};
  REQUIRE(EVP_DecodeBlock(raw.data(), reinterpret_cast<const unsigned char*>(secret.data()),
                          static_cast<int>(secret.size())) == 33);
  CHECK(Sha256Hex(raw.data(), 32) == Hex(token->secret_sha256.data(), 32));

  // Known vector: 32 zero bytes.
  Result<ParsedToken> zeros = ParseToken("wwt_abcd1234_" + std::string(43, 'A'));
  REQUIRE(zeros.ok());
  CHECK(zeros->id == "abcd1234");
  CHECK(Hex(zeros->secret_sha256.data(), 32) == "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
  CHECK(ParseToken("wwt_abcd1234_" + std::string(42, '_') + "w").ok());  // last char with zero low bits

  std::set<std::string> texts;
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    Result<GeneratedToken> next = GenerateToken();
    REQUIRE(next.ok());
    texts.insert(next->text);
    ids.insert(next->id);
  }
  CHECK(texts.size() == 20);
  CHECK(ids.size() >= 19);  // 36^8 ids: a collision among 20 is ~1e-10
  Result<GeneratedToken> first = GenerateToken();
  Result<GeneratedToken> second = GenerateToken();
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->text != second->text);
  CHECK_FALSE(TokenHashesEqual(first->secret_sha256, second->secret_sha256));
}

TEST_CASE("token: hostile strings are refused with one message that never echoes them") {
  const std::string secret(43, 'A');
  const std::string valid = "wwt_abcd1234_" + secret;
  REQUIRE(ParseToken(valid).ok());
  std::string with_nul = valid;
  with_nul[20] = '\0';
  std::string with_utf8 = valid;
  with_utf8.replace(20, 2, "\xc3\xa9");  // same byte length
  const std::vector<std::string> hostile = {
      "",
      "wwt_",
      valid + "\n",
      " " + valid,
      "WWT_abcd1234_" + secret,
      "wwx_abcd1234_" + secret,
      "wwt_ABCD1234_" + secret,
      "wwt_abcd123_" + secret + "A",  // 7-character id, same total length
      "wwt_abcd12345_" + secret.substr(1),
      "wwt_abcd1234_" + secret.substr(1),
      "wwt_abcd1234_" + secret + "A",
      "wwt_abcd1234_" + secret.substr(1) + "+",
      "wwt_abcd1234_" + secret.substr(1) + "/",
      "wwt_abcd1234_" + secret.substr(2) + "A=",
      "wwt_abcd1234_" + secret.substr(1) + "B",  // non-zero trailing bits: a second spelling
      valid + "_extra",
      std::string("wwt_abcd\x01") + "234_" + secret,
      with_nul,
      "wwt_abcd-234_" + secret,
      "wwt.abcd1234." + secret,
      with_utf8,
      "wwt_abcd1234_" + secret.substr(1, 20) + "\t" + secret.substr(22),
  };
  CHECK(hostile.size() >= 20);
  for (const std::string& text : hostile) {
    CAPTURE(text);
    Result<ParsedToken> parsed = ParseToken(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
    CHECK(parsed.status().message() == kMalformedToken);
  }
  // A real secret in a malformed token does not reach the message.
  Result<GeneratedToken> real = GenerateToken();
  REQUIRE(real.ok());
  Result<ParsedToken> echoed = ParseToken(real->text + "\n");
  REQUIRE_FALSE(echoed.ok());
  CHECK(echoed.status().message().find(real->text.substr(13)) == std::string::npos);
}

}  // namespace
}  // namespace ww
