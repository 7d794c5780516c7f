// The .data file of Darknet's classifier (CFG.md, "The .data file"): which data to train and
// validate on, the class names, where checkpoints go.
#pragma once
#include <string>

namespace rpg {

struct DataConfig {
  int classes = 0;
  // Sources: a list file, or "idx:IMAGES,LABELS". All paths here are already resolved from the
  // .data file's folder; "" when the key is absent.
  std::string train, valid;
  std::string labels;  // the class-name file (key 'labels' or its alias 'names')
  std::string backup;  // the checkpoint folder
  int top = 1;         // top-k accuracy reported by validation
  std::string path;    // the .data file itself, for messages
};

// Parses .data text: 'key = value' lines, '#' or ';' comment lines, a '#' preceded by a blank
// ending a value, CRLF and a UTF-8 BOM accepted. Keys: classes (required), train, valid,
// labels (alias names), backup, top (default 1, at most classes). Unknown keys, duplicates and
// malformed lines are Error(ParseError) "path:line: problem", with a did-you-mean suggestion
// for a misspelt key.
DataConfig parse_data_config(const std::string& text, const std::string& path);

// Reads and parses a .data file; Error(NotFound) when it cannot be read.
DataConfig load_data_config(const std::string& path);

}  // namespace rpg
