#include "reconciler/server/http_json.h"

#include <utility>

#include "schema/json_document.h"

namespace ww {

HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  return HttpResponse{status, "application/json",
                      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

HttpResponse ErrorResponse(int status, const std::string& message) {
  return JsonResponse(status, nlohmann::json{{"error", message}});
}

Result<nlohmann::json> ParseJsonObject(const std::string& body, int max_depth) {
  ParsedJson parsed = ParseJsonDocument(body, max_depth);
  switch (parsed.verdict) {
    case JsonVerdict::kParsed: break;
    case JsonVerdict::kTooDeep: return Status::InvalidArgument("the request body is nested too deeply");
    case JsonVerdict::kInvalid: return Status::InvalidArgument("the request body is not valid JSON");
  }
  if (!parsed.document.is_object()) return Status::InvalidArgument("the request body must be a JSON object");
  return std::move(parsed.document);
}

Result<std::string> OptionalText(const nlohmann::json& object, std::string_view key, std::string_view path) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return std::string();
  if (!found->is_string()) {
    return Status::InvalidArgument("field \"" + std::string(path.empty() ? key : path) + "\" must be a string");
  }
  return found->get<std::string>();
}

std::optional<HttpResponse> RefuseUnlessAllowed(const HttpRequest& request, Operation operation,
                                                std::string_view action) {
  Status allowed = Authorize(request.identity, operation, action);
  if (allowed.ok()) return std::nullopt;
  return ErrorResponse(403, allowed.message());
}

Result<std::int64_t> OptionalInteger(const nlohmann::json& object, std::string_view key, std::int64_t fallback,
                                     std::int64_t min, std::int64_t max) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return fallback;
  if (!found->is_number_integer()) {
    return Status::InvalidArgument("field \"" + std::string(key) + "\" must be an integer");
  }
  std::int64_t value = found->get<std::int64_t>();
  if (value < min || value > max) {
    return Status::InvalidArgument("field \"" + std::string(key) + "\" must be between " + std::to_string(min) +
                                   " and " + std::to_string(max) + ", not " + std::to_string(value));
  }
  return value;
}

}  // namespace ww
