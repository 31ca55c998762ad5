#include "schema/json_schema.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <string_view>

#include "schema/model.h"
#include "schema/resource_fields.h"

namespace ww {

namespace {

using Json = nlohmann::ordered_json;

// The default is written as YAML text in the table; JSON wants it typed.
Json DefaultValue(const FieldInfo& field) {
  std::string text(field.default_value);
  switch (field.type) {
    case FieldType::kInteger: {
      long value = 0;
      std::from_chars(text.data(), text.data() + text.size(), value);
      return Json(value);
    }
    case FieldType::kBoolean: return Json(text == "true");
    default: return Json(text);
  }
}

// Fields directly below `prefix` ("" for the document, "spec", "spec.ports[]").
std::vector<const FieldInfo*> Children(const KindInfo& kind, std::string_view prefix) {
  std::vector<const FieldInfo*> children;
  for (const FieldInfo& field : kind.fields) {
    std::string_view path = field.path;
    if (!prefix.empty()) {
      if (path.size() <= prefix.size() + 1 || path.substr(0, prefix.size()) != prefix || path[prefix.size()] != '.') continue;
      path.remove_prefix(prefix.size() + 1);
    }
    if (path.find_first_of(".[") != std::string_view::npos) continue;
    children.push_back(&field);
  }
  return children;
}

Json FieldSchema(const KindInfo& kind, const FieldInfo& field);

Json ObjectSchema(const KindInfo& kind, std::string_view prefix, std::string_view description) {
  Json schema;
  schema["type"] = "object";
  if (!description.empty()) schema["description"] = description;
  Json properties = Json::object();
  Json required = Json::array();
  for (const FieldInfo* child : Children(kind, prefix)) {
    std::string_view name = child->path.substr(prefix.empty() ? 0 : prefix.size() + 1);
    properties[std::string(name)] = FieldSchema(kind, *child);
    if (child->required == Required::kYes) required.push_back(name);
  }
  schema["properties"] = std::move(properties);
  if (!required.empty()) schema["required"] = std::move(required);
  schema["additionalProperties"] = false;
  return schema;
}

// Keywords that constrain a string or integer value, shared by fields and list items.
void AddValueKeywords(const FieldInfo& field, Json& schema) {
  if (field.enum_values.size() == 1) {
    schema["const"] = field.enum_values.front();
  } else if (!field.enum_values.empty()) {
    schema["enum"] = field.enum_values;
  }
  if (!field.pattern.empty()) schema["pattern"] = field.pattern;
  if (field.minimum != 0 || field.maximum != 0) {
    schema["minimum"] = field.minimum;
    schema["maximum"] = field.maximum;
  }
}

Json FieldSchema(const KindInfo& kind, const FieldInfo& field) {
  switch (field.type) {
    case FieldType::kObject:
      return ObjectSchema(kind, field.path, field.description);
    case FieldType::kObjectList: {
      Json schema;
      schema["type"] = "array";
      schema["description"] = field.description;
      schema["items"] = ObjectSchema(kind, std::string(field.path) + "[]", "");
      return schema;
    }
    case FieldType::kStringList: {
      Json schema;
      schema["type"] = "array";
      schema["description"] = field.description;
      Json items;
      items["type"] = "string";
      AddValueKeywords(field, items);
      schema["items"] = std::move(items);
      return schema;
    }
    case FieldType::kStringMap: {
      Json schema;
      schema["type"] = "object";
      schema["description"] = field.description;
      schema["additionalProperties"] = Json{{"type", "string"}};
      return schema;
    }
    case FieldType::kString:
    case FieldType::kInteger:
    case FieldType::kBoolean: {
      Json schema;
      schema["type"] = field.type == FieldType::kString    ? "string"
                       : field.type == FieldType::kInteger ? "integer"
                                                           : "boolean";
      schema["description"] = field.description;
      AddValueKeywords(field, schema);
      if (!field.default_value.empty()) schema["default"] = DefaultValue(field);
      return schema;
    }
  }
  return Json::object();
}

}  // namespace

std::string FleetJsonSchema() {
  Json kinds = Json::array();
  Json dispatch = Json::array();
  Json definitions = Json::object();
  for (const KindInfo& kind : ResourceKinds()) {
    std::string name(kind.kind);
    kinds.push_back(name);
    // if/then rather than a bare oneOf: editors then report the errors of the one kind the
    // document declares instead of every kind's.
    Json condition;
    condition["properties"] = Json{{"kind", Json{{"const", name}}}};
    condition["required"] = Json::array({"kind"});
    Json branch;
    branch["if"] = std::move(condition);
    branch["then"] = Json{{"$ref", "#/$defs/" + name}};
    dispatch.push_back(std::move(branch));
    definitions[name] = ObjectSchema(kind, "", kind.description);
  }

  Json schema;
  schema["$schema"] = "https://json-schema.org/draft/2020-12/schema";
  schema["title"] = "WireWarp resource (" + std::string(kApiVersion) + ")";
  schema["description"] =
      "One document of a WireWarp fleet. Generated from schema/resource_fields.cc by `wwctl schema`; do not edit.";
  schema["type"] = "object";
  schema["required"] = Json::array({"apiVersion", "kind", "metadata", "spec"});
  schema["properties"] = Json{{"kind", Json{{"description", "The resource kind."}, {"enum", kinds}}}};
  schema["allOf"] = std::move(dispatch);
  schema["$defs"] = std::move(definitions);
  return schema.dump(2) + "\n";
}

}  // namespace ww
