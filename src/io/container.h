// rpgnet's own container for checkpoints and exports: a magic number, a version, tagged sections
// whose sizes are checked against the file's length, and a CRC-32 over everything. New kinds of
// content (rings, quantized tensors) are new section tags; the format version does not change.
//
// Layout, every integer little-endian:
//   char[8]  magic "RPGNET\r\n" (the CR LF catches text-mode line-ending conversion)
//   uint32   format version (kContainerVersion)
//   uint32   section count
//   per section: char[4] tag (printable ASCII, space allowed), uint32 flags, uint64 payload size,
//   payload uint32   CRC-32 (zlib's crc32) of every byte before it
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rpg {

constexpr uint32_t kContainerVersion = 1;
extern const char kContainerMagic[8];

// Section flags. A reader that meets a required section it does not know rejects the file; an
// optional one it does not know is ignored. Other bits are reserved: a reader rejects them, so
// that a future flag that changes the payload's meaning (compression, say) is never misread.
constexpr uint32_t kSectionRequired = 1u << 0;
constexpr uint32_t kSectionKnownFlags = kSectionRequired;

struct ContainerSection {
  std::string tag;  // 4 characters
  uint32_t flags = kSectionRequired;
  std::string payload;
};

class ContainerWriter {
 public:
  // Throws Error(InvalidArgument) unless the tag is 4 printable ASCII characters not used yet
  // and flags are known.
  void add_section(const std::string& tag, std::string payload, uint32_t flags = kSectionRequired);
  // The whole file.
  std::string bytes() const;
  // Writes the file with write_file_atomic.
  void write_atomic(const std::string& path) const;

 private:
  std::vector<ContainerSection> sections_;
};

class ContainerReader {
 public:
  // Validates and parses a whole container. Every size is checked against what is left before
  // it is used (nothing is allocated for a size the file cannot hold). Throws Error(FormatError)
  // naming `name` for a bad magic number, an unsupported version, a truncation ("truncated in
  // section 'PARM' (needs 4096 bytes, 100 left)"), bytes after the last section, an invalid or
  // duplicate tag, reserved flags, or a checksum mismatch.
  static ContainerReader parse(const std::string& bytes, const std::string& name);
  // read_file + parse: Error(NotFound) when the file cannot be read.
  static ContainerReader read(const std::string& path);

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  const std::vector<ContainerSection>& sections() const { return sections_; }
  // The payload of the section with this tag, or null. Valid while the reader lives.
  const std::string* find(const std::string& tag) const;
  // The payload; Error(FormatError) "<name>: no section 'TAG'" (plus `what`) when absent.
  const std::string& require(const std::string& tag, const std::string& what = "") const;
  // Error(FormatError) naming the first required section whose tag is not in `known`.
  void check_known(const std::vector<std::string>& known) const;

 private:
  std::string name_;
  uint32_t version_ = 0;
  std::vector<ContainerSection> sections_;
};

// CRC-32 (zlib) of any length.
uint32_t crc32_of(const char* data, size_t n);

}  // namespace rpg
