#pragma once
// LoadFleet: YAML text -> Fleet, with a Mark for every field. Uses yaml-cpp's event API
// (no node tree), which is both the fastest path and the one that lets us refuse what
// yaml-cpp accepts silently: duplicate keys, aliases, deep nesting, invalid UTF-8.
// Pure: the caller reads the files (cli/ does, recursively, or from stdin).

#include <cstddef>
#include <string>
#include <vector>

#include "schema/diagnostic.h"
#include "schema/model.h"

namespace ww {

struct SourceFile {
  std::string path;     // shown in messages; "-" for stdin
  std::string content;
};

struct LoadOptions {
  // A file larger than this is refused unread. Default: 16 MiB.
  size_t max_file_bytes = size_t{16} << 20;
  // Mapping/sequence nesting deeper than this is refused. Default: 32 (a fleet needs 6).
  int max_depth = 32;
  // A scalar longer than this is refused. Default: 64 KiB.
  size_t max_scalar_bytes = size_t{64} << 10;
  // Anchors and aliases are refused outright: a fleet never needs them and they are the
  // vehicle of alias bombs.
};

struct LoadResult {
  Fleet fleet;              // every document that decoded; partial when diagnostics has errors
  Diagnostics diagnostics;  // syntax, type, unknown-field and per-field format findings
};

// Decodes every document of every file. Per-document checks happen here: apiVersion, kind,
// name syntax, required fields, unknown fields ("did you mean"), scalar types, CIDR,
// address, key and port syntax, control characters, UTF-8. Cross-document rules are in
// ValidateFleet.
// A document with any error is left out of the Fleet, with all its errors reported; a syntax
// error ends its file. Each resource's Origin records every field present: scalars and list
// items at their value ("spec.lan[1]"), mappings and sequences at their key ("spec.to").
// Diagnostics come in file order, and by position within each file.
LoadResult LoadFleet(const std::vector<SourceFile>& files, const LoadOptions& options = {});

}  // namespace ww
