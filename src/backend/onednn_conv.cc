// Convolutions on oneDNN (backend/onednn_conv.h).
#include "backend/onednn_conv.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backend/onednn_common.h"
#include "base/error.h"
#include <dnnl.hpp>

namespace rpg {

namespace {

using onednn::OmpThreads;
using onednn::Step;

using dnnl::memory;
using Tag = memory::format_tag;
using Dims = memory::dims;
constexpr auto kF32 = memory::data_type::f32;
// Prepared primitives kept (training, inference, and inference in the planned layouts: up to
// three per convolution shape); the least recently used goes first.
constexpr size_t kMaxShapes = 256;

// Primitives run in order on buffers in the shared arena, laid out from offset 0 (or from
// where an earlier phase's still-needed data ends).
struct Phase : onednn::ArenaLayout {
  std::vector<Step> ops;
  std::string kernel;

  // What a primitive reads for `user` in the layout it wants: user itself, or a reordered copy.
  memory input(const memory& user, const memory::desc& want, const dnnl::engine& eng) {
    if (want == user.get_desc()) return user;
    memory m = arena_memory(want, eng);
    ops.push_back({dnnl::reorder(user, m), {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, m}}});
    return m;
  }
  // to += from, whatever their layouts.
  void accumulate(const memory& from, const memory& to, const dnnl::engine& eng) {
    dnnl::post_ops sum;
    sum.append_sum(1.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(sum);
    dnnl::reorder::primitive_desc pd(eng, from.get_desc(), eng, to.get_desc(), attr);
    ops.push_back({dnnl::reorder(pd), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}});
  }
  // A gradient primitive on `inputs`: its result, in the arena in the layout it chooses, is
  // added to the caller's `to` (add), or written there: by the primitive itself where `to` is in
  // its layout, else by a reorder.
  template <typename Pd>
  void gradient(const dnnl::primitive& prim, const Pd& pd, std::unordered_map<int, memory> inputs, int result,
                const memory::desc& result_desc, const memory& to, const dnnl::engine& eng, bool add = true) {
    const bool in_place = !add && result_desc == to.get_desc();
    const memory out = in_place ? to : arena_memory(result_desc, eng);
    inputs.emplace(result, out);
    inputs.emplace(DNNL_ARG_SCRATCHPAD, arena_memory(pd.scratchpad_desc(), eng));
    ops.push_back({prim, std::move(inputs)});
    if (add)
      accumulate(out, to, eng);
    else if (!in_place)
      ops.push_back({dnnl::reorder(out, to), {{DNNL_ARG_FROM, out}, {DNNL_ARG_TO, to}}});
    kernel = pd.impl_info_str();
  }
  void run(dnnl::stream& s, char* arena) {
    bind(arena);
    for (auto& op : ops) op.prim.execute(s, op.args);
  }
};

struct Conv {
  memory x, w, y, dy, dw, dx;  // the caller's buffers; their pointers are set per call
  memory::desc kernel_weights;  // training: the layout the forward kernel reads the weights in
  // bwd_data adds the input delta to dx, bwd_data_written writes it (Backend::conv_backward's
  // add_in_delta).
  Phase fwd, bwd_weights, bwd_data, bwd_data_written;
  // Inference: the folded weights (planar, in the arena at folded_weights) are reordered into
  // `kernel_w` (the layout the kernel reads) with `fold`; kernel_w and kernel_b point into the
  // layer's Folded copy. Whether the kernel runs the activation.
  int64_t folded_weights = 0;
  memory kernel_w, kernel_b;
  dnnl::primitive fold;  // null: the planar layout is the kernel's
  bool activates = false;
  int kernel_layout = 0;  // the forward kernel's output layout (Backend::conv_inference_layout; 0: other)
  uint64_t used = 0;
  int64_t bytes() const { return std::max({fwd.bytes, bwd_weights.bytes, bwd_data.bytes, bwd_data_written.bytes}); }
};

// Output positions (batch x out_h x out_w) below which Winograd loses in training: each step
// transforms the new weights into Winograd's layout (about 4 ns per weight here, 10 ms for a
// 512 x 512 x 3 x 3 layer), which the convolution must win back. (Inference keeps each layer's
// transformed weights while they do not change, so it takes Winograd at every size: ResNet-18's
// batch-1 latency -14%, fashion-resnet's -35%, measured alternately.)
constexpr int64_t kWinogradMinPositions = 2048;

// Winograd F(4x4, 3x3) for 3x3 stride-1 convolutions of at least 16 channels and filters, where
// oneDNN has it (AVX-512 processors; the caller falls back to direct convolution): 2-4x fewer
// FLOPs. Not for small ones: its scratch is several MiB whatever the size (8 MiB for 4 filters on
// 8x8), and oneDNN's own "auto" choice skipped it for inference with post-ops, where it is 2x
// faster than direct convolution on fashion-resnet.
dnnl::algorithm first_algorithm(const ConvGeometry& g, int batch, int groups, int filters, bool inference = false) {
  const bool winograd = g.ksize == 3 && g.stride == 1 && groups == 1 && g.channels >= 16 && filters >= 16 &&
                        (inference || int64_t(batch) * g.out_h * g.out_w >= kWinogradMinPositions);
  return winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct;
}

// The memory descriptors of one convolution: the caller's planar layouts (NCHW, [g]OIHW) and
// "any" for oneDNN to choose; strides and padding. Darknet's output size is
// floor((H + 2 pad - k) / stride) + 1, which is oneDNN's with the same padding on both sides.
struct Shape {
  memory::desc x, y, w, x_any, y_any, w_any;
  Dims strides, pad;
  Shape(const ConvGeometry& g, int batch, int groups, int filters) {
    const Dims xd{batch, int64_t(g.channels) * groups, g.height, g.width}, yd{batch, filters, g.out_h, g.out_w};
    const Dims wd = groups > 1 ? Dims{groups, filters / groups, g.channels, g.ksize, g.ksize}
                               : Dims{filters, g.channels, g.ksize, g.ksize};
    x = memory::desc(xd, kF32, Tag::nchw);
    y = memory::desc(yd, kF32, Tag::nchw);
    w = memory::desc(wd, kF32, groups > 1 ? Tag::goihw : Tag::oihw);
    x_any = memory::desc(xd, kF32, Tag::any);
    y_any = memory::desc(yd, kF32, Tag::any);
    w_any = memory::desc(wd, kF32, Tag::any);
    strides = {g.stride, g.stride};
    pad = {g.pad, g.pad};
  }
};

// An activation tensor's descriptor in one of Backend::conv_inference_layout's layouts: 0 planar
// (as given), 1 channels last (NHWC), 8 and 16 oneDNN's channel-blocked nChw8c and nChw16c.
memory::desc blocked(const memory::desc& plain, int layout) {
  if (layout == 0) return plain;
  return memory::desc(plain.dims(), kF32, layout == 16 ? Tag::nChw16c : layout == 8 ? Tag::nChw8c : Tag::nhwc);
}

// The layout code (Backend::conv_inference_layout's) of a kernel's output descriptor `dst` for
// the planar `plain`: 1, 8 or 16, blocked only where no channel padding is needed; 0 otherwise.
int layout_of(const memory::desc& dst, const memory::desc& plain, int filters) {
  int code = 0;
  for (int layout : {1, 8, 16})
    if (filters % layout == 0 && dst == blocked(plain, layout)) code = layout;
  return code;
}

// The training primitives of one shape, or null when oneDNN has no implementation for it; the
// caller's input and input delta in in_layout, its output and delta in out_layout (0: planar);
// its weights and their gradient in the forward kernel's layout with kernel_weights (which needs
// that layout to have no padding), else planar.
std::unique_ptr<Conv> build(const dnnl::engine& eng, const ConvGeometry& g, int batch, int groups,
                            int filters, int in_layout = 0, int out_layout = 0, bool kernel_weights = false) {
  const Shape d(g, batch, groups, filters);
  const auto& [x_plain, y_plain_md, w_plain, x_any, y_any, w_any, strides, pad] = d;
  const memory::desc x_md = blocked(x_plain, in_layout), y_md = blocked(y_plain_md, out_layout);
  auto alg = first_algorithm(g, batch, groups, filters);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

  auto c = std::make_unique<Conv>();
  try {
    const auto forward_pd = [&] {  // the first algorithm oneDNN implements, of winograd and direct
      // (through d: a lambda may not capture structured bindings before C++20)
      return dnnl::convolution_forward::primitive_desc(
          {dnnl::prop_kind::forward_training, alg, d.x_any, d.w_any, d.y_any, d.strides, d.pad, d.pad}, attr, eng);
    };
    dnnl::convolution_forward::primitive_desc fpd;
    try {
      fpd = forward_pd();
    } catch (const dnnl::error& e) {
      if (e.status != dnnl_unimplemented) throw;
      alg = dnnl::algorithm::convolution_direct;
      fpd = forward_pd();
    }
    c->kernel_weights = fpd.weights_desc();
    if (kernel_weights && c->kernel_weights.get_size() != w_plain.get_size()) return nullptr;
    const memory::desc w_md = kernel_weights ? c->kernel_weights : w_plain;
    const dnnl::convolution_backward_weights::primitive_desc wpd({alg, x_any, w_any, y_any, strides, pad, pad},
                                                                 attr, eng, fpd);
    const dnnl::convolution_backward_data::primitive_desc dpd({alg, x_any, w_any, y_any, strides, pad, pad}, attr,
                                                              eng, fpd);
    for (auto [m, d] : {std::pair{&c->x, x_md}, {&c->w, w_md}, {&c->y, y_md}, {&c->dy, y_md}, {&c->dw, w_md},
                        {&c->dx, x_md}})
      *m = memory(d, eng, DNNL_MEMORY_NONE);

    Phase& f = c->fwd;
    const memory fx = f.input(c->x, fpd.src_desc(), eng), fw = f.input(c->w, fpd.weights_desc(), eng);
    const bool y_plain = fpd.dst_desc() == y_md;
    const memory fy = y_plain ? c->y : f.arena_memory(fpd.dst_desc(), eng);
    const memory fs = f.arena_memory(fpd.scratchpad_desc(), eng);
    f.ops.push_back({dnnl::convolution_forward(fpd),
                     {{DNNL_ARG_SRC, fx}, {DNNL_ARG_WEIGHTS, fw}, {DNNL_ARG_DST, fy}, {DNNL_ARG_SCRATCHPAD, fs}}});
    if (!y_plain) f.ops.push_back({dnnl::reorder(fy, c->y), {{DNNL_ARG_FROM, fy}, {DNNL_ARG_TO, c->y}}});
    f.kernel = fpd.impl_info_str();
    c->kernel_layout = layout_of(fpd.dst_desc(), y_plain_md, filters);

    // Weight gradient first; its reordered delta (at offset 0) stays for the data gradient.
    Phase& bw = c->bwd_weights;
    const memory wdy = bw.input(c->dy, wpd.diff_dst_desc(), eng);
    const int64_t delta_end = bw.bytes;
    const memory wx = bw.input(c->x, wpd.src_desc(), eng);
    bw.gradient(dnnl::convolution_backward_weights(wpd), wpd, {{DNNL_ARG_SRC, wx}, {DNNL_ARG_DIFF_DST, wdy}},
                DNNL_ARG_DIFF_WEIGHTS, wpd.diff_weights_desc(), c->dw, eng);

    const dnnl::convolution_backward_data data_gradient(dpd);
    for (Phase* bd : {&c->bwd_data, &c->bwd_data_written}) {
      memory ddy;
      if (dpd.diff_dst_desc() == wpd.diff_dst_desc()) {
        ddy = wdy;
        bd->bytes = delta_end;
      } else {
        ddy = bd->input(c->dy, dpd.diff_dst_desc(), eng);
      }
      const memory dw = bd->input(c->w, dpd.weights_desc(), eng);
      bd->gradient(data_gradient, dpd, {{DNNL_ARG_DIFF_DST, ddy}, {DNNL_ARG_WEIGHTS, dw}}, DNNL_ARG_DIFF_SRC,
                   dpd.diff_src_desc(), c->dx, eng, bd == &c->bwd_data);
    }
  } catch (const dnnl::error& e) {
    if (e.status == dnnl_unimplemented) return nullptr;
    fail(e.status == dnnl_out_of_memory ? Status::OutOfMemory : Status::Internal,
         std::string("oneDNN could not create a convolution: ") + e.what());
  }
  return c;
}

// Whether an implementation (impl_info_str) is one of oneDNN's JIT kernels, not its reference
// loops or a GEMM-based convolution.
bool jit_kernel(const std::string& impl) {
  return impl.rfind("ref", 0) != 0 && impl.find("gemm") == std::string::npos;
}

// oneDNN's eltwise post-op for an activation, when it has one that computes the same function.
bool eltwise_of(Act act, dnnl::algorithm* alg, float* alpha, float* beta) {
  *alpha = 0.f;
  *beta = 0.f;
  switch (act) {
    case Act::Relu: *alg = dnnl::algorithm::eltwise_relu; return true;
    case Act::Leaky: *alg = dnnl::algorithm::eltwise_relu, *alpha = .1f; return true;
    case Act::Relie: *alg = dnnl::algorithm::eltwise_relu, *alpha = .01f; return true;
    case Act::Logistic: *alg = dnnl::algorithm::eltwise_logistic; return true;
    case Act::Tanh: *alg = dnnl::algorithm::eltwise_tanh; return true;
    case Act::Elu: *alg = dnnl::algorithm::eltwise_elu, *alpha = 1.f; return true;
    case Act::Hardtan: *alg = dnnl::algorithm::eltwise_clip, *alpha = -1.f, *beta = 1.f; return true;
    default: return false;
  }
}


// The inference primitive of one shape and activation: weights and bias are written by the
// caller into the arena (folded), the activation is a post-op where oneDNN has it. With `sum`
// (Backend::conv_inference's), the kernel adds what the destination holds and applies sum_act:
// post-ops eltwise (act), sum, eltwise (sum_act), writing the caller's layout itself; null where
// an activation has no eltwise or oneDNN has no such kernel.
std::unique_ptr<Conv> build_inference(const dnnl::engine& eng, const ConvGeometry& g, int batch, int groups,
                                      int filters, Act act, int in_layout, int out_layout, const Act* sum = nullptr) {
  const Shape d(g, batch, groups, filters);
  const auto& [x_plain, y_plain_md, w_md, x_any, y_any, w_any, strides, pad] = d;
  const memory::desc x_md = blocked(x_plain, in_layout), y_md = blocked(y_plain_md, out_layout);
  const memory::desc b_md({filters}, kF32, Tag::x);
  auto c = std::make_unique<Conv>();
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops ops;
  // An activation as an eltwise post-op; false where oneDNN has none for it.
  const auto eltwise = [&ops](Act a) {
    dnnl::algorithm elt;
    float alpha, beta;
    if (a == Act::Linear) return true;
    if (!eltwise_of(a, &elt, &alpha, &beta)) return false;
    ops.append_eltwise(1.f, elt, alpha, beta);
    return true;
  };
  const bool has_eltwise = eltwise(act);
  if (sum) {
    if (!has_eltwise) return nullptr;
    ops.append_sum(1.f);
    if (!eltwise(*sum)) return nullptr;
  }
  // Without post-ops: Winograd where it has no post-op for the activation (oneDNN's Winograd
  // takes relu but not leaky, Darknet's ResNets' activation), which the backend then applies
  // in a pass of its own: half the time of the direct kernel there (RESULTS.md, change 13).
  dnnl::primitive_attr plain;  // (a copy of attr would share its post-ops: a handle)
  plain.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  attr.set_post_ops(ops);
  try {
    // The first algorithm oneDNN implements (of Winograd with the post-ops, Winograd without
    // them, direct), and whether the kernel runs the activation. (d: see build.)
    const auto create = [&](const memory::desc& x, const memory::desc& y) {
      const auto winograd = first_algorithm(g, batch, groups, filters, true);
      const bool bare = winograd == dnnl::algorithm::convolution_winograd && !sum && act != Act::Linear;
      for (int k = 0; k < 3; ++k) {
        if (k == 1 && !bare) continue;
        const auto alg = k == 2 ? dnnl::algorithm::convolution_direct : winograd;
        try {
          c->activates = has_eltwise && k != 1;
          return dnnl::convolution_forward::primitive_desc(
              {dnnl::prop_kind::forward_inference, alg, x, d.w_any, b_md, y, d.strides, d.pad, d.pad},
              k == 1 ? plain : attr, eng);
        } catch (const dnnl::error& e) {
          if (e.status != dnnl_unimplemented || k == 2) throw;
        }
      }
      return dnnl::convolution_forward::primitive_desc();  // (not reached)
    };
    // The caller's channel-blocked layouts taken as they are where a JIT kernel reads and writes
    // them (Winograd takes blocked layouts only, so an NHWC kernel between blocked ones costs two
    // reorders: RESULTS.md, change 12); else the layouts oneDNN would rather have. The sum reads
    // the caller's tensor: its kernel writes the caller's layout.
    dnnl::convolution_forward::primitive_desc pd;
    bool taken = false;
    if (in_layout > 1 || out_layout > 1) {
      try {
        pd = create(in_layout > 1 ? x_md : x_any, out_layout > 1 || sum ? y_md : y_any);
        taken = jit_kernel(pd.impl_info_str());
      } catch (const dnnl::error& e) {
        if (e.status != dnnl_unimplemented) throw;
      }
    }
    if (!taken) pd = create(x_any, sum ? y_md : y_any);
    c->x = memory(x_md, eng, DNNL_MEMORY_NONE);
    c->y = memory(y_md, eng, DNNL_MEMORY_NONE);
    c->kernel_w = memory(pd.weights_desc(), eng, DNNL_MEMORY_NONE);
    c->kernel_b = memory(b_md, eng, DNNL_MEMORY_NONE);
    Phase& f = c->fwd;
    if (pd.weights_desc() != w_md) {
      c->folded_weights = f.bytes;
      c->w = f.arena_memory(w_md, eng);
      c->fold = dnnl::reorder(c->w, c->kernel_w);
    }
    const memory fx = f.input(c->x, pd.src_desc(), eng);
    const bool y_plain = pd.dst_desc() == y_md;
    const memory fy = y_plain ? c->y : f.arena_memory(pd.dst_desc(), eng);
    const memory fs = f.arena_memory(pd.scratchpad_desc(), eng);
    f.ops.push_back({dnnl::convolution_forward(pd),
                     {{DNNL_ARG_SRC, fx}, {DNNL_ARG_WEIGHTS, c->kernel_w}, {DNNL_ARG_BIAS, c->kernel_b},
                      {DNNL_ARG_DST, fy}, {DNNL_ARG_SCRATCHPAD, fs}}});
    if (!y_plain) f.ops.push_back({dnnl::reorder(fy, c->y), {{DNNL_ARG_FROM, fy}, {DNNL_ARG_TO, c->y}}});
    f.kernel = pd.impl_info_str();
    c->kernel_layout = layout_of(pd.dst_desc(), y_plain_md, filters);
  } catch (const dnnl::error& e) {
    if (e.status == dnnl_unimplemented) return nullptr;
    fail(e.status == dnnl_out_of_memory ? Status::OutOfMemory : Status::Internal,
         std::string("oneDNN could not create a convolution: ") + e.what());
  }
  return c;
}

// Max pooling for inference on planar NCHW, Darknet's windows (from -padding / 2); null where
// oneDNN's result could differ from Darknet's (a window wholly in the padding, where Darknet
// gives 0) or where oneDNN has no implementation.
struct Pool {
  memory src, dst;
  dnnl::primitive prim;
};

std::unique_ptr<Pool> build_maxpool(const dnnl::engine& eng, const PoolGeometry& g, int layout) {
  const int pad_l = g.padding / 2;
  const auto fits = [&](int extent, int out) { return pad_l < g.size && (out - 1) * g.stride - pad_l <= extent - 1; };
  if (!fits(g.height, g.out_h) || !fits(g.width, g.out_w)) return nullptr;
  const Dims pad_r{(g.out_h - 1) * g.stride + g.size - g.height - pad_l, (g.out_w - 1) * g.stride + g.size - g.width - pad_l};
  if (pad_r[0] < 0 || pad_r[1] < 0) return nullptr;
  auto p = std::make_unique<Pool>();
  try {
    const memory::desc src({g.batch, g.channels, g.height, g.width}, kF32, Tag::nchw),
        dst({g.batch, g.channels, g.out_h, g.out_w}, kF32, Tag::nchw);
    p->src = memory(blocked(src, layout), eng, DNNL_MEMORY_NONE);
    p->dst = memory(blocked(dst, layout), eng, DNNL_MEMORY_NONE);
    const dnnl::pooling_forward::primitive_desc pd({dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max,
                                                    p->src.get_desc(), p->dst.get_desc(), {g.stride, g.stride},
                                                    {g.size, g.size}, {pad_l, pad_l}, pad_r},
                                                   eng);
    p->prim = dnnl::pooling_forward(pd);
  } catch (const dnnl::error& e) {
    if (e.status == dnnl_unimplemented || e.status == dnnl_invalid_arguments) return nullptr;
    fail(e.status == dnnl_out_of_memory ? Status::OutOfMemory : Status::Internal,
         std::string("oneDNN could not create a max pooling: ") + e.what());
  }
  return p;
}

using PoolKey = std::array<int, 9>;

// What an inference primitive is for: the activation, the layouts of its input and output
// (Backend::conv_inference_layout's codes) and the fused sum's activation if any, in one int of
// the key.
int inference_purpose(Act act, int in_layout, int out_layout, const Act* sum = nullptr) {
  return int(act) + 100 * in_layout + 10000 * out_layout + (sum ? 1000000 * (1 + int(*sum)) : 0);
}
// The training primitives (forward and both gradients) for these layouts and weights in the
// kernel's layout or planar: negative.
int training_purpose(int in_layout, int out_layout, bool kernel_weights = false) {
  return -1 - inference_purpose(Act(0), in_layout, out_layout) - (kernel_weights ? 1000000 : 0);
}

// Shape, batch, groups, filters, threads, and what the primitives are for: training_purpose
// (negative), else inference_purpose.
using Key = std::array<int, 13>;

Key key_of(const ConvGeometry& g, int batch, int groups, int filters, int threads, int purpose) {
  return {g.channels, g.height, g.width, g.ksize, g.stride, g.pad, g.out_h, g.out_w, batch, groups, filters, threads,
          purpose};
}

}  // namespace

// One layer's folded inference weights and bias, in the layout its kernel reads. Kept while the
// weights are unchanged (Backend::conv_inference's params_version) and the per-filter tensors
// (bias, batch-norm scales and statistics: compared by value on every call, which costs little)
// are the same as when they were folded.
struct Folded {
  char* data = nullptr;  // weights (kernel layout), then the bias at bias_offset
  size_t bytes = 0, bias_offset = 0;
  memory::desc layout;   // the kernel's weights layout they were written for
  uint64_t version = 0;  // 0: never written
  std::vector<float> sources;  // biases, then (with batch norm) scales, mean, var, eps

  void keep_sources(int filters, const float* biases, const BnInference* bn) {
    sources.assign(biases, biases + filters);  // in place: no allocation once its size is reached
    if (bn) {
      for (const float* t : {bn->scales, bn->mean, bn->var}) sources.insert(sources.end(), t, t + filters);
      sources.push_back(bn->eps.inside);
      sources.push_back(bn->eps.outside);
    }
  }
  bool same_sources(int filters, const float* biases, const BnInference* bn) const {
    const size_t n = size_t(filters) * (bn ? 4 : 1) + (bn ? 2 : 0);
    if (sources.size() != n) return false;  // with and without batch norm differ in size
    const auto same = [&](const float* t, size_t at) { return std::memcmp(t, &sources[at], size_t(filters) * 4) == 0; };
    if (!same(biases, 0)) return false;
    if (!bn) return true;
    return same(bn->scales, size_t(filters)) && same(bn->mean, 2 * size_t(filters)) &&
           same(bn->var, 3 * size_t(filters)) && sources[n - 2] == bn->eps.inside && sources[n - 1] == bn->eps.outside;
  }
};

struct OneDnnConvolutions::Impl {
  Backend& owner;
  dnnl::engine eng;
  dnnl::stream strm;
  std::map<Key, std::unique_ptr<Conv>> convs;  // a null entry: no oneDNN implementation
  std::unordered_map<const float*, Folded> folded;  // by the layer's weights
  std::map<PoolKey, std::unique_ptr<Pool>> pools;    // a null entry: not on oneDNN
  onednn::Arena arena;
  uint64_t clock = 0;

  explicit Impl(Backend& b) : owner(b), eng(dnnl::engine::kind::cpu, 0), strm(eng), arena(b) {}
  ~Impl() {
    for (auto& [w, f] : folded) owner.release(f.data);
  }

  // The layer's folded copy for this kernel: current when the parameters have not changed since
  // it was written (same version, layout, bias and batch-norm tensors), else written now.
  Folded& fold(Conv& c, const ConvGeometry& g, int filters, int threads, const float* weights, const float* biases,
               const BnInference* bn, uint64_t version) {
    Folded& f = folded[weights];
    const memory::desc& layout = c.kernel_w.get_desc();
    if (version != 0 && f.version == version && f.layout == layout && f.same_sources(filters, biases, bn)) return f;
    const size_t bias_offset = (layout.get_size() + 63) / 64 * 64, bytes = bias_offset + size_t(filters) * 4;
    if (bytes != f.bytes) {
      char* data = static_cast<char*>(owner.alloc(bytes));
      owner.release(f.data);
      f.data = data;
      f.bytes = bytes;
    }
    f.version = 0;  // until written
    f.bias_offset = bias_offset;
    // Batch norm folded: w' = w s, b' = biases - mean s with s = scales / std, per filter.
    float* w = reinterpret_cast<float*>(c.fold ? arena.data() + c.folded_weights : f.data);
    float* b = reinterpret_cast<float*>(f.data + bias_offset);
    const int64_t per_filter = int64_t(g.channels) * g.ksize * g.ksize;
#pragma omp parallel for num_threads(threads) if (per_filter * filters > 65536)
    for (int o = 0; o < filters; ++o) {
      const float s = bn ? bn->scales[o] * bn->eps.inv_std(bn->var[o]) : 1.f;
      b[o] = bn ? biases[o] - bn->mean[o] * s : biases[o];
      const float* src = weights + o * per_filter;
      float* dst = w + o * per_filter;
      for (int64_t i = 0; i < per_filter; ++i) dst[i] = src[i] * s;
    }
    if (c.fold) {
      c.w.set_data_handle(w);
      c.kernel_w.set_data_handle(f.data);
      c.fold.execute(strm, {{DNNL_ARG_FROM, c.w}, {DNNL_ARG_TO, c.kernel_w}});
      strm.wait();
    }
    f.layout = layout;
    f.keep_sources(filters, biases, bn);
    f.version = version;
    return f;
  }

  // The training primitives of a shape and layouts with the caller's input and weights in place;
  // null when oneDNN has none.
  Conv* bind(const ConvGeometry& g, int batch, int groups, int filters, int threads, const float* in,
             const float* weights, int in_layout, int out_layout, bool kernel_weights) {
    Conv* c = get(g, batch, groups, filters, threads, training_purpose(in_layout, out_layout, kernel_weights));
    if (!c && kernel_weights) fail(Status::Internal, "oneDNN: weights in a kernel order the shape does not have");
    if (c) {
      c->x.set_data_handle(const_cast<float*>(in));
      c->w.set_data_handle(const_cast<float*>(weights));
    }
    return c;
  }
  // The primitives of a shape, built and kept at the first call (the arena is not grown: see
  // get). purpose: training_purpose or inference_purpose.
  Conv* find(const ConvGeometry& g, int batch, int groups, int filters, int threads, int purpose) {
    const Key k = key_of(g, batch, groups, filters, threads, purpose);
    auto it = convs.find(k);
    if (it == convs.end()) {
      std::unique_ptr<Conv> c;
      {
        OmpThreads t(threads);  // oneDNN sizes its kernels' blocking for the thread count
        const int layouts = purpose < 0 ? -1 - purpose : purpose;
        const Act sum = Act(purpose / 1000000 - 1);
        c = purpose < 0 ? build(eng, g, batch, groups, filters, layouts / 100 % 100, layouts / 10000 % 100,
                                layouts >= 1000000)
                        : build_inference(eng, g, batch, groups, filters, Act(purpose % 100), purpose / 100 % 100,
                                          purpose / 10000 % 100, purpose >= 1000000 ? &sum : nullptr);
      }
      if (convs.size() >= kMaxShapes) {
        auto oldest = convs.begin();
        for (auto j = convs.begin(); j != convs.end(); ++j)
          if (!j->second || (oldest->second && j->second->used < oldest->second->used)) oldest = j;
        convs.erase(oldest);
      }
      it = convs.emplace(k, std::move(c)).first;
    }
    if (it->second) it->second->used = ++clock;
    return it->second.get();
  }
  Pool* pool(const PoolGeometry& g, int threads, int layout) {
    const PoolKey k{g.batch, g.channels, g.height, g.width, g.size, g.stride, g.padding, threads, layout};
    auto it = pools.find(k);
    if (it == pools.end()) {
      if (pools.size() >= kMaxShapes) pools.erase(pools.begin());
      OmpThreads t(threads);
      it = pools.emplace(k, build_maxpool(eng, g, layout)).first;
    }
    return it->second.get();
  }
  // find, with the arena grown to fit the shape (a failure leaves the old arena in place).
  Conv* get(const ConvGeometry& g, int batch, int groups, int filters, int threads, int purpose) {
    Conv* c = find(g, batch, groups, filters, threads, purpose);
    if (c) arena.fit(c->bytes());
    return c;
  }
};

namespace {
// Runs f, turning oneDNN's exceptions into rpg::Error.
template <typename F>
auto guarded(F&& f) {
  return onednn::guarded("oneDNN", std::forward<F>(f));
}
}  // namespace

void onednn_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc, int threads) {
  OmpThreads t(threads);
  const dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (st != dnnl_success)
    fail(st == dnnl_out_of_memory ? Status::OutOfMemory : Status::Internal,
         "oneDNN sgemm failed (status " + std::to_string(int(st)) + ")");
}

OneDnnConvolutions::OneDnnConvolutions(Backend& memory)
    : impl_(guarded([&] { return std::make_unique<Impl>(memory); })) {}
OneDnnConvolutions::~OneDnnConvolutions() = default;

bool OneDnnConvolutions::prepare(const ConvGeometry& g, int batch, int groups, int filters, Act act, int threads) {
  return guarded([&] {
    const bool training = impl_->get(g, batch, groups, filters, threads, training_purpose(0, 0)) != nullptr;
    return impl_->get(g, batch, groups, filters, threads, int(act)) != nullptr && training;
  });
}

int64_t OneDnnConvolutions::workspace_bytes(const ConvGeometry& g, int batch, int groups, int filters, Act act,
                                            int threads) {
  return guarded([&]() -> int64_t {  // built once: prepare finds them
    const Conv* training = impl_->find(g, batch, groups, filters, threads, training_purpose(0, 0));
    const Conv* inference = impl_->find(g, batch, groups, filters, threads, int(act));
    return std::max(training ? training->bytes() : 0, inference ? inference->bytes() : 0);
  });
}

bool OneDnnConvolutions::maxpool(const PoolGeometry& g, int threads, const float* in, float* out, int layout) {
  return guarded([&] {
    Pool* p = impl_->pool(g, threads, layout);
    if (!p) return false;
    OmpThreads t(threads);
    p->src.set_data_handle(const_cast<float*>(in));
    p->dst.set_data_handle(out);
    p->prim.execute(impl_->strm, {{DNNL_ARG_SRC, p->src}, {DNNL_ARG_DST, p->dst}});
    impl_->strm.wait();
    return true;
  });
}

bool OneDnnConvolutions::maxpool_prepare(const PoolGeometry& g, int threads, int layout) {
  return guarded([&] { return impl_->pool(g, threads, layout) != nullptr; });
}

bool OneDnnConvolutions::prepare_inference_sum(const ConvGeometry& g, int batch, int groups, int filters, Act act,
                                               Act sum_act, int threads, int in_layout, int out_layout) {
  return guarded([&] {
    // The sum only where it keeps the kernel the plain pass runs (not where oneDNN would fall back
    // to another, e.g. its reference loops: 150x slower on AVX2 in NHWC), and not on Winograd,
    // whose sum costs more than the separate shortcut pass (measured: RESULTS.md, change 10).
    const Conv* plain = impl_->get(g, batch, groups, filters, threads, inference_purpose(act, in_layout, out_layout));
    if (!plain) return false;
    const std::string kernel = plain->fwd.kernel;
    const int purpose = inference_purpose(act, in_layout, out_layout, &sum_act);
    const Conv* with_sum = impl_->find(g, batch, groups, filters, threads, purpose);
    if (!with_sum || with_sum->fwd.kernel != kernel || kernel.find("wino") != std::string::npos) return false;
    return impl_->get(g, batch, groups, filters, threads, purpose) != nullptr;  // (the arena grown for it)
  });
}

void OneDnnConvolutions::prepare_inference(const ConvGeometry& g, int batch, int groups, int filters, Act act,
                                           int threads, int in_layout, int out_layout) {
  guarded([&] { return impl_->get(g, batch, groups, filters, threads, inference_purpose(act, in_layout, out_layout)); });
}

int OneDnnConvolutions::training_layout(const ConvGeometry& g, int batch, int groups, int filters, int threads) {
  return guarded([&] {
    const Conv* c = impl_->find(g, batch, groups, filters, threads, training_purpose(0, 0));
    return c ? c->kernel_layout : -1;
  });
}

std::vector<int64_t> OneDnnConvolutions::weight_order(const ConvGeometry& g, int batch, int groups, int filters,
                                                      int threads, int in_layout, int out_layout) {
  return guarded([&] {
    std::vector<int64_t> order;
    const Conv* c = impl_->get(g, batch, groups, filters, threads, training_purpose(in_layout, out_layout));
    const memory::desc plain = Shape(g, batch, groups, filters).w;
    if (!c || c->kernel_weights == plain || c->kernel_weights.get_size() != plain.get_size()) return order;
    // Where each planar position lands: the indices 0 .. n-1, as int32, reordered into the
    // kernel's layout (the same descriptors with another element type).
    dnnl_memory_desc_t from = plain.data, to = c->kernel_weights.data;
    from.data_type = to.data_type = dnnl_s32;
    const int64_t n = int64_t(plain.get_size() / sizeof(float));
    memory src{memory::desc(from), impl_->eng}, dst{memory::desc(to), impl_->eng};
    int32_t* index = static_cast<int32_t*>(src.get_data_handle());
    for (int64_t i = 0; i < n; ++i) index[i] = int32_t(i);
    dnnl::reorder(src, dst).execute(impl_->strm, src, dst);
    impl_->strm.wait();
    const int32_t* at = static_cast<const int32_t*>(dst.get_data_handle());
    order.assign(size_t(n), -1);
    for (int64_t j = 0; j < n; ++j) order[size_t(at[j])] = j;
    // Build the primitives for these weights now (as conv_prepare_training).
    impl_->get(g, batch, groups, filters, threads, training_purpose(in_layout, out_layout, true));
    return order;
  });
}

void OneDnnConvolutions::prepare_training(const ConvGeometry& g, int batch, int groups, int filters, int threads,
                                          int in_layout, int out_layout) {
  guarded([&] { return impl_->get(g, batch, groups, filters, threads, training_purpose(in_layout, out_layout)); });
}

int OneDnnConvolutions::inference_layout(const ConvGeometry& g, int batch, int groups, int filters, Act act,
                                        int threads) {
  return guarded([&] {
    const Conv* c = impl_->find(g, batch, groups, filters, threads, inference_purpose(act, 0, 0));
    if (!c || c->kernel_layout > 1) return c ? c->kernel_layout : -1;
    // A kernel that writes a channel-blocked layout itself goes before one that writes NHWC (or
    // planar): the Winograd kernels around it read blocked layouts only.
    for (int block : {16, 8}) {
      if (filters % block) continue;
      const Conv* b = impl_->find(g, batch, groups, filters, threads, inference_purpose(act, block, block));
      if (b && b->kernel_layout == block && jit_kernel(b->fwd.kernel)) return block;
    }
    return c->kernel_layout;
  });
}

std::string OneDnnConvolutions::kernels(const ConvGeometry& g, int batch, int groups, int filters, int threads) {
  return guarded([&]() -> std::string {
    const Conv* c = impl_->get(g, batch, groups, filters, threads, training_purpose(0, 0));
    if (!c) return "reference";
    return c->fwd.kernel + " / " + c->bwd_weights.kernel + " / " + c->bwd_data.kernel;
  });
}

bool OneDnnConvolutions::forward(const ConvGeometry& g, int batch, int groups, int filters, int threads,
                                 const float* in, const float* weights, float* out, int in_layout, int out_layout,
                                 bool kernel_weights) {
  return guarded([&] {
    Conv* c = impl_->bind(g, batch, groups, filters, threads, in, weights, in_layout, out_layout, kernel_weights);
    if (!c) return false;
    OmpThreads t(threads);
    c->y.set_data_handle(out);
    c->fwd.run(impl_->strm, impl_->arena.data());
    impl_->strm.wait();
    return true;
  });
}

bool OneDnnConvolutions::inference(const ConvGeometry& g, int batch, int groups, int filters, int threads,
                                   const float* in, const float* weights, const float* biases, const BnInference* bn,
                                   Act act, float* out, uint64_t params_version, int in_layout, int out_layout,
                                   const Act* sum) {
  return guarded([&] {
    Conv* c = impl_->get(g, batch, groups, filters, threads, inference_purpose(act, in_layout, out_layout, sum));
    if (!c) {
      if (sum) fail(Status::Internal, "oneDNN: a convolution with a sum that was not prepared");
      return false;
    }
    OmpThreads t(threads);
    const Folded& f = impl_->fold(*c, g, filters, threads, weights, biases, bn, params_version);
    c->kernel_w.set_data_handle(f.data);
    c->kernel_b.set_data_handle(f.data + f.bias_offset);
    c->x.set_data_handle(const_cast<float*>(in));
    c->y.set_data_handle(out);
    c->fwd.run(impl_->strm, impl_->arena.data());
    impl_->strm.wait();
    if (!c->activates && act != Act::Linear)
      impl_->owner.activate(act, out, out, int64_t(batch) * filters * g.out_h * g.out_w);
    return true;
  });
}

bool OneDnnConvolutions::backward(const ConvGeometry& g, int batch, int groups, int filters, int threads,
                                  const float* in, const float* weights, const float* delta,
                                  float* weight_grads, float* in_delta, int in_layout, int out_layout,
                                  bool add_in_delta, bool kernel_weights) {
  return guarded([&] {
    Conv* c = impl_->bind(g, batch, groups, filters, threads, in, weights, in_layout, out_layout, kernel_weights);
    if (!c) return false;
    OmpThreads t(threads);
    c->dy.set_data_handle(const_cast<float*>(delta));
    c->dw.set_data_handle(weight_grads);
    c->bwd_weights.run(impl_->strm, impl_->arena.data());
    if (in_delta) {
      c->dx.set_data_handle(in_delta);
      (add_in_delta ? c->bwd_data : c->bwd_data_written).run(impl_->strm, impl_->arena.data());
    }
    impl_->strm.wait();
    return true;
  });
}

}  // namespace rpg
