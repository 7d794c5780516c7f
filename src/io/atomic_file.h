// Whole-file reads and crash-safe whole-file writes (ARCHITECTURE.md: a write goes to a temporary
// file that is renamed into place, so a crash never leaves a half-written file behind).
#pragma once
#include <cstddef>
#include <string>

namespace rpg {

// Writes `size` bytes to `path` atomically: they go to `path.tmp.<pid>` in the same folder, which
// is flushed, fsynced and renamed over `path`; then the folder is fsynced. Readers see either
// the old file or the complete new one. The temporary file is removed on any failure. Throws
// Error naming the path and strerror: NotFound when the folder does not exist, OutOfMemory on
// ENOMEM, InvalidArgument otherwise (permission, read-only or full file system, I/O error).
// Not for concurrent writers of one path within one process (they share the temporary name).
void write_file_atomic(const std::string& path, const void* data, size_t size);
void write_file_atomic(const std::string& path, const std::string& bytes);

// The temporary name write_file_atomic uses for `path` in this process.
std::string atomic_temp_path(const std::string& path);

// The whole content of a file. Throws Error(NotFound) naming the path and strerror when it
// cannot be opened or read (missing, a folder, no permission, I/O error) or is not a regular file
// (a FIFO, a device), Error(FormatError) beyond kMaxModelBytes (base/file.h).
std::string read_file(const std::string& path);

}  // namespace rpg
