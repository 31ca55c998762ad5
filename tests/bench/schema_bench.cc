// schema_bench: the issue-2 benchmark (`make bench`). Generates a seeded fleet of 1,000
// agents, 10,000 peers and 50,000 forwards (--scale multiplies the counts), writes it as
// YAML, and measures time and peak RSS of each phase of the schema pipeline against the
// yaml-cpp event-parse floor. Each phase runs in its own fork()ed child, which resets its
// peak RSS (/proc/self/clear_refs) once its input is ready, so phases never see each
// other's garbage. Prints figures and whether the targets are met; the exit code
// only says whether the benchmark itself ran (0) or something failed (1).

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

#include "schema/ipam.h"
#include "schema/loader.h"
#include "schema/plan.h"
#include "schema/render.h"
#include "schema/validate.h"
#include "schema/yaml_writer.h"
#include "tests/support/random_fleet.h"

namespace ww {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kLoadRounds = 3;  // runs of the floor and of LoadFleet, best kept

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU time of this process: unlike wall time, it does not grow when other processes
// compete for the two cores.
double CpuMilliseconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

struct Options {
  double scale = 1.0;
  uint64_t seed = 1;
  std::string phase;  // run only this phase ("c", "g1", ...); for profiling
};

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if ((flag == "--scale" || flag == "--seed" || flag == "--phase") && i + 1 < argc) {
      char* end = nullptr;
      const char* value = argv[++i];
      if (flag == "--phase") {
        options.phase = value;
      } else if (flag == "--scale") {
        options.scale = std::strtod(value, &end);
        if (*end != '\0' || !(options.scale > 0) || options.scale > 10) return std::nullopt;
      } else {
        options.seed = std::strtoull(value, &end, 10);
        if (*end != '\0') return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  }
  return options;
}

test_support::RandomFleetOptions FleetOptions(double scale) {
  auto scaled = [scale](int count, int minimum) { return std::max(minimum, static_cast<int>(std::lround(count * scale))); };
  test_support::RandomFleetOptions options;
  options.agents = scaled(1000, 2);
  options.tunnels = scaled(250, 1);
  options.peers = scaled(10000, 2);
  options.forwards = scaled(50000, 1);
  options.templates = 20;
  options.server_agents = scaled(100, 1);
  return options;
}

// ----- Memory: peak RSS of the current process since the last reset.

bool ResetPeakRss() {
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, "5", 1) == 1;
  close(fd);
  return ok;
}

// A "VmHWM:" / "VmRSS:" line of /proc/self/status in MB; -1 when unreadable.
double StatusMegabytes(const char* key) {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return -1;
  char line[256];
  double megabytes = -1;
  size_t key_length = std::strlen(key);
  while (std::fgets(line, sizeof(line), status) != nullptr) {
    if (std::strncmp(line, key, key_length) == 0) {
      megabytes = std::strtod(line + key_length, nullptr) / 1024.0;
      break;
    }
  }
  std::fclose(status);
  return megabytes;
}

// ----- Phases, each in a child process.

struct Sample {
  bool ok = false;
  bool skipped = false;
  double milliseconds = 0;      // wall, steady_clock
  double cpu_milliseconds = 0;  // user + system
  double peak_megabytes = 0;
  char note[200] = {};
};

void SetNote(Sample& sample, const std::string& note) {
  std::snprintf(sample.note, sizeof(sample.note), "%s", note.c_str());
}

// What a phase body uses to time itself: Start() once its input is ready, Stop() after.
class Probe {
 public:
  void Start() {
    reset_ = ResetPeakRss();
    start_ = Clock::now();
    cpu_start_ = CpuMilliseconds();
  }
  void Stop(Sample& sample) const {
    sample.milliseconds = MillisecondsSince(start_);
    sample.cpu_milliseconds = CpuMilliseconds() - cpu_start_;
    sample.peak_megabytes = StatusMegabytes("VmHWM:");
    sample.ok = true;
  }
  bool reset() const { return reset_; }

 private:
  bool reset_ = false;
  Clock::time_point start_;
  double cpu_start_ = 0;
};

Sample RunInChild(const std::function<void(Probe&, Sample&)>& body) {
  Sample sample;
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    SetNote(sample, "pipe failed");
    return sample;
  }
  std::fflush(stdout);
  pid_t child = fork();
  if (child < 0) {
    SetNote(sample, "fork failed");
    return sample;
  }
  if (child == 0) {
    close(pipe_fds[0]);
    Probe probe;
    Sample result;
    body(probe, result);
    if (!probe.reset()) {
      struct rusage usage {};
      getrusage(RUSAGE_SELF, &usage);
      result.peak_megabytes = static_cast<double>(usage.ru_maxrss) / 1024.0;
    }
    ssize_t written = write(pipe_fds[1], &result, sizeof(result));
    _exit(written == static_cast<ssize_t>(sizeof(result)) ? 0 : 1);
  }
  close(pipe_fds[1]);
  ssize_t got = read(pipe_fds[0], &sample, sizeof(sample));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got != static_cast<ssize_t>(sizeof(sample))) {
    sample = Sample{};
    SetNote(sample, "child died (status " + std::to_string(status) + ")");
  }
  return sample;
}

// An istream over text the caller keeps alive, so yaml-cpp reads it without a copy.
class ViewBuffer : public std::streambuf {
 public:
  explicit ViewBuffer(std::string_view text) {
    char* begin = const_cast<char*>(text.data());  // the get area is only read
    setg(begin, begin, begin + text.size());
  }
};

class NullHandler : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override { ++scalars; }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
  size_t scalars = 0;
};

std::string Count(size_t count, std::string_view what) { return std::to_string(count) + " " + std::string(what); }

struct Loaded {
  Fleet fleet;
  size_t errors = 0;
};

Loaded Load(const std::string& text) {
  LoadOptions options;
  options.max_file_bytes = std::max(options.max_file_bytes, text.size() + 1);
  LoadResult result = LoadFleet({SourceFile{"bench.yaml", text}}, options);
  Loaded loaded{std::move(result.fleet), 0};
  for (const Diagnostic& diagnostic : result.diagnostics) loaded.errors += diagnostic.severity == Severity::kError ? 1 : 0;
  return loaded;
}

// Everything render needs, derived from a loaded fleet.
struct Rendered {
  RenderInput input;
  std::map<std::string, AgentConfig> configs;
  std::string error;
};

Rendered RenderFleet(const Fleet& fleet, uint64_t seed) {
  Rendered rendered;
  rendered.input.agent_public_keys = test_support::RandomAgentKeys(fleet, seed);
  rendered.input.allocations = AllocateAddresses(fleet, {}).allocations;
  Result<std::map<std::string, AgentConfig>> configs = RenderAll(fleet, rendered.input);
  if (configs.ok()) {
    rendered.configs = std::move(configs).value();
  } else {
    rendered.error = configs.status().ToString();
  }
  return rendered;
}

size_t PlanAll(const std::map<std::string, AgentConfig>& configs, const std::map<std::string, ObservedState>* observed) {
  static const ObservedState kEmpty;
  size_t steps = 0;
  for (const auto& [agent, config] : configs) {
    const ObservedState& before = observed == nullptr ? kEmpty : observed->at(agent);
    steps += ComputePlan(config, before).steps.size();
  }
  return steps;
}

std::map<std::string, ObservedState> ConvergedStates(const std::map<std::string, AgentConfig>& configs) {
  std::map<std::string, ObservedState> states;
  for (const auto& [agent, config] : configs) states[agent] = ObservedFromDesired(config);
  return states;
}

size_t CountErrors(const Diagnostics& diagnostics) {
  return static_cast<size_t>(std::count_if(diagnostics.begin(), diagnostics.end(),
                                           [](const Diagnostic& d) { return d.severity == Severity::kError; }));
}

// Loads, validates and renders inside a child before the probe starts; fails the sample
// with a note when any of it goes wrong.
bool Prepare(const std::string& text, uint64_t seed, Loaded& loaded, Rendered* rendered, Sample& sample) {
  loaded = Load(text);
  if (loaded.errors > 0) {
    SetNote(sample, "LoadFleet: " + Count(loaded.errors, "errors"));
    return false;
  }
  if (rendered != nullptr) {
    *rendered = RenderFleet(loaded.fleet, seed);
    if (!rendered->error.empty()) {
      SetNote(sample, "RenderAll: " + rendered->error);
      return false;
    }
  }
  return true;
}

// The fastest of several runs of one phase: wall and cpu minimums, the highest peak.
Sample Best(const std::vector<Sample>& runs) {
  Sample best = runs.front();
  for (const Sample& run : runs) {
    if (!run.ok) return run;
    if (run.milliseconds < best.milliseconds) {
      double cpu = best.cpu_milliseconds;
      best = run;
      best.cpu_milliseconds = cpu;
    }
    best.cpu_milliseconds = std::min(best.cpu_milliseconds, run.cpu_milliseconds);
    best.peak_megabytes = std::max(best.peak_megabytes, run.peak_megabytes);
  }
  return best;
}

struct Row {
  std::string phase;
  Sample sample;
  std::optional<double> ratio;
};

void PrintRow(const Row& row) {
  if (row.sample.skipped) return;
  if (!row.sample.ok) {
    std::printf("  %-46s %9s %9s %8s %9s  FAILED: %s\n", row.phase.c_str(), "-", "-", "-", "", row.sample.note);
    return;
  }
  std::string ratio = row.ratio ? std::to_string(*row.ratio).substr(0, 4) + "x" : "";
  std::printf("  %-46s %9.1f %9.1f %8.1f %9s  %s\n", row.phase.c_str(), row.sample.milliseconds,
              row.sample.cpu_milliseconds, row.sample.peak_megabytes, ratio.c_str(), row.sample.note);
}

int Run(const Options& options) {
  test_support::RandomFleetOptions fleet_options = FleetOptions(options.scale);
  std::printf("WireWarp schema benchmark (scale %.3g, seed %llu)\n", options.scale,
              static_cast<unsigned long long>(options.seed));

  // Generate in a child so the parent, whose pages every phase child inherits, holds only
  // the YAML text.
  std::string text;
  {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return 1;
    std::fflush(stdout);
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
      close(pipe_fds[0]);
      Clock::time_point start = Clock::now();
      Fleet fleet = test_support::RandomFleet(fleet_options, options.seed);
      std::string yaml = FleetToYaml(fleet);
      std::printf("fleet: %d agents, %zu tunnels, %zu peers, %zu forwards, %zu templates (generated and written in %.0f ms)\n",
                  static_cast<int>(FleetAgents(fleet).size()), fleet.tunnels.size(), fleet.peers.size(),
                  fleet.forwards.size(), fleet.templates.size(), MillisecondsSince(start));
      std::fflush(stdout);
      size_t offset = 0;
      while (offset < yaml.size()) {
        ssize_t written = write(pipe_fds[1], yaml.data() + offset, yaml.size() - offset);
        if (written <= 0) _exit(1);
        offset += static_cast<size_t>(written);
      }
      _exit(0);
    }
    close(pipe_fds[1]);
    char buffer[1 << 16];
    ssize_t got = 0;
    while ((got = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<size_t>(got));
    close(pipe_fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "schema_bench: generating the fleet failed\n");
      return 1;
    }
    text.shrink_to_fit();
  }
  size_t documents = 0;
  for (size_t at = text.find("---\n"); at != std::string::npos; at = text.find("---\n", at + 4)) ++documents;
  std::printf("yaml: %.1f MB (%zu bytes), %zu documents\n", static_cast<double>(text.size()) / 1e6, text.size(), documents);

  Sample idle = RunInChild([](Probe& probe, Sample& sample) {
    probe.Start();
    probe.Stop(sample);
    sample.peak_megabytes = StatusMegabytes("VmRSS:");
  });
  std::printf("idle child RSS (the YAML text, libraries): %.1f MB%s\n\n", idle.peak_megabytes,
              ResetPeakRss() ? "" : "  [clear_refs unavailable: peaks include setup]");

  uint64_t seed = options.seed;
  std::vector<Row> rows;
  auto phase = [&](std::string_view id, const std::function<void(Probe&, Sample&)>& body) {
    if (options.phase.empty() || options.phase == id) return RunInChild(body);
    Sample skipped;
    skipped.skipped = true;
    return skipped;
  };

  auto floor_body = [&](Probe& probe, Sample& sample) {
    ViewBuffer buffer(text);
    std::istream stream(&buffer);
    NullHandler handler;
    size_t parsed = 0;
    probe.Start();
    try {
      YAML::Parser parser(stream);
      while (parser.HandleNextDocument(handler)) ++parsed;
    } catch (const YAML::Exception& error) {
      SetNote(sample, std::string("yaml-cpp: ") + error.what());
      return;
    }
    probe.Stop(sample);
    SetNote(sample, Count(parsed, "documents, ") + Count(handler.scalars, "scalars, best of ") +
                        std::to_string(kLoadRounds));
  };
  auto load_body = [&](Probe& probe, Sample& sample) {
    LoadOptions load_options;
    load_options.max_file_bytes = std::max(load_options.max_file_bytes, text.size() + 1);
    std::vector<SourceFile> files = {SourceFile{"bench.yaml", text}};
    probe.Start();
    LoadResult result = LoadFleet(files, load_options);
    probe.Stop(sample);
    size_t errors = CountErrors(result.diagnostics);
    if (errors > 0) {
      sample.ok = false;
      SetNote(sample, Count(errors, "errors, first: ") + FormatDiagnostic(result.diagnostics.front()));
      return;
    }
    const Fleet& fleet = result.fleet;
    SetNote(sample, Count(fleet.tunnels.size() + fleet.peers.size() + fleet.forwards.size() + fleet.templates.size(),
                          "resources, best of " + std::to_string(kLoadRounds)));
  };
  // a and c decide the load target, a ratio: run them alternately and keep each one's best,
  // so a burst of load from elsewhere on the machine does not land on one side only.
  std::vector<Sample> floor_runs;
  std::vector<Sample> load_runs;
  for (int round = 0; round < kLoadRounds; ++round) {
    floor_runs.push_back(phase("a", floor_body));
    load_runs.push_back(phase("c", load_body));
  }
  Row floor{"a. floor: yaml-cpp event parse", Best(floor_runs), std::nullopt};
  Sample load = Best(load_runs);
  rows.push_back(floor);
  std::optional<double> floor_ms;
  if (floor.sample.ok) floor_ms = floor.sample.milliseconds;
  auto ratio = [&](const Sample& sample) -> std::optional<double> {
    if (!floor_ms || !sample.ok || *floor_ms <= 0) return std::nullopt;
    return sample.milliseconds / *floor_ms;
  };

  Sample load_all = phase("b", [&](Probe& probe, Sample& sample) {
    ViewBuffer buffer(text);
    std::istream stream(&buffer);
    probe.Start();
    try {
      std::vector<YAML::Node> nodes = YAML::LoadAll(stream);
      probe.Stop(sample);
      SetNote(sample, Count(nodes.size(), "documents (reference only)"));
    } catch (const YAML::Exception& error) {
      SetNote(sample, std::string("yaml-cpp: ") + error.what());
    }
  });
  rows.push_back({"b. YAML::LoadAll", load_all, ratio(load_all)});

  rows.push_back({"c. LoadFleet", load, ratio(load)});

  Sample validate = phase("d", [&](Probe& probe, Sample& sample) {
    Loaded loaded;
    if (!Prepare(text, seed, loaded, nullptr, sample)) return;
    probe.Start();
    Diagnostics findings = ValidateFleet(loaded.fleet);
    probe.Stop(sample);
    size_t errors = CountErrors(findings);
    if (errors > 0) {
      sample.ok = false;
      SetNote(sample, Count(errors, "errors, first: ") + FormatDiagnostic(findings.front()));
      return;
    }
    SetNote(sample, Count(findings.size(), "warnings"));
  });
  rows.push_back({"d. ValidateFleet", validate, std::nullopt});

  Sample render = phase("e", [&](Probe& probe, Sample& sample) {
    Loaded loaded;
    if (!Prepare(text, seed, loaded, nullptr, sample)) return;
    std::map<std::string, WireguardKey> keys = test_support::RandomAgentKeys(loaded.fleet, seed);
    probe.Start();
    RenderInput input;
    input.agent_public_keys = std::move(keys);
    AllocationResult allocation = AllocateAddresses(loaded.fleet, {});
    input.allocations = std::move(allocation.allocations);
    Result<std::map<std::string, AgentConfig>> configs = RenderAll(loaded.fleet, input);
    probe.Stop(sample);
    if (!configs.ok()) {
      sample.ok = false;
      SetNote(sample, "RenderAll: " + configs.status().ToString());
      return;
    }
    SetNote(sample, Count(input.allocations.size(), "addresses, ") + Count(configs->size(), "agent configs"));
  });
  rows.push_back({"e. AllocateAddresses + RenderAll", render, std::nullopt});

  Sample plan_empty = phase("f1", [&](Probe& probe, Sample& sample) {
    Loaded loaded;
    Rendered rendered;
    if (!Prepare(text, seed, loaded, &rendered, sample)) return;
    probe.Start();
    size_t steps = PlanAll(rendered.configs, nullptr);
    probe.Stop(sample);
    SetNote(sample, Count(rendered.configs.size(), "plans, ") + Count(steps, "steps"));
  });
  rows.push_back({"f1. plan-all vs empty hosts", plan_empty, std::nullopt});

  Sample plan_converged = phase("f2", [&](Probe& probe, Sample& sample) {
    Loaded loaded;
    Rendered rendered;
    if (!Prepare(text, seed, loaded, &rendered, sample)) return;
    std::map<std::string, ObservedState> observed = ConvergedStates(rendered.configs);
    probe.Start();
    size_t steps = PlanAll(rendered.configs, &observed);
    probe.Stop(sample);
    SetNote(sample, Count(rendered.configs.size(), "plans, ") + Count(steps, "steps (0 expected)"));
    if (steps != 0) sample.ok = false;
  });
  rows.push_back({"f2. plan-all vs converged hosts", plan_converged, std::nullopt});

  // g: one revision end to end after loading, against hosts that are empty (first rollout)
  // or converged on the same revision (a no-op commit).
  auto pipeline = [&](bool converged) {
    return phase(converged ? "g2" : "g1", [&, converged](Probe& probe, Sample& sample) {
      Loaded loaded;
      std::map<std::string, ObservedState> observed;
      if (converged) {
        Rendered rendered;
        if (!Prepare(text, seed, loaded, &rendered, sample)) return;
        observed = ConvergedStates(rendered.configs);
      } else if (!Prepare(text, seed, loaded, nullptr, sample)) {
        return;
      }
      std::map<std::string, WireguardKey> keys = test_support::RandomAgentKeys(loaded.fleet, seed);
      probe.Start();
      Diagnostics findings = ValidateFleet(loaded.fleet);
      RenderInput input;
      input.agent_public_keys = std::move(keys);
      input.allocations = AllocateAddresses(loaded.fleet, {}).allocations;
      Result<std::map<std::string, AgentConfig>> configs = RenderAll(loaded.fleet, input);
      size_t steps = configs.ok() ? PlanAll(*configs, converged ? &observed : nullptr) : 0;
      probe.Stop(sample);
      if (CountErrors(findings) > 0 || !configs.ok()) {
        sample.ok = false;
        SetNote(sample, "validate or render failed");
        return;
      }
      SetNote(sample, Count(steps, "steps"));
    });
  };
  Sample together_empty = pipeline(false);
  Sample together_converged = pipeline(true);
  rows.push_back({"g1. validate+render+plan, empty hosts", together_empty, std::nullopt});
  rows.push_back({"g2. validate+render+plan, converged hosts", together_converged, std::nullopt});

  // The whole pipeline in one process, without a reset: the process's true peak.
  Sample whole = phase("p", [&](Probe& probe, Sample& sample) {
    probe.Start();
    Loaded loaded = Load(text);
    Diagnostics findings = ValidateFleet(loaded.fleet);
    RenderInput input;
    input.agent_public_keys = test_support::RandomAgentKeys(loaded.fleet, seed);
    input.allocations = AllocateAddresses(loaded.fleet, {}).allocations;
    Result<std::map<std::string, AgentConfig>> configs = RenderAll(loaded.fleet, input);
    size_t steps = configs.ok() ? PlanAll(*configs, nullptr) : 0;
    probe.Stop(sample);
    if (loaded.errors > 0 || CountErrors(findings) > 0 || !configs.ok()) {
      sample.ok = false;
      SetNote(sample, "load, validate or render failed");
      return;
    }
    SetNote(sample, Count(steps, "steps"));
  });
  rows.push_back({"p. load+validate+render+plan, one process", whole, ratio(whole)});

  // h: one forward's to.port changes; re-render its tunnel's server and re-plan against the
  // host as it was (converged on the previous revision). Median of 20 runs.
  Sample replan = phase("h", [&](Probe& probe, Sample& sample) {
    Loaded loaded;
    Rendered rendered;
    if (!Prepare(text, seed, loaded, &rendered, sample)) return;
    Fleet& fleet = loaded.fleet;
    auto changed = std::find_if(fleet.forwards.begin(), fleet.forwards.end(), [](const PortForward& forward) {
      return forward.spec.protocol && forward.spec.ports.size() == 1 && forward.spec.ports[0].IsSingle();
    });
    if (changed == fleet.forwards.end()) {
      SetNote(sample, "no single-port forward to change");
      return;
    }
    std::string agent;
    for (const Tunnel& tunnel : fleet.tunnels) {
      if (tunnel.metadata.name == changed->spec.tunnel) agent = tunnel.spec.agent;
    }
    ObservedState observed = ObservedFromDesired(rendered.configs.at(agent));
    std::vector<double> times;
    std::vector<double> cpu_times;
    size_t steps = 0;
    probe.Start();
    for (int run = 0; run < 20; ++run) {
      uint16_t port = changed->spec.ports[0].first;
      changed->spec.to.port = static_cast<uint16_t>((port > 65000 ? 1000 : port + 1) + run % 2);
      Clock::time_point start = Clock::now();
      double cpu_start = CpuMilliseconds();
      Result<AgentConfig> config = RenderAgent(fleet, rendered.input, agent);
      if (!config.ok()) {
        SetNote(sample, "RenderAgent: " + config.status().ToString());
        return;
      }
      Plan plan = ComputePlan(*config, observed);
      times.push_back(MillisecondsSince(start));
      cpu_times.push_back(CpuMilliseconds() - cpu_start);
      steps = plan.steps.size();
    }
    probe.Stop(sample);
    std::sort(times.begin(), times.end());
    std::sort(cpu_times.begin(), cpu_times.end());
    sample.milliseconds = (times[9] + times[10]) / 2;
    sample.cpu_milliseconds = (cpu_times[9] + cpu_times[10]) / 2;
    SetNote(sample, "agent " + agent + ", " + Count(steps, "steps") + ", min " + std::to_string(times.front()).substr(0, 5) +
                        " ms, max " + std::to_string(times.back()).substr(0, 5) + " ms");
    if (steps == 0) sample.ok = false;
  });
  rows.push_back({"h. re-plan one agent after one forward change", replan, std::nullopt});

  std::printf("  %-46s %9s %9s %8s %9s  %s\n", "phase", "wall ms", "cpu ms", "peak MB", "vs floor", "note");
  for (const Row& row : rows) PrintRow(row);

  // Targets of issue 2 (information only: they never fail the run). Judged on wall time as
  // the issue states them; CPU time is shown beside it because a busy machine inflates wall.
  std::printf("\ntargets (issue 2; judged on wall time, cpu time in brackets)\n");
  auto target = [](const char* what, const std::string& figure, bool known, bool met, bool met_on_cpu) {
    const char* verdict = !known ? "unknown" : met ? "met" : met_on_cpu ? "NOT met (met on cpu time: machine busy?)" : "NOT met";
    std::printf("  %-44s %-36s %s\n", what, figure.c_str(), verdict);
  };
  auto fixed = [](double value, int decimals) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
    return std::string(buffer);
  };
  bool load_known = floor.sample.ok && load.ok && floor.sample.milliseconds > 0 && floor.sample.cpu_milliseconds > 0;
  double load_wall = load_known ? load.milliseconds / floor.sample.milliseconds : 0;
  double load_cpu = load_known ? load.cpu_milliseconds / floor.sample.cpu_milliseconds : 0;
  target("load within 1.2x the event-parse floor", "c/a = " + fixed(load_wall, 2) + "x [" + fixed(load_cpu, 2) + "x]",
         load_known, load_wall <= 1.2, load_cpu <= 1.2);

  bool together_known = together_empty.ok && together_converged.ok;
  double together_wall = std::max(together_empty.milliseconds, together_converged.milliseconds);
  double together_cpu = std::max(together_empty.cpu_milliseconds, together_converged.cpu_milliseconds);
  target("validate + render + plan within 1 s",
         "max(g1, g2) = " + fixed(together_wall, 0) + " ms [" + fixed(together_cpu, 0) + " ms]", together_known,
         together_wall <= 1000, together_cpu <= 1000);

  double peak = 0;
  bool peaks_known = true;
  for (const Row& row : rows) {
    if (row.sample.skipped || row.phase.rfind("a.", 0) == 0 || row.phase.rfind("b.", 0) == 0) continue;  // not WireWarp's pipeline
    peaks_known = peaks_known && row.sample.ok;
    peak = std::max(peak, row.sample.peak_megabytes);
  }
  target("peak memory under 256 MB", "max of c..h = " + fixed(peak, 1) + " MB", peaks_known, peak < 256, peak < 256);

  target("one changed forward re-planned within 10 ms",
         "h = " + fixed(replan.milliseconds, 2) + " ms [" + fixed(replan.cpu_milliseconds, 2) + " ms]", replan.ok,
         replan.milliseconds <= 10, replan.cpu_milliseconds <= 10);

  bool all_ran = std::all_of(rows.begin(), rows.end(), [](const Row& row) { return row.sample.ok || row.sample.skipped; });
  return all_ran ? 0 : 1;
}

}  // namespace

}  // namespace ww

int main(int argc, char** argv) {
  std::optional<ww::Options> options = ww::ParseOptions(argc, argv);
  if (!options) {
    std::fprintf(stderr,
                 "usage: schema_bench [--scale F] [--seed N] [--phase ID]\n"
                 "  --scale F  multiply the fleet size (1,000 agents, 10,000 peers, 50,000 forwards) by F (0 < F <= 10)\n"
                 "  --seed N   seed of the random fleet (default 1)\n"
                 "  --phase ID run only phase ID (a, b, c, d, e, f1, f2, g1, g2, p, h), e.g. under perf\n"
                 "example: schema_bench --scale 0.1\n");
    return 2;
  }
  return ww::Run(*options);
}
