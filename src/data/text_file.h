// Line-oriented text files shared by the data layer (.data files, list files, label files):
// reading with a UTF-8 BOM and CRLF accepted, trimming, and paths relative to a file's folder.
#pragma once
#include <string>
#include <vector>

namespace rpg {

struct TextLine {
  int number = 0;    // 1-based line number in the file
  std::string text;  // without the line end; not trimmed
};

// Every line of a text file (a UTF-8 BOM dropped, LF or CRLF ends, a missing final newline
// accepted). `what` names the file's role in messages ("list file", "labels file").
// Throws Error(NotFound) naming the file when it cannot be read, Error(ParseError) naming
// file:line when a line holds a NUL or another control character (a binary file).
std::vector<TextLine> read_text_lines(const std::string& path, const std::string& what);

// `s` without leading and trailing spaces and tabs.
std::string trim_blanks(const std::string& s);

// The folder part of a path, with its trailing '/', or "" for a bare file name.
std::string folder_of(const std::string& path);

// `path` as seen from the folder of `base_file`: absolute paths are kept, relative ones are
// prefixed with that folder.
std::string resolve_relative(const std::string& base_file, const std::string& path);

// Error(NotFound) naming `where` and the file unless `path` is a readable regular file.
void require_readable_file(const std::string& path, const std::string& where);

}  // namespace rpg
