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
# Boost.Beast and Boost.Asio (headers only): the reconciler's HTTP front end
# (reconciler/api's engine .cc files alone include them).
find_package(Boost 1.74 REQUIRED)
# Debian's cpp-httplib is a compiled library: link it only through pkg-config, so every
# translation unit sees the same CPPHTTPLIB_* defines (ODR).
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# libgit2: the reconciler's git source (reconciler/git only).
pkg_check_modules(LIBGIT2 REQUIRED IMPORTED_TARGET libgit2)
# wwctl peer: QR codes of device configs (libqrencode) and their PNG files (zlib); linked
# only into ww_cli.
pkg_check_modules(QRENCODE REQUIRED IMPORTED_TARGET libqrencode)
find_package(ZLIB REQUIRED)
