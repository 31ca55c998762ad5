# System libraries, all from Debian packages (see `make deps`).
# Header-heavy or compiled libraries are linked only by the few modules that need them.
find_package(PkgConfig REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(SQLite3 REQUIRED)
if(WIREWARP_BUILD_TESTS)
  find_package(doctest REQUIRED)
  include(doctest)
endif()
