// The reconciler's CA with the OpenSSL 3 C API (P-256 keys, certificates from CSRs, SPKI pins).
// Extensions whose values are fixed go through X509V3_EXT_conf_nid; subject alternative names
// are built as GENERAL_NAMEs so that no caller-supplied text is ever parsed as extension config.

#include "reconciler/pki/certificate_authority.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <cctype>
#include <ctime>
#include <utility>

#include "reconciler/pki/openssl_handles.h"

namespace ww {

using pki_internal::NewP256Key;
using pki_internal::OpenSslInputError;
using pki_internal::OpenSslInternalError;
using pki_internal::ReadCertificatePem;
using pki_internal::ReadPrivateKeyPem;
using pki_internal::ReadRequestPem;
using pki_internal::UniqueBignum;
using pki_internal::UniqueEvpPkey;
using pki_internal::UniqueGeneralNames;
using pki_internal::UniqueX509;
using pki_internal::UniqueX509Extension;
using pki_internal::UniqueX509Req;
using pki_internal::UniqueX509Store;
using pki_internal::UniqueX509StoreCtx;
using pki_internal::WriteCertificatePem;
using pki_internal::WritePrivateKeyPem;
using pki_internal::WriteRequestPem;

struct CertificateAuthority::Keys {
  UniqueX509 certificate;
  UniqueEvpPkey key;
};

// Safe in a URI path segment, a CN and a file name.
bool IsValidIdentityPart(std::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool alphanumeric = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alphanumeric && !(i > 0 && c == '-')) return false;
  }
  return true;
}

namespace {

constexpr std::string_view kUriScheme = "wirewarp://";
constexpr int kSerialBits = 159;
constexpr std::size_t kSha256Size = 32;
constexpr std::size_t kFleetIdRandomBytes = 8;
// Longer lifetimes are a caller bug, not a policy choice.
constexpr std::chrono::seconds kMaxLifetime = std::chrono::days(3660);

// Letters, digits, '-' and '.', labels of 1..63, at most 253 in all. No wildcards.
bool IsValidDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label_length = 0;
  for (const char c : name) {
    if (c == '.') {
      if (label_length == 0) return false;
      label_length = 0;
      continue;
    }
    const bool allowed = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
    if (!allowed || ++label_length > 63) return false;
  }
  return label_length != 0;
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  UniqueBignum number(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!number) return "";
  char* hex = BN_bn2hex(number.get());
  if (hex == nullptr) return "";
  std::string text(hex);
  OPENSSL_free(hex);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

Status CheckLifetime(std::chrono::seconds lifetime) {
  if (lifetime <= std::chrono::seconds(0) || lifetime > kMaxLifetime) {
    return Status::InvalidArgument("certificate lifetime of " + std::to_string(lifetime.count()) +
                                   " s is outside 1 s .. 10 years");
  }
  return Status::Ok();
}

Status AddConfiguredExtension(X509* certificate, X509V3_CTX* context, int nid, const char* value) {
  UniqueX509Extension extension(X509V3_EXT_conf_nid(nullptr, context, nid, value));
  if (!extension || X509_add_ext(certificate, extension.get(), -1) != 1) {
    return OpenSslInternalError(std::string("adding extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  return Status::Ok();
}

// Appends a name of `type` (GEN_DNS, GEN_URI, GEN_IPADD); takes ownership of `value`.
Status PushGeneralName(GENERAL_NAMES* names, int type, ASN1_STRING* value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  if (name == nullptr) {
    ASN1_STRING_free(value);
    return OpenSslInternalError("GENERAL_NAME_new");
  }
  GENERAL_NAME_set0_value(name, type, value);
  if (sk_GENERAL_NAME_push(names, name) <= 0) {
    GENERAL_NAME_free(name);
    return OpenSslInternalError("sk_GENERAL_NAME_push");
  }
  return Status::Ok();
}

Status PushIa5Name(GENERAL_NAMES* names, int type, std::string_view text) {
  ASN1_IA5STRING* value = ASN1_IA5STRING_new();
  if (value == nullptr || ASN1_STRING_set(value, text.data(), static_cast<int>(text.size())) != 1) {
    ASN1_IA5STRING_free(value);
    return OpenSslInternalError("ASN1_STRING_set");
  }
  return PushGeneralName(names, type, value);
}

Status AddSubjectAltNames(X509* certificate, GENERAL_NAMES* names) {
  if (X509_add1_ext_i2d(certificate, NID_subject_alt_name, names, 0, X509V3_ADD_APPEND) != 1) {
    return OpenSslInternalError("adding subjectAltName");
  }
  return Status::Ok();
}

// Version 3, random serial, CN-only subject, issuer name, key and validity. Extensions and the
// signature come after. `issuer` null means self-signed.
Result<UniqueX509> StartCertificate(EVP_PKEY* subject_key, std::string_view common_name, X509* issuer,
                                    std::int64_t not_before, std::int64_t not_after) {
  UniqueX509 certificate(X509_new());
  if (!certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1) {
    return OpenSslInternalError("X509_new");
  }
  UniqueBignum serial(BN_new());
  // TOP_ONE keeps every serial exactly 159 bits: positive, never zero, 40 hex digits.
  if (!serial || BN_rand(serial.get(), kSerialBits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate.get())) == nullptr) {
    return OpenSslInternalError("making a random serial number");
  }
  X509_NAME* subject = X509_get_subject_name(certificate.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return OpenSslInputError("common name \"" + std::string(common_name) + "\"");
  }
  X509_NAME* issuer_name = issuer == nullptr ? subject : X509_get_subject_name(issuer);
  if (X509_set_issuer_name(certificate.get(), issuer_name) != 1 ||
      X509_set_pubkey(certificate.get(), subject_key) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(certificate.get()), static_cast<time_t>(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(certificate.get()), static_cast<time_t>(not_after)) == nullptr) {
    return OpenSslInternalError("filling in the certificate");
  }
  return certificate;
}

Result<IssuedCertificate> Finish(X509* certificate, EVP_PKEY* signing_key, std::int64_t not_before,
                                 std::int64_t not_after) {
  if (X509_sign(certificate, signing_key, EVP_sha256()) <= 0) return OpenSslInternalError("X509_sign");
  IssuedCertificate issued;
  WW_ASSIGN_OR_RETURN(issued.pem, WriteCertificatePem(certificate));
  issued.serial_hex = SerialHex(X509_get0_serialNumber(certificate));
  issued.not_before = not_before;
  issued.not_after = not_after;
  return issued;
}

Status CheckClientKeyType(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519") == 1) return Status::Ok();
  if (EVP_PKEY_is_a(key, "EC") == 1) {
    std::array<char, 64> group{};
    std::size_t length = 0;
    if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) == 1) {
      const std::string_view name(group.data(), length);
      if (name == "prime256v1" || name == "P-256") return Status::Ok();
    }
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  return Status::InvalidArgument("CSR key type \"" + std::string(type == nullptr ? "unknown" : type) + "\" (" +
                                 std::to_string(EVP_PKEY_get_bits(key)) +
                                 " bits) is not allowed: use a P-256 or Ed25519 key");
}

Result<std::array<unsigned char, kSha256Size>> SpkiDigest(X509* certificate) {
  unsigned char* der = nullptr;
  const int length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(certificate), &der);
  if (length <= 0) return OpenSslInternalError("i2d_X509_PUBKEY");
  std::array<unsigned char, kSha256Size> digest{};
  unsigned int digest_length = 0;
  const int digested =
      EVP_Digest(der, static_cast<std::size_t>(length), digest.data(), &digest_length, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (digested != 1 || digest_length != kSha256Size) return OpenSslInternalError("EVP_Digest(SHA-256)");
  return digest;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "sha256:<64 hex>" -> 32 bytes, or false.
bool DecodePin(std::string_view pin, std::array<unsigned char, kSha256Size>& digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (pin.size() != kPrefix.size() + 2 * kSha256Size || pin.substr(0, kPrefix.size()) != kPrefix) return false;
  pin.remove_prefix(kPrefix.size());
  for (std::size_t i = 0; i < kSha256Size; ++i) {
    const int high = HexValue(pin[2 * i]);
    const int low = HexValue(pin[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    digest[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return true;
}

Result<Identity> ParseIdentityUri(std::string_view uri) {
  const Status malformed =
      Status::InvalidArgument("client certificate URI \"" + std::string(uri) +
                              "\" is not wirewarp://FLEET/agent|admin|viewer|ci/ID");
  if (uri.substr(0, kUriScheme.size()) != kUriScheme) return malformed;
  uri.remove_prefix(kUriScheme.size());
  const std::size_t first = uri.find('/');
  if (first == std::string_view::npos) return malformed;
  const std::size_t second = uri.find('/', first + 1);
  if (second == std::string_view::npos) return malformed;
  Identity identity;
  identity.fleet = std::string(uri.substr(0, first));
  const std::string_view kind = uri.substr(first + 1, second - first - 1);
  identity.id = std::string(uri.substr(second + 1));
  if (kind == "agent") {
    identity.kind = IdentityKind::kAgent;
  } else if (kind == "admin") {
    identity.kind = IdentityKind::kAdmin;
  } else if (kind == "viewer") {
    identity.kind = IdentityKind::kViewer;
  } else if (kind == "ci") {
    identity.kind = IdentityKind::kCi;
  } else {
    return malformed;
  }
  if (!IsValidIdentityPart(identity.fleet) || !IsValidIdentityPart(identity.id)) return malformed;
  return identity;
}

// The identity in the certificate's one wirewarp:// URI SAN; no chain or time checks.
Result<Identity> IdentityOfCertificate(X509* certificate) {
  int critical = 0;
  UniqueGeneralNames names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, &critical, nullptr)));
  if (!names) {
    pki_internal::TakeOpenSslError();
    return Status::InvalidArgument("no (or more than one) subjectAltName extension");
  }
  if (sk_GENERAL_NAME_num(names.get()) != 1) {
    return Status::InvalidArgument("expected exactly one subjectAltName, found " +
                                   std::to_string(sk_GENERAL_NAME_num(names.get())));
  }
  int type = 0;
  const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(names.get(), 0), &type));
  if (type != GEN_URI || value == nullptr) return Status::InvalidArgument("the subjectAltName is not a URI");
  const std::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                             static_cast<std::size_t>(ASN1_STRING_length(value)));
  return ParseIdentityUri(uri);
}

// The name's first CN as UTF-8, "" when it has none.
std::string CommonName(const X509_NAME* name) {
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    pki_internal::TakeOpenSslError();
    return "";
  }
  std::string text(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return text;
}

}  // namespace

std::string LowercaseHex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    hex.push_back(kDigits[data[i] >> 4]);
    hex.push_back(kDigits[data[i] & 0x0f]);
  }
  return hex;
}

std::string_view IdentityKindName(IdentityKind kind) {
  switch (kind) {
    case IdentityKind::kAgent:
      return "agent";
    case IdentityKind::kAdmin:
      return "admin";
    case IdentityKind::kViewer:
      return "viewer";
    case IdentityKind::kCi:
      return "ci";
  }
  return "agent";
}

std::string IdentityUri(const Identity& identity) {
  return std::string(kUriScheme) + identity.fleet + "/" + std::string(IdentityKindName(identity.kind)) + "/" +
         identity.id;
}

CertificateAuthority::CertificateAuthority(std::unique_ptr<Keys> keys, std::string certificate_pem,
                                           std::string private_key_pem)
    : keys_(std::move(keys)),
      certificate_pem_(std::move(certificate_pem)),
      private_key_pem_(std::move(private_key_pem)) {}
CertificateAuthority::CertificateAuthority(CertificateAuthority&&) noexcept = default;
CertificateAuthority& CertificateAuthority::operator=(CertificateAuthority&&) noexcept = default;
CertificateAuthority::~CertificateAuthority() {
  if (!private_key_pem_.empty()) OPENSSL_cleanse(private_key_pem_.data(), private_key_pem_.size());
}

Result<CertificateAuthority> CertificateAuthority::Create(std::string_view common_name, std::int64_t now) {
  if (common_name.empty()) return Status::InvalidArgument("CA common name is empty");
  auto keys = std::make_unique<Keys>();
  WW_ASSIGN_OR_RETURN(keys->key, NewP256Key());
  const std::int64_t not_before = now - kClockSkewAllowance.count();
  const std::int64_t not_after = now + kCaCertificateLifetime.count();
  WW_ASSIGN_OR_RETURN(keys->certificate,
                      StartCertificate(keys->key.get(), common_name, nullptr, not_before, not_after));
  X509* certificate = keys->certificate.get();
  X509V3_CTX context;
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate, &context, NID_basic_constraints, "critical,CA:TRUE"));
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate, &context, NID_key_usage, "critical,keyCertSign,cRLSign"));
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate, &context, NID_subject_key_identifier, "hash"));
  WW_ASSIGN_OR_RETURN(IssuedCertificate issued, Finish(certificate, keys->key.get(), not_before, not_after));
  WW_ASSIGN_OR_RETURN(std::string key_pem, WritePrivateKeyPem(keys->key.get()));
  return CertificateAuthority(std::move(keys), std::move(issued.pem), std::move(key_pem));
}

Result<CertificateAuthority> CertificateAuthority::Load(std::string_view ca_cert_pem, std::string_view ca_key_pem) {
  auto keys = std::make_unique<Keys>();
  WW_ASSIGN_OR_RETURN(keys->certificate, ReadCertificatePem(ca_cert_pem));
  WW_ASSIGN_OR_RETURN(keys->key, ReadPrivateKeyPem(ca_key_pem));
  if (X509_check_ca(keys->certificate.get()) == 0) {
    return Status::InvalidArgument("the CA certificate is not a CA (no basicConstraints CA:TRUE)");
  }
  if (X509_check_private_key(keys->certificate.get(), keys->key.get()) != 1) {
    return OpenSslInputError("the CA private key does not belong to the CA certificate");
  }
  WW_ASSIGN_OR_RETURN(std::string certificate_pem, WriteCertificatePem(keys->certificate.get()));
  WW_ASSIGN_OR_RETURN(std::string key_pem, WritePrivateKeyPem(keys->key.get()));
  return CertificateAuthority(std::move(keys), std::move(certificate_pem), std::move(key_pem));
}

Result<IssuedServerCertificate> CertificateAuthority::IssueServer(std::string_view key_pem,
                                                                  const std::vector<std::string>& dns_names,
                                                                  const std::vector<std::string>& ip_addresses,
                                                                  std::int64_t now,
                                                                  std::chrono::seconds lifetime) const {
  WW_RETURN_IF_ERROR(CheckLifetime(lifetime));
  if (dns_names.empty() && ip_addresses.empty()) {
    return Status::InvalidArgument("a server certificate needs at least one DNS name or IP address");
  }
  UniqueGeneralNames names(sk_GENERAL_NAME_new_null());
  if (!names) return OpenSslInternalError("sk_GENERAL_NAME_new_null");
  for (const std::string& dns_name : dns_names) {
    if (!IsValidDnsName(dns_name)) {
      return Status::InvalidArgument("server DNS name \"" + dns_name + "\" is not a valid host name");
    }
    WW_RETURN_IF_ERROR(PushIa5Name(names.get(), GEN_DNS, dns_name));
  }
  for (const std::string& ip_address : ip_addresses) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip_address.c_str());
    if (octets == nullptr) {
      pki_internal::TakeOpenSslError();
      return Status::InvalidArgument("server IP address \"" + ip_address + "\" is not an IPv4 or IPv6 address");
    }
    WW_RETURN_IF_ERROR(PushGeneralName(names.get(), GEN_IPADD, octets));
  }

  IssuedServerCertificate result;
  UniqueEvpPkey key;
  if (key_pem.empty()) {
    WW_ASSIGN_OR_RETURN(key, NewP256Key());
  } else {
    WW_ASSIGN_OR_RETURN(key, ReadPrivateKeyPem(key_pem));
  }
  WW_ASSIGN_OR_RETURN(result.private_key_pem, WritePrivateKeyPem(key.get()));

  const std::int64_t not_before = now - kClockSkewAllowance.count();
  const std::int64_t not_after = now + lifetime.count();
  const std::string& common_name = dns_names.empty() ? ip_addresses.front() : dns_names.front();
  WW_ASSIGN_OR_RETURN(UniqueX509 certificate,
                      StartCertificate(key.get(), common_name, keys_->certificate.get(), not_before, not_after));
  X509V3_CTX context;
  X509V3_set_ctx(&context, keys_->certificate.get(), certificate.get(), nullptr, nullptr, 0);
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate.get(), &context, NID_basic_constraints, "critical,CA:FALSE"));
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate.get(), &context, NID_key_usage, "critical,digitalSignature"));
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate.get(), &context, NID_ext_key_usage, "serverAuth"));
  WW_RETURN_IF_ERROR(AddSubjectAltNames(certificate.get(), names.get()));
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate.get(), &context, NID_subject_key_identifier, "hash"));
  WW_RETURN_IF_ERROR(
      AddConfiguredExtension(certificate.get(), &context, NID_authority_key_identifier, "keyid:always"));
  WW_ASSIGN_OR_RETURN(result.certificate, Finish(certificate.get(), keys_->key.get(), not_before, not_after));
  return result;
}

Result<IssuedCertificate> CertificateAuthority::IssueClient(std::string_view csr_pem, const Identity& identity,
                                                            std::int64_t now, std::chrono::seconds lifetime) const {
  WW_RETURN_IF_ERROR(CheckLifetime(lifetime));
  if (!IsValidIdentityPart(identity.id)) {
    return Status::InvalidArgument("identity id \"" + identity.id + "\" does not match ^[a-z0-9][a-z0-9-]{0,62}$");
  }
  if (!IsValidIdentityPart(identity.fleet)) {
    return Status::InvalidArgument("fleet \"" + identity.fleet + "\" does not match ^[a-z0-9][a-z0-9-]{0,62}$");
  }
  WW_ASSIGN_OR_RETURN(UniqueX509Req request, ReadRequestPem(csr_pem));
  EVP_PKEY* key = X509_REQ_get0_pubkey(request.get());
  if (key == nullptr) return OpenSslInputError("the CSR has no readable public key");
  // Proof of possession: only the holder of the private key can sign the request.
  if (X509_REQ_verify(request.get(), key) != 1) {
    return OpenSslInputError("the CSR signature does not match its public key");
  }
  WW_RETURN_IF_ERROR(CheckClientKeyType(key));

  // The CSR's subject and requested extensions are deliberately not read: identity comes from
  // the token or the caller's own certificate, never from what the requester asks for.
  const std::int64_t not_before = now - kClockSkewAllowance.count();
  const std::int64_t not_after = now + lifetime.count();
  WW_ASSIGN_OR_RETURN(UniqueX509 certificate,
                      StartCertificate(key, identity.id, keys_->certificate.get(), not_before, not_after));
  UniqueGeneralNames names(sk_GENERAL_NAME_new_null());
  if (!names) return OpenSslInternalError("sk_GENERAL_NAME_new_null");
  WW_RETURN_IF_ERROR(PushIa5Name(names.get(), GEN_URI, IdentityUri(identity)));

  X509V3_CTX context;
  X509V3_set_ctx(&context, keys_->certificate.get(), certificate.get(), nullptr, nullptr, 0);
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate.get(), &context, NID_basic_constraints, "critical,CA:FALSE"));
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate.get(), &context, NID_key_usage, "critical,digitalSignature"));
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate.get(), &context, NID_ext_key_usage, "clientAuth"));
  WW_RETURN_IF_ERROR(AddSubjectAltNames(certificate.get(), names.get()));
  WW_RETURN_IF_ERROR(AddConfiguredExtension(certificate.get(), &context, NID_subject_key_identifier, "hash"));
  WW_RETURN_IF_ERROR(
      AddConfiguredExtension(certificate.get(), &context, NID_authority_key_identifier, "keyid:always"));
  return Finish(certificate.get(), keys_->key.get(), not_before, not_after);
}

Result<Identity> VerifyClientCertificate(const CertificateAuthority& ca, std::string_view cert_pem,
                                         std::int64_t now) {
  const std::string refused = "client certificate refused: ";
  WW_ASSIGN_OR_RETURN(UniqueX509 certificate, ReadCertificatePem(cert_pem));
  UniqueX509Store store(X509_STORE_new());
  UniqueX509StoreCtx context(X509_STORE_CTX_new());
  if (!store || !context || X509_STORE_add_cert(store.get(), ca.keys_->certificate.get()) != 1 ||
      X509_STORE_CTX_init(context.get(), store.get(), certificate.get(), nullptr) != 1 ||
      X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_CLIENT) != 1) {
    return OpenSslInternalError("setting up certificate verification");
  }
  X509_VERIFY_PARAM* parameters = X509_STORE_CTX_get0_param(context.get());
  X509_VERIFY_PARAM_set_time(parameters, static_cast<time_t>(now));
  X509_VERIFY_PARAM_set_flags(parameters, X509_V_FLAG_USE_CHECK_TIME);
  if (X509_verify_cert(context.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(context.get());
    pki_internal::TakeOpenSslError();
    return Status::InvalidArgument(refused + X509_verify_cert_error_string(error));
  }
  // The SSL_CLIENT purpose accepts a certificate with no EKU at all; ours always carry one.
  if (X509_check_ca(certificate.get()) != 0) return Status::InvalidArgument(refused + "it is a CA certificate");
  if ((X509_get_extension_flags(certificate.get()) & EXFLAG_XKUSAGE) == 0 ||
      (X509_get_extended_key_usage(certificate.get()) & XKU_SSL_CLIENT) == 0) {
    return Status::InvalidArgument(refused + "no clientAuth extended key usage");
  }
  Result<Identity> identity = IdentityOfCertificate(certificate.get());
  if (!identity.ok()) return Status::InvalidArgument(refused + identity.status().message());
  return identity;
}

Result<std::string> GenerateFleetId() {
  std::array<unsigned char, kFleetIdRandomBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) return OpenSslInternalError("RAND_bytes");
  return "f" + LowercaseHex(random.data(), random.size());
}

Result<CertificateClaims> ReadCertificateClaims(std::string_view cert_pem) {
  WW_ASSIGN_OR_RETURN(UniqueX509 certificate, ReadCertificatePem(cert_pem));
  CertificateClaims claims;
  claims.subject_common_name = CommonName(X509_get_subject_name(certificate.get()));
  claims.issuer_common_name = CommonName(X509_get_issuer_name(certificate.get()));
  if (Result<Identity> identity = IdentityOfCertificate(certificate.get()); identity.ok()) claims.identity = *identity;
  return claims;
}

Result<std::string> CertificateSerialHex(std::string_view cert_pem) {
  WW_ASSIGN_OR_RETURN(UniqueX509 certificate, ReadCertificatePem(cert_pem));
  std::string hex = SerialHex(X509_get0_serialNumber(certificate.get()));
  if (hex.empty()) return OpenSslInternalError("reading the serial number");
  return hex;
}

Result<std::string> SpkiPin(std::string_view cert_pem) {
  WW_ASSIGN_OR_RETURN(UniqueX509 certificate, ReadCertificatePem(cert_pem));
  WW_ASSIGN_OR_RETURN(auto digest, SpkiDigest(certificate.get()));
  return "sha256:" + LowercaseHex(digest.data(), digest.size());
}

bool PinMatches(std::string_view cert_pem, const std::vector<std::string>& pins) {
  Result<UniqueX509> certificate = ReadCertificatePem(cert_pem);
  if (!certificate.ok()) return false;
  Result<std::array<unsigned char, kSha256Size>> digest = SpkiDigest(certificate->get());
  if (!digest.ok()) return false;
  bool matched = false;
  for (const std::string& pin : pins) {
    std::array<unsigned char, kSha256Size> expected{};
    if (!DecodePin(pin, expected)) continue;
    if (CRYPTO_memcmp(expected.data(), digest->data(), kSha256Size) == 0) matched = true;
  }
  return matched;
}

Result<std::string> GenerateP256Key() {
  WW_ASSIGN_OR_RETURN(UniqueEvpPkey key, NewP256Key());
  return WritePrivateKeyPem(key.get());
}

Result<std::string> MakeCsr(std::string_view key_pem, std::string_view common_name) {
  WW_ASSIGN_OR_RETURN(UniqueEvpPkey key, ReadPrivateKeyPem(key_pem));
  UniqueX509Req request(X509_REQ_new());
  if (!request || X509_REQ_set_version(request.get(), 0) != 1) return OpenSslInternalError("X509_REQ_new");
  if (X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(request.get()), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return OpenSslInputError("CSR common name \"" + std::string(common_name) + "\"");
  }
  if (X509_REQ_set_pubkey(request.get(), key.get()) != 1) return OpenSslInternalError("X509_REQ_set_pubkey");
  // Ed25519 and Ed448 sign the message itself: the digest must be null.
  const bool pure_signature = EVP_PKEY_is_a(key.get(), "ED25519") == 1 || EVP_PKEY_is_a(key.get(), "ED448") == 1;
  if (X509_REQ_sign(request.get(), key.get(), pure_signature ? nullptr : EVP_sha256()) <= 0) {
    return OpenSslInternalError("X509_REQ_sign");
  }
  return WriteRequestPem(request.get());
}

}  // namespace ww
