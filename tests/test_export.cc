// Export (io/export.h): exact round trips at 32 bits, the stated quantization error at fewer bits,
// pruning (exact counts, frozen masks while fine-tuning), the expanded Darknet .weights of an RPG
// network in a plain network, the size bound, and a corpus of corrupt files that must each be
// rejected with a FormatError naming the file.
#define BOOST_TEST_MODULE export
#include <unistd.h>
#include <zlib.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cfg/cfg_text.h"
#include "base/error.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/container.h"
#include "io/darknet_weights.h"
#include "io/export.h"
#include "io/quantize.h"
#include "io/prune.h"
#include "testing.h"

using rpg::Network;
using rpg::Status;

namespace {

// Two rings: 'r' feeds a BN convolution and a BN connected layer (72 + 1152 weights, K = 367),
// 'q' the classifier (24 weights, K = 10); the second convolution is unbound.
const char* kCfg =
    "[net]\nbatch=2\nwidth=6\nheight=6\nchannels=2\nseed=3\nlearning_rate=0.05\nmomentum=0.9\n"
    "decay=0.0005\n\n"
    "[ring]\nname=r\ndof=0.3\n\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=leaky\nring=r\n\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=relu\n\n"
    "[connected]\noutput=8\nbatch_normalize=1\nactivation=relu\nring=r\n\n"
    "[connected]\noutput=3\nactivation=linear\nring=q\n\n"
    "[softmax]\n\n"
    "[ring]\nname=q\nsize=10\nseed=7\n";

std::unique_ptr<Network> make_net(const std::string& text = kCfg, const std::string& name = "small-rpg.cfg") {
  return rpg_test::net_from_text(text, 1, name);
}

std::unique_ptr<rpg::Backend> cpu() { return std::make_unique<rpg::CpuBackend>(1); }

void train_steps(Network& net, int steps, uint64_t seed) {
  const size_t n = size_t(net.batch() * net.input_size()), k = size_t(net.output_size());
  for (int i = 0; i < steps; ++i) {
    std::vector<float> truth(size_t(net.batch()) * k, 0.f);
    for (int b = 0; b < net.batch(); ++b) truth[size_t(b) * k + size_t(b + i) % k] = 1.f;
    net.train_pass(rpg_test::random_vector(n, seed + uint64_t(i)).data(), truth.data());
    net.update(.05f);
  }
}

// A trained network: BN statistics, biases and rings all away from their initial values.
std::unique_ptr<Network> trained_net(const std::string& text = kCfg) {
  auto net = make_net(text);
  train_steps(*net, 4, 11);
  return net;
}

std::vector<float> outputs(Network& net) {
  return net.predict(rpg_test::random_vector(size_t(net.batch() * net.input_size()), 99).data());
}

rpg::ExportOptions opts(int bits, double prune = 0, bool fp16 = false) {
  rpg::ExportOptions o;
  o.bits = bits;
  o.prune = prune;
  o.unshared = fp16 ? rpg::UnsharedPrecision::fp16 : rpg::UnsharedPrecision::fp32;
  return o;
}

void expect_error(const std::function<void()>& f, Status status, const std::vector<std::string>& needles,
                  const std::string& label) {
  try {
    f();
    BOOST_ERROR("no error for " << label);
  } catch (const rpg::Error& e) {
    BOOST_CHECK_MESSAGE(e.status() == status, label << ": status " << int(e.status()) << ": " << e.what());
    for (const auto& n : needles)
      BOOST_CHECK_MESSAGE(std::string(e.what()).find(n) != std::string::npos,
                          label << ": '" << e.what() << "' lacks '" << n << "'");
  }
}

void expect_rejected(const std::string& bytes, const std::string& label, const std::vector<std::string>& more = {}) {
  std::vector<std::string> needles = {"bad.rpgm"};
  needles.insert(needles.end(), more.begin(), more.end());
  expect_error([&] { rpg::load_export_from_bytes(bytes, "bad.rpgm", cpu()); }, Status::FormatError, needles, label);
  expect_error([&] { rpg::describe_export(bytes, "bad.rpgm"); }, Status::FormatError, needles, label + " (describe)");
}

// Rebuilds a container with one section's payload changed (a valid checksum: the export's own
// checks must catch it).
std::string with_section(const std::string& file, const std::string& tag,
                         const std::function<void(std::string&)>& edit) {
  const rpg::ContainerReader r = rpg::ContainerReader::parse(file, "x");
  rpg::ContainerWriter w;
  for (const auto& s : r.sections()) {
    std::string p = s.payload;
    if (s.tag == tag) edit(p);
    w.add_section(s.tag, p, s.flags);
  }
  return w.bytes();
}

void put_u32(std::string& b, size_t at, uint32_t v) { std::memcpy(&b[at], &v, 4); }
void put_u64(std::string& b, size_t at, uint64_t v) { std::memcpy(&b[at], &v, 8); }
void fix_crc(std::string& b) { put_u32(b, b.size() - 4, rpg::crc32_of(b.data(), b.size() - 4)); }

// The export with its embedded cfg replaced by `text` (compressed as the writer does, checksum
// recomputed): a crafted file that passes every container check.
std::string with_cfg_text(const std::string& file, const std::string& text) {
  return with_section(file, "CFGZ", [&](std::string& p) {
    uLongf n = compressBound(uLong(text.size()));
    std::string z(n, '\0');
    compress(reinterpret_cast<Bytef*>(&z[0]), &n, reinterpret_cast<const Bytef*>(text.data()), uLong(text.size()));
    p.assign(8, '\0');
    put_u64(p, 0, text.size());
    p += z.substr(0, n);
  });
}

// Offset of the fields after the ring name in a ring section.
size_t ring_fields(const std::string& p) {
  uint32_t n;
  std::memcpy(&n, p.data(), 4);
  return 4 + n;  // then seed@0, K@8, N@16, bits@24, block@28, layout@32, pruned@36, data@44
}

}  // namespace

BOOST_AUTO_TEST_SUITE(codes)

BOOST_AUTO_TEST_CASE(half_precision_vectors_and_round_trip) {
  using rpg::io::float_to_half;
  using rpg::io::half_to_float;
  BOOST_CHECK_EQUAL(float_to_half(1.f), 0x3c00);
  BOOST_CHECK_EQUAL(float_to_half(-2.f), 0xc000);
  BOOST_CHECK_EQUAL(float_to_half(65504.f), 0x7bff);
  BOOST_CHECK_EQUAL(float_to_half(65520.f), 0x7c00);  // rounds up to infinity
  BOOST_CHECK_EQUAL(float_to_half(std::ldexp(1.f, -24)), 0x0001);
  BOOST_CHECK_EQUAL(float_to_half(std::ldexp(1.f, -25)), 0x0000);  // tie to even
  BOOST_CHECK_EQUAL(float_to_half(1.f + std::ldexp(1.f, -11)), 0x3c00);  // tie to even
  BOOST_CHECK_EQUAL(float_to_half(1.f + 3 * std::ldexp(1.f, -11)), 0x3c02);
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN
    BOOST_REQUIRE_EQUAL(float_to_half(half_to_float(uint16_t(h))), h);
  }
}

BOOST_AUTO_TEST_CASE(packed_codes_round_trip_and_reject_padding) {
  for (int bits = 2; bits <= 16; ++bits) {
    std::vector<uint32_t> codes(37);
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = uint32_t((i * 2654435761u) % (1u << bits));
    std::string packed;
    rpg::io::pack_codes(codes, bits, packed);
    BOOST_CHECK_EQUAL(packed.size(), (37u * unsigned(bits) + 7) / 8);
    std::vector<uint32_t> back;
    BOOST_CHECK(rpg::io::unpack_codes(packed.data(), 37, bits, back));
    BOOST_CHECK(back == codes);
    if ((37 * bits) % 8) {
      packed.back() = char(uint8_t(packed.back()) | 0x80);
      BOOST_CHECK(!rpg::io::unpack_codes(packed.data(), 37, bits, back));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(round_trips)

BOOST_AUTO_TEST_CASE(float32_export_loads_bit_identical) {
  auto net = trained_net();
  const std::string bytes = rpg::encode_export(*net, opts(32), 1234);
  auto loaded = rpg::load_export_from_bytes(bytes, "m.rpgm", cpu());
  BOOST_CHECK(outputs(*net) == outputs(*loaded));
  for (size_t i = 0; i < net->rings().size(); ++i)
    BOOST_CHECK(net->rings()[i]->values.to_vector() == loaded->rings()[i]->values.to_vector());
  // Into a network built from the same cfg text, with another batch size.
  auto into = make_net(std::string(kCfg), "other.cfg");
  BOOST_CHECK(outputs(*net) != outputs(*into));
  rpg::load_export_into_from_bytes(*into, bytes, "m.rpgm");
  BOOST_CHECK(outputs(*net) == outputs(*into));
  // Exporting the loaded network again gives the same file.
  BOOST_CHECK(rpg::encode_export(*loaded, opts(32), 1234) == bytes);
  const rpg::ExportInfo info = rpg::describe_export(bytes, "m.rpgm");
  BOOST_CHECK_EQUAL(info.export_version, rpg::kExportVersion);
  BOOST_CHECK_EQUAL(info.seen, 1234u);
  BOOST_REQUIRE_EQUAL(info.rings.size(), 2u);
  BOOST_CHECK_EQUAL(info.rings[0].name, "r");
  BOOST_CHECK_EQUAL(info.rings[0].k, 367);
  BOOST_CHECK_EQUAL(info.rings[0].n, 72 + 1152);
  BOOST_CHECK_EQUAL(info.rings[1].seed, 7u);
  BOOST_CHECK_EQUAL(info.rings[1].k, 10);
  BOOST_CHECK(!rpg::export_info_text(info).empty());
  // The cfg text round-trips.
  BOOST_CHECK_EQUAL(info.cfg_text, rpg::cfg_to_text(rpg::parse_cfg(kCfg, "x")));
}

BOOST_AUTO_TEST_CASE(files_on_disk) {
  auto net = trained_net();
  const std::string dir = "/tmp/rpgnet_test_export." + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/m.rpgm";
  rpg::export_model(*net, opts(8, 0.5), path, 9);
  BOOST_CHECK(rpg::is_export_file(path));
  BOOST_CHECK(rpg::read_file(path) == rpg::encode_export(*net, opts(8, 0.5), 9));
  auto loaded = rpg::load_export(path, cpu());
  BOOST_CHECK_EQUAL(loaded->cfg_path(), path + " (embedded cfg)");
  auto into = make_net();
  rpg::load_export_into(*into, path);
  BOOST_CHECK(outputs(*into) == outputs(*loaded));
  BOOST_CHECK_EQUAL(std::filesystem::directory_iterator(dir)->path().filename(), "m.rpgm");  // no temp file left
  rpg::save_checkpoint(*net, rpg::TrainState{}, dir + "/c.ckpt");
  BOOST_CHECK(!rpg::is_export_file(dir + "/c.ckpt"));
  BOOST_CHECK(!rpg::is_export_file(dir + "/missing"));
  expect_error([&] { rpg::load_export(dir + "/missing", cpu()); }, Status::NotFound, {"missing"}, "missing");
  expect_error([&] { rpg::load_export(dir + "/c.ckpt", cpu()); }, Status::FormatError, {"c.ckpt", "EXPT"}, "ckpt");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_network_without_rings_exports_too) {
  rpg::CfgFile cfg = rpg::strip_rings(rpg::parse_cfg(kCfg, "plain.cfg"));
  Network net(cfg, cpu());
  train_steps(net, 2, 5);
  auto loaded = rpg::load_export_from_bytes(rpg::encode_export(net, opts(4, 0, true)), "p.rpgm", cpu());
  BOOST_CHECK(loaded->rings().empty());
  const std::string bytes = rpg::encode_export(net, opts(32));
  BOOST_CHECK(outputs(net) == outputs(*rpg::load_export_from_bytes(bytes, "p.rpgm", cpu())));
}

// Per entry |decoded - r| <= scale / 2 with scale = max|r| in the block / (2^(B-1) - 1); through
// the generator every weight is then within c_l scale / 2 of the original.
BOOST_AUTO_TEST_CASE(quantized_rings_are_within_half_a_step) {
  auto net = trained_net();
  const std::vector<float> before = outputs(*net);
  double previous_error = 0;
  for (int bits : {16, 8, 4, 2}) {
    auto loaded = rpg::load_export_from_bytes(rpg::encode_export(*net, opts(bits)), "q.rpgm", cpu());
    double worst_weight_error = 0;
    for (size_t ri = 0; ri < net->rings().size(); ++ri) {
      const rpg::Ring& ring = *net->rings()[ri];
      const std::vector<float> r = ring.values.to_vector(), q = loaded->rings()[ri]->values.to_vector();
      const int64_t block = 64;  // small rings: the requested block
      float max_scale = 0;
      for (int64_t b = 0; b * block < ring.size(); ++b) {
        float m = 0;
        for (int64_t j = b * block; j < std::min(ring.size(), (b + 1) * block); ++j)
          m = std::max(m, std::fabs(r[size_t(j)]));
        const float scale = m / float((1 << (bits - 1)) - 1);
        max_scale = std::max(max_scale, scale);
        for (int64_t j = b * block; j < std::min(ring.size(), (b + 1) * block); ++j)
          BOOST_REQUIRE_MESSAGE(std::fabs(q[size_t(j)] - r[size_t(j)]) <= scale / 2 * (1 + 1e-5f) + 1e-12f,
                                bits << " bits, ring " << ri << " entry " << j << ": " << q[size_t(j)] << " vs "
                                     << r[size_t(j)] << " (scale " << scale << ")");
      }
      for (const auto& b : ring.bindings()) {
        const auto w = b.layer->main_weights().value->to_vector();
        const auto w2 = loaded->layers()[size_t(b.layer->index)]->main_weights().value->to_vector();
        for (size_t i = 0; i < w.size(); ++i) {
          const double e = std::fabs(double(w2[i]) - double(w[i]));
          BOOST_REQUIRE_LE(e, b.scale * max_scale / 2 * (1 + 1e-4) + 1e-9);
          worst_weight_error = std::max(worst_weight_error, e);
        }
      }
    }
    // Unshared parameters are exact at fp32.
    for (size_t l = 0; l < net->layers().size(); ++l) {
      auto& a = *net->layers()[l];
      auto& b = *loaded->layers()[l];
      const auto ta = a.weight_file_order(), tb = b.weight_file_order();
      for (size_t t = 0; t < ta.size(); ++t)
        if (a.ring.empty() || ta[t] != a.main_weights().value) BOOST_CHECK(ta[t]->to_vector() == tb[t]->to_vector());
    }
    BOOST_CHECK_GT(worst_weight_error, previous_error);  // fewer bits, larger error
    previous_error = worst_weight_error;
    const std::vector<float> after = outputs(*loaded);
    double diff = 0;
    for (size_t i = 0; i < after.size(); ++i) diff = std::max(diff, double(std::fabs(after[i] - before[i])));
    if (bits >= 8) BOOST_CHECK_LT(diff, 0.02);
    BOOST_TEST_MESSAGE(bits << " bits: weight error " << worst_weight_error << ", output error " << diff);
  }
}

BOOST_AUTO_TEST_CASE(fp16_unshared_values_are_rounded_to_half) {
  auto net = trained_net();
  auto loaded = rpg::load_export_from_bytes(rpg::encode_export(*net, opts(32, 0, true)), "h.rpgm", cpu());
  for (size_t l = 0; l < net->layers().size(); ++l) {
    const auto ta = net->layers()[l]->weight_file_order(), tb = loaded->layers()[l]->weight_file_order();
    for (size_t t = 0; t < ta.size(); ++t) {
      if (!net->layers()[l]->ring.empty() && ta[t] == net->layers()[l]->main_weights().value) continue;
      const auto a = ta[t]->to_vector(), b = tb[t]->to_vector();
      for (size_t i = 0; i < a.size(); ++i)
        BOOST_REQUIRE_EQUAL(b[i], rpg::io::half_to_float(rpg::io::float_to_half(a[i])));
    }
  }
  // Beyond float16's range: refused, with the advice.
  net->layers()[1]->weight_file_order()[0]->upload(std::vector<float>(4, 1e6f));
  expect_error([&] { rpg::encode_export(*net, opts(8, 0, true)); }, Status::InvalidArgument, {"fp32"}, "fp16 range");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pruning)

BOOST_AUTO_TEST_CASE(exactly_round_f_k_smallest_entries_are_zeroed) {
  auto net = trained_net();
  const std::vector<float> r = net->rings()[0]->values.to_vector();  // K = 367
  for (double f : {0.0, 0.1, 0.5, 0.8, 1.0 / 3, 0.999}) {
    const std::vector<uint8_t> keep = rpg::prune_keep_mask(r, f);
    const int64_t zeros = int64_t(std::count(keep.begin(), keep.end(), uint8_t(0)));
    BOOST_CHECK_EQUAL(zeros, std::llround(f * 367));
    BOOST_CHECK_EQUAL(zeros, rpg::pruned_count(367, f));
    float max_pruned = 0, min_kept = 1e30f;
    for (size_t j = 0; j < r.size(); ++j)
      (keep[j] ? min_kept : max_pruned) =
          keep[j] ? std::min(min_kept, std::fabs(r[j])) : std::max(max_pruned, std::fabs(r[j]));
    BOOST_CHECK_LE(max_pruned, min_kept);
    // The export zeroes the same entries and keeps the others (exactly, at 32 bits).
    auto loaded = rpg::load_export_from_bytes(rpg::encode_export(*net, opts(32, f)), "p.rpgm", cpu());
    const std::vector<float> q = loaded->rings()[0]->values.to_vector();
    for (size_t j = 0; j < r.size(); ++j) BOOST_REQUIRE_EQUAL(q[j], keep[j] ? r[j] : 0.f);
    const auto info = rpg::describe_export(rpg::encode_export(*net, opts(4, f)), "p.rpgm");
    BOOST_CHECK_EQUAL(info.rings[0].pruned, zeros);
    BOOST_CHECK_CLOSE(info.rings[0].kept_fraction, double(367 - zeros) / 367, 1e-9);
  }
  // Ties break by index; the mask is deterministic.
  const std::vector<uint8_t> keep = rpg::prune_keep_mask({1, -1, 1, 0.5f, -1}, 0.6);
  BOOST_CHECK((keep == std::vector<uint8_t>{0, 0, 1, 0, 1}));
  expect_error([] { rpg::prune_keep_mask({1, 2}, 1.0); }, Status::InvalidArgument, {"[0, 1)"}, "f = 1");
  expect_error([] { rpg::prune_keep_mask({1, 2}, -0.1); }, Status::InvalidArgument, {"[0, 1)"}, "f < 0");
}

BOOST_AUTO_TEST_CASE(fine_tuning_keeps_the_mask_frozen) {
  auto net = trained_net();
  const int64_t pruned = rpg::prune_rings(*net, 0.5, true);
  BOOST_CHECK_EQUAL(pruned, std::llround(0.5 * 367) + std::llround(0.5 * 10));
  std::vector<std::vector<float>> start;
  for (const auto& r : net->rings()) start.push_back(r->values.to_vector());
  train_steps(*net, 5, 40);
  for (size_t ri = 0; ri < net->rings().size(); ++ri) {
    const rpg::Ring& r = *net->rings()[ri];
    const auto v = r.values.to_vector(), g = r.grads.to_vector();
    std::vector<uint8_t> frozen(v.size(), 0);
    for (int64_t j : r.frozen()) frozen[size_t(j)] = 1;
    BOOST_CHECK_EQUAL(int64_t(r.frozen().size()), rpg::pruned_count(r.size(), 0.5));
    size_t moved = 0;
    for (size_t j = 0; j < v.size(); ++j) {
      if (frozen[j]) {
        BOOST_REQUIRE_EQUAL(v[j], 0.f);
        BOOST_REQUIRE_EQUAL(g[j], 0.f);
        BOOST_REQUIRE_EQUAL(start[ri][j], 0.f);
      } else {
        moved += v[j] != start[ri][j];
      }
    }
    BOOST_CHECK_GT(moved, v.size() / 4);  // the kept entries do train
    // Every generated weight fed only by frozen entries is 0.
  }
  // The mask found again on the fine-tuned ring (a resumed run) is the same one.
  const auto again = rpg::prune_keep_mask(net->rings()[0]->values.to_vector(), 0.5);
  for (int64_t j : net->rings()[0]->frozen()) BOOST_CHECK_EQUAL(again[size_t(j)], 0);
  // Without the mask, the same training moves the pruned entries.
  auto free_net = trained_net();
  rpg::prune_rings(*free_net, 0.5, false);
  BOOST_CHECK(free_net->rings()[0]->frozen().empty());
  train_steps(*free_net, 2, 40);
  const auto v = free_net->rings()[0]->values.to_vector();
  BOOST_CHECK_LT(std::count(v.begin(), v.end(), 0.f), pruned / 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(darknet)

BOOST_AUTO_TEST_CASE(expanded_weights_load_into_the_cfg_without_rings) {
  auto net = trained_net();
  const rpg::CfgFile plain_cfg = rpg::strip_rings(rpg::parse_cfg(kCfg, "plain.cfg"));
  for (const auto& s : plain_cfg.sections) {
    BOOST_CHECK_NE(s.type, "ring");
    BOOST_CHECK(!s.find("ring"));
  }
  // The trained network itself, and the same model after a 4-bit pruned export.
  auto quantized = rpg::load_export_from_bytes(rpg::encode_export(*net, opts(4, 0.5, true)), "e.rpgm", cpu());
  for (Network* rpg_net : {net.get(), quantized.get()}) {
    const std::string weights = rpg::encode_darknet_weights(*rpg_net, 77);
    Network plain(plain_cfg, cpu());
    BOOST_CHECK(plain.rings().empty());
    BOOST_CHECK_EQUAL(rpg::load_darknet_weights_from_bytes(plain, weights, "e.weights"), 77);
    BOOST_CHECK(outputs(plain) == outputs(*rpg_net));  // bit-identical
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(size)

BOOST_AUTO_TEST_CASE(never_above_k_b_over_8_plus_unshared_plus_4k) {
  // A large ring too (K = 40,000 > 512 x 64: its scale block is raised to stay within budget).
  const std::string big =
      "[net]\nbatch=1\ninputs=200\n\n[ring]\nname=big\ndof=0.5\n\n"
      "[connected]\noutput=400\nactivation=relu\nring=big\n\n[connected]\noutput=5\nactivation=linear\n\n[softmax]\n";
  for (const std::string& text : {std::string(kCfg), big}) {
    auto net = make_net(text);
    for (int bits : {32, 16, 8, 4, 3, 2})
      for (double f : {0.0, 0.03, 0.5, 0.8, 0.95})
        for (bool fp16 : {false, true}) {
          const rpg::ExportOptions o = opts(bits, f, fp16);
          const std::string bytes = rpg::encode_export(*net, o);
          const rpg::ExportInfo info = rpg::describe_export(bytes, "s.rpgm");
          size_t k_bits = 0;
          for (const auto& r : net->rings()) k_bits += (size_t(r->size()) * size_t(bits) + 7) / 8;
          const size_t unshared = info.unshared_bytes;
          BOOST_CHECK_LE(bytes.size(), k_bits + unshared + 4096);
          BOOST_CHECK_EQUAL(info.size_bound(), k_bits + unshared + 4096);
          BOOST_CHECK_EQUAL(rpg::export_size_bound(*net, o), k_bits + unshared + 4096);
          // Sparse (bitmap + kept) beats dense when f B > 1.
          if (f * bits >= 1.5) BOOST_CHECK(info.rings[0].sparse);
          if (f * bits <= 1) BOOST_CHECK(!info.rings[0].sparse);
          if (f == 0) BOOST_CHECK(!info.rings[0].sparse);
          if (bits < 32 && text == big) BOOST_CHECK_EQUAL(info.rings[0].block, 79);  // ceil(40000 / 512)
        }
  }
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused) {
  auto net = make_net();
  for (int bits : {0, 1, 17, 31, 33})
    expect_error([&] { rpg::encode_export(*net, opts(bits)); }, Status::InvalidArgument, {"bits"}, "bits");
  expect_error([&] { rpg::encode_export(*net, opts(8, 1.0)); }, Status::InvalidArgument, {"pruning"}, "prune");
  rpg::ExportOptions o = opts(8);
  o.block = 0;
  expect_error([&] { rpg::encode_export(*net, o); }, Status::InvalidArgument, {"block"}, "block");
  net->rings()[0]->values.upload(std::vector<float>(367, NAN));
  expect_error([&] { rpg::encode_export(*net, opts(8)); }, Status::InvalidArgument, {"ring 'r'"}, "NaN");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(corrupt)

BOOST_AUTO_TEST_CASE(every_truncation_and_every_flipped_byte) {
  auto net = trained_net();
  const std::string good = rpg::encode_export(*net, opts(4, 0.5, true));
  BOOST_REQUIRE_NO_THROW(rpg::load_export_from_bytes(good, "bad.rpgm", cpu()));
  for (size_t n = 0; n < good.size(); ++n)
    expect_error([&] { rpg::describe_export(good.substr(0, n), "bad.rpgm"); }, Status::FormatError, {"bad.rpgm"},
                 "truncated at " + std::to_string(n));
  for (size_t i = 0; i < good.size(); i += 1) {
    std::string b = good;
    b[i] ^= char(1 << (i % 8));
    expect_error([&] { rpg::describe_export(b, "bad.rpgm"); }, Status::FormatError, {"bad.rpgm"},
                 "flipped byte " + std::to_string(i));
  }
  // At every section boundary, through the full loader.
  const rpg::ContainerReader r = rpg::ContainerReader::parse(good, "x");
  size_t at = 16;
  for (const auto& s : r.sections()) {
    expect_rejected(good.substr(0, at), "cut before " + s.tag, {"truncated"});
    expect_rejected(good.substr(0, at + 16), "cut after the header of " + s.tag, {"truncated"});
    at += 16 + s.payload.size();
    expect_rejected(good.substr(0, at), "cut after " + s.tag, {"truncated"});
  }
}

BOOST_AUTO_TEST_CASE(flipped_bytes_with_a_valid_checksum_never_crash) {
  // With the checksum recomputed, a flip either still describes a valid file (a changed value)
  // or is rejected with a FormatError; anything else fails the test.
  auto net = trained_net();
  const std::string good = rpg::encode_export(*net, opts(3, 0.8));
  size_t rejected = 0;
  for (size_t i = 8; i + 4 < good.size(); ++i) {
    std::string b = good;
    b[i] ^= char(0x81);
    fix_crc(b);
    try {
      rpg::load_export_from_bytes(b, "bad.rpgm", cpu());
    } catch (const rpg::Error& e) {
      BOOST_REQUIRE_MESSAGE(e.status() == Status::FormatError, "byte " << i << ": " << e.what());
      BOOST_REQUIRE_MESSAGE(std::string(e.what()).find("bad.rpgm") != std::string::npos, e.what());
      ++rejected;
    }
  }
  BOOST_CHECK_GT(rejected, 100u);
}

BOOST_AUTO_TEST_CASE(structural_corruptions_have_messages) {
  auto net = trained_net();
  const std::string good = rpg::encode_export(*net, opts(4, 0.5, true));
  const std::string dense = rpg::encode_export(*net, opts(4));
  std::string b = good;
  put_u32(b, 8, 2);
  fix_crc(b);
  expect_rejected(b, "container version", {"unsupported version 2"});
  expect_rejected(with_section(good, "EXPT", [](std::string& p) { put_u32(p, 0, 9); }), "export version",
                  {"unsupported export version 9"});
  expect_rejected(with_section(good, "EXPT", [](std::string& p) { put_u32(p, 8, 3); }), "ring count", {"R002"});
  expect_rejected(with_section(good, "EXPT", [](std::string& p) { put_u32(p, 8, 1u << 30); }), "huge ring count",
                  {"rings"});
  expect_rejected(with_section(good, "EXPT", [](std::string& p) { put_u64(p, 16, 1ull << 60); }), "huge unshared",
                  {"UNSH"});
  const std::string refingered = with_section(good, "EXPT", [](std::string& p) { put_u64(p, 24, 5); });
  expect_error([&] { rpg::load_export_from_bytes(refingered, "bad.rpgm", cpu()); }, Status::FormatError,
               {"bad.rpgm", "embedded cfg does not describe"}, "fingerprint");
  expect_rejected(with_section(good, "EXPT", [](std::string& p) { p += "x"; }), "EXPT size", {"EXPT"});
  expect_rejected(with_section(good, "CFGZ", [](std::string& p) { put_u64(p, 0, 1ull << 40); }), "huge cfg",
                  {"CFGZ"});
  expect_rejected(with_section(good, "CFGZ", [](std::string& p) { put_u64(p, 0, 20); }), "short cfg", {"corrupt"});
  expect_rejected(with_section(good, "CFGZ", [](std::string& p) { p[p.size() - 6] ^= 0x55; }), "zlib", {"corrupt"});
  const std::string bogus = with_cfg_text(good, std::string(kCfg) + "bogus_key=1\n");
  BOOST_CHECK_NO_THROW(rpg::describe_export(bogus, "bad.rpgm"));
  expect_error([&] { rpg::load_export_from_bytes(bogus, "bad.rpgm", cpu()); }, Status::FormatError,
               {"bad.rpgm", "embedded cfg", "bogus_key"}, "invalid embedded cfg");
  // Ring sections: huge sizes and invalid fields.
  const size_t f = ring_fields(rpg::ContainerReader::parse(good, "x").require("R000"));
  auto ring_edit = [&](const std::string& base, const std::function<void(std::string&)>& e) {
    return with_section(base, "R000", e);
  };
  expect_rejected(ring_edit(good, [](std::string& p) { put_u32(p, 0, 1u << 31); }), "huge name", {"R000"});
  expect_rejected(ring_edit(good, [&](std::string& p) { put_u64(p, f + 8, 1ull << 40); }), "huge K", {"R000", "K"});
  expect_rejected(ring_edit(good, [&](std::string& p) { put_u64(p, f + 16, 1ull << 62); }), "huge N", {"R000"});
  expect_rejected(ring_edit(good, [&](std::string& p) { put_u64(p, f + 8, 366); }), "K off by one", {"R000"});
  expect_rejected(ring_edit(good, [&](std::string& p) { put_u32(p, f + 24, 17); }), "bits", {"bits 17"});
  expect_rejected(ring_edit(good, [&](std::string& p) { put_u32(p, f + 28, 0); }), "block 0", {"block"});
  expect_rejected(ring_edit(good, [&](std::string& p) { put_u32(p, f + 28, 1u << 31); }), "huge block", {"block"});
  expect_rejected(ring_edit(good, [&](std::string& p) { put_u32(p, f + 32, 2); }), "layout", {"layout"});
  expect_rejected(ring_edit(good, [&](std::string& p) { put_u64(p, f + 36, 1000); }), "pruned > K", {"pruned"});
  expect_rejected(ring_edit(good, [&](std::string& p) { put_u64(p, f + 36, 100); }), "pruned != bitmap", {"R000"});
  expect_rejected(ring_edit(dense, [&](std::string& p) { put_u64(p, f + 36, 300); }), "dense pruned", {"pruned"});
  expect_rejected(ring_edit(good, [&](std::string& p) { p[f + 44] = char(0xff); }), "bitmap", {"R000"});
  expect_rejected(ring_edit(good, [&](std::string& p) { p.back() = char(0xff); }), "code above 2Q", {"code"});
  expect_rejected(ring_edit(dense, [&](std::string& p) { p.back() = char(0xee); }), "code 14 ok, padding",
                  {"padding"});
  expect_rejected(ring_edit(dense, [&](std::string& p) {
                    const float nan = NAN;
                    std::memcpy(&p[f + 44], &nan, 4);
                  }),
                  "NaN scale", {"scale"});
  expect_rejected(ring_edit(good, [&](std::string& p) { p.pop_back(); }), "short ring", {"truncated"});
  expect_rejected(ring_edit(good, [&](std::string& p) { p += "zz"; }), "long ring", {"R000"});
  const std::string renamed = ring_edit(good, [&](std::string& p) { p[4] = 'x'; });
  expect_error([&] { rpg::load_export_from_bytes(renamed, "bad.rpgm", cpu()); }, Status::FormatError,
               {"bad.rpgm", "'x'"}, "renamed ring");
  // Unshared parameters.
  expect_rejected(with_section(good, "UNSH", [](std::string& p) { put_u32(p, 0, 24); }), "precision", {"precision"});
  expect_rejected(with_section(good, "UNSH", [](std::string& p) { put_u64(p, 4, 1ull << 62); }), "huge count",
                  {"UNSH"});
  expect_rejected(with_section(good, "UNSH", [](std::string& p) { p.resize(p.size() - 2); }), "short", {"UNSH"});
  expect_rejected(with_section(good, "UNSH", [](std::string& p) { p[12] = 0; p[13] = char(0x7e); }), "half NaN",
                  {"not finite"});
  // Missing, unknown and foreign sections.
  {
    const rpg::ContainerReader rd = rpg::ContainerReader::parse(good, "x");
    rpg::ContainerWriter w;
    for (const auto& s : rd.sections())
      if (s.tag != "R001") w.add_section(s.tag, s.payload, s.flags);
    expect_rejected(w.bytes(), "missing ring", {"R001"});
    w.add_section("ZZZZ", "x");
    expect_rejected(w.bytes(), "unknown section", {"ZZZZ"});
  }
  expect_rejected(std::string(), "empty", {"empty"});
  expect_rejected("not a model at all", "text", {"not an rpgnet container"});
  {
    rpg::ContainerWriter w;
    w.add_section("META", "1234");
    expect_rejected(w.bytes(), "a checkpoint", {"no section 'EXPT'"});
  }
}

// Issue 15: a [route] of 65,537 references to a 65,536-filter layer wrapped its int channel count
// to exactly 65,536, so an export of the one-reference route passed every check with that cfg
// embedded, and predict then wrote 2^32 floats into a buffer of 65,536. The embedded cfg now goes
// through the parser's shape limits.
BOOST_AUTO_TEST_CASE(an_embedded_cfg_beyond_the_shape_limits_is_refused) {
  const std::string head = "[net]\nwidth=1\nheight=1\nchannels=1\n[convolutional]\nfilters=65536\nsize=1\n"
                           "activation=linear\n[route]\nlayers=0";
  auto net = rpg_test::net_from_text(head + "\n");
  std::string refs;
  for (int i = 1; i < 65537; ++i) refs += ",0";
  const std::string crafted = with_cfg_text(rpg::encode_export(*net, opts(32)), head + refs + "\n");
  BOOST_CHECK_NO_THROW(rpg::describe_export(crafted, "crafted.rpgm"));
  expect_error([&] { rpg::load_export_from_bytes(crafted, "crafted.rpgm", cpu()); }, Status::FormatError,
               {"crafted.rpgm", "embedded cfg", ":10: route of 16385 inputs", "exceed the limit"}, "route wrap");
}

BOOST_AUTO_TEST_CASE(another_architecture_is_refused_naming_the_layer) {
  auto net = trained_net();
  const std::string bytes = rpg::encode_export(*net, opts(8));
  std::string other = kCfg;
  other.replace(other.find("output=8"), 8, "output=9");
  auto victim = make_net(other, "other.cfg");
  const auto before = outputs(*victim);
  expect_error([&] { rpg::load_export_into_from_bytes(*victim, bytes, "m.rpgm"); }, Status::FormatError,
               {"m.rpgm", "other.cfg"}, "other architecture");
  BOOST_CHECK(outputs(*victim) == before);  // untouched
  std::string seed = kCfg;
  seed.replace(seed.find("seed=7"), 6, "seed=8");
  auto reseeded = make_net(seed, "seed.cfg");
  expect_error([&] { rpg::load_export_into_from_bytes(*reseeded, bytes, "m.rpgm"); }, Status::FormatError,
               {"m.rpgm", "ring 1", "seed 7"}, "other seed");
  std::string act = kCfg;
  act.replace(act.find("activation=relu"), 15, "activation=tanh");  // same sizes, another layer
  auto relu = make_net(act, "act.cfg");
  // Activations are not part of the architecture's tensors: the file loads (documented).
  BOOST_CHECK_NO_THROW(rpg::load_export_into_from_bytes(*relu, bytes, "m.rpgm"));
  std::string shape = kCfg;
  shape.replace(shape.find("[softmax]"), 9, "[dropout]\nprobability=0.5");  // same tensors, another layer
  auto reshaped = make_net(shape, "shape.cfg");
  expect_error([&] { rpg::load_export_into_from_bytes(*reshaped, bytes, "m.rpgm"); }, Status::FormatError,
               {"m.rpgm", "shape.cfg", "layer 4: softmax", "layer 4: dropout"}, "other layer type");
}

// Issue 15: the images-seen count of an export is bounded like every counter (before, any value
// was accepted and became a negative int64 in load_any_weights).
BOOST_AUTO_TEST_CASE(an_absurd_seen_count_is_rejected) {
  auto net = trained_net();
  const std::string good = rpg::encode_export(*net, opts(8), 1234);
  BOOST_CHECK(rpg::describe_export(good, "ok.rpgm").seen == 1234u);
  expect_rejected(with_section(good, "EXPT", [](std::string& p) { put_u64(p, 32, 1ull << 63); }), "huge seen",
                  {"seen count 9223372036854775808"});
}

BOOST_AUTO_TEST_SUITE_END()
