# Warnings are set per target through this interface library, never globally.
add_library(wirewarp_warnings INTERFACE)
target_compile_options(wirewarp_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough -Wno-missing-field-initializers
  # GCC 12 at -O2 reports "literal" + std::string as overlapping memcpy (GCC PR 105329, a
  # false positive inside libstdc++); nothing of ours can trigger the real problem.
  -Wno-restrict)
target_compile_features(wirewarp_warnings INTERFACE cxx_std_20)
