// Bounded reads of regular files (see file.h).
#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace rpg {

namespace {

[[noreturn]] void cannot(const std::string& path, const std::string& what, const std::string& reason) {
  fail(Status::NotFound, "cannot open " + what + " '" + path + "': " + reason);
}

// Reads up to `limit` bytes (and one more, to tell a longer file) of a regular file.
std::string read_bounded(const std::string& path, int64_t limit, const std::string& what, bool prefix) {
  // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) cannot(path, what, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) cannot(path, what, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) cannot(path, what, std::strerror(EISDIR));
  if (!S_ISREG(st.st_mode)) cannot(path, what, "not a regular file (a FIFO, a device or a socket)");
  const auto too_large = [&](const std::string& size) {
    fail(Status::FormatError, what + " '" + path + "' is " + size + " bytes, more than the limit of " +
                                  std::to_string(limit) + " bytes for a " + what);
  };
  if (!prefix && st.st_size > limit) too_large(std::to_string(st.st_size));
  std::string out;
  out.reserve(size_t(std::min<int64_t>(st.st_size, limit)));
  char chunk[1 << 16];
  while (int64_t(out.size()) <= limit) {
    const size_t want = size_t(std::min<int64_t>(int64_t(sizeof chunk), limit + 1 - int64_t(out.size())));
    const ssize_t r = ::read(fd, chunk, want);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(Status::NotFound, "cannot read " + what + " '" + path + "': " + std::strerror(errno));
    }
    if (r == 0) break;
    out.append(chunk, size_t(r));
    if (prefix && int64_t(out.size()) >= limit) break;
  }
  if (int64_t(out.size()) > limit) {
    if (prefix) out.resize(size_t(limit));
    else too_large("more than " + std::to_string(limit));  // it grew while it was read
  }
  return out;
}

}  // namespace

std::string read_regular_file(const std::string& path, int64_t max_bytes, const std::string& what) {
  return read_bounded(path, max_bytes, what, false);
}

std::string read_file_prefix(const std::string& path, int64_t n, const std::string& what) {
  return read_bounded(path, n, what, true);
}

}  // namespace rpg
