#include "reconciler/pki/wireguard_keys.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

namespace ww {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using UniquePkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

Status OpensslError(const std::string& context) {
  unsigned long code = ERR_get_error();
  char reason[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, reason, sizeof(reason));
  ERR_clear_error();
  return Status::Internal(context + ": " + reason);
}

Result<WireguardKey> RawPublicKey(EVP_PKEY* key) {
  WireguardKey public_key;
  size_t length = public_key.bytes.size();
  if (EVP_PKEY_get_raw_public_key(key, public_key.bytes.data(), &length) != 1 || length != public_key.bytes.size()) {
    return OpensslError("reading an X25519 public key");
  }
  return public_key;
}

}  // namespace

WireguardKeyPair::~WireguardKeyPair() { WipeWireguardKey(private_key); }

void WipeWireguardKey(WireguardKey& key) { OPENSSL_cleanse(key.bytes.data(), key.bytes.size()); }

Result<WireguardKeyPair> GenerateWireguardKeyPair() {
  UniquePkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  if (!key) return OpensslError("generating an X25519 key");
  WireguardKeyPair pair;
  size_t length = pair.private_key.bytes.size();
  if (EVP_PKEY_get_raw_private_key(key.get(), pair.private_key.bytes.data(), &length) != 1 ||
      length != pair.private_key.bytes.size()) {
    return OpensslError("reading an X25519 private key");
  }
  WW_ASSIGN_OR_RETURN(pair.public_key, RawPublicKey(key.get()));
  return pair;
}

Result<WireguardKey> WireguardPublicKeyFromPrivate(const WireguardKey& private_key) {
  UniquePkey key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.bytes.data(), private_key.bytes.size()));
  if (!key) return OpensslError("loading an X25519 private key");
  return RawPublicKey(key.get());
}

}  // namespace ww
