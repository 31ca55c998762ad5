#pragma once
// JSON request bodies and answers for the reconciler's HTTP handlers (enrollment.cc,
// fleet_routes.cc). Internal to reconciler/server: it brings nlohmann/json along.

#include <nlohmann/json.hpp>
#include <string>

#include "reconciler/api/https_server.h"
#include "schema/result.h"

namespace ww {

// `body` serialised compactly; invalid UTF-8 in a string (e.g. echoed from a request) is
// replaced, never thrown.
HttpResponse JsonResponse(int status, const nlohmann::json& body);
// {"error": message}, as every error answer of API.md.
HttpResponse ErrorResponse(int status, const std::string& message);
// The request body as a JSON object nested at most `max_depth` deep; kInvalidArgument with
// a message fit for a 400 answer otherwise (a duplicate key is invalid JSON). Linear in the
// size of the body (schema/json_document.h). No exception escapes.
Result<nlohmann::json> ParseJsonObject(const std::string& body, int max_depth);

}  // namespace ww
