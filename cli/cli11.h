#pragma once
// CLI11, included through this header only. GCC 12 reports a false -Wnull-dereference
// inside libstdc++ when it inlines CLI11's string helpers (detail::split, validators) into
// the including file; the warning stays on for all other code of the project.

#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <CLI/CLI.hpp>
