// File formats: Darknet .weights (round trip, transposed headers, a corpus of corrupt files that
// must be rejected without touching the network), the rpgnet container (every truncation and
// every flipped byte rejected), checkpoints (bit-exact restore) and atomic writes.
#define BOOST_TEST_MODULE io
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/container.h"
#include "io/darknet_weights.h"
#include "testing.h"

namespace fs = std::filesystem;
using rpg::Buffer;
using rpg::Network;
using rpg::Status;

namespace {

// conv+BN (66 file floats), connected+BN (474), connected without BN (28): 568 in all.
std::string small_cfg(int filters = 3, const std::string& conv_extra = "") {
  return "[net]\nbatch=2\nwidth=5\nheight=5\nchannels=2\nseed=1\n\n[convolutional]\nfilters=" +
         std::to_string(filters) +
         "\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=leaky\n" + conv_extra +
         "\n[connected]\noutput=6\nbatch_normalize=1\nactivation=relu\n\n" +
         "[connected]\noutput=4\nactivation=linear\n\n[softmax]\n";
}
constexpr int64_t kSmallFloats = 568;

std::unique_ptr<Network> make_net(const std::string& text, const std::string& override_spec = "") {
  rpg::CfgFile cfg = rpg::parse_cfg(text, "small.cfg");
  if (!override_spec.empty()) rpg::apply_override(cfg, override_spec);
  return std::make_unique<Network>(cfg, std::make_unique<rpg::CpuBackend>(1));
}

// Every .weights tensor gets distinct values in [0.2, 1.2) (positive: some are variances).
void randomize(Network& net, uint64_t seed) {
  for (const auto& l : net.layers())
    for (auto* t : l->weight_file_order())
      t->upload(rpg_test::random_vector(size_t(t->size()), seed++, .2f, 1.2f));
}

std::vector<float> outputs(Network& net) {
  return net.predict(rpg_test::random_vector(size_t(net.batch() * net.input_size()), 99).data());
}

// Everything a load may change: tensors, gradient buffers, batch-norm counters, passes.
std::vector<std::vector<float>> snapshot(Network& net) {
  std::vector<std::vector<float>> s;
  for (const auto& l : net.layers()) {
    for (auto* t : l->weight_file_order()) s.push_back(t->to_vector());
    for (const auto& p : l->params()) s.push_back(p.grad->to_vector());
    if (const int64_t* u = l->bn_updates()) s.push_back({float(*u)});
  }
  s.push_back({float(net.passes())});
  return s;
}

void train_steps(Network& net, int steps, uint64_t seed) {
  const size_t n = size_t(net.batch() * net.input_size()), k = size_t(net.output_size());
  for (int i = 0; i < steps; ++i) {
    std::vector<float> truth(size_t(net.batch()) * k, 0.f);
    for (int b = 0; b < net.batch(); ++b) truth[size_t(b) * k + size_t(b + i) % k] = 1.f;
    net.train_pass(rpg_test::random_vector(n, seed + uint64_t(i)).data(), truth.data());
    net.update(.05f);
  }
}

using rpg_test::TempDir;

// Runs f, which must throw rpg::Error with this status and a message containing every needle.
void expect_error(const std::function<void()>& f, Status status,
                  const std::vector<std::string>& needles, const std::string& label = "") {
  try {
    f();
    BOOST_ERROR("no error for " << label);
  } catch (const rpg::Error& e) {
    BOOST_CHECK_MESSAGE(e.status() == status,
                        label << ": status " << int(e.status()) << ": " << e.what());
    for (const auto& n : needles)
      BOOST_CHECK_MESSAGE(std::string(e.what()).find(n) != std::string::npos,
                          label << ": '" << e.what() << "' lacks '" << n << "'");
  }
}

void put_u32(std::string& b, size_t at, uint32_t v) { std::memcpy(&b[at], &v, 4); }
void put_u64(std::string& b, size_t at, uint64_t v) { std::memcpy(&b[at], &v, 8); }
void fix_crc(std::string& b) { put_u32(b, b.size() - 4, rpg::crc32_of(b.data(), b.size() - 4)); }

// A .weights file written by the test itself: any header, connected weights optionally [in][out].
std::string weights_by_hand(Network& net, int32_t major, int32_t minor, int32_t revision,
                            int64_t seen, bool wide_seen, bool transpose) {
  std::string b;
  auto raw = [&b](const void* p, size_t n) { b.append(static_cast<const char*>(p), n); };
  for (int32_t v : {major, minor, revision}) raw(&v, 4);
  const int32_t seen32 = int32_t(seen);
  wide_seen ? raw(&seen, 8) : raw(&seen32, 4);
  for (const auto& l : net.layers()) {
    const auto tensors = l->weight_file_order();
    for (size_t i = 0; i < tensors.size(); ++i) {
      std::vector<float> v = tensors[i]->to_vector();
      if (transpose && l->type == "connected" && i == 1) {
        const size_t in = size_t(l->in.size()), out = size_t(l->out.size());
        std::vector<float> t(v.size());
        for (size_t o = 0; o < out; ++o)
          for (size_t k = 0; k < in; ++k) t[k * out + o] = v[o * in + k];
        v.swap(t);
      }
      raw(v.data(), v.size() * 4);
    }
  }
  return b;
}

// Replaces the first occurrence of `from`'s bytes in b with `to`'s (same length).
template <typename T>
void patch_value(std::string& b, T from, T to) {
  const std::string f(reinterpret_cast<const char*>(&from), sizeof from);
  const size_t at = b.find(f);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  std::memcpy(&b[at], &to, sizeof to);
}

// The first tensor of layer `index` gets `value` at element 0.
void poke(Network& net, size_t index, float value) {
  Buffer<float>* t = net.layers()[index]->weight_file_order()[0];
  std::vector<float> v = t->to_vector();
  v[0] = value;
  t->upload(v);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(darknet_weights)

BOOST_AUTO_TEST_CASE(round_trip_into_a_network_with_another_seed) {
  TempDir dir;
  auto a = make_net(small_cfg());
  randomize(*a, 1);
  const std::string path = dir.file("small.weights");
  rpg::save_darknet_weights(*a, path, 12345);
  BOOST_CHECK_EQUAL(fs::file_size(path), 20u + 4u * kSmallFloats);
  BOOST_CHECK_EQUAL(rpg::darknet_weight_floats(*a, false), kSmallFloats);
  const std::string bytes = rpg::read_file(path);
  BOOST_CHECK(bytes.substr(0, 20) ==
              std::string("\0\0\0\0\2\0\0\0\0\0\0\0\x39\x30\0\0\0\0\0\0", 20));

  auto b = make_net(small_cfg(), "net.seed=5");
  BOOST_CHECK(outputs(*a) != outputs(*b));
  BOOST_CHECK_EQUAL(rpg::load_darknet_weights(*b, path), 12345);
  BOOST_CHECK(outputs(*a) == outputs(*b));  // bit-exact
  for (size_t i = 0; i < a->layers().size(); ++i) {
    const auto ta = a->layers()[i]->weight_file_order(), tb = b->layers()[i]->weight_file_order();
    for (size_t k = 0; k < ta.size(); ++k) BOOST_CHECK(ta[k]->to_vector() == tb[k]->to_vector());
    if (const int64_t* u = b->layers()[i]->bn_updates())
      BOOST_CHECK_GT(*u, 0);  // on_weights_loaded
  }
  BOOST_CHECK(rpg::encode_darknet_weights(*b, 12345) == bytes);
}

BOOST_AUTO_TEST_CASE(dontsave_and_dontload_skip_the_layer) {
  TempDir dir;
  auto a = make_net(small_cfg(3, "dontsave=1\n"));
  randomize(*a, 3);
  rpg::save_darknet_weights(*a, dir.file("w"), 0);
  BOOST_CHECK_EQUAL(fs::file_size(dir.file("w")), 20u + 4u * (kSmallFloats - 66));
  auto b = make_net(small_cfg(3, "dontload=1\n"));
  const auto conv_before = b->layers()[0]->weight_file_order()[4]->to_vector();
  rpg::load_darknet_weights(*b, dir.file("w"));
  BOOST_CHECK(b->layers()[0]->weight_file_order()[4]->to_vector() == conv_before);
  BOOST_CHECK(b->layers()[1]->weight_file_order()[1]->to_vector() ==
              a->layers()[1]->weight_file_order()[1]->to_vector());
}

boost::test_tools::assertion_result have_darknet_cfgs(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(!rpg_test::darknet_cfg_dir().empty());
  r.message() << "tests/darknet-cfg not found from " << rpg_test::source_dir() << "; skipping";
  return r;
}

BOOST_AUTO_TEST_CASE(cifar_small_file_size, *boost::unit_test::precondition(have_darknet_cfgs)) {
  TempDir dir;
  rpg::CfgFile cfg = rpg::load_cfg(rpg_test::darknet_cfg_dir() + "/cifar_small.cfg");
  rpg::apply_override(cfg, "net.batch=1");
  Network net(cfg, std::make_unique<rpg::CpuBackend>(1));
  rpg::save_darknet_weights(net, dir.file("cifar_small.weights"), 0);
  BOOST_CHECK_EQUAL(fs::file_size(dir.file("cifar_small.weights")), 20u + 4u * 59690u);
}

BOOST_AUTO_TEST_CASE(transposed_and_old_headers_load) {
  TempDir dir;
  auto a = make_net(small_cfg());
  randomize(*a, 7);
  struct Variant {
    int32_t major, minor;
    bool wide, transpose;
  };
  for (const Variant& v : {Variant{0, 1001, false, true}, Variant{1001, 0, false, true},
                           Variant{0, 1, false, false}, Variant{0, 2, true, false}}) {
    const std::string path = dir.file("t.weights");
    rpg::write_file_atomic(path, weights_by_hand(*a, v.major, v.minor, 5, 77, v.wide, v.transpose));
    auto b = make_net(small_cfg(), "net.seed=5");
    BOOST_CHECK_EQUAL(rpg::load_darknet_weights(*b, path), 77);
    BOOST_CHECK_MESSAGE(outputs(*a) == outputs(*b), "version " << v.major << "." << v.minor);
    BOOST_CHECK(rpg::encode_darknet_weights(*a, 0) == rpg::encode_darknet_weights(*b, 0));
  }
}

BOOST_AUTO_TEST_CASE(corrupt_files_are_rejected_and_leave_the_network_unchanged) {
  TempDir dir;
  auto a = make_net(small_cfg());
  randomize(*a, 11);
  const std::string good = rpg::encode_darknet_weights(*a, 5);
  auto other = make_net(small_cfg(4));
  std::vector<std::pair<std::string, std::string>> corpus = {
      {"empty", ""},
      {"extra_float", good + std::string(4, '\0')},
      {"extra_byte", good + "x"},
      {"other_architecture", rpg::encode_darknet_weights(*other, 5)},
      {"negative_major", weights_by_hand(*a, -1, 2, 0, 5, true, false)},
      {"absurd_minor", weights_by_hand(*a, 0, 500, 0, 5, true, false)},
      {"major_1000", weights_by_hand(*a, 1000, 2, 0, 5, false, false)},
      {"absurd_major", weights_by_hand(*a, 0x7fffffff, 2, 0, 5, false, false)},
      {"negative_revision", weights_by_hand(*a, 0, 2, -3, 5, true, false)},
      {"negative_seen_v01", weights_by_hand(*a, 0, 1, 0, -5, false, false)},
      {"seen_over_int64", weights_by_hand(*a, 0, 2, 0, -1, true, false)},
  };
  for (size_t cut : {size_t(1), size_t(4), size_t(11), size_t(12), size_t(16), size_t(19),
                     size_t(20), size_t(24), good.size() / 2, good.size() - 4, good.size() - 1})
    corpus.push_back({"truncated_at_" + std::to_string(cut), good.substr(0, cut)});

  auto victim = make_net(small_cfg(), "net.seed=5");
  train_steps(*victim, 1, 3);  // non-trivial gradients and counters to compare
  const auto before = snapshot(*victim);
  for (const auto& [label, bytes] : corpus) {
    const std::string path = dir.file(label + ".weights");
    rpg::write_file_atomic(path, bytes);
    expect_error([&] { rpg::load_darknet_weights(*victim, path); }, Status::FormatError, {path},
                 label);
    BOOST_CHECK_MESSAGE(snapshot(*victim) == before, label << " changed the network");
  }
  const std::string p = dir.file("msg.weights");
  rpg::write_file_atomic(p, good.substr(0, good.size() - 4));
  expect_error([&] { rpg::load_darknet_weights(*victim, p); }, Status::FormatError,
               {"truncated: the cfg needs 568 floats after the header, the file has 567"});
  rpg::write_file_atomic(p, good + std::string(4, '\0'));
  expect_error([&] { rpg::load_darknet_weights(*victim, p); }, Status::FormatError,
               {"4 bytes past the end of the weights this cfg needs: is it for another network?"});
  expect_error([&] { rpg::load_darknet_weights(*victim, dir.file("missing.weights")); },
               Status::NotFound, {dir.file("missing.weights")});
  BOOST_CHECK(snapshot(*victim) == before);
}

// Issue 15: a diverged network is never written, and non-finite values or absurd counters in a
// file are rejected, naming the layer (before the fix both were accepted).
BOOST_AUTO_TEST_CASE(non_finite_values_are_never_written_nor_loaded) {
  TempDir dir;
  auto net = make_net(small_cfg());
  randomize(*net, 3);
  const std::string path = dir.file("w.weights");
  rpg::save_darknet_weights(*net, path, 64);
  const std::string good = rpg::read_file(path);
  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    poke(*net, 2, bad);  // the last connected layer's biases
    expect_error([&] { rpg::save_darknet_weights(*net, path, 64); }, Status::InvalidArgument,
                 {"layer 2 (connected)", std::isnan(bad) ? "nan" : "inf", path + " not written"});
    BOOST_CHECK(rpg::read_file(path) == good);  // the good file stays
  }
  BOOST_CHECK(dir.entries() == std::vector<std::string>{"w.weights"});

  auto victim = make_net(small_cfg(), "net.seed=9");
  const auto before = snapshot(*victim);
  randomize(*net, 3);
  const float marker = net->layers()[2]->weight_file_order()[0]->to_vector()[0];
  std::string b = rpg::encode_darknet_weights(*net, 64);
  patch_value(b, marker, std::nanf(""));
  expect_error([&] { rpg::load_darknet_weights_from_bytes(*victim, b, "nan.weights"); }, Status::FormatError,
               {"nan.weights", "layer 2 (connected)", "nan at index 0"});
  BOOST_CHECK(snapshot(*victim) == before);

  // A seen count beyond kMaxTrainCount would overflow the loader position it becomes.
  std::string huge = good;
  put_u64(huge, 12, uint64_t(1) << 62);
  expect_error([&] { rpg::load_darknet_weights_from_bytes(*victim, huge, "huge.weights"); }, Status::FormatError,
               {"huge.weights", "seen count 4611686018427387904"});
  BOOST_CHECK(snapshot(*victim) == before);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(container)

rpg::ContainerWriter sample() {
  rpg::ContainerWriter w;
  w.add_section("HEAD", "hello");
  w.add_section("NONE", "");
  w.add_section("BIN ", std::string("\0\1\2\xff", 4), 0);  // optional
  return w;
}

BOOST_AUTO_TEST_CASE(round_trip) {
  TempDir dir;
  sample().write_atomic(dir.file("c"));
  const auto r = rpg::ContainerReader::read(dir.file("c"));
  BOOST_CHECK_EQUAL(r.version(), rpg::kContainerVersion);
  BOOST_REQUIRE_EQUAL(r.sections().size(), 3u);
  BOOST_CHECK_EQUAL(*r.find("HEAD"), "hello");
  BOOST_CHECK_EQUAL(*r.find("NONE"), "");
  BOOST_CHECK(*r.find("BIN ") == std::string("\0\1\2\xff", 4));
  BOOST_CHECK(r.find("PARM") == nullptr);
  BOOST_CHECK_EQUAL(r.sections()[2].flags, 0u);
  BOOST_CHECK(rpg::read_file(dir.file("c")) == sample().bytes());
  BOOST_CHECK_EQUAL(sample().bytes().size(), 16u + 3 * 16 + 5 + 0 + 4 + 4);
  r.check_known({"HEAD", "NONE"});  // BIN is optional
  expect_error([&] { r.check_known({"HEAD"}); }, Status::FormatError, {dir.file("c"), "'NONE'"});
  expect_error([&] { r.require("PARM"); }, Status::FormatError, {"no section 'PARM'"});
}

BOOST_AUTO_TEST_CASE(writer_rejects_bad_tags) {
  rpg::ContainerWriter w;
  w.add_section("ABCD", "");
  expect_error([&] { w.add_section("ABCD", ""); }, Status::InvalidArgument, {"twice"});
  expect_error([&] { w.add_section("ABC", ""); }, Status::InvalidArgument, {"4 printable"});
  expect_error([&] { w.add_section(std::string("AB\0D", 4), ""); }, Status::InvalidArgument,
               {"tag"});
  expect_error([&] { w.add_section("WXYZ", "", 6); }, Status::InvalidArgument, {"flags"});
}

BOOST_AUTO_TEST_CASE(every_truncation_and_every_flipped_byte_is_rejected) {
  const std::string good = sample().bytes();
  for (size_t n = 0; n < good.size(); ++n)
    expect_error([&] { rpg::ContainerReader::parse(good.substr(0, n), "cut.rpg"); },
                 Status::FormatError, {"cut.rpg"}, "length " + std::to_string(n));
  for (size_t i = 0; i < good.size(); ++i)
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = char(bad[i] ^ x);
      expect_error([&] { rpg::ContainerReader::parse(bad, "flip.rpg"); }, Status::FormatError,
                   {"flip.rpg"}, "byte " + std::to_string(i));
    }
  expect_error([&] { rpg::ContainerReader::parse(good + "x", "long.rpg"); }, Status::FormatError,
               {"1 unexpected bytes after the last section"});
}

BOOST_AUTO_TEST_CASE(structural_errors_have_precise_messages) {
  const std::string good = sample().bytes();
  std::string b = good;
  put_u32(b, 8, 7);
  fix_crc(b);
  expect_error([&] { rpg::ContainerReader::parse(b, "v.rpg"); }, Status::FormatError,
               {"v.rpg: unsupported version 7 (this build reads 1)"});
  b = good;
  put_u64(b, 16 + 8, uint64_t(1) << 62);  // size of HEAD: must fail before any allocation
  fix_crc(b);
  expect_error([&] { rpg::ContainerReader::parse(b, "h.rpg"); }, Status::FormatError,
               {"truncated in section 'HEAD' (needs 4611686018427387904 bytes, "});
  b = good;
  put_u64(b, 16 + 8, ~uint64_t(0));
  fix_crc(b);
  expect_error([&] { rpg::ContainerReader::parse(b, "h.rpg"); }, Status::FormatError,
               {"truncated"});
  b = good;
  put_u32(b, 12, 0xffffffffu);  // section count
  fix_crc(b);
  expect_error([&] { rpg::ContainerReader::parse(b, "n.rpg"); }, Status::FormatError,
               {"truncated"});
  b = good;
  b.replace(16 + 16 + 5, 4, "HEAD");  // second section's tag
  fix_crc(b);
  expect_error([&] { rpg::ContainerReader::parse(b, "d.rpg"); }, Status::FormatError,
               {"duplicate section 'HEAD'"});
  b = good;
  put_u32(b, 16 + 4, 2);  // reserved flag
  fix_crc(b);
  expect_error([&] { rpg::ContainerReader::parse(b, "f.rpg"); }, Status::FormatError,
               {"unsupported flags"});
  b = good;
  b[20] = char(b[20] ^ 1);
  expect_error([&] { rpg::ContainerReader::parse(b, "c.rpg"); }, Status::FormatError,
               {"checksum mismatch"});
  expect_error([&] { rpg::ContainerReader::parse("\0\0\0\2", "w.rpg"); }, Status::FormatError,
               {"not an rpgnet container"});
  expect_error([&] { rpg::ContainerReader::read("/nonexistent/x.rpg"); }, Status::NotFound,
               {"/nonexistent/x.rpg"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(checkpoint)

BOOST_AUTO_TEST_CASE(save_load_save_is_byte_identical_and_resumes_exactly) {
  TempDir dir;
  auto a = make_net(small_cfg());
  train_steps(*a, 3, 20);
  bool momentum = false;
  for (const auto& p : a->layers()[0]->params())
    for (float g : p.grad->to_vector()) momentum |= g != 0.f;
  BOOST_REQUIRE(momentum);
  rpg::TrainState state{3, 6, 8, 0};
  rpg::save_checkpoint(*a, state, dir.file("a.ckpt"));

  auto b = make_net(small_cfg(), "net.seed=5");
  const rpg::TrainState got = rpg::load_checkpoint(*b, dir.file("a.ckpt"));
  BOOST_CHECK_EQUAL(got.iteration, 3);
  BOOST_CHECK_EQUAL(got.seen, 6);
  BOOST_CHECK_EQUAL(got.loader_position, 8);
  BOOST_CHECK_EQUAL(got.passes, a->passes());
  BOOST_CHECK_EQUAL(b->passes(), a->passes());
  rpg::save_checkpoint(*b, got, dir.file("b.ckpt"));
  BOOST_CHECK(rpg::read_file(dir.file("a.ckpt")) == rpg::read_file(dir.file("b.ckpt")));
  BOOST_CHECK(outputs(*a) == outputs(*b));
  BOOST_CHECK(snapshot(*a) == snapshot(*b));
  train_steps(*a, 2, 40);
  train_steps(*b, 2, 40);
  BOOST_CHECK(snapshot(*a) == snapshot(*b));
}

BOOST_AUTO_TEST_CASE(checkpoint_of_another_architecture_or_corrupt_is_rejected) {
  TempDir dir;
  auto a = make_net(small_cfg());
  train_steps(*a, 1, 5);
  const std::string path = dir.file("a.ckpt");
  rpg::save_checkpoint(*a, {1, 2, 2, 0}, path);

  auto wider = make_net(small_cfg(4));
  const auto before = snapshot(*wider);
  expect_error([&] { rpg::load_checkpoint(*wider, path); }, Status::FormatError,
               {path, "another network", "layer 0 is convolutional"});
  BOOST_CHECK(snapshot(*wider) == before);
  std::string shorter = small_cfg();
  shorter.resize(shorter.find("\n[softmax]"));
  auto no_softmax = make_net(shorter);
  expect_error([&] { rpg::load_checkpoint(*no_softmax, path); }, Status::FormatError,
               {"the checkpoint has 4 layers, the cfg 3"});

  auto victim = make_net(small_cfg(), "net.seed=5");
  const auto victim_before = snapshot(*victim);
  const std::string good = rpg::read_file(path);
  for (size_t cut : {size_t(0), size_t(10), size_t(100), good.size() / 2, good.size() - 1})
    expect_error([&] { rpg::load_checkpoint_from_bytes(*victim, good.substr(0, cut), "cut.ckpt"); },
                 Status::FormatError, {"cut.ckpt"}, "cut " + std::to_string(cut));
  std::string flipped = good;
  flipped[good.size() - 100] ^= 0x10;  // inside BNCT or MOMT
  expect_error([&] { rpg::load_checkpoint_from_bytes(*victim, flipped, "f.ckpt"); },
               Status::FormatError, {"checksum mismatch"});
  rpg::ContainerWriter partial;
  partial.add_section("META", rpg::ContainerReader::parse(good, "x").find("META")[0]);
  expect_error([&] { rpg::load_checkpoint_from_bytes(*victim, partial.bytes(), "p.ckpt"); },
               Status::FormatError, {"p.ckpt: no section 'STAT'"});
  expect_error(
      [&] {
        rpg::load_checkpoint_from_bytes(*victim, rpg::encode_darknet_weights(*a, 0), "w.ckpt");
      },
      Status::FormatError, {"not an rpgnet container"});
  BOOST_CHECK(snapshot(*victim) == victim_before);
}

// Issue 15: a diverged network never replaces a good checkpoint; a crafted checkpoint with a NaN,
// a huge loader position or a huge batch-norm counter is rejected naming what is wrong.
BOOST_AUTO_TEST_CASE(non_finite_tensors_and_absurd_counters_are_refused) {
  TempDir dir;
  auto a = make_net(small_cfg());
  train_steps(*a, 2, 7);
  const std::string path = dir.file("a.ckpt");
  rpg::save_checkpoint(*a, {2, 4, 777777, 0}, path);
  const std::string good = rpg::read_file(path);
  BOOST_CHECK(a->non_finite_tensor().empty());

  poke(*a, 1, std::nanf(""));  // connected + BN: biases
  BOOST_CHECK_EQUAL(a->non_finite_tensor(), "layer 1 (connected)");
  expect_error([&] { rpg::save_checkpoint(*a, {3, 6, 8, 0}, path); }, Status::InvalidArgument,
               {"save_checkpoint", "layer 1 (connected)", "nan", path + " not written"});
  BOOST_CHECK(rpg::read_file(path) == good);
  BOOST_CHECK(dir.entries() == std::vector<std::string>{"a.ckpt"});
  auto momentum = make_net(small_cfg());
  train_steps(*momentum, 1, 7);
  Buffer<float>* g = momentum->layers()[0]->params()[0].grad;
  std::vector<float> gv = g->to_vector();
  gv[1] = -std::numeric_limits<float>::infinity();
  g->upload(gv);
  BOOST_CHECK_EQUAL(momentum->non_finite_tensor(), "layer 0 (convolutional), its momentum");
  expect_error([&] { rpg::save_checkpoint(*momentum, {}, dir.file("m.ckpt")); }, Status::InvalidArgument,
               {"layer 0 (convolutional), momentum 0", "-inf at index 1"});

  auto victim = make_net(small_cfg(), "net.seed=5");
  const auto before = snapshot(*victim);
  auto b = make_net(small_cfg());
  randomize(*b, 11);
  const float marker = b->layers()[2]->weight_file_order()[1]->to_vector()[3];
  std::string nan_file = rpg::encode_checkpoint(*b, {});
  patch_value(nan_file, marker, std::numeric_limits<float>::infinity());
  fix_crc(nan_file);
  expect_error([&] { rpg::load_checkpoint_from_bytes(*victim, nan_file, "nan.ckpt"); }, Status::FormatError,
               {"nan.ckpt", "section 'PARM'", "layer 2 (connected), tensor 1", "inf at index 3"});

  std::string far = good;
  patch_value(far, int64_t(777777), int64_t(1) << 62);
  fix_crc(far);
  expect_error([&] { rpg::load_checkpoint_from_bytes(*victim, far, "far.ckpt"); }, Status::FormatError,
               {"far.ckpt", "section 'STAT'", "loader position 4611686018427387904"});

  auto c = make_net(small_cfg());
  for (const auto& l : c->layers())
    if (int64_t* u = l->bn_updates()) *u = 987654321;
  std::string counts = rpg::encode_checkpoint(*c, {});
  patch_value(counts, int64_t(987654321), std::numeric_limits<int64_t>::max());
  fix_crc(counts);
  expect_error([&] { rpg::load_checkpoint_from_bytes(*victim, counts, "bn.ckpt"); }, Status::FormatError,
               {"bn.ckpt", "section 'BNCT'", "batch-norm count of 9223372036854775807"});
  BOOST_CHECK(snapshot(*victim) == before);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(atomic_file)

BOOST_AUTO_TEST_CASE(no_temporary_file_remains) {
  TempDir dir;
  rpg::write_file_atomic(dir.file("f"), "first");
  rpg::write_file_atomic(dir.file("f"), std::string("second\0", 7));
  BOOST_CHECK(rpg::read_file(dir.file("f")) == std::string("second\0", 7));
  auto net = make_net(small_cfg());
  rpg::save_darknet_weights(*net, dir.file("w"), 0);
  rpg::save_checkpoint(*net, {}, dir.file("c"));
  BOOST_CHECK(dir.entries() == (std::vector<std::string>{"c", "f", "w"}));
}

BOOST_AUTO_TEST_CASE(failures_name_the_path_and_leave_nothing_behind) {
  TempDir dir;
  const std::string missing = dir.file("no/such/folder/f");
  expect_error([&] { rpg::write_file_atomic(missing, "x"); }, Status::NotFound,
               {missing, "No such file"});
  fs::create_directories(dir.path / "d" / "inner");
  expect_error([&] { rpg::write_file_atomic(dir.file("d"), "x"); }, Status::NotFound,
               {dir.file("d"), "Is a directory"});
  BOOST_CHECK(fs::is_directory(dir.path / "d" / "inner"));
  BOOST_CHECK(dir.entries() == std::vector<std::string>{"d"});
  expect_error([&] { rpg::read_file(dir.file("absent")); }, Status::NotFound, {dir.file("absent")});
  expect_error([&] { rpg::read_file(dir.file("d")); }, Status::NotFound, {dir.file("d")});
}

// Issue 15: writers of one path, in one process, used to share path.tmp.<pid>: a reader saw
// truncated files and writers failed. Each write now has a temporary file of its own.
BOOST_AUTO_TEST_CASE(concurrent_writers_of_one_path_never_show_a_partial_file) {
  TempDir dir;
  const std::string path = dir.file("model.ckpt");
  // Content k: 'k' repeated, its length (20k..200k bytes) written at its start.
  auto content = [](int k) {
    std::string s(size_t(20000 * (1 + k % 10)), char('a' + k % 26));
    const uint64_t n = s.size();
    std::memcpy(&s[0], &n, 8);
    return s;
  };
  rpg::write_file_atomic(path, content(0));
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, partial{0}, reads{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; i < 40; ++i) try {
          rpg::write_file_atomic(path, content(w * 40 + i));
        } catch (const rpg::Error&) {
          ++failures;
        }
    });
  std::thread reader([&] {
    while (!done) {
      const std::string s = rpg::read_file(path);
      uint64_t n = 0;
      if (s.size() >= 8) std::memcpy(&n, s.data(), 8);
      if (s.size() < 8 || n != s.size() || s.find_first_not_of(s.back(), 8) != std::string::npos) ++partial;
      ++reads;
    }
  });
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  BOOST_CHECK_EQUAL(failures.load(), 0);
  BOOST_CHECK_EQUAL(partial.load(), 0);
  BOOST_CHECK_GT(reads.load(), 0);
  BOOST_CHECK(dir.entries() == std::vector<std::string>{"model.ckpt"});
}

// A writer killed mid-write (kill -9) leaves its temporary file; the next write of that path
// removes it, but never a temporary a live writer holds (its lock), nor other files.
BOOST_AUTO_TEST_CASE(stale_temporaries_of_dead_writers_are_removed) {
  TempDir dir;
  const std::string path = dir.file("m.ckpt"), prefix = rpg::atomic_temp_prefix(path);
  BOOST_CHECK_EQUAL(prefix, path + ".rpgnet-tmp.");
  rpg_test::write_file(prefix + "k9dead", "half a checkpoint");
  rpg_test::write_file(prefix + "live01", "being written");
  rpg_test::write_file(dir.file("other.ckpt.rpgnet-tmp.k9dead"), "another target's");
  rpg_test::write_file(prefix + "notmine1", "not a name mkstemp makes");
  const int fd = ::open((prefix + "live01").c_str(), O_RDONLY);
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST_REQUIRE(::flock(fd, LOCK_EX) == 0);  // as a live writer holds it
  rpg::write_file_atomic(path, "new");
  BOOST_CHECK(dir.entries() == (std::vector<std::string>{"m.ckpt", "m.ckpt.rpgnet-tmp.live01",
                                                         "m.ckpt.rpgnet-tmp.notmine1",
                                                         "other.ckpt.rpgnet-tmp.k9dead"}));
  ::close(fd);  // the writer is gone
  BOOST_CHECK_EQUAL(rpg::remove_stale_temporaries(path), 1);
  BOOST_CHECK(dir.entries() == (std::vector<std::string>{"m.ckpt", "m.ckpt.rpgnet-tmp.notmine1",
                                                         "other.ckpt.rpgnet-tmp.k9dead"}));
  BOOST_CHECK(rpg::read_file(path) == "new");
}

// Issue 15: the backup folder is checked before training starts, not at the first checkpoint.
BOOST_AUTO_TEST_CASE(writable_folder_check_names_the_problem) {
  TempDir dir;
  rpg::check_writable_folder(dir.file("new/backup"));  // created, with its parent
  BOOST_CHECK(fs::is_directory(dir.path / "new" / "backup"));
  BOOST_CHECK(fs::is_empty(dir.path / "new" / "backup"));  // the probe is gone
  rpg_test::write_file(dir.file("file"), "x");
  expect_error([&] { rpg::check_writable_folder(dir.file("file")); }, Status::NotFound,
               {"'" + dir.file("file") + "' is not a folder"});
  expect_error([&] { rpg::check_writable_folder(dir.file("file/sub")); }, Status::NotFound,
               {"cannot create folder '" + dir.file("file/sub") + "'", "Not a directory"});
  expect_error([&] { rpg::check_writable_folder(dir.file("new"), uint64_t(1) << 62); }, Status::NotFound,
               {dir.file("new"), "no space left on device", "4611686018427387904"});
  if (::geteuid() != 0) {  // root writes into read-only folders
    fs::create_directories(dir.path / "ro");
    fs::permissions(dir.path / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    expect_error([&] { rpg::check_writable_folder(dir.file("ro")); }, Status::NotFound,
                 {dir.file("ro"), "not writable", "Permission denied"});
    fs::permissions(dir.path / "ro", fs::perms::owner_all);
  }
  BOOST_CHECK(rpg::same_file(dir.file("file"), dir.file("new/../file")));
  BOOST_CHECK(!rpg::same_file(dir.file("file"), dir.file("absent")));
}

BOOST_AUTO_TEST_SUITE_END()
