// Parser for Darknet's .data files, strict in the way of the cfg parser (data_config.h).
#include "data/data_config.h"

#include <cerrno>
#include <cstdlib>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "cfg/cfg.h"
#include "base/error.h"
#include "base/file.h"
#include "data/text_file.h"

namespace rpg {

namespace {

const std::vector<std::string> kKeys = {"classes", "train",  "valid", "labels",
                                        "names",   "backup", "top"};

[[noreturn]] void parse_error(const std::string& path, int line, const std::string& msg) {
  fail(Status::ParseError, path + ":" + std::to_string(line) + ": " + msg);
}

// The value without a trailing comment: '#' at the start or after a blank (so that a path such
// as 'data/#1/list.txt' survives).
std::string strip_comment(const std::string& value) {
  for (size_t i = 0; i < value.size(); ++i)
    if (value[i] == '#' && (i == 0 || value[i - 1] == ' ' || value[i - 1] == '\t'))
      return value.substr(0, i);
  return value;
}

int parse_int(const std::string& path, int line, const std::string& key, const std::string& value,
              int lo, int hi) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end || errno)
    parse_error(path, line, "key '" + key + "' must be an integer, got '" + value + "'");
  if (v < lo || v > hi)
    parse_error(path, line,
                "key '" + key + "' must be between " + std::to_string(lo) + " and " +
                    std::to_string(hi) + ", got " + value);
  return int(v);
}

// A source as seen from the .data file: a list file path, or idx:IMAGES,LABELS with both parts.
std::string resolve_source(const std::string& path, int line, const std::string& key,
                           const std::string& value) {
  if (value.compare(0, 4, "idx:") != 0) return resolve_relative(path, value);
  std::string rest = value.substr(4);
  size_t comma = rest.find(',');
  std::string images = trim_blanks(rest.substr(0, comma));
  std::string labels = comma == std::string::npos ? "" : trim_blanks(rest.substr(comma + 1));
  if (comma == std::string::npos || images.empty() || labels.empty() ||
      labels.find(',') != std::string::npos)
    parse_error(
        path, line,
        "key '" + key + "': an IDX source is 'idx:IMAGES,LABELS' (two paths), got '" + value + "'");
  return "idx:" + resolve_relative(path, images) + "," + resolve_relative(path, labels);
}

}  // namespace

DataConfig parse_data_config(const std::string& text_in, const std::string& path) {
  std::string text = text_in;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  DataConfig dc;
  dc.path = path;
  std::map<std::string, std::pair<int, std::string>> seen;  // canonical key -> (line, as written)
  int classes_line = 0, top_line = 0;
  std::istringstream in(text);
  std::string raw;
  for (int line_no = 1; std::getline(in, raw); ++line_no) {
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    for (unsigned char ch : raw)
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
        parse_error(path, line_no,
                    "unexpected control character; this does not look like a .data file");
    std::string line = trim_blanks(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos)
      parse_error(path, line_no, "expected 'key = value', found '" + line.substr(0, 60) + "'");
    std::string key = trim_blanks(line.substr(0, eq));
    std::string value = trim_blanks(strip_comment(line.substr(eq + 1)));
    if (key.empty()) parse_error(path, line_no, "missing key before '='");
    bool known = false;
    for (const auto& k : kKeys) known = known || k == key;
    if (!known) {
      std::string msg = "unknown key '" + key + "' in .data file (valid: classes, train, " +
                        "valid, labels or names, backup, top)";
      std::string guess = closest_match(key, kKeys);
      if (!guess.empty()) msg += "; did you mean '" + guess + "'?";
      parse_error(path, line_no, msg);
    }
    if (value.empty()) parse_error(path, line_no, "key '" + key + "' has no value");
    const std::string canonical = key == "names" ? "labels" : key;
    auto prev = seen.find(canonical);
    if (prev != seen.end()) {
      std::string first = prev->second.second == key ? "" : " as '" + prev->second.second + "'";
      parse_error(path, line_no,
                  "duplicate key '" + key + "' (first set at line " +
                      std::to_string(prev->second.first) + first + ")");
    }
    seen[canonical] = {line_no, key};
    if (key == "classes") {
      dc.classes = parse_int(path, line_no, key, value, 1, 1 << 24);
      classes_line = line_no;
    } else if (key == "top") {
      dc.top = parse_int(path, line_no, key, value, 1, 1 << 24);
      top_line = line_no;
    } else if (key == "train") {
      dc.train = resolve_source(path, line_no, key, value);
    } else if (key == "valid") {
      dc.valid = resolve_source(path, line_no, key, value);
    } else if (canonical == "labels") {
      dc.labels = resolve_relative(path, value);
    } else {
      dc.backup = resolve_relative(path, value);
    }
  }
  if (!classes_line) fail(Status::ParseError, path + ": missing required key 'classes'");
  if (top_line && dc.top > dc.classes)
    parse_error(path, top_line,
                "top=" + std::to_string(dc.top) + " exceeds classes=" + std::to_string(dc.classes));
  return dc;
}

DataConfig load_data_config(const std::string& path) {
  require_readable_file(path, "cannot open .data file");
  return parse_data_config(read_regular_file(path, kMaxCfgBytes, ".data file"), path);
}

}  // namespace rpg
