// The data layer (src/data): .data files, class-name files, IDX and list datasets with their
// errors, augmentation, and the background loader's determinism, shuffling and resuming.
#define BOOST_TEST_MODULE data
#include <stb_image_write.h>
#include <zlib.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/random.h"
#include "data/augment.h"
#include "data/data_config.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "testing.h"

namespace {

namespace fs = std::filesystem;
using rpg_test::TempDir;
using rpg_test::write_file;
using rpg::Status;

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  BOOST_TEST_REQUIRE(f != nullptr);
  BOOST_TEST_REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  gzclose(f);
}

std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16 & 255), char(v >> 8 & 255), char(v & 255)};
}

std::string idx_images(uint32_t n, uint32_t h, uint32_t w, const std::vector<uint8_t>& px) {
  return be32(0x803) + be32(n) + be32(h) + be32(w) + std::string(px.begin(), px.end());
}

std::string idx_labels(const std::vector<uint8_t>& labels) {
  return be32(0x801) + be32(uint32_t(labels.size())) + std::string(labels.begin(), labels.end());
}

// Runs f, which must throw an rpg::Error with the given status whose message holds every part.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts,
                  Status status) {
  try {
    f();
  } catch (const rpg::Error& e) {
    const std::string msg = e.what();
    BOOST_TEST((e.status() == status), "status " << int(e.status()) << " for: " << msg);
    for (const auto& p : parts)
      BOOST_TEST(msg.find(p) != std::string::npos, "'" << p << "' not in: " << msg);
    return;
  } catch (const std::exception& e) {
    BOOST_ERROR("not an rpg::Error: " << e.what());
    return;
  }
  BOOST_ERROR("no error thrown; expected " << (parts.empty() ? "" : parts[0]));
}

void write_png(const std::string& path, int w, int h, int comp, const std::vector<uint8_t>& px) {
  fs::create_directories(fs::path(path).parent_path());
  BOOST_TEST_REQUIRE(stbi_write_png(path.c_str(), w, h, comp, px.data(), w * comp) != 0);
}

rpg::Image ramp_image(int c, int h, int w) {
  rpg::Image im(c, h, w);
  for (size_t i = 0; i < im.data.size(); ++i) im.data[i] = float(i % 251) / 250.f;
  return im;
}

std::vector<float> run(const rpg::Image& src, const rpg::AugmentOptions& a, bool train,
                       uint64_t seed, int ow, int oh) {
  std::vector<float> out(size_t(src.c) * ow * oh, -1.f);
  rpg::Rng rng(seed);
  rpg::make_input(src, a, train, rng, ow, oh, src.c, out.data());
  return out;
}

// Whether out (1 channel, w x h) is the window of src at (ox, oy), zeros beyond src.
bool is_window(const std::vector<float>& out, const rpg::Image& src, int ox, int oy, int w, int h) {
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int sy = y + oy, sx = x + ox;
      bool in = sy >= 0 && sy < src.h && sx >= 0 && sx < src.w;
      if (out[y * w + x] != (in ? src.at(0, sy, sx) : 0.f)) return false;
    }
  return true;
}

rpg::AugmentOptions neutral() {
  rpg::AugmentOptions a;
  a.flip = false;
  return a;
}

// A dataset in memory: sample i is a 1 x 4 x 4 image whose pixels all read (i + 1) / 1000,
// labelled i % classes; sample `bad` throws.
class FakeDataset : public rpg::Dataset {
 public:
  FakeDataset(size_t n, int classes, size_t bad = SIZE_MAX) : n_(n), classes_(classes), bad_(bad) {}
  size_t size() const override { return n_; }
  int label(size_t i) const override { return int(i % classes_); }
  rpg::Image image(size_t i) const override {
    if (i == bad_) rpg::fail(Status::FormatError, "fake #" + std::to_string(i) + ": broken");
    rpg::Image im(1, 4, 4);
    std::fill(im.data.begin(), im.data.end(), float(i + 1) / 1000.f);
    return im;
  }
  std::string describe(size_t i) const override { return "fake #" + std::to_string(i); }
  int channels() const override { return 1; }
  int height() const override { return 4; }
  int width() const override { return 4; }

 private:
  size_t n_;
  int classes_;
  size_t bad_;
};

int sample_of(float pixel) { return int(std::lround(pixel * 1000.f)) - 1; }

}  // namespace

// ---- .data files and class names -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(data_config_keys_and_relative_paths) {
  const std::string text =
      "\xEF\xBB\xBF# Fashion\r\nclasses= 10\r\ntrain  = lists/train.txt   # a comment\r\n"
      "valid=idx:t10k-images.gz, /abs/t10k-labels.gz\r\nnames = data/#1/labels.txt\r\n"
      "backup=/tmp/backup/\r\n; another comment\r\n\r\ntop=5";
  rpg::DataConfig dc = rpg::parse_data_config(text, "/x/y/f.data");
  BOOST_TEST(dc.classes == 10);
  BOOST_TEST(dc.train == "/x/y/lists/train.txt");
  BOOST_TEST(dc.valid == "idx:/x/y/t10k-images.gz,/abs/t10k-labels.gz");
  BOOST_TEST(dc.labels == "/x/y/data/#1/labels.txt");
  BOOST_TEST(dc.backup == "/tmp/backup/");
  BOOST_TEST(dc.top == 5);
  BOOST_TEST(dc.path == "/x/y/f.data");
  rpg::DataConfig bare = rpg::parse_data_config("classes=2\ntrain=t.txt\n", "f.data");
  BOOST_TEST(bare.train == "t.txt");
  BOOST_TEST(bare.top == 1);
  BOOST_TEST(bare.valid.empty());
}

BOOST_AUTO_TEST_CASE(data_config_errors) {
  auto parse = [](const std::string& text) {
    return [text] { rpg::parse_data_config(text, "f.data"); };
  };
  expect_error(parse("classes=2\nclases=3\n"),
               {"f.data:2: unknown key 'clases'", "did you mean 'classes'?"}, Status::ParseError);
  expect_error(parse("classes=2\ntrian=a.txt\n"), {"f.data:2:", "did you mean 'train'?"},
               Status::ParseError);
  expect_error(parse("classes=2\neval=imagenet\n"), {"f.data:2: unknown key 'eval'"},
               Status::ParseError);
  expect_error(parse("classes=2\nlabels=a\nnames=b\n"),
               {"f.data:3: duplicate key 'names'", "line 2 as 'labels'"}, Status::ParseError);
  expect_error(parse("classes=2\nclasses=3\n"), {"f.data:2: duplicate key 'classes'"},
               Status::ParseError);
  expect_error(parse("train=a.txt\n"), {"f.data: missing required key 'classes'"},
               Status::ParseError);
  expect_error(parse("classes=ten\n"), {"f.data:1: key 'classes' must be an integer"},
               Status::ParseError);
  expect_error(parse("classes=0\n"), {"f.data:1: key 'classes' must be between 1"},
               Status::ParseError);
  expect_error(parse("classes=3\ntop=4\n"), {"f.data:2: top=4 exceeds classes=3"},
               Status::ParseError);
  expect_error(parse("classes=3\ntrain=idx:only.gz\n"), {"f.data:2:", "idx:IMAGES,LABELS"},
               Status::ParseError);
  expect_error(parse("classes=3\ntrain\n"), {"f.data:2: expected 'key = value'"},
               Status::ParseError);
  expect_error(parse("classes=3\ntrain=  # nothing\n"), {"f.data:2: key 'train' has no value"},
               Status::ParseError);
  expect_error([] { rpg::load_data_config("/nonexistent/x.data"); }, {"/nonexistent/x.data"},
               Status::NotFound);
}

BOOST_AUTO_TEST_CASE(data_file_to_dataset_from_another_folder) {
  TempDir dir;
  write_file(dir / "set/names.txt", "cat\ndog\n");
  write_png(dir / "set/img/cat/1.png", 2, 2, 3, std::vector<uint8_t>(12, 200));
  write_png(dir / "set/img/dog_2.png", 2, 2, 3, std::vector<uint8_t>(12, 100));
  write_file(dir / "set/train.txt", "img/cat/1.png\nimg/dog_2.png\n");
  write_file(dir / "set/f.data", "classes=2\ntrain=train.txt\nlabels=names.txt\n");
  rpg::DataConfig dc = rpg::load_data_config(dir / "set/f.data");
  BOOST_TEST(dc.train == dir / "set/train.txt");
  auto names = rpg::load_labels(dc.labels, dc.classes);
  auto ds = rpg::open_dataset(dc.train, names, 3);
  BOOST_TEST_REQUIRE(ds->size() == 2u);
  BOOST_TEST(ds->label(0) == 0);
  BOOST_TEST(ds->label(1) == 1);
  BOOST_TEST(std::fabs(ds->image(1).at(2, 1, 1) - 100.f / 255.f) < 1e-6f);
}

BOOST_AUTO_TEST_CASE(labels_file) {
  TempDir dir;
  write_file(dir / "l.txt",
             "\xEF\xBB\xBF"
             "cat\r\n  dog \r\n\r\nbird");
  BOOST_TEST(
      (rpg::load_labels(dir / "l.txt", 3) == std::vector<std::string>{"cat", "dog", "bird"}));
  expect_error([&] { rpg::load_labels(dir / "l.txt", 10); },
               {dir / "l.txt", "3 class names", "classes=10"}, Status::ParseError);
  write_file(dir / "d.txt", "cat\ndog\ncat\n");
  expect_error([&] { rpg::load_labels(dir / "d.txt", 3); },
               {dir / "d.txt:3:", "'cat' repeats line 1"}, Status::ParseError);
  expect_error([&] { rpg::load_labels(dir / "none.txt", 3); }, {dir / "none.txt"},
               Status::NotFound);
}

// ---- IDX -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(idx_round_trip_plain_and_gzip) {
  TempDir dir;
  std::vector<uint8_t> px(3 * 4 * 5);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 4 + 1);
  const std::vector<uint8_t> labels = {2, 0, 1};
  write_file(dir / "img", idx_images(3, 4, 5, px));
  write_file(dir / "lab", idx_labels(labels));
  write_gz(dir / "img.gz", idx_images(3, 4, 5, px));
  write_gz(dir / "lab.gz", idx_labels(labels));
  for (const std::string suffix : {"", ".gz"}) {
    auto ds = rpg::open_dataset("idx:" + dir / "img" + suffix + "," + dir / "lab" + suffix,
                                {"a", "b", "c"}, 1);
    BOOST_TEST_REQUIRE(ds->size() == 3u);
    BOOST_TEST(ds->height() == 4);
    BOOST_TEST(ds->width() == 5);
    BOOST_TEST(ds->channels() == 1);
    for (size_t i = 0; i < 3; ++i) {
      BOOST_TEST(ds->label(i) == labels[i]);
      rpg::Image im = ds->image(i);
      BOOST_TEST_REQUIRE(im.data.size() == 20u);
      for (size_t k = 0; k < 20; ++k) BOOST_TEST(im.data[k] == px[i * 20 + k] / 255.f);
    }
  }
  auto rgb = rpg::open_idx_dataset(dir / "img.gz", dir / "lab.gz", 3, 3);
  rpg::Image im = rgb->image(2);
  BOOST_TEST(im.c == 3);
  BOOST_TEST(im.at(0, 3, 4) == im.at(2, 3, 4));
  BOOST_TEST(im.at(1, 3, 4) == px[59] / 255.f);
}

BOOST_AUTO_TEST_CASE(idx_corrupt_files_are_rejected) {
  TempDir dir;
  std::vector<uint8_t> px(2 * 3 * 3, 7);
  const std::string good_img = dir / "good_img", good_lab = dir / "good_lab";
  write_file(good_img, idx_images(2, 3, 3, px));
  write_file(good_lab, idx_labels({1, 0}));
  auto open = [](const std::string& img, const std::string& lab, int classes = 2) {
    return [=] { rpg::open_idx_dataset(img, lab, classes, 1); };
  };
  std::string full = idx_images(2, 3, 3, px);
  write_file(dir / "short", full.substr(0, full.size() - 1));
  expect_error(open(dir / "short", good_lab),
               {dir / "short", "truncated", "18 bytes of pixels", "holds 17"}, Status::FormatError);
  write_gz(dir / "short.gz", full.substr(0, full.size() - 5));
  expect_error(open(dir / "short.gz", good_lab), {dir / "short.gz", "truncated"},
               Status::FormatError);
  write_gz(dir / "cut.gz", full);  // a gzip stream cut short
  std::string gz;
  {
    std::ifstream in(dir / "cut.gz", std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_file(dir / "cut.gz", gz.substr(0, gz.size() - 6));
  expect_error(open(dir / "cut.gz", good_lab), {dir / "cut.gz"}, Status::FormatError);
  write_file(dir / "header", be32(0x803) + be32(2));
  expect_error(open(dir / "header", good_lab), {dir / "header", "truncated header"},
               Status::FormatError);
  expect_error(open(good_lab, good_img), {good_lab, "bad magic number 0x00000801", "label file"},
               Status::FormatError);
  expect_error(open(good_img, good_img), {good_img, "bad magic number 0x00000803"},
               Status::FormatError);
  write_file(dir / "three", idx_labels({1, 0, 1}));
  expect_error(open(good_img, dir / "three"), {dir / "three", "3 labels", good_img, "2 images"},
               Status::FormatError);
  write_file(dir / "big_label", idx_labels({1, 5}));
  expect_error(open(good_img, dir / "big_label"),
               {dir / "big_label", "label 5 of item 1", "classes=2"}, Status::FormatError);
  write_file(dir / "trailing", full + "x");
  expect_error(open(dir / "trailing", good_lab), {dir / "trailing", "bytes after"},
               Status::FormatError);
  write_file(dir / "huge", be32(0x803) + be32(4000) + be32(1000) + be32(500) + "abc");
  expect_error(open(dir / "huge", good_lab), {dir / "huge", "truncated"}, Status::FormatError);
  expect_error(open(dir / "missing", good_lab), {dir / "missing"}, Status::NotFound);
  expect_error(open(good_img, good_lab, 0), {"no class names"}, Status::InvalidArgument);
  expect_error(
      [&] {
        rpg::open_dataset("idx:" + good_img, {"a", "b"}, 1);
      },
      {"idx:IMAGES,LABELS"}, Status::InvalidArgument);
}

// ---- list files ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(labels_from_whole_path_components_and_tokens) {
  using V = std::vector<int>;
  const std::vector<std::string> cd = {"cat", "dog"}, rain = {"rain", "cat", "dog"};
  BOOST_TEST((rpg::matching_labels("data/train/cat_12.png", cd) == V{0}));
  BOOST_TEST(
      (rpg::matching_labels("data/train/cat_12.png", rain) == V{1}));  // 'train' is not 'rain'
  BOOST_TEST((rpg::matching_labels("data/train/12.png", rain) == V{}));
  BOOST_TEST((rpg::matching_labels("data/rain/12.png", rain) == V{0}));
  BOOST_TEST((rpg::matching_labels("x/dog/img-cat.png", cd) == V{0, 1}));
  BOOST_TEST((rpg::matching_labels("x/concatenate.png", cd) == V{}));
  BOOST_TEST((rpg::matching_labels("x/dogs/1.png", cd) == V{}));
  BOOST_TEST((rpg::matching_labels("/abs/DOG.1.jpg", cd) == V{}));  // case-sensitive, as Darknet
  BOOST_TEST((rpg::matching_labels("x/sea-lion_3.png", {"lion", "sea-lion"}) == V{0, 1}));
  BOOST_TEST((rpg::matching_labels("cat", cd) == V{0}));
}

BOOST_AUTO_TEST_CASE(list_dataset_grayscale_and_rgb) {
  TempDir dir;
  // gray 3x2: values 0, 50, ..., 250; RGB 2x2 with a known pixel and a gray one.
  write_png(dir / "data/train/cat_12.png", 3, 2, 1, {0, 50, 100, 150, 200, 250});
  write_png(dir / "data/train/dog/a.png", 2, 2, 3, {255, 0, 0, 10, 20, 30, 90, 90, 90, 0, 0, 255});
  write_file(dir / "data/list.txt",
             "\r\ntrain/cat_12.png\r\n   \r\n" + dir / "data/train/dog/a.png\r\n");
  const std::vector<std::string> names = {"rain", "cat", "dog"};
  auto gray = rpg::open_dataset(dir / "data/list.txt", names, 1);
  BOOST_TEST_REQUIRE(gray->size() == 2u);
  BOOST_TEST(gray->label(0) == 1);
  BOOST_TEST(gray->label(1) == 2);
  BOOST_TEST(gray->height() == 0);
  BOOST_TEST(gray->describe(0) == dir / "data/list.txt:2: " + dir / "data/train/cat_12.png");
  rpg::Image g = gray->image(0);
  BOOST_TEST(g.c == 1);
  BOOST_TEST(g.h == 2);
  BOOST_TEST(g.w == 3);
  for (int k = 0; k < 6; ++k) BOOST_TEST(g.data[k] == float(50 * k) / 255.f);
  BOOST_TEST(gray->image(1).at(0, 1, 0) == 90.f / 255.f);  // gray stays gray under luminance
  auto rgb = rpg::open_dataset(dir / "data/list.txt", names, 3);
  rpg::Image c = rgb->image(1);
  BOOST_TEST(c.c == 3);
  BOOST_TEST(c.at(0, 0, 0) == 1.f);
  BOOST_TEST(c.at(1, 0, 0) == 0.f);
  BOOST_TEST(c.at(0, 0, 1) == 10.f / 255.f);
  BOOST_TEST(c.at(1, 0, 1) == 20.f / 255.f);
  BOOST_TEST(c.at(2, 0, 1) == 30.f / 255.f);
  BOOST_TEST(c.at(2, 1, 1) == 1.f);
  BOOST_TEST(rgb->image(0).at(2, 1, 2) == 250.f / 255.f);  // gray file replicated into RGB
}

BOOST_AUTO_TEST_CASE(list_dataset_errors) {
  TempDir dir;
  write_png(dir / "cat/1.png", 1, 1, 1, {9});
  const std::vector<std::string> names = {"cat", "dog"};
  auto open = [&](const std::string& list) { return [=] { rpg::open_dataset(list, names, 1); }; };
  write_file(dir / "missing.txt", "cat/1.png\ncat/2.png\n");
  expect_error(open(dir / "missing.txt"), {dir / "missing.txt:2:", dir / "cat/2.png"},
               Status::NotFound);
  write_file(dir / "unlabelled.txt", "cat/1.png\nbird/3.png\n");
  expect_error(open(dir / "unlabelled.txt"),
               {dir / "unlabelled.txt:2:", "'bird/3.png'", "no class name"}, Status::ParseError);
  write_file(dir / "both.txt", "cat/dog_1.png\n");
  expect_error(open(dir / "both.txt"), {dir / "both.txt:1:", "several classes", "'cat', 'dog'"},
               Status::ParseError);
  write_file(dir / "empty.txt", "\n  \r\n");
  expect_error(open(dir / "empty.txt"), {dir / "empty.txt", "names no images"}, Status::ParseError);
  expect_error(open(dir / "nolist.txt"), {dir / "nolist.txt"}, Status::NotFound);
  write_file(dir / "dog/bad.png", "\x89PNG garbage, not an image");
  write_file(dir / "bad.txt", "cat/1.png\ndog/bad.png\n");
  auto ds = rpg::open_dataset(dir / "bad.txt", names, 3);  // readable: accepted up front
  BOOST_TEST(ds->image(0).c == 3);
  expect_error([&] { ds->image(1); }, {dir / "bad.txt:2:", dir / "dog/bad.png", "cannot decode"},
               Status::FormatError);
  expect_error([&] { rpg::open_dataset(dir / "bad.txt", names, 2); }, {"channels"},
               Status::InvalidArgument);
}

// ---- augmentation ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(validation_center_crop_is_exact) {
  rpg::Image src = ramp_image(2, 4, 8);
  rpg::AugmentOptions a;
  a.hue = .5f, a.exposure = 3, a.crop_padding = 4, a.angle = 30;  // ignored when !train
  std::vector<float> out = run(src, a, false, 1, 4, 4);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) BOOST_TEST(out[(c * 4 + y) * 4 + x] == src.at(c, y, x + 2));
  BOOST_TEST(run(src, a, false, 2, 4, 4) == out);
  // An 8x8 image for a 4x4 input: Darknet's resize_image on the corner-aligned grid, output
  // (x, y) sampling the source at (x * 7 / 3, y * 7 / 3), bilinearly (written out here).
  rpg::Image big = ramp_image(1, 8, 8);
  out = run(big, a, false, 1, 4, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      const double sx = x * 7.0 / 3, sy = y * 7.0 / 3;
      const int x0 = std::min(int(sx), 6), y0 = std::min(int(sy), 6);
      const double fx = sx - x0, fy = sy - y0;
      const double want = (1 - fy) * ((1 - fx) * big.at(0, y0, x0) + fx * big.at(0, y0, x0 + 1)) +
                          fy * ((1 - fx) * big.at(0, y0 + 1, x0) + fx * big.at(0, y0 + 1, x0 + 1));
      BOOST_TEST(std::fabs(out[y * 4 + x] - want) < 1e-6);
    }
  // min_crop plays no part in validation (Darknet's validate_classifier_single ignores it).
  a.min_crop = 16;
  BOOST_TEST(run(big, a, false, 1, 4, 4) == out);
}

// Darknet's classifier predict letterboxes: the image scaled to fit (aspect kept, integer
// sizes), centered on 0.5 gray.
BOOST_AUTO_TEST_CASE(predict_letterbox_is_darknets) {
  rpg::Image wide = ramp_image(1, 4, 8);  // 8 wide, 4 high, into 4 x 4: 4 x 2 at rows 1..2
  std::vector<float> out(16, -1.f);
  rpg::letterbox_input(wide, 4, 4, 1, out.data());
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      if (y == 0 || y == 3) {
        BOOST_TEST(out[size_t(y * 4 + x)] == .5f);
        continue;
      }
      const double sx = x * 7.0 / 3, sy = (y - 1) * 3.0;  // 8 -> 4 columns, 4 -> 2 rows
      const int x0 = std::min(int(sx), 6), y0 = std::min(int(sy), 3);
      const double fx = sx - x0;
      const double want = (1 - fx) * wide.at(0, y0, x0) + fx * wide.at(0, y0, x0 + 1);
      BOOST_TEST(std::fabs(out[size_t(y * 4 + x)] - want) < 1e-6);
    }
  rpg::Image same = ramp_image(3, 5, 5);  // already the network's size: copied exactly
  std::vector<float> copy(75);
  rpg::letterbox_input(same, 5, 5, 3, copy.data());
  BOOST_TEST(copy == same.data);
  rpg::Image gray = ramp_image(1, 5, 5);
  expect_error([&] { rpg::letterbox_input(gray, 5, 5, 3, copy.data()); }, {"1 channels"},
               Status::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(train_crop_and_flip_are_exact) {
  rpg::Image src = ramp_image(1, 6, 6);
  rpg::Image mirror = src;
  for (int y = 0; y < 6; ++y) std::reverse(&mirror.at(0, y, 0), &mirror.at(0, y, 0) + 6);
  rpg::AugmentOptions a = neutral();
  a.flip = true;
  int flips = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    std::vector<float> out = run(src, a, true, seed, 6, 6);
    bool same = out == src.data, flipped = out == mirror.data;
    BOOST_TEST((same || flipped));
    flips += flipped;
  }
  BOOST_TEST(flips > 5);
  BOOST_TEST(flips < 35);
  // No resize: a random whole-pixel window of a larger image.
  rpg::Image big = ramp_image(1, 10, 10);
  std::set<int> offsets;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    std::vector<float> out = run(big, neutral(), true, seed, 6, 6);
    int found = -1;
    for (int k = 0; k < 25 && found < 0; ++k)
      if (is_window(out, big, k % 5, k / 5, 6, 6)) found = k;
    BOOST_TEST(found >= 0);
    offsets.insert(found);
  }
  BOOST_TEST(offsets.size() > 10u);
}

BOOST_AUTO_TEST_CASE(crop_padding_shifts_with_zeros) {
  rpg::Image src(1, 8, 8);
  for (size_t i = 0; i < 64; ++i) src.data[i] = float(i + 1) / 64.f;
  rpg::AugmentOptions a = neutral();
  a.crop_padding = 2;
  std::set<int> shifts;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    std::vector<float> out = run(src, a, true, seed, 8, 8);
    BOOST_TEST_REQUIRE(out.size() == 64u);
    bool matched = false;
    for (int k = 0; k < 25 && !matched; ++k)
      if (is_window(out, src, k % 5 - 2, k / 5 - 2, 8, 8)) matched = true, shifts.insert(k);
    BOOST_TEST(matched);
  }
  BOOST_TEST(shifts.size() == 25u);  // every shift in [-2, 2]^2 occurs
  std::vector<float> wide = run(ramp_image(1, 5, 9), a, true, 3, 4, 3);  // any size in, out x out
  BOOST_TEST(wide.size() == 12u);
}

BOOST_AUTO_TEST_CASE(full_augmentation_is_deterministic_and_bounded) {
  rpg::Image src = ramp_image(3, 20, 30);
  rpg::AugmentOptions a;
  a.min_crop = 16, a.max_crop = 40, a.angle = 15, a.aspect = 1.5f, a.hue = .1f, a.saturation = 1.5f;
  a.exposure = 1.5f, a.crop_padding = 3;
  std::vector<float> first = run(src, a, true, 42, 16, 12);
  BOOST_TEST(first.size() == 3u * 16 * 12);
  BOOST_TEST(run(src, a, true, 42, 16, 12) == first);
  BOOST_TEST(run(src, a, true, 43, 16, 12) != first);
  for (float v : first) BOOST_TEST_REQUIRE((v >= 0.f && v <= 1.f));
  rpg::Image gray = ramp_image(1, 20, 30);
  for (float v : run(gray, a, true, 7, 16, 12)) BOOST_TEST_REQUIRE((v >= 0.f && v <= 1.f));
  rpg::Image hsv = src;
  rpg::distort_hsv(hsv, 0, 1, 1);
  for (size_t i = 0; i < src.data.size(); ++i)
    BOOST_TEST_REQUIRE(std::fabs(hsv.data[i] - src.data[i]) < 1e-6f);
  rpg::Rng rng(1);
  std::vector<float> out(16 * 12 * 3);
  expect_error([&] { rpg::make_input(gray, a, true, rng, 16, 12, 3, out.data()); }, {"1 channels"},
               Status::InvalidArgument);
  a.aspect = 0;
  expect_error([&] { rpg::make_input(src, a, true, rng, 16, 12, 3, out.data()); }, {"aspect"},
               Status::InvalidArgument);
}

// ---- the loader ------------------------------------------------------------------------------

namespace {

rpg::LoaderOptions loader_options(bool train, int batch = 4, uint64_t seed = 7) {
  rpg::LoaderOptions o;
  o.batch = batch, o.width = 4, o.height = 4, o.channels = 1, o.classes = 3;
  o.aug = neutral();
  o.train = train, o.seed = seed;
  return o;
}

// The samples of `count` batches, read back from the pixels (neutral augmentation keeps them).
std::vector<int> samples(rpg::BatchLoader& loader, int batch, int count,
                         std::vector<float>* xs = nullptr) {
  std::vector<int> out;
  std::vector<float> x(batch * 16), truth(batch * 3);
  std::vector<int> labels(batch);
  for (int k = 0; k < count; ++k) {
    loader.next(x.data(), truth.data(), labels.data());
    for (int b = 0; b < batch; ++b) {
      int s = sample_of(x[b * 16]);
      out.push_back(s);
      BOOST_TEST_REQUIRE(labels[b] == s % 3);
      for (int c = 0; c < 3; ++c) BOOST_TEST_REQUIRE(truth[b * 3 + c] == (c == s % 3 ? 1.f : 0.f));
    }
    if (xs) xs->insert(xs->end(), x.begin(), x.end());
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(loader_shuffles_each_epoch_reproducibly) {
  FakeDataset data(10, 3);
  rpg::BatchLoader a(data, loader_options(true)), b(data, loader_options(true));
  std::vector<int> sa = samples(a, 4, 10), sb = samples(b, 4, 10);
  BOOST_TEST(sa == sb);
  BOOST_TEST(a.position() == 40);
  BOOST_TEST(a.epoch() == 4);
  for (int e = 0; e < 4; ++e) {
    std::vector<int> epoch(sa.begin() + 10 * e, sa.begin() + 10 * e + 10);
    for (int k = 0; k < 10; ++k) BOOST_TEST(epoch[k] == int(a.sample_at(10 * e + k)));
    std::sort(epoch.begin(), epoch.end());
    for (int k = 0; k < 10; ++k) BOOST_TEST_REQUIRE(epoch[k] == k);  // a permutation
  }
  BOOST_TEST(!std::equal(sa.begin(), sa.begin() + 10, sa.begin() + 10));  // epochs differ
  rpg::BatchLoader other(data, loader_options(true, 4, 8));
  BOOST_TEST(samples(other, 4, 10) != sa);
  FakeDataset tiny(3, 3);  // a batch spanning several epochs
  rpg::BatchLoader wide(tiny, loader_options(true, 8));
  std::vector<int> sw = samples(wide, 8, 3);
  for (size_t e = 0; e < 8; ++e)
    BOOST_TEST(std::set<int>(sw.begin() + 3 * e, sw.begin() + 3 * e + 3).size() == 3u);
}

BOOST_AUTO_TEST_CASE(loader_validation_order_is_sequential) {
  FakeDataset data(5, 3);
  rpg::LoaderOptions o = loader_options(false, 3);
  o.aug.flip = true, o.aug.crop_padding = 2, o.aug.exposure = 2;  // not applied when !train
  rpg::BatchLoader loader(data, o);
  std::vector<float> xs;
  BOOST_TEST((samples(loader, 3, 4, &xs) == std::vector<int>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1}));
  for (size_t k = 0; k < xs.size(); ++k)
    BOOST_TEST_REQUIRE(xs[k] == float(sample_of(xs[k - k % 16]) + 1) / 1000.f);
}

BOOST_AUTO_TEST_CASE(loader_seek_resumes_exactly) {
  TempDir dir;
  std::vector<uint8_t> px(13 * 6 * 6);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 37) % 256);
  std::vector<uint8_t> labels(13);
  for (size_t i = 0; i < 13; ++i) labels[i] = uint8_t(i % 3);
  write_file(dir / "i", idx_images(13, 6, 6, px));
  write_file(dir / "l", idx_labels(labels));
  auto data = rpg::open_idx_dataset(dir / "i", dir / "l", 3, 1);
  rpg::LoaderOptions o = loader_options(true, 5);
  o.aug.flip = true, o.aug.crop_padding = 1, o.aug.exposure = 1.5f, o.aug.min_crop = 5,
  o.aug.max_crop = 8;
  const int per = 16;
  auto stream = [&](rpg::BatchLoader& l, int batches) {
    std::vector<float> all, x(5 * per), t(15);
    for (int k = 0; k < batches; ++k) {
      l.next(x.data(), t.data(), nullptr);
      all.insert(all.end(), x.begin(), x.end());
    }
    return all;
  };
  rpg::BatchLoader whole(*data, o);
  const std::vector<float> reference = stream(whole, 8);  // 40 images, three epochs
  for (int64_t p : {0, 5, 7, 13, 22}) {
    rpg::BatchLoader resumed(*data, o);
    resumed.seek(p);
    BOOST_TEST(resumed.position() == p);
    std::vector<float> got = stream(resumed, 3);
    BOOST_TEST((std::equal(got.begin(), got.end(), reference.begin() + p * per)),
               "seek(" << p << ")");
    BOOST_TEST(resumed.position() == p + 15);
  }
  whole.seek(10);  // backwards on a used loader
  std::vector<float> again = stream(whole, 2);
  BOOST_TEST((std::equal(again.begin(), again.end(), reference.begin() + 10 * per)));
}

// Data-parallel shards: of every 7 positions one loader takes 4 (in batches of 2) at 0, another
// 3 at 4; together they hand out exactly the images, augmented the same way, of one loader.
BOOST_AUTO_TEST_CASE(loader_shards_hand_out_one_loaders_images) {
  TempDir dir;
  std::vector<uint8_t> px(11 * 6 * 6);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 53) % 256);
  std::vector<uint8_t> labels(11);
  for (size_t i = 0; i < 11; ++i) labels[i] = uint8_t(i % 3);
  write_file(dir / "i", idx_images(11, 6, 6, px));
  write_file(dir / "l", idx_labels(labels));
  auto data = rpg::open_idx_dataset(dir / "i", dir / "l", 3, 1);
  rpg::LoaderOptions o = loader_options(true, 7);
  o.aug.flip = true, o.aug.crop_padding = 1, o.aug.exposure = 1.5f;
  const int per = 16;
  auto stream = [&](rpg::BatchLoader& l, int batch, int batches) {
    std::vector<float> all, x(size_t(batch * per)), t(size_t(batch * 3));
    for (int k = 0; k < batches; ++k) {
      l.next(x.data(), t.data(), nullptr);
      all.insert(all.end(), x.begin(), x.end());
    }
    return all;
  };
  rpg::BatchLoader whole(*data, o);
  const std::vector<float> reference = stream(whole, 7, 6);  // 42 images, four epochs
  struct Part { int64_t offset, count; int batch; };
  for (int64_t start : {0, 14}) {
    for (const Part& part : {Part{0, 4, 2}, Part{4, 3, 3}}) {
      rpg::LoaderOptions so = o;
      so.batch = part.batch, so.shard_period = 7, so.shard_offset = part.offset, so.shard_count = part.count;
      rpg::BatchLoader shard(*data, so);
      shard.seek(start);
      BOOST_TEST(shard.position() == start);
      const int periods = int((42 - start) / 7);
      const std::vector<float> got = stream(shard, part.batch, periods * int(part.count) / part.batch);
      for (int k = 0; k < periods; ++k)
        BOOST_TEST_REQUIRE((std::equal(got.begin() + k * part.count * per, got.begin() + (k + 1) * part.count * per,
                                       reference.begin() + (start + 7 * k + part.offset) * per)),
                           "shard at " << part.offset << ", period " << k << " from " << start);
      BOOST_TEST(shard.position() == 42);  // whole periods: every shard's images count
    }
  }
  rpg::LoaderOptions bad = o;
  bad.batch = 3, bad.shard_period = 7, bad.shard_offset = 0, bad.shard_count = 4;  // 4 is no multiple of 3
  expect_error([&] { rpg::BatchLoader l(*data, bad); }, {"shard of 4 images"}, Status::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(loader_errors) {
  FakeDataset broken(10, 3, 5);
  rpg::BatchLoader loader(broken, loader_options(false, 2));
  std::vector<float> x(2 * 16);
  loader.next(x.data(), nullptr, nullptr);
  loader.next(x.data(), nullptr, nullptr);
  expect_error([&] { loader.next(x.data(), nullptr, nullptr); }, {"fake #5: broken"},
               Status::FormatError);
  expect_error([&] { loader.next(x.data(), nullptr, nullptr); }, {"fake #5"}, Status::FormatError);
  loader.seek(0);
  loader.next(x.data(), nullptr, nullptr);
  BOOST_TEST(sample_of(x[16]) == 1);
  FakeDataset many(4, 7);  // labels up to 6 for classes=3
  rpg::BatchLoader bad_label(many, loader_options(false, 4));
  expect_error([&] { bad_label.next(x.data(), nullptr, nullptr); },
               {"fake #3: label 3", "classes=3"}, Status::InvalidArgument);
  rpg::LoaderOptions o = loader_options(true);
  o.channels = 3;
  expect_error([&] { rpg::BatchLoader l(many, o); }, {"1 channels"}, Status::InvalidArgument);
  o = loader_options(true, 0);
  expect_error([&] { rpg::BatchLoader l(many, o); }, {"batch"}, Status::InvalidArgument);
  rpg::BatchLoader idle(many, loader_options(true));  // destroyed with both slots full
}

// Issue 15: a sample that cannot be decoded mid-epoch is replaced by the next readable one of the
// epoch's order and reported (before, it ended the run); the batches stay reproducible.
BOOST_AUTO_TEST_CASE(loader_skips_unreadable_samples_when_asked) {
  FakeDataset broken(10, 3, 5);
  rpg::LoaderOptions o = loader_options(false, 4);
  o.skip_bad_samples = true;
  rpg::BatchLoader loader(broken, o);
  std::vector<float> x(4 * 16);
  std::vector<int> labels(4);
  loader.next(x.data(), nullptr, labels.data());
  BOOST_TEST(loader.take_skipped().empty());
  loader.next(x.data(), nullptr, labels.data());  // positions 4..7: sample 5 is broken
  std::vector<int> got;
  for (int b = 0; b < 4; ++b) got.push_back(sample_of(x[size_t(b) * 16]));
  BOOST_TEST((got == std::vector<int>{4, 6, 6, 7}));  // 5 replaced by the next one, 6
  BOOST_TEST(labels[1] == 0);                         // the label of sample 6, not of 5
  const std::vector<rpg::SkippedSample> skipped = loader.take_skipped();
  BOOST_TEST_REQUIRE(skipped.size() == 1u);
  BOOST_TEST(skipped[0].position == 5);
  BOOST_TEST(skipped[0].where == "fake #5");
  BOOST_TEST(skipped[0].reason == "fake #5: broken");
  BOOST_TEST(loader.take_skipped().empty());  // taken once
  loader.seek(4);                             // the same batch again, the same replacement
  loader.next(x.data(), nullptr, labels.data());
  BOOST_TEST(sample_of(x[16]) == 6);
  BOOST_TEST(loader.take_skipped().size() == 1u);

  FakeDataset all_bad(1, 3, 0);
  rpg::BatchLoader hopeless(all_bad, o);
  expect_error([&] { hopeless.next(x.data(), nullptr, nullptr); },
               {"no sample of the 1 in the data set can be read", "fake #0: broken"}, Status::FormatError);
}

// Issue 15: a PNG cut before its end had an empty reason ("cannot decode image 'x.png': ").
BOOST_AUTO_TEST_CASE(truncated_png_errors_say_what_is_wrong) {
  TempDir dir;
  write_png(dir / "good.png", 16, 16, 1, std::vector<uint8_t>(256, 7));
  std::ifstream in(dir / "good.png", std::ios::binary);
  const std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST_REQUIRE(png.size() > 60u);
  for (size_t cut : {png.size() - 12, png.size() / 2, size_t(40)}) {
    const std::string path = dir / ("cut" + std::to_string(cut) + ".png");
    write_file(path, png.substr(0, cut));
    try {
      rpg::load_image(path, 1);
      BOOST_ERROR("no error for a PNG cut at " << cut << " of " << png.size() << " bytes");
    } catch (const rpg::Error& e) {
      const std::string m = e.what();
      BOOST_TEST(int(e.status()) == int(Status::FormatError));
      BOOST_TEST(m.find("'" + path + "': corrupt or truncated (stb_image: ") != std::string::npos, m);
      BOOST_TEST(m.find("stb_image: )") == std::string::npos, m);  // never an empty reason
    }
  }
}

namespace {
const std::string kFashionDir = "/usr/share/datasets/fashion-mnist/";
// Skipped, and counted as skipped with this reason, where the data set is not installed.
boost::test_tools::assertion_result have_fashion_mnist(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(rpg_test::is_dir(kFashionDir));
  r.message() << kFashionDir << " is absent (Debian package dataset-fashion-mnist)";
  return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(fashion_mnist_test_set, *boost::unit_test::precondition(have_fashion_mnist)) {
  const std::string& dir = kFashionDir;
  std::vector<std::string> names;
  for (int k = 0; k < 10; ++k) names.push_back("class" + std::to_string(k));
  auto ds = rpg::open_dataset(
      "idx:" + dir + "t10k-images-idx3-ubyte.gz," + dir + "t10k-labels-idx1-ubyte.gz", names, 1);
  BOOST_TEST_REQUIRE(ds->size() == 10000u);
  BOOST_TEST(ds->height() == 28);
  BOOST_TEST(ds->width() == 28);
  std::vector<int> counts(10);
  for (size_t i = 0; i < ds->size(); ++i) ++counts.at(ds->label(i));
  for (int k = 0; k < 10; ++k) BOOST_TEST(counts[k] == 1000);  // the test set is balanced
  rpg::Image im = ds->image(0);
  BOOST_TEST(*std::max_element(im.data.begin(), im.data.end()) > .5f);
  rpg::LoaderOptions o;
  o.batch = 64, o.width = 28, o.height = 28, o.channels = 1, o.classes = 10, o.train = true;
  o.aug.crop_padding = 2;
  rpg::BatchLoader loader(*ds, o);
  std::vector<float> x(64 * 28 * 28), truth(64 * 10);
  for (int k = 0; k < 3; ++k) loader.next(x.data(), truth.data(), nullptr);
  BOOST_TEST(std::accumulate(truth.begin(), truth.end(), 0.f) == 64.f);
}

// ---------------------------------------------------------------------------------------------
// Limits (issue 15): sizes announced by headers are checked before anything is decoded or read,
// and files that are not regular files are refused instead of read without end or waited on.

namespace {

// A PNG that is only its signature and header chunk: what stbi_info reads.
std::string png_header_only(uint32_t w, uint32_t h) {
  std::string ihdr = "IHDR" + be32(w) + be32(h) + std::string("\x08\x00\x00\x00\x00", 5);
  const uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef*>(ihdr.data()), uInt(ihdr.size())));
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr + be32(crc);
}

}  // namespace

BOOST_AUTO_TEST_CASE(images_beyond_the_size_limit_are_refused_from_their_header) {
  TempDir dir;
  // 16385 x 1: a real image, one pixel wider than the limit (it used to decode).
  write_png(dir / "wide.png", rpg::kMaxImageSide + 1, 1, 1, std::vector<uint8_t>(rpg::kMaxImageSide + 1, 7));
  expect_error([&] { rpg::load_image(dir / "wide.png", 1); },
               {"wide.png", "16385 x 1 pixels, beyond the limit of 16384 pixels per side"}, Status::FormatError);
  // 8193 x 8193 announced: 2^26 + 16385 pixels. Refused before decoding (the data are missing:
  // before the limit, the message was stb_image's complaint about them).
  write_file(dir / "big.png", png_header_only(8193, 8193));
  expect_error([&] { rpg::load_image(dir / "big.png", 3, "list.txt:3: "); },
               {"list.txt:3: ", "big.png", "8193 x 8193 pixels, beyond the limit", "67108864 pixels in all"},
               Status::FormatError);
  write_png(dir / "ok.png", 3, 2, 1, std::vector<uint8_t>(6, 9));
  BOOST_TEST(rpg::load_image(dir / "ok.png", 1).w == 3);
}

BOOST_AUTO_TEST_CASE(idx_headers_beyond_the_limits_are_refused_before_reading) {
  TempDir dir;
  const std::string labels = dir / "lab";
  write_file(labels, idx_labels(std::vector<uint8_t>(100, 0)));
  // 100 images of 8192 x 8192: 6.7 GB announced by a 16-byte header (a gzipped file of zeros that
  // size inflated until memory ran out).
  write_gz(dir / "huge.gz", idx_images(100, 8192, 8192, {}));
  expect_error([&] { rpg::open_idx_dataset(dir / "huge.gz", labels, 2, 1); },
               {"huge.gz", "6710886400 bytes of pixels, beyond the limit of 2147483648"}, Status::FormatError);
  write_file(dir / "wide", idx_images(1, 1, 20000, {}));
  expect_error([&] { rpg::open_idx_dataset(dir / "wide", labels, 2, 1); },
               {"implausible image size 1x20000", "16384 per side"}, Status::FormatError);
}

BOOST_AUTO_TEST_CASE(devices_and_fifos_are_not_read_as_files) {
  TempDir dir;
  const std::string fifo = dir / "fifo";
  BOOST_TEST_REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  for (const std::string& path : {std::string("/dev/zero"), fifo}) {
    // Before: /dev/zero was read without end, and opening the FIFO waited for a writer forever.
    expect_error([&] { rpg::load_data_config(path); }, {path, "not a regular file"}, Status::NotFound);
    expect_error([&] { rpg::load_image(path, 1); }, {path, "not a regular file"}, Status::NotFound);
    expect_error([&] { rpg::open_idx_dataset(path, path, 2, 1); }, {path, "not a regular file"}, Status::NotFound);
  }
}
