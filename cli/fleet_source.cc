#include "cli/fleet_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace ww::cli {

namespace {

namespace fs = std::filesystem;

std::string Quote(const std::string& path) { return "\"" + path + "\""; }

std::string DescribeSize(size_t bytes) {
  constexpr size_t kMebibyte = size_t{1} << 20;
  if (bytes % kMebibyte == 0) return std::to_string(bytes / kMebibyte) + " MiB";
  return std::to_string(bytes) + " bytes";
}

Status TooLarge(const std::string& path, size_t max_bytes) {
  return Status::InvalidArgument(Quote(path) + " is larger than the " + DescribeSize(max_bytes) + " limit");
}

Status ErrnoStatus(const std::string& path, int error) {
  return Status::InvalidArgument("cannot read " + Quote(path) + ": " + std::strerror(error));
}

// Closes the descriptor on every path out of ReadPath.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads `path` whole. Pipes and devices are read up to the limit; regular files over it are
// refused before reading.
Result<std::string> ReadPath(const std::string& path, size_t max_bytes) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) return ErrnoStatus(path, errno);
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) return ErrnoStatus(path, errno);
  if (S_ISDIR(info.st_mode)) return Status::InvalidArgument(Quote(path) + " is a directory, not a file");
  if (S_ISREG(info.st_mode) && static_cast<uint64_t>(info.st_size) > max_bytes) return TooLarge(path, max_bytes);
  std::string content;
  char buffer[64 * 1024];
  while (true) {
    ssize_t count = ::read(file.get(), buffer, sizeof buffer);
    if (count < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(path, errno);
    }
    if (count == 0) break;
    content.append(buffer, static_cast<size_t>(count));
    if (content.size() > max_bytes) return TooLarge(path, max_bytes);
  }
  return content;
}

bool IsFleetFile(const fs::path& path) {
  fs::path extension = path.extension();
  return extension == ".yaml" || extension == ".yml";
}

// "examples/homelab" + "tunnel.yaml" -> "examples/homelab/tunnel.yaml", as the user wrote it.
std::string JoinForDisplay(const std::string& directory, const std::string& relative) {
  if (directory == ".") return relative;
  if (!directory.empty() && directory.back() == '/') return directory + relative;
  return directory + "/" + relative;
}

}  // namespace

Result<std::string> InputReader::ReadStandardInput() {
  if (standard_input_used_) {
    return Status::InvalidArgument("standard input (\"-\") can be read only once per command");
  }
  standard_input_used_ = true;
  std::string content;
  char buffer[64 * 1024];
  while (standard_input_.read(buffer, sizeof buffer) || standard_input_.gcount() > 0) {
    content.append(buffer, static_cast<size_t>(standard_input_.gcount()));
    if (content.size() > max_file_bytes_) return TooLarge("-", max_file_bytes_);
  }
  if (standard_input_.bad()) return Status::InvalidArgument("cannot read standard input");
  return content;
}

Result<std::string> InputReader::ReadFile(const std::string& path) {
  if (path == "-") return ReadStandardInput();
  return ReadPath(path, max_file_bytes_);
}

Status InputReader::AddDirectory(const std::string& directory, std::vector<SourceFile>& files) {
  std::vector<std::string> found;  // paths relative to the directory
  std::error_code error;
  const fs::path root(directory);
  fs::recursive_directory_iterator it(root, fs::directory_options::none, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const fs::directory_entry& entry = *it;
    std::error_code status_error;
    std::string name = entry.path().filename().string();
    if (!name.empty() && name.front() == '.') {
      // ".git", ".github", editor swap files: never part of the fleet.
      it.disable_recursion_pending();
      continue;
    }
    // is_regular_file follows a symlink to a file; the iterator itself never descends into
    // a symlinked directory (directory_options::none).
    if (!entry.is_regular_file(status_error) || !IsFleetFile(entry.path())) continue;
    found.push_back(entry.path().lexically_relative(root).generic_string());
  }
  if (error) return Status::InvalidArgument("cannot read directory " + Quote(directory) + ": " + error.message());
  if (found.empty()) return Status::InvalidArgument("no *.yaml or *.yml files in " + Quote(directory));
  std::sort(found.begin(), found.end());
  for (const std::string& relative : found) {
    // The display path opens the same file: it is the argument joined with the relative path.
    std::string display = JoinForDisplay(directory, relative);
    Result<std::string> content = ReadPath(display, max_file_bytes_);
    if (!content.ok()) return content.status();
    files.push_back(SourceFile{std::move(display), std::move(content).value()});
  }
  return Status::Ok();
}

Result<std::vector<SourceFile>> InputReader::ReadFleet(const std::vector<std::string>& paths) {
  std::vector<SourceFile> files;
  for (const std::string& path : paths) {
    if (path == "-") {
      WW_ASSIGN_OR_RETURN(std::string content, ReadStandardInput());
      files.push_back(SourceFile{"-", std::move(content)});
      continue;
    }
    std::error_code error;
    if (fs::is_directory(path, error)) {
      WW_RETURN_IF_ERROR(AddDirectory(path, files));
      continue;
    }
    WW_ASSIGN_OR_RETURN(std::string content, ReadPath(path, max_file_bytes_));
    files.push_back(SourceFile{path, std::move(content)});
  }
  return files;
}

Status WritePrivateFile(const std::string& path, std::string_view content) {
  FileDescriptor file(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (file.get() < 0) {
    int error = errno;
    if (error == EEXIST) {
      return Status::FailedPrecondition(Quote(path) + " already exists; move it away or choose another path (it may hold "
                                   "a private key)");
    }
    return Status::InvalidArgument("cannot create " + Quote(path) + ": " + std::strerror(error));
  }
  auto failed = [&](int error) {
    ::unlink(path.c_str());
    return Status::InvalidArgument("cannot write " + Quote(path) + ": " + std::strerror(error));
  };
  // The umask may have taken bits away, never added them; say exactly 0600 anyway.
  if (::fchmod(file.get(), 0600) != 0) return failed(errno);
  size_t written = 0;
  while (written < content.size()) {
    ssize_t count = ::write(file.get(), content.data() + written, content.size() - written);
    if (count < 0) {
      if (errno == EINTR) continue;
      return failed(errno);
    }
    written += static_cast<size_t>(count);
  }
  if (::fsync(file.get()) != 0) return failed(errno);
  return Status::Ok();
}

}  // namespace ww::cli
