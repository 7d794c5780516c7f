// Labelled image sources for training and validation: an abstract Dataset, its two kinds (IDX
// files of the MNIST family, list files of image paths labelled by class names), and the
// class-name file of a .data file.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "data/image.h"

namespace rpg {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  // The class of sample i, in [0, classes).
  virtual int label(size_t i) const = 0;
  // Sample i as `channels()` planes in [0, 1]. May decode a file: throws Error naming it.
  // Const and safe to call from a background thread while other const members are used.
  virtual Image image(size_t i) const = 0;
  // Where sample i comes from, for messages ("list.txt:12: cat_3.png", "images.gz #41").
  virtual std::string describe(size_t i) const = 0;
  virtual int channels() const = 0;
  // The size every sample has, or 0 when samples differ (list files).
  virtual int height() const = 0;
  virtual int width() const = 0;
};

// The class names of a labels file, one per line (surrounding blanks trimmed; blank lines
// skipped). Error naming the file when it cannot be read, when a name repeats, or when the
// count differs from `classes`.
std::vector<std::string> load_labels(const std::string& path, int classes);

// Opens a source as written in a .data file (after path resolution):
//   idx:IMAGES,LABELS  MNIST-family IDX files, gzip or plain, loaded into memory now;
//   anything else      a list file of image paths, labelled by class name.
// label_names gives the classes (their count bounds IDX labels); channels is 1 or 3.
std::unique_ptr<Dataset> open_dataset(const std::string& source,
                                      const std::vector<std::string>& label_names, int channels);

// IDX images (magic 0x00000803: count, rows, cols) and labels (magic 0x00000801: count), each
// gzip-compressed or plain. Every size is checked: a truncated file, trailing bytes, a wrong
// magic, a count mismatch or a label >= classes is an Error naming the file. Grayscale data is
// replicated into 3 planes when channels is 3. The header's sizes are checked before anything is
// read: images within load_image's limits (image.h), at most kMaxIdxBytes of pixels in all; the
// data are then inflated chunk by chunk, never beyond what the header announced.
constexpr int64_t kMaxIdxBytes = int64_t(1) << 31;  // 2 GiB of pixels
std::unique_ptr<Dataset> open_idx_dataset(const std::string& images, const std::string& labels,
                                          int classes, int channels);

// A list file: one image path per line, relative paths resolved from the list file's folder,
// blank lines skipped. Each path gets the one class whose name equals a whole folder name of
// the path as written, or a whole token of the file name's stem, where tokens are separated by
// non-alphanumeric characters ('train/cat_12.png' is 'cat', never 'rain'). No match or several
// is an Error naming list file, line and path; so is a file that cannot be read (all are
// checked now) and an empty list. Images are decoded when image(i) is called.
std::unique_ptr<Dataset> open_image_list(const std::string& list,
                                         const std::vector<std::string>& label_names, int channels);

// The indices of the class names that label `path` by the rule of open_image_list.
std::vector<int> matching_labels(const std::string& path,
                                 const std::vector<std::string>& label_names);

}  // namespace rpg
