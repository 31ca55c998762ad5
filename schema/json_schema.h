#pragma once
// FleetJsonSchema: the field table (resource_fields.h) rendered as a JSON Schema (draft
// 2020-12) of one fleet document, for editors (`# yaml-language-server: $schema=...`) and
// other tools. `wwctl schema` prints it; schema/wirewarp.schema.json is its checked-in
// output, compared byte for byte by a test. Pure and deterministic.

#include <string>

namespace ww {

// Pretty-printed with two-space indentation and a final newline.
std::string FleetJsonSchema();

}  // namespace ww
