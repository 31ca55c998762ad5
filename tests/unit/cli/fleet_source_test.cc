// InputReader: what `-f PATH...`, --keys and --observed read, in which order, under which
// names, and what it refuses.
#include "cli/fleet_source.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "tests/unit/cli/wwctl_process.h"

namespace ww::cli {
namespace {

namespace fs = std::filesystem;
using test::ScratchDirectory;
using test::WriteText;

std::vector<std::string> Paths(const std::vector<SourceFile>& files) {
  std::vector<std::string> paths;
  for (const SourceFile& file : files) paths.push_back(file.path);
  return paths;
}

TEST_CASE("InputReader walks a directory recursively in path order and skips what is not fleet") {
  ScratchDirectory scratch;
  const fs::path& root = scratch.path();
  WriteText(root / "b.yml", "b");
  WriteText(root / "a.yaml", "a");
  WriteText(root / "a" / "z.yaml", "z");
  WriteText(root / "B" / "c.yaml", "c");
  WriteText(root / "notes.txt", "not yaml");
  WriteText(root / "a" / "data.json", "{}");
  WriteText(root / ".git" / "config.yaml", "hidden directory");
  WriteText(root / "a" / ".draft.yaml", "hidden file");
  ScratchDirectory outside;
  WriteText(outside.path() / "far.yaml", "outside");
  fs::create_directory_symlink(outside.path(), root / "linked-directory");
  fs::create_symlink(root / "a.yaml", root / "linked-file.yaml");

  std::istringstream no_input;
  InputReader reader(no_input, 1024);
  Result<std::vector<SourceFile>> files = reader.ReadFleet({root.string()});
  REQUIRE(files.ok());
  const std::string prefix = root.string() + "/";
  // Byte order of the relative path: "B" < "a", and "a.yaml" < "a/z.yaml" ('.' < '/').
  CHECK(Paths(*files) == std::vector<std::string>{prefix + "B/c.yaml", prefix + "a.yaml", prefix + "a/z.yaml",
                                                  prefix + "b.yml", prefix + "linked-file.yaml"});
  CHECK((*files)[1].content == "a");
  CHECK((*files)[4].content == "a");  // a symlinked file is read; a symlinked directory is not entered
}

TEST_CASE("InputReader keeps paths as the user wrote them") {
  ScratchDirectory scratch;
  WriteText(scratch.path() / "fleet" / "tunnel.yaml", "t");
  WriteText(scratch.path() / "single.txt", "any extension when named directly");
  std::istringstream no_input;
  InputReader reader(no_input, 1024);
  std::string directory = (scratch.path() / "fleet").string();
  Result<std::vector<SourceFile>> files = reader.ReadFleet({directory + "/", (scratch.path() / "single.txt").string()});
  REQUIRE(files.ok());
  CHECK(Paths(*files) == std::vector<std::string>{directory + "/tunnel.yaml", (scratch.path() / "single.txt").string()});
  CHECK((*files)[1].content == "any extension when named directly");
}

TEST_CASE("InputReader reads standard input for - only once") {
  std::istringstream input("kind: Tunnel\n");
  InputReader reader(input, 1024);
  Result<std::vector<SourceFile>> files = reader.ReadFleet({"-"});
  REQUIRE(files.ok());
  REQUIRE(files->size() == 1);
  CHECK((*files)[0].path == "-");
  CHECK((*files)[0].content == "kind: Tunnel\n");
  Result<std::string> again = reader.ReadFile("-");
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().message() == "standard input (\"-\") can be read only once per command");
}

TEST_CASE("InputReader refuses input over the size limit") {
  ScratchDirectory scratch;
  WriteText(scratch.path() / "exact.yaml", std::string(10, 'x'));
  WriteText(scratch.path() / "over.yaml", std::string(11, 'x'));
  std::istringstream no_input;
  InputReader reader(no_input, 10);
  CHECK(reader.ReadFile((scratch.path() / "exact.yaml").string()).ok());
  Result<std::string> over = reader.ReadFile((scratch.path() / "over.yaml").string());
  REQUIRE_FALSE(over.ok());
  CHECK(over.status().message() == "\"" + (scratch.path() / "over.yaml").string() + "\" is larger than the 10 bytes limit");
  Result<std::vector<SourceFile>> in_directory = reader.ReadFleet({scratch.path().string()});
  REQUIRE_FALSE(in_directory.ok());
  CHECK(in_directory.status().message() ==
        "\"" + scratch.path().string() + "/over.yaml\" is larger than the 10 bytes limit");

  std::istringstream big_input(std::string(11, 'x'));
  InputReader stdin_reader(big_input, 10);
  Result<std::string> big = stdin_reader.ReadFile("-");
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().message() == "\"-\" is larger than the 10 bytes limit");
}

TEST_CASE("InputReader names the path and the reason when it cannot read") {
  ScratchDirectory scratch;
  std::istringstream no_input;
  InputReader reader(no_input, 1024);
  std::string missing = (scratch.path() / "missing.yaml").string();
  Result<std::vector<SourceFile>> files = reader.ReadFleet({missing});
  REQUIRE_FALSE(files.ok());
  CHECK(files.status().message() == "cannot read \"" + missing + "\": No such file or directory");

  Result<std::string> directory = reader.ReadFile(scratch.path().string());
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.status().message() == "\"" + scratch.path().string() + "\" is a directory, not a file");

  Result<std::vector<SourceFile>> empty = reader.ReadFleet({scratch.path().string()});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().message() == "no *.yaml or *.yml files in \"" + scratch.path().string() + "\"");
}

}  // namespace
}  // namespace ww::cli
