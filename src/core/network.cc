// Network construction (sections -> layers with shape inference), passes and the SGD update.
#include "core/network.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "base/error.h"
#include "layers/registry.h"

namespace rpg {

namespace {

const std::vector<std::string>& net_keys() {
  static const std::vector<std::string> keys = {
      "batch", "subdivisions", "width", "height", "channels", "inputs", "learning_rate", "momentum",
      "decay", "policy", "step", "scale", "steps", "scales", "gamma", "power", "burn_in",
      "max_batches", "epochs", "seed", "min_crop", "max_crop", "angle", "aspect", "hue",
      "saturation", "exposure", "center", "flip", "crop_padding"};
  return keys;
}

// The keys that scale the learning rate must keep it finite and >= 0 for every update where
// that does not depend on the update number (policy=exp's gamma^n is checked at each update).
void check_rate_keys(const NetConfig& c, const Options& o) {
  for (size_t i = 0; i < c.scales.size(); ++i)
    if (!std::isfinite(c.scales[i]) || c.scales[i] < 0)
      o.error("scales", "scales item " + std::to_string(i + 1) + " is " + std::to_string(c.scales[i]) +
                            ": learning-rate factors must be finite and >= 0");
  if (c.policy == Policy::Step && c.scale < 0)
    o.error("scale", "policy=step needs scale >= 0 (a negative factor makes the learning rate negative)");
  if (c.policy == Policy::Exp && c.gamma < 0)
    o.error("gamma", "policy=exp needs gamma >= 0 (a negative gamma makes the learning rate negative)");
  if (c.power < 0 && (o.get_int("burn_in", 0, 0) > 0 || c.policy == Policy::Poly || c.policy == Policy::Random))
    o.error("power", "power must be >= 0 with burn_in, policy=poly or policy=random (0 to a negative power is infinite)");
}

}  // namespace

NetConfig parse_net_section(const CfgFile& cfg) {
  const CfgSection& s = cfg.sections.front();
  Options o(cfg, s, net_keys());
  NetConfig c;
  c.batch = o.get_int("batch", 1, 1, 1 << 20);
  c.subdivisions = o.get_int("subdivisions", 1, 1, 1 << 20);
  if (c.batch % c.subdivisions)
    o.error("subdivisions", "subdivisions=" + std::to_string(c.subdivisions) + " does not divide batch=" +
                                std::to_string(c.batch));
  const int h = o.get_int("height", 0, 0, 1 << 16), w = o.get_int("width", 0, 0, 1 << 16);
  const int ch = o.get_int("channels", 0, 0, 1 << 16);
  if (h && w && ch) {
    const std::string problem = shape_problem(ch, h, w);
    if (!problem.empty()) o.error("", "[net] input " + std::to_string(w) + " x " + std::to_string(h) + " x " +
                                          std::to_string(ch) + ": " + problem);
    c.input = {ch, h, w};
  } else if (o.has("inputs")) {
    c.input = {o.require_int("inputs", 1, 1 << 30), 1, 1};
  } else {
    std::string missing = !h ? "height" : !w ? "width" : "channels";
    o.error(missing, "[net] needs width, height and channels (or inputs): missing '" + missing + "'");
  }
  c.learning_rate = o.get_float("learning_rate", .001f, 0.f, 1e3f);
  c.momentum = o.get_float("momentum", .9f, 0.f, 1.f);
  c.decay = o.get_float("decay", .0001f, 0.f, 1.f);
  c.policy = Policy(o.get_choice("policy", {"constant", "step", "steps", "exp", "poly", "sigmoid", "random", "cosine"}, 0));
  c.step = o.get_int("step", 1, 1);
  c.scale = o.get_float("scale", 1.f);
  c.gamma = o.get_float("gamma", 1.f);
  c.power = o.get_float("power", 1.f);
  c.steps = o.get_int_list("steps");
  c.scales = o.get_float_list("scales");
  if (c.policy == Policy::Steps) {
    if (c.steps.empty()) o.error("steps", "policy=steps needs a 'steps' list");
    if (c.scales.size() != c.steps.size())
      o.error("scales", "policy=steps needs as many 'scales' (" + std::to_string(c.scales.size()) +
                            ") as 'steps' (" + std::to_string(c.steps.size()) + ")");
  }
  check_rate_keys(c, o);
  c.burn_in = o.get_int("burn_in", 0, 0);
  c.max_batches = o.get_int("max_batches", 0, 0);
  c.epochs = o.get_int("epochs", 0, 0);
  c.seed = o.get_u64("seed", 1);
  // Darknet's defaults: the shorter side is drawn in [width, 2 width] (0 keeps rpgnet's meaning:
  // a 0 bound takes the other's value, both 0 means no resize).
  c.min_crop = o.get_int("min_crop", c.input.w, 0, 1 << 16);
  c.max_crop = o.get_int("max_crop", 2 * c.input.w, 0, 1 << 16);
  c.angle = o.get_float("angle", 0.f, 0.f, 360.f);
  c.aspect = o.get_float("aspect", 1.f, 0.01f, 100.f);
  c.hue = o.get_float("hue", 0.f, 0.f, 1.f);
  c.saturation = o.get_float("saturation", 1.f, 0.01f, 100.f);
  c.exposure = o.get_float("exposure", 1.f, 0.01f, 100.f);
  c.center = o.get_int("center", 0, 0, 1) != 0;
  c.flip = o.get_int("flip", 1, 0, 1) != 0;
  c.crop_padding = o.get_int("crop_padding", 0, 0, 1024);
  return c;
}

Network::Network(const CfgFile& cfg, std::unique_ptr<Backend> backend, NetworkOptions options)
    : config_(parse_net_section(cfg)), cfg_path_(cfg.path), cfg_(cfg), be_(std::move(backend)) {
  Rng rng(config_.seed);
  Shape shape = config_.input;
  int64_t parameter_bytes = 0;
  const int64_t memory_available = be_->memory_available();
  std::vector<RingSpec> ring_specs;
  // Rings may be declared after the layers that use them: every declared name, collected once.
  std::set<std::string> ring_names;
  std::map<std::string, size_t> ring_index;  // name -> its spec, to report a second declaration
  for (const CfgSection& s : cfg.sections)
    if (s.type == "ring") ring_names.insert(ring_section_name(s));
  for (size_t i = 1; i < cfg.sections.size(); ++i) {
    const CfgSection& s = cfg.sections[i];
    if (s.type == "ring") {
      ring_specs.push_back(parse_ring_section(cfg, s, config_.seed));
      const auto first = ring_index.emplace(ring_specs.back().name, ring_specs.size() - 1);
      if (!first.second)
        fail(Status::ParseError, ring_specs.back().where + ": a second [ring] named '" + ring_specs.back().name +
                                     "' (the first is at " + ring_specs[first.first->second].where + ")");
      continue;
    }
    const LayerKind* kind = find_layer_kind(s.type);
    if (!kind) {
      std::string where = cfg.path + ":" + std::to_string(s.line) + ": ";
      if (s.type == "net" || s.type == "network")
        fail(Status::ParseError, where + "a second [" + s.type + "] section; [net] must appear once, first");
      if (is_unsupported_darknet_section(s.type))
        fail(Status::ParseError, where + "[" + s.type + "] is a Darknet layer type that rpgnet does not support");
      std::vector<std::string> names;
      for (const auto& k : layer_kinds()) {
        names.push_back(k.name);
        names.insert(names.end(), k.aliases.begin(), k.aliases.end());
      }
      std::string msg = where + "unknown section [" + s.type + "]";
      std::string guess = closest_match(s.type, names);
      if (!guess.empty()) msg += "; did you mean [" + guess + "]?";
      fail(Status::ParseError, msg);
    }
    std::vector<std::string> keys = kind->keys;
    keys.insert(keys.end(), common_layer_keys().begin(), common_layer_keys().end());
    Options o(cfg, s, keys);
    BuildContext ctx{*be_, rng, shape, int(layers_.size()), layers_, parameter_bytes, memory_available};
    std::unique_ptr<Layer> layer;
    try {
      layer = kind->make(o, ctx);
    } catch (const Error& e) {
      if (e.status() != Status::OutOfMemory || std::string(e.what()).rfind(o.where(), 0) == 0) throw;
      fail(Status::OutOfMemory, o.where() + ": [" + s.type + "] layer " + std::to_string(layers_.size()) + ": " + e.what());
    }
    layer->type = kind->name;
    layer->index = int(layers_.size());
    layer->lr_mult = o.get_float("learning_rate", 1.f, 0.f, 1e6f);
    layer->stopbackward = o.get_int("stopbackward", 0, 0, 1) != 0;
    layer->dontsave = o.get_int("dontsave", 0, 0, 1) != 0;
    layer->dontload = o.get_int("dontload", 0, 0, 1) != 0;
    layer->ring = o.get_string("ring", "");
    if (!layer->ring.empty() && !ring_names.count(layer->ring))
      o.error("ring", "ring '" + layer->ring + "' is not declared by any [ring] section");
    const std::string problem = shape_problem(layer->out.c, layer->out.h, layer->out.w);
    if (!problem.empty()) o.error("", "[" + s.type + "] output from input " + shape.str() + ": " + problem);
    if (layer->out.size() <= 0)
      fail(Status::ParseError, cfg.path + ":" + std::to_string(s.line) + ": [" + s.type + "] produces an empty output (" +
                                   layer->out.str() + ") from input " + shape.str());
    shape = layer->out;
    layers_.push_back(std::move(layer));
  }
  if (layers_.empty()) fail(Status::ParseError, cfg.path + ": the cfg has a [net] section but no layers");
  std::map<std::string, std::vector<Layer*>> bound_to;  // ring name -> its layers, in order
  for (auto& l : layers_)
    if (!l->ring.empty()) bound_to[l->ring].push_back(l.get());
  for (const RingSpec& spec : ring_specs) {
    const std::vector<Layer*>& bound = bound_to[spec.name];
    if (bound.empty())
      fail(Status::ParseError, spec.where + ": no layer uses ring '" + spec.name + "' (add ring=" + spec.name +
                                   " to a [convolutional] or [connected] section)");
    rings_.push_back(std::make_unique<Ring>(*be_, spec, bound));
  }
  generate_weights();
  if (options.allocate_batch) set_batch(config_.batch / config_.subdivisions);
}

void Network::generate_weights() {
  for (auto& r : rings_) r->generate(*be_);
  statistics_changed();  // (both copies of the weights are new)
}

void Network::parameters_changed() {
  for (auto& r : rings_) r->copy_written_weights(*be_);
  statistics_changed();
}

void Network::set_inference_plan(std::unique_ptr<InferencePlan> plan) {
  if (plan && batch_ > 0) plan->prepare(*this, batch_);
  plan_ = std::move(plan);
}

int64_t Network::ring_dof() const {
  int64_t n = 0;
  for (const auto& r : rings_) n += r->size();
  return n;
}

int64_t Network::generated_params() const {
  int64_t n = 0;
  for (const auto& r : rings_) n += r->positions();
  return n;
}

Network::~Network() = default;

void Network::set_batch(int batch) {
  if (batch < 1 || batch > kMaxBatch)
    fail(Status::InvalidArgument, "batch must be 1 .. " + std::to_string(kMaxBatch) + ", got " + std::to_string(batch));
  if (batch == batch_) return;
  const MemoryEstimate need = memory_estimate(batch);
  const int64_t available = be_->memory_available();
  if (available >= 0 && need.batch_bytes() > available) {
    const Layer& big = *layers_[size_t(need.biggest_layer)];
    fail(Status::OutOfMemory, cfg_path_ + ": batch " + std::to_string(batch) + " needs " + byte_size(need.batch_bytes()) +
                                  " (activations and deltas " + byte_size(need.activations) + ", workspace " +
                                  byte_size(need.workspace) + ") but " + byte_size(available) +
                                  " are available; the biggest layer is " + std::to_string(big.index) + " [" + big.type +
                                  "] " + big.out.str() + " with " + byte_size(need.biggest_bytes));
  }
  // Every new buffer first; only then is anything replaced, so a failure changes nothing.
  // An allocation failure names the file and what it was for.
  auto allocating = [&](const std::string& what, const auto& allocate) {
    try {
      allocate();
    } catch (const Error& e) {
      if (e.status() != Status::OutOfMemory) throw;
      fail(Status::OutOfMemory, cfg_path_ + ": " + what + " at batch " + std::to_string(batch) + ": " + e.what());
    }
  };
  BufferStaging staging(be_.get());
  for (auto& l : layers_)
    allocating("layer " + std::to_string(l->index) + " [" + l->type + "]", [&] { l->allocate(staging, batch); });
  for (auto& l : layers_)
    allocating("layer " + std::to_string(l->index) + " [" + l->type + "]'s kernels", [&] { l->prepare(*be_, batch); });
  allocating("the network's input and truth", [&] {
    staging.add(input_, int64_t(batch) * input_size());
    staging.add(truth_, int64_t(batch) * output_size());
  });
  PassPlans plans;
  allocating("the inference pass's kernels", [&] { plan_inference(batch, plans); });
  allocating("the training passes' kernels", [&] { plan_training(batch, plans); });
  DeltaPlan plan = plan_deltas(batch);
  std::vector<Buffer<float>> pool(plan.capacity.size());
  allocating("the layers' deltas", [&] {
    for (size_t b = 0; b < pool.size(); ++b) pool[b].resize(*be_, plan.capacity[b]);
  });
  // Nothing below can fail.
  staging.commit();
  delta_pool_.swap(pool);
  zero_before_.swap(plan.zero_before);
  for (size_t k = 0; k < layers_.size(); ++k) {
    layers_[k]->delta = BufferRef<float>(*be_, delta_pool_[size_t(plan.owner[k])].data(),
                                         int64_t(batch) * layers_[k]->out.size());
  }
  set_plans(plans);
  batch_ = batch;
  if (plan_) plan_->prepare(*this, batch);
}

void Network::set_threads(int threads) {
  be_->set_threads(threads);
  if (batch_ > 0) {
    for (auto& l : layers_) l->prepare(*be_, batch_);
    replan();
    if (plan_) plan_->prepare(*this, batch_);
  }
}

void Network::set_training_layouts(bool on) {
  training_layouts_ = on;
  if (batch_ > 0) replan();
}

void Network::plan_inference(int batch, PassPlans& p) {
  p.infer = plan_layouts(batch, false);
  p.sums = plan_sums(batch, p.infer);
}

void Network::plan_training(int batch, PassPlans& p) {
  p.train = plan_layouts(batch, true);
  p.orders.clear();
  for (const auto& r : rings_) p.orders.push_back(r->prepare_orders(*be_, batch, p.train, training_layouts_));
}

bool Network::set_plans(PassPlans& p) {
  bool changed = false;
  for (size_t k = 0; k < layers_.size(); ++k) {
    layers_[k]->infer_layout = p.infer[k];
    changed = changed || layers_[k]->train_layout != p.train[k];
    layers_[k]->train_layout = p.train[k];
  }
  sum_from_.swap(p.sums);
  for (size_t k = 0; k < rings_.size(); ++k)
    if (p.orders[k]) {
      rings_[k]->set_orders(*be_, *p.orders[k]);
      changed = true;
    }
  return changed;
}

void Network::replan() {
  PassPlans p;
  plan_inference(batch_, p);
  plan_training(batch_, p);
  // What the last forward pass kept (outputs, batch norm's x_hat) is in the old layouts: a
  // backward pass must not read it in new ones.
  if (set_plans(p)) layouts_changed_ = true;
}

std::vector<float> Network::layer_output(size_t i) const {
  const Layer& l = *layers_.at(i);
  std::vector<float> v = l.output.to_vector();
  // (An int8 plan's pass leaves every float32 output planar.)
  const int layout = last_inference_ ? (plan_ ? 0 : l.infer_layout) : l.train_layout;
  if (layout == 0) return v;
  // Element (b, c, s) of a layout with `block` channels per block (NHWC: one block of all).
  const int64_t c = l.out.c, spatial = l.out.spatial(), block = layout == 1 ? c : layout, blocks = c / block;
  std::vector<float> planar(v.size());
  for (int64_t b = 0; b < batch_; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t s = 0; s < spatial; ++s)
        planar[size_t((b * c + ch) * spatial + s)] = v[size_t(((b * blocks + ch / block) * spatial + s) * block + ch % block)];
  return planar;
}

std::vector<int> Network::plan_sums(int batch, const std::vector<int>& infer) {
  const size_t n = layers_.size();
  std::vector<int> from(n, -1);
  std::vector<std::vector<int>> readers(n);
  for (size_t j = 0; j < n; ++j)
    for (int i : layers_[j]->inputs())
      if (i >= 0) readers[size_t(i)].push_back(int(j));
  for (size_t i = 0; i + 1 < n; ++i) {
    ShortcutOp sc;
    if (!layers_[i + 1]->shortcut_op(&sc) || !sc.same_shape || sc.alpha != 1.f || sc.beta != 1.f) continue;
    const int f = sc.from;
    // (f == i - 1: the convolution would read the buffer it writes.)
    if (f < 0 || f + 1 >= int(i) || readers[i] != std::vector<int>{int(i) + 1}) continue;
    if (std::any_of(readers[size_t(f)].begin(), readers[size_t(f)].end(), [&](int r) { return r > int(i) + 1; }))
      continue;
    if (infer[i] != infer[i + 1] || infer[size_t(f)] != infer[i + 1]) continue;
    if (layers_[i]->fuses_sum(*be_, batch, sc.act, i ? infer[i - 1] : 0, infer[i])) from[i] = f;
  }
  return from;
}

std::vector<int> Network::fused_sums() const {
  std::vector<int> v;
  for (size_t i = 0; i < sum_from_.size(); ++i)
    if (sum_from_[i] >= 0) v.push_back(int(i));
  return v;
}

// First, in layer order, each layer's output takes the layout it would rather write; a layer
// that works in its inputs' layout takes theirs, and where they differ, inputs written by layers
// that can write any layout (convolutions) are asked for the layout of the others (or of the
// first input). Then a tensor not planar goes back to planar wherever a reader does not take it
// (a planar-only layer, an elementwise one in another layout, the network's output), until
// nothing changes: in this phase layouts only turn planar, so it ends.
// The training plan is the same with the training passes' kernels; there a layer's delta is in
// its output's layout (every layer writes its input's delta in its input's layout), so the
// same rules hold for the deltas.
std::vector<int> Network::plan_layouts(int batch, bool training) {
  using In = Layer::InferInputs;
  const size_t n = layers_.size();
  std::vector<In> how(n);
  std::vector<int> layout(n, 0);
  if (training && !training_layouts_) return layout;
  std::vector<std::vector<int>> reads(n);
  for (size_t j = 0; j < n; ++j) {
    Layer& l = *layers_[j];
    how[j] = l.layout_inputs(*be_, batch, training);
    reads[j] = l.inputs();  // -1: the network's input, planar
    if (how[j] == In::Any) layout[j] = l.preferred_layout(*be_, batch, training);
    if (how[j] != In::Elementwise) continue;
    int fixed_layout = -1;  // the layout of the inputs no one can change: all must agree
    bool conflict = false;
    for (int i : reads[j]) {
      if (i >= 0 && how[size_t(i)] == In::Any) continue;
      const int li = i < 0 ? 0 : layout[size_t(i)];
      if (fixed_layout < 0) fixed_layout = li;
      else if (li != fixed_layout) conflict = true;
    }
    // Else (every input a convolution) the first input's layout.
    layout[j] = conflict ? 0 : fixed_layout >= 0 ? fixed_layout : layout[size_t(reads[j][0])];
    if (layout[j] == 0) continue;
    for (int i : reads[j])
      if (layout[size_t(i)] != layout[j]) layout[size_t(i)] = layout[j];  // a convolution, asked for it
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t j = 0; j < n; ++j) {
      if (how[j] == In::Elementwise && layout[j] != 0)
        for (int i : reads[j])
          if (i < 0 || layout[size_t(i)] != layout[j]) layout[j] = 0, changed = true;
      if (j + 1 == n && layout[j] != 0) layout[j] = 0, changed = true;
      for (int i : reads[j]) {
        if (i < 0 || layout[size_t(i)] == 0) continue;
        const bool takes = how[j] == In::Any || (how[j] == In::Elementwise && layout[j] == layout[size_t(i)]);
        if (!takes) layout[size_t(i)] = 0, changed = true;
      }
    }
  }
  for (size_t j = 0; j < n; ++j) layers_[j]->prepare_layouts(*be_, batch, j ? layout[j - 1] : 0, layout[j], training);
  return layout;
}

MemoryEstimate Network::memory_estimate(int batch) const {
  MemoryEstimate m;
  BufferStaging count(nullptr);
  for (const auto& l : layers_) {
    const int64_t before = count.bytes();
    l->allocate(count, batch);
    const int64_t bytes = count.bytes() - before;
    if (bytes > m.biggest_bytes || m.biggest_layer < 0) m.biggest_bytes = bytes, m.biggest_layer = l->index;
    m.workspace = std::max(m.workspace, l->workspace_bytes(*be_, batch));  // shared scratch
  }
  int64_t deltas = 0;
  for (int64_t c : plan_deltas(batch).capacity) deltas += c;
  m.activations = count.bytes() + (deltas + int64_t(batch) * (input_size() + output_size())) * int64_t(sizeof(float));
  for (const auto& l : layers_)
    for (const Param& p : l->params()) m.parameters += 2 * p.value->size() * int64_t(sizeof(float));
  return m;
}

// Layer k's delta is live during the backward steps from the first one that writes it (the
// largest j > k with j == k + 1 or k among layer j's delta_sources()) down to k's own step; the
// last layer's, which a loss or a caller fills before backward(), for the whole pass. Intervals
// are packed greedily in backward order into as few buffers as possible (best fit by size).
// The saving is most of the deltas' memory: a plain chain needs two buffers, a residual network
// a few more.
Network::DeltaPlan Network::plan_deltas(int batch) const {
  const int n = int(layers_.size());
  std::vector<int> first_writer(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) first_writer[size_t(k)] = k + 1 < n ? k + 1 : n;
  for (int j = 0; j < n; ++j)
    for (int src : layers_[size_t(j)]->delta_sources())
      first_writer[size_t(src)] = std::max(first_writer[size_t(src)], j);
  auto floats = [&](int k) { return int64_t(batch) * layers_[size_t(k)]->out.size(); };
  // The layers whose deltas each backward step starts, in index order (one pass, not a scan of
  // every layer per step: setup stays linear in the layer count).
  std::vector<std::vector<int>> starts(size_t(n) + 1);
  for (int k = 0; k < n; ++k) starts[size_t(first_writer[size_t(k)])].push_back(k);
  DeltaPlan plan;
  plan.owner.assign(size_t(n), -1);
  std::vector<int64_t>& capacity = plan.capacity;  // per buffer
  std::vector<int> free_buffers;
  plan.zero_before.assign(size_t(n), {});
  for (int step = n; step >= 0; --step) {
    for (int k : starts[size_t(step)]) {
      // The smallest free buffer that fits; else the largest free one, grown; else a new one.
      int best = -1;
      for (int b : free_buffers)
        if (capacity[size_t(b)] >= floats(k) && (best < 0 || capacity[size_t(b)] < capacity[size_t(best)])) best = b;
      if (best < 0)
        for (int b : free_buffers)
          if (best < 0 || capacity[size_t(b)] > capacity[size_t(best)]) best = b;
      if (best < 0) {
        best = int(capacity.size());
        capacity.push_back(0);
      } else {
        free_buffers.erase(std::find(free_buffers.begin(), free_buffers.end(), best));
      }
      capacity[size_t(best)] = std::max(capacity[size_t(best)], floats(k));
      plan.owner[size_t(k)] = best;
      if (step < n) plan.zero_before[size_t(step)].push_back(k);
    }
    if (step < n) free_buffers.push_back(plan.owner[size_t(step)]);
  }
  return plan;
}

NetState Network::state(bool train) {
  NetState s{*be_};
  s.batch = batch_;
  s.train = train;
  return s;
}

void Network::clear_deltas() {
  for (auto& b : delta_pool_) be_->fill(b.data(), b.size(), 0.f);
}

void Network::clear_gradients() {
  for (auto& l : layers_)
    for (Param& p : l->params()) be_->fill(p.grad->data(), p.grad->size(), 0.f);
  for (auto& r : rings_) be_->fill(r->grads.data(), r->grads.size(), 0.f);
}

void Network::need_batch() const {
  if (batch_ < 1)
    fail(Status::InvalidArgument, cfg_path_ + ": the network was built without per-batch buffers: call set_batch first");
}

double Network::forward(const float* input, bool train, const float* truth) {
  return run_forward(input, train, truth, false);
}

void Network::infer(const float* input) {
  if (!plan_) {
    run_forward(input, false, nullptr, true);
    return;
  }
  need_batch();
  plan_->run(*this, input);
  last_truth_ = nullptr;
  last_train_ = false;
  last_inference_ = true;
}

double Network::run_forward(const float* input, bool train, const float* truth, bool inference) {
  need_batch();
  NetState s = state(train);
  s.inference = inference;
  s.params_version = params_version_;
  const float* x = input;
  int block = 0;  // the layout of x
  if (train) {
    ++passes_;
    statistics_changed();  // batch norm moves its running statistics (and drops an inference plan)
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = *layers_[i];
    if (inference && i && sum_from_[i - 1] >= 0) {
      // A shortcut the convolution before it added into its other input's buffer: that buffer
      // becomes its output.
      std::swap(l.output, layers_[size_t(sum_from_[i - 1])]->output);
      x = l.output.data();
      block = l.infer_layout;
      continue;
    }
    s.input = x;
    s.input_layout = block;
    s.truth = i + 1 == layers_.size() ? truth : nullptr;
    s.seed = mix64(config_.seed ^ mix64(passes_ * 0x9e3779b97f4a7c15ULL + i));
    s.sum_into = nullptr;
    if (inference && sum_from_[i] >= 0) {
      ShortcutOp sc;
      layers_[i + 1]->shortcut_op(&sc);
      s.sum_into = layers_[size_t(sum_from_[i])]->output.data();
      s.sum_act = sc.act;
    }
    l.forward(s);
    x = l.output.data();
    block = inference ? l.infer_layout : l.train_layout;
  }
  last_truth_ = truth;
  last_train_ = train;
  last_inference_ = inference;
  layouts_changed_ = false;
  if (truth) be_->fill(layers_.back()->delta.data(), layers_.back()->delta.size(), 0.f);
  return s.loss;
}

void Network::backward(const float* input, float* input_delta) {
  need_batch();
  if (last_inference_)
    fail(Status::InvalidArgument, cfg_path_ + ": no backward pass after an inference pass (predict keeps nothing for "
                                              "one): run forward first");
  if (layouts_changed_)
    fail(Status::InvalidArgument, cfg_path_ + ": the training layouts changed since the forward pass (a new thread "
                                              "count or set_training_layouts): run forward again before backward");
  NetState s = state(last_train_);
  for (size_t i = layers_.size(); i-- > 0;) {
    Layer& l = *layers_[i];
    if (l.stopbackward) break;  // Darknet: nothing at or below a stopbackward layer learns
    // The previous layer's delta starts here when its only writer is this layer: one that writes
    // it whole is spared the zeroing.
    s.input_delta_unset = false;
    for (int k : zero_before_[i]) {
      if (k + 1 == int(i) && l.writes_input_delta()) {
        s.input_delta_unset = true;
        continue;
      }
      BufferRef<float>& d = layers_[size_t(k)]->delta;
      be_->fill(d.data(), d.size(), 0.f);
    }
    s.input = i ? layers_[i - 1]->output.data() : input;
    s.input_delta = i ? layers_[i - 1]->delta.data() : input_delta;
    s.input_layout = i ? layers_[i - 1]->train_layout : 0;
    s.truth = i + 1 == layers_.size() ? last_truth_ : nullptr;
    s.seed = mix64(config_.seed ^ mix64(passes_ * 0x9e3779b97f4a7c15ULL + i));
    l.backward(s);
  }
}

void Network::update(float lr) {
  gather_ring_gradients();
  apply_gradients(lr);
}

void Network::gather_ring_gradients() {
  for (auto& r : rings_) r->accumulate_gradient(*be_);
}

void Network::apply_gradients(float lr) {
  const float images = float(config_.batch);
  for (auto& l : layers_) {
    Buffer<float>* generated = l->ring.empty() ? nullptr : l->main_weights().value;
    for (Param& p : l->params()) {
      if (p.value == generated) continue;  // its gradient goes to the ring
      be_->sgd_update(p.value->data(), p.grad->data(), p.value->size(), lr * l->lr_mult / images,
                      p.decay ? config_.decay * images : 0.f, config_.momentum);
    }
  }
  for (auto& r : rings_) {
    be_->sgd_update(r->values.data(), r->grads.data(), r->size(), lr / images, config_.decay * images,
                    config_.momentum);
    r->apply_mask();  // pruned fine-tuning: frozen entries back to exactly 0
  }
  generate_weights();  // once per update, not per layer call or subdivision
}

std::vector<Param> Network::trainable() {
  std::vector<Param> out;
  for (auto& l : layers_) {
    Buffer<float>* generated = l->ring.empty() ? nullptr : l->main_weights().value;
    for (Param& p : l->params())
      if (p.value != generated) out.push_back(p);
  }
  for (auto& r : rings_) out.push_back({&r->values, &r->grads, true});
  return out;
}

std::vector<Buffer<float>*> Network::running_statistics() {
  std::vector<Buffer<float>*> out;
  for (auto& l : layers_) {
    const std::vector<Param> params = l->params();
    for (Buffer<float>* b : l->weight_file_order())
      if (std::none_of(params.begin(), params.end(), [b](const Param& p) { return p.value == b; })) out.push_back(b);
  }
  return out;
}

std::string Network::non_finite_tensor() {
  // A sum in double of finite floats is finite; a NaN or an infinity makes it NaN or infinite.
  auto finite = [&](const Buffer<float>& b) { return std::isfinite(be_->sum(b.data(), b.size())); };
  for (auto& l : layers_) {
    const std::string name = "layer " + std::to_string(l->index) + " (" + l->type + ")";
    for (const Buffer<float>* b : l->weight_file_order())
      if (!finite(*b)) return name;
    for (const Param& p : l->params()) {
      if (!finite(*p.value)) return name;
      if (!finite(*p.grad)) return name + ", its momentum";
    }
  }
  for (auto& r : rings_) {
    if (!finite(r->values)) return "ring '" + r->name() + "'";
    if (!finite(r->grads)) return "ring '" + r->name() + "', its momentum";
  }
  return "";
}

std::vector<float> Network::predict(const float* host_input, bool train) {
  need_batch();
  input_.upload(host_input, int64_t(batch_) * input_size());
  if (train)
    forward(input_.data(), true);
  else
    infer(input_.data());
  return layers_.back()->output.to_vector();
}

double Network::train_pass(const float* host_input, const float* host_truth) {
  need_batch();
  input_.upload(host_input, int64_t(batch_) * input_size());
  truth_.upload(host_truth, int64_t(batch_) * output_size());
  double loss = forward(input_.data(), true, truth_.data());
  backward(input_.data(), nullptr);
  return loss;
}

int64_t Network::num_params() const {
  int64_t n = 0;
  for (const auto& l : layers_) n += l->num_params();
  return n;
}
int64_t Network::macs() const {
  int64_t n = 0;
  for (const auto& l : layers_) n += l->macs();
  return n;
}
int64_t Network::activation_floats() const {
  int64_t n = 0;
  for (const auto& l : layers_) n += l->out.size();
  return n;
}

}  // namespace rpg
