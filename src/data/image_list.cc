// List files of image paths labelled by class names in the path (dataset.h); images are
// decoded on demand with stb_image.
#include <cctype>
#include <string>
#include <vector>

#include "base/error.h"
#include "data/dataset.h"
#include "data/text_file.h"

namespace rpg {

namespace {

bool is_alnum(char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; }

// Whether `name` occurs in `stem` bounded on both sides by a non-alphanumeric character or an
// end, i.e. as a whole token (or a run of whole tokens, for names such as 'sea-lion').
bool token_match(const std::string& stem, const std::string& name) {
  for (size_t pos = stem.find(name); pos != std::string::npos; pos = stem.find(name, pos + 1)) {
    bool left = pos == 0 || !is_alnum(stem[pos - 1]);
    size_t end = pos + name.size();
    bool right = end == stem.size() || !is_alnum(stem[end]);
    if (left && right) return true;
  }
  return false;
}

class ImageList : public Dataset {
 public:
  ImageList(const std::string& list, const std::vector<std::string>& names, int channels)
      : list_(list), channels_(channels) {
    if (channels != 1 && channels != 3)
      fail(Status::InvalidArgument,
           "list file '" + list + "': channels must be 1 or 3, got " + std::to_string(channels));
    if (names.empty())
      fail(Status::InvalidArgument,
           "list file '" + list + "': no class names given to label its images");
    for (const TextLine& line : read_text_lines(list, "list file")) {
      std::string written = trim_blanks(line.text);
      if (written.empty()) continue;
      std::string where = list + ":" + std::to_string(line.number) + ": ";
      std::vector<int> found = matching_labels(written, names);
      if (found.size() != 1) {
        std::string msg = where + "cannot label '" + written + "': ";
        if (found.empty()) {
          msg += "no class name is a folder name or a file-name token of the path";
        } else {
          msg += "it matches several classes (";
          for (size_t k = 0; k < found.size(); ++k)
            msg += (k ? ", '" : "'") + names[found[k]] + "'";
          msg += ")";
        }
        fail(Status::ParseError, msg);
      }
      std::string path = resolve_relative(list, written);
      require_readable_file(path, where + "cannot read image");
      items_.push_back({path, line.number, found[0]});
    }
    if (items_.empty()) fail(Status::ParseError, list + ": the list file names no images");
  }

  size_t size() const override { return items_.size(); }
  int label(size_t i) const override { return items_.at(i).label; }
  int channels() const override { return channels_; }
  int height() const override { return 0; }
  int width() const override { return 0; }
  std::string describe(size_t i) const override {
    const Item& it = items_.at(i);
    return list_ + ":" + std::to_string(it.line) + ": " + it.path;
  }
  Image image(size_t i) const override {
    const Item& it = items_.at(i);
    return load_image(it.path, channels_, list_ + ":" + std::to_string(it.line) + ": ");
  }

 private:
  struct Item {
    std::string path;
    int line;
    int label;
  };
  std::string list_;
  int channels_;
  std::vector<Item> items_;
};

}  // namespace

std::vector<int> matching_labels(const std::string& path, const std::vector<std::string>& names) {
  std::vector<std::string> folders;
  size_t start = 0;
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', start)) {
    if (slash > start) folders.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  std::string file = path.substr(start);
  size_t dot = file.rfind('.');
  std::string stem = dot == std::string::npos || dot == 0 ? file : file.substr(0, dot);
  std::vector<int> found;
  for (size_t k = 0; k < names.size(); ++k) {
    const std::string& name = names[k];
    if (name.empty()) continue;
    bool match = token_match(stem, name);
    for (const auto& f : folders) match = match || f == name;
    if (match) found.push_back(int(k));
  }
  return found;
}

std::unique_ptr<Dataset> open_image_list(const std::string& list,
                                         const std::vector<std::string>& label_names,
                                         int channels) {
  return std::make_unique<ImageList>(list, label_names, channels);
}

}  // namespace rpg
