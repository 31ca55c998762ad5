#include "tests/support/test_files.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ww::test_support {

std::string ReadText(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream contents;
  contents << stream.rdbuf();
  return contents.str();
}

std::int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string YamlBlock(const std::string& yaml, const std::string& key) {
  std::size_t at = yaml.find(key + ": |\n");
  if (at == std::string::npos) throw std::runtime_error("no block \"" + key + ": |\" in the YAML");
  std::istringstream lines(yaml.substr(at + key.size() + 4));
  std::string line;
  std::string result;
  while (std::getline(lines, line) && line.rfind("  ", 0) == 0) result += line.substr(2) + "\n";
  return result;
}

std::string WithServerUrl(const std::string& admin_yaml, const std::string& url) {
  std::size_t at = admin_yaml.find("server: ");
  if (at == std::string::npos) throw std::runtime_error("no \"server:\" line in the admin config");
  std::size_t end = admin_yaml.find('\n', at);
  std::string result = admin_yaml;
  result.replace(at, end == std::string::npos ? std::string::npos : end - at, "server: " + url);
  return result;
}

}  // namespace ww::test_support
