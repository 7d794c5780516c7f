// Export decoding (every size checked before it is used, every value validated) and loading
// (see export.h).
#include <zlib.h>

#include <algorithm>
#include <cmath>

#include "backend/factory.h"
#include "cfg/cfg.h"
#include "core/train_state.h"
#include "base/error.h"
#include "io/atomic_file.h"
#include "io/bytes.h"
#include "io/container.h"
#include "io/export.h"
#include "io/export_format.h"
#include "io/quantize.h"

namespace rpg {
namespace exportfmt {

namespace {

[[noreturn]] void bad(const std::string& where, const std::string& problem) {
  fail(Status::FormatError, where + ": " + problem);
}

std::string decode_cfg(const std::string& z, const std::string& where) {
  io::ByteReader r(z, where);
  const uint64_t len = r.u64();
  const size_t zn = r.remaining();
  if (len == 0 || len > kMaxCfgText)
    bad(where, "cfg text length " + std::to_string(len) + " is outside 1.." + std::to_string(kMaxCfgText));
  if (len > uint64_t(zn) * 1032 + 64)  // deflate cannot expand more than about 1032:1
    bad(where, "claims " + std::to_string(len) + " bytes of cfg text from " + std::to_string(zn) + " compressed bytes");
  std::string text(size_t(len), '\0');
  uLongf out = uLongf(len);
  uLong in = uLong(zn);
  const int rc = uncompress2(reinterpret_cast<Bytef*>(&text[0]), &out, reinterpret_cast<const Bytef*>(z.data() + 8), &in);
  if (rc != Z_OK || out != len || in != zn)
    bad(where, "the compressed cfg text is corrupt (zlib status " + std::to_string(rc) + ")");
  return text;
}

RingRecord decode_ring(const std::string& p, const std::string& tag, const std::string& name) {
  std::string where = name + ": section '" + tag + "'";
  io::ByteReader r(p, where);
  RingRecord g;
  g.bytes = p.size();
  const uint32_t name_len = r.u32();
  if (name_len == 0 || name_len > kMaxRingName)
    bad(where, "ring name length " + std::to_string(name_len) + " is outside 1.." + std::to_string(kMaxRingName));
  g.name = r.bytes(name_len);
  for (unsigned char ch : g.name)
    if (ch < 0x20 || ch > 0x7e) bad(where, "the ring name holds a non-printable byte");
  where += " (ring '" + g.name + "')";
  io::ByteReader h(p, where, r.position());
  g.seed = h.u64();
  const uint64_t k = h.u64(), n = h.u64();
  const uint32_t bits = h.u32(), block = h.u32(), layout = h.u32();
  const uint64_t pruned = h.u64();
  if (k < 1 || n < k || n > uint64_t(INT32_MAX) - 1)
    bad(where, "K " + std::to_string(k) + " and N " + std::to_string(n) + " are not 1 <= K <= N < 2^31 - 1");
  if (!((bits >= 2 && bits <= 16) || bits == 32)) bad(where, "bits " + std::to_string(bits) + " is not 2..16 or 32");
  if (bits == 32 ? block != 0 : (block < 1 || block > uint32_t(INT32_MAX)))
    bad(where, "scale block " + std::to_string(block) + " is invalid for " + std::to_string(bits) + " bits");
  if (layout != kDense && layout != kSparse) bad(where, "unknown layout " + std::to_string(layout));
  if (pruned > k) bad(where, std::to_string(pruned) + " pruned entries of " + std::to_string(k));
  g.k = int64_t(k);
  g.n = int64_t(n);
  g.bits = int(bits);
  g.block = int(block);
  g.layout = layout;
  g.pruned = int64_t(pruned);

  const bool sparse = layout == kSparse;
  const uint64_t m = sparse ? k - pruned : k;
  const uint64_t blocks = bits == 32 ? 0 : (k + block - 1) / block;
  const uint64_t need = (sparse ? (k + 7) / 8 : 0) + blocks * 4 + (bits == 32 ? m * 4 : io::packed_bytes(m, int(bits)));
  if (h.remaining() != need)
    bad(where, "holds " + std::to_string(h.remaining()) + " bytes after its header, which needs " + std::to_string(need) +
                   (h.remaining() < need ? " (truncated)" : ""));
  const char* base = p.data() + h.position();
  std::vector<uint8_t> stored(size_t(k), 1);
  if (sparse) {
    const auto* bm = reinterpret_cast<const unsigned char*>(base);
    uint64_t count = 0;
    for (uint64_t j = 0; j < k; ++j) {
      stored[size_t(j)] = (bm[j >> 3] >> (j & 7)) & 1u;
      count += stored[size_t(j)];
    }
    if (k % 8 && (bm[k >> 3] >> (k % 8)))
      bad(where, "padding bits of the bitmap are set");
    if (count != m)
      bad(where, "the bitmap keeps " + std::to_string(count) + " entries, the header says " + std::to_string(m));
    h.skip(size_t(k + 7) / 8);
  }
  std::vector<float>& scales = g.scales;
  scales.resize(static_cast<size_t>(blocks));
  h.floats(scales.size(), scales.data());
  for (size_t b = 0; b < scales.size(); ++b)
    if (!std::isfinite(scales[b]) || scales[b] < 0)
      bad(where, "scale " + std::to_string(b) + " is " + std::to_string(scales[b]) + " (must be finite and >= 0)");
  g.values.assign(size_t(k), 0.f);
  uint64_t zeros = 0;
  if (bits == 32) {
    std::vector<float> v(static_cast<size_t>(m));
    h.floats(v.size(), v.data());
    size_t i = 0;
    for (uint64_t j = 0; j < k; ++j) {
      if (!stored[size_t(j)]) continue;
      if (!std::isfinite(v[i])) bad(where, "entry " + std::to_string(j) + " is not finite");
      zeros += v[i] == 0.f;
      g.values[size_t(j)] = v[i++];
    }
  } else {
    std::vector<uint32_t> codes;
    if (!io::unpack_codes(p.data() + h.position(), m, int(bits), codes)) bad(where, "padding bits of the codes are set");
    const uint32_t top = 2u * uint32_t(io::quant_levels(int(bits)));
    size_t i = 0;
    for (uint64_t j = 0; j < k; ++j) {
      if (!stored[size_t(j)]) continue;
      const uint32_t u = codes[i++];
      if (u > top) bad(where, "code " + std::to_string(u) + " of entry " + std::to_string(j) + " is above " + std::to_string(top));
      zeros += u == top / 2;
      g.values[size_t(j)] = io::dequantize(u, scales[size_t(j / block)], int(bits));
    }
  }
  if (!sparse && zeros < pruned)
    bad(where, "says " + std::to_string(pruned) + " entries are pruned but only " + std::to_string(zeros) + " are 0");
  return g;
}

Int8Calibration decode_calibration(const std::string& p, const std::string& where, uint32_t layers) {
  io::ByteReader r(p, where);
  Int8Calibration c;
  c.method = r.u32();
  c.batches = r.u32();
  c.images = r.u32();
  const uint32_t count = r.u32();
  if (c.method != 0) bad(where, "unknown calibration method " + std::to_string(c.method) + " (0: min/max)");
  if (c.batches < 1 || c.images < 1)
    bad(where, "calibrated on " + std::to_string(c.batches) + " batches of " + std::to_string(c.images) + " images");
  if (count != layers) bad(where, std::to_string(count) + " layer ranges for " + std::to_string(layers) + " layers");
  if (r.remaining() != uint64_t(count) * 8)
    bad(where, "holds " + std::to_string(r.remaining()) + " bytes of ranges, " + std::to_string(count) +
                   " ranges need " + std::to_string(uint64_t(count) * 8));
  std::vector<float> v(size_t(count) * 2);
  r.floats(v.size(), v.data());
  for (uint32_t i = 0; i < count; ++i) {
    const float lo = v[2 * i], hi = v[2 * i + 1];
    if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi)
      bad(where, "the range of layer " + std::to_string(i) + " is [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "] (must be finite, min <= max)");
    c.ranges.emplace_back(lo, hi);
  }
  return c;
}

}  // namespace

std::vector<float> Decoded::int8_ring_scales() const {
  std::vector<float> s;
  for (const RingRecord& r : rings) s.push_back(r.bits == 8 && r.scales.size() == 1 ? r.scales[0] : 0.f);
  return s;
}

Decoded decode(const std::string& bytes, const std::string& name) {
  const ContainerReader c = ContainerReader::parse(bytes, name);
  const std::string what = "is it an rpgnet export?";
  Decoded d;
  d.container_version = c.version();
  d.total_bytes = bytes.size();
  const std::string& expt = c.require("EXPT", what);
  const std::string ew = name + ": section 'EXPT'";
  if (expt.size() != kExptBytes)
    bad(ew, "holds " + std::to_string(expt.size()) + " bytes, not " + std::to_string(kExptBytes));
  io::ByteReader e(expt, ew);
  d.version = e.u32();
  if (d.version < 1 || d.version > kExportVersion)
    bad(name, "unsupported export version " + std::to_string(d.version) + " (this build reads 1 to " +
                  std::to_string(kExportVersion) + ")");
  d.layers = e.u32();
  const uint32_t rings = e.u32();
  d.flags = e.u32();
  const uint64_t unshared = e.u64();
  d.fingerprint = e.u64();
  d.seen = e.u64();
  if (d.seen > uint64_t(kMaxTrainCount))
    bad(ew, "seen count " + std::to_string(d.seen) + " is beyond " + std::to_string(kMaxTrainCount));
  if (d.layers == 0) bad(ew, "no layers");
  if (rings > kMaxRings) bad(ew, std::to_string(rings) + " rings (at most " + std::to_string(kMaxRings) + ")");
  const uint32_t known_flags = d.version == 1 ? 0 : kExportFlagInt8;
  if (d.flags & ~known_flags)
    bad(ew, d.version == 1 ? "reserved field is " + std::to_string(d.flags) + ", not 0"
                           : "unknown flags " + std::to_string(d.flags & ~known_flags));
  const bool int8 = (d.flags & kExportFlagInt8) != 0;
  std::vector<std::string> known = {"EXPT", "CFGZ", "UNSH"};
  if (int8) known.push_back("CALB");
  for (uint32_t i = 0; i < rings; ++i) known.push_back(ring_tag(i));
  c.check_known(known);

  const std::string& z = c.require("CFGZ", what);
  d.cfg_bytes = z.size();
  d.cfg_text = decode_cfg(z, name + ": section 'CFGZ'");
  for (uint32_t i = 0; i < rings; ++i) {
    const std::string tag = ring_tag(i);
    d.rings.push_back(decode_ring(c.require(tag, "ring " + std::to_string(i + 1) + " of " + std::to_string(rings)), tag, name));
  }

  const std::string& u = c.require("UNSH", what);
  const std::string uw = name + ": section 'UNSH'";
  io::ByteReader ur(u, uw);
  d.unshared_bytes = u.size();
  const uint32_t prec = ur.u32();
  const uint64_t count = ur.u64();
  if (prec != 16 && prec != 32) bad(uw, "precision " + std::to_string(prec) + " is not 16 or 32");
  if (count != unshared)
    bad(uw, "holds " + std::to_string(count) + " values, section 'EXPT' says " + std::to_string(unshared));
  const size_t width = prec / 8;
  if (count > ur.remaining() / width || ur.remaining() != count * width)
    bad(uw, "holds " + std::to_string(ur.remaining()) + " bytes of values, " + std::to_string(count) + " values need " +
                std::to_string(count * width));
  d.unshared_bits = int(prec);
  d.unshared.resize(size_t(count));
  if (prec == 32) {
    ur.floats(d.unshared.size(), d.unshared.data());
  } else {
    const auto* q = reinterpret_cast<const unsigned char*>(u.data() + ur.position());
    for (size_t i = 0; i < d.unshared.size(); ++i)
      d.unshared[i] = io::half_to_float(uint16_t(q[2 * i] | (q[2 * i + 1] << 8)));
  }
  for (size_t i = 0; i < d.unshared.size(); ++i)
    if (!std::isfinite(d.unshared[i])) bad(uw, "value " + std::to_string(i) + " is not finite");
  if (int8) {
    for (const RingRecord& g : d.rings)
      if (g.bits != 8 || g.scales.size() != 1)
        bad(ew, "flag int8 is set but ring '" + g.name + "' is stored at " + std::to_string(g.bits) + " bits with " +
                    std::to_string(g.scales.size()) + " scales (int8 needs 8 bits, one scale)");
    d.calibration = decode_calibration(c.require("CALB", "flag int8 is set"), name + ": section 'CALB'", d.layers);
  }
  return d;
}

}  // namespace exportfmt

using namespace exportfmt;

namespace {

// Why the network does not match the file, as precisely as can be told.
std::string mismatch(Network& net, const Decoded& d, bool embedded) {
  if (net.layers().size() != d.layers)
    return "the file has " + std::to_string(d.layers) + " layers, " + net.cfg_path() + " " +
           std::to_string(net.layers().size());
  if (net.rings().size() != d.rings.size())
    return "the file has " + std::to_string(d.rings.size()) + " rings, " + net.cfg_path() + " " +
           std::to_string(net.rings().size());
  for (size_t i = 0; i < d.rings.size(); ++i) {
    const RingRecord& f = d.rings[i];
    const rpg::Ring& r = *net.rings()[i];
    if (f.name != r.name() || f.seed != r.seed() || f.k != r.size() || f.n != r.positions())
      return "ring " + std::to_string(i) + " is '" + f.name + "' (seed " + std::to_string(f.seed) + ", K " +
             std::to_string(f.k) + ", N " + std::to_string(f.n) + ") in the file but '" + r.name() + "' (seed " +
             std::to_string(r.seed()) + ", K " + std::to_string(r.size()) + ", N " + std::to_string(r.positions()) +
             ") in " + net.cfg_path();
  }
  if (int64_t(d.unshared.size()) != unshared_count(net))
    return "the file holds " + std::to_string(d.unshared.size()) + " unshared parameters, " + net.cfg_path() +
           " has " + std::to_string(unshared_count(net));
  if (!embedded) {
    try {  // name the first differing layer: build the file's network, at batch 1
      CfgFile cfg = parse_cfg(d.cfg_text, "embedded cfg");
      apply_override(cfg, "net.batch=1");
      apply_override(cfg, "net.subdivisions=1");
      Network theirs(cfg, make_host_backend(1));
      const auto a = architecture_lines(theirs), b = architecture_lines(net);
      for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        if (a[i] != b[i]) return "in the file " + a[i] + "; in " + net.cfg_path() + " " + b[i];
    } catch (const Error&) {
    }
  }
  return "layer types or shapes differ";
}

bool same_rings(Network& net, const Decoded& d) {
  if (net.rings().size() != d.rings.size()) return false;
  for (size_t i = 0; i < d.rings.size(); ++i) {
    const rpg::Ring& r = *net.rings()[i];
    const RingRecord& f = d.rings[i];
    if (f.name != r.name() || f.seed != r.seed() || f.k != r.size() || f.n != r.positions()) return false;
  }
  return true;
}

void apply(Network& net, const Decoded& d, const std::string& name, bool embedded, bool int8) {
  if (fingerprint(net) != d.fingerprint || net.layers().size() != d.layers || !same_rings(net, d) ||
      int64_t(d.unshared.size()) != unshared_count(net))
    fail(Status::FormatError, name + ": " +
                                  (embedded ? std::string("the embedded cfg does not describe the exported tensors")
                                            : "exported from another architecture than " + net.cfg_path()) +
                                  ": " + mismatch(net, d, embedded));
  for (size_t i = 0; i < d.rings.size(); ++i) {
    rpg::Ring& r = *net.rings()[i];
    r.values.upload(d.rings[i].values);
    net.backend().fill(r.grads.data(), r.grads.size(), 0.f);
  }
  size_t at = 0;
  for (const auto& l : net.layers()) {
    for (Buffer<float>* b : unshared_tensors(*l)) {
      b->upload(d.unshared.data() + at, b->size());
      at += size_t(b->size());
    }
    l->on_weights_loaded();
  }
  for (const auto& r : net.rings()) r->apply_mask();
  net.generate_weights();
  if (int8 && (d.flags & kExportFlagInt8)) net.set_inference_plan(make_int8_plan(net, d.calibration, d.int8_ring_scales()));
}

}  // namespace

std::unique_ptr<Network> load_export(const std::string& path, std::unique_ptr<Backend> backend, bool int8) {
  return load_export_from_bytes(read_file(path), path, std::move(backend), int8);
}

std::unique_ptr<Network> load_export_from_bytes(const std::string& bytes, const std::string& name,
                                                std::unique_ptr<Backend> backend, bool int8) {
  const Decoded d = decode(bytes, name);
  std::unique_ptr<Network> net;
  try {
    net = std::make_unique<Network>(parse_cfg(d.cfg_text, name + " (embedded cfg)"), std::move(backend));
  } catch (const Error& e) {
    if (e.status() != Status::ParseError && e.status() != Status::InvalidArgument) throw;
    fail(Status::FormatError, name + ": the embedded cfg is invalid: " + e.what());
  }
  apply(*net, d, name, true, int8);
  return net;
}

void load_export_into(Network& net, const std::string& path, bool int8) {
  load_export_into_from_bytes(net, read_file(path), path, int8);
}

void load_export_into_from_bytes(Network& net, const std::string& bytes, const std::string& name, bool int8) {
  apply(net, decode(bytes, name), name, false, int8);
}

}  // namespace rpg
