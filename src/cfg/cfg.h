// Darknet-style cfg files: lexing into sections, command-line overrides, and typed access to a
// section's keys with strict errors that name the file, the line and the problem (CFG.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rpg {

struct CfgEntry {
  std::string key, value;
  int line = 0;
};

struct CfgSection {
  std::string type;  // as written, without brackets
  int line = 0;
  std::vector<CfgEntry> entries;
  const CfgEntry* find(const std::string& key) const;
};

struct CfgFile {
  std::string path;  // for messages; "<text>" for in-memory cfgs
  std::vector<CfgSection> sections;
};

// The name a [ring] section declares: its 'name' key, or kDefaultRingName.
constexpr const char* kDefaultRingName = "ring0";
std::string ring_section_name(const CfgSection& ring);

// Parses cfg text. Throws Error(ParseError) with "path:line: problem" on any lexical error.
CfgFile parse_cfg(const std::string& text, const std::string& path);
// Reads and parses a file; Error(NotFound) when it cannot be opened.
CfgFile load_cfg(const std::string& path);
// Applies "section.key=value" where section is net, a layer index (0-based, as `info` numbers
// layers) or ring.NAME; replaces the key's value or adds the key.
void apply_override(CfgFile& cfg, const std::string& spec);

// The closest candidate by edit distance, or "" when none is close enough to suggest.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// Typed, validated access to one section. Construction rejects keys not in `allowed`.
class Options {
 public:
  Options(const CfgFile& file, const CfgSection& section, const std::vector<std::string>& allowed);

  bool has(const std::string& key) const;
  int get_int(const std::string& key, int def, int lo = INT32_MIN, int hi = INT32_MAX) const;
  int require_int(const std::string& key, int lo = INT32_MIN, int hi = INT32_MAX) const;
  // An unsigned 64-bit integer (seeds): decimal digits only, 0 .. 18446744073709551615.
  uint64_t get_u64(const std::string& key, uint64_t def) const;
  float get_float(const std::string& key, float def, float lo = -3.0e38f, float hi = 3.0e38f) const;
  float require_float(const std::string& key, float lo = -3.0e38f, float hi = 3.0e38f) const;
  std::string get_string(const std::string& key, const std::string& def) const;
  std::vector<int> get_int_list(const std::string& key) const;      // empty when absent
  std::vector<float> get_float_list(const std::string& key) const;  // empty when absent
  // One of the given words (case-sensitive, as Darknet); returns its index.
  int get_choice(const std::string& key, const std::vector<std::string>& words, int def) const;

  // "file:line" of the key (or of the section header when the key is absent).
  std::string where(const std::string& key = "") const;
  [[noreturn]] void error(const std::string& key, const std::string& problem) const;
  const CfgSection& section() const { return section_; }

 private:
  const CfgEntry* entry(const std::string& key) const;
  const CfgFile& file_;
  const CfgSection& section_;
};

}  // namespace rpg
