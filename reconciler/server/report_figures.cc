#include "reconciler/server/report_figures.h"

#include <nlohmann/json.hpp>

#include <cstdint>

namespace ww {
namespace {

using Json = nlohmann::json;

std::string Text(const Json& object, const char* field) {
  auto found = object.find(field);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::optional<std::uint64_t> Counter(const Json& object, const char* field) {
  auto found = object.find(field);
  if (found == object.end()) return std::nullopt;
  if (found->is_number_unsigned()) return found->get<std::uint64_t>();
  if (found->is_number_integer() && found->get<std::int64_t>() >= 0) return found->get<std::uint64_t>();
  return std::nullopt;
}

}  // namespace

ReportFigures ReportFiguresFromJson(std::string_view metrics_json) {
  ReportFigures figures;
  Json metrics = Json::parse(metrics_json, nullptr, /*allow_exceptions=*/false);
  if (!metrics.is_object()) return figures;
  figures.version = Text(metrics, "version");
  figures.hostname = Text(metrics, "hostname");
  auto system = metrics.find("system");
  if (system != metrics.end() && system->is_object()) {
    SystemFigures values;
    if (auto cpu = system->find("cpuPercent"); cpu != system->end() && cpu->is_number()) {
      values.cpu_percent = cpu->get<double>();
    }
    values.memory_used_bytes = Counter(*system, "memoryUsedBytes");
    values.memory_total_bytes = Counter(*system, "memoryTotalBytes");
    values.disk_used_bytes = Counter(*system, "diskUsedBytes");
    values.disk_total_bytes = Counter(*system, "diskTotalBytes");
    values.uptime_seconds = Counter(*system, "uptimeSeconds");
    figures.system = values;
  }
  return figures;
}

}  // namespace ww
