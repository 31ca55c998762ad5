// wwctl's config file (cli/remote_config.h): where it is looked for, the real file the
// reconciler's first start writes, and hostile or broken files, each refused with the file,
// line, column and field named.
#include <doctest/doctest.h>

#include "tests/support/test_files.h"
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>

#include "cli/remote_config.h"
#include "reconciler/client/https_url.h"
#include "reconciler/pki/certificate_authority.h"
#include "reconciler/server/bootstrap.h"
#include "tests/support/temporary_directory.h"
#include "tests/unit/cli/wwctl_process.h"

namespace ww::cli {
namespace {
using test_support::UnixNow;


// A real admin.wwctl.yaml, as the reconciler's first start writes it.
struct RealConfig {
  test_support::TemporaryDirectory directory{"ww-remote-config"};
  std::string path;
  std::string text;
  std::string ca_pin;
  RealConfig() {
    Result<Bootstrap> bootstrap = Bootstrap::Open(directory.File("data"), "https://reconciler.example:8443", UnixNow());
    REQUIRE(bootstrap.ok());
    path = bootstrap->admin_config_path;
    text = test::ReadText(path);
    ca_pin = bootstrap->ca_pin;
  }
};

// The text with the first occurrence of `from` replaced.
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

std::string ErrorOf(std::string_view text) {
  Result<RemoteConfig> parsed = ParseRemoteConfig(text, "wwctl.yaml");
  REQUIRE_FALSE(parsed.ok());
  return parsed.status().message();
}

TEST_CASE("the config path comes from --config, then WWCTL_CONFIG, then HOME") {
  CHECK(*ResolveConfigPath("a.yaml", "b.yaml", "/home/me") == ConfigLocation{"a.yaml", ConfigOrigin::kFlag});
  CHECK(*ResolveConfigPath("", "b.yaml", "/home/me") == ConfigLocation{"b.yaml", ConfigOrigin::kEnvironment});
  CHECK(*ResolveConfigPath("", "", "/home/me") ==
        ConfigLocation{"/home/me/.config/wirewarp/wwctl.yaml", ConfigOrigin::kHome});
  CHECK(*ResolveConfigPath("", nullptr, "/home/me/") ==
        ConfigLocation{"/home/me/.config/wirewarp/wwctl.yaml", ConfigOrigin::kHome});
  Result<ConfigLocation> none = ResolveConfigPath("", nullptr, nullptr);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == StatusCode::kNotFound);
  CHECK(none.status().message() ==
        "no wwctl config: pass --config FILE or set WWCTL_CONFIG (HOME is not set, so "
        "~/.config/wirewarp/wwctl.yaml cannot be used)");
}

TEST_CASE("the admin config the reconciler writes parses, with its pin checked") {
  RealConfig real;
  Result<RemoteConfig> parsed = ParseRemoteConfig(real.text, real.path);
  REQUIRE(parsed.ok());
  CHECK(parsed->server == "https://reconciler.example:8443");
  CHECK(parsed->ca_pin == real.ca_pin);
  CHECK(parsed->ca_certificate_pem == test::ReadText(real.directory.File("data/ca.pem")));
  CHECK(parsed->client_certificate_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
  CHECK(parsed->client_key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));

  // Written 0600: loads.
  Result<LoadedRemoteConfig> loaded = LoadRemoteConfig(ConfigLocation{real.path, ConfigOrigin::kFlag});
  REQUIRE(loaded.ok());
  CHECK(loaded->config.server == parsed->server);
}

TEST_CASE("a config with CRLF line ends parses, a broken key is refused without quoting it") {
  RealConfig real;
  std::string crlf;
  for (char c : real.text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  Result<RemoteConfig> parsed = ParseRemoteConfig(crlf, real.path);
  REQUIRE(parsed.ok());
  CHECK(parsed->server == "https://reconciler.example:8443");

  size_t key = real.text.find("clientKey: |\n") + 14;
  std::string tabbed = real.text;
  tabbed.insert(tabbed.find('\n', key) + 3, "\t");
  std::string message = ErrorOf(tabbed);
  CHECK(message.ends_with(": clientKey: not PEM text (control characters or bytes that are not ASCII)"));
  CHECK(message.find("MIG") == std::string::npos);
  CHECK(message.find('\n') == std::string::npos);  // one finding: not "missing" as well
}

TEST_CASE("a config readable by group or others is refused with the chmod to run") {
  RealConfig real;
  REQUIRE(::chmod(real.path.c_str(), 0644) == 0);
  Result<LoadedRemoteConfig> loaded = LoadRemoteConfig(ConfigLocation{real.path, ConfigOrigin::kFlag});
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().code() == StatusCode::kFailedPrecondition);
  CHECK(loaded.status().message() == "\"" + real.path +
                                         "\" holds a private key but is accessible to group or others (mode 0644); "
                                         "run: chmod 600 " + real.path);
  REQUIRE(::chmod(real.path.c_str(), 0600) == 0);
  CHECK(LoadRemoteConfig(ConfigLocation{real.path, ConfigOrigin::kFlag}).ok());
}

TEST_CASE("a CA certificate that does not match caPin is refused") {
  RealConfig real;
  Result<CertificateAuthority> other = CertificateAuthority::Create("Other CA", UnixNow());
  REQUIRE(other.ok());
  Result<std::string> other_pin = SpkiPin(other->CertificatePem());
  REQUIRE(other_pin.ok());
  // Swap in another CA's pin: the file trusts a CA it does not name.
  std::string altered = Replace(real.text, "caPin: " + real.ca_pin, "caPin: " + *other_pin);
  CHECK(ErrorOf(altered) == "wwctl.yaml:6:8: caPin: does not match caCertificate, whose pin is " + real.ca_pin +
                                "; the file was altered or mixed up");
}

TEST_CASE("missing, malformed and unknown fields are each named with their line") {
  RealConfig real;
  CHECK(ErrorOf(Replace(real.text, "server: https://", "sever: https://")) ==
        "wwctl.yaml:5:1: \"sever\" is not a known field; did you mean \"server\"?\n"
        "wwctl.yaml:3:1: server: missing; the reconciler writes it into DATA_DIR/admin.wwctl.yaml");
  CHECK(ErrorOf(Replace(real.text, "server: https://", "server: http://")) ==
        "wwctl.yaml:5:9: server: " + ParseHttpsUrl("http://reconciler.example:8443").status().message());
  CHECK(ErrorOf(Replace(real.text, "apiVersion: wirewarp.dev/v1", "apiVersion: wirewarp.dev/v2")) ==
        "wwctl.yaml:3:13: apiVersion: \"wirewarp.dev/v2\" is not \"wirewarp.dev/v1\"");
  CHECK(ErrorOf(Replace(real.text, "caPin: sha256:", "caPin: md5:")) ==
        "wwctl.yaml:6:8: caPin: \"md5:" + real.ca_pin.substr(7) + "\" is not \"sha256:\" and 64 hex digits");
  CHECK(ErrorOf(Replace(real.text, "clientKey: |\n  -----BEGIN PRIVATE KEY-----", "clientKey: |\n  -----BEGIN NOTHING-----")) ==
        "wwctl.yaml:" + std::to_string(1 + static_cast<int>(std::count(real.text.begin(),
                                                              real.text.begin() + static_cast<long>(real.text.find("clientKey:")), '\n'))) +
            ":12: clientKey: not a PEM private key");
  CHECK(ErrorOf(Replace(real.text, "server: https://reconciler.example:8443", "server: {url: x}")) ==
        "wwctl.yaml:5:9: server: expected a string, found a mapping");
}

TEST_CASE("hostile config files are refused without crashing") {
  RealConfig real;
  // Duplicate keys: the second server would silently win elsewhere.
  std::string duplicate = real.text + "server: https://evil.example\n";
  CHECK(ErrorOf(duplicate).find("server") != std::string::npos);
  CHECK(ErrorOf(duplicate).find("duplicate") != std::string::npos);
  // Anchors and aliases (the vehicle of alias bombs).
  CHECK(ErrorOf("apiVersion: &a wirewarp.dev/v1\nkind: *a\n").find("anchors and aliases are not supported") !=
        std::string::npos);
  // Deep nesting stops at the limit instead of recursing.
  std::string deep = "server: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  CHECK(ErrorOf(deep).find("nesting deeper than 4 levels is not supported") != std::string::npos);
  // Not a mapping, two documents, empty, NUL bytes and invalid UTF-8.
  CHECK(ErrorOf("- a\n- b\n") ==
        "wwctl.yaml:1:1: expected a mapping of settings (apiVersion, kind, server, caPin, ...), found a sequence");
  CHECK(ErrorOf(real.text + "---\nkind: WwctlConfig\n").find("a second YAML document") != std::string::npos);
  CHECK(ErrorOf("") == "wwctl.yaml: empty; expected apiVersion, kind, server, caPin, ...");
  CHECK(ErrorOf("# only a comment\n").starts_with("wwctl.yaml:"));
  CHECK(ErrorOf(std::string("server: a\0b\n", 12)).starts_with("wwctl.yaml:1:"));
  CHECK(ErrorOf("server: \xff\xfe\n").starts_with("wwctl.yaml:1:9: "));
  // Tags.
  CHECK(ErrorOf("server: !!binary aGVsbG8=\n").find("tag") != std::string::npos);
}

TEST_CASE("an unreadable or oversized config file says where its path came from") {
  test_support::TemporaryDirectory directory("ww-remote-config");
  Result<LoadedRemoteConfig> missing =
      LoadRemoteConfig(ConfigLocation{directory.File("none.yaml"), ConfigOrigin::kEnvironment});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() ==
        "cannot read \"" + directory.File("none.yaml") + "\": No such file or directory (from WWCTL_CONFIG)");

  Result<LoadedRemoteConfig> home = LoadRemoteConfig(ConfigLocation{directory.File("none.yaml"), ConfigOrigin::kHome});
  REQUIRE_FALSE(home.ok());
  CHECK(home.status().message().ends_with(
      "; pass --config FILE or set WWCTL_CONFIG (the reconciler writes DATA_DIR/admin.wwctl.yaml)"));

  test::WriteText(directory.File("big.yaml"), std::string(kMaxRemoteConfigBytes + 1, '#'));
  REQUIRE(::chmod(directory.File("big.yaml").c_str(), 0600) == 0);
  Result<LoadedRemoteConfig> big = LoadRemoteConfig(ConfigLocation{directory.File("big.yaml"), ConfigOrigin::kFlag});
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().message() == "\"" + directory.File("big.yaml") + "\" is larger than the 262144 bytes limit (from --config)");

  Result<LoadedRemoteConfig> dash = LoadRemoteConfig(ConfigLocation{"-", ConfigOrigin::kFlag});
  REQUIRE_FALSE(dash.ok());
  CHECK(dash.status().message() == "the wwctl config must be a file, not standard input (from --config)");
}

}  // namespace
}  // namespace ww::cli
