// wwctl: parses flags and dispatches to the command table (cli/commands.h).
#include "cli/commands.h"

int main(int argc, char** argv) { return ww::cli::RunWwctl(argc, argv); }
