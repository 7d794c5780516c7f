// MNIST-family IDX files (gzip or plain, read through zlib) as an in-memory Dataset (dataset.h).
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include "base/error.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/text_file.h"

namespace rpg {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803, kLabelsMagic = 0x00000801;

[[noreturn]] void bad_file(const std::string& path, const std::string& problem) {
  fail(Status::FormatError, "IDX file '" + path + "': " + problem);
}

// A gzip or plain file opened through zlib, closed on scope exit.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    require_readable_file(path, "cannot open IDX file");
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) fail(Status::NotFound, "cannot open IDX file '" + path + "'");
    gzbuffer(file_, 1 << 18);
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes; fewer only at the end of the data. A corrupt stream is an Error.
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      unsigned chunk = unsigned(std::min<size_t>(n - done, 1u << 30));
      int got = gzread(file_, static_cast<char*>(dst) + done, chunk);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(file_, &code);
        bad_file(path_, std::string("corrupt data: ") + (msg ? msg : "zlib error"));
      }
      if (got == 0) break;
      done += size_t(got);
    }
    if (done < n) {
      int code = Z_OK;
      gzerror(file_, &code);
      if (code == Z_BUF_ERROR) bad_file(path_, "truncated: the gzip stream ends early");
    }
    return done;
  }

  uint32_t read_u32(const char* what) {
    unsigned char b[4];
    if (read(b, 4) != 4) bad_file(path_, std::string("truncated header: no ") + what);
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
  }

  // Reads exactly n bytes into a vector grown as data arrives (a header that lies about its
  // size fails as truncated without a huge allocation), then requires the end of the file.
  std::vector<uint8_t> read_body(uint64_t n, const std::string& what) {
    std::vector<uint8_t> out;
    while (out.size() < n) {  // chunks of 1 MiB, then as large as what was read so far
      size_t old = out.size();
      size_t want = size_t(std::min<uint64_t>(n - old, std::max<size_t>(old, 1 << 20)));
      out.resize(old + want);
      size_t got = read(out.data() + old, want);
      if (got < want)
        bad_file(path_, "truncated: the header announces " + std::to_string(n) + " bytes of " +
                            what + ", the file holds " + std::to_string(old + got));
    }
    unsigned char extra;
    if (read(&extra, 1) != 0)
      bad_file(path_, "has bytes after the " + std::to_string(n) + " bytes of " + what +
                          " its header announces (wrong file or corrupt header?)");
    return out;
  }

  void expect_magic(uint32_t want, const char* kind) {
    uint32_t magic = read_u32("magic number");
    if (magic == want) return;
    char buf[96];
    std::snprintf(buf, sizeof buf, "bad magic number 0x%08x; IDX %s files start with 0x%08x", magic,
                  kind, want);
    std::string msg = buf;
    if (magic == kImagesMagic) msg += " (this is an image file)";
    if (magic == kLabelsMagic) msg += " (this is a label file)";
    bad_file(path_, msg);
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

class IdxDataset : public Dataset {
 public:
  IdxDataset(const std::string& images, const std::string& labels, int classes, int channels)
      : images_path_(images), channels_(channels) {
    if (channels != 1 && channels != 3)
      fail(Status::InvalidArgument,
           "IDX data '" + images + "': channels must be 1 or 3, got " + std::to_string(channels));
    if (classes < 1)
      fail(Status::InvalidArgument, "IDX data '" + images + "': no class names given (classes=" +
                                        std::to_string(classes) + ")");
    {
      GzReader in(images);
      in.expect_magic(kImagesMagic, "image");
      uint32_t n = in.read_u32("image count"), rows = in.read_u32("row count"),
               cols = in.read_u32("column count");
      if (n == 0) bad_file(images, "holds no images");
      if (rows < 1 || rows > uint32_t(kMaxImageSide) || cols < 1 || cols > uint32_t(kMaxImageSide) ||
          int64_t(rows) * cols > kMaxImagePixels)
        bad_file(images, "implausible image size " + std::to_string(rows) + "x" + std::to_string(cols) +
                             " (the limit is " + std::to_string(kMaxImageSide) + " per side and " +
                             std::to_string(kMaxImagePixels) + " pixels)");
      if (int64_t(n) * rows * cols > kMaxIdxBytes)  // at most 2^32 x 2^26: no overflow
        bad_file(images, "the header announces " + std::to_string(n) + " images of " + std::to_string(rows) + "x" +
                             std::to_string(cols) + ", " + std::to_string(int64_t(n) * rows * cols) +
                             " bytes of pixels, beyond the limit of " + std::to_string(kMaxIdxBytes));
      n_ = n, h_ = int(rows), w_ = int(cols);
      pixels_ = in.read_body(uint64_t(n) * rows * cols, "pixels");
    }
    GzReader in(labels);
    in.expect_magic(kLabelsMagic, "label");
    uint32_t n = in.read_u32("label count");
    if (n != n_)
      fail(Status::FormatError, "IDX file '" + labels + "' holds " + std::to_string(n) +
                                    " labels but '" + images + "' holds " + std::to_string(n_) +
                                    " images");
    labels_ = in.read_body(n, "labels");
    for (size_t i = 0; i < labels_.size(); ++i)
      if (labels_[i] >= classes)
        bad_file(labels,
                 "label " + std::to_string(labels_[i]) + " of item " + std::to_string(i) +
                     " is out of range: the .data file has classes=" + std::to_string(classes));
  }

  size_t size() const override { return n_; }
  int label(size_t i) const override { return labels_.at(i); }
  int channels() const override { return channels_; }
  int height() const override { return h_; }
  int width() const override { return w_; }
  std::string describe(size_t i) const override { return images_path_ + " #" + std::to_string(i); }

  Image image(size_t i) const override {
    if (i >= n_)
      fail(Status::InvalidArgument,
           "sample " + std::to_string(i) + " out of range for " + images_path_);
    Image im(channels_, h_, w_);
    const size_t plane = size_t(h_) * w_;
    const uint8_t* src = pixels_.data() + i * plane;
    for (int c = 0; c < channels_; ++c)
      for (size_t k = 0; k < plane; ++k) im.data[c * plane + k] = src[k] / 255.f;
    return im;
  }

 private:
  std::string images_path_;
  int channels_;
  size_t n_ = 0;
  int h_ = 0, w_ = 0;
  std::vector<uint8_t> pixels_, labels_;
};

}  // namespace

std::unique_ptr<Dataset> open_idx_dataset(const std::string& images, const std::string& labels,
                                          int classes, int channels) {
  return std::make_unique<IdxDataset>(images, labels, classes, channels);
}

}  // namespace rpg
