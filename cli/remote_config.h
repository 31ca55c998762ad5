#pragma once
// wwctl's connection file (like a kubeconfig): which reconciler to call and with which client
// certificate. Found from --config, else $WWCTL_CONFIG, else ~/.config/wirewarp/wwctl.yaml;
// written by the reconciler's first start as DATA_DIR/admin.wwctl.yaml. yaml-cpp stays inside
// remote_config.cc. Every error names the file, and line, column and field where it has them.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "schema/result.h"

namespace ww::cli {

inline constexpr std::string_view kRemoteConfigApiVersion = "wirewarp.dev/v1";
inline constexpr std::string_view kRemoteConfigKind = "WwctlConfig";
inline constexpr std::string_view kRemoteConfigEnvironment = "WWCTL_CONFIG";
inline constexpr std::string_view kRemoteConfigHomePath = ".config/wirewarp/wwctl.yaml";
// Three PEM blocks and a few short lines; anything far larger is not a config file.
inline constexpr std::size_t kMaxRemoteConfigBytes = std::size_t{256} << 10;

enum class ConfigOrigin { kFlag, kEnvironment, kHome };

struct ConfigLocation {
  std::string path;
  ConfigOrigin origin = ConfigOrigin::kFlag;

  friend bool operator==(const ConfigLocation&, const ConfigLocation&) = default;
};

// --config `flag_value` if given, else `environment_value` ($WWCTL_CONFIG) if set and not
// empty, else HOME/.config/wirewarp/wwctl.yaml. Null pointers mean "unset". kNotFound when
// none of the three is available.
Result<ConfigLocation> ResolveConfigPath(std::string_view flag_value, const char* environment_value,
                                         const char* home);

// "--config", "WWCTL_CONFIG" or "~/.config/wirewarp/wwctl.yaml": where a path came from.
std::string DescribeOrigin(ConfigOrigin origin);

struct RemoteConfig {
  std::string server;  // https://HOST[:PORT]
  std::string ca_pin;  // "sha256:<hex>" of the CA certificate's SPKI
  std::string ca_certificate_pem;
  std::string client_certificate_pem;
  std::string client_key_pem;
};

// Parses and checks the text of a config file: a single YAML mapping with apiVersion
// wirewarp.dev/v1, kind WwctlConfig, server (an https URL), caPin, caCertificate,
// clientCertificate and clientKey (PEM). Unknown and duplicate keys, anchors, aliases and
// tags are refused; the CA certificate must match caPin. `path` is used in messages only
// ("PATH:LINE:COL: FIELD: ...").
Result<RemoteConfig> ParseRemoteConfig(std::string_view text, const std::string& path);

struct LoadedRemoteConfig {
  RemoteConfig config;
};

// Reads `location.path` (at most kMaxRemoteConfigBytes) and parses it. A file group or others
// can access is refused before it is read (it holds a private key), with the chmod to run.
Result<LoadedRemoteConfig> LoadRemoteConfig(const ConfigLocation& location);

}  // namespace ww::cli
