// The rpgnet container: writing, and parsing that trusts no size before checking it.
#include "io/container.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "base/error.h"
#include "io/atomic_file.h"
#include "io/bytes.h"

namespace rpg {

const char kContainerMagic[8] = {'R', 'P', 'G', 'N', 'E', 'T', '\r', '\n'};

namespace {

constexpr size_t kHeaderBytes = 16;         // magic, version, section count
constexpr size_t kSectionHeaderBytes = 16;  // tag, flags, size
constexpr size_t kTrailerBytes = 4;         // CRC-32

bool valid_tag(const std::string& tag) {
  if (tag.size() != 4) return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// The tag as it can be printed: non-printable bytes as \xNN.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c <= 0x7e && c != '\\') {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace

uint32_t crc32_of(const char* data, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(data);
  while (n > 0) {
    const uInt chunk = uInt(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return uint32_t(crc);
}

void ContainerWriter::add_section(const std::string& tag, std::string payload, uint32_t flags) {
  if (!valid_tag(tag))
    fail(Status::InvalidArgument,
         "container section tag '" + printable(tag) + "' must be 4 printable ASCII characters");
  if (flags & ~kSectionKnownFlags)
    fail(Status::InvalidArgument, "container section '" + tag + "': unknown flags " + hex32(flags));
  for (const auto& s : sections_)
    if (s.tag == tag) fail(Status::InvalidArgument, "container section '" + tag + "' added twice");
  sections_.push_back({tag, flags, std::move(payload)});
}

std::string ContainerWriter::bytes() const {
  size_t total = kHeaderBytes + kTrailerBytes;
  for (const auto& s : sections_) total += kSectionHeaderBytes + s.payload.size();
  io::ByteWriter w;
  w.reserve(total);
  w.bytes(kContainerMagic, sizeof kContainerMagic);
  w.u32(kContainerVersion);
  w.u32(uint32_t(sections_.size()));
  for (const auto& s : sections_) {
    w.bytes(s.tag.data(), 4);
    w.u32(s.flags);
    w.u64(s.payload.size());
    w.bytes(s.payload.data(), s.payload.size());
  }
  w.u32(crc32_of(w.data().data(), w.size()));
  return std::move(w.data());
}

void ContainerWriter::write_atomic(const std::string& path) const {
  write_file_atomic(path, bytes());
}

ContainerReader ContainerReader::parse(const std::string& bytes, const std::string& name) {
  auto bad = [&](const std::string& problem) { fail(Status::FormatError, name + ": " + problem); };
  const size_t n = bytes.size();
  if (n == 0) bad("empty file: not an rpgnet container");
  if (std::memcmp(bytes.data(), kContainerMagic, std::min(n, sizeof kContainerMagic)) != 0)
    bad("not an rpgnet container (the file does not start with \"RPGNET\\r\\n\")");
  if (n < kHeaderBytes)
    bad("truncated in the header (needs " + std::to_string(kHeaderBytes) + " bytes, " +
        std::to_string(n) + " left)");
  ContainerReader out;
  out.name_ = name;
  io::ByteReader r(bytes, name, sizeof kContainerMagic);
  out.version_ = r.u32();
  if (out.version_ != kContainerVersion)
    bad("unsupported version " + std::to_string(out.version_) + " (this build reads " +
        std::to_string(kContainerVersion) + ")");
  const uint32_t count = r.u32();

  // First pass: structure only (offsets, no copies), so that nothing is allocated for a size
  // the file does not hold and the checksum is verified before any payload is used.
  struct Span {
    std::string tag;
    uint32_t flags;
    size_t offset, size;
  };
  std::vector<Span> spans;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string nth = "section " + std::to_string(i + 1) + " of " + std::to_string(count);
    if (r.remaining() < kSectionHeaderBytes)
      bad("truncated in the header of " + nth + " (needs " + std::to_string(kSectionHeaderBytes) +
          " bytes, " + std::to_string(r.remaining()) + " left)");
    Span s;
    s.tag = r.bytes(4);
    s.flags = r.u32();
    const uint64_t size = r.u64();
    if (!valid_tag(s.tag)) bad(nth + " has an invalid tag '" + printable(s.tag) + "'");
    const std::string quoted = "section '" + s.tag + "'";
    if (s.flags & ~kSectionKnownFlags)
      bad(quoted + " has unsupported flags " + hex32(s.flags) + " (this build knows " +
          hex32(kSectionKnownFlags) + ")");
    if (size > r.remaining())
      bad("truncated in " + quoted + " (needs " + std::to_string(size) + " bytes, " +
          std::to_string(r.remaining()) + " left)");
    for (const Span& o : spans)
      if (o.tag == s.tag) bad("duplicate " + quoted);
    s.offset = r.position();
    s.size = size_t(size);
    r.skip(s.size);
    spans.push_back(std::move(s));
  }
  if (r.remaining() < kTrailerBytes)
    bad("truncated in the checksum after the last section (needs " + std::to_string(kTrailerBytes) +
        " bytes, " + std::to_string(r.remaining()) + " left)");
  if (r.remaining() > kTrailerBytes)
    bad(std::to_string(r.remaining() - kTrailerBytes) + " unexpected bytes after the last section");
  const uint32_t stored = r.u32();
  const uint32_t computed = crc32_of(bytes.data(), n - kTrailerBytes);
  if (stored != computed)
    bad("checksum mismatch (stored " + hex32(stored) + ", computed " + hex32(computed) +
        "): the file is corrupt");

  out.sections_.reserve(spans.size());
  for (Span& s : spans)
    out.sections_.push_back({std::move(s.tag), s.flags, bytes.substr(s.offset, s.size)});
  return out;
}

ContainerReader ContainerReader::read(const std::string& path) {
  return parse(read_file(path), path);
}

const std::string* ContainerReader::find(const std::string& tag) const {
  for (const auto& s : sections_)
    if (s.tag == tag) return &s.payload;
  return nullptr;
}

const std::string& ContainerReader::require(const std::string& tag, const std::string& what) const {
  const std::string* p = find(tag);
  if (!p)
    fail(Status::FormatError,
         name_ + ": no section '" + tag + "'" + (what.empty() ? "" : " (" + what + ")"));
  return *p;
}

void ContainerReader::check_known(const std::vector<std::string>& known) const {
  for (const auto& s : sections_)
    if ((s.flags & kSectionRequired) && std::find(known.begin(), known.end(), s.tag) == known.end())
      fail(Status::FormatError, name_ + ": required section '" + s.tag +
                                    "' is unknown to this build (written by a newer rpgnet?)");
}

}  // namespace rpg
