#pragma once
// pki-internal: owning handles for the OpenSSL objects the PKI code uses, and the one place an
// OpenSSL error queue entry becomes text. Only reconciler/pki (and its tests) include this;
// public pki headers stay free of OpenSSL types.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "schema/result.h"

namespace ww::pki_internal {

// One deleter for every handle type, so each alias below is a plain unique_ptr.
struct OpenSslFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(EVP_PKEY_CTX* context) const { EVP_PKEY_CTX_free(context); }
  void operator()(X509* certificate) const { X509_free(certificate); }
  void operator()(X509_REQ* request) const { X509_REQ_free(request); }
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
  void operator()(X509_STORE_CTX* context) const { X509_STORE_CTX_free(context); }
  void operator()(X509_EXTENSION* extension) const { X509_EXTENSION_free(extension); }
  void operator()(BIO* bio) const { BIO_free_all(bio); }
  void operator()(BIGNUM* number) const { BN_free(number); }
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
  void operator()(EXTENDED_KEY_USAGE* usage) const { EXTENDED_KEY_USAGE_free(usage); }
};

using UniqueEvpPkey = std::unique_ptr<EVP_PKEY, OpenSslFree>;
using UniqueEvpPkeyCtx = std::unique_ptr<EVP_PKEY_CTX, OpenSslFree>;
using UniqueX509 = std::unique_ptr<X509, OpenSslFree>;
using UniqueX509Req = std::unique_ptr<X509_REQ, OpenSslFree>;
using UniqueX509Store = std::unique_ptr<X509_STORE, OpenSslFree>;
using UniqueX509StoreCtx = std::unique_ptr<X509_STORE_CTX, OpenSslFree>;
using UniqueX509Extension = std::unique_ptr<X509_EXTENSION, OpenSslFree>;
using UniqueBio = std::unique_ptr<BIO, OpenSslFree>;
using UniqueBignum = std::unique_ptr<BIGNUM, OpenSslFree>;
using UniqueGeneralNames = std::unique_ptr<GENERAL_NAMES, OpenSslFree>;
using UniqueExtendedKeyUsage = std::unique_ptr<EXTENDED_KEY_USAGE, OpenSslFree>;

// Pops the oldest queued OpenSSL error as "error:...:reason" and clears the rest of the queue,
// so a stale error never leaks into the next message.
std::string TakeOpenSslError();

// "context: <OpenSSL reason>" with kInternal (our own calls failed) or kInvalidArgument (input
// from outside did not parse).
Status OpenSslInternalError(std::string_view context);
Status OpenSslInputError(std::string_view context);

// PEM <-> objects. The readers refuse empty input and trailing garbage is ignored as OpenSSL does.
Result<UniqueEvpPkey> ReadPrivateKeyPem(std::string_view pem);
Result<UniqueX509> ReadCertificatePem(std::string_view pem);
Result<UniqueX509Req> ReadRequestPem(std::string_view pem);
Result<std::string> WritePrivateKeyPem(EVP_PKEY* key);
Result<std::string> WriteCertificatePem(X509* certificate);
Result<std::string> WriteRequestPem(X509_REQ* request);

// A fresh P-256 key.
Result<UniqueEvpPkey> NewP256Key();

}  // namespace ww::pki_internal
