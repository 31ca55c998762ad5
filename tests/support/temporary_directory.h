#pragma once
// A fresh directory from mkdtemp (mode 0700) for a test, removed with everything in it when
// the object goes away. Throws std::runtime_error when it cannot be made, which fails the
// test case that asked for it.

#include <string>
#include <string_view>

namespace ww::test_support {

class TemporaryDirectory {
 public:
  // `prefix` names the directory under the system temp dir ("ww-store-test" -> /tmp/ww-store-test-XXXXXX).
  explicit TemporaryDirectory(std::string_view prefix = "ww-test");
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  ~TemporaryDirectory();

  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

}  // namespace ww::test_support
