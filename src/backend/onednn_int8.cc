// Int8 convolutions on oneDNN (backend/onednn_int8.h).
#include "backend/onednn_int8.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "backend/onednn_common.h"
#include "base/error.h"
#include <dnnl.hpp>

namespace rpg {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Dims = memory::dims;
using Dt = memory::data_type;

using onednn::at_threads;
using onednn::Step;

// oneDNN's exceptions as rpg::Error.
template <typename F>
auto dnnl_guarded(F&& f) {
  return onednn::guarded("oneDNN (int8)", std::forward<F>(f));
}

Dt code_type(const Int8Code& c) { return c.is_unsigned ? Dt::u8 : Dt::s8; }

struct Op : onednn::ArenaLayout {
  memory user_in, user_out;  // the caller's buffers; data handles set per run
  std::vector<Step> steps;
  memory weights, bias;  // owned by oneDNN: the reordered codes, the per-filter bias
  int threads = 1;
  std::string kernel;
};

}  // namespace

bool int8_has_vnni() {
  return dnnl_guarded([] {
    const auto isa = unsigned(dnnl::get_effective_cpu_isa());
    const auto has = [isa](dnnl::cpu_isa want) { return (isa & unsigned(want)) == unsigned(want); };
    return has(dnnl::cpu_isa::avx512_core_vnni) || has(dnnl::cpu_isa::avx2_vnni);
  });
}

bool int8_activation(Act act) {
  return act == Act::Linear || act == Act::Relu || act == Act::Leaky || act == Act::Relie;
}

struct OneDnnInt8::Impl {
  dnnl::engine eng;
  dnnl::stream strm;
  std::vector<std::unique_ptr<Op>> ops;
  onednn::Arena arena;

  explicit Impl(Backend& b) : eng(dnnl::engine::kind::cpu, 0), strm(eng), arena(b) {}

  // The attributes of an op: per-channel output scales, then the bias (a binary add of b_md),
  // the residual sum, the activation.
  static dnnl::primitive_attr attributes(const Int8ConvSpec& s, const memory::desc& b_md) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_output_scales(1 << 1, s.out_scale);
    dnnl::post_ops po;
    po.append_binary(dnnl::algorithm::binary_add, b_md);
    const float alpha = s.act == Act::Leaky ? .1f : s.act == Act::Relie ? .01f : 0.f;
    if (s.sum_scale != 0) po.append_sum(s.sum_scale, code_type(s.sum));
    if (s.act != Act::Linear) po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f);
    attr.set_post_ops(po);
    return attr;
  }

  // A primitive descriptor from make(), or none when oneDNN has no implementation but its
  // reference loops (plain loops, "ref_int8:any", slower than the float32 path).
  template <typename Pd, typename Make>
  static bool usable(Pd* pd, Make&& make) {
    try {
      *pd = make();
    } catch (const dnnl::error& e) {
      if (e.status == dnnl_unimplemented) return false;
      throw;
    }
    return std::string(pd->impl_info_str()).rfind("ref", 0) != 0;
  }

  // The op around a primitive: weights reordered once (with the compensation oneDNN's s8-input
  // kernels need), the input quantized into the arena when it is float32, the output reordered
  // to the caller's float32 NCHW when the kernel writes another layout.
  template <typename Prim, typename Pd>
  std::unique_ptr<Op> assemble(const Pd& pd, const Int8ConvSpec& s, const memory::desc& x_codes,
                               const memory::desc& x_float, const memory::desc& y_float, const memory::desc& w_user,
                               const memory::desc& b_md) {
    auto op = std::make_unique<Op>();
    op->kernel = pd.impl_info_str();
    op->threads = s.threads;
    op->weights = memory(pd.weights_desc(), eng);
    memory wu(w_user, eng, const_cast<int8_t*>(s.weights.data()));
    dnnl::reorder(wu, op->weights).execute(strm, wu, op->weights);
    op->bias = memory(b_md, eng);
    std::copy(s.bias.begin(), s.bias.end(), static_cast<float*>(op->bias.get_data_handle()));

    memory src;
    if (s.in_float) {
      op->user_in = memory(x_float, eng, DNNL_MEMORY_NONE);
      src = op->arena_memory(x_codes, eng);
      dnnl::primitive_attr q;
      q.set_output_scales(0, {s.in.scale > 0 ? 1.f / s.in.scale : 0.f});
      dnnl::reorder::primitive_desc rpd(eng, x_float, eng, x_codes, q);
      op->steps.push_back({dnnl::reorder(rpd), {{DNNL_ARG_FROM, op->user_in}, {DNNL_ARG_TO, src}}});
    } else {
      op->user_in = memory(x_codes, eng, DNNL_MEMORY_NONE);
      src = op->user_in;
    }
    memory dst;
    if (s.out_float) {
      op->user_out = memory(y_float, eng, DNNL_MEMORY_NONE);
      dst = pd.dst_desc() == y_float ? op->user_out : op->arena_memory(pd.dst_desc(), eng);
    } else {
      op->user_out = memory(pd.dst_desc(), eng, DNNL_MEMORY_NONE);
      dst = op->user_out;
    }
    const memory scratch = op->arena_memory(pd.scratchpad_desc(), eng);
    op->steps.push_back({Prim(pd),
                         {{DNNL_ARG_SRC, src},
                          {DNNL_ARG_WEIGHTS, op->weights},
                          {DNNL_ARG_DST, dst},
                          {DNNL_ARG_SCRATCHPAD, scratch},
                          {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, op->bias}}});
    if (dst != op->user_out)
      op->steps.push_back({dnnl::reorder(dst, op->user_out), {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, op->user_out}}});
    strm.wait();
    return op;
  }

  std::unique_ptr<Op> build(const Int8ConvSpec& s) {
    const ConvGeometry& g = s.g;
    const int64_t in_c = int64_t(g.channels) * s.groups;
    const Dims xd{s.batch, in_c, g.height, g.width}, yd{s.batch, s.filters, g.out_h, g.out_w};
    const Dims wd = s.groups > 1 ? Dims{s.groups, s.filters / s.groups, g.channels, g.ksize, g.ksize}
                                 : Dims{s.filters, g.channels, g.ksize, g.ksize};
    const memory::desc x_codes(xd, code_type(s.in), Tag::nhwc), x_float(xd, Dt::f32, Tag::nchw);
    const memory::desc w_any(wd, Dt::s8, Tag::any), w_user(wd, Dt::s8, s.groups > 1 ? Tag::goihw : Tag::oihw);
    // A connected layer (1 x 1 on a 1 x 1 input) is an inner product; its output (batch x
    // filters) is NCHW already. The convolution when oneDNN has no inner product kernel for it.
    const bool inner = s.groups == 1 && g.ksize == 1 && g.height == 1 && g.width == 1 && g.out_h == 1 &&
                       g.out_w == 1 && g.pad == 0 && s.sum_scale == 0;
    if (inner) {
      const Dims y2{s.batch, s.filters};
      const memory::desc y_md = s.out_float ? memory::desc(y2, Dt::f32, Tag::any) : memory::desc(y2, code_type(s.out), Tag::nc);
      const memory::desc b_md({1, s.filters}, Dt::f32, Tag::ab);
      dnnl::inner_product_forward::primitive_desc pd;
      if (usable(&pd, [&] {
            return dnnl::inner_product_forward::primitive_desc({dnnl::prop_kind::forward_inference, x_codes, w_any, y_md},
                                                                 attributes(s, b_md), eng);
          }))
        return assemble<dnnl::inner_product_forward>(pd, s, x_codes, x_float, memory::desc(y2, Dt::f32, Tag::nc), w_user,
                                                     b_md);
    }
    const memory::desc y_md = s.out_float ? memory::desc(yd, Dt::f32, Tag::any) : memory::desc(yd, code_type(s.out), Tag::nhwc);
    const memory::desc b_md({1, s.filters, 1, 1}, Dt::f32, Tag::abcd);
    dnnl::convolution_forward::primitive_desc pd;
    if (!usable(&pd, [&] {
          return dnnl::convolution_forward::primitive_desc(
              {dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, x_codes, w_any, y_md,
               {g.stride, g.stride}, {g.pad, g.pad}, {g.pad, g.pad}},
              attributes(s, b_md), eng);
        }))
      return nullptr;
    return assemble<dnnl::convolution_forward>(pd, s, x_codes, x_float, memory::desc(yd, Dt::f32, Tag::nchw), w_user, b_md);
  }

  // A reorder between float32 NCHW and int8 NHWC codes.
  std::unique_ptr<Op> reorder_op(int batch, int c, int h, int w, Int8Code code, bool quantize, int threads) {
    const Dims d{batch, c, h, w};
    const memory::desc f(d, Dt::f32, Tag::nchw), q(d, code_type(code), Tag::nhwc);
    auto op = std::make_unique<Op>();
    op->threads = threads;
    op->user_in = memory(quantize ? f : q, eng, DNNL_MEMORY_NONE);
    op->user_out = memory(quantize ? q : f, eng, DNNL_MEMORY_NONE);
    dnnl::primitive_attr a;
    a.set_output_scales(0, {quantize ? (code.scale > 0 ? 1.f / code.scale : 0.f) : code.scale});
    dnnl::reorder::primitive_desc pd(eng, op->user_in.get_desc(), eng, op->user_out.get_desc(), a);
    op->kernel = pd.impl_info_str();
    op->steps.push_back({dnnl::reorder(pd), {{DNNL_ARG_FROM, op->user_in}, {DNNL_ARG_TO, op->user_out}}});
    return op;
  }

  int keep(std::unique_ptr<Op> op) {
    arena.fit(op->bytes);
    ops.push_back(std::move(op));
    return int(ops.size()) - 1;
  }
};

OneDnnInt8::OneDnnInt8(Backend& memory) : impl_(dnnl_guarded([&] { return std::make_unique<Impl>(memory); })) {}
OneDnnInt8::~OneDnnInt8() = default;

int OneDnnInt8::add(const Int8ConvSpec& s) {
  const ConvGeometry& g = s.g;
  const int64_t weights = int64_t(s.filters) * g.channels * g.ksize * g.ksize;
  if (s.batch < 1 || s.groups < 1 || s.filters < 1 || s.filters % s.groups || int64_t(s.weights.size()) != weights ||
      int64_t(s.out_scale.size()) != s.filters || int64_t(s.bias.size()) != s.filters || !int8_activation(s.act) ||
      (s.sum_scale != 0 && s.out_float))
    fail(Status::InvalidArgument, "int8 convolution: inconsistent specification");
  return dnnl_guarded([&] {
    std::unique_ptr<Op> op = at_threads(s.threads, [&] { return impl_->build(s); });
    return op ? impl_->keep(std::move(op)) : -1;
  });
}

int OneDnnInt8::add_quantize(int batch, int channels, int height, int width, Int8Code code, int threads) {
  return dnnl_guarded([&] {  // created at the thread count it runs at, as the convolutions
    return impl_->keep(at_threads(threads, [&] { return impl_->reorder_op(batch, channels, height, width, code, true, threads); }));
  });
}

int OneDnnInt8::add_dequantize(int batch, int channels, int height, int width, Int8Code code, int threads) {
  return dnnl_guarded([&] {
    return impl_->keep(at_threads(threads, [&] { return impl_->reorder_op(batch, channels, height, width, code, false, threads); }));
  });
}

std::string OneDnnInt8::kernel(int op) const { return impl_->ops.at(size_t(op))->kernel; }

void OneDnnInt8::run(int id, const void* in, void* out) {
  Op& op = *impl_->ops.at(size_t(id));
  dnnl_guarded([&] {
    op.bind(impl_->arena.data());
    op.user_in.set_data_handle(const_cast<void*>(in));
    op.user_out.set_data_handle(out);
    return at_threads(op.threads, [&] {
      for (Step& s : op.steps) s.prim.execute(impl_->strm, s.args);
      impl_->strm.wait();
      return 0;
    });
  });
}

}  // namespace rpg
