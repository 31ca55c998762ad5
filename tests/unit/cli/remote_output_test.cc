// The pieces wwctl prints reconciler answers with (cli/remote_output.h) and its duration
// syntax (cli/remote_session.h): YAML that reads back as the same data, kubectl-like tables,
// ages and byte counts, and durations such as 90s or 1h30m.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "cli/remote_output.h"
#include "cli/remote_session.h"

namespace ww::cli {
namespace {

TEST_CASE("JsonToYaml writes block YAML and quotes strings YAML would misread") {
  Json value = Json::parse(R"({"name": "vps", "ports": "25565", "flag": "true", "empty": "", "to": "10.0.0.1:80",
    "count": 3, "ratio": 1.5, "on": false, "none": null, "list": [], "map": {},
    "nested": [{"a": 1, "b": ["x", "no"]}, [1, 2], "plain"]})");
  CHECK(JsonToYaml(value) ==
        "name: vps\n"
        "ports: \"25565\"\n"
        "flag: \"true\"\n"
        "empty: \"\"\n"
        "to: \"10.0.0.1:80\"\n"
        "count: 3\n"
        "ratio: 1.5\n"
        "\"on\": false\n"
        "none: null\n"
        "list: []\n"
        "map: {}\n"
        "nested:\n"
        "  - a: 1\n"
        "    b:\n"
        "      - x\n"
        "      - \"no\"\n"
        "  -\n"
        "    - 1\n"
        "    - 2\n"
        "  - plain\n");
  CHECK(JsonToYaml(Json("7")) == "\"7\"\n");
  CHECK(JsonToYaml(Json::array()) == "[]\n");
}

TEST_CASE("Table pads columns by three spaces and trims trailing blanks") {
  Table table({"NAME", "STATE", "NOTE"});
  table.AddRow({"minecraft", "applied", ""});
  table.AddRow({"web", "failed", "port in use"});
  std::ostringstream out;
  table.Print(out);
  CHECK(out.str() ==
        "NAME        STATE     NOTE\n"
        "minecraft   applied\n"
        "web         failed    port in use\n");
}

TEST_CASE("ages, byte counts and times print like kubectl") {
  CHECK(Age(0) == "0s");
  CHECK(Age(119) == "119s");
  CHECK(Age(120) == "2m");
  CHECK(Age(7199) == "119m");
  CHECK(Age(7200) == "2h");
  CHECK(Age(172800) == "2d");
  CHECK(Age(-1) == "-");
  CHECK(Age(std::nullopt) == "-");
  CHECK(ByteCount(1023) == "1023 B");
  CHECK(ByteCount(1536) == "1.5 KiB");
  CHECK(ByteCount(int64_t{3} << 30) == "3.0 GiB");
  CHECK(UtcTime(0) == "1970-01-01T00:00:00Z");
  CHECK(UtcTime(std::nullopt) == "-");
  CHECK(ShortCommit("0123456789abcdef") == "0123456789ab");
  CHECK(ShortCommit("") == "-");
}

TEST_CASE("durations are sums of number and unit parts") {
  CHECK(*ParseDuration("90s") == std::chrono::seconds(90));
  CHECK(*ParseDuration("5m") == std::chrono::seconds(300));
  CHECK(*ParseDuration("1h30m") == std::chrono::seconds(5400));
  CHECK(*ParseDuration("2d") == std::chrono::seconds(172800));
  CHECK(*ParseDuration("0s") == std::chrono::seconds(0));
  for (const char* bad : {"", "90", "s", "5x", "-5s", "1.5h", "5m ", "1234567890s"}) {
    CAPTURE(bad);
    Result<std::chrono::seconds> parsed = ParseDuration(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().message() == "\"" + std::string(bad) + "\" is not a duration such as 90s, 5m, 1h30m or 2d");
  }
  CHECK(ParseDuration("4000d").status().message() == "\"4000d\" is longer than 10 years");
}

}  // namespace
}  // namespace ww::cli
