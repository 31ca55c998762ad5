#pragma once
// How doctest prints values it has no printer for, shared so that every test binary shows
// a failed comparison the same way. Header-only: only test files include doctest.

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace doctest {

// One line per element, so a failed CHECK on diagnostics reads like the tool's output.
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& lines) {
    std::string out = "{";
    for (const std::string& line : lines) out += "\n  " + line;
    return (out + "\n}").c_str();
  }
};

}  // namespace doctest
