// CUDA backend, part 2: convolutions. A chunk of images is unrolled by im2col into one "wide"
// column matrix per group, col_g[K = c*k*k, chunk*N] (N = out_h*out_w), so each group needs one
// large GEMM per chunk instead of one small GEMM per image (late ResNet layers have N = 49).
// CPU twins: im2col_rows / col2im_channels / conv_forward / conv_backward in cpu_backend.cc.
#include <climits>

#include "cuda_backend.h"
#include "cuda_common.cuh"

namespace rpg {

namespace {

using cuda::blocks_for;
using cuda::kThreads;

// col[gi][r][bi * N + n] for images bi < count of the chunk, groups gi, rows r = (c, kh, kw) of
// the group's K, output positions n: the element of image bi that output n sees through r.
// The index of col is the thread's index t, decomposed.
template <typename I>
__global__ void k_im2col_wide(ConvGeometry g, int groups, int count, const float* im, float* col) {
  const I n_out = I(g.out_h) * g.out_w, k = g.ksize, rows = I(g.channels) * k * k;
  const I total = I(groups) * rows * count * n_out;
  for (I t = I(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += I(blockDim.x) * gridDim.x) {
    const I n = t % n_out, bi = (t / n_out) % count, r = (t / n_out / count) % rows;
    const I gi = t / n_out / count / rows;
    const int kw = int(r % k), kh = int((r / k) % k), c = int(r / k / k);
    const int y = int(n / g.out_w), x = int(n % g.out_w);
    const int iy = kh + y * g.stride - g.pad, ix = kw + x * g.stride - g.pad;
    float v = 0.f;
    if (iy >= 0 && iy < g.height && ix >= 0 && ix < g.width) {
      const I plane = I(g.height) * g.width;
      v = im[(bi * groups + gi) * I(g.channels) * plane + I(c) * plane + I(iy) * g.width + ix];
    }
    col[t] = v;
  }
}

// The adjoint: every image element of the chunk gathers the col entries that read it, in the
// CPU's (kh, kw) order, and adds them to im (one writer per element: no atomics).
template <typename I>
__global__ void k_col2im_wide(ConvGeometry g, int groups, int count, const float* col, float* im) {
  const I n_out = I(g.out_h) * g.out_w, k = g.ksize, rows = I(g.channels) * k * k;
  const I plane = I(g.height) * g.width, total = I(count) * groups * g.channels * plane;
  for (I t = I(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += I(blockDim.x) * gridDim.x) {
    const int ix = int(t % g.width), iy = int((t / g.width) % g.height);
    const I c = (t / plane) % g.channels, gi = (t / plane / g.channels) % groups;
    const I bi = t / plane / g.channels / groups;
    float acc = im[t];
    for (int kh = 0; kh < g.ksize; ++kh) {
      const int ty = iy + g.pad - kh;
      if (ty < 0 || ty % g.stride) continue;
      const int y = ty / g.stride;
      if (y >= g.out_h) continue;
      for (int kw = 0; kw < g.ksize; ++kw) {
        const int tx = ix + g.pad - kw;
        if (tx < 0 || tx % g.stride) continue;
        const int x = tx / g.stride;
        if (x >= g.out_w) continue;
        const I r = (c * k + kh) * k + kw;
        acc += col[((gi * rows + r) * count + bi) * n_out + I(y) * g.out_w + x];
      }
    }
    im[t] = acc;
  }
}

// wide[gi][m][bi * N + n] <-> nchw[bi][gi * M + m][n]: to_wide copies into the wide layout,
// otherwise out of it (overwriting nchw).
__global__ void k_rewide(int groups, int m_per_group, int count, int64_t n_out, bool to_wide, const float* src,
                         float* dst) {
  const int64_t total = int64_t(groups) * m_per_group * count * n_out;
  RPG_FOR_EACH(t, total) {  // t indexes the wide layout
    const int64_t n = t % n_out, bi = (t / n_out) % count, gm = t / n_out / count;  // gm = gi * M + m
    const int64_t nchw = (bi * groups * m_per_group + gm) * n_out + n;
    if (to_wide)
      dst[t] = src[nchw];
    else
      dst[nchw] = src[t];
  }
}

int64_t col_floats(const ConvGeometry& g, int groups) {
  return int64_t(groups) * g.channels * g.ksize * g.ksize * g.out_h * g.out_w;
}

// Images per chunk within a scratch budget of `budget` floats (at least one image).
int chunk_images(int64_t budget, int64_t floats_per_image, int batch) {
  const int64_t n = budget / std::max<int64_t>(1, floats_per_image);
  return int(std::max<int64_t>(1, std::min<int64_t>(n, batch)));
}

}  // namespace

// Launches im2col / col2im over `total` threads with 32-bit indices when every index (at most
// `bound`, plus the grid stride) fits: 64-bit division is slow on the device.
#define RPG_LAUNCH_WIDE(kernel, total, bound, ...)                                    \
  do {                                                                                \
    if (std::max<int64_t>(total, bound) < INT_MAX / 2)                                \
      kernel<int><<<blocks_for(total), kThreads, 0, stream_>>>(__VA_ARGS__);          \
    else                                                                              \
      kernel<int64_t><<<blocks_for(total), kThreads, 0, stream_>>>(__VA_ARGS__);      \
    RPG_LAUNCHED(#kernel);                                                            \
  } while (0)

void CudaBackend::im2col(const ConvGeometry& g, const float* im, float* col) {
  const int64_t total = col_floats(g, 1);
  if (total <= 0) return;
  RPG_GUARD();
  // col[K=c*k*k, N=out_h*out_w] from im[C, H, W]
  RPG_LAUNCH_WIDE(k_im2col_wide, total, int64_t(g.channels) * g.height * g.width, g, 1, 1, im, col);
}

void CudaBackend::col2im(const ConvGeometry& g, const float* col, float* im) {
  const int64_t total = int64_t(g.channels) * g.height * g.width;
  if (total <= 0) return;
  RPG_GUARD();
  // im[C, H, W] += adjoint of im2col applied to col[K=c*k*k, N=out_h*out_w]
  RPG_LAUNCH_WIDE(k_col2im_wide, total, col_floats(g, 1), g, 1, 1, col, im);
}

void CudaBackend::conv_forward(const ConvGeometry& g, int batch, int groups, int filters, const float* in,
                               const float* weights, float* out, int in_layout, int out_layout,
                               bool kernel_weights) {
  planar_only(in_layout | out_layout | int(kernel_weights), "conv_forward");
  if (batch <= 0 || filters <= 0) return;
  RPG_GUARD();
  const bool direct = g.ksize == 1 && g.stride == 1 && g.pad == 0;
  const int m = filters / groups;
  const int k = g.channels * g.ksize * g.ksize, n = g.out_h * g.out_w;
  const int64_t in_image = int64_t(g.channels) * groups * g.height * g.width, out_image = int64_t(filters) * n;
  const int64_t col_image = col_floats(g, groups);
  const int chunk = chunk_images(chunk_floats_, col_image + out_image, batch);
  float* col = static_cast<float*>(scratch(size_t(chunk) * (col_image + (chunk > 1 ? out_image : 0)) * 4));
  float* wide_out = col + chunk * col_image;
  const float one = 1.f, zero = 0.f;
  for (int b0 = 0; b0 < batch; b0 += chunk) {
    const int count = std::min(chunk, batch - b0);
    const float* x = in + b0 * in_image;
    const float* cols = col;
    if (direct && count == 1) {
      cols = x;  // a 1x1 convolution of one image reads the image itself
    } else {
      // col[G, K, count*N] from in[count, G*c, H, W]
      RPG_LAUNCH_WIDE(k_im2col_wide, count * col_image, count * in_image, g, groups, count, x, col);
    }
    const int wn = count * n;
    float* dst = count == 1 ? out + b0 * out_image : wide_out;
    // per group: dst_g[M=filters/groups, N=count*out_h*out_w] = W_g[M, K=c*k*k] x col_g[K, N]
    RPG_CUBLAS(cublasSgemmStridedBatched(blas_, CUBLAS_OP_N, CUBLAS_OP_N, wn, m, k, &one, cols, wn,
                                         int64_t(k) * wn, weights, k, int64_t(m) * k, &zero, dst, wn,
                                         int64_t(m) * wn, groups));
    if (count > 1) {
      // out[count, filters, N] from dst[G, M, count*N]
      k_rewide<<<blocks_for(count * out_image), kThreads, 0, stream_>>>(groups, m, count, n, false, wide_out,
                                                                        out + b0 * out_image);
      RPG_LAUNCHED("k_rewide");
    }
  }
}

void CudaBackend::conv_backward(const ConvGeometry& g, int batch, int groups, int filters, const float* in,
                                const float* weights, const float* delta, float* weight_grads, float* in_delta,
                                int in_layout, int out_layout, bool add_in_delta, bool kernel_weights) {
  planar_only(in_layout | out_layout | int(kernel_weights), "conv_backward");
  // col2im accumulates: a written input delta starts from zeros.
  if (in_delta && !add_in_delta) fill(in_delta, int64_t(batch) * g.channels * groups * g.height * g.width, 0.f);
  if (batch <= 0 || filters <= 0) return;
  RPG_GUARD();
  const bool direct = g.ksize == 1 && g.stride == 1 && g.pad == 0;
  const int m = filters / groups;
  const int k = g.channels * g.ksize * g.ksize, n = g.out_h * g.out_w;
  const int64_t in_image = int64_t(g.channels) * groups * g.height * g.width, out_image = int64_t(filters) * n;
  const int64_t col_image = col_floats(g, groups);
  // Scratch per image: col and dcol (G*K*N each) and the wide delta (filters*N).
  const int chunk = chunk_images(chunk_floats_, 2 * col_image + out_image, batch);
  float* col = static_cast<float*>(scratch(size_t(chunk) * (2 * col_image + out_image) * 4));
  float* dcol = col + chunk * col_image;
  float* wide_delta = dcol + chunk * col_image;
  const float one = 1.f, zero = 0.f;
  // Chunks run in image order and each GEMM accumulates into weight_grads: a fixed order.
  for (int b0 = 0; b0 < batch; b0 += chunk) {
    const int count = std::min(chunk, batch - b0);
    const int wn = count * n;
    const float* x = in + b0 * in_image;
    const float* d = delta + b0 * out_image;
    if (count > 1) {
      // wide_delta[G, M, count*N] from delta[count, filters, N]
      k_rewide<<<blocks_for(count * out_image), kThreads, 0, stream_>>>(groups, m, count, n, true, d, wide_delta);
      RPG_LAUNCHED("k_rewide");
      d = wide_delta;
    }
    const float* cols = col;
    if (direct && count == 1) {
      cols = x;
    } else {
      // col[G, K, count*N] from in[count, G*c, H, W]
      RPG_LAUNCH_WIDE(k_im2col_wide, count * col_image, count * in_image, g, groups, count, x, col);
    }
    // per group: dW_g[M=filters/groups, K=c*k*k] += d_g[M, N=count*out_h*out_w] x col_g[K, N]^T
    RPG_CUBLAS(cublasSgemmStridedBatched(blas_, CUBLAS_OP_T, CUBLAS_OP_N, k, m, wn, &one, cols, wn,
                                         int64_t(k) * wn, d, wn, int64_t(m) * wn, &one, weight_grads, k,
                                         int64_t(m) * k, groups));
    if (!in_delta) continue;
    float* di = in_delta + b0 * in_image;
    if (direct && count == 1) {
      // per group: dx_g[K=c, N=H*W] += W_g[M, K]^T x d_g[M, N]
      RPG_CUBLAS(cublasSgemmStridedBatched(blas_, CUBLAS_OP_N, CUBLAS_OP_T, wn, k, m, &one, d, wn,
                                           int64_t(m) * wn, weights, k, int64_t(m) * k, &one, di, wn,
                                           int64_t(k) * wn, groups));
      continue;
    }
    // per group: dcol_g[K=c*k*k, N=count*out_h*out_w] = W_g[M, K]^T x d_g[M, N]
    RPG_CUBLAS(cublasSgemmStridedBatched(blas_, CUBLAS_OP_N, CUBLAS_OP_T, wn, k, m, &one, d, wn,
                                         int64_t(m) * wn, weights, k, int64_t(m) * k, &zero, dcol, wn,
                                         int64_t(k) * wn, groups));
    // in_delta[count, G*c, H, W] += col2im(dcol[G, K, count*N])
    RPG_LAUNCH_WIDE(k_col2im_wide, count * in_image, count * col_image, g, groups, count, dcol, di);
  }
}

}  // namespace rpg
