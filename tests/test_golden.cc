// Golden files (tests/data/golden, written once by make.sh with the code of their commit): a
// checkpoint, its exports at 32, 8 and 4 bits and the 4-bit export expanded to a Darknet
// .weights file must keep loading, with the values they hold. The values are read here a second
// way, straight from the bytes by the formats' documented layouts (container.h, checkpoint.h,
// export.h, DARKNET.md), and the files are checked against each other: the 32-bit ring is the
// checkpoint's, the 8- and 4-bit rings are within half a quantization step of it, the .weights
// file's network computes what the 4-bit export's does. Then crafted files (make_crafted.py):
// one field wrong (a count, an offset, a size) under a valid CRC-32, each rejected naming the
// file and the field.
#define BOOST_TEST_MODULE golden
#include <boost/test/unit_test.hpp>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <map>

#include "base/error.h"
#include "io/checkpoint.h"
#include "io/darknet_weights.h"
#include "io/export.h"
#include "rpg/ring.h"
#include "testing.h"

namespace {

std::string golden(const std::string& name) { return rpg_test::source_dir() + "/tests/data/golden/" + name; }

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

template <typename T>
T get(const std::string& b, size_t at) {
  T v;
  BOOST_REQUIRE(at + sizeof v <= b.size());
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

// An rpgnet container's magic and its CRC-32 (zlib's, of every byte before it).
void check_magic_and_crc(const std::string& b) {
  BOOST_REQUIRE(b.size() >= 20 && b.compare(0, 8, "RPGNET\r\n") == 0);
  const uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef*>(b.data()), uInt(b.size() - 4)));
  BOOST_REQUIRE_EQUAL(get<uint32_t>(b, b.size() - 4), crc);
}

// The container read by hand: the payload of each section.
std::map<std::string, std::string> sections(const std::string& b) {
  check_magic_and_crc(b);
  std::map<std::string, std::string> out;
  size_t at = 16;
  for (uint32_t i = 0, n = get<uint32_t>(b, 12); i < n; ++i) {
    const uint64_t size = get<uint64_t>(b, at + 8);
    out[b.substr(at, 4)] = b.substr(at + 16, size);
    at += 16 + size;
  }
  BOOST_REQUIRE_EQUAL(at + 4, b.size());
  return out;
}

std::vector<float> floats(const std::string& b, size_t at, size_t n) {
  BOOST_REQUIRE(at + 4 * n <= b.size());
  std::vector<float> v(n);
  std::memcpy(v.data(), b.data() + at, 4 * n);
  return v;
}

std::unique_ptr<rpg::Network> net(const std::string& cfg) {
  return std::make_unique<rpg::Network>(rpg::load_cfg(golden(cfg)), std::make_unique<rpg::CpuBackend>(1));
}

// Every tensor in checkpoint order: per layer weight_file_order(), then params() values not
// among them; then the rings' values.
std::vector<float> all_values(rpg::Network& n) {
  std::vector<float> out;
  for (const auto& l : n.layers()) {
    const auto order = l->weight_file_order();
    for (const rpg::Buffer<float>* b : order) {
      const std::vector<float> v = b->to_vector();
      out.insert(out.end(), v.begin(), v.end());
    }
  }
  return out;
}

std::vector<float> ring_of(rpg::Network& n) {
  BOOST_REQUIRE_EQUAL(n.rings().size(), 1u);
  return n.rings()[0]->values.to_vector();
}

// The network's outputs on a fixed batch.
std::vector<float> outputs(rpg::Network& n) {
  const std::vector<float> x = rpg_test::random_vector(size_t(n.batch() * n.input_size()), 3, 0.f, 1.f);
  rpg::Buffer<float> in(n.backend(), int64_t(x.size()));
  in.upload(x);
  n.forward(in.data(), false);
  return n.layers().back()->output.to_vector();
}

double worst_abs(const std::vector<float>& a, const std::vector<float>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) w = std::max(w, std::fabs(double(a[i]) - b[i]));
  return w;
}

}  // namespace

BOOST_AUTO_TEST_CASE(checkpoint_loads_with_the_values_it_holds) {
  auto n = net("tiny.cfg");
  const rpg::TrainState st = rpg::load_checkpoint(*n, golden("tiny.ckpt"));
  BOOST_TEST(st.iteration == 6);
  const auto s = sections(read(golden("tiny.ckpt")));
  // PARM: per layer its weight_file_order() tensors and any other params(); the ring is part of
  // the network's parameters after them. Its first floats are layer 0's (biases, scales, mean,
  // variance; the generated weights are stored too).
  const std::string& parm = s.at("PARM");
  const std::vector<float> mine = all_values(*n);
  BOOST_REQUIRE_GE(parm.size(), 4 * mine.size());
  BOOST_TEST(worst_abs(floats(parm, 0, mine.size()), mine) == 0.0);
  // The ring's values are in PARM too (a contiguous run of K floats).
  const std::vector<float> ring = ring_of(*n);
  bool found = false;
  for (size_t at = 0; !found && at + 4 * ring.size() <= parm.size(); at += 4)
    found = worst_abs(floats(parm, at, ring.size()), ring) == 0.0;
  BOOST_TEST(found, "the ring's values are not in PARM");
  BOOST_TEST(get<int64_t>(s.at("STAT"), 0) == 6);
}

BOOST_AUTO_TEST_CASE(exports_at_32_8_and_4_bits_load_with_their_values) {
  auto ckpt = net("tiny.cfg");
  rpg::load_checkpoint(*ckpt, golden("tiny.ckpt"));
  const std::vector<float> ring = ring_of(*ckpt);
  float max_abs = 0;
  for (float v : ring) max_abs = std::max(max_abs, std::fabs(v));
  const std::vector<float> reference_out = outputs(*ckpt);
  for (int bits : {32, 8, 4}) {
    BOOST_TEST_CONTEXT(bits << " bits") {
      const std::string path = golden("tiny-" + std::to_string(bits) + ".rpgm");
      auto e = rpg::load_export(path, std::make_unique<rpg::CpuBackend>(1));
      const std::vector<float> got = ring_of(*e);
      // R000 by hand: str name, u64 seed, u64 K, u64 N, u32 bits, u32 block, u32 layout, u64 pruned.
      const std::string r = sections(read(path)).at("R000");
      const size_t f = 4 + get<uint32_t>(r, 0);
      BOOST_TEST(r.substr(4, f - 4) == "shared");
      BOOST_TEST(get<uint64_t>(r, f) == 18446744073709551557ULL);
      BOOST_TEST(get<uint64_t>(r, f + 8) == ring.size());
      BOOST_TEST(get<uint64_t>(r, f + 16) == 216u);
      BOOST_TEST(get<uint32_t>(r, f + 24) == uint32_t(bits));
      if (bits == 32) {
        BOOST_TEST(worst_abs(got, ring) == 0.0);
        BOOST_TEST(worst_abs(floats(r, f + 44, ring.size()), ring) == 0.0);
        BOOST_TEST(worst_abs(outputs(*e), reference_out) <= 1e-6);
      } else {
        // Symmetric uniform code, one scale per block (RPG.md): within half a step of the ring.
        const double step = max_abs / ((1 << (bits - 1)) - 1);
        BOOST_TEST(worst_abs(got, ring) <= step / 2 * (1 + 1e-5));
        BOOST_TEST(worst_abs(got, ring) > 0.0, "the quantized ring equals the float one");
        const float scale = get<float>(r, f + 44);
        for (float v : got) {
          const double q = v / scale;
          BOOST_TEST(std::fabs(q - std::round(q)) <= 1e-4, "value " << v << " is not a multiple of the scale " << scale);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(darknet_weights_load_as_the_4_bit_export_computes) {
  auto plain = net("tiny-plain.cfg");
  BOOST_TEST(plain->rings().empty());
  rpg::load_darknet_weights(*plain, golden("tiny-4.weights"));
  // DARKNET.md: int32 major, minor, revision, then (0.2 and later) uint64 seen, then the floats
  // of every layer's weight_file_order().
  const std::string b = read(golden("tiny-4.weights"));
  BOOST_TEST(get<int32_t>(b, 0) == 0);
  BOOST_TEST(get<int32_t>(b, 4) == 2);
  const std::vector<float> mine = all_values(*plain);
  BOOST_REQUIRE_EQUAL(b.size(), 20 + 4 * mine.size());
  BOOST_TEST(worst_abs(floats(b, 20, mine.size()), mine) == 0.0);
  auto e = rpg::load_export(golden("tiny-4.rpgm"), std::make_unique<rpg::CpuBackend>(1));
  BOOST_TEST(worst_abs(outputs(*plain), outputs(*e)) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(crafted_files_with_a_valid_checksum_are_rejected_naming_the_field) {
  const struct {
    const char* file;
    const char* expect;
  } cases[] = {
      {"layer-count.ckpt", "section 'META': truncated"},
      {"tensor-size.ckpt", "with tensors [28, 3, 3, 3, 27] and momentum buffers [27, 3, 3] in the checkpoint"},
      {"parm-size.ckpt", "section 'PARM' holds 1200 bytes, this network needs 1208"},
      {"momt-size.ckpt", "section 'MOMT' holds 1164 bytes, this network needs 1152"},
      {"negative-iteration.ckpt", "section 'STAT': the update count -3 is outside"},
      {"ring-count.rpgm", "no section 'R001' (ring 2 of 2)"},
      {"ring-k.rpgm", "section 'R000' (ring 'shared'): holds 24 bytes after its header, which needs 25"},
      {"ring-n.rpgm", "K 40 and N 7 are not 1 <= K <= N"},
      {"ring-bits.rpgm", "bits 1 is not 2..16 or 32"},
      {"ring-block.rpgm", "scale block 0 is invalid for 4 bits"},
      {"ring-pruned.rpgm", "41 pruned entries of 40"},
      {"unshared-count.rpgm", "section 'UNSH': holds 1099511627776 values, section 'EXPT' says 46"},
      {"ring-size.rpgm", "holds 27 bytes after its header, which needs 24"},
      {"section-size.rpgm", "truncated in section 'EXPT'"},
      {"short.weights", "the cfg needs 262 floats after the header, the file has 261"},
      {"long.weights", "4 bytes past the end of the weights this cfg needs"},
  };
  for (const auto& c : cases) {
    const std::string path = golden(std::string("bad/") + c.file), name = c.file;
    const bool container = name.find(".weights") == std::string::npos;
    if (container) check_magic_and_crc(read(path));  // valid: the field checks are reached
    std::string message;
    try {
      if (name.find(".ckpt") != std::string::npos) {
        auto n = net("tiny.cfg");
        rpg::load_checkpoint(*n, path);
      } else if (container) {
        rpg::load_export(path, std::make_unique<rpg::CpuBackend>(1));
      } else {
        auto n = net("tiny-plain.cfg");
        rpg::load_darknet_weights(*n, path);
      }
    } catch (const rpg::Error& e) {
      message = e.what();
      BOOST_TEST((e.status() == rpg::Status::FormatError), name << ": status " << int(e.status()) << ": " << message);
    }
    BOOST_TEST_MESSAGE(name << ": " << message);
    BOOST_TEST(!message.empty(), name << " was accepted");
    BOOST_TEST(message.find(path) != std::string::npos, name << ": the message does not name the file: " << message);
    BOOST_TEST(message.find(c.expect) != std::string::npos, name << ": '" << c.expect << "' not in: " << message);
  }
}
