// examples/homelab is the fleet users copy first: it must load and validate cleanly, and
// what it renders to is checked in (examples/homelab/rendered/<agent>.json) so a change to
// render shows up as a reviewable diff. WW_UPDATE_GOLDEN=1 rewrites the files instead.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "schema/agent_keys.h"
#include "schema/ipam.h"
#include "schema/loader.h"
#include "schema/render.h"
#include "schema/validate.h"
#include "schema/wire_json.h"

using namespace ww;
namespace fs = std::filesystem;

namespace {

const fs::path kSourceDir = WW_SOURCE_DIR;
const fs::path kExampleDir = kSourceDir / "examples" / "homelab";
constexpr const char* kSchemaLine = "# yaml-language-server: $schema=";

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path.string());
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Every fleet file of the example, sorted, named as `wwctl -f examples/homelab` names them.
std::vector<SourceFile> ExampleFiles() {
  std::vector<std::string> relative;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(kExampleDir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
    if (entry.path() == kExampleDir / "keys.yaml") continue;
    relative.push_back(entry.path().lexically_relative(kExampleDir).generic_string());
  }
  std::sort(relative.begin(), relative.end());
  std::vector<SourceFile> files;
  for (const std::string& path : relative) {
    files.push_back({"examples/homelab/" + path, ReadText(kExampleDir / path)});
  }
  return files;
}

std::string Format(const Diagnostics& diagnostics) {
  std::string out;
  for (const Diagnostic& diagnostic : diagnostics) out += FormatDiagnostic(diagnostic) + "\n";
  return out;
}

}  // namespace

TEST_CASE("examples/homelab: every file points editors at the JSON Schema") {
  std::vector<SourceFile> files = ExampleFiles();
  REQUIRE(files.size() >= 4);
  for (const SourceFile& file : files) {
    CAPTURE(file.path);
    REQUIRE(file.content.starts_with(kSchemaLine));
    std::string relative = file.content.substr(std::string(kSchemaLine).size());
    relative = relative.substr(0, relative.find('\n'));
    fs::path resolved = (kSourceDir / fs::path(file.path).parent_path() / relative).lexically_normal();
    CHECK(resolved == (kSourceDir / "schema" / "wirewarp.schema.json").lexically_normal());
  }
}

TEST_CASE("examples/homelab: loads, validates, allocates and renders to the checked-in configs") {
  LoadResult loaded = LoadFleet(ExampleFiles());
  INFO(Format(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  const Fleet& fleet = loaded.fleet;
  CHECK(fleet.tunnels.size() == 1);
  CHECK(fleet.peers.size() == 2);
  CHECK(fleet.forwards.size() == 5);
  CHECK(fleet.templates.size() == 1);

  Diagnostics findings = ValidateFleet(fleet);
  INFO(Format(findings));
  REQUIRE(findings.empty());

  AllocationResult allocation = AllocateAddresses(fleet, {});
  REQUIRE(allocation.diagnostics.empty());
  CHECK(allocation.allocations == Allocations{{"homelab", "home-gw", *Ipv4Address::Parse("10.77.0.2")},
                                              {"homelab", "phone", *Ipv4Address::Parse("10.77.0.10")}});

  auto keys = ParseAgentKeys(ReadText(kExampleDir.parent_path() / "homelab-keys.yaml"), "examples/homelab-keys.yaml");
  INFO(keys.status().ToString());
  REQUIRE(keys.ok());
  RenderInput input{.agent_public_keys = *keys, .allocations = allocation.allocations, .control_address = {}};

  const std::vector<std::string> agents = FleetAgents(fleet);
  CHECK(agents == std::vector<std::string>{"home-gw", "vps"});

  // No stale golden file for an agent the example no longer has.
  std::set<std::string> golden_files;
  for (const fs::directory_entry& entry : fs::directory_iterator(kExampleDir / "rendered")) {
    golden_files.insert(entry.path().filename().string());
  }

  const char* update = std::getenv("WW_UPDATE_GOLDEN");
  const bool updating = update != nullptr && std::string(update) == "1";
  for (const std::string& agent : agents) {
    CAPTURE(agent);
    Result<AgentConfig> config = RenderAgent(fleet, input, agent);
    INFO(config.status().ToString());
    REQUIRE(config.ok());
    std::string json = AgentConfigToJson(*config);
    if (json.empty() || json.back() != '\n') json += "\n";
    const fs::path golden = kExampleDir / "rendered" / (agent + ".json");
    if (updating) {
      std::ofstream out(golden, std::ios::binary | std::ios::trunc);
      out << json;
      REQUIRE(out.good());
      MESSAGE("rewrote " << golden.string());
      continue;
    }
    REQUIRE_MESSAGE(fs::exists(golden), golden.string() << " is missing; run with WW_UPDATE_GOLDEN=1");
    CHECK(ReadText(golden) == json);
    golden_files.erase(agent + ".json");

    // The checked-in file is also a valid wire message for the same config.
    Result<AgentConfig> parsed = AgentConfigFromJson(ReadText(golden));
    INFO(parsed.status().ToString());
    REQUIRE(parsed.ok());
    CHECK(*parsed == *config);
  }
  if (!updating) CHECK(golden_files.empty());
}
