// One reconciler per data directory (reconciler/server/data_directory_lock.h): a real flock on
// a real file; a second open file description of the same lock conflicts like a second process.
#include "reconciler/server/data_directory_lock.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/support/temporary_directory.h"

namespace ww {
namespace {

TEST_CASE("DataDirectoryLock creates the directory, refuses a second holder naming it, and is released") {
  test_support::TemporaryDirectory directory("ww-lock-test");
  const std::string data = directory.File("data");
  {
    Result<DataDirectoryLock> first = DataDirectoryLock::Acquire(data);
    REQUIRE_MESSAGE(first.ok(), first.status().ToString());
    struct stat info{};
    REQUIRE(stat(data.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0700);
    CHECK(first->path() == data + "/reconciler.lock");

    Result<DataDirectoryLock> second = DataDirectoryLock::Acquire(data);
    REQUIRE_FALSE(second.ok());
    CHECK(second.status().code() == StatusCode::kFailedPrecondition);
    CHECK(second.status().message() == "data directory \"" + data + "\" is in use by another wirewarp-reconciler (pid " +
                                           std::to_string(getpid()) + "): it holds the lock " + data +
                                           "/reconciler.lock");

    DataDirectoryLock moved = std::move(first).value();
    CHECK_FALSE(DataDirectoryLock::Acquire(data).ok());  // a moved lock is still held
  }
  CHECK(DataDirectoryLock::Acquire(data).ok());  // released with its owner
  CHECK(DataDirectoryLock::Acquire(directory.File("missing/deeper")).status().code() == StatusCode::kInternal);
}

}  // namespace
}  // namespace ww
