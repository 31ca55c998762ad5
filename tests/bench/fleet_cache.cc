#include "tests/bench/fleet_cache.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "reconciler/client/api_client.h"
#include "tests/bench/bench_cleanup.h"
#include "tests/bench/bench_fleet.h"
#include "tests/bench/bench_support.h"
#include "tests/bench/reconciler_process.h"

namespace ww::bench {
namespace {

using nlohmann::json;

constexpr const char* kMetaFile = "meta.json";
constexpr const char* kIdentitiesFile = "identities.json";

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string SizesKey(const std::vector<int>& sizes) {
  std::string key = "agents";
  for (int size : sizes) key += "-" + std::to_string(size);
  return key;
}

std::filesystem::path SnapshotDir(const std::filesystem::path& directory, int agents) {
  return directory / ("data-" + std::to_string(agents));
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Building directories of runs that are gone ("KEY.building-PID" whose PID is not alive).
void RemoveAbandonedBuilds(const std::filesystem::path& root) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    std::string name = entry.path().filename().string();
    size_t marker = name.find(".building-");
    if (marker == std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::atol(name.c_str() + marker + 10));
    if (pid > 0 && kill(pid, 0) == 0) continue;
    std::filesystem::remove_all(entry.path(), error);
  }
}

// The cache for these sizes if it is complete, of this format and young enough.
Result<FleetCacheContents> LoadCache(const std::filesystem::path& directory, const std::vector<int>& sizes) {
  WW_ASSIGN_OR_RETURN(std::string meta_text, ReadFile(directory / kMetaFile));
  json meta = json::parse(meta_text, nullptr, false);
  if (meta.is_discarded() || meta.value("format", 0) != kFleetCacheFormat) {
    return Status::FailedPrecondition("another cache format");
  }
  FleetCacheContents contents;
  contents.directory = directory;
  contents.built_at = meta.value("builtAt", int64_t{0});
  contents.enroll_threads = meta.value("enrollThreads", 0);
  if (UnixNow() - contents.built_at > kMaxCacheAgeDays * 24 * 3600) {
    return Status::FailedPrecondition("older than " + std::to_string(kMaxCacheAgeDays) + " days");
  }
  const json& fleets = meta["fleets"];
  if (!fleets.is_array() || fleets.size() != sizes.size()) return Status::FailedPrecondition("other sizes");
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    CachedFleet fleet{fleets[i].value("agents", 0), SnapshotDir(directory, sizes[i]),
                      fleets[i].value("enrollSeconds", 0.0)};
    if (fleet.agents != sizes[i] || !std::filesystem::exists(fleet.data_dir / "wirewarp.db")) {
      return Status::FailedPrecondition("snapshot of " + std::to_string(sizes[i]) + " agents missing");
    }
    contents.fleets.push_back(fleet);
  }
  WW_ASSIGN_OR_RETURN(std::string identities_text, ReadFile(directory / kIdentitiesFile));
  json identities = json::parse(identities_text, nullptr, false);
  if (identities.is_discarded() || !identities.is_array() ||
      identities.size() != static_cast<std::size_t>(sizes.back())) {
    return Status::FailedPrecondition("identities missing");
  }
  for (const json& identity : identities) {
    contents.identities.push_back(AgentIdentity{identity.value("name", ""), identity.value("certificate", ""),
                                                identity.value("key", "")});
  }
  return contents;
}

Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::Internal("cannot write " + path.string());
  return Status::Ok();
}

Result<FleetCacheContents> BuildCache(const FleetCacheOptions& options, const std::filesystem::path& target) {
  std::filesystem::path building = target.string() + ".building-" + std::to_string(getpid());
  BenchCleanup::Instance().AddDirectory(building);
  std::filesystem::remove_all(building);
  std::filesystem::create_directories(building);
  FleetCacheContents contents;
  contents.directory = target;
  contents.built_now = true;
  contents.enroll_threads = options.enroll_threads;

  ReconcilerLaunch launch{options.reconciler, (building / "data").string(), FreeLocalPort(), std::nullopt,
                          options.reconciler_flags, (options.scratch / "enrolling-reconciler.log").string()};
  std::printf("enrolling the bench's agents (cold cache %s; %d threads):\n", target.c_str(), options.enroll_threads);
  WW_ASSIGN_OR_RETURN(std::unique_ptr<ReconcilerProcess> reconciler, ReconcilerProcess::Start(launch));
  double cumulative = 0;
  int enrolled = 0;
  json meta_fleets = json::array();
  for (int size : options.sizes) {
    WW_ASSIGN_OR_RETURN(std::unique_ptr<ApiClient> admin,
                        ApiClient::Create({reconciler->admin().url, reconciler->admin().ca_pem,
                                           reconciler->admin().certificate_pem, reconciler->admin().key_pem}));
    WW_ASSIGN_OR_RETURN(UploadResult upload, UploadFleet(*admin, size, kSnapshotMtu));
    WW_ASSIGN_OR_RETURN(EnrollmentRun run, EnrollAgents(reconciler->admin(), enrolled, size - enrolled,
                                                        options.enroll_threads, options.scratch / "enroll"));
    cumulative += run.seconds;
    std::printf("  agents %d..%d into a fleet of %d: %.1f s (%.1f ms/agent); all %d: %.1f s (upload of the fleet %s)\n",
                enrolled, size - 1, size, run.seconds, run.seconds * 1000 / (size - enrolled), size, cumulative,
                FormatMilliseconds(upload.milliseconds).c_str());
    for (AgentIdentity& agent : run.agents) contents.identities.push_back(std::move(agent));
    enrolled = size;
    // A consistent copy: the reconciler is stopped while its directory is copied.
    WW_RETURN_IF_ERROR(reconciler->Stop());
    std::filesystem::copy(launch.data_dir, SnapshotDir(building, size), std::filesystem::copy_options::recursive);
    contents.fleets.push_back(CachedFleet{size, SnapshotDir(target, size), cumulative});
    meta_fleets.push_back(json{{"agents", size}, {"enrollSeconds", cumulative}});
    if (size != options.sizes.back()) {
      WW_ASSIGN_OR_RETURN(reconciler, ReconcilerProcess::Start(launch));
    }
  }
  std::filesystem::remove_all(launch.data_dir);

  json identities = json::array();
  for (const AgentIdentity& agent : contents.identities) {
    identities.push_back(json{{"name", agent.name}, {"certificate", agent.certificate_pem}, {"key", agent.key_pem}});
  }
  contents.built_at = UnixNow();
  WW_RETURN_IF_ERROR(WriteFile(building / kIdentitiesFile, identities.dump()));
  // meta.json last: a cache without it is incomplete.
  WW_RETURN_IF_ERROR(WriteFile(building / kMetaFile, json{{"format", kFleetCacheFormat},
                                                          {"builtAt", contents.built_at},
                                                          {"enrollThreads", options.enroll_threads},
                                                          {"fleets", meta_fleets}}
                                                         .dump(2)));
  std::filesystem::remove_all(target);
  std::filesystem::rename(building, target);
  BenchCleanup::Instance().RemoveDirectory(building);
  return contents;
}

}  // namespace

Result<FleetCacheContents> PrepareFleetCache(const FleetCacheOptions& options) {
  std::filesystem::create_directories(options.root);
  chmod(options.root.c_str(), 0700);
  RemoveAbandonedBuilds(options.root);
  std::filesystem::path target = options.root / SizesKey(options.sizes);
  if (options.use == CacheUse::kReuse) {
    Result<FleetCacheContents> cached = LoadCache(target, options.sizes);
    if (cached.ok()) return cached;
    if (std::filesystem::exists(target)) {
      std::printf("the enrolled-fleet cache %s is not usable (%s): rebuilding it\n", target.c_str(),
                  cached.status().message().c_str());
    }
  }
  return BuildCache(options, target);
}

}  // namespace ww::bench
