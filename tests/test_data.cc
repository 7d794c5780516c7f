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

#include "core/error.h"
#include "core/random.h"
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
  write_file(dir / "huge", be32(0x803) + be32(4000000) + be32(60000) + be32(60000) + "abc");
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
  // An 8x8 image for a 4x4 input halves: each output averages a 2x2 block.
  rpg::Image big = ramp_image(1, 8, 8);
  out = run(big, a, false, 1, 4, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      float want = (big.at(0, 2 * y, 2 * x) + big.at(0, 2 * y, 2 * x + 1) +
                    big.at(0, 2 * y + 1, 2 * x) + big.at(0, 2 * y + 1, 2 * x + 1)) /
                   4;
      BOOST_TEST(std::fabs(out[y * 4 + x] - want) < 1e-6f);
    }
  a.min_crop = 16;  // shorter side to 16, then the center 4x4
  out = run(big, a, false, 1, 4, 4);
  rpg::Image up = rpg::resize_bilinear(big, 16, 16);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) BOOST_TEST(out[y * 4 + x] == up.at(0, y + 6, x + 6));
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
