// The training loop end to end (src/train): learning small synthetic problems from PNG list files
// and from IDX files (plain and gzip) through .data files, and bit-exact resume from a checkpoint
// (batch norm, subdivisions, dropout, burn-in, poly rate, random crops) across thread counts.
#define BOOST_TEST_MODULE train
#include <stb_image_write.h>
#include <zlib.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/random.h"
#include "data/loader.h"
#include "data/data_config.h"
#include "data/dataset.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/darknet_weights.h"
#include "testing.h"
#include "train/data_parallel.h"
#include "train/trainer.h"

namespace {

namespace fs = std::filesystem;
using rpg_test::TempDir;
using rpg_test::write_file;

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  BOOST_TEST_REQUIRE(f != nullptr);
  BOOST_TEST_REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  BOOST_TEST_REQUIRE(gzclose(f) == Z_OK);
}

std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16 & 255), char(v >> 8 & 255), char(v & 255)};
}

uint8_t to_byte(float v) { return uint8_t(std::lround(std::clamp(v, 0.f, 1.f) * 255.f)); }

// ---------------------------------------------------------------------------------------------
// Synthetic images, values in [0, 1], row-major h x w.

// Classes of the PNG problem: 0 horizontal bars, 1 vertical bars, 2 a blob near the centre.
std::vector<float> png_sample(int cls, int size, rpg::Rng& rng) {
  std::vector<float> im(size_t(size) * size);
  for (auto& v : im) v = rng.uniform(0.f, .25f);  // background noise
  if (cls == 2) {
    const float cy = (size - 1) / 2.f + rng.uniform(-2.f, 2.f), cx = (size - 1) / 2.f + rng.uniform(-2.f, 2.f);
    const float sigma = rng.uniform(1.8f, 3.2f), peak = rng.uniform(.7f, 1.f);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const float d2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
        float& v = im[size_t(y) * size + x];
        v = std::min(1.f, v + peak * std::exp(-d2 / (2 * sigma * sigma)));
      }
    return im;
  }
  const int bars = 2 + rng.below(2);
  for (int b = 0; b < bars; ++b) {
    const int at = 1 + rng.below(size - 3), thick = 1 + rng.below(2);
    const int from = rng.below(3), to = size - rng.below(3);  // not always full length
    const float level = rng.uniform(.65f, 1.f);
    for (int t = 0; t < thick; ++t)
      for (int i = from; i < to; ++i) {
        const int y = cls == 0 ? at + t : i, x = cls == 0 ? i : at + t;
        im[size_t(y) * size + x] = level;
      }
  }
  return im;
}

// Classes of the IDX problem: 0 a horizontal line, 1 a vertical line, 2 a diagonal line,
// 3 a small filled square, each at a random place.
std::vector<float> idx_sample(int cls, int size, rpg::Rng& rng) {
  std::vector<float> im(size_t(size) * size);
  for (auto& v : im) v = rng.uniform(0.f, .2f);
  auto put = [&](int y, int x, float v) {
    if (y >= 0 && y < size && x >= 0 && x < size) im[size_t(y) * size + x] = v;
  };
  const float level = rng.uniform(.7f, 1.f);
  const int len = size - 2 - rng.below(3), start = rng.below(size - len + 1);
  switch (cls) {
    case 0: {
      const int y = 1 + rng.below(size - 2);
      for (int i = 0; i < len; ++i) put(y, start + i, level);
      break;
    }
    case 1: {
      const int x = 1 + rng.below(size - 2);
      for (int i = 0; i < len; ++i) put(start + i, x, level);
      break;
    }
    case 2: {
      const int shift = rng.below(5) - 2;
      for (int i = 0; i < len; ++i) put(start + i, start + i + shift, level);
      break;
    }
    default: {
      const int s = 3 + rng.below(2), y = rng.below(size - s + 1), x = rng.below(size - s + 1);
      for (int dy = 0; dy < s; ++dy)
        for (int dx = 0; dx < s; ++dx) put(y + dy, x + dx, level);
    }
  }
  return im;
}

// ---------------------------------------------------------------------------------------------
// Data sets on disk.

const std::vector<std::string> kPngClasses = {"bars_h", "bars_v", "blob"};

// `count` 16x16 grayscale PNGs in dir/<class>/img_<i>.png (class i % 3), the first `train` of
// them listed in train.list, the rest in valid.list; labels.txt and shapes.data next to them.
// Returns the .data path.
std::string write_png_problem(const TempDir& dir, int count, int train) {
  rpg::Rng rng(2024);
  std::string train_list, valid_list;
  for (int i = 0; i < count; ++i) {
    const int cls = i % 3;
    const std::vector<float> im = png_sample(cls, 16, rng);
    std::vector<uint8_t> px(im.size());
    std::transform(im.begin(), im.end(), px.begin(), to_byte);
    const std::string rel = kPngClasses[size_t(cls)] + "/img_" + std::to_string(i) + ".png";
    fs::create_directories(fs::path(dir / rel).parent_path());
    BOOST_TEST_REQUIRE(stbi_write_png((dir / rel).c_str(), 16, 16, 1, px.data(), 16) != 0);
    (i < train ? train_list : valid_list) += rel + "\n";
  }
  write_file(dir / "train.list", train_list);
  write_file(dir / "valid.list", valid_list);
  write_file(dir / "labels.txt", "bars_h\nbars_v\nblob\n");
  write_file(dir / "shapes.data",
             "classes = 3\ntrain = train.list\nvalid = valid.list\nlabels = labels.txt\nbackup = backup\n");
  return dir / "shapes.data";
}

// `count` size x size IDX images of the 4 classes of idx_sample (labels in a shuffled order),
// the first `train` in train-*, the rest in valid-*. Train images are plain and train labels
// gzip; valid images gzip and valid labels plain, so both readers are used for both kinds.
// Returns the .data path (relative idx: paths).
std::string write_idx_problem(const TempDir& dir, int count, int train, int size) {
  rpg::Rng rng(77);
  std::string images[2], labels[2];
  const int counts[2] = {train, count - train};
  for (int part = 0; part < 2; ++part) {
    images[part] = be32(0x803) + be32(uint32_t(counts[part])) + be32(uint32_t(size)) + be32(uint32_t(size));
    labels[part] = be32(0x801) + be32(uint32_t(counts[part]));
  }
  for (int i = 0; i < count; ++i) {
    const int part = i < train ? 0 : 1;
    const int cls = rng.below(4);
    for (float v : idx_sample(cls, size, rng)) images[part] += char(to_byte(v));
    labels[part] += char(cls);
  }
  write_file(dir / "idx/train-images-idx3-ubyte", images[0]);
  write_gz(dir / "idx/train-labels-idx1-ubyte.gz", labels[0]);
  write_gz(dir / "idx/valid-images-idx3-ubyte.gz", images[1]);
  write_file(dir / "idx/valid-labels-idx1-ubyte", labels[1]);
  write_file(dir / "idx/names", "hline\nvline\ndiag\nsquare\n");
  write_file(dir / "idx/lines.data",
             "# synthetic IDX problem\nclasses = 4\n"
             "train = idx:train-images-idx3-ubyte,train-labels-idx1-ubyte.gz\n"
             "valid = idx:valid-images-idx3-ubyte.gz,valid-labels-idx1-ubyte\n"
             "names = names\nbackup = backup\ntop = 2\n");
  return dir / "idx/lines.data";
}

struct Sets {
  rpg::DataConfig config;
  std::vector<std::string> names;
  std::unique_ptr<rpg::Dataset> train, valid;
};

Sets open_sets(const std::string& data_path, int channels) {
  Sets s;
  s.config = rpg::load_data_config(data_path);
  s.names = rpg::load_labels(s.config.labels, s.config.classes);
  s.train = rpg::open_dataset(s.config.train, s.names, channels);
  s.valid = rpg::open_dataset(s.config.valid, s.names, channels);
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---------------------------------------------------------------------------------------------
// Network state, for bit-exact comparisons.

struct Snapshot {
  std::vector<std::vector<float>> tensors;  // per layer: weight_file_order(), then params() values and grads
  std::vector<int64_t> bn_updates;
  uint64_t passes = 0;
};

Snapshot snapshot(rpg::Network& net) {
  Snapshot s;
  for (const auto& l : net.layers()) {
    for (auto* b : l->weight_file_order()) s.tensors.push_back(b->to_vector());
    for (const rpg::Param& p : l->params()) {
      s.tensors.push_back(p.value->to_vector());
      s.tensors.push_back(p.grad->to_vector());
    }
    if (int64_t* u = l->bn_updates()) s.bn_updates.push_back(*u);
  }
  s.passes = net.passes();
  return s;
}

// Bitwise equality (memcmp, so -0 vs 0 or NaN payloads count too); reports the first difference.
bool same_bits(const Snapshot& a, const Snapshot& b, const std::string& what) {
  BOOST_TEST_REQUIRE(a.tensors.size() == b.tensors.size(), what);
  size_t differing = 0;
  for (size_t t = 0; t < a.tensors.size(); ++t) {
    const auto& x = a.tensors[t];
    const auto& y = b.tensors[t];
    BOOST_TEST_REQUIRE(x.size() == y.size(), what << ": tensor " << t);
    if (std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0) continue;
    if (differing++ == 0) {
      size_t i = 0;
      while (std::memcmp(&x[i], &y[i], sizeof(float)) == 0) ++i;
      size_t n = 0;
      float worst = 0;
      for (size_t j = 0; j < x.size(); ++j) {
        n += std::memcmp(&x[j], &y[j], sizeof(float)) != 0;
        worst = std::max(worst, std::fabs(x[j] - y[j]));
      }
      BOOST_ERROR(what << ": tensor " << t << " differs first at [" << i << "]: " << std::setprecision(9) << x[i]
                       << " vs " << y[i] << " ("
                       << n << " of " << x.size() << " values differ, max |diff| " << worst << ")");
    }
  }
  if (differing > 1) BOOST_ERROR(what << ": " << differing << " tensors differ in all");
  BOOST_TEST((a.bn_updates == b.bn_updates), what << ": batch-norm update counts");
  BOOST_TEST(a.passes == b.passes, what << ": pass counters");
  return differing == 0 && a.bn_updates == b.bn_updates && a.passes == b.passes;
}

bool nonzero(const Snapshot& s) {
  for (const auto& t : s.tensors)
    for (float v : t)
      if (v != 0.f) return true;
  return false;
}

rpg::TrainOptions quiet_options(const std::string& backup, int64_t checkpoint_every = 0) {
  rpg::TrainOptions o;
  o.backup_dir = backup;
  o.name = "net";
  o.checkpoint_every = checkpoint_every;
  o.report_every = 1000000;
  return o;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(learning)

// 300 PNGs (240 train, 60 valid) of three visually distinct classes in class-named folders.
BOOST_AUTO_TEST_CASE(png_list_problem_reaches_95_percent) {
  TempDir dir;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string data = write_png_problem(dir, 300, 240);
  Sets s = open_sets(data, 1);
  BOOST_TEST_REQUIRE(s.train->size() == 240u);
  BOOST_TEST_REQUIRE(s.valid->size() == 60u);
  for (size_t i = 0; i < 6; ++i) BOOST_TEST(s.train->label(i) == int(i % 3), "labels come from folder names");

  const std::string cfg =
      "[net]\nbatch=24\nsubdivisions=1\nwidth=16\nheight=16\nchannels=1\n"
      "learning_rate=0.05\nmomentum=0.9\ndecay=0.0005\npolicy=poly\npower=1\nburn_in=5\n"
      "max_batches=80\nseed=3\n"
      "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
      "[maxpool]\nsize=2\nstride=2\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
      "[maxpool]\nsize=2\nstride=2\n"
      "[connected]\noutput=3\nactivation=linear\n"
      "[softmax]\n";
  auto net = rpg_test::net_from_text(cfg, 1, "shapes.cfg");
  const rpg::Evaluation before = rpg::evaluate(*net, *s.valid, 1);
  rpg::Trainer trainer(*net, *s.train, quiet_options(s.config.backup));
  BOOST_TEST(trainer.max_iterations() == 80);
  const rpg::TrainResult r = trainer.run({});
  BOOST_TEST(r.finished);
  BOOST_TEST(!r.interrupted);
  BOOST_TEST(r.state.iteration == 80);
  BOOST_TEST(r.state.seen == 80 * 24);
  BOOST_TEST(r.weights == s.config.backup + "/net.weights");
  BOOST_TEST(fs::is_regular_file(r.weights));
  BOOST_TEST(fs::is_regular_file(s.config.backup + "/net.ckpt"));

  const rpg::Evaluation e = rpg::evaluate(*net, *s.valid, 1);
  BOOST_TEST_MESSAGE("png: top-1 " << before.top1 << " before, " << e.top1 << " after training, loss " << e.loss
                                   << "; " << seconds_since(t0) << " s");
  BOOST_TEST(e.images == 60);
  BOOST_TEST(e.top1 >= 0.95, "valid top-1 " << e.top1 << " (chance: 0.33)");
  BOOST_TEST(e.loss < before.loss);
  int64_t diagonal = 0, total = 0;
  for (int t = 0; t < 3; ++t)
    for (int p = 0; p < 3; ++p) {
      total += e.confusion[size_t(t * 3 + p)];
      if (t == p) diagonal += e.confusion[size_t(t * 3 + p)];
    }
  BOOST_TEST(total == 60);
  BOOST_TEST(double(diagonal) / 60 == e.top1);

  // The final .weights file reproduces the evaluation in a fresh network.
  auto fresh = rpg_test::net_from_text(cfg, 1, "shapes.cfg");
  rpg::load_darknet_weights(*fresh, r.weights);
  const rpg::Evaluation e2 = rpg::evaluate(*fresh, *s.valid, 1);
  BOOST_TEST(e2.top1 == e.top1);
  BOOST_TEST(e2.loss == e.loss);
}

// 500 IDX images 12x12 of four classes (400 train, 100 valid), plain and gzip files.
BOOST_AUTO_TEST_CASE(idx_problem_reaches_95_percent) {
  TempDir dir;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string data = write_idx_problem(dir, 500, 400, 12);
  Sets s = open_sets(data, 1);
  BOOST_TEST_REQUIRE(s.train->size() == 400u);
  BOOST_TEST_REQUIRE(s.valid->size() == 100u);
  BOOST_TEST(s.config.top == 2);
  int seen[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < s.valid->size(); ++i) ++seen[s.valid->label(i)];
  for (int c = 0; c < 4; ++c) BOOST_TEST(seen[c] >= 10, "class " << c << " has " << seen[c] << " valid images");

  const std::string cfg =
      "[net]\nbatch=32\nsubdivisions=1\nwidth=12\nheight=12\nchannels=1\n"
      "learning_rate=0.05\nmomentum=0.9\ndecay=0.0005\npolicy=steps\nsteps=60,90\nscales=.3,.3\n"
      "burn_in=5\nmax_batches=100\nseed=5\nflip=0\n"
      "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
      "[maxpool]\nsize=2\nstride=2\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
      "[maxpool]\nsize=2\nstride=2\n"
      "[connected]\noutput=4\nactivation=linear\n"
      "[softmax]\n";
  auto net = rpg_test::net_from_text(cfg, 1, "lines.cfg");
  rpg::Trainer trainer(*net, *s.train, quiet_options(s.config.backup));
  const rpg::TrainResult r = trainer.run({});
  BOOST_TEST(r.finished);
  const rpg::Evaluation e = rpg::evaluate(*net, *s.valid, s.config.top);
  BOOST_TEST_MESSAGE("idx: top-1 " << e.top1 << ", top-2 " << e.topk << ", loss " << e.loss << "; "
                                   << seconds_since(t0) << " s");
  BOOST_TEST(e.images == 100);
  BOOST_TEST(e.k == 2);
  BOOST_TEST(e.top1 >= 0.95, "valid top-1 " << e.top1 << " (chance: 0.25)");
  BOOST_TEST(e.topk >= e.top1);
}

// Batch-norm recalibration: every batch-norm layer's running statistics become the equal-weight
// average of the statistics of the first N training batches (two convolutional layers and a
// connected one, so the later layers see inputs normalised with batch statistics), stale
// values are forgotten, and the weights do not change.
BOOST_AUTO_TEST_CASE(batchnorm_recalibration_averages_the_batch_statistics) {
  TempDir dir;
  Sets s = open_sets(write_idx_problem(dir, 200, 160, 12), 1);
  const std::string cfg =
      "[net]\nbatch=16\nsubdivisions=1\nwidth=12\nheight=12\nchannels=1\nmax_batches=10\nseed=9\nflip=0\n"
      "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
      "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=2\npad=1\nactivation=relu\n"
      "[connected]\nbatch_normalize=1\noutput=5\nactivation=leaky\n"
      "[connected]\noutput=4\nactivation=linear\n[softmax]\n";
  auto recal = rpg_test::net_from_text(cfg, 1, "recal.cfg");
  auto probe = rpg_test::net_from_text(cfg, 1, "recal.cfg");
  constexpr int kBatches = 3;
  // Per tensor of weight_file_order(): its values, and whether it is a running statistic (in
  // Darknet's order: convolutional biases, scales, rolling mean, rolling var, weights;
  // connected biases, weights, scales, rolling mean, rolling var).
  struct Tensor {
    std::vector<float> v;
    bool running;
  };
  auto stats = [](rpg::Network& net) {
    std::vector<Tensor> out;
    for (const auto& l : net.layers()) {
      const auto order = l->weight_file_order();
      const size_t first = l->type == "connected" ? 3 : 2;
      for (size_t k = 0; k < order.size(); ++k)
        out.push_back({order[k]->to_vector(), l->bn_updates() && (k == first || k == first + 1)});
    }
    return out;
  };
  // Stale values that recalibration must forget.
  for (const auto& l : recal->layers())
    if (int64_t* u = l->bn_updates()) *u = 1000;
  const auto before = stats(*recal);
  BOOST_TEST_REQUIRE(rpg::recalibrate_batchnorm(*recal, *s.train, kBatches) == 3);

  // The reference: each batch on its own (the first update after a reset copies the batch
  // statistics), then averaged here.
  rpg::LoaderOptions o;
  o.batch = 16;
  o.width = o.height = 12;
  o.channels = 1;
  o.classes = 4;
  o.train = false;
  o.seed = 9;
  rpg::BatchLoader loader(*s.train, o);
  std::vector<float> x(16 * 144);
  std::vector<std::vector<Tensor>> per_batch;
  for (int i = 0; i < kBatches; ++i) {
    loader.next(x.data(), nullptr, nullptr);
    for (const auto& l : probe->layers())
      if (int64_t* u = l->bn_updates()) *u = 0;
    probe->predict(x.data(), true);
    per_batch.push_back(stats(*probe));
  }
  const auto got = stats(*recal);
  BOOST_TEST_REQUIRE(got.size() == before.size());
  size_t checked = 0;
  for (size_t t = 0; t < got.size(); ++t) {
    for (size_t i = 0; i < got[t].v.size(); ++i) {
      if (!got[t].running) {
        BOOST_TEST(got[t].v[i] == before[t].v[i], "tensor " << t << "[" << i << "] changed");
        continue;
      }
      ++checked;
      double mean = 0;
      for (int b = 0; b < kBatches; ++b) mean += per_batch[size_t(b)][t].v[i] / kBatches;
      BOOST_TEST(std::abs(per_batch[0][t].v[i] - per_batch[1][t].v[i]) > 1e-6,
                 "tensor " << t << "[" << i << "]: the batches do not differ, the test shows nothing");
      BOOST_TEST(std::abs(got[t].v[i] - mean) <= 1e-5 * (1 + std::abs(mean)),
                 "tensor " << t << "[" << i << "]: " << got[t].v[i] << ", average of the batches " << mean);
    }
  }
  // 3 layers x (mean + variance) x channels (4 + 6 + 5) running values were recomputed.
  BOOST_TEST(checked == 2u * (4 + 6 + 5));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(resume)

namespace {

// Every piece of training state matters here: batch norm (running statistics, update counts),
// two subdivisions (gradient accumulation), dropout (masks seeded by the pass counter), random
// crops (seeded by the loader position), burn-in, and a poly rate that depends on the run's
// length (not on where the first half stopped). 32 images a pass make the CPU backend split its
// work on 2 threads (per-image convolutions, partial weight gradients, blocks of the connected
// layers' sgemm, element-wise loops).
const char* kResumeCfg =
    "[net]\nbatch=64\nsubdivisions=2\nwidth=12\nheight=12\nchannels=1\n"
    "learning_rate=0.05\nmomentum=0.9\ndecay=0.0005\n"
    "policy=poly\npower=2\nburn_in=6\n"
    "max_batches=20\nseed=11\ncrop_padding=1\nflip=1\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[dropout]\nprobability=.25\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[connected]\nbatch_normalize=1\noutput=24\nactivation=leaky\n"
    "[dropout]\nprobability=.3\n"
    "[connected]\noutput=4\nactivation=linear\n"
    "[softmax]\n";

constexpr int64_t kUpdates = 20, kStopAt = 10;

struct Run {
  Snapshot net;
  rpg::TrainState state;
  std::string checkpoint_bytes;  // the final checkpoint file
  std::string weights_bytes;     // the final .weights file
};

Run finish(rpg::Network& net, const rpg::TrainResult& r) {
  BOOST_TEST(r.finished);
  BOOST_TEST(r.state.iteration == kUpdates);
  Run run{snapshot(net), r.state, rpg::read_file(r.checkpoint), rpg::read_file(r.weights)};
  return run;
}

Run one_go(const rpg::Dataset& train, const std::string& backup, int threads,
           rpg::CpuEngine engine = rpg::CpuEngine::OneDnn) {
  auto net = rpg_test::net_from_text(kResumeCfg, threads, "resume.cfg", engine);
  rpg::Trainer trainer(*net, train, quiet_options(backup, 0));
  BOOST_TEST_REQUIRE(trainer.max_iterations() == kUpdates);
  const rpg::TrainResult r = trainer.run({});
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(backup)) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  BOOST_TEST(files == (std::vector<std::string>{"net.ckpt", "net.weights"}),
             "checkpoint_every=0 writes only the final files");
  return finish(*net, r);
}

// Stops at kStopAt with a checkpoint (on `threads_before` threads), then continues in a fresh
// network and a new Trainer (on `threads_after` threads) from the loaded checkpoint.
Run stopped_and_resumed(const rpg::Dataset& train, const std::string& backup, int threads_before,
                        int threads_after, Snapshot* at_stop, rpg::CpuEngine engine = rpg::CpuEngine::OneDnn) {
  std::string ckpt;
  rpg::TrainState saved;
  {
    auto net = rpg_test::net_from_text(kResumeCfg, threads_before, "resume.cfg", engine);
    rpg::TrainOptions o = quiet_options(backup, 0);
    o.stop_at = kStopAt;
    rpg::Trainer trainer(*net, train, o);
    const rpg::TrainResult r = trainer.run({});
    BOOST_TEST(!r.finished);
    BOOST_TEST(!r.interrupted);
    BOOST_TEST(r.weights.empty());
    BOOST_TEST(r.state.iteration == kStopAt);
    BOOST_TEST(r.state.seen == kStopAt * 64);
    BOOST_TEST(r.state.loader_position == kStopAt * 64);
    BOOST_TEST(r.state.passes == uint64_t(kStopAt * 2));
    BOOST_TEST_REQUIRE(!r.checkpoint.empty());
    BOOST_TEST(!fs::exists(backup + "/net.weights"), "no .weights before the end");
    ckpt = r.checkpoint;
    saved = r.state;
    if (at_stop) *at_stop = snapshot(*net);
  }
  auto net = rpg_test::net_from_text(kResumeCfg, threads_after, "resume.cfg", engine);
  const rpg::TrainState state = rpg::load_checkpoint(*net, ckpt);
  BOOST_TEST(state.iteration == saved.iteration);
  BOOST_TEST(state.seen == saved.seen);
  BOOST_TEST(state.loader_position == saved.loader_position);
  BOOST_TEST(state.passes == saved.passes);
  if (at_stop) same_bits(*at_stop, snapshot(*net), "the loaded checkpoint");
  rpg::Trainer trainer(*net, train, quiet_options(backup, 0));
  return finish(*net, trainer.run(state));
}

void compare_runs(const Run& a, const Run& b, const std::string& what) {
  same_bits(a.net, b.net, what);
  BOOST_TEST(a.state.iteration == b.state.iteration, what);
  BOOST_TEST(a.state.seen == b.state.seen, what);
  BOOST_TEST(a.state.loader_position == b.state.loader_position, what);
  BOOST_TEST(a.state.passes == b.state.passes, what);
  BOOST_TEST((a.checkpoint_bytes == b.checkpoint_bytes), what << ": final checkpoint files differ");
  BOOST_TEST((a.weights_bytes == b.weights_bytes), what << ": final .weights files differ");
}

}  // namespace

BOOST_AUTO_TEST_CASE(stop_load_continue_is_bit_identical_to_one_run) {
  TempDir dir;
  Sets s = open_sets(write_idx_problem(dir, 200, 160, 12), 1);

  const Run once = one_go(*s.train, dir / "once1", 1);
  BOOST_TEST_REQUIRE(nonzero(once.net));
  BOOST_TEST(once.state.seen == kUpdates * 64);
  BOOST_TEST(once.state.passes == uint64_t(kUpdates * 2));

  Snapshot at_stop;
  const Run resumed = stopped_and_resumed(*s.train, dir / "resumed1", 1, 1, &at_stop);
  compare_runs(once, resumed, "threads=1: one run vs stopped at 10 and resumed");
  // The second half did change the weights (the comparison above is not vacuous).
  BOOST_TEST((at_stop.tensors != once.net.tensors));

  // Momentum matters: the saved gradient buffers are not all zero.
  bool momentum = false;
  {
    auto net = rpg_test::net_from_text(kResumeCfg, 1, "resume.cfg");
    rpg::load_checkpoint(*net, dir / "resumed1/net.ckpt");
    for (const auto& l : net->layers())
      for (const rpg::Param& p : l->params())
        for (float g : p.grad->to_vector()) momentum |= g != 0.f;
  }
  BOOST_TEST(momentum);
}

// The reference engine's results (rpgnet --deterministic) do not depend on the thread count: one
// run on 2 threads, and runs stopped on one thread count and resumed on the other, all equal the
// 1-thread run bit for bit.
BOOST_AUTO_TEST_CASE(reference_engine_results_do_not_depend_on_the_thread_count) {
  TempDir dir;
  Sets s = open_sets(write_idx_problem(dir, 200, 160, 12), 1);
  const auto ref = rpg::CpuEngine::Reference;
  const Run once1 = one_go(*s.train, dir / "once1", 1, ref);
  const Run once2 = one_go(*s.train, dir / "once2", 2, ref);
  compare_runs(once1, once2, "one run: threads=1 vs threads=2");
  const Run resumed2 = stopped_and_resumed(*s.train, dir / "resumed22", 2, 2, nullptr, ref);
  compare_runs(once2, resumed2, "threads=2: one run vs stopped at 10 and resumed");
  const Run resumed21 = stopped_and_resumed(*s.train, dir / "resumed21", 2, 1, nullptr, ref);
  compare_runs(once1, resumed21, "stopped on 2 threads, resumed on 1");
  const Run resumed12 = stopped_and_resumed(*s.train, dir / "resumed12", 1, 2, nullptr, ref);
  compare_runs(once1, resumed12, "stopped on 1 thread, resumed on 2");
}

// oneDNN (the default engine): a run is reproducible for one thread count (two runs, and a run
// stopped and resumed, on 2 threads are the same bits); across thread counts the results differ
// only by rounding (oneDNN splits its reductions by thread): every tensor within 1e-4 of its
// largest value after 20 updates.
BOOST_AUTO_TEST_CASE(onednn_results_are_reproducible_and_close_across_thread_counts) {
  TempDir dir;
  Sets s = open_sets(write_idx_problem(dir, 200, 160, 12), 1);
  const Run once2 = one_go(*s.train, dir / "once2", 2);
  const Run again2 = one_go(*s.train, dir / "again2", 2);
  compare_runs(once2, again2, "two runs on 2 threads");
  const Run resumed2 = stopped_and_resumed(*s.train, dir / "resumed22", 2, 2, nullptr);
  compare_runs(once2, resumed2, "threads=2: one run vs stopped at 10 and resumed");
  const Run once1 = one_go(*s.train, dir / "once1", 1);
  BOOST_TEST_REQUIRE(once1.net.tensors.size() == once2.net.tensors.size());
  size_t compared = 0;
  for (size_t t = 0; t < once1.net.tensors.size(); ++t) {
    const auto& a = once1.net.tensors[t];
    const auto& b = once2.net.tensors[t];
    BOOST_TEST_REQUIRE(a.size() == b.size());
    float scale = 0, worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      scale = std::max(scale, std::fabs(a[i]));
      worst = std::max(worst, std::fabs(a[i] - b[i]));
    }
    BOOST_TEST(worst <= 1e-4f * scale, "tensor " << t << ": 1 and 2 threads differ by " << worst << " (largest value "
                                                 << scale << ")");
    compared += a.size();
  }
  BOOST_TEST(compared > 1000u);
  BOOST_TEST(once1.state.iteration == once2.state.iteration);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Issue 15: divergence, bad samples and an unwritable backup folder are found, reported and
// never cost a good checkpoint.

BOOST_AUTO_TEST_SUITE(reliability)

namespace {

const std::string kLinesCfg =
    "[net]\nbatch=16\nsubdivisions=1\nwidth=12\nheight=12\nchannels=1\n"
    "learning_rate=0.05\nmomentum=0.9\ndecay=0.0005\nmax_batches=40\nseed=5\nflip=0\n"
    "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[connected]\noutput=16\nactivation=leaky\n"
    "[connected]\noutput=4\nactivation=linear\n"
    "[softmax]\n";

std::unique_ptr<rpg::Network> lines_net(const std::vector<std::string>& overrides) {
  rpg::CfgFile cfg = rpg::parse_cfg(kLinesCfg, "lines.cfg");
  for (const std::string& o : overrides) rpg::apply_override(cfg, o);
  return std::make_unique<rpg::Network>(cfg, std::make_unique<rpg::CpuBackend>(1));
}

// Runs training and returns its error (status and message); fails the test when it succeeds.
rpg::Error run_must_fail(rpg::Trainer& trainer, const rpg::TrainState& start = {}) {
  try {
    trainer.run(start);
  } catch (const rpg::Error& e) {
    return e;
  }
  BOOST_ERROR("the run did not fail");
  return rpg::Error(rpg::Status::Ok, "");
}

}  // namespace

// learning_rate=10 without burn-in (the example) blows the weights up within a few
// updates. Before the fix the NaN outputs gave a finite loss, the run went on to the end and
// wrote NaN checkpoints and weights. Now it stops at the update where the loss or a tensor
// stops being finite; the checkpoints it wrote before are good (loading rejects NaN) and the
// state it reports is the update count of the weights.
BOOST_AUTO_TEST_CASE(divergence_stops_the_run_and_keeps_the_last_good_checkpoint) {
  TempDir dir;
  Sets s = open_sets(write_idx_problem(dir, 200, 160, 12), 1);
  auto net = lines_net({"net.learning_rate=10"});
  BOOST_TEST_REQUIRE(net->config().learning_rate == 10.f);
  rpg::TrainOptions o = quiet_options(s.config.backup, 1);
  o.report_every = 1;
  int64_t reported = 0;
  o.on_progress = [&](const rpg::Progress& p) { reported = p.iteration; };
  rpg::Trainer trainer(*net, *s.train, o);
  const rpg::Error e = run_must_fail(trainer);
  const std::string m = e.what();
  BOOST_TEST_MESSAGE("diverged: " << m);
  BOOST_TEST(int(e.status()) == int(rpg::Status::InvalidArgument));
  BOOST_TEST(m.find("training diverged at update ") == 0, m);
  BOOST_TEST(m.find("lower learning_rate (or raise burn_in) in lines.cfg") != std::string::npos, m);
  const int64_t done = trainer.state().iteration;
  BOOST_TEST(done == reported, "the failed run's state says " << done << " updates, progress said " << reported);
  BOOST_TEST(done < 40);
  BOOST_TEST(!fs::exists(s.config.backup + "/net.weights"));
  const std::string ckpt = s.config.backup + "/net.ckpt";
  if (done > 1) {
    BOOST_TEST_REQUIRE(fs::exists(ckpt));
    BOOST_TEST(m.find("the last good checkpoint, " + ckpt) != std::string::npos, m);
    auto fresh = rpg_test::net_from_text(kLinesCfg, 1, "lines.cfg");
    const rpg::TrainState kept = rpg::load_checkpoint(*fresh, ckpt);  // would reject a NaN
    BOOST_TEST((kept.iteration == done || kept.iteration == done - 1), kept.iteration << " vs " << done);
    BOOST_TEST(fresh->non_finite_tensor() == "");
  }
  std::vector<std::string> files;
  for (const auto& f : fs::directory_iterator(s.config.backup)) files.push_back(f.path().filename().string());
  BOOST_TEST(files.size() <= 1u, "stray files in the backup folder");

  // An evaluation of the diverged network counts nothing as correct (before: top-1 100%).
  BOOST_TEST_REQUIRE(net->non_finite_tensor() != "");
  const rpg::Evaluation ev = rpg::evaluate(*net, *s.valid, 2);
  BOOST_TEST(ev.top1 == 0.0);
  BOOST_TEST(ev.topk == 0.0);
  BOOST_TEST(std::isnan(ev.loss));
}

// policy=exp with gamma=1e30: the rate of update 3 is inf (before: it trained on with NaN
// weights). The run stops before that update, which has not changed the weights.
BOOST_AUTO_TEST_CASE(an_infinite_learning_rate_stops_the_run_before_its_update) {
  TempDir dir;
  Sets s = open_sets(write_idx_problem(dir, 100, 80, 12), 1);
  auto net = lines_net({"net.policy=exp", "net.gamma=1e30", "net.learning_rate=0.001"});
  rpg::Trainer trainer(*net, *s.train, quiet_options(s.config.backup, 1));
  const rpg::Error e = run_must_fail(trainer);
  BOOST_TEST(int(e.status()) == int(rpg::Status::InvalidArgument));
  BOOST_TEST(std::string(e.what()).find("lines.cfg: the learning rate of update 3 is inf (policy=exp)") == 0, e.what());
  BOOST_TEST(trainer.state().iteration == 2);
}

// The backup folder is checked before the first update (before: at the first checkpoint,
// after 1000 updates by default).
BOOST_AUTO_TEST_CASE(an_unwritable_backup_folder_is_found_before_training) {
  TempDir dir;
  Sets s = open_sets(write_idx_problem(dir, 100, 80, 12), 1);
  auto net = rpg_test::net_from_text(kLinesCfg, 1, "lines.cfg");
  write_file(dir / "not_a_folder", "x");
  rpg::Trainer trainer(*net, *s.train, quiet_options(dir / "not_a_folder", 1000));
  const rpg::Error e = run_must_fail(trainer);
  BOOST_TEST(int(e.status()) == int(rpg::Status::NotFound));
  BOOST_TEST(std::string(e.what()) == "'" + dir / "not_a_folder" + "' is not a folder");
  BOOST_TEST(trainer.state().iteration == 0);
  BOOST_TEST(net->passes() == 0u, "no pass ran");
}

// A list whose image is corrupted after the up-front check (a file cut short while training
// runs): the sample is skipped, named in a warning and counted; the run completes. Beyond
// max_bad_samples the run writes a checkpoint and stops naming the file (before: the run died
// at the first bad image with no checkpoint).
BOOST_AUTO_TEST_CASE(an_unreadable_image_is_skipped_and_reported) {
  TempDir dir;
  const std::string data = write_png_problem(dir, 40, 30);
  Sets s = open_sets(data, 1);
  const std::string bad = dir / "bars_v/img_4.png";
  const std::string png = rpg::read_file(bad);
  write_file(bad, png.substr(0, png.size() / 2));
  const std::string cfg =
      "[net]\nbatch=10\nwidth=16\nheight=16\nchannels=1\nlearning_rate=0.01\nmax_batches=6\nseed=3\n"
      "[connected]\noutput=3\nactivation=linear\n[softmax]\n";
  auto net = rpg_test::net_from_text(cfg, 1, "shapes.cfg");
  rpg::TrainOptions o = quiet_options(dir / "backup");
  std::vector<std::string> warnings;
  o.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  rpg::Trainer trainer(*net, *s.train, o);
  const rpg::TrainResult r = trainer.run({});
  BOOST_TEST(r.finished);
  BOOST_TEST(r.bad_samples == 1);
  BOOST_TEST_REQUIRE(warnings.size() == 1u, "the bad image is reported once, though drawn each epoch");
  BOOST_TEST(warnings[0].find("skipped an unreadable sample") == 0, warnings[0]);
  BOOST_TEST(warnings[0].find("'" + bad + "': corrupt or truncated") != std::string::npos, warnings[0]);

  auto again = rpg_test::net_from_text(cfg, 1, "shapes.cfg");
  o.max_bad_samples = 0;
  o.backup_dir = dir / "backup0";
  rpg::Trainer strict(*again, *s.train, o);
  const rpg::Error e = run_must_fail(strict);
  const std::string m = e.what();
  BOOST_TEST(int(e.status()) == int(rpg::Status::FormatError));
  BOOST_TEST(m.find("1 training samples cannot be read (more than 0; the first: ") == 0, m);
  BOOST_TEST(m.find(bad) != std::string::npos, m);
  const int64_t at = strict.state().iteration;
  BOOST_TEST(at >= 1);
  BOOST_TEST(m.find("stopped at update " + std::to_string(at) + " with checkpoint " + dir / "backup0/net.ckpt") !=
                 std::string::npos, m);
  auto resumed = rpg_test::net_from_text(cfg, 1, "shapes.cfg");
  BOOST_TEST(rpg::load_checkpoint(*resumed, dir / "backup0/net.ckpt").iteration == at);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- data-parallel shards (train/data_parallel.h) ------------------------------------------

BOOST_AUTO_TEST_CASE(shards_cover_the_batch_once) {
  for (int batch : {1, 2, 7, 8, 10, 64, 129})
    for (int ranks : {1, 2, 3, 4, 8})
      for (int subdivisions : {1, 2, 4}) {
        if (batch < ranks || batch % subdivisions) continue;
        int64_t next = 0;
        for (int r = 0; r < ranks; ++r) {
          const rpg::Shard s = rpg::shard_for(batch, batch / subdivisions, r, ranks);
          BOOST_TEST_REQUIRE(s.offset == next);
          BOOST_TEST_REQUIRE(s.count == batch / ranks + (r < batch % ranks ? 1 : 0));
          BOOST_TEST_REQUIRE(int64_t(s.pass) * s.passes == s.count);
          BOOST_TEST_REQUIRE(s.pass <= batch / subdivisions);
          next += s.count;
        }
        BOOST_TEST_REQUIRE(next == batch);
      }
  // Aligned: each rank's pass is one of the single process's passes, numbered as it would be.
  const rpg::Shard a = rpg::shard_for(8, 4, 1, 2);
  BOOST_TEST(a.offset == 4);
  BOOST_TEST(a.pass == 4);
  BOOST_TEST(a.passes == 1);
  BOOST_TEST(a.pass_index(0) == 1);
  BOOST_TEST(a.counter_step == 2);
  const rpg::Shard b = rpg::shard_for(16, 4, 1, 2);  // 8 images per rank in 2 passes of 4
  BOOST_TEST(b.passes == 2);
  BOOST_TEST(b.pass_index(0) == 2);
  BOOST_TEST(b.pass_index(1) == 3);
  BOOST_TEST(b.counter_step == 4);
  // Uneven (3 + 3 + 2): every pass draws from its first image's position, the counter by batch.
  const rpg::Shard c = rpg::shard_for(8, 8, 2, 3);
  BOOST_TEST(c.offset == 6);
  BOOST_TEST(c.count == 2);
  BOOST_TEST(c.pass_index(0) == 6);
  BOOST_TEST(c.counter_step == 8);
  const rpg::Shard d = rpg::shard_for(10, 2, 0, 2);  // 5 images, passes of at most 2: 5 of 1
  BOOST_TEST(d.pass == 1);
  BOOST_TEST(d.passes == 5);
  BOOST_CHECK_EXCEPTION(rpg::shard_for(2, 2, 0, 3), rpg::Error, [](const rpg::Error& e) {
    return e.status() == rpg::Status::InvalidArgument && std::string(e.what()).find("smaller than the 3 ranks") != std::string::npos;
  });
}

