#pragma once
// Runs wwctl's commands in this process (RunWwctl with string streams), for tests that need
// the same address space as a server they start: argv as given after "wwctl", standard input
// from `input`, stdout, stderr and the exit status captured.
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace ww::cli {

struct InProcessRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline InProcessRun RunWwctlInProcess(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), "wwctl");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  CommandContext context{in, out, err};
  InProcessRun run;
  run.exit_code = RunWwctl(static_cast<int>(argv.size()), argv.data(), context);
  run.out = out.str();
  run.err = err.str();
  return run;
}

}  // namespace ww::cli
