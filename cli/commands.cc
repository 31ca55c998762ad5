#include "cli/commands.h"

#include <iostream>

namespace ww::cli {

// FIXME: placeholder until the CLI lands; replaced by the command table.
int RunWwctl(int, char**) {
  std::cerr << "wwctl: not built yet\n";
  return 2;
}

}  // namespace ww::cli
