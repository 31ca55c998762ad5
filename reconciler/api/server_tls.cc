// MakeServerTlsContext: see server_tls.h.

#include "reconciler/api/server_tls.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace ww {
namespace {

struct OpenSslFree {
  void operator()(X509* certificate) const { X509_free(certificate); }
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};

std::unique_ptr<BIO, OpenSslFree> MemoryBio(std::string_view pem) {
  return std::unique_ptr<BIO, OpenSslFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

}  // namespace

void SslContextFree::operator()(ssl_ctx_st* context) const { SSL_CTX_free(context); }

Result<UniqueSslContext> MakeServerTlsContext(std::string_view certificate_pem, std::string_view private_key_pem) {
  auto certificate_bio = MemoryBio(certificate_pem);
  std::unique_ptr<X509, OpenSslFree> certificate(
      certificate_bio ? PEM_read_bio_X509(certificate_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!certificate) return Status::InvalidArgument("server certificate is not a PEM certificate");
  auto key_bio = MemoryBio(private_key_pem);
  std::unique_ptr<EVP_PKEY, OpenSslFree> key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                                                     : nullptr);
  if (!key) return Status::InvalidArgument("server private key is not a PEM private key");

  UniqueSslContext context(SSL_CTX_new(TLS_server_method()));
  if (!context) return Status::Internal("cannot create the TLS context");
  SSL_CTX_set_options(context.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION) != 1) {
    return Status::Internal("cannot set TLS 1.2 minimum");
  }
  if (SSL_CTX_use_certificate(context.get(), certificate.get()) != 1 ||
      SSL_CTX_use_PrivateKey(context.get(), key.get()) != 1 || SSL_CTX_check_private_key(context.get()) != 1) {
    return Status::InvalidArgument("server certificate and private key do not match");
  }
  return context;
}

}  // namespace ww
