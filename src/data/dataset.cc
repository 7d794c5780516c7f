// Class-name files and the choice between the two kinds of Dataset (dataset.h).
#include "data/dataset.h"

#include <map>

#include "base/error.h"
#include "data/text_file.h"

namespace rpg {

std::vector<std::string> load_labels(const std::string& path, int classes) {
  std::vector<std::string> names;
  std::map<std::string, int> lines;
  for (const TextLine& line : read_text_lines(path, "labels file")) {
    std::string name = trim_blanks(line.text);
    if (name.empty()) continue;
    auto prev = lines.find(name);
    if (prev != lines.end())
      fail(Status::ParseError, path + ":" + std::to_string(line.number) + ": class name '" + name +
                                   "' repeats line " + std::to_string(prev->second));
    lines[name] = line.number;
    names.push_back(name);
  }
  if (int(names.size()) != classes)
    fail(Status::ParseError, path + ": has " + std::to_string(names.size()) +
                                 " class names but the "
                                 ".data file says classes=" +
                                 std::to_string(classes));
  return names;
}

std::unique_ptr<Dataset> open_dataset(const std::string& source,
                                      const std::vector<std::string>& label_names, int channels) {
  if (source.empty()) fail(Status::InvalidArgument, "no data source given (empty path)");
  if (source.compare(0, 4, "idx:") != 0) return open_image_list(source, label_names, channels);
  std::string rest = source.substr(4);
  size_t comma = rest.find(',');
  if (comma == std::string::npos || comma == 0 || comma + 1 == rest.size())
    fail(Status::InvalidArgument, "IDX source '" + source + "': expected 'idx:IMAGES,LABELS'");
  return open_idx_dataset(rest.substr(0, comma), rest.substr(comma + 1), int(label_names.size()),
                          channels);
}

}  // namespace rpg
