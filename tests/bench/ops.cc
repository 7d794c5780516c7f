// oneDNN against the CPU backend's own loops, operation by operation (issue 16: "pooling, batch
// norm and eltwise on oneDNN wherever it is faster than the current loops: measure each"), on the
// shapes of fashion-resnet (batch 128) and ResNet-18 (224x224, batch 16):
//   - the connected layer's three matrix products: OpenBLAS (the reference engine's gemm) against
//     oneDNN's sgemm (the oneDNN engine's);
//   - batch norm in training, forward (statistics, normalisation, scale and shift, ReLU) and
//     backward: the backend's loops against oneDNN's batch_normalization primitives on the
//     backend's planar NCHW buffers, and on oneDNN's blocked layout (what keeping blocked
//     activations between layers would give);
//   - max pooling (ResNet-18's 3x3 / 2) and global average pooling;
//   - ReLU forward.
// Each pair runs alternately, `reps` times; the table has medians, the ratio (own / oneDNN: above
// 1, oneDNN is faster) and the largest difference of the results (a check that both compute the
// same thing).
//   usage: ops [--threads N] [--reps R]
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <dnnl.hpp>

#include "backend/buffer.h"
#include "backend/cpu_backend.h"
#include "bench_util.h"

namespace {

using bench::median;
using bench::now_ms;
using dnnl::memory;
using Tag = memory::format_tag;

std::vector<float> random_values(size_t n, unsigned seed) {
  std::vector<float> v(n);
  unsigned s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = float(s >> 8) / float(1u << 24) * 2.f - 1.f;
  }
  return v;
}

double max_diff(const float* a, const float* b, size_t n) {
  double d = 0;
  for (size_t i = 0; i < n; ++i) d = std::max(d, double(std::fabs(a[i] - b[i])));
  return d;
}

struct Row {
  std::string op, shape;
  double own = 0, dnn = 0, diff = 0;
};

// Runs own() and dnn() alternately, reps times after one warm-up each; medians.
Row race(const std::string& op, const std::string& shape, int reps, const std::function<void()>& own,
         const std::function<void()>& dnn) {
  std::vector<double> a, b;
  own();
  dnn();
  for (int r = 0; r < reps; ++r) {
    double t = now_ms();
    own();
    a.push_back(now_ms() - t);
    t = now_ms();
    dnn();
    b.push_back(now_ms() - t);
  }
  return {op, shape, median(a), median(b), 0};
}

std::string nchw(int n, int c, int h, int w) {
  return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

struct Ctx {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  int threads = 1, reps = 20;
  rpg::CpuBackend own;
  rpg::CpuBackend dnn_engine;
  Ctx(int t, int r) : threads(t), reps(r), own(t, rpg::CpuEngine::Reference), dnn_engine(t, rpg::CpuEngine::OneDnn) {}
};

// The connected layer: forward out = in W^T, weight gradient dW += delta^T in, data gradient
// din = delta W, for batch b, inputs i, outputs o.
void connected(Ctx& c, int b, int i, int o, std::vector<Row>& rows) {
  const std::string shape = std::to_string(b) + " x " + std::to_string(i) + " -> " + std::to_string(o);
  auto x = random_values(size_t(b) * i, 1), w = random_values(size_t(o) * i, 2), d = random_values(size_t(b) * o, 3);
  std::vector<float> y1(size_t(b) * o), y2(y1.size()), dw1(w.size()), dw2(w.size()), dx1(x.size()), dx2(x.size());
  struct Pass {
    const char* name;
    std::function<void(rpg::CpuBackend&, float*)> run;
    std::vector<float>*out1, *out2;
  };
  const Pass passes[] = {
      {"connected forward", [&](rpg::CpuBackend& be, float* y) { be.gemm(false, true, b, o, i, 1.f, x.data(), i, w.data(), i, 0.f, y, o); }, &y1, &y2},
      {"connected weight gradient", [&](rpg::CpuBackend& be, float* g) { be.gemm(true, false, o, i, b, 1.f, d.data(), o, x.data(), i, 0.f, g, i); }, &dw1, &dw2},
      {"connected data gradient", [&](rpg::CpuBackend& be, float* g) { be.gemm(false, false, b, i, o, 1.f, d.data(), o, w.data(), i, 0.f, g, i); }, &dx1, &dx2},
  };
  for (const Pass& p : passes) {
    Row r = race(p.name, shape, c.reps, [&] { p.run(c.own, p.out1->data()); }, [&] { p.run(c.dnn_engine, p.out2->data()); });
    r.diff = max_diff(p.out1->data(), p.out2->data(), p.out1->size());
    rows.push_back(r);
  }
}

// Batch norm in training with ReLU: forward and backward, the backend's loops against oneDNN on
// planar NCHW and on blocked memory.
void batchnorm(Ctx& c, int n, int ch, int h, int w, std::vector<Row>& rows) {
  const int64_t spatial = int64_t(h) * w, count = int64_t(n) * ch * spatial;
  const auto x0 = random_values(size_t(count), 4), dy0 = random_values(size_t(count), 5);
  std::vector<float> gamma(size_t(ch), 1.1f), beta(size_t(ch), 0.1f), mean(ch, 0.f), var(ch, 0.f);
  std::vector<float> x(x0), xhat(x0.size()), dy(dy0), ggrad(ch, 0.f), bgrad(ch, 0.f);
  std::vector<float> xin(x0.size()), dyin(dy0.size());  // x0 and dy0 in the layout measured
  const float eps = 1e-5f;
  rpg::CpuBackend& be = c.own;
  int layout = 0;  // the backend's loops in the same layout as oneDNN's primitive (the training plan's)
  auto own_fwd = [&] {
    std::copy(xin.begin(), xin.end(), x.begin());
    be.bn_stats(x.data(), n, ch, spatial, mean.data(), var.data(), layout);
    be.bn_apply(x.data(), mean.data(), var.data(), gamma.data(), beta.data(), n, ch, spatial, rpg::BnEpsilon(eps), xhat.data(),
                rpg::Act::Relu, layout);
  };
  auto own_bwd = [&] {
    std::copy(dyin.begin(), dyin.end(), dy.begin());
    be.activate_backward(rpg::Act::Relu, nullptr, x.data(), dy.data(), count);
    be.bn_backward(xhat.data(), gamma.data(), var.data(), n, ch, spatial, rpg::BnEpsilon(eps), true, dy.data(), ggrad.data(),
                   bgrad.data(), layout);
  };
  for (Tag tag : {Tag::nchw, Tag::nChw8c, Tag::nChw16c}) {
    layout = tag == Tag::nchw ? 0 : tag == Tag::nChw8c ? 8 : 16;
    const memory::desc md({n, ch, h, w}, memory::data_type::f32, tag), plain({n, ch, h, w}, memory::data_type::f32, Tag::nchw);
    const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift |
                       dnnl::normalization_flags::fuse_norm_relu;
    const dnnl::batch_normalization_forward::primitive_desc fpd(
        {dnnl::prop_kind::forward_training, md, eps, flags}, c.eng);
    const dnnl::batch_normalization_backward::primitive_desc bpd({dnnl::prop_kind::backward, md, md, eps, flags}, c.eng,
                                                                 fpd);
    memory src(md, c.eng), dst(md, c.eng), ddst(md, c.eng), dsrc(md, c.eng), ws(fpd.workspace_desc(), c.eng);
    const memory::desc cd({ch}, memory::data_type::f32, Tag::x);
    memory sc(cd, c.eng, gamma.data()), sh(cd, c.eng, beta.data()), mu(cd, c.eng), va(cd, c.eng), dsc(cd, c.eng),
        dsh(cd, c.eng);
    memory user_x(plain, c.eng, const_cast<float*>(x0.data())), user_dy(plain, c.eng, const_cast<float*>(dy0.data()));
    dnnl::reorder(user_x, src).execute(c.strm, user_x, src);
    dnnl::reorder(user_dy, ddst).execute(c.strm, user_dy, ddst);
    c.strm.wait();
    std::copy_n(static_cast<const float*>(src.get_data_handle()), xin.size(), xin.begin());
    std::copy_n(static_cast<const float*>(ddst.get_data_handle()), dyin.size(), dyin.begin());
    dnnl::batch_normalization_forward f(fpd);
    dnnl::batch_normalization_backward bw(bpd);
    auto dnn_fwd = [&] {
      f.execute(c.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCALE, sc}, {DNNL_ARG_SHIFT, sh},
                         {DNNL_ARG_MEAN, mu}, {DNNL_ARG_VARIANCE, va}, {DNNL_ARG_WORKSPACE, ws}});
      c.strm.wait();
    };
    auto dnn_bwd = [&] {
      bw.execute(c.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_SCALE, sc}, {DNNL_ARG_SHIFT, sh}, {DNNL_ARG_MEAN, mu},
                          {DNNL_ARG_VARIANCE, va}, {DNNL_ARG_WORKSPACE, ws}, {DNNL_ARG_DIFF_SRC, dsrc},
                          {DNNL_ARG_DIFF_SCALE, dsc}, {DNNL_ARG_DIFF_SHIFT, dsh}});
      c.strm.wait();
    };
    const std::string shape =
        nchw(n, ch, h, w) + (tag == Tag::nchw ? " nchw" : tag == Tag::nChw8c ? " nChw8c" : " nChw16c");
    // Both sides in the same layout: compared element by element as they are.
    Row r = race("batch norm + ReLU forward", shape, c.reps, own_fwd, dnn_fwd);
    r.diff = max_diff(x.data(), static_cast<const float*>(dst.get_data_handle()), x.size());
    rows.push_back(r);
    r = race("batch norm + ReLU backward", shape, c.reps, own_bwd, dnn_bwd);
    r.diff = max_diff(dy.data(), static_cast<const float*>(dsrc.get_data_handle()), dy.size());
    rows.push_back(r);
  }
}

// Max pooling (Darknet's size 3, stride 2, padding 2: windows from -1) and global average pooling.
void pooling(Ctx& c, int n, int ch, int h, int w, std::vector<Row>& rows) {
  const int64_t count = int64_t(n) * ch * h * w;
  const auto x = random_values(size_t(count), 6);
  const int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
  std::vector<float> y1(size_t(n) * ch * oh * ow), y2(y1.size());
  std::vector<int32_t> idx(y1.size());
  const rpg::PoolGeometry g{n, ch, h, w, 3, 2, 2, oh, ow};
  const memory::desc src({n, ch, h, w}, memory::data_type::f32, Tag::nchw), dst({n, ch, oh, ow}, memory::data_type::f32, Tag::nchw);
  const memory::dims pad_r{(oh - 1) * 2 + 3 - h - 1, (ow - 1) * 2 + 3 - w - 1};
  const dnnl::pooling_forward::primitive_desc pd(
      {dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, src, dst, {2, 2}, {3, 3}, {1, 1}, pad_r}, c.eng);
  dnnl::pooling_forward p(pd);
  memory ms(src, c.eng, const_cast<float*>(x.data())), md(dst, c.eng, y2.data());
  Row r = race("max pool 3x3 / 2", nchw(n, ch, h, w), c.reps, [&] { c.own.maxpool_forward(g, x.data(), y1.data(), idx.data()); },
               [&] {
                 p.execute(c.strm, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_DST, md}});
                 c.strm.wait();
               });
  r.diff = max_diff(y1.data(), y2.data(), y1.size());
  rows.push_back(r);

  std::vector<float> a1(size_t(n) * ch), a2(a1.size());
  const memory::desc adst({n, ch, 1, 1}, memory::data_type::f32, Tag::nchw);
  const dnnl::pooling_forward::primitive_desc apd({dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_avg_include_padding,
                                                   src, adst, {1, 1}, {h, w}, {0, 0}, {0, 0}},
                                                  c.eng);
  dnnl::pooling_forward ap(apd);
  memory amd(adst, c.eng, a2.data());
  r = race("global average pool", nchw(n, ch, h, w), c.reps, [&] { c.own.avgpool_forward(n, ch, int64_t(h) * w, x.data(), a1.data()); },
           [&] {
             ap.execute(c.strm, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_DST, amd}});
             c.strm.wait();
           });
  r.diff = max_diff(a1.data(), a2.data(), a1.size());
  rows.push_back(r);
}

void relu(Ctx& c, int n, int ch, int h, int w, std::vector<Row>& rows) {
  const int64_t count = int64_t(n) * ch * h * w;
  const auto x = random_values(size_t(count), 7);
  std::vector<float> y1(x.size()), y2(x.size());
  const memory::desc md({n, ch, h, w}, memory::data_type::f32, Tag::nchw);
  const dnnl::eltwise_forward::primitive_desc pd({dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_relu, md, 0.f, 0.f},
                                                 c.eng);
  dnnl::eltwise_forward e(pd);
  memory ms(md, c.eng, const_cast<float*>(x.data())), mdst(md, c.eng, y2.data());
  Row r = race("ReLU forward", nchw(n, ch, h, w), c.reps, [&] { c.own.activate(rpg::Act::Relu, x.data(), y1.data(), count); },
               [&] {
                 e.execute(c.strm, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_DST, mdst}});
                 c.strm.wait();
               });
  r.diff = max_diff(y1.data(), y2.data(), y1.size());
  rows.push_back(r);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, reps = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: ops [--threads N] [--reps R]\n");
      return 2;
    }
  }
  if (threads < 1 || reps < 1) {
    std::fprintf(stderr, "ops: --threads and --reps must be at least 1\n");
    return 2;
  }
  omp_set_num_threads(threads);
  Ctx c(threads, reps);
  std::vector<Row> rows;
  connected(c, 128, 64, 10, rows);     // fashion-resnet's classifier
  connected(c, 16, 512, 1000, rows);   // ResNet-18's
  batchnorm(c, 128, 32, 28, 28, rows);  // fashion-resnet's first stage
  batchnorm(c, 128, 64, 14, 14, rows);
  batchnorm(c, 16, 64, 56, 56, rows);   // ResNet-18's first stage
  pooling(c, 16, 64, 112, 112, rows);   // ResNet-18's max pool (and a global average over the same)
  pooling(c, 128, 64, 7, 7, rows);      // fashion-resnet's global average pool
  relu(c, 128, 32, 28, 28, rows);
  std::printf("| operation | shape | own ms | oneDNN ms | own / oneDNN | max difference |\n|---|---|---|---|---|---|\n");
  for (const Row& r : rows)
    std::printf("| %s | %s | %.3f | %.3f | %.2f | %.2g |\n", r.op.c_str(), r.shape.c_str(), r.own, r.dnn, r.own / r.dnn, r.diff);
  return 0;
}
