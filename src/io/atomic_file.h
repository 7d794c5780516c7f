// Whole-file reads and crash-safe whole-file writes (ARCHITECTURE.md: a write goes to a temporary
// file that is renamed into place, so a crash never leaves a half-written file behind).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"

namespace rpg {

// Writes `size` bytes to `path` atomically: they go to a new temporary file of its own in the
// same folder, `<path>.rpgnet-tmp.XXXXXX` (mkstemp: unique, so writers in one or several
// processes never share it), which is written, fsynced and renamed over `path` while the writer
// holds an flock on it; then the folder is fsynced. Readers see either the old file or the
// complete new one. The temporary file is removed on any failure; one left by a writer killed
// mid-write (kill -9, a power cut) is removed by the next write to `path` (see
// remove_stale_temporaries). Throws Error naming the path and strerror: NotFound when the file
// cannot be created or written (missing folder, no permission, read-only or full file system,
// I/O error: the message says which), OutOfMemory on ENOMEM.
void write_file_atomic(const std::string& path, const void* data, size_t size);
void write_file_atomic(const std::string& path, const std::string& bytes);

// Writes the bytes `encode()` returns with write_file_atomic. An Error from encode (a tensor
// holding a NaN, say) gets " (<path> not written)" added: the file at `path` stays as it was.
template <typename Encode>
void write_encoded_atomic(const std::string& path, Encode&& encode) {
  std::string bytes;
  try {
    bytes = encode();
  } catch (const Error& e) {
    fail(e.status(), std::string(e.what()) + " (" + path + " not written)");
  }
  write_file_atomic(path, bytes);
}

// The prefix of the temporary files write_file_atomic creates for `path`: `<path>.rpgnet-tmp.`.
std::string atomic_temp_prefix(const std::string& path);

// Removes the temporary files of `path` whose writer has died (their flock is free); a
// temporary being written by a live writer, in this process or another, is kept. Returns how
// many were removed. Never throws for a file it cannot remove or a folder it cannot list.
int remove_stale_temporaries(const std::string& path);

// Checks, before anything long runs, that files can be written into `folder`: creates it (and
// its parents) when missing, writes, fsyncs and removes a small probe file, and compares the
// free space with `needed_bytes`. Throws Error(NotFound) naming the folder and the reason: not
// a folder, no permission, read-only file system, no space left.
void check_writable_folder(const std::string& folder, uint64_t needed_bytes = 0);

// The whole content of a file. Throws Error(NotFound) naming the path and strerror when it
// cannot be opened or read (missing, a folder, no permission, I/O error) or is not a regular file
// (a FIFO, a device), Error(FormatError) beyond kMaxModelBytes (base/file.h).
std::string read_file(const std::string& path);

// Whether two paths name the same existing file (same device and inode: hard links and
// symbolic links included). False when either does not exist.
bool same_file(const std::string& a, const std::string& b);

}  // namespace rpg
