#pragma once
// The wwctl command surface at a glance: RunWwctl parses argv with CLI11 and runs one
// command. Exit codes are part of the contract scripts and CI rely on (see each command).

namespace ww::cli {

int RunWwctl(int argc, char** argv);

}  // namespace ww::cli
