// Line-oriented text reading and path helpers for the data layer (text_file.h).
#include "data/text_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "base/file.h"

namespace rpg {

std::vector<TextLine> read_text_lines(const std::string& path, const std::string& what) {
  require_readable_file(path, "cannot open " + what);
  std::string text = read_regular_file(path, kMaxListBytes, what);
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  std::vector<TextLine> lines;
  size_t pos = 0;
  int number = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl;
    TextLine line{++number, text.substr(pos, end - pos)};
    pos = end + 1;
    if (!line.text.empty() && line.text.back() == '\r') line.text.pop_back();
    for (unsigned char ch : line.text)
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", ch);
        fail(Status::ParseError, path + ":" + std::to_string(number) +
                                     ": unexpected control character " + hex +
                                     "; this does not look like a " + what);
      }
    lines.push_back(std::move(line));
  }
  return lines;
}

std::string trim_blanks(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

std::string folder_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

std::string resolve_relative(const std::string& base_file, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return folder_of(base_file) + path;
}

void require_readable_file(const std::string& path, const std::string& where) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    fail(Status::NotFound, where + " '" + path + "': " + std::strerror(errno));
  if (S_ISDIR(st.st_mode))
    fail(Status::NotFound, where + " '" + path + "': " + std::strerror(EISDIR));
  if (!S_ISREG(st.st_mode)) fail(Status::NotFound, where + " '" + path + "': not a regular file");
  if (access(path.c_str(), R_OK) != 0)
    fail(Status::NotFound, where + " '" + path + "': " + std::strerror(errno));
}

}  // namespace rpg
