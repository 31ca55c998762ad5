// pki-internal OpenSSL helpers: error text, PEM reading and writing, key generation.

#include "reconciler/pki/openssl_handles.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <array>
#include <climits>

namespace ww::pki_internal {
namespace {

Result<UniqueBio> ReadOnlyBio(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty PEM input");
  if (text.size() > INT_MAX) return Status::InvalidArgument("PEM input too large");
  UniqueBio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return OpenSslInternalError("BIO_new_mem_buf");
  return bio;
}

Result<std::string> DrainBio(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  if (length <= 0 || data == nullptr) return OpenSslInternalError("reading PEM output");
  return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace

std::string TakeOpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no OpenSSL error queued";
  std::array<char, 256> buffer{};
  ERR_error_string_n(code, buffer.data(), buffer.size());
  return buffer.data();
}

Status OpenSslInternalError(std::string_view context) {
  return Status::Internal(std::string(context) + ": " + TakeOpenSslError());
}

Status OpenSslInputError(std::string_view context) {
  return Status::InvalidArgument(std::string(context) + ": " + TakeOpenSslError());
}

Result<UniqueEvpPkey> ReadPrivateKeyPem(std::string_view pem) {
  WW_ASSIGN_OR_RETURN(UniqueBio bio, ReadOnlyBio(pem));
  UniqueEvpPkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslInputError("cannot read private key PEM");
  return key;
}

Result<UniqueX509> ReadCertificatePem(std::string_view pem) {
  WW_ASSIGN_OR_RETURN(UniqueBio bio, ReadOnlyBio(pem));
  UniqueX509 certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!certificate) return OpenSslInputError("cannot read certificate PEM");
  return certificate;
}

Result<UniqueX509Req> ReadRequestPem(std::string_view pem) {
  WW_ASSIGN_OR_RETURN(UniqueBio bio, ReadOnlyBio(pem));
  UniqueX509Req request(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!request) return OpenSslInputError("cannot read certificate signing request PEM");
  return request;
}

Result<std::string> WritePrivateKeyPem(EVP_PKEY* key) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslInternalError("PEM_write_bio_PrivateKey");
  }
  return DrainBio(bio.get());
}

Result<std::string> WriteCertificatePem(X509* certificate) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1) return OpenSslInternalError("PEM_write_bio_X509");
  return DrainBio(bio.get());
}

Result<std::string> WriteRequestPem(X509_REQ* request) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), request) != 1) return OpenSslInternalError("PEM_write_bio_X509_REQ");
  return DrainBio(bio.get());
}

Result<UniqueEvpPkey> NewP256Key() {
  UniqueEvpPkey key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslInternalError("EVP_EC_gen(P-256)");
  return key;
}

}  // namespace ww::pki_internal
