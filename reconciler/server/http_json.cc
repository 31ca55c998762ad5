#include "reconciler/server/http_json.h"

#include <stdexcept>

namespace ww {
namespace {

struct DepthExceeded : std::runtime_error {
  DepthExceeded() : std::runtime_error("too deeply nested") {}
};

}  // namespace

HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  return HttpResponse{status, "application/json",
                      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

HttpResponse ErrorResponse(int status, const std::string& message) {
  return JsonResponse(status, nlohmann::json{{"error", message}});
}

Result<nlohmann::json> ParseJsonObject(const std::string& body, int max_depth) {
  try {
    nlohmann::json parsed =
        nlohmann::json::parse(body, [max_depth](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
          if (depth > max_depth) throw DepthExceeded();
          return true;
        });
    if (!parsed.is_object()) return Status::InvalidArgument("the request body must be a JSON object");
    return parsed;
  } catch (const DepthExceeded&) {
    return Status::InvalidArgument("the request body is nested too deeply");
  } catch (const std::exception&) {
    return Status::InvalidArgument("the request body is not valid JSON");
  }
}

}  // namespace ww
