// A daemon's flags from a YAML file (reconciler/client/flag_file.h): parsing, hostile input,
// and the command line winning over the file.
#include "reconciler/client/flag_file.h"

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "cli/cli11.h"
#include "tests/support/temporary_directory.h"

namespace ww {
namespace {

const std::vector<std::string_view> kKnown = {"data-dir", "listen", "max-connections", "git-allow-destructive"};

Status ParseError(std::string_view text) {
  Result<std::vector<FlagSetting>> parsed = ParseFlagFile(text, "/etc/wirewarp/reconciler.yaml", kKnown);
  REQUIRE_FALSE(parsed.ok());
  return parsed.status();
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// The reconciler's options, in miniature.
struct MiniDaemon {
  std::string data_dir = "./wirewarp-data";
  std::string listen = "0.0.0.0:8443";
  std::size_t max_connections = 20000;
  bool allow_destructive = false;
  std::string config;
  CLI::App app{"mini"};

  MiniDaemon() {
    app.add_option("--config", config);
    app.add_option("--data-dir", data_dir);
    app.add_option("--listen", listen);
    app.add_option("--max-connections", max_connections);
    app.add_flag("--git-allow-destructive", allow_destructive);
    app.set_version_flag("--version", "1");
  }
  void Parse(std::vector<std::string> args) {
    std::vector<const char*> argv = {"mini"};
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
  }
};

TEST_CASE("a flag file is a mapping of flag names to values, in file order, with their marks") {
  Result<std::vector<FlagSetting>> parsed = ParseFlagFile(
      "# the reconciler's flags\n"
      "data-dir: /var/lib/wirewarp-reconciler\n"
      "listen: \"0.0.0.0:8443\"\n"
      "max-connections: 20000\n"
      "git-allow-destructive: true\n",
      "r.yaml", kKnown);
  REQUIRE(parsed.ok());
  CHECK(*parsed == std::vector<FlagSetting>{{"data-dir", "/var/lib/wirewarp-reconciler", Mark{2, 11}},
                                            {"listen", "0.0.0.0:8443", Mark{3, 9}},
                                            {"max-connections", "20000", Mark{4, 18}},
                                            {"git-allow-destructive", "true", Mark{5, 24}}});
  // Empty and comment-only files set nothing (the packaged file is all comments).
  CHECK(ParseFlagFile("", "r.yaml", kKnown)->empty());
  CHECK(ParseFlagFile("# nothing yet\n", "r.yaml", kKnown)->empty());
}

TEST_CASE("unknown flag names are refused with file, line and the name quoted") {
  Status status = ParseError("data-dir: /x\nlisen: 1.2.3.4:1\n");
  CHECK(status.message() ==
        "/etc/wirewarp/reconciler.yaml:2:1: error: \"lisen\" is not a known flag; did you mean \"listen\"?");
  status = ParseError("--listen: 1.2.3.4:1\n");
  CHECK(status.message() == "/etc/wirewarp/reconciler.yaml:1:1: error: \"--listen\" is not a known flag; write the "
                            "flag's name without dashes: \"listen\"");
  status = ParseError("config: /etc/other.yaml\n");
  CHECK(status.message().find("\"config\" is not a known flag; known flags: data-dir, listen, max-connections, "
                              "git-allow-destructive") != std::string::npos);
  // Every finding at once, one a line.
  status = ParseError("a: 1\nb: 2\n");
  CHECK(status.message().find(":1:1: error: \"a\"") != std::string::npos);
  CHECK(status.message().find("\n/etc/wirewarp/reconciler.yaml:2:1: error: \"b\"") != std::string::npos);
}

TEST_CASE("flag file values are single scalars") {
  CHECK(ParseError("listen: [a, b]\n").message() ==
        "/etc/wirewarp/reconciler.yaml:1:9: error: listen: expected a single value (a string, number or true/false), "
        "found a sequence");
  CHECK(ParseError("listen:\n  host: a\n").message().find("listen: expected a single value") != std::string::npos);
  CHECK(ParseError("listen:\n").message().find("listen: expected a single value") != std::string::npos);
  CHECK(ParseError("- listen\n").message().find("expected a mapping of flag names") != std::string::npos);
  CHECK(ParseError("just text\n").message().find("expected a mapping of flag names") != std::string::npos);
  CHECK(ParseError("? [a]\n: 1\n").message().find("expected a flag name") != std::string::npos);
}

TEST_CASE("hostile flag files are refused with a message, never half read") {
  CHECK(ParseError("listen: a\nlisten: b\n").message().find("duplicate key \"listen\"") != std::string::npos);
  CHECK(ParseError("data-dir: &d /x\nlisten: *d\n").message().find(":1:") != std::string::npos);
  CHECK(ParseError("listen: !!binary YQ==\n").message().find("tag") != std::string::npos);
  CHECK(ParseError("listen: \"a\\u0007b\"\n").message().find("control character") != std::string::npos);
  CHECK(ParseError(std::string("listen: a\0b\n", 12)).message().find("NUL") != std::string::npos);
  CHECK(ParseError("listen: \xc3\x28\n").message().find("UTF-8") != std::string::npos);
  CHECK(ParseError("listen: a\n---\nlisten: b\n").message().find("a second YAML document") != std::string::npos);
  CHECK(ParseError("listen: {a: {b: {c: {d: 1}}}}\n").message().find(":1:") != std::string::npos);
  CHECK(ParseError("listen: [unclosed\n").message().find("reconciler.yaml:") != std::string::npos);
  CHECK(ParseError("listen: " + std::string(5000, 'x') + "\n").message().find("reconciler.yaml:1:") !=
        std::string::npos);
  // A name made to inject a line into the log is quoted with its control characters escaped.
  Status forged = ParseError("\"a\\nINFO forged\": 1\n");
  CHECK(forged.message().find('\n') == std::string::npos);
}

TEST_CASE("ApplyFlagFile sets what the command line did not give; the command line wins") {
  test_support::TemporaryDirectory directory("ww-flag-file");
  std::string path = directory.File("reconciler.yaml");
  Write(path, "data-dir: /var/lib/wirewarp-reconciler\nlisten: 10.0.0.1:9443\nmax-connections: 5000\n"
              "git-allow-destructive: true\n");
  MiniDaemon daemon;
  daemon.Parse({"--listen", "127.0.0.1:8443", "--config", path});
  REQUIRE(ApplyFlagFile(daemon.app, path).ok());
  CHECK(daemon.listen == "127.0.0.1:8443");
  CHECK(daemon.data_dir == "/var/lib/wirewarp-reconciler");
  CHECK(daemon.max_connections == 5000);
  CHECK(daemon.allow_destructive);

  MiniDaemon flag_false;
  Write(path, "git-allow-destructive: false\n");
  flag_false.Parse({});
  REQUIRE(ApplyFlagFile(flag_false.app, path).ok());
  CHECK_FALSE(flag_false.allow_destructive);
}

TEST_CASE("ApplyFlagFile names the file, line and flag of a value the option refuses") {
  test_support::TemporaryDirectory directory("ww-flag-file");
  std::string path = directory.File("reconciler.yaml");
  Write(path, "data-dir: /x\nmax-connections: lots\n");
  MiniDaemon daemon;
  daemon.Parse({});
  Status status = ApplyFlagFile(daemon.app, path);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message().starts_with(path + ":2:18: error: max-connections: \"lots\" is not valid: "));
  // Unknown names come from the app's own options; --version and --config are not settable.
  Write(path, "version: 2\n");
  MiniDaemon versioned;
  versioned.Parse({});
  CHECK(ApplyFlagFile(versioned.app, path).message().find("\"version\" is not a known flag") != std::string::npos);
}

TEST_CASE("ApplyFlagFile reads only a small regular file") {
  test_support::TemporaryDirectory directory("ww-flag-file");
  MiniDaemon daemon;
  daemon.Parse({});
  Status missing = ApplyFlagFile(daemon.app, directory.File("absent.yaml"));
  CHECK(missing.code() == StatusCode::kNotFound);
  CHECK(missing.message().find("absent.yaml") != std::string::npos);
  CHECK(ApplyFlagFile(daemon.app, directory.path()).message().find("is not a regular file") != std::string::npos);
  CHECK(ApplyFlagFile(daemon.app, "/dev/zero").message().find("is not a regular file") != std::string::npos);
  std::string large = directory.File("large.yaml");
  Write(large, "# " + std::string(kMaxFlagFileBytes, 'x') + "\n");
  CHECK(ApplyFlagFile(daemon.app, large).message().find("is larger than 64 KiB") != std::string::npos);
}

}  // namespace
}  // namespace ww
