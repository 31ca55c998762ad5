#pragma once
// Flags several commands share, declared once so their names, help and checks agree:
// -f/--filename (fleet paths) and -o/--output (a fixed list of formats).

#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace ww::cli {

// -f,--filename PATH..., required, repeatable.
void AddFleetFlag(CLI::App& command, std::vector<std::string>& paths);

// -o,--output FORMAT, one of `formats`; `format` keeps its default when the flag is absent.
void AddOutputFlag(CLI::App& command, std::string& format, const std::vector<std::string>& formats,
                   std::string_view help);

}  // namespace ww::cli
