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

std::filesystem::path IdentitiesFile(const std::filesystem::path& directory, int agents) {
  return directory / ("identities-" + std::to_string(agents) + ".json");
}

Result<std::vector<AgentIdentity>> LoadIdentities(const std::filesystem::path& path, int agents) {
  WW_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json identities = json::parse(text, nullptr, false);
  if (identities.is_discarded() || !identities.is_array() || identities.size() != static_cast<std::size_t>(agents)) {
    return Status::FailedPrecondition(path.string() + " does not hold " + std::to_string(agents) + " identities");
  }
  std::vector<AgentIdentity> loaded;
  loaded.reserve(identities.size());
  for (const json& identity : identities) {
    loaded.push_back(AgentIdentity{identity.value("name", ""), identity.value("certificate", ""),
                                   identity.value("key", "")});
  }
  return loaded;
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
                      fleets[i].value("enrollSeconds", 0.0), {}};
    if (fleet.agents != sizes[i] || !std::filesystem::exists(fleet.data_dir / "wirewarp.db")) {
      return Status::FailedPrecondition("snapshot of " + std::to_string(sizes[i]) + " agents missing");
    }
    WW_ASSIGN_OR_RETURN(fleet.identities, LoadIdentities(IdentitiesFile(directory, sizes[i]), sizes[i]));
    contents.fleets.push_back(std::move(fleet));
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

// One size: a new reconciler, its agents enrolled, then the fleet uploaded.
Result<CachedFleet> BuildFleet(const FleetCacheOptions& options, const std::filesystem::path& building,
                               const std::filesystem::path& target, int size) {
  std::filesystem::path data_dir = SnapshotDir(building, size);
  ReconcilerLaunch launch{options.reconciler, data_dir.string(), FreeLocalPort(), std::nullopt,
                          options.reconciler_flags,
                          (options.scratch / ("enrolling-reconciler-" + std::to_string(size) + ".log")).string()};
  WW_ASSIGN_OR_RETURN(std::unique_ptr<ReconcilerProcess> reconciler, ReconcilerProcess::Start(launch));
  WW_ASSIGN_OR_RETURN(EnrollmentRun run, EnrollAgents(reconciler->admin(), 0, size, options.enroll_threads,
                                                      options.scratch / "enroll"));
  WW_ASSIGN_OR_RETURN(std::unique_ptr<ApiClient> admin,
                      ApiClient::Create({reconciler->admin().url, reconciler->admin().ca_pem,
                                         reconciler->admin().certificate_pem, reconciler->admin().key_pem}));
  WW_ASSIGN_OR_RETURN(UploadResult upload, UploadFleet(*admin, size, kSnapshotMtu));
  std::printf("  %d agents: enrolled in %.1f s (%.1f ms/agent); the fleet naming them uploaded in %s\n", size,
              run.seconds, run.seconds * 1000 / size, FormatMilliseconds(upload.milliseconds).c_str());
  // Stopped, so that the snapshot is consistent.
  WW_RETURN_IF_ERROR(reconciler->Stop());
  json identities = json::array();
  for (const AgentIdentity& agent : run.agents) {
    identities.push_back(json{{"name", agent.name}, {"certificate", agent.certificate_pem}, {"key", agent.key_pem}});
  }
  WW_RETURN_IF_ERROR(WriteFile(IdentitiesFile(building, size), identities.dump()));
  return CachedFleet{size, SnapshotDir(target, size), run.seconds, std::move(run.agents)};
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
  std::printf("enrolling the bench's agents (cold cache %s; %d threads enroll at once):\n", target.c_str(),
              options.enroll_threads);
  json meta_fleets = json::array();
  for (int size : options.sizes) {
    WW_ASSIGN_OR_RETURN(CachedFleet fleet, BuildFleet(options, building, target, size));
    meta_fleets.push_back(json{{"agents", size}, {"enrollSeconds", fleet.enroll_seconds}});
    contents.fleets.push_back(std::move(fleet));
  }
  contents.built_at = UnixNow();
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
