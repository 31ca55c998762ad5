#pragma once
// WireGuard (X25519) key generation and public-key derivation with OpenSSL 3, so the agent
// never runs `wg genkey`: the private key exists only in this process and in the state
// directory's 0600 file. Private keys are WireguardKey values too; never print or log them.
// Thread-safe (OpenSSL 3 is).

#include "schema/net.h"
#include "schema/result.h"

namespace ww::agent {

struct WireguardKeyPair {
  WireguardKey private_key;  // clamped, as `wg genkey` makes them
  WireguardKey public_key;
  ~WireguardKeyPair();  // wipes the private key
};

// kInternal with OpenSSL's reason when the library fails.
Result<WireguardKeyPair> GenerateWireguardKeyPair();
Result<WireguardKey> WireguardPublicKeyFromPrivate(const WireguardKey& private_key);

// Overwrites `key` with zeros in a way the compiler cannot drop.
void WipeWireguardKey(WireguardKey& key);

}  // namespace ww::agent
