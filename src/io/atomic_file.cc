// Whole-file reads and atomic writes on POSIX: temporary file, fsync, rename, fsync the folder.
#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "base/error.h"
#include "base/file.h"

namespace rpg {

namespace {

[[noreturn]] void fail_write(const std::string& path, const std::string& what, int err) {
  const Status status = err == ENOENT || err == ENOTDIR ? Status::NotFound
                        : err == ENOMEM                 ? Status::OutOfMemory
                                                        : Status::InvalidArgument;
  fail(status, path + ": cannot " + what + ": " + std::strerror(err));
}

std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Closes the descriptor and removes the temporary file unless released.
class TempFile {
 public:
  TempFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  // Closes the descriptor; returns 0 or the errno of close.
  int close() {
    const int r = ::close(fd_);
    fd_ = -1;
    return r == 0 ? 0 : errno;
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
  int fd_;
};

void write_all(int fd, const char* p, size_t n, const std::string& tmp) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail_write(tmp, "write", errno);
    }
    p += w;
    n -= size_t(w);
  }
}

// Makes the rename durable. File systems that cannot fsync a folder (EINVAL) are accepted.
void sync_folder(const std::string& path) {
  const std::string folder = folder_of(path);
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the file is in place; durability of the rename is best effort here
  const int r = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (r != 0 && err != EINVAL && err != EROFS)
    fail_write(folder, "fsync the folder of " + path, err);
}

}  // namespace

std::string atomic_temp_path(const std::string& path) {
  return path + ".tmp." + std::to_string(long(::getpid()));
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  if (path.empty()) fail(Status::InvalidArgument, "write_file_atomic: empty path");
  const std::string tmp = atomic_temp_path(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail_write(path, "create " + tmp, errno);
  TempFile file(tmp, fd);
  write_all(fd, static_cast<const char*>(data), size, tmp);
  if (::fsync(fd) != 0) fail_write(tmp, "fsync", errno);
  if (const int err = file.close()) fail_write(tmp, "close", err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail_write(path, "rename " + tmp + " to it", errno);
  file.release();
  sync_folder(path);
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

std::string read_file(const std::string& path) {
  // Regular files only (a FIFO would hang, /dev/zero never end), at most kMaxModelBytes.
  return read_regular_file(path, kMaxModelBytes, "file");
}

}  // namespace rpg
