// Darknet .weights reading and writing with the checks Darknet lacks (DARKNET.md).
#include "io/darknet_weights.h"

#include <vector>

#include "base/error.h"
#include "io/atomic_file.h"
#include "io/bytes.h"
#include "core/train_state.h"

namespace rpg {

namespace {

// One tensor of the file: where it goes and whether the file stores it transposed.
struct Slot {
  Layer* layer;
  Buffer<float>* tensor;
  bool transposed;  // a connected layer's weights in a transposed file: stored [in][out]
};

std::string slot_name(const Slot& s) {
  return "layer " + std::to_string(s.layer->index) + " (" + s.layer->type + ")";
}

bool is_connected_weights(const Layer& l, size_t index) {
  return l.type == "connected" && index == 1;
}

std::vector<Slot> file_slots(Network& net, bool loading, bool transposed) {
  std::vector<Slot> slots;
  for (const auto& l : net.layers()) {
    if (loading ? l->dontload : l->dontsave) continue;
    const std::vector<Buffer<float>*> tensors = l->weight_file_order();
    for (size_t i = 0; i < tensors.size(); ++i)
      slots.push_back({l.get(), tensors[i], transposed && is_connected_weights(*l, i)});
  }
  return slots;
}

// Darknet accepts any version; rpgnet accepts the ones Darknet writes and the transposed flag.
bool plausible_version_part(int32_t v) { return (v >= 0 && v <= 100) || (v > 1000 && v <= 1100); }

std::string version_string(const DarknetHeader& h) {
  return std::to_string(h.major) + "." + std::to_string(h.minor) + "." + std::to_string(h.revision);
}

// W[o * in + i] = stored[i * out + o]
void untranspose(const float* stored, float* w, int64_t in, int64_t out) {
  for (int64_t i = 0; i < in; ++i)
    for (int64_t o = 0; o < out; ++o) w[o * in + i] = stored[i * out + o];
}

}  // namespace

DarknetHeader parse_darknet_header(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) fail(Status::FormatError, name + ": empty file: not a Darknet .weights file");
  if (bytes.size() < 12)
    fail(Status::FormatError,
         name + ": header truncated: a .weights header needs at least 16 bytes, the file has " +
             std::to_string(bytes.size()));
  io::ByteReader r(bytes, name);
  DarknetHeader h;
  h.major = r.i32();
  h.minor = r.i32();
  h.revision = r.i32();
  if (!plausible_version_part(h.major) || !plausible_version_part(h.minor) || h.revision < 0 ||
      h.revision > 1000)
    fail(Status::FormatError,
         name + ": unsupported .weights version " + version_string(h) +
             " (rpgnet reads major and minor 0..100, or 1001..1100 for transposed "
             "connected weights, and revision 0..1000): is it a .weights file?");
  h.transposed = h.major > 1000 || h.minor > 1000;
  const bool wide_seen = h.major * 10 + h.minor >= 2 && h.major < 1000 && h.minor < 1000;
  h.bytes = wide_seen ? 20 : 16;
  if (bytes.size() < h.bytes)
    fail(Status::FormatError, name + ": header truncated: a version " + version_string(h) +
                                  " header needs " + std::to_string(h.bytes) +
                                  " bytes, the file has " + std::to_string(bytes.size()));
  if (wide_seen) {
    const uint64_t seen = r.u64();
    if (seen > uint64_t(INT64_MAX))
      fail(Status::FormatError,
           name + ": absurd seen count " + std::to_string(seen) + " in the header");
    h.seen = int64_t(seen);
  } else {
    h.seen = r.i32();
  }
  if (h.seen < 0 || h.seen > kMaxTrainCount)
    fail(Status::FormatError, name + ": seen count " + std::to_string(h.seen) +
                                  " in the header is outside 0.." + std::to_string(kMaxTrainCount));
  return h;
}

int64_t darknet_weight_floats(Network& net, bool loading) {
  int64_t n = 0;
  for (const Slot& s : file_slots(net, loading, false)) n += s.tensor->size();
  return n;
}

std::string encode_darknet_weights(Network& net, int64_t seen) {
  if (seen < 0)
    fail(Status::InvalidArgument,
         "save_darknet_weights: negative seen count " + std::to_string(seen));
  io::ByteWriter w;
  w.reserve(20 + 4 * size_t(darknet_weight_floats(net, false)));
  w.i32(0);  // major, minor, revision: what pjreddie's Darknet writes
  w.i32(2);
  w.i32(0);
  w.u64(uint64_t(seen));
  for (const Slot& s : file_slots(net, false, false)) {
    const std::vector<float> v = s.tensor->to_vector();
    io::require_finite(v, Status::InvalidArgument, "save_darknet_weights: " + slot_name(s));
    w.floats(v);
  }
  return std::move(w.data());
}

void save_darknet_weights(Network& net, const std::string& path, int64_t seen) {
  write_encoded_atomic(path, [&] { return encode_darknet_weights(net, seen); });
}

int64_t load_darknet_weights(Network& net, const std::string& path) {
  return load_darknet_weights_from_bytes(net, read_file(path), path);
}

int64_t load_darknet_weights_from_bytes(Network& net, const std::string& bytes,
                                        const std::string& name) {
  if (!net.rings().empty())
    fail(Status::InvalidArgument,
         name + ": " + net.cfg_path() + " generates weights from rings, which a Darknet .weights file "
         "does not hold; load an rpgnet checkpoint, or the expanded weights into the same cfg without rings");
  const DarknetHeader h = parse_darknet_header(bytes, name);
  const std::vector<Slot> slots = file_slots(net, true, h.transposed);
  int64_t need = 0;
  for (const Slot& s : slots) need += s.tensor->size();
  const size_t payload = bytes.size() - h.bytes;
  const size_t have = payload / 4, stray = payload % 4;
  if (payload < size_t(need) * 4)
    fail(Status::FormatError, name + ": truncated: the cfg needs " + std::to_string(need) +
                                  " floats after the header, the file has " + std::to_string(have) +
                                  (stray ? " and " + std::to_string(stray) + " stray bytes" : ""));
  if (payload > size_t(need) * 4)
    fail(Status::FormatError,
         name + ": " + std::to_string(payload - size_t(need) * 4) +
             " bytes past the end of the weights this cfg needs: is it for another "
             "network? (the cfg needs " +
             std::to_string(need) + " floats after the header)");

  // Decode everything on the host before touching the network.
  io::ByteReader r(bytes, name, h.bytes);
  std::vector<std::vector<float>> host(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    const Slot& s = slots[i];
    host[i].resize(size_t(s.tensor->size()));
    r.floats(host[i].size(), host[i].data());
    io::require_finite(host[i], Status::FormatError, name + ": " + slot_name(s));
    if (!s.transposed) continue;
    const int64_t in = s.layer->in.size(), out = s.layer->out.size();
    if (in * out != s.tensor->size())
      fail(Status::Internal, name + ": layer " + std::to_string(s.layer->index) +
                                 ": connected weights are not in x out floats");
    std::vector<float> w(host[i].size());
    untranspose(host[i].data(), w.data(), in, out);
    host[i].swap(w);
  }
  for (size_t i = 0; i < slots.size(); ++i) slots[i].tensor->upload(host[i]);
  net.parameters_changed();
  for (size_t i = 0; i < slots.size(); ++i)
    if (i + 1 == slots.size() || slots[i + 1].layer != slots[i].layer)
      slots[i].layer->on_weights_loaded();
  return h.seen;
}

}  // namespace rpg
