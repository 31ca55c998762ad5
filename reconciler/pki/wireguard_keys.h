#pragma once
// WireGuard (X25519) key generation and public-key derivation with OpenSSL 3, so neither the
// agent nor `wwctl peer new` runs `wg genkey`: a private key exists only in the process that
// made it and in the 0600 file it writes (the agent's state directory, a phone's wg-quick
// config). Private keys are WireguardKey values too; never print or log them. Part of
// ww_client so the agent and wwctl share it without linking the server. Thread-safe.

#include "schema/net.h"
#include "schema/result.h"

namespace ww {

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

}  // namespace ww
