// FleetJsonSchema: the checked-in schema/wirewarp.schema.json must be exactly its output,
// and the output must carry what editors need from the field table.
#include "schema/json_schema.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "schema/resource_fields.h"

namespace ww {
namespace {

using Json = nlohmann::ordered_json;

TEST_CASE("schema/wirewarp.schema.json is FleetJsonSchema() byte for byte") {
  std::filesystem::path path = std::filesystem::path(WW_SOURCE_DIR) / "schema" / "wirewarp.schema.json";
  std::ifstream stream(path, std::ios::binary);
  REQUIRE_MESSAGE(stream.good(), "missing " << path.string());
  std::ostringstream contents;
  contents << stream.rdbuf();
  std::string checked_in = contents.str();
  // Not CHECK(a == b): a 20 KB diff in the output helps nobody; say how to fix it instead.
  bool same = checked_in == FleetJsonSchema();
  CHECK_MESSAGE(same,
                "schema/wirewarp.schema.json is stale; regenerate it from the field table with\n"
                "  build/cli/wwctl schema > schema/wirewarp.schema.json");
}

TEST_CASE("FleetJsonSchema: one if/then branch per kind dispatched on kind") {
  Json schema = Json::parse(FleetJsonSchema());
  CHECK(schema["$schema"] == "https://json-schema.org/draft/2020-12/schema");
  CHECK(schema["required"] == Json::array({"apiVersion", "kind", "metadata", "spec"}));
  CHECK(schema["properties"]["kind"]["enum"] == Json::array({"Tunnel", "Peer", "PortForward", "ServiceTemplate"}));
  REQUIRE(schema["allOf"].size() == ResourceKinds().size());
  CHECK(schema["allOf"][2] == Json::parse(R"({"if": {"properties": {"kind": {"const": "PortForward"}}, "required": ["kind"]},
                                              "then": {"$ref": "#/$defs/PortForward"}})"));
  for (const KindInfo& kind : ResourceKinds()) {
    const Json& definition = schema["$defs"][std::string(kind.kind)];
    CHECK(definition["additionalProperties"] == false);
    CHECK(definition["properties"]["kind"]["const"] == kind.kind);
    CHECK(definition["properties"]["apiVersion"]["const"] == "wirewarp.dev/v1");
  }
}

TEST_CASE("FleetJsonSchema: types and defaults and bounds and patterns and required lists come from the table") {
  Json schema = Json::parse(FleetJsonSchema());
  const Json& tunnel_spec = schema["$defs"]["Tunnel"]["properties"]["spec"];
  CHECK(tunnel_spec["additionalProperties"] == false);
  CHECK(tunnel_spec["required"] == Json::array({"agent", "endpoint", "network"}));
  CHECK(tunnel_spec["properties"]["listenPort"] ==
        Json::parse(R"({"type": "integer", "description": "UDP port the server listens on.",
                        "minimum": 1, "maximum": 65535, "default": 51820})"));
  CHECK(tunnel_spec["properties"]["selfHeal"]["default"] == true);
  CHECK(tunnel_spec["properties"]["interface"]["default"] == "wg0");
  CHECK(tunnel_spec["properties"]["network"]["pattern"] == "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$");

  const Json& metadata = schema["$defs"]["Peer"]["properties"]["metadata"];
  CHECK(metadata["required"] == Json::array({"name"}));
  CHECK(metadata["properties"]["name"]["pattern"] == "^[a-z0-9][a-z0-9-]{0,62}$");
  CHECK(metadata["properties"]["labels"]["additionalProperties"] == Json{{"type", "string"}});
  const Json& lan = schema["$defs"]["Peer"]["properties"]["spec"]["properties"]["lan"];
  CHECK(lan["type"] == "array");
  CHECK(lan["items"]["type"] == "string");
  CHECK(lan["items"]["pattern"] == "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$");

  const Json& to = schema["$defs"]["PortForward"]["properties"]["spec"]["properties"]["to"];
  CHECK(to["additionalProperties"] == false);
  CHECK(to["required"] == Json::array({"address"}));
  CHECK(schema["$defs"]["PortForward"]["properties"]["spec"]["properties"]["protocol"]["enum"] ==
        Json::array({"tcp", "udp", "both"}));

  const Json& ports = schema["$defs"]["ServiceTemplate"]["properties"]["spec"]["properties"]["ports"];
  CHECK(ports["type"] == "array");
  CHECK(ports["items"]["additionalProperties"] == false);
  CHECK(ports["items"]["required"] == Json::array({"protocol", "ports"}));
  CHECK(ports["items"]["properties"]["protocol"]["enum"] == Json::array({"tcp", "udp", "both"}));
}

TEST_CASE("FleetJsonSchema: every field of the table appears exactly where its path says") {
  Json schema = Json::parse(FleetJsonSchema());
  for (const KindInfo& kind : ResourceKinds()) {
    for (const FieldInfo& field : kind.fields) {
      CAPTURE(kind.kind);
      CAPTURE(field.path);
      // "spec.ports[].protocol" -> properties/spec/properties/ports/items/properties/protocol
      Json::json_pointer pointer("/$defs/" + std::string(kind.kind));
      std::string_view path = field.path;
      while (!path.empty()) {
        size_t end = path.find_first_of(".[");
        pointer /= "properties";
        pointer /= std::string(path.substr(0, end));
        if (end == std::string_view::npos) break;
        if (path[end] == '[') {
          pointer /= "items";
          end += 2;  // "[]"
        }
        path.remove_prefix(std::min(path.size(), end + 1));
      }
      REQUIRE(schema.contains(pointer));
      CHECK(schema[pointer]["description"] == field.description);
    }
  }
}

}  // namespace
}  // namespace ww
