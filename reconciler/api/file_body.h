#pragma once
// An answer's body that is an open file (reconciler/api/http_message.h, HttpResponse::file):
// the front end sends it in chunks as the client takes them, so serving a large file holds
// one chunk in memory, not the file. The descriptor is read with pread at explicit offsets,
// so one FileBody may feed several answers at once. A file replaced by rename while it is
// sent is sent as it was when opened.

#include <cstddef>
#include <cstdint>

#include "schema/result.h"

namespace ww {

class FileBody {
 public:
  // Takes ownership of `descriptor` (closed by the destructor); `size` bytes are sent.
  FileBody(int descriptor, std::uint64_t size);
  ~FileBody();
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;

  std::uint64_t size() const { return size_; }
  int descriptor() const { return descriptor_; }
  // Up to `capacity` bytes from `offset`; 0 at the end of the file. An error (or a file that
  // shrank below size()) is for the caller to treat as a broken answer.
  Result<std::size_t> ReadAt(std::uint64_t offset, char* buffer, std::size_t capacity) const;

 private:
  int descriptor_;
  std::uint64_t size_;
};

}  // namespace ww
