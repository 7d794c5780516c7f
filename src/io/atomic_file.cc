// Whole-file reads and atomic writes on POSIX: a unique temporary file (mkstemp) locked while it
// is written, fsync, rename, fsync the folder; stale temporaries of dead writers cleaned up.
#include "io/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/file.h"

namespace rpg {

namespace {

constexpr const char* kTempTag = ".rpgnet-tmp.";

// Every failure to create, write or sync a file is the file system's answer, not a bad argument:
// NotFound ("a file or folder cannot be opened, created or written"), with strerror saying which
// (no such folder, permission denied, read-only file system, no space left on device...).
[[noreturn]] void fail_write(const std::string& path, const std::string& what, int err) {
  fail(err == ENOMEM ? Status::OutOfMemory : Status::NotFound,
       path + ": cannot " + what + ": " + std::strerror(err));
}

std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Closes the descriptor and removes the temporary file unless released.
class TempFile {
 public:
  TempFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  TempFile(TempFile&& o) noexcept : path_(std::move(o.path_)), fd_(o.fd_) {
    o.path_.clear();
    o.fd_ = -1;
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());  // before close: the lock still holds
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
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

// A new temporary file for `path`, created and locked. A cleaner in another process may unlink
// a candidate between mkstemp and flock (when it takes the lock first): then the file we hold
// is no longer linked, and we make another.
TempFile create_temporary(const std::string& path) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string name = atomic_temp_prefix(path) + "XXXXXX";
    const int fd = ::mkostemp(&name[0], O_CLOEXEC);
    if (fd < 0) fail_write(path, "create a temporary file " + name, errno);
    TempFile file(name, fd);
    while (::flock(fd, LOCK_EX) != 0)
      if (errno != EINTR) fail_write(name, "lock", errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) fail_write(name, "stat", errno);
    if (st.st_nlink > 0) return file;
    file.release();  // unlinked by a cleaner: the name may already be someone else's
  }
  fail(Status::Internal, path + ": could not keep a temporary file (removed 16 times by other processes)");
}

// Whether `name` (a file in `folder`) is a temporary of target base name `base`.
bool is_temporary_of(const std::string& name, const std::string& base) {
  const std::string prefix = base + kTempTag;
  return name.size() == prefix.size() + 6 && name.compare(0, prefix.size(), prefix) == 0;
}

void make_folders(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    const std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0777) != 0 && errno != EEXIST)
      fail(Status::NotFound, "cannot create folder '" + part + "': " + std::strerror(errno));
  }
}

}  // namespace

std::string atomic_temp_prefix(const std::string& path) { return path + kTempTag; }

int remove_stale_temporaries(const std::string& path) {
  const std::string folder = folder_of(path), base = base_of(path);
  DIR* dir = ::opendir(folder.c_str());
  if (!dir) return 0;
  std::vector<std::string> candidates;
  while (const dirent* e = ::readdir(dir))
    if (is_temporary_of(e->d_name, base)) candidates.push_back(folder + "/" + e->d_name);
  ::closedir(dir);
  int removed = 0;
  for (const std::string& c : candidates) {
    const int fd = ::open(c.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    struct stat st;
    // Only regular files whose lock is free: a live writer holds its lock until after the rename.
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        ::unlink(c.c_str()) == 0)
      ++removed;
    ::close(fd);
  }
  return removed;
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  if (path.empty()) fail(Status::InvalidArgument, "write_file_atomic: empty path");
  remove_stale_temporaries(path);
  TempFile file = create_temporary(path);
  const std::string tmp = file.path();
  write_all(file.fd(), static_cast<const char*>(data), size, tmp);
  if (::fsync(file.fd()) != 0) fail_write(tmp, "fsync", errno);
  // Renamed while still open and locked, so no cleaner can take it for a dead writer's.
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail_write(path, "rename " + tmp + " to it", errno);
  file.release();  // the descriptor closes with `file`; the data is on disk (fsync above)
  sync_folder(path);
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

void check_writable_folder(const std::string& folder, uint64_t needed_bytes) {
  if (folder.empty()) fail(Status::InvalidArgument, "check_writable_folder: empty folder name");
  struct stat st;
  if (::stat(folder.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
    fail(Status::NotFound, "'" + folder + "' is not a folder");
  make_folders(folder);
  try {
    remove_stale_temporaries(folder + "/.rpgnet-probe");  // of a run killed while probing
    TempFile probe = create_temporary(folder + "/.rpgnet-probe");  // removed when it goes
    const std::string block(4096, '\0');
    write_all(probe.fd(), block.data(), block.size(), probe.path());
    if (::fsync(probe.fd()) != 0) fail_write(probe.path(), "fsync", errno);
  } catch (const Error& e) {
    fail(e.status(), "folder '" + folder + "' is not writable: " + e.what());
  }
  struct statvfs fs;
  if (::statvfs(folder.c_str(), &fs) == 0) {
    const uint64_t free_bytes = uint64_t(fs.f_bavail) * uint64_t(fs.f_frsize);
    if (free_bytes < needed_bytes)
      fail(Status::NotFound, "folder '" + folder + "' has " + std::to_string(free_bytes) +
                                 " bytes free, and the files to be written there need " +
                                 std::to_string(needed_bytes) + ": no space left on device");
  }
}

std::string read_file(const std::string& path) {
  // Regular files only (a FIFO would hang, /dev/zero never end), at most kMaxModelBytes.
  return read_regular_file(path, kMaxModelBytes, "file");
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace rpg
