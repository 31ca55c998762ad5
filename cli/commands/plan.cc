// wwctl plan: the steps an agent would run to go from an observed host state (JSON, as an
// agent reports it) to its rendered config. With --detailed-exitcode the exit status says
// whether there is anything to do and whether any of it is destructive, for CI gates.
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/fleet_pipeline.h"
#include "cli/flags.h"
#include "schema/plan.h"
#include "schema/wire_json.h"

namespace ww::cli {

namespace {

inline constexpr int kExitChanges = 2;
inline constexpr int kExitDestructiveChanges = 3;


struct PlanFlags {
  RenderFlags render;
  std::string observed_path;
  std::string format = "text";  // text or json
  bool detailed_exitcode = false;
};

int RunPlan(const PlanFlags& flags, CommandContext& context) {
  // With --detailed-exitcode 2 means "changes", so every error exits 1, as in Terraform.
  const int usage_error = flags.detailed_exitcode ? kExitFailure : kExitUsage;
  InputReader reader(context.in, LoadOptions{}.max_file_bytes);
  Result<std::string> observed_text = reader.ReadFile(flags.observed_path);
  if (!observed_text.ok()) return ReportError(context, usage_error, observed_text.status().message());
  // Every input is read before any is parsed, so `-f - --observed -` fails as the usage
  // error it is rather than as whatever the first reader made of the shared stream.
  std::variant<AgentConfig, int> rendered = RenderFromFlags(flags.render, reader, context);
  if (const int* exit_status = std::get_if<int>(&rendered)) return *exit_status == kExitUsage ? usage_error : *exit_status;
  Result<ObservedState> observed = ObservedStateFromJson(*observed_text);
  if (!observed.ok()) return ReportError(context, kExitFailure, flags.observed_path + ": " + observed.status().message());
  Plan plan = ComputePlan(std::get<AgentConfig>(rendered), *observed);

  size_t destructive = 0;
  for (const Step& step : plan.steps) destructive += step.destructive == Destructive::kYes ? 1 : 0;
  if (flags.format == "json") {
    std::string json = PlanToJson(plan);
    context.out << json << (json.ends_with('\n') ? "" : "\n");
  } else if (plan.empty()) {
    context.out << "No changes.\n";
  } else {
    for (const Step& step : plan.steps) context.out << DescribeStep(step) << '\n';
  }
  context.err << "agent " << flags.render.agent << ": " << plan.steps.size() << (plan.steps.size() == 1 ? " step" : " steps")
              << ", " << destructive << " destructive\n";

  if (!flags.detailed_exitcode || plan.empty()) return kExitOk;
  return destructive > 0 ? kExitDestructiveChanges : kExitChanges;
}

}  // namespace

CommandRun RegisterPlan(CLI::App& command) {
  auto flags = std::make_shared<PlanFlags>();
  AddRenderFlags(command, flags->render);
  command.add_option("--observed", flags->observed_path, "ObservedState JSON as an agent reports it; - reads stdin")
      ->required()
      ->type_name("FILE");
  AddOutputFlag(command, flags->format, {"text", "json"}, "text: one line per step; json: the Plan wire format");
  command.add_flag("--detailed-exitcode", flags->detailed_exitcode,
                   "Exit 0 with no changes, 2 with changes, 3 with destructive changes (1 stays error)");
  command.footer(
      "Renders the agent's config like 'wwctl render' (same flags, same validation), compares it\n"
      "with the observed state and prints the ordered steps; destructive ones (peer or interface\n"
      "removal, key change, forward removal) are marked [destructive].\n"
      "\n"
      "Exit status:\n"
      "  0  planned (with --detailed-exitcode: no changes)\n"
      "  1  error: invalid fleet, keys or observed state, missing key, unknown agent\n"
      "  2  usage or I/O error; with --detailed-exitcode: changes to make (errors are then 1)\n"
      "  3  with --detailed-exitcode: changes that include destructive steps\n"
      "\n"
      "Example:\n"
      "  wwctl plan -f examples/homelab --agent vps --keys examples/homelab-keys.yaml \\\n"
      "      --observed observed.json --detailed-exitcode\n"
      "  cat observed.json | wwctl plan -f fleet/ --agent vps --keys keys.yaml --observed - -o json");
  return [flags](CommandContext& context) { return RunPlan(*flags, context); };
}

}  // namespace ww::cli
