// examples/invalid/: every NAME.yaml, loaded and validated as `wwctl validate -f
// examples/invalid/NAME.yaml` does, prints exactly the lines of NAME.expected. Keeps the
// documented broken examples and their messages from drifting apart.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "schema/diagnostic.h"
#include "schema/loader.h"
#include "schema/validate.h"

using namespace ww;

namespace {

const std::filesystem::path kExamples = std::filesystem::path(WW_SOURCE_DIR) / "examples" / "invalid";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// The example names (NAME of NAME.yaml), sorted.
std::vector<std::string> ExampleNames() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(kExamples)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("examples/invalid holds at least 8 examples, each with its expected output") {
  std::vector<std::string> names = ExampleNames();
  CHECK(names.size() >= 8);
  for (const std::string& name : names) {
    CAPTURE(name);
    CHECK(std::filesystem::exists(kExamples / (name + ".expected")));
    std::string yaml = ReadFile(kExamples / (name + ".yaml"));
    CHECK(yaml.starts_with("# yaml-language-server: $schema=../../schema/wirewarp.schema.json\n#"));
  }
}

TEST_CASE("every invalid example reports exactly its expected findings") {
  for (const std::string& name : ExampleNames()) {
    CAPTURE(name);
    std::string path = "examples/invalid/" + name + ".yaml";
    LoadResult result = LoadAndValidateFleet({{path, ReadFile(kExamples / (name + ".yaml"))}});
    std::string findings;
    for (const Diagnostic& diagnostic : result.diagnostics) findings += FormatDiagnostic(diagnostic) + "\n";
    CHECK(HasErrors(result.diagnostics));
    CHECK(findings == ReadFile(kExamples / (name + ".expected")));
  }
}
