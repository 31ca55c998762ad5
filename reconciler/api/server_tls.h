#pragma once
// The TLS server settings both listeners share (the API's mutual TLS, the status listener's
// --status-tls): the reconciler's certificate and key, TLS 1.2 at least, no compression or
// renegotiation, and no system CA store. The API adds its client CA on top. OpenSSL stays
// in the .cc file; SSL_CTX is forward-declared as in http_engine.h.

#include <memory>
#include <string_view>

#include "schema/result.h"

struct ssl_ctx_st;

namespace ww {

struct SslContextFree {
  void operator()(ssl_ctx_st* context) const;
};
using UniqueSslContext = std::unique_ptr<ssl_ctx_st, SslContextFree>;

// kInvalidArgument naming what is wrong when the PEMs do not parse or do not match.
Result<UniqueSslContext> MakeServerTlsContext(std::string_view certificate_pem, std::string_view private_key_pem);

}  // namespace ww
