// Checkpoints: encoding the network's full training state into container sections and restoring
// it only after every section has been validated against the network.
#include "io/checkpoint.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "base/error.h"
#include "io/atomic_file.h"
#include "io/bytes.h"
#include "io/container.h"

namespace rpg {

namespace {

const std::vector<std::string>& known_sections() {
  static const std::vector<std::string> tags = {"META", "STAT", "PARM", "MOMT", "BNCT"};
  return tags;
}

// The tensors PARM holds for a layer: the .weights tensors, then any other trainable value.
std::vector<Buffer<float>*> saved_tensors(Layer& l) {
  std::vector<Buffer<float>*> t = l.weight_file_order();
  for (const Param& p : l.params())
    if (std::find(t.begin(), t.end(), p.value) == t.end()) t.push_back(p.value);
  return t;
}

std::vector<Buffer<float>*> momentum_buffers(Layer& l) {
  std::vector<Buffer<float>*> g;
  for (const Param& p : l.params()) g.push_back(p.grad);
  return g;
}

// One layer of the architecture fingerprint.
struct LayerPrint {
  std::string type;
  Shape in, out;
  std::vector<uint64_t> tensors, momenta;
  bool operator==(const LayerPrint& o) const {
    return type == o.type && in == o.in && out == o.out && tensors == o.tensors &&
           momenta == o.momenta;
  }
};

std::vector<uint64_t> sizes_of(const std::vector<Buffer<float>*>& buffers) {
  std::vector<uint64_t> s;
  for (const auto* b : buffers) s.push_back(uint64_t(b->size()));
  return s;
}

std::vector<LayerPrint> fingerprint(Network& net) {
  std::vector<LayerPrint> prints;
  for (const auto& l : net.layers())
    prints.push_back(
        {l->type, l->in, l->out, sizes_of(saved_tensors(*l)), sizes_of(momentum_buffers(*l))});
  // Rings follow the layers: name, seed, K and N must all agree.
  for (const auto& r : net.rings())
    prints.push_back({"ring '" + r->name() + "' seed " + std::to_string(r->seed()),
                      Shape{int(r->positions()), 1, 1}, Shape{int(r->size()), 1, 1},
                      {uint64_t(r->size())}, {uint64_t(r->size())}});
  return prints;
}

std::string list_str(const std::vector<uint64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

std::string describe(const LayerPrint& p) {
  return p.type + " " + p.in.str() + " -> " + p.out.str() + " with tensors " + list_str(p.tensors) +
         " and momentum buffers " + list_str(p.momenta);
}

void write_shape(io::ByteWriter& w, const Shape& s) {
  w.i32(s.c);
  w.i32(s.h);
  w.i32(s.w);
}

Shape read_shape(io::ByteReader& r) {
  Shape s;
  s.c = r.i32();
  s.h = r.i32();
  s.w = r.i32();
  return s;
}

void write_sizes(io::ByteWriter& w, const std::vector<uint64_t>& sizes) {
  w.u32(uint32_t(sizes.size()));
  for (uint64_t s : sizes) w.u64(s);
}

std::vector<uint64_t> read_sizes(io::ByteReader& r) {
  const uint32_t n = r.u32();
  r.need(size_t(n) * 8);  // before allocating anything
  std::vector<uint64_t> sizes(n);
  for (auto& s : sizes) s = r.u64();
  return sizes;
}

std::string encode_meta(Network& net) {
  io::ByteWriter w;
  w.u32(kCheckpointMetaVersion);
  w.str(net.cfg_path());
  const std::vector<LayerPrint> prints = fingerprint(net);
  w.u32(uint32_t(prints.size()));
  for (const LayerPrint& p : prints) {
    w.str(p.type);
    write_shape(w, p.in);
    write_shape(w, p.out);
    write_sizes(w, p.tensors);
    write_sizes(w, p.momenta);
  }
  return std::move(w.data());
}

// Rejects a META section that does not describe this network's architecture.
void check_meta(Network& net, const std::string& payload, const std::string& name) {
  io::ByteReader r(payload, name + ": section 'META'");
  const uint32_t version = r.u32();
  if (version != kCheckpointMetaVersion)
    fail(Status::FormatError, name + ": section 'META' has version " + std::to_string(version) +
                                  " (this build reads " + std::to_string(kCheckpointMetaVersion) +
                                  ")");
  const std::string cfg_path = r.str();
  const uint32_t count = r.u32();
  const std::vector<LayerPrint> mine = fingerprint(net);
  const std::string other = name + ": the checkpoint is for another network (written for " +
                            cfg_path + ", loading into " + net.cfg_path() + "): ";
  for (uint32_t i = 0; i < count; ++i) {
    LayerPrint p;
    p.type = r.str();
    p.in = read_shape(r);
    p.out = read_shape(r);
    p.tensors = read_sizes(r);
    p.momenta = read_sizes(r);
    if (i >= mine.size())
      fail(Status::FormatError, other + "the checkpoint has " + std::to_string(count) +
                                    " layers, the cfg " + std::to_string(mine.size()));
    if (!(p == mine[i]))
      fail(Status::FormatError, other + "layer " + std::to_string(i) + " is " + describe(p) +
                                    " in the checkpoint but " + describe(mine[i]) + " in the cfg");
  }
  if (count != mine.size())
    fail(Status::FormatError, other + "the checkpoint has " + std::to_string(count) +
                                  " layers, the cfg " + std::to_string(mine.size()));
  if (r.remaining())
    fail(Status::FormatError, name + ": section 'META' has " + std::to_string(r.remaining()) +
                                  " unexpected bytes at its end");
}

void check_size(const std::string& payload, size_t expected, const std::string& tag,
                const std::string& name) {
  if (payload.size() != expected)
    fail(Status::FormatError, name + ": section '" + tag + "' holds " +
                                  std::to_string(payload.size()) + " bytes, this network needs " +
                                  std::to_string(expected));
}

// A tensor of a section and whose it is ("layer 3 (convolutional), tensor 2", "ring 'r'").
struct Tensor {
  Buffer<float>* buffer;
  std::string owner;
};

// Every tensor of a section, in order, with its host copy.
struct HostTensors {
  std::vector<Tensor> tensors;
  std::vector<std::vector<float>> values;
};

// Non-finite values are rejected: a checkpoint never holds them (save refuses to write them).
HostTensors decode_floats(const std::vector<Tensor>& tensors, const std::string& payload,
                          const std::string& tag, const std::string& name) {
  size_t total = 0;
  for (const Tensor& t : tensors) total += size_t(t.buffer->size());
  check_size(payload, total * 4, tag, name);
  const std::string where = name + ": section '" + tag + "'";
  io::ByteReader r(payload, where);
  HostTensors h{tensors, std::vector<std::vector<float>>(tensors.size())};
  for (size_t i = 0; i < tensors.size(); ++i) {
    h.values[i].resize(size_t(tensors[i].buffer->size()));
    r.floats(h.values[i].size(), h.values[i].data());
    io::require_finite(h.values[i], Status::FormatError, where + ": " + tensors[i].owner);
  }
  return h;
}

void upload(const HostTensors& h) {
  for (size_t i = 0; i < h.tensors.size(); ++i) h.tensors[i].buffer->upload(h.values[i]);
}

std::string layer_name(const Layer& l) { return "layer " + std::to_string(l.index) + " (" + l.type + ")"; }

// PARM (momentum false): every layer's saved tensors, then every ring's values. MOMT (momentum
// true): every layer's momentum buffers, then every ring's.
std::vector<Tensor> all_tensors(Network& net, bool momentum) {
  const std::string kind = momentum ? "momentum " : "tensor ";
  std::vector<Tensor> all;
  for (const auto& l : net.layers()) {
    const std::vector<Buffer<float>*> t = momentum ? momentum_buffers(*l) : saved_tensors(*l);
    for (size_t i = 0; i < t.size(); ++i) all.push_back({t[i], layer_name(*l) + ", " + kind + std::to_string(i)});
  }
  for (const auto& r : net.rings())
    all.push_back({momentum ? &r->grads : &r->values, "ring '" + r->name() + "'" + (momentum ? " momentum" : "")});
  return all;
}

std::vector<int64_t*> bn_counters(Network& net) {
  std::vector<int64_t*> c;
  for (const auto& l : net.layers())
    if (int64_t* u = l->bn_updates()) c.push_back(u);
  return c;
}

// Refuses non-finite values (a diverged network), naming the tensor: a checkpoint must resume.
std::string encode_tensors(const std::vector<Tensor>& tensors) {
  io::ByteWriter w;
  size_t total = 0;
  for (const Tensor& t : tensors) total += size_t(t.buffer->size());
  w.reserve(total * 4);
  for (const Tensor& t : tensors) {
    const std::vector<float> v = t.buffer->to_vector();
    io::require_finite(v, Status::InvalidArgument, "save_checkpoint: " + t.owner);
    w.floats(v);
  }
  return std::move(w.data());
}

}  // namespace

std::string encode_checkpoint(Network& net, const TrainState& state) {
  TrainState s = state;
  s.passes = net.passes();
  const std::string problem = s.problem();
  if (!problem.empty()) fail(Status::InvalidArgument, "save_checkpoint: the training state's " + problem);
  ContainerWriter c;
  c.add_section("META", encode_meta(net));
  io::ByteWriter stat;
  stat.i64(state.iteration);
  stat.i64(state.seen);
  stat.i64(state.loader_position);
  stat.u64(net.passes());
  c.add_section("STAT", std::move(stat.data()));
  c.add_section("PARM", encode_tensors(all_tensors(net, false)));
  c.add_section("MOMT", encode_tensors(all_tensors(net, true)));
  io::ByteWriter bn;
  for (const int64_t* u : bn_counters(net)) bn.i64(*u);
  c.add_section("BNCT", std::move(bn.data()));
  return c.bytes();
}

void save_checkpoint(Network& net, const TrainState& state, const std::string& path) {
  write_encoded_atomic(path, [&] { return encode_checkpoint(net, state); });
}

TrainState load_checkpoint(Network& net, const std::string& path) {
  return load_checkpoint_from_bytes(net, read_file(path), path);
}

TrainState load_checkpoint_from_bytes(Network& net, const std::string& bytes,
                                      const std::string& name) {
  const ContainerReader reader = ContainerReader::parse(bytes, name);
  reader.check_known(known_sections());
  const std::string what = "is it an rpgnet checkpoint?";
  check_meta(net, reader.require("META", what), name);

  const std::string& stat = reader.require("STAT", what);
  check_size(stat, 32, "STAT", name);
  io::ByteReader sr(stat, name + ": section 'STAT'");
  TrainState state;
  state.iteration = sr.i64();
  state.seen = sr.i64();
  state.loader_position = sr.i64();
  state.passes = sr.u64();
  const std::string problem = state.problem();
  if (!problem.empty()) fail(Status::FormatError, name + ": section 'STAT': the " + problem);

  const HostTensors params =
      decode_floats(all_tensors(net, false), reader.require("PARM", what), "PARM", name);
  const HostTensors momenta =
      decode_floats(all_tensors(net, true), reader.require("MOMT", what), "MOMT", name);
  const std::vector<int64_t*> counters = bn_counters(net);
  const std::string& bnct = reader.require("BNCT", what);
  check_size(bnct, counters.size() * 8, "BNCT", name);
  io::ByteReader br(bnct, name + ": section 'BNCT'");
  std::vector<int64_t> counts(counters.size());
  for (auto& c : counts) {
    c = br.i64();
    if (c < 0 || c > kMaxTrainCount)
      fail(Status::FormatError, name + ": section 'BNCT' holds a batch-norm count of " + std::to_string(c) +
                                    " (expected 0.." + std::to_string(kMaxTrainCount) + ")");
  }

  // Everything is valid: restore.
  upload(params);
  upload(momenta);
  for (size_t i = 0; i < counters.size(); ++i) *counters[i] = counts[i];
  net.set_passes(state.passes);
  net.generate_weights();  // identical to the saved ones; keeps the invariant explicit
  return state;
}

}  // namespace rpg
