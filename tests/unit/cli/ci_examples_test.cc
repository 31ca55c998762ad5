// examples/ci/ is documentation users copy into their pipelines: every wwctl command line in
// it must name a real command, and every flag it passes must be one that command's --help
// lists, so a renamed flag breaks this test instead of a user's pipeline.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/cli/wwctl_process.h"

namespace ww::test {
namespace {

// The raw lines that run `wwctl diff`, shell included.
std::vector<std::string> DiffLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    std::string code = line.substr(0, line.find('#'));
    if (code.find("wwctl diff ") != std::string::npos) lines.push_back(code);
  }
  return lines;
}

std::vector<std::string> WwctlLines(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    size_t hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    size_t at = line.find("wwctl ");
    // "wwctl.yaml" and "/usr/local/bin/wwctl" are not invocations.
    if (at == std::string::npos || (at > 0 && (line[at - 1] == '/' || line[at - 1] == '.'))) continue;
    line = line.substr(at);
    // Only the wwctl invocation itself: the shell after it (|| [ $? -eq 1 ]) is not its flags.
    for (const char* separator : {"||", "&&", ";", "|"}) line = line.substr(0, line.find(separator));
    lines.push_back(line);
  }
  return lines;
}

TEST_CASE("examples/ci: every wwctl command and flag in the pipelines exists") {
  for (const char* file : {"github-actions.yaml", "gitlab-ci.yaml"}) {
    std::string path = std::string(WW_SOURCE_DIR) + "/examples/ci/" + file;
    CAPTURE(path);
    std::vector<std::string> lines = WwctlLines(path);
    CHECK(lines.size() >= 3);  // validate, diff, wait
    bool validate = false, diff = false, wait = false;
    for (const std::string& line : lines) {
      CAPTURE(line);
      std::istringstream words(line);
      std::string program, command, word;
      words >> program >> command;
      WwctlRun help = RunWwctl({command, "--help"});
      CHECK(help.exit_code == 0);
      while (words >> word) {
        if (word.rfind("-", 0) != 0 || word == "-") continue;
        std::string flag = word.substr(0, word.find('='));
        CHECK(help.out.find(flag) != std::string::npos);
      }
      validate = validate || command == "validate";
      diff = diff || command == "diff";
      wait = wait || (command == "wait" && line.find("--for=converged") != std::string::npos &&
                      line.find("--revision") != std::string::npos);
    }
    CHECK(validate);
    CHECK(diff);
    CHECK(wait);
    // diff exits 2 or 3 with differences and 1 on errors: a pipeline must pass on the first
    // two and fail on the error (accepting 1 would hide an unreachable reconciler).
    for (const std::string& line : DiffLines(path)) {
      CAPTURE(line);
      CHECK(line.find("|| [ $? -ge 2 ]") != std::string::npos);
      CHECK(line.find("-eq 1") == std::string::npos);
    }
  }
}

TEST_CASE("examples/ci: the pipelines use a ci credential, never the admin's") {
  WwctlRun help = RunWwctl({"credential", "create", "--help"});
  REQUIRE(help.exit_code == 0);
  for (const char* flag : {"--role", "--name", "-o,"}) CHECK(help.out.find(flag) != std::string::npos);
  for (const char* file : {"github-actions.yaml", "gitlab-ci.yaml"}) {
    std::string path = std::string(WW_SOURCE_DIR) + "/examples/ci/" + file;
    CAPTURE(path);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    CHECK(text.str().find("wwctl credential create --role ci --name ") != std::string::npos);
    CHECK(text.str().find("admin.wwctl.yaml") == std::string::npos);
  }
}

}  // namespace
}  // namespace ww::test
