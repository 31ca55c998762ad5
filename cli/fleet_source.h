#pragma once
// Reads what wwctl's arguments name: the fleet (`-f PATH...`: files, directories walked
// recursively for *.yaml and *.yml in path order, "-" for standard input) and single files
// such as --keys and --observed, and writes the private files of `wwctl peer`. All of wwctl's
// file I/O lives here; schema/ stays pure.
// Every failure is an I/O error, which wwctl reports with exit status 2.

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "schema/loader.h"
#include "schema/result.h"

namespace ww::cli {

class InputReader {
 public:
  // `standard_input` is what "-" reads; files above `max_file_bytes` are refused unread.
  InputReader(std::istream& standard_input, size_t max_file_bytes)
      : standard_input_(standard_input), max_file_bytes_(max_file_bytes) {}

  // Reads a whole file, or standard input for "-". Standard input can be read once per run:
  // a second "-" (say `-f - --observed -`) is refused.
  Result<std::string> ReadFile(const std::string& path);

  // Reads every -f argument in order. A directory contributes its *.yaml and *.yml files,
  // recursively, sorted by path; hidden entries (".git") and symlinked directories are
  // skipped. A file named directly is read whatever its extension. Paths in the result are
  // the argument joined with the file's path below it ("examples/homelab/tunnel.yaml").
  Result<std::vector<SourceFile>> ReadFleet(const std::vector<std::string>& paths);

 private:
  Result<std::string> ReadStandardInput();
  Status AddDirectory(const std::string& directory, std::vector<SourceFile>& files);

  std::istream& standard_input_;
  size_t max_file_bytes_;
  bool standard_input_used_ = false;
};

// Creates `path` with mode 0600 (whatever the umask) and writes `content`, for files that
// hold a private key (a device's wg-quick config, its QR code). Never follows a symlink and
// never replaces an existing file: kFailedPrecondition names it. Flushed to disk before returning;
// a failed write removes the partial file.
Status WritePrivateFile(const std::string& path, std::string_view content);

}  // namespace ww::cli
