// MakeServerTlsContext: see server_tls.h.

#include "reconciler/api/server_tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "reconciler/pki/openssl_handles.h"

namespace ww {

void SslContextFree::operator()(ssl_ctx_st* context) const { SSL_CTX_free(context); }

Result<UniqueSslContext> MakeServerTlsContext(std::string_view certificate_pem, std::string_view private_key_pem) {
  Result<pki_internal::UniqueX509> certificate = pki_internal::ReadCertificatePem(certificate_pem);
  if (!certificate.ok()) return Status::InvalidArgument("server certificate is not a PEM certificate");
  Result<pki_internal::UniqueEvpPkey> key = pki_internal::ReadPrivateKeyPem(private_key_pem);
  if (!key.ok()) return Status::InvalidArgument("server private key is not a PEM private key");

  UniqueSslContext context(SSL_CTX_new(TLS_server_method()));
  if (!context) return Status::Internal("cannot create the TLS context");
  SSL_CTX_set_options(context.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION) != 1) {
    return Status::Internal("cannot set TLS 1.2 minimum");
  }
  if (SSL_CTX_use_certificate(context.get(), certificate->get()) != 1 ||
      SSL_CTX_use_PrivateKey(context.get(), key->get()) != 1 || SSL_CTX_check_private_key(context.get()) != 1) {
    return Status::InvalidArgument("server certificate and private key do not match");
  }
  return context;
}

}  // namespace ww
