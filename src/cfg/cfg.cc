// Lexer and typed accessors for the cfg dialect (CFG.md).
#include "cfg/cfg.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "base/error.h"
#include "base/file.h"

namespace rpg {

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

[[noreturn]] void parse_error(const std::string& path, int line, const std::string& msg) {
  fail(Status::ParseError, path + ":" + std::to_string(line) + ": " + msg);
}

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char ch : s.substr(0, 40)) {
    if (ch >= 0x20 && ch < 0x7f) out += char(ch);
    else out += '?';
  }
  return s.size() > 40 ? out + "..." : out;
}

// Edit distance counting a swap of two adjacent characters as one edit (optimal string
// alignment), so that the commonest typo, 'widht' for 'width', is one edit away.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // Close enough to be a typo: at most a third of the word, and at least one edit allowed.
  size_t limit = std::max<size_t>(1, std::max(word.size(), best.size()) / 3);
  return best_d <= limit ? best : "";
}

const CfgEntry* CfgSection::find(const std::string& key) const {
  for (const auto& e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

std::string ring_section_name(const CfgSection& ring) {
  const CfgEntry* n = ring.find("name");
  return n ? n->value : kDefaultRingName;
}

CfgFile parse_cfg(const std::string& text_in, const std::string& path) {
  CfgFile cfg;
  cfg.path = path;
  std::string text = text_in;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // UTF-8 BOM
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string raw = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    for (unsigned char ch : raw)
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", ch);
        parse_error(path, line_no, std::string("unexpected control character ") + hex +
                                       "; this does not look like a cfg text file");
      }
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']')
        parse_error(path, line_no, "section header '" + printable(line) + "' is missing its closing ']'");
      CfgSection s;
      s.type = trim(line.substr(1, line.size() - 2));
      s.line = line_no;
      if (s.type.empty()) parse_error(path, line_no, "empty section name '[]'");
      cfg.sections.push_back(std::move(s));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos)
      parse_error(path, line_no, "expected 'key=value' or '[section]', found '" + printable(line) + "'");
    std::string key = trim(line.substr(0, eq));
    std::string value = line.substr(eq + 1);
    size_t hash = value.find('#');
    if (hash != std::string::npos) value = value.substr(0, hash);
    value = trim(value);
    if (key.empty()) parse_error(path, line_no, "missing key before '=' in '" + printable(line) + "'");
    if (cfg.sections.empty())
      parse_error(path, line_no, "key '" + printable(key) + "' appears before any [section]; a cfg starts with [net]");
    if (value.empty()) parse_error(path, line_no, "key '" + key + "' has no value");
    CfgSection& s = cfg.sections.back();
    if (const CfgEntry* prev = s.find(key))
      parse_error(path, line_no, "duplicate key '" + key + "' in [" + s.type + "] (first set at line " +
                                     std::to_string(prev->line) + ")");
    s.entries.push_back({key, value, line_no});
  }
  if (cfg.sections.empty()) fail(Status::ParseError, path + ": empty cfg: no sections found; a cfg starts with [net]");
  const std::string& first = cfg.sections.front().type;
  if (first != "net" && first != "network")
    parse_error(path, cfg.sections.front().line,
                "the first section must be [net] (or [network]), found [" + first + "]");
  return cfg;
}

CfgFile load_cfg(const std::string& path) {
  return parse_cfg(read_regular_file(path, kMaxCfgBytes, "cfg file"), path);
}

void apply_override(CfgFile& cfg, const std::string& spec) {
  const std::string usage = "; expected SECTION.KEY=VALUE with SECTION 'net', a layer index or 'ring.NAME'";
  size_t eq = spec.find('=');
  if (eq == std::string::npos) fail(Status::InvalidArgument, "--set '" + spec + "': missing '='" + usage);
  std::string lhs = trim(spec.substr(0, eq)), value = trim(spec.substr(eq + 1));
  size_t dot = lhs.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == lhs.size() || value.empty())
    fail(Status::InvalidArgument, "--set '" + spec + "': malformed" + usage);
  std::string target = lhs.substr(0, dot), key = lhs.substr(dot + 1);
  CfgSection* section = nullptr;
  if (target == "net" || target == "network") {
    section = &cfg.sections.front();
  } else if (target.compare(0, 5, "ring.") == 0) {
    std::string name = target.substr(5);
    for (auto& s : cfg.sections)
      if (s.type == "ring" && ring_section_name(s) == name) section = &s;
    if (!section) fail(Status::InvalidArgument, "--set '" + spec + "': no [ring] named '" + name + "' in " + cfg.path);
  } else {
    char* end = nullptr;
    errno = 0;
    long idx = std::strtol(target.c_str(), &end, 10);
    if (*end || errno || idx < 0) fail(Status::InvalidArgument, "--set '" + spec + "': bad section '" + target + "'" + usage);
    long n = 0;
    for (auto& s : cfg.sections) {
      if (s.type == "net" || s.type == "network" || s.type == "ring") continue;
      if (n++ == idx) section = &s;
    }
    if (!section)
      fail(Status::InvalidArgument, "--set '" + spec + "': layer " + target + " does not exist (" + cfg.path +
                                        " has " + std::to_string(n) + " layers, numbered from 0)");
  }
  for (auto& e : section->entries)
    if (e.key == key) {
      e.value = value;
      return;
    }
  section->entries.push_back({key, value, section->line});
}

// ---- Options -------------------------------------------------------------------------------

Options::Options(const CfgFile& file, const CfgSection& section, const std::vector<std::string>& allowed)
    : file_(file), section_(section) {
  for (const auto& e : section.entries) {
    if (std::find(allowed.begin(), allowed.end(), e.key) != allowed.end()) continue;
    std::string msg = "unknown key '" + e.key + "' in [" + section.type + "]";
    std::string guess = closest_match(e.key, allowed);
    if (!guess.empty()) msg += "; did you mean '" + guess + "'?";
    parse_error(file.path, e.line, msg);
  }
}

const CfgEntry* Options::entry(const std::string& key) const { return section_.find(key); }
bool Options::has(const std::string& key) const { return entry(key) != nullptr; }

std::string Options::where(const std::string& key) const {
  const CfgEntry* e = key.empty() ? nullptr : entry(key);
  return file_.path + ":" + std::to_string(e ? e->line : section_.line);
}

void Options::error(const std::string& key, const std::string& problem) const {
  fail(Status::ParseError, where(key) + ": " + problem);
}

namespace {
bool parse_long(const std::string& s, long long* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end || errno) return false;
  *out = v;
  return true;
}
bool parse_double(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (*end || errno || !std::isfinite(v)) return false;
  *out = v;
  return true;
}
std::string range_text(double lo, double hi) {
  auto fmt = [](double v) {
    // Whole bounds as integers: the default stream precision writes 1 << 20 as 1.04858e+06.
    if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string((long long)v);
    std::ostringstream o;
    o << v;
    return o.str();
  };
  if (lo <= -3.0e38 || lo <= double(INT32_MIN)) return "at most " + fmt(hi);
  if (hi >= 3.0e38 || hi >= double(INT32_MAX)) return "at least " + fmt(lo);
  return "between " + fmt(lo) + " and " + fmt(hi);
}
}  // namespace

int Options::require_int(const std::string& key, int lo, int hi) const {
  const CfgEntry* e = entry(key);
  if (!e) error(key, "missing required key '" + key + "' in [" + section_.type + "]");
  long long v;
  if (!parse_long(e->value, &v))
    error(key, "key '" + key + "' in [" + section_.type + "] must be an integer, got '" + printable(e->value) + "'");
  if (v < lo || v > hi)
    error(key, "key '" + key + "' in [" + section_.type + "] must be " + range_text(lo, hi) + ", got " + e->value);
  return int(v);
}

int Options::get_int(const std::string& key, int def, int lo, int hi) const {
  return has(key) ? require_int(key, lo, hi) : def;
}

uint64_t Options::get_u64(const std::string& key, uint64_t def) const {
  const CfgEntry* e = entry(key);
  if (!e) return def;
  const std::string& t = e->value;
  const bool digits = !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
  errno = 0;
  const unsigned long long v = digits ? std::strtoull(t.c_str(), nullptr, 10) : 0;
  if (!digits || errno)
    error(key, "key '" + key + "' in [" + section_.type + "] must be an integer between 0 and 18446744073709551615, got '" +
                   printable(t) + "'");
  return uint64_t(v);
}

float Options::require_float(const std::string& key, float lo, float hi) const {
  const CfgEntry* e = entry(key);
  if (!e) error(key, "missing required key '" + key + "' in [" + section_.type + "]");
  double v;
  if (!parse_double(e->value, &v))
    error(key, "key '" + key + "' in [" + section_.type + "] must be a number, got '" + printable(e->value) + "'");
  if (v < lo || v > hi)
    error(key, "key '" + key + "' in [" + section_.type + "] must be " + range_text(lo, hi) + ", got " + e->value);
  return float(v);
}

float Options::get_float(const std::string& key, float def, float lo, float hi) const {
  return has(key) ? require_float(key, lo, hi) : def;
}

std::string Options::get_string(const std::string& key, const std::string& def) const {
  const CfgEntry* e = entry(key);
  return e ? e->value : def;
}

std::vector<int> Options::get_int_list(const std::string& key) const {
  std::vector<int> out;
  const CfgEntry* e = entry(key);
  if (!e) return out;
  std::stringstream ss(e->value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    long long v;
    if (!parse_long(trim(item), &v) || v < INT32_MIN || v > INT32_MAX)
      error(key, "key '" + key + "' in [" + section_.type + "] must be a comma-separated list of integers, got '" +
                     printable(e->value) + "'");
    out.push_back(int(v));
  }
  if (out.empty() || e->value.back() == ',')
    error(key, "key '" + key + "' in [" + section_.type + "] has an empty list item in '" + printable(e->value) + "'");
  return out;
}

std::vector<float> Options::get_float_list(const std::string& key) const {
  std::vector<float> out;
  const CfgEntry* e = entry(key);
  if (!e) return out;
  std::stringstream ss(e->value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    double v;
    if (!parse_double(trim(item), &v))
      error(key, "key '" + key + "' in [" + section_.type + "] must be a comma-separated list of numbers, got '" +
                     printable(e->value) + "'");
    out.push_back(float(v));
  }
  if (out.empty() || e->value.back() == ',')
    error(key, "key '" + key + "' in [" + section_.type + "] has an empty list item in '" + printable(e->value) + "'");
  return out;
}

int Options::get_choice(const std::string& key, const std::vector<std::string>& words, int def) const {
  const CfgEntry* e = entry(key);
  if (!e) return def;
  for (size_t i = 0; i < words.size(); ++i)
    if (words[i] == e->value) return int(i);
  std::string list;
  for (const auto& w : words) list += (list.empty() ? "" : ", ") + w;
  std::string msg = "unknown " + key + " '" + printable(e->value) + "' in [" + section_.type + "] (valid: " + list + ")";
  std::string guess = closest_match(e->value, words);
  if (!guess.empty()) msg += "; did you mean '" + guess + "'?";
  error(key, msg);
}


}  // namespace rpg
