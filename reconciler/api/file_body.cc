#include "reconciler/api/file_body.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <sys/types.h>
#include <unistd.h>

namespace ww {

FileBody::FileBody(int descriptor, std::uint64_t size) : descriptor_(descriptor), size_(size) {}

FileBody::~FileBody() {
  if (descriptor_ >= 0) close(descriptor_);
}

Result<std::size_t> FileBody::ReadAt(std::uint64_t offset, char* buffer, std::size_t capacity) const {
  for (;;) {
    ssize_t got = pread(descriptor_, buffer, capacity, static_cast<off_t>(offset));
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) return Status::Internal(std::string("cannot read the file being sent: ") + std::strerror(errno));
  }
}

}  // namespace ww
