# Warnings are set per target through this interface library, never globally.
add_library(wirewarp_warnings INTERFACE)
target_compile_options(wirewarp_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough -Wno-missing-field-initializers)
target_compile_features(wirewarp_warnings INTERFACE cxx_std_20)
