// The agent's state directory and keys: X25519 against RFC 7748 and `wg pubkey`, exact
// permissions, idempotent key generation, atomic writes, and clear errors on bad state.

#include <doctest/doctest.h>

#include "tests/support/test_files.h"
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/state/state_dir.h"
#include "reconciler/pki/wireguard_keys.h"
#include "agent/system/process_runner.h"
#include "schema/wire_json.h"
#include "tests/support/temporary_directory.h"

namespace ww::agent {
namespace {
using test_support::ReadText;

using test_support::TemporaryDirectory;

namespace fs = std::filesystem;

WireguardKey KeyFromHex(std::string_view hex) {
  WireguardKey key;
  for (size_t i = 0; i < key.bytes.size(); ++i) {
    key.bytes[i] = static_cast<uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  }
  return key;
}

unsigned Mode(const std::string& path) {
  struct stat info;
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}


std::set<std::string> Entries(const std::string& path) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(path)) names.insert(entry.path().filename().string());
  return names;
}

// What the real `wg` tool derives from a private key.
std::string WgPubkey(const std::string& private_base64) {
  ProcessRunner runner;
  Command command;
  command.argv = {"wg", "pubkey"};
  command.stdin_data = private_base64 + "\n";
  command.stdin_is_secret = true;
  command.effect = Effect::kReadOnly;
  auto output = RunChecked(runner, command);
  REQUIRE(output.ok());
  return output->stdout_data;
}

TEST_CASE("X25519 public key matches RFC 7748 section 6.1") {
  WireguardKey alice_private = KeyFromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  auto alice_public = WireguardPublicKeyFromPrivate(alice_private);
  REQUIRE(alice_public.ok());
  CHECK(*alice_public == KeyFromHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));

  WireguardKey bob_private = KeyFromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  auto bob_public = WireguardPublicKeyFromPrivate(bob_private);
  REQUIRE(bob_public.ok());
  CHECK(*bob_public == KeyFromHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
}

TEST_CASE("X25519 public keys agree with wg pubkey") {
  WireguardKey rfc_private = KeyFromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  CHECK(WgPubkey(rfc_private.ToBase64()) ==
        KeyFromHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a").ToBase64() + "\n");

  auto pair = GenerateWireguardKeyPair();
  REQUIRE(pair.ok());
  CHECK(WgPubkey(pair->private_key.ToBase64()) == pair->public_key.ToBase64() + "\n");
  auto derived = WireguardPublicKeyFromPrivate(pair->private_key);
  REQUIRE(derived.ok());
  CHECK(*derived == pair->public_key);
}

TEST_CASE("Generated keys are clamped like wg genkey's and differ each time") {
  auto first = GenerateWireguardKeyPair();
  auto second = GenerateWireguardKeyPair();
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  for (const WireguardKey* key : {&first->private_key, &second->private_key}) {
    CHECK((key->bytes[0] & 7) == 0);
    CHECK((key->bytes[31] & 0x80) == 0);
    CHECK((key->bytes[31] & 0x40) == 0x40);
  }
  CHECK(first->private_key != second->private_key);
  CHECK(first->public_key != second->public_key);
}

TEST_CASE("WipeWireguardKey zeroes the key") {
  auto pair = GenerateWireguardKeyPair();
  REQUIRE(pair.ok());
  WireguardKey key = pair->private_key;
  WipeWireguardKey(key);
  CHECK(key.IsZero());
}

TEST_CASE("StateDir creates the directory and its parents with exact modes") {
  TemporaryDirectory temporary;
  std::string path = temporary.path() + "/var/lib/wirewarp";
  mode_t previous_umask = ::umask(0);  // 0700 must not depend on the caller's umask
  auto state = StateDir::Open(path, CreateMode::kCreateIfMissing);
  ::umask(previous_umask);
  REQUIRE(state.ok());
  CHECK(state->path() == path);
  CHECK(Mode(path) == 0700);
  CHECK(Mode(temporary.path() + "/var/lib") == 0755);
  CHECK(state->WireguardKeyPath() == path + "/wireguard.key");

  // A trailing slash names the same directory.
  auto again = StateDir::Open(path + "/", CreateMode::kOpenExisting);
  REQUIRE(again.ok());
  CHECK(again->path() == path);
}

TEST_CASE("StateDir refuses a missing directory unless asked to create it") {
  TemporaryDirectory temporary;
  auto missing = StateDir::Open(temporary.path() + "/absent", CreateMode::kOpenExisting);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message() == "state directory \"" + temporary.path() + "/absent\" does not exist");

  auto empty = StateDir::Open("", CreateMode::kCreateIfMissing);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("StateDir refuses a directory that group or others can read") {
  TemporaryDirectory temporary;
  std::string path = temporary.path() + "/state";
  REQUIRE(::mkdir(path.c_str(), 0700) == 0);
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
  for (CreateMode mode : {CreateMode::kOpenExisting, CreateMode::kCreateIfMissing}) {
    auto state = StateDir::Open(path, mode);
    REQUIRE_FALSE(state.ok());
    CHECK(state.status().code() == StatusCode::kFailedPrecondition);
    CHECK(state.status().message() == "state directory \"" + path +
                                          "\" has mode 0755: group and others must have no access; fix with: "
                                          "chmod 700 '" + path + "'");
  }
  CHECK(Mode(path) == 0755);  // reported, never silently changed
}

TEST_CASE("StateDir refuses a directory another user owns") {
  if (::geteuid() != 0) return;  // only root can hand a directory to another user
  TemporaryDirectory temporary;
  std::string path = temporary.path() + "/state";
  REQUIRE(::mkdir(path.c_str(), 0700) == 0);
  REQUIRE(::chown(path.c_str(), 4321, 4321) == 0);
  auto state = StateDir::Open(path, CreateMode::kOpenExisting);
  REQUIRE_FALSE(state.ok());
  CHECK(state.status().code() == StatusCode::kFailedPrecondition);
  CHECK(state.status().message() == "state directory \"" + path +
                                        "\" is owned by uid 4321, not by this user (uid 0); fix with: chown 0 '" +
                                        path + "'");
}

TEST_CASE("EnsureWireguardKey stores a 0600 key once and returns the same public key") {
  TemporaryDirectory temporary;
  std::string path = temporary.path() + "/state";
  auto state = StateDir::Open(path, CreateMode::kCreateIfMissing);
  REQUIRE(state.ok());

  auto none = state->LoadWireguardPublicKey();
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == StatusCode::kNotFound);

  auto first = state->EnsureWireguardKey();
  REQUIRE(first.ok());
  std::string key_path = path + "/wireguard.key";
  CHECK(Mode(key_path) == 0600);
  std::string stored = ReadText(key_path);
  REQUIRE(stored.size() == 45);  // 44 characters of base64 and a newline, as `wg genkey` writes
  CHECK(stored.back() == '\n');
  CHECK(WgPubkey(stored.substr(0, 44)) == first->ToBase64() + "\n");

  auto second = state->EnsureWireguardKey();
  REQUIRE(second.ok());
  CHECK(*second == *first);
  CHECK(ReadText(key_path) == stored);

  auto reopened = StateDir::Open(path, CreateMode::kOpenExisting);
  REQUIRE(reopened.ok());
  auto third = reopened->EnsureWireguardKey();
  REQUIRE(third.ok());
  CHECK(*third == *first);
  auto loaded = reopened->LoadWireguardPublicKey();
  REQUIRE(loaded.ok());
  CHECK(*loaded == *first);
  CHECK(Entries(path) == std::set<std::string>{"wireguard.key"});
}

TEST_CASE("StateDir refuses a readable key file and a broken one without echoing it") {
  TemporaryDirectory temporary;
  std::string path = temporary.path() + "/state";
  auto state = StateDir::Open(path, CreateMode::kCreateIfMissing);
  REQUIRE(state.ok());
  REQUIRE(state->EnsureWireguardKey().ok());
  std::string key_path = path + "/wireguard.key";

  REQUIRE(::chmod(key_path.c_str(), 0644) == 0);
  auto readable = state->EnsureWireguardKey();
  REQUIRE_FALSE(readable.ok());
  CHECK(readable.status().code() == StatusCode::kFailedPrecondition);
  CHECK(readable.status().message() == "key file \"" + key_path +
                                           "\" has mode 0644: group and others must have no access; fix with: "
                                           "chmod 600 '" + key_path + "'");

  REQUIRE(::chmod(key_path.c_str(), 0600) == 0);
  { std::ofstream(key_path, std::ios::trunc) << "c2VjcmV0LWJ1dC1icm9rZW4K\n"; }
  auto broken = state->EnsureWireguardKey();
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.status().code() == StatusCode::kFailedPrecondition);
  CHECK(broken.status().message() ==
        "\"" + key_path + "\" does not hold a WireGuard private key (44 characters of base64)");
  CHECK(ReadText(key_path) == "c2VjcmV0LWJ1dC1icm9rZW4K\n");  // never replaced by a new key
}

AgentConfig SmallConfig() {
  AgentConfig config;
  config.agent = "vps-1";
  WireguardInterface interface;
  interface.name = "wg0";
  interface.tunnel = "home";
  interface.address = *Ipv4Cidr::Parse("10.77.0.1/24");
  interface.listen_port = 51820;
  interface.public_key = KeyFromHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  WireguardPeer peer;
  peer.name = "gw-home";
  peer.public_key = KeyFromHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  peer.allowed_ips = {*Ipv4Cidr::Parse("10.77.0.2/32"), *Ipv4Cidr::Parse("192.168.1.0/24")};
  interface.peers.push_back(peer);
  config.interfaces.push_back(interface);
  config.chains.push_back(FirewallChain{FirewallTable::kNat, "WIREWARP-DNAT",
                                        {"-p tcp -m tcp --dport 25565 -j DNAT --to-destination 10.77.0.2:25565"}});
  config.sysctls.push_back(Sysctl{"net.ipv4.ip_forward", "1"});
  return config;
}

TEST_CASE("StateDir stores the last applied config atomically and reads it back") {
  TemporaryDirectory temporary;
  std::string path = temporary.path() + "/state";
  auto state = StateDir::Open(path, CreateMode::kCreateIfMissing);
  REQUIRE(state.ok());

  auto nothing = state->LoadLastApplied();
  REQUIRE(nothing.ok());
  CHECK_FALSE(nothing->has_value());

  AgentConfig first = SmallConfig();
  REQUIRE(state->SaveLastApplied(first).ok());
  AgentConfig second = first;
  second.sysctls.push_back(Sysctl{"net.ipv4.conf.all.rp_filter", "0"});
  REQUIRE(state->SaveLastApplied(second).ok());

  CHECK(Mode(path + "/last-applied.json") == 0600);
  CHECK(ReadText(path + "/last-applied.json") == AgentConfigToJson(second));
  CHECK(Entries(path) == std::set<std::string>{"last-applied.json"});  // no temporary files left
  auto loaded = state->LoadLastApplied();
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK(**loaded == second);
}

TEST_CASE("StateDir reports a corrupt last-applied.json clearly") {
  TemporaryDirectory temporary;
  std::string path = temporary.path() + "/state";
  auto state = StateDir::Open(path, CreateMode::kCreateIfMissing);
  REQUIRE(state.ok());
  std::string file = path + "/last-applied.json";
  std::string prefix = "\"" + file + "\" is corrupt (";
  std::string suffix = "); remove it and apply a desired config again to recreate it";

  for (const char* text : {"{\"formatVersion\": 1, \"agent\": ", "[]", "{\"formatVersion\": 99}"}) {
    CAPTURE(text);
    { std::ofstream(file, std::ios::trunc) << text; }
    auto loaded = state->LoadLastApplied();
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.status().code() == StatusCode::kFailedPrecondition);
    std::string message = loaded.status().message();
    CHECK(message.substr(0, prefix.size()) == prefix);
    CHECK(message.size() > prefix.size() + suffix.size());
    CHECK(message.substr(message.size() - suffix.size()) == suffix);
  }
}

TEST_CASE("StateDir removes temporary files a crash left behind") {
  TemporaryDirectory temporary;
  std::string path = temporary.path() + "/state";
  REQUIRE(StateDir::Open(path, CreateMode::kCreateIfMissing).ok());
  { std::ofstream(path + "/.last-applied.json.tmp-123-0") << "half"; }
  { std::ofstream(path + "/.wireguard.key.tmp-123-1") << "half"; }
  { std::ofstream(path + "/notes.txt") << "kept"; }
  REQUIRE(StateDir::Open(path, CreateMode::kOpenExisting).ok());
  CHECK(Entries(path) == std::set<std::string>{"notes.txt"});
}

TEST_CASE("StateDir keeps the owned interfaces sorted and unique") {
  TemporaryDirectory temporary;
  std::string path = temporary.path() + "/state";
  auto state = StateDir::Open(path, CreateMode::kCreateIfMissing);
  REQUIRE(state.ok());

  auto none = state->LoadOwnedInterfaces();
  REQUIRE(none.ok());
  CHECK(none->empty());

  REQUIRE(state->SaveOwnedInterfaces({"wg1", "wg0", "wg1"}).ok());
  CHECK(ReadText(path + "/owned.json") ==
        "{\n  \"formatVersion\": 1,\n  \"interfaces\": [\n    \"wg0\",\n    \"wg1\"\n  ]\n}\n");
  CHECK(Mode(path + "/owned.json") == 0600);
  auto owned = state->LoadOwnedInterfaces();
  REQUIRE(owned.ok());
  CHECK(*owned == std::vector<std::string>{"wg0", "wg1"});

  REQUIRE(state->SaveOwnedInterfaces({}).ok());
  owned = state->LoadOwnedInterfaces();
  REQUIRE(owned.ok());
  CHECK(owned->empty());

  { std::ofstream(path + "/owned.json", std::ios::trunc) << "{\"formatVersion\": 1, \"interfaces\": [3]}"; }
  auto corrupt = state->LoadOwnedInterfaces();
  REQUIRE_FALSE(corrupt.ok());
  CHECK(corrupt.status().code() == StatusCode::kFailedPrecondition);
  CHECK(corrupt.status().message() == "\"" + path +
                                          "/owned.json\" is corrupt (interfaces must hold non-empty strings); list "
                                          "the agent's WireGuard interfaces in it or remove it");
}

TEST_CASE("StateDir lets one process at a time hold its lock") {
  TemporaryDirectory temporary;
  std::string path = temporary.path() + "/state";
  auto first = StateDir::Open(path, CreateMode::kCreateIfMissing);
  auto second = StateDir::Open(path, CreateMode::kOpenExisting);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  REQUIRE(first->Lock().ok());
  Status busy = second->Lock();
  CHECK(busy.code() == StatusCode::kUnavailable);
  CHECK(busy.message() == "state directory \"" + path + "\" is in use by another wirewarp-agent");
  { StateDir released = std::move(*first); }  // closing the directory releases the lock
  CHECK(second->Lock().ok());
}

}  // namespace
}  // namespace ww::agent
