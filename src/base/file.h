// Reading files named from outside (cfg, .data, lists, weights, checkpoints, exports): regular
// files only, so that a FIFO never hangs and a device such as /dev/zero is never read without
// end, and at most a stated number of bytes (README: Limits).
#pragma once
#include <cstdint>
#include <string>

namespace rpg {

constexpr int64_t kMaxCfgBytes = int64_t(64) << 20;    // a cfg or .data file: 64 MiB
constexpr int64_t kMaxListBytes = int64_t(1) << 30;    // an image list or labels file: 1 GiB
constexpr int64_t kMaxModelBytes = int64_t(64) << 30;  // weights, checkpoint or export: 64 GiB

// The whole content of `path`. Throws Error(NotFound) "cannot open <what> '<path>': <reason>"
// when it cannot be opened or read or is not a regular file (a folder, a FIFO, a device), and
// Error(FormatError) when it holds more than max_bytes bytes.
std::string read_regular_file(const std::string& path, int64_t max_bytes, const std::string& what);
// At most the first n bytes of `path`, with the same checks (n itself is the bound).
std::string read_file_prefix(const std::string& path, int64_t n, const std::string& what);

}  // namespace rpg
