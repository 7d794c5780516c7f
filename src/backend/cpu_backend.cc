// CPU backend: the reference implementation of every Backend operation.
#include "backend/cpu_backend.h"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

#include "backend/onednn_conv.h"
#include "backend/winograd.h"
#include "base/error.h"
#include "base/ring_code.h"

namespace rpg {

// Parallel loops only where there is enough work to pay for waking threads.
#define RPG_PRAGMA(x) _Pragma(#x)
#define RPG_PARALLEL_FOR_ON(threads, work) RPG_PRAGMA(omp parallel for num_threads(threads) if ((work) > 32768))
#define RPG_PARALLEL_FOR(work) RPG_PARALLEL_FOR_ON(threads_, work)

CpuBackend::CpuBackend(int threads, CpuEngine engine)
    : threads_(threads < 1 ? 1 : threads),
      dnn_(engine == CpuEngine::OneDnn ? std::make_unique<OneDnnConvolutions>(*this) : nullptr) {}
CpuBackend::~CpuBackend() {
  dnn_.reset();  // its arena goes back through release() while this object is whole
  release(scratch_);
}

std::string CpuBackend::conv_kernels(const ConvGeometry& g, int batch, int groups, int filters) {
  return dnn_ ? dnn_->kernels(g, batch, groups, filters, threads_) : "reference";
}
void CpuBackend::conv_inference(const ConvGeometry& g, int batch, int groups, int filters, const float* in,
                                const float* weights, const float* biases, const BnInference* bn, Act act,
                                float* out, uint64_t params_version, int in_layout, int out_layout,
                                const Act* sum) {
  if (dnn_ && dnn_->inference(g, batch, groups, filters, threads_, in, weights, biases, bn, act, out, params_version,
                              in_layout, out_layout, sum))
    return;
  Backend::conv_inference(g, batch, groups, filters, in, weights, biases, bn, act, out, params_version, in_layout,
                          out_layout, sum);
}
bool CpuBackend::conv_inference_sums(const ConvGeometry& g, int batch, int groups, int filters, Act act, Act sum_act,
                                     int in_layout, int out_layout) {
  return dnn_ && dnn_->prepare_inference_sum(g, batch, groups, filters, act, sum_act, threads_, in_layout, out_layout);
}
void CpuBackend::conv_prepare_inference(const ConvGeometry& g, int batch, int groups, int filters, Act act,
                                        int in_layout, int out_layout) {
  if (dnn_) dnn_->prepare_inference(g, batch, groups, filters, act, threads_, in_layout, out_layout);
}
int CpuBackend::conv_inference_layout(const ConvGeometry& g, int batch, int groups, int filters, Act act) {
  return dnn_ ? dnn_->inference_layout(g, batch, groups, filters, act, threads_) : -1;
}
std::vector<int64_t> CpuBackend::conv_weight_order(const ConvGeometry& g, int batch, int groups, int filters,
                                                   int in_layout, int out_layout) {
  return dnn_ ? dnn_->weight_order(g, batch, groups, filters, threads_, in_layout, out_layout) : std::vector<int64_t>{};
}
int CpuBackend::conv_training_layout(const ConvGeometry& g, int batch, int groups, int filters) {
  return dnn_ ? dnn_->training_layout(g, batch, groups, filters, threads_) : -1;
}
void CpuBackend::conv_prepare_training(const ConvGeometry& g, int batch, int groups, int filters, int in_layout,
                                       int out_layout) {
  if (dnn_) dnn_->prepare_training(g, batch, groups, filters, threads_, in_layout, out_layout);
}
void CpuBackend::conv_prepare(const ConvGeometry& g, int batch, int groups, int filters, Act act) {
  if (dnn_) dnn_->prepare(g, batch, groups, filters, act, threads_);
}
int64_t CpuBackend::conv_workspace_bytes(const ConvGeometry& g, int batch, int groups, int filters, Act act) {
  if (dnn_) {
    if (const int64_t bytes = dnn_->workspace_bytes(g, batch, groups, filters, act, threads_)) return bytes;
  }
  return Backend::conv_workspace_bytes(g, batch, groups, filters, act);
}

float* CpuBackend::scratch(int64_t floats) {
  if (floats > scratch_floats_) {
    release(scratch_);
    scratch_ = nullptr;
    scratch_ = static_cast<float*>(alloc(size_t(floats) * sizeof(float)));
    scratch_floats_ = floats;
  }
  return scratch_;
}

void CpuBackend::set_threads(int n) {
  if (n < 1) fail(Status::InvalidArgument, "thread count must be at least 1, got " + std::to_string(n));
  threads_ = n;
}

void* CpuBackend::alloc(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) fail(Status::OutOfMemory, "out of memory allocating " + std::to_string(bytes) + " bytes");
  std::memset(p, 0, rounded);
  return p;
}
void CpuBackend::release(void* p) noexcept { std::free(p); }

int64_t CpuBackend::memory_available() {
  // The kernel's estimate of what can be allocated without swapping; else the free pages.
  if (FILE* f = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    long long kb = -1;
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "MemAvailable: %lld kB", &kb) == 1) break;
    std::fclose(f);
    if (kb >= 0) return int64_t(kb) * 1024;
  }
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? int64_t(pages) * page : -1;
}
void CpuBackend::upload(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::download(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }

void CpuBackend::fill(float* x, int64_t n, float v) {
  RPG_PARALLEL_FOR(n)
  for (int64_t i = 0; i < n; ++i) x[i] = v;
}
void CpuBackend::copy(float* dst, const float* src, int64_t n) {
  if (dst != src && n > 0) std::memcpy(dst, src, size_t(n) * sizeof(float));
}
void CpuBackend::axpy(int64_t n, float a, const float* x, float* y) {
  RPG_PARALLEL_FOR(n)
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
void CpuBackend::scale(int64_t n, float a, float* x) {
  RPG_PARALLEL_FOR(n)
  for (int64_t i = 0; i < n; ++i) x[i] *= a;
}
double CpuBackend::sum(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}
void CpuBackend::copy_rows(int64_t rows, int64_t cols, const float* src, int64_t src_stride,
                           float* dst, int64_t dst_stride, bool accumulate) {
  RPG_PARALLEL_FOR(rows * cols)
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * src_stride;
    float* d = dst + r * dst_stride;
    if (accumulate)
      for (int64_t i = 0; i < cols; ++i) d[i] += s[i];
    else
      std::memcpy(d, s, size_t(cols) * sizeof(float));
  }
}

void CpuBackend::gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                      const float* b, int ldb, float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // BLAS leaves C untouched only when beta == 1
    if (beta != 1.f)
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) c[int64_t(i) * ldc + j] *= beta;
    return;
  }
  if (dnn_) {  // the oneDNN engine: its sgemm (tests/bench/ops.cc measures it against the loop below)
    onednn_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads_);
    return;
  }
  // OpenBLAS runs single-threaded in the calling thread; this backend splits C into one block
  // per thread itself (see cpu_backend.h).
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  const auto ca = ta ? CblasTrans : CblasNoTrans, cb = tb ? CblasTrans : CblasNoTrans;
  const double work = double(m) * n * k;
  if (work <= 262144.0) {
    cblas_sgemm(CblasRowMajor, ca, cb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // The blocks depend on the shape only, never on the thread count: OpenBLAS rounds an element
  // of C differently for different block sizes (its edge tiles), so a split into one block per
  // thread would make results depend on the thread count. At most kGemmBlocks blocks, 16-aligned.
  constexpr int kGemmBlocks = 16;
  const bool split_n = n >= m;
  const int extent = split_n ? n : m;
  const int chunk = ((extent + kGemmBlocks - 1) / kGemmBlocks + 15) / 16 * 16;
  const int parts = (extent + chunk - 1) / chunk;
#pragma omp parallel for num_threads(std::min(threads_, parts)) schedule(static)
  for (int p = 0; p < parts; ++p) {
    const int lo = p * chunk, hi = std::min(extent, lo + chunk);
    if (lo >= hi) continue;
    if (split_n) {  // columns lo..hi of op(B) and C
      const float* bp = tb ? b + int64_t(lo) * ldb : b + lo;
      cblas_sgemm(CblasRowMajor, ca, cb, m, hi - lo, k, alpha, a, lda, bp, ldb, beta, c + lo, ldc);
    } else {  // rows lo..hi of op(A) and C
      const float* ap = ta ? a + lo : a + int64_t(lo) * lda;
      cblas_sgemm(CblasRowMajor, ca, cb, hi - lo, n, k, alpha, ap, lda, b, ldb, beta,
                  c + int64_t(lo) * ldc, ldc);
    }
  }
}

namespace {

// im2col of rows [r0, r1) of col (serial).
void im2col_rows(const ConvGeometry& g, const float* im, float* col, int r0, int r1) {
  const int k = g.ksize;
  const int64_t out_size = int64_t(g.out_h) * g.out_w;
  for (int r = r0; r < r1; ++r) {
    const int kw = r % k, kh = (r / k) % k, c = r / k / k;
    const float* plane = im + int64_t(c) * g.height * g.width;
    float* dst = col + int64_t(r) * out_size;
    for (int y = 0; y < g.out_h; ++y) {
      const int iy = kh + y * g.stride - g.pad;
      float* row = dst + int64_t(y) * g.out_w;
      if (iy < 0 || iy >= g.height) {
        std::memset(row, 0, sizeof(float) * size_t(g.out_w));
        continue;
      }
      const float* src = plane + int64_t(iy) * g.width;
      if (g.stride == 1) {  // contiguous interior, zero borders
        const int x0 = std::max(0, g.pad - kw), x1 = std::min(g.out_w, g.width + g.pad - kw);
        for (int x = 0; x < x0 && x < g.out_w; ++x) row[x] = 0.f;
        if (x1 > x0) std::memcpy(row + x0, src + x0 + kw - g.pad, sizeof(float) * size_t(x1 - x0));
        for (int x = std::max(x1, 0); x < g.out_w; ++x) row[x] = 0.f;
        continue;
      }
      for (int x = 0; x < g.out_w; ++x) {
        const int ix = kw + x * g.stride - g.pad;
        row[x] = (ix >= 0 && ix < g.width) ? src[ix] : 0.f;
      }
    }
  }
}

// col2im of input channels [c0, c1) (serial, accumulating).
void col2im_channels(const ConvGeometry& g, const float* col, float* im, int c0, int c1) {
  const int k = g.ksize;
  const int64_t out_size = int64_t(g.out_h) * g.out_w;
  for (int c = c0; c < c1; ++c) {
    float* plane = im + int64_t(c) * g.height * g.width;
    for (int kh = 0; kh < k; ++kh)
      for (int kw = 0; kw < k; ++kw) {
        const float* src = col + (int64_t(c) * k * k + kh * k + kw) * out_size;
        for (int y = 0; y < g.out_h; ++y) {
          const int iy = kh + y * g.stride - g.pad;
          if (iy < 0 || iy >= g.height) continue;
          float* row = plane + int64_t(iy) * g.width;
          const float* sp = src + int64_t(y) * g.out_w;
          if (g.stride == 1) {  // contiguous: row[x + kw - pad] += sp[x] over the valid x
            const int x0 = std::max(0, g.pad - kw), x1 = std::min(g.out_w, g.width + g.pad - kw);
            float* r = row + kw - g.pad;
            for (int x = x0; x < x1; ++x) r[x] += sp[x];
            continue;
          }
          for (int x = 0; x < g.out_w; ++x) {
            const int ix = kw + x * g.stride - g.pad;
            if (ix >= 0 && ix < g.width) row[ix] += sp[x];
          }
        }
      }
  }
}

void sgemm1(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

constexpr int kImagesPerPartial = 8;  // weight-gradient partial sums: fixed image chunks

}  // namespace

void CpuBackend::im2col(const ConvGeometry& g, const float* im, float* col) {
  const int rows = g.channels * g.ksize * g.ksize;
  RPG_PARALLEL_FOR(int64_t(rows) * g.out_h * g.out_w)
  for (int r = 0; r < rows; ++r) im2col_rows(g, im, col, r, r + 1);
}

void CpuBackend::col2im(const ConvGeometry& g, const float* col, float* im) {
  RPG_PARALLEL_FOR(int64_t(g.channels) * g.ksize * g.ksize * g.out_h * g.out_w)
  for (int c = 0; c < g.channels; ++c) col2im_channels(g, col, im, c, c + 1);
}

// 3x3 stride-1 convolutions through Winograd F(2x2, 3x3) (backend/winograd.h): chunks of
// images in parallel on the threads. `data_grad`: in is the layer's delta, out its input delta
// (accumulated), g the forward geometry; the filters are rotated for it.
void CpuBackend::winograd_conv(const ConvGeometry& fwd, int batch, int filters, const float* in,
                               const float* weights, float* out, bool data_grad, bool accumulate) {
  ConvGeometry g = fwd;
  int out_filters = filters;
  if (data_grad) {  // a 3x3 convolution of the delta, padded by 2 - pad, back to the input's size
    g.channels = filters;
    g.height = fwd.out_h;
    g.width = fwd.out_w;
    g.pad = 2 - fwd.pad;
    g.out_h = fwd.height;
    g.out_w = fwd.width;
    out_filters = fwd.channels;
  }
  // Jobs: chunks of images; a batch that fills only one chunk (batch 1, for latency) is split
  // into two ranges of tile rows so that two threads can share it. The split depends on the
  // batch, never on the thread count: a GEMM's results depend on its width.
  const int per = winograd::images_per_chunk(g);
  const int chunks = (batch + per - 1) / per;
  const int splits = chunks == 1 ? std::min(2, winograd::tile_rows(g)) : 1;
  const int jobs = chunks * splits;
  const int parts = std::max(1, std::min(threads_, jobs));
  const int64_t u_floats = 16 * int64_t(out_filters) * g.channels;
  const int64_t rot_floats = data_grad ? int64_t(filters) * fwd.channels * 9 : 0;
  const int64_t work = winograd::workspace_floats(g, per, out_filters);
  float* u = scratch(u_floats + rot_floats + parts * work);
  if (data_grad) {
    float* rotated = u + u_floats;
    winograd::rotate_filters(weights, filters, fwd.channels, rotated);
    winograd::transform_filters(rotated, out_filters, g.channels, u);
  } else {
    winograd::transform_filters(weights, out_filters, g.channels, u);
  }
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  const int64_t in_image = int64_t(g.channels) * g.height * g.width;
  const int64_t out_image = int64_t(out_filters) * g.out_h * g.out_w;
  const int rows = winograd::tile_rows(g);
  float* works = u + u_floats + rot_floats;
#pragma omp parallel for num_threads(parts) schedule(static)
  for (int j = 0; j < jobs; ++j) {
    const int c = j / splits, part = j % splits;
    const int b0 = c * per, images = std::min(per, batch - b0);
    winograd::forward_chunk(g, images, part * rows / splits, (part + 1) * rows / splits, out_filters,
                            in + b0 * in_image, u, out + b0 * out_image,
                            works + int64_t(omp_get_thread_num()) * work, accumulate);
  }
}

// Parallel over images (and groups): each thread runs im2col into its own scratch and a
// single-threaded sgemm, so the column matrix stays in that core's cache. With fewer
// images than threads, the per-image operations are parallel instead.
void CpuBackend::conv_forward(const ConvGeometry& g, int batch, int groups, int filters,
                              const float* in, const float* weights, float* out, int in_layout, int out_layout,
                              bool kernel_weights) {
  if (dnn_ && dnn_->forward(g, batch, groups, filters, threads_, in, weights, out, in_layout, out_layout,
                            kernel_weights))
    return;
  planar_only(in_layout | out_layout | int(kernel_weights), "conv_forward without oneDNN");
  if (winograd::applies(g, groups, filters)) {
    winograd_conv(g, batch, filters, in, weights, out, false, false);
    return;
  }
  const bool direct = g.ksize == 1 && g.stride == 1 && g.pad == 0;
  const int m = filters / groups;
  const int64_t k = int64_t(g.channels) * g.ksize * g.ksize, n = int64_t(g.out_h) * g.out_w;
  const int64_t in_image = int64_t(g.channels) * groups * g.height * g.width;
  const int64_t jobs = int64_t(batch) * groups;
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  const int parts = int(std::min<int64_t>(threads_, jobs));
  if (parts <= 1 && threads_ > 1) {  // batch 1: parallel inside each image
    float* col = direct ? nullptr : scratch(k * n);
    for (int64_t j = 0; j < jobs; ++j) {
      const int64_t b = j / groups, gi = j % groups;
      const float* im = in + b * in_image + gi * int64_t(g.channels) * g.height * g.width;
      if (!direct) im2col(g, im, col);
      // out[M=filters/groups, N=out_h*out_w] = W_g[M, K=c/groups*k*k] x col[K, N]
      gemm(false, false, m, int(n), int(k), 1.f, weights + gi * m * k, int(k), direct ? im : col,
           int(n), 0.f, out + (b * filters + gi * m) * n, int(n));
    }
    return;
  }
  float* cols = direct ? nullptr : scratch(int64_t(parts) * k * n);
#pragma omp parallel num_threads(parts)
  {
    float* col = direct ? nullptr : cols + int64_t(omp_get_thread_num()) * k * n;
#pragma omp for schedule(static)
    for (int64_t j = 0; j < jobs; ++j) {
      const int64_t b = j / groups, gi = j % groups;
      const float* im = in + b * in_image + gi * int64_t(g.channels) * g.height * g.width;
      if (!direct) im2col_rows(g, im, col, 0, int(k));
      sgemm1(false, false, m, int(n), int(k), 1.f, weights + gi * m * k, int(k),
             direct ? im : col, int(n), 0.f, out + (b * filters + gi * m) * n, int(n));
    }
  }
}

void CpuBackend::conv_backward(const ConvGeometry& g, int batch, int groups, int filters,
                               const float* in, const float* weights, const float* delta,
                               float* weight_grads, float* in_delta, int in_layout, int out_layout,
                               bool add_in_delta, bool kernel_weights) {
  if (dnn_ && dnn_->backward(g, batch, groups, filters, threads_, in, weights, delta, weight_grads, in_delta,
                             in_layout, out_layout, add_in_delta, kernel_weights))
    return;
  planar_only(in_layout | out_layout | int(kernel_weights), "conv_backward without oneDNN");
  // The loops below accumulate: a written input delta starts from zeros.
  if (in_delta && !add_in_delta) fill(in_delta, int64_t(batch) * g.channels * groups * g.height * g.width, 0.f);
  if (winograd::applies(g, groups, filters)) {
    winograd_backward(g, batch, filters, in, weights, delta, weight_grads, in_delta);
    return;
  }
  const bool direct = g.ksize == 1 && g.stride == 1 && g.pad == 0;
  const int m = filters / groups;
  const int64_t k = int64_t(g.channels) * g.ksize * g.ksize, n = int64_t(g.out_h) * g.out_w;
  const int64_t plane = int64_t(g.channels) * g.height * g.width, in_image = plane * groups;
  const int64_t wsize = int64_t(filters) * k;
  const int chunks = (batch + kImagesPerPartial - 1) / kImagesPerPartial;
  const int parts = std::max(1, std::min(threads_, chunks));
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  // Scratch: one partial weight gradient per image chunk, then col and dcol per thread.
  const int64_t per_thread = direct ? 0 : 2 * k * n;
  float* partials = scratch(chunks * wsize + parts * per_thread);
  float* thread_cols = partials + chunks * wsize;
#pragma omp parallel num_threads(parts)
  {
    float* col = thread_cols + int64_t(omp_get_thread_num()) * per_thread;
    float* dcol = col + k * n;
#pragma omp for schedule(static)
    for (int c = 0; c < chunks; ++c) {
      float* part = partials + c * wsize;
      const int b_end = std::min(batch, (c + 1) * kImagesPerPartial);
      for (int b = c * kImagesPerPartial; b < b_end; ++b)
        for (int gi = 0; gi < groups; ++gi) {
          const float* im = in + b * in_image + gi * plane;
          const float* d = delta + (int64_t(b) * filters + int64_t(gi) * m) * n;
          const float* x = im;
          if (!direct) {
            im2col_rows(g, im, col, 0, int(k));
            x = col;
          }
          // dW_g[M, K] (+)= d[M, N] x col[K, N]^T
          sgemm1(false, true, m, int(k), int(n), 1.f, d, int(n), x, int(n),
                 b == c * kImagesPerPartial ? 0.f : 1.f, part + gi * m * k, int(k));
          if (!in_delta) continue;
          float* di = in_delta + b * in_image + gi * plane;
          if (direct) {  // dx[K, N] += W_g[M, K]^T x d[M, N]
            sgemm1(true, false, int(k), int(n), m, 1.f, weights + gi * m * k, int(k), d, int(n),
                   1.f, di, int(n));
          } else {  // dcol = W_g^T d, scattered back onto the image
            sgemm1(true, false, int(k), int(n), m, 1.f, weights + gi * m * k, int(k), d, int(n),
                   0.f, dcol, int(n));
            col2im_channels(g, dcol, di, 0, g.channels);
          }
        }
    }
  }
  // Sum the partials in chunk order: the same result for any thread count.
  RPG_PARALLEL_FOR(chunks * wsize)
  for (int64_t i = 0; i < wsize; ++i) {
    float s = 0.f;
    for (int c = 0; c < chunks; ++c) s += partials[c * wsize + i];
    weight_grads[i] += s;
  }
}

// Winograd backward: the weight gradient from min(8, chunks) groups of consecutive chunks, as
// even as the division allows (partial sums added in group order: the same bits for any thread
// count), then the input delta.
void CpuBackend::winograd_backward(const ConvGeometry& g, int batch, int filters, const float* in,
                                   const float* weights, const float* delta, float* weight_grads,
                                   float* in_delta) {
  const int per = winograd::images_per_chunk(g);
  const int chunks = (batch + per - 1) / per;
  const int groups = std::min(8, chunks);
  const int parts = std::max(1, std::min(threads_, groups));
  const int64_t du_floats = 16 * int64_t(filters) * g.channels;
  const int64_t work = winograd::weight_workspace_floats(g, per, filters);
  float* partials = scratch(groups * du_floats + parts * work);
  float* works = partials + groups * du_floats;
  const int64_t in_image = int64_t(g.channels) * g.height * g.width;
  const int64_t out_image = int64_t(filters) * g.out_h * g.out_w;
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
#pragma omp parallel for num_threads(parts) schedule(static)
  for (int gi = 0; gi < groups; ++gi) {
    float* du = partials + gi * du_floats;
    std::fill(du, du + du_floats, 0.f);
    float* w = works + int64_t(omp_get_thread_num()) * work;
    for (int c = gi * chunks / groups; c < (gi + 1) * chunks / groups; ++c) {
      const int b0 = c * per, images = std::min(per, batch - b0);
      winograd::weight_grad_chunk(g, images, filters, in + b0 * in_image, delta + b0 * out_image, du, w);
    }
  }
  for (int gi = 1; gi < groups; ++gi) axpy(du_floats, 1.f, partials + gi * du_floats, partials);
  winograd::weight_grad_finish(partials, filters, g.channels, weight_grads);
  if (in_delta) winograd_conv(g, batch, filters, delta, weights, in_delta, true, true);
}

namespace {

// Per-channel sums in double, kept in kLanes independent partial sums (element i of a row goes to
// lane i mod kLanes) that are added in a fixed order at the end: the loops vectorise (one double
// sum is a chain of dependent additions, 4 cycles each), and the order depends on the shape only,
// so the results are the same whatever the thread count.
constexpr int kLanes = 8;
struct Lanes {
  double v[kLanes] = {};
  double total() const {
    double t = 0;
    for (double x : v) t += x;
    return t;
  }
  // f(i): the double added for element i of a row of n.
  template <class F>
  void add(int64_t n, F f) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
      for (int l = 0; l < kLanes; ++l) v[l] += f(i + l);
    for (int l = 0; i < n; ++i, ++l) v[l] += f(i);
  }
};

constexpr int kRun = 16;

// Calls f with a run's width: a compile-time constant for the usual 16 and 8 (the loops over a
// run's channels then unroll and vectorise), else an int.
template <typename F>
void with_width(int w, F&& f) {
  if (w == kRun)
    f(std::integral_constant<int, kRun>());
  else if (w == 8)
    f(std::integral_constant<int, 8>());
  else
    f(w);
}

// A (batch, channels, spatial) tensor in a channel-blocked layout (Backend's codes 1, 8 and 16):
// `block` channels per block (NHWC: one block of them all), element (b, c, i) at
// ((b * blocks + c / block) * spatial + i) * block + c % block. The per-channel loops run over
// runs of up to kRun channels of one block: a run's channels are consecutive at every position,
// so the loops vectorise across channels, and each channel's sums run over (b, i) in order (the
// same bits whatever the thread count).
struct Blocked {
  int64_t batch, block, blocks, spatial, runs_per_block;
  int threads;
  Blocked(int layout, int batch_, int channels, int64_t spatial_, int threads_, const char* op)
      : batch(batch_), spatial(spatial_), threads(threads_) {
    block = layout == 1 ? channels : layout;
    if ((layout != 1 && layout != 8 && layout != 16) || channels % block)
      fail(Status::Internal, std::string(op) + ": layout " + std::to_string(layout) + " of " +
                                 std::to_string(channels) + " channels");
    blocks = channels / block;
    runs_per_block = (block + kRun - 1) / kRun;
  }
  int64_t runs() const { return blocks * runs_per_block; }
  // Run r: its first channel and its width.
  int first(int64_t r) const { return int(r / runs_per_block * block + r % runs_per_block * kRun); }
  int width(int64_t r) const { return int(std::min<int64_t>(kRun, block - r % runs_per_block * kRun)); }
  // Element (b, c, 0) of a run's first channel c; position i is at + i * block.
  int64_t at(int64_t b, int c) const { return (b * blocks + c / block) * spatial * block + c % block; }
  int64_t elements() const { return batch * blocks * block * spatial; }
  // f(c0, w) for every run (first channel c0, width w as with_width gives it), in parallel: for
  // per-channel sums over every image and position.
  template <typename F>
  void each_run(F&& f) const {
    RPG_PARALLEL_FOR_ON(threads, elements())
    for (int64_t r = 0; r < runs(); ++r) with_width(width(r), [&](auto w) { f(first(r), w); });
  }
  // f(b, c0, w) for every image b and run, in parallel: for passes element by element.
  template <typename F>
  void each_image_run(F&& f) const {
    RPG_PARALLEL_FOR_ON(threads, elements())
    for (int64_t br = 0; br < batch * runs(); ++br) {
      const int64_t b = br / runs(), r = br % runs();
      with_width(width(r), [&](auto w) { f(b, first(r), w); });
    }
  }
};

}  // namespace

void CpuBackend::add_bias(float* out, const float* bias, int batch, int channels, int64_t spatial, int layout) {
  if (layout) {
    const Blocked t(layout, batch, channels, spatial, threads_, "add_bias");
    t.each_image_run([&](int64_t b, int c0, auto w) {
      float* o = out + t.at(b, c0);
      for (int64_t i = 0; i < spatial; ++i, o += t.block)
        for (int l = 0; l < w; ++l) o[l] += bias[c0 + l];
    });
    return;
  }
  RPG_PARALLEL_FOR(int64_t(batch) * channels * spatial)
  for (int64_t bc = 0; bc < int64_t(batch) * channels; ++bc) {
    const float v = bias[bc % channels];
    float* o = out + bc * spatial;
    for (int64_t s = 0; s < spatial; ++s) o[s] += v;
  }
}


void CpuBackend::bias_grad(const float* delta, int batch, int channels, int64_t spatial,
                           float* grad, int layout) {
  if (layout) {
    const Blocked t(layout, batch, channels, spatial, threads_, "bias_grad");
    t.each_run([&](int c0, auto w) {
      double sum[kRun] = {};
      for (int b = 0; b < batch; ++b) {
        const float* d = delta + t.at(b, c0);
        for (int64_t i = 0; i < spatial; ++i, d += t.block)
          for (int l = 0; l < w; ++l) sum[l] += d[l];
      }
      for (int l = 0; l < w; ++l) grad[c0 + l] += float(sum[l]);
    });
    return;
  }
  RPG_PARALLEL_FOR(int64_t(batch) * channels * spatial)
  for (int c = 0; c < channels; ++c) {
    Lanes s;
    for (int b = 0; b < batch; ++b) {
      const float* d = delta + (int64_t(b) * channels + c) * spatial;
      s.add(spatial, [d](int64_t i) { return double(d[i]); });
    }
    grad[c] += float(s.total());
  }
}

namespace {

// Calls f with the activation as a compile-time constant, so each loop is specialised (and
// vectorised) for one activation instead of switching per element.
template <typename F>
void with_act(Act a, F&& f) {
  switch (a) {
#define RPG_ACT_CASE(name) \
  case Act::name: f(std::integral_constant<Act, Act::name>()); break;
    RPG_ACT_CASE(Linear) RPG_ACT_CASE(Relu) RPG_ACT_CASE(Leaky) RPG_ACT_CASE(Logistic)
    RPG_ACT_CASE(Tanh) RPG_ACT_CASE(Elu) RPG_ACT_CASE(Relie) RPG_ACT_CASE(Ramp)
    RPG_ACT_CASE(Plse) RPG_ACT_CASE(Lhtan) RPG_ACT_CASE(Stair) RPG_ACT_CASE(Hardtan)
    RPG_ACT_CASE(Loggy) RPG_ACT_CASE(Selu) RPG_ACT_CASE(Swish) RPG_ACT_CASE(Mish)
#undef RPG_ACT_CASE
  }
}

}  // namespace

void CpuBackend::activate(Act a, const float* x, float* y, int64_t n) {
  if (a == Act::Linear) {
    copy(y, x, n);
    return;
  }
  with_act(a, [&](auto act) {
    RPG_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) y[i] = act_apply(act, x[i]);
  });
}

void CpuBackend::activate_backward(Act a, const float* x, const float* y, float* delta, int64_t n) {
  if (a == Act::Linear) return;
  with_act(a, [&](auto act) {
    if (x) {
      RPG_PARALLEL_FOR(n)
      for (int64_t i = 0; i < n; ++i) delta[i] *= act_gradient(act, x[i], y[i]);
    } else {
      RPG_PARALLEL_FOR(n)
      for (int64_t i = 0; i < n; ++i) delta[i] *= act_gradient(act, 0.f, y[i]);
    }
  });
}

void CpuBackend::bn_stats(const float* x, int batch, int channels, int64_t spatial, float* mean,
                          float* var, int layout) {
  const double m = double(batch) * double(spatial);
  if (layout) {
    const Blocked t(layout, batch, channels, spatial, threads_, "bn_stats");
    t.each_run([&](int c0, auto w) {
      double sum[kRun] = {}, sum2[kRun] = {}, mu[kRun];
      for (int b = 0; b < batch; ++b) {
        const float* p = x + t.at(b, c0);
        for (int64_t i = 0; i < spatial; ++i, p += t.block)
          for (int l = 0; l < w; ++l) sum[l] += p[l];
      }
      for (int l = 0; l < w; ++l) mu[l] = sum[l] / m;
      for (int b = 0; b < batch; ++b) {
        const float* p = x + t.at(b, c0);
        for (int64_t i = 0; i < spatial; ++i, p += t.block)
          for (int l = 0; l < w; ++l) sum2[l] += (p[l] - mu[l]) * (p[l] - mu[l]);
      }
      for (int l = 0; l < w; ++l) mean[c0 + l] = float(mu[l]), var[c0 + l] = float(sum2[l] / m);
    });
    return;
  }
  RPG_PARALLEL_FOR(int64_t(batch) * channels * spatial)
  for (int c = 0; c < channels; ++c) {
    Lanes s, s2;
    for (int b = 0; b < batch; ++b) {
      const float* p = x + (int64_t(b) * channels + c) * spatial;
      s.add(spatial, [p](int64_t i) { return double(p[i]); });
    }
    const double mu = s.total() / m;
    for (int b = 0; b < batch; ++b) {
      const float* p = x + (int64_t(b) * channels + c) * spatial;
      s2.add(spatial, [p, mu](int64_t i) { return (p[i] - mu) * (p[i] - mu); });
    }
    mean[c] = float(mu);
    var[c] = float(s2.total() / m);
  }
}

void CpuBackend::bn_normalize(const float* x, const float* mean, const float* var, int batch,
                              int channels, int64_t spatial, BnEpsilon eps, float* x_hat) {
  RPG_PARALLEL_FOR(int64_t(batch) * channels * spatial)
  for (int64_t bc = 0; bc < int64_t(batch) * channels; ++bc) {
    const int c = int(bc % channels);
    const float mu = mean[c], inv = eps.inv_std(var[c]);
    const float* p = x + bc * spatial;
    float* o = x_hat + bc * spatial;
    for (int64_t i = 0; i < spatial; ++i) o[i] = (p[i] - mu) * inv;
  }
}

void CpuBackend::bn_scale_shift(const float* x_hat, const float* gamma, const float* beta,
                                int batch, int channels, int64_t spatial, float* y) {
  RPG_PARALLEL_FOR(int64_t(batch) * channels * spatial)
  for (int64_t bc = 0; bc < int64_t(batch) * channels; ++bc) {
    const int c = int(bc % channels);
    const float g = gamma[c], b = beta[c];
    const float* p = x_hat + bc * spatial;
    float* o = y + bc * spatial;
    for (int64_t i = 0; i < spatial; ++i) o[i] = g * p[i] + b;
  }
}

// One pass instead of three (normalize, scale/shift, activation), the same float operations in
// the same order, so the results are those of the default Backend::bn_apply bit for bit.
void CpuBackend::bn_apply(float* x, const float* mean, const float* var, const float* gamma, const float* beta,
                          int batch, int channels, int64_t spatial, BnEpsilon eps, float* x_hat, Act a, int layout) {
  if (layout) {
    const Blocked t(layout, batch, channels, spatial, threads_, "bn_apply");
    with_act(a, [&](auto act) {
      t.each_image_run([&](int64_t b, int c0, auto w) {
        float mu[kRun], inv[kRun], g[kRun], sh[kRun];
        for (int l = 0; l < w; ++l)
          mu[l] = mean[c0 + l], inv[l] = eps.inv_std(var[c0 + l]), g[l] = gamma[c0 + l], sh[l] = beta[c0 + l];
        float* p = x + t.at(b, c0);
        float* h = x_hat + t.at(b, c0);
        for (int64_t i = 0; i < spatial; ++i, p += t.block, h += t.block)
          for (int l = 0; l < w; ++l) {
            const float xh = (p[l] - mu[l]) * inv[l];
            h[l] = xh;
            const float y = g[l] * xh + sh[l];
            p[l] = decltype(act)::value == Act::Linear ? y : act_apply(act, y);
          }
      });
    });
    return;
  }
  with_act(a, [&](auto act) {
    RPG_PARALLEL_FOR(int64_t(batch) * channels * spatial)
    for (int64_t bc = 0; bc < int64_t(batch) * channels; ++bc) {
      const int c = int(bc % channels);
      const float mu = mean[c], inv = eps.inv_std(var[c]), g = gamma[c], b = beta[c];
      float* p = x + bc * spatial;
      float* h = x_hat + bc * spatial;
      for (int64_t i = 0; i < spatial; ++i) {
        const float xh = (p[i] - mu) * inv;
        h[i] = xh;
        const float y = g * xh + b;
        p[i] = decltype(act)::value == Act::Linear ? y : act_apply(act, y);
      }
    }
  });
}

void CpuBackend::bn_backward(const float* x_hat, const float* gamma, const float* var, int batch,
                             int channels, int64_t spatial, BnEpsilon eps, bool training, float* dy,
                             float* gamma_grad, float* beta_grad, int layout) {
  const double m = double(batch) * double(spatial);
  if (layout) {
    const Blocked t(layout, batch, channels, spatial, threads_, "bn_backward");
    t.each_run([&](int c0, auto w) {
      double sdy[kRun] = {}, sdyx[kRun] = {};
      for (int b = 0; b < batch; ++b) {
        const float* d = dy + t.at(b, c0);
        const float* h = x_hat + t.at(b, c0);
        for (int64_t i = 0; i < spatial; ++i, d += t.block, h += t.block)
          for (int l = 0; l < w; ++l) sdy[l] += d[l], sdyx[l] += double(d[l]) * h[l];
      }
      float k[kRun], mdy[kRun], mdyx[kRun];
      for (int l = 0; l < w; ++l) {
        const int c = c0 + l;
        gamma_grad[c] += float(sdyx[l]);
        beta_grad[c] += float(sdy[l]);
        k[l] = gamma[c] / eps.std_of(var[c]);
        mdy[l] = training ? float(sdy[l] / m) : 0.f;
        mdyx[l] = training ? float(sdyx[l] / m) : 0.f;
      }
      for (int b = 0; b < batch; ++b) {
        float* d = dy + t.at(b, c0);
        const float* h = x_hat + t.at(b, c0);
        for (int64_t i = 0; i < spatial; ++i, d += t.block, h += t.block)
          for (int l = 0; l < w; ++l) d[l] = k[l] * (d[l] - mdy[l] - h[l] * mdyx[l]);
      }
    });
    return;
  }
  RPG_PARALLEL_FOR(int64_t(batch) * channels * spatial)
  for (int c = 0; c < channels; ++c) {
    Lanes ldy, ldyx;
    for (int b = 0; b < batch; ++b) {
      const float* d = dy + (int64_t(b) * channels + c) * spatial;
      const float* h = x_hat + (int64_t(b) * channels + c) * spatial;
      ldy.add(spatial, [d](int64_t i) { return double(d[i]); });
      ldyx.add(spatial, [d, h](int64_t i) { return double(d[i]) * h[i]; });
    }
    const double sdy = ldy.total(), sdyx = ldyx.total();
    gamma_grad[c] += float(sdyx);
    beta_grad[c] += float(sdy);
    const float k = gamma[c] / eps.std_of(var[c]);
    const float mdy = training ? float(sdy / m) : 0.f, mdyx = training ? float(sdyx / m) : 0.f;
    for (int b = 0; b < batch; ++b) {
      const int64_t off = (int64_t(b) * channels + c) * spatial;
      for (int64_t i = 0; i < spatial; ++i)
        dy[off + i] = k * (dy[off + i] - mdy - x_hat[off + i] * mdyx);
    }
  }
}

void CpuBackend::bn_running_update(const float* mean, const float* var, int channels, float rate,
                                   int64_t m, float* running_mean, float* running_var) {
  const float bessel = m > 1 ? float(m) / float(m - 1) : 1.f;
  for (int c = 0; c < channels; ++c) {
    running_mean[c] = (1 - rate) * running_mean[c] + rate * mean[c];
    running_var[c] = (1 - rate) * running_var[c] + rate * var[c] * bessel;
  }
}

void CpuBackend::maxpool_forward(const PoolGeometry& g, const float* in, float* out, int32_t* idx) {
  // Each window's rows and columns inside the input are found once, so the scan has no bounds
  // checks. The first maximum in scan order wins (the first element inside the window, then
  // only a strictly greater one); an empty window gives 0 and index -1.
  const int off = -g.padding / 2;
  const int64_t planes = int64_t(g.batch) * g.channels, plane_size = int64_t(g.height) * g.width;
  RPG_PARALLEL_FOR(planes * g.out_h * g.out_w * g.size * g.size)
  for (int64_t p = 0; p < planes; ++p) {
    const float* plane = in + p * plane_size;
    for (int y = 0; y < g.out_h; ++y) {
      const int y0 = off + y * g.stride;
      const int n0 = std::max(0, -y0), n1 = std::min(g.size, g.height - y0);
      for (int x = 0; x < g.out_w; ++x) {
        const int x0 = off + x * g.stride;
        const int m0 = std::max(0, -x0), m1 = std::min(g.size, g.width - x0);
        float best = 0.f;
        int64_t best_i = -1;
        if (n0 < n1 && m0 < m1) {
          best_i = int64_t(y0 + n0) * g.width + x0 + m0;
          best = plane[best_i];
          for (int n = n0; n < n1; ++n) {
            const int64_t row = int64_t(y0 + n) * g.width + x0;
            for (int m = (n == n0 ? m0 + 1 : m0); m < m1; ++m)
              if (plane[row + m] > best) best = plane[row + m], best_i = row + m;
          }
        }
        const int64_t o = (p * g.out_h + y) * g.out_w + x;
        out[o] = best;
        idx[o] = best_i < 0 ? -1 : int32_t(p * plane_size + best_i);
      }
    }
  }
}

void CpuBackend::maxpool_inference(const PoolGeometry& g, const float* in, float* out, int32_t* idx, int layout) {
  if (dnn_ && dnn_->maxpool(g, threads_, in, out, layout)) return;
  Backend::maxpool_inference(g, in, out, idx, layout);
}

void CpuBackend::maxpool_prepare(const PoolGeometry& g, int layout) {
  if (dnn_) dnn_->maxpool_prepare(g, threads_, layout);
}

bool CpuBackend::maxpool_any_layout(const PoolGeometry& g) {
  if (!dnn_) return false;
  for (int layout : {0, 1, 8, 16})  // every layout the inference plan may hand it
    if ((layout < 8 || g.channels % layout == 0) && !dnn_->maxpool_prepare(g, threads_, layout)) return false;
  return true;
}

void CpuBackend::maxpool_backward(const PoolGeometry& g, const float* delta_out, const int32_t* idx,
                                  float* delta_in) {
  // Overlapping windows can share an input: one plane per iteration.
  const int64_t per_plane = int64_t(g.out_h) * g.out_w;
  const int64_t planes = int64_t(g.batch) * g.channels;
  RPG_PARALLEL_FOR(planes * per_plane)
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t o = p * per_plane; o < (p + 1) * per_plane; ++o)
      if (idx[o] >= 0) delta_in[idx[o]] += delta_out[o];
}

// In a blocked layout each channel's sum also runs over the positions in order: the planar
// pass's bits.
void CpuBackend::avgpool_forward(int batch, int channels, int64_t spatial, const float* in,
                                 float* out, int layout) {
  if (layout) {
    const Blocked t(layout, batch, channels, spatial, threads_, "avgpool_forward");
    t.each_image_run([&](int64_t b, int c0, auto w) {
      double acc[kRun] = {};
      const float* p = in + t.at(b, c0);
      for (int64_t i = 0; i < spatial; ++i, p += t.block)
        for (int l = 0; l < w; ++l) acc[l] += p[l];
      for (int l = 0; l < w; ++l) out[b * channels + c0 + l] = float(acc[l] / double(spatial));
    });
    return;
  }
  for (int64_t bc = 0; bc < int64_t(batch) * channels; ++bc) {
    double s = 0;
    for (int64_t i = 0; i < spatial; ++i) s += in[bc * spatial + i];
    out[bc] = float(s / double(spatial));
  }
}

void CpuBackend::avgpool_backward(int batch, int channels, int64_t spatial, const float* delta_out,
                                  float* delta_in, int layout) {
  const float inv = 1.f / float(spatial);
  if (layout) {
    const Blocked t(layout, batch, channels, spatial, threads_, "avgpool_backward");
    t.each_image_run([&](int64_t b, int c0, auto w) {
      const float* d = delta_out + b * channels + c0;
      float* p = delta_in + t.at(b, c0);
      for (int64_t i = 0; i < spatial; ++i, p += t.block)
        for (int l = 0; l < w; ++l) p[l] += d[l] * inv;
    });
    return;
  }
  for (int64_t bc = 0; bc < int64_t(batch) * channels; ++bc)
    for (int64_t i = 0; i < spatial; ++i) delta_in[bc * spatial + i] += delta_out[bc] * inv;
}

void CpuBackend::softmax_forward(const float* in, int batch, int n, int groups, float temperature,
                                 float* out) {
  const int per = n / groups;
  for (int64_t r = 0; r < int64_t(batch) * groups; ++r) {
    const float* x = in + r * per;
    float* y = out + r * per;
    float mx = -FLT_MAX;
    for (int i = 0; i < per; ++i) mx = std::fmax(mx, x[i]);
    double s = 0;
    for (int i = 0; i < per; ++i) {
      y[i] = std::exp((x[i] - mx) / temperature);
      s += y[i];
    }
    const float inv = float(1.0 / s);
    for (int i = 0; i < per; ++i) y[i] *= inv;
  }
}

void CpuBackend::softmax_backward(const float* out, const float* delta_out, int batch, int n,
                                  int groups, float temperature, float* delta_in) {
  const int per = n / groups;
  for (int64_t r = 0; r < int64_t(batch) * groups; ++r) {
    const float* p = out + r * per;
    const float* g = delta_out + r * per;
    double dot = 0;
    for (int i = 0; i < per; ++i) dot += double(g[i]) * p[i];
    for (int i = 0; i < per; ++i) delta_in[r * per + i] += p[i] * (g[i] - float(dot)) / temperature;
  }
}

void CpuBackend::softmax_cross_entropy(const float* p, const float* truth, int batch, int n,
                                       int groups, float temperature, float* err, float* delta_in) {
  const int per = n / groups;
  for (int64_t r = 0; r < int64_t(batch) * groups; ++r) {
    const float* pr = p + r * per;
    const float* t = truth + r * per;
    double mass = 0;
    for (int i = 0; i < per; ++i) mass += t[i];
    for (int i = 0; i < per; ++i) {
      // The clamp keeps log(0) finite; a NaN stays NaN (fmax would turn it into 1e-30, a
      // finite loss of 69.08 that would hide a diverged network).
      const float q = std::isnan(pr[i]) ? pr[i] : std::fmax(pr[i], 1e-30f);
      err[r * per + i] = t[i] != 0.f ? -t[i] * std::log(q) : 0.f;
      delta_in[r * per + i] += (pr[i] * float(mass) - t[i]) / temperature;
    }
  }
}

void CpuBackend::cost(CostType type, const float* x, const float* truth, int64_t n, float scale,
                      float* err, float* delta_in) {
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] - truth[i];
    float e = 0, g = 0;
    switch (type) {
      case CostType::Sse: e = .5f * d * d; g = d; break;
      case CostType::Masked:
        if (truth[i] != -1234.f) { e = .5f * d * d; g = d; }  // Darknet's SECRET_NUM masks
        break;
      case CostType::Smooth:
        if (std::fabs(d) < 1) { e = .5f * d * d; g = d; }
        else { e = std::fabs(d) - .5f; g = d > 0 ? 1.f : -1.f; }
        break;
      case CostType::L1: e = std::fabs(d); g = d > 0 ? 1.f : (d < 0 ? -1.f : 0.f); break;
    }
    err[i] = scale * e;
    delta_in[i] += scale * g;
  }
}

namespace {
// Visits the (out_index, add_index) pairs of Darknet's shortcut.
template <typename F>
void for_each_shortcut_pair(int batch, int w1, int h1, int c1, int w2, int h2, int c2, F f) {
  int stride = w1 / w2, sample = w2 / w1;
  if (stride < 1) stride = 1;
  if (sample < 1) sample = 1;
  const int minw = w1 < w2 ? w1 : w2, minh = h1 < h2 ? h1 : h2, minc = c1 < c2 ? c1 : c2;
  for (int b = 0; b < batch; ++b)
    for (int k = 0; k < minc; ++k)
      for (int j = 0; j < minh; ++j)
        for (int i = 0; i < minw; ++i) {
          const int64_t out_i = i * sample + int64_t(w2) * (j * sample + int64_t(h2) * (k + int64_t(c2) * b));
          const int64_t add_i = i * stride + int64_t(w1) * (j * stride + int64_t(h1) * (k + int64_t(c1) * b));
          f(out_i, add_i);
        }
}
}  // namespace

void CpuBackend::shortcut_forward(int batch, int w1, int h1, int c1, const float* add, int w2,
                                  int h2, int c2, float s1, float s2, float* out) {
  for_each_shortcut_pair(batch, w1, h1, c1, w2, h2, c2,
                         [&](int64_t o, int64_t a) { out[o] = s1 * out[o] + s2 * add[a]; });
}

void CpuBackend::shortcut_activate(int64_t n, const float* x, const float* add, float s1, float s2, Act a,
                                   float* out) {
  with_act(a, [&](auto act) {
    RPG_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) {
      const float sum = s1 * x[i] + s2 * add[i];  // as shortcut_forward computes it
      out[i] = act_apply(act, sum);
    }
  });
}

void CpuBackend::shortcut_backward(int batch, int w1, int h1, int c1, float* add_delta, int w2,
                                   int h2, int c2, float s2, const float* out_delta) {
  for_each_shortcut_pair(batch, w1, h1, c1, w2, h2, c2,
                         [&](int64_t o, int64_t a) { add_delta[a] += s2 * out_delta[o]; });
}

void CpuBackend::upsample(const float* in, int batch, int channels, int h, int w, int stride,
                          float scale, float* out) {
  const int ow = w * stride, oh = h * stride;
  for (int64_t p = 0; p < int64_t(batch) * channels; ++p)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x)
        out[(p * oh + y) * ow + x] = scale * in[(p * h + y / stride) * w + x / stride];
}

void CpuBackend::upsample_backward(const float* delta_out, int batch, int channels, int h, int w,
                                   int stride, float scale, float* delta_in) {
  const int ow = w * stride, oh = h * stride;
  for (int64_t p = 0; p < int64_t(batch) * channels; ++p)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x)
        delta_in[(p * h + y / stride) * w + x / stride] += scale * delta_out[(p * oh + y) * ow + x];
}

void CpuBackend::crop(const float* in, int batch, int channels, int h, int w, int oh, int ow,
                      int dy, int dx, bool flip, float scale, float shift, float* out) {
  for (int64_t p = 0; p < int64_t(batch) * channels; ++p)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) {
        const int sx = (flip ? ow - 1 - x : x) + dx;
        out[(p * oh + y) * ow + x] = scale * in[(p * h + y + dy) * w + sx] + shift;
      }
}

void CpuBackend::crop_backward(const float* delta_out, int batch, int channels, int h, int w,
                               int oh, int ow, int dy, int dx, bool flip, float scale,
                               float* delta_in) {
  for (int64_t p = 0; p < int64_t(batch) * channels; ++p)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) {
        const int sx = (flip ? ow - 1 - x : x) + dx;
        delta_in[(p * h + y + dy) * w + sx] += scale * delta_out[(p * oh + y) * ow + x];
      }
}

void CpuBackend::dropout(const float* in, int64_t n, float p, uint64_t seed, float* out) {
  const float keep_scale = 1.f / (1.f - p);
  RPG_PARALLEL_FOR(n)
  for (int64_t i = 0; i < n; ++i) out[i] = uniform01(seed, uint64_t(i)) < p ? 0.f : in[i] * keep_scale;
}

void CpuBackend::dropout_backward(const float* delta_out, int64_t n, float p, uint64_t seed,
                                  float* delta_in) {
  const float keep_scale = 1.f / (1.f - p);
  RPG_PARALLEL_FOR(n)
  for (int64_t i = 0; i < n; ++i)
    if (uniform01(seed, uint64_t(i)) >= p) delta_in[i] += delta_out[i] * keep_scale;
}

void CpuBackend::ring_generate(const float* ring, const int32_t* code, int64_t n, float scale,
                               float* weights) {
  RPG_PARALLEL_FOR(n)
  for (int64_t i = 0; i < n; ++i) {
    weights[i] = ring_decode(ring, code[i], scale);
  }
}

void CpuBackend::ring_gather(const float* g, const int32_t* inverse, int64_t n, int64_t k,
                             float* ring_grad) {
  RPG_PARALLEL_FOR(n)
  for (int64_t j = 0; j < k; ++j) {
    float acc = 0.f;
    for (int64_t x = j; x < n; x += k) acc += ring_signed(g, inverse[x]);
    ring_grad[j] += acc;
  }
}

void CpuBackend::sgd_update(float* w, float* grad, int64_t n, float lr, float decay,
                            float momentum) {
  RPG_PARALLEL_FOR(n)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] + decay * w[i];
    w[i] -= lr * g;
    grad[i] = momentum * g;
  }
}

}  // namespace rpg
