// CUDA backend, part 3: operations built on reductions (sum, bias gradients, batch norm, average
// pooling, softmax and cross-entropy). Every sum is taken in double over a tree whose shape
// depends only on the tensor's shape, never on timing (no atomics), so results repeat exactly;
// they differ from the CPU's sequential double sums by double rounding only.
#include <cfloat>

#include "cuda_backend.h"
#include "cuda_common.cuh"

namespace rpg {

namespace {

using cuda::blocks_for;
using cuda::kThreads;

struct Pair {
  double a, b;
};

// ---- per-channel sums over (batch, spatial) --------------------------------------------------
// Channel c of x[batch, channels, spatial] is split into `parts` consecutive ranges of its
// m = batch * spatial elements; block (c, part) folds its range into partials[c * parts + part]
// with a fixed tree; a second kernel adds the parts in order and hands the total to a finisher.

constexpr int kReduceThreads = 256;

int reduce_parts(int64_t m) { return int(std::min<int64_t>(64, std::max<int64_t>(1, (m + 16383) / 16384))); }

template <typename F>
__global__ void k_channel_partials(F f, int batch, int channels, int64_t spatial, int parts, Pair* partials) {
  __shared__ double sa[kReduceThreads], sb[kReduceThreads];
  const int c = int(blockIdx.x / parts), part = int(blockIdx.x % parts), tid = int(threadIdx.x);
  const int64_t m = int64_t(batch) * spatial, per = (m + parts - 1) / parts;
  const int64_t lo = part * per, hi = lo + per < m ? lo + per : m;
  double a = 0, b = 0;
  for (int64_t j = lo + tid; j < hi; j += kReduceThreads) {
    const int64_t bi = j / spatial, s = j - bi * spatial;
    const Pair v = f((bi * channels + c) * spatial + s, c);
    a += v.a;
    b += v.b;
  }
  sa[tid] = a;
  sb[tid] = b;
  __syncthreads();
  for (int w = kReduceThreads / 2; w > 0; w >>= 1) {
    if (tid < w) {
      sa[tid] += sa[tid + w];
      sb[tid] += sb[tid + w];
    }
    __syncthreads();
  }
  if (tid == 0) partials[blockIdx.x] = {sa[0], sb[0]};
}

template <typename G>
__global__ void k_channel_finish(G g, int channels, int parts, const Pair* partials) {
  RPG_FOR_EACH(c, channels) {
    Pair t{0, 0};
    for (int p = 0; p < parts; ++p) {
      t.a += partials[c * parts + p].a;
      t.b += partials[c * parts + p].b;
    }
    g(int(c), t);
  }
}

// Values folded by k_channel_partials, given an element's index and its channel.
struct ValueOf {
  const float* x;
  __device__ Pair operator()(int64_t i, int) const { return {x[i], 0}; }
};
struct SquaredDeviation {
  const float* x;
  const double* mean;
  __device__ Pair operator()(int64_t i, int c) const {
    const double d = x[i] - mean[c];
    return {d * d, 0};
  }
};
struct DyAndDyXhat {
  const float* dy;
  const float* x_hat;
  __device__ Pair operator()(int64_t i, int) const { return {dy[i], double(dy[i]) * x_hat[i]}; }
};

// Finishers.
struct StoreTotal {
  double* out;
  __device__ void operator()(int, Pair t) const { *out = t.a; }
};
struct AddToGrad {
  float* grad;
  __device__ void operator()(int c, Pair t) const { grad[c] += float(t.a); }
};
struct StoreMean {
  double m;
  double* mean_d;
  float* mean;
  __device__ void operator()(int c, Pair t) const {
    mean_d[c] = t.a / m;
    mean[c] = float(t.a / m);
  }
};
struct StoreScaled {  // out[c] = float(total / divisor): variance, average pooling
  double divisor;
  float* out;
  __device__ void operator()(int c, Pair t) const { out[c] = float(t.a / divisor); }
};
struct BnGradients {
  double m;
  bool training;
  float* gamma_grad;
  float* beta_grad;
  float* means;  // [2, channels]: mean of dy, mean of dy * x_hat (0 when not training)
  int channels;
  __device__ void operator()(int c, Pair t) const {
    gamma_grad[c] += float(t.b);
    beta_grad[c] += float(t.a);
    means[c] = training ? float(t.a / m) : 0.f;
    means[channels + c] = training ? float(t.b / m) : 0.f;
  }
};

// Runs the two kernels on the stream; partials needs channels * reduce_parts(batch*spatial).
template <typename F, typename G>
void channel_reduce(cudaStream_t stream, int device_, F f, G g, int batch, int channels, int64_t spatial,
                    Pair* partials) {
  const int parts = reduce_parts(int64_t(batch) * spatial);
  k_channel_partials<<<unsigned(int64_t(channels) * parts), kReduceThreads, 0, stream>>>(f, batch, channels,
                                                                                       spatial, parts, partials);
  RPG_LAUNCHED("k_channel_partials");
  k_channel_finish<<<blocks_for(channels), kThreads, 0, stream>>>(g, channels, parts, partials);
  RPG_LAUNCHED("k_channel_finish");
}

size_t partial_bytes(int batch, int channels, int64_t spatial) {
  return size_t(channels) * reduce_parts(int64_t(batch) * spatial) * sizeof(Pair);
}

// ---- element-wise batch norm ----------------------------------------------------------------

__global__ void k_bn_normalize(const float* x, const float* mean, const float* var, int channels,
                               int64_t spatial, BnEpsilon eps, int64_t n, float* x_hat) {
  RPG_FOR_EACH(i, n) {
    const int c = int((i / spatial) % channels);
    const float inv = eps.inv_std(var[c]);
    x_hat[i] = (x[i] - mean[c]) * inv;
  }
}
__global__ void k_bn_scale_shift(const float* x_hat, const float* gamma, const float* beta, int channels,
                                 int64_t spatial, int64_t n, float* y) {
  RPG_FOR_EACH(i, n) {
    const int c = int((i / spatial) % channels);
    y[i] = gamma[c] * x_hat[i] + beta[c];
  }
}
__global__ void k_bn_dx(const float* x_hat, const float* gamma, const float* var, const float* means, int channels,
                        int64_t spatial, BnEpsilon eps, int64_t n, float* dy) {
  RPG_FOR_EACH(i, n) {
    const int c = int((i / spatial) % channels);
    const float k = gamma[c] / eps.std_of(var[c]);
    dy[i] = k * (dy[i] - means[c] - x_hat[i] * means[channels + c]);
  }
}
__global__ void k_bn_running_update(const float* mean, const float* var, int channels, float rate, float bessel,
                                    float* running_mean, float* running_var) {
  RPG_FOR_EACH(c, channels) {
    running_mean[c] = (1 - rate) * running_mean[c] + rate * mean[c];
    running_var[c] = (1 - rate) * running_var[c] + rate * var[c] * bessel;
  }
}
__global__ void k_avgpool_backward(int64_t spatial, const float* delta_out, float inv, int64_t n, float* delta_in) {
  RPG_FOR_EACH(i, n) delta_in[i] += delta_out[i / spatial] * inv;
}

// ---- softmax: one warp per row (group of a batch item) --------------------------------------

constexpr int kRowsPerBlock = kThreads / 32;

__device__ double warp_sum(double v) {  // fixed tree; the total is lane 0's, broadcast
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return __shfl_sync(0xffffffffu, v, 0);
}
__device__ float warp_max(float v) {  // max is exact in any order
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__global__ void k_softmax(const float* in, int64_t rows, int per, float temperature, float* out) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = int(threadIdx.x % 32);
  if (r >= rows) return;  // whole warps leave together
  const float* x = in + r * per;
  float* y = out + r * per;
  float mx = -FLT_MAX;
  for (int i = lane; i < per; i += 32) mx = fmaxf(mx, x[i]);
  mx = warp_max(mx);
  double s = 0;
  for (int i = lane; i < per; i += 32) {
    y[i] = expf((x[i] - mx) / temperature);
    s += y[i];
  }
  const float inv = float(1.0 / warp_sum(s));
  for (int i = lane; i < per; i += 32) y[i] *= inv;
}

__global__ void k_softmax_backward(const float* out, const float* delta_out, int64_t rows, int per,
                                   float temperature, float* delta_in) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = int(threadIdx.x % 32);
  if (r >= rows) return;
  const float* p = out + r * per;
  const float* g = delta_out + r * per;
  double dot = 0;
  for (int i = lane; i < per; i += 32) dot += double(g[i]) * p[i];
  const float d = float(warp_sum(dot));
  for (int i = lane; i < per; i += 32) delta_in[r * per + i] += p[i] * (g[i] - d) / temperature;
}

__global__ void k_softmax_cross_entropy(const float* p, const float* truth, int64_t rows, int per,
                                        float temperature, float* err, float* delta_in) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = int(threadIdx.x % 32);
  if (r >= rows) return;
  const float* pr = p + r * per;
  const float* t = truth + r * per;
  double mass = 0;
  for (int i = lane; i < per; i += 32) mass += t[i];
  const float fm = float(warp_sum(mass));
  for (int i = lane; i < per; i += 32) {
    const float q = pr[i] != pr[i] ? pr[i] : fmaxf(pr[i], 1e-30f);  // a NaN (p != p) stays NaN (CPU twin)
    err[r * per + i] = t[i] != 0.f ? -t[i] * logf(q) : 0.f;
    delta_in[r * per + i] += (pr[i] * fm - t[i]) / temperature;
  }
}

unsigned row_blocks(int64_t rows) { return unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace

double CudaBackend::sum(const float* x, int64_t n) {
  if (n <= 0) return 0;
  RPG_GUARD();
  const size_t pb = partial_bytes(1, 1, n);
  char* s = static_cast<char*>(scratch(pb + sizeof(double)));
  double* total = reinterpret_cast<double*>(s + pb);
  // total = sum of x[N=n], in double
  channel_reduce(stream_, device_, ValueOf{x}, StoreTotal{total}, 1, 1, n, reinterpret_cast<Pair*>(s));
  double result = 0;
  RPG_CUDA(cudaMemcpyAsync(&result, total, sizeof(double), cudaMemcpyDeviceToHost, stream_));
  RPG_CUDA(cudaStreamSynchronize(stream_));
  return result;
}

void CudaBackend::bias_grad(const float* delta, int batch, int channels, int64_t spatial, float* grad, int layout) {
  planar_only(layout, "bias_grad");
  if (batch <= 0 || channels <= 0 || spatial <= 0) return;
  RPG_GUARD();
  Pair* partials = static_cast<Pair*>(scratch(partial_bytes(batch, channels, spatial)));
  // grad[C] += sum over B=batch, S=spatial of delta[B, C, S]
  channel_reduce(stream_, device_, ValueOf{delta}, AddToGrad{grad}, batch, channels, spatial, partials);
}

void CudaBackend::bn_stats(const float* x, int batch, int channels, int64_t spatial, float* mean, float* var,
                           int layout) {
  planar_only(layout, "bn_stats");
  if (batch <= 0 || channels <= 0 || spatial <= 0) return;
  RPG_GUARD();
  const size_t pb = partial_bytes(batch, channels, spatial);
  char* s = static_cast<char*>(scratch(pb + size_t(channels) * sizeof(double)));
  Pair* partials = reinterpret_cast<Pair*>(s);
  double* mean_d = reinterpret_cast<double*>(s + pb);
  const double m = double(batch) * double(spatial);
  // mean[C] = sum over (B, S) of x[B, C, S] / m; var[C] = sum (x - mean)^2 / m (two passes)
  channel_reduce(stream_, device_, ValueOf{x}, StoreMean{m, mean_d, mean}, batch, channels, spatial, partials);
  channel_reduce(stream_, device_, SquaredDeviation{x, mean_d}, StoreScaled{m, var}, batch, channels, spatial,
                 partials);
}

void CudaBackend::bn_normalize(const float* x, const float* mean, const float* var, int batch, int channels,
                               int64_t spatial, BnEpsilon eps, float* x_hat) {
  const int64_t n = int64_t(batch) * channels * spatial;
  if (n <= 0) return;
  RPG_GUARD();
  // x_hat[B, C, S] = (x - mean[C]) / eps.std_of(var[C])
  k_bn_normalize<<<blocks_for(n), kThreads, 0, stream_>>>(x, mean, var, channels, spatial, eps, n, x_hat);
  RPG_LAUNCHED("k_bn_normalize");
}

void CudaBackend::bn_scale_shift(const float* x_hat, const float* gamma, const float* beta, int batch, int channels,
                                 int64_t spatial, float* y) {
  const int64_t n = int64_t(batch) * channels * spatial;
  if (n <= 0) return;
  RPG_GUARD();
  // y[B, C, S] = gamma[C] x_hat + beta[C]
  k_bn_scale_shift<<<blocks_for(n), kThreads, 0, stream_>>>(x_hat, gamma, beta, channels, spatial, n, y);
  RPG_LAUNCHED("k_bn_scale_shift");
}

void CudaBackend::bn_backward(const float* x_hat, const float* gamma, const float* var, int batch, int channels,
                              int64_t spatial, BnEpsilon eps, bool training, float* dy, float* gamma_grad,
                              float* beta_grad, int layout) {
  planar_only(layout, "bn_backward");
  const int64_t n = int64_t(batch) * channels * spatial;
  if (n <= 0) return;
  RPG_GUARD();
  const size_t pb = partial_bytes(batch, channels, spatial);
  char* s = static_cast<char*>(scratch(pb + 2 * size_t(channels) * sizeof(float)));
  float* means = reinterpret_cast<float*>(s + pb);
  const double m = double(batch) * double(spatial);
  // gamma_grad[C] += sum dy x_hat, beta_grad[C] += sum dy over (B, S); then dy[B, C, S] = dx
  channel_reduce(stream_, device_, DyAndDyXhat{dy, x_hat},
                 BnGradients{m, training, gamma_grad, beta_grad, means, channels}, batch, channels, spatial,
                 reinterpret_cast<Pair*>(s));
  k_bn_dx<<<blocks_for(n), kThreads, 0, stream_>>>(x_hat, gamma, var, means, channels, spatial, eps, n, dy);
  RPG_LAUNCHED("k_bn_dx");
}

void CudaBackend::bn_running_update(const float* mean, const float* var, int channels, float rate, int64_t m,
                                    float* running_mean, float* running_var) {
  if (channels <= 0) return;
  RPG_GUARD();
  const float bessel = m > 1 ? float(m) / float(m - 1) : 1.f;
  k_bn_running_update<<<blocks_for(channels), kThreads, 0, stream_>>>(mean, var, channels, rate, bessel,
                                                                      running_mean, running_var);
  RPG_LAUNCHED("k_bn_running_update");
}

void CudaBackend::avgpool_forward(int batch, int channels, int64_t spatial, const float* in, float* out,
                                  int layout) {
  planar_only(layout, "avgpool_forward");
  if (batch <= 0 || channels <= 0 || spatial <= 0) return;
  RPG_GUARD();
  const int planes = batch * channels;
  Pair* partials = static_cast<Pair*>(scratch(partial_bytes(1, planes, spatial)));
  // out[B*C] = mean over S of in[B*C, S]: a per-channel reduction with batch 1
  channel_reduce(stream_, device_, ValueOf{in}, StoreScaled{double(spatial), out}, 1, planes, spatial, partials);
}

void CudaBackend::avgpool_backward(int batch, int channels, int64_t spatial, const float* delta_out,
                                   float* delta_in, int layout) {
  planar_only(layout, "avgpool_backward");
  const int64_t n = int64_t(batch) * channels * spatial;
  if (n <= 0) return;
  RPG_GUARD();
  // delta_in[B*C, S] += delta_out[B*C] / S
  k_avgpool_backward<<<blocks_for(n), kThreads, 0, stream_>>>(spatial, delta_out, 1.f / float(spatial), n,
                                                              delta_in);
  RPG_LAUNCHED("k_avgpool_backward");
}

void CudaBackend::softmax_forward(const float* in, int batch, int n, int groups, float temperature, float* out) {
  const int64_t rows = int64_t(batch) * groups;
  if (rows <= 0 || n <= 0) return;
  RPG_GUARD();
  // out[rows=B*groups, n/groups] = softmax(in / T) per row
  k_softmax<<<row_blocks(rows), kThreads, 0, stream_>>>(in, rows, n / groups, temperature, out);
  RPG_LAUNCHED("k_softmax");
}

void CudaBackend::softmax_backward(const float* out, const float* delta_out, int batch, int n, int groups,
                                   float temperature, float* delta_in) {
  const int64_t rows = int64_t(batch) * groups;
  if (rows <= 0 || n <= 0) return;
  RPG_GUARD();
  // delta_in[rows, n/groups] += p (g - <g, p>) / T per row
  k_softmax_backward<<<row_blocks(rows), kThreads, 0, stream_>>>(out, delta_out, rows, n / groups, temperature,
                                                                 delta_in);
  RPG_LAUNCHED("k_softmax_backward");
}

void CudaBackend::softmax_cross_entropy(const float* p, const float* truth, int batch, int n, int groups,
                                        float temperature, float* err, float* delta_in) {
  const int64_t rows = int64_t(batch) * groups;
  if (rows <= 0 || n <= 0) return;
  RPG_GUARD();
  // err[rows, n/groups] = -t log p; delta_in += (p * sum(t) - t) / T per row
  k_softmax_cross_entropy<<<row_blocks(rows), kThreads, 0, stream_>>>(p, truth, rows, n / groups, temperature,
                                                                      err, delta_in);
  RPG_LAUNCHED("k_softmax_cross_entropy");
}

}  // namespace rpg
