#include "reconciler/server/artifact_routes.h"

#include <string>
#include <utility>

#include "schema/json_writer.h"

namespace ww {
namespace {

// The route's patterns admit only what a name and platform may hold ([a-z0-9-]), so nothing
// reaching the catalog can name another directory; the catalog checks the exact pattern.
constexpr const char* kArtifactPattern = "/v1/artifacts/([a-z][a-z0-9-]{0,63})/([a-z][a-z0-9]{0,15}-[a-z0-9]{1,16})";

// {"error": message} as every error answer of API.md (written without nlohmann/json, which
// stays in the few handlers that parse bodies).
HttpResponse Error(int status, const std::string& message) {
  JsonWriter json(JsonStyle::kCompact);
  json.BeginObject().Key("error").String(message).EndObject();
  return HttpResponse{status, "application/json", json.Take()};
}

HttpResponse ErrorFor(const Status& status) {
  if (status.code() == StatusCode::kNotFound) {
    return Error(404, status.message() + " (GET /v1/artifacts lists what this reconciler serves)");
  }
  return Error(500, status.message());
}

HttpResponse HandleList(const ArtifactCatalog& catalog) {
  Result<std::vector<ArtifactInfo>> listed = catalog.List();
  if (!listed.ok()) return ErrorFor(listed.status());
  JsonWriter json(JsonStyle::kCompact);
  json.BeginObject().Key("artifacts").BeginArray();
  for (const ArtifactInfo& artifact : *listed) {
    json.BeginObject()
        .Key("name").String(artifact.id.name)
        .Key("platform").String(artifact.id.platform)
        .Key("version").String(artifact.version)
        .Key("sha256").String(artifact.sha256)
        .Key("size").Unsigned(artifact.size)
        .EndObject();
  }
  json.EndArray().EndObject();
  return HttpResponse{200, "application/json", json.Take()};
}

ArtifactId IdOf(const HttpRequest& request) {
  return ArtifactId{request.path_parameters.at(0), request.path_parameters.at(1)};
}

HttpResponse HandleFile(const ArtifactCatalog& catalog, const HttpRequest& request) {
  Result<OpenArtifact> opened = catalog.Open(IdOf(request));
  if (!opened.ok()) return ErrorFor(opened.status());
  HttpResponse response{200, "application/octet-stream", ""};
  response.headers = {{"X-Content-Sha256", opened->info.sha256},
                      {"Content-Disposition", "attachment; filename=\"" + opened->info.id.FileName() + "\""}};
  response.file = std::move(opened->file);
  return response;
}

HttpResponse HandleChecksum(const ArtifactCatalog& catalog, const HttpRequest& request) {
  Result<OpenArtifact> opened = catalog.Open(IdOf(request));
  if (!opened.ok()) return ErrorFor(opened.status());
  return HttpResponse{200, "text/plain; charset=utf-8", opened->info.sha256 + "  " + opened->info.id.FileName() + "\n"};
}

}  // namespace

Status RegisterArtifactRoutes(HttpsServer& server, const ArtifactCatalog& catalog) {
  RouteOptions anyone;
  anyone.client_certificate = ClientCertificate::kOptional;
  const ArtifactCatalog* shared = &catalog;
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kGet, "/v1/artifacts", anyone,
                                  [shared](const HttpRequest&) { return HandleList(*shared); }));
  WW_RETURN_IF_ERROR(server.Route(HttpMethod::kGet, std::string(kArtifactPattern) + "\\.sha256", anyone,
                                  [shared](const HttpRequest& request) { return HandleChecksum(*shared, request); }));
  return server.Route(HttpMethod::kGet, kArtifactPattern, anyone,
                      [shared](const HttpRequest& request) { return HandleFile(*shared, request); });
}

}  // namespace ww
