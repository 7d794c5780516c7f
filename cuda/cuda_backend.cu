// CUDA backend, part 1: construction, memory, element-wise kernels and GEMM. Each kernel's CPU
// twin is the function of the same name in src/backend/cpu_backend.cc.
#include "cuda_backend.h"

#include <cfloat>

#include "base/random.h"
#include "base/ring_code.h"
#include "cuda_common.cuh"

namespace rpg {

namespace {

using cuda::blocks_for;
using cuda::kThreads;

__global__ void k_fill(float* x, int64_t n, float v) {
  RPG_FOR_EACH(i, n) x[i] = v;
}
__global__ void k_axpy(int64_t n, float a, const float* x, float* y) {
  RPG_FOR_EACH(i, n) y[i] += a * x[i];
}
__global__ void k_scale(int64_t n, float a, float* x) {
  RPG_FOR_EACH(i, n) x[i] *= a;
}
// c[i, j] *= beta over an m x n block with leading dimension ldc (gemm with k = 0).
__global__ void k_scale_matrix(int m, int n, float beta, float* c, int ldc) {
  RPG_FOR_EACH(t, int64_t(m) * n) c[(t / n) * ldc + t % n] *= beta;
}
__global__ void k_copy_rows(int64_t rows, int64_t cols, const float* src, int64_t src_stride, float* dst,
                            int64_t dst_stride, bool accumulate) {
  RPG_FOR_EACH(t, rows * cols) {
    const int64_t r = t / cols, i = t - r * cols;
    const float v = src[r * src_stride + i];
    float* d = dst + r * dst_stride + i;
    *d = accumulate ? *d + v : v;
  }
}
__global__ void k_add_bias(float* out, const float* bias, int channels, int64_t spatial, int64_t n) {
  RPG_FOR_EACH(i, n) out[i] += bias[(i / spatial) % channels];
}
__global__ void k_activate(Act a, const float* x, float* y, int64_t n) {
  RPG_FOR_EACH(i, n) y[i] = act_apply(a, x[i]);
}
// x may be null (activations whose derivative needs only y), as on the CPU.
__global__ void k_activate_backward(Act a, const float* x, const float* y, float* delta, int64_t n) {
  RPG_FOR_EACH(i, n) delta[i] *= act_gradient(a, x ? x[i] : 0.f, y[i]);
}
__global__ void k_cost(CostType type, const float* x, const float* truth, int64_t n, float scale, float* err,
                       float* delta_in) {
  RPG_FOR_EACH(i, n) {
    const float d = x[i] - truth[i];
    float e = 0, g = 0;
    switch (type) {
      case CostType::Sse: e = .5f * d * d; g = d; break;
      case CostType::Masked:
        if (truth[i] != -1234.f) { e = .5f * d * d; g = d; }
        break;
      case CostType::Smooth:
        if (fabsf(d) < 1) { e = .5f * d * d; g = d; }
        else { e = fabsf(d) - .5f; g = d > 0 ? 1.f : -1.f; }
        break;
      case CostType::L1: e = fabsf(d); g = d > 0 ? 1.f : (d < 0 ? -1.f : 0.f); break;
    }
    err[i] = scale * e;
    delta_in[i] += scale * g;
  }
}
// The same counter-based mask as the CPU: element i is dropped when uniform01(seed, i) < p.
__global__ void k_dropout(const float* in, int64_t n, float p, uint64_t seed, float keep_scale, float* out) {
  RPG_FOR_EACH(i, n) out[i] = uniform01(seed, uint64_t(i)) < p ? 0.f : in[i] * keep_scale;
}
__global__ void k_dropout_backward(const float* delta_out, int64_t n, float p, uint64_t seed, float keep_scale,
                                   float* delta_in) {
  RPG_FOR_EACH(i, n) if (uniform01(seed, uint64_t(i)) >= p) delta_in[i] += delta_out[i] * keep_scale;
}
__global__ void k_ring_generate(const float* ring, const int32_t* code, int64_t n, float scale, float* w) {
  RPG_FOR_EACH(i, n) {
    w[i] = ring_decode(ring, code[i], scale);
  }
}
// One thread per ring entry j, summing its positions in the CPU's order (bit-identical).
__global__ void k_ring_gather(const float* g, const int32_t* inverse, int64_t n, int64_t k, float* ring_grad) {
  RPG_FOR_EACH(j, k) {
    float acc = 0.f;
    for (int64_t x = j; x < n; x += k) acc += ring_signed(g, inverse[x]);
    ring_grad[j] += acc;
  }
}
__global__ void k_sgd_update(float* w, float* grad, int64_t n, float lr, float decay, float momentum) {
  RPG_FOR_EACH(i, n) {
    const float g = grad[i] + decay * w[i];
    w[i] -= lr * g;
    grad[i] = momentum * g;
  }
}

}  // namespace

// ---- construction -------------------------------------------------------------------------

CudaBackend::CudaBackend(int device) : device_(device) {
  std::string why;
  const int count = device_count(&why);
  if (count == 0) fail(Status::DeviceError, "no CUDA device: " + why);
  if (device < 0 || device >= count)
    fail(Status::DeviceError, "CUDA device " + std::to_string(device) + " does not exist (this machine has " +
                                  std::to_string(count) + ": 0.." + std::to_string(count - 1) + ")");
  RPG_GUARD();
  try {
    RPG_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    RPG_CUBLAS(cublasCreate(&blas_));
    RPG_CUBLAS(cublasSetStream(blas_, stream_));
    // Full float32 arithmetic (no TF32): results must agree with the CPU within 1e-4.
    RPG_CUBLAS(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));
  } catch (...) {
    if (blas_) cublasDestroy(blas_);
    if (stream_) cudaStreamDestroy(stream_);
    throw;
  }
}

CudaBackend::~CudaBackend() {
  int current = -1;
  if (cudaGetDevice(&current) == cudaSuccess && current != device_) cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  if (scratch_) cudaFree(scratch_);
  cublasDestroy(blas_);
  cudaStreamDestroy(stream_);
  cudaGetLastError();  // nothing may escape a destructor
}

int CudaBackend::device_count(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (why) *why = std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")";
    return 0;
  }
  if (count == 0 && why) *why = "the CUDA runtime found no device";
  return count;
}

std::string CudaBackend::device_name() const {
  cudaDeviceProp p;
  cuda::check(cudaGetDeviceProperties(&p, device_), "cudaGetDeviceProperties", device_);
  return p.name;
}

void CudaBackend::set_threads(int n) {
  if (n < 1) fail(Status::InvalidArgument, "thread count must be at least 1, got " + std::to_string(n));
}

void CudaBackend::synchronize() {
  RPG_GUARD();
  RPG_CUDA(cudaStreamSynchronize(stream_));
}

void* CudaBackend::scratch(size_t bytes) {
  if (bytes > scratch_bytes_) {
    RPG_CUDA(cudaStreamSynchronize(stream_));  // queued kernels may still read the old scratch
    if (scratch_) RPG_CUDA(cudaFree(scratch_));
    scratch_ = nullptr;
    scratch_bytes_ = 0;
    RPG_CUDA(cudaMalloc(&scratch_, bytes));
    scratch_bytes_ = bytes;
  }
  return scratch_;
}

// ---- memory -------------------------------------------------------------------------------

void* CudaBackend::alloc(size_t bytes) {
  RPG_GUARD();
  const size_t rounded = (bytes + 255) / 256 * 256;
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, rounded ? rounded : 256);
  if (e != cudaSuccess) {
    cudaGetLastError();
    fail(e == cudaErrorMemoryAllocation ? Status::OutOfMemory : Status::DeviceError,
         "CUDA error in cudaMalloc of " + std::to_string(bytes) + " bytes on device " + std::to_string(device_) +
             ": " + cudaGetErrorString(e));
  }
  try {
    RPG_CUDA(cudaMemsetAsync(p, 0, rounded ? rounded : 256, stream_));
  } catch (...) {
    cudaFree(p);
    throw;
  }
  return p;
}

int64_t CudaBackend::memory_available() {
  RPG_GUARD();
  size_t free_bytes = 0, total = 0;
  if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return int64_t(free_bytes);
}

void CudaBackend::release(void* p) noexcept {
  if (!p) return;
  int current = -1;
  if (cudaGetDevice(&current) == cudaSuccess && current != device_) cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);  // queued kernels may still use p
  cudaFree(p);
  cudaGetLastError();
}

void CudaBackend::upload(void* dst, const void* host_src, size_t bytes) {
  if (!bytes) return;
  RPG_GUARD();
  RPG_CUDA(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream_));
  RPG_CUDA(cudaStreamSynchronize(stream_));
}

void CudaBackend::download(void* host_dst, const void* src, size_t bytes) {
  if (!bytes) return;
  RPG_GUARD();
  RPG_CUDA(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  RPG_CUDA(cudaStreamSynchronize(stream_));
}

// ---- vector operations --------------------------------------------------------------------

void CudaBackend::fill(float* x, int64_t n, float v) {
  if (n <= 0) return;
  RPG_GUARD();
  k_fill<<<blocks_for(n), kThreads, 0, stream_>>>(x, n, v);
  RPG_LAUNCHED("k_fill");
}

void CudaBackend::copy(float* dst, const float* src, int64_t n) {
  if (dst == src || n <= 0) return;
  RPG_GUARD();
  RPG_CUDA(cudaMemcpyAsync(dst, src, size_t(n) * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
}

void CudaBackend::axpy(int64_t n, float a, const float* x, float* y) {
  if (n <= 0) return;
  RPG_GUARD();
  k_axpy<<<blocks_for(n), kThreads, 0, stream_>>>(n, a, x, y);
  RPG_LAUNCHED("k_axpy");
}

void CudaBackend::scale(int64_t n, float a, float* x) {
  if (n <= 0) return;
  RPG_GUARD();
  k_scale<<<blocks_for(n), kThreads, 0, stream_>>>(n, a, x);
  RPG_LAUNCHED("k_scale");
}

void CudaBackend::copy_rows(int64_t rows, int64_t cols, const float* src, int64_t src_stride, float* dst,
                            int64_t dst_stride, bool accumulate) {
  if (rows <= 0 || cols <= 0) return;
  RPG_GUARD();
  // dst[r, 0:cols] (+)= src[r, 0:cols] for r < rows
  k_copy_rows<<<blocks_for(rows * cols), kThreads, 0, stream_>>>(rows, cols, src, src_stride, dst, dst_stride,
                                                                 accumulate);
  RPG_LAUNCHED("k_copy_rows");
}

// Row-major C = op(A) op(B) as column-major C^T = op(B)^T op(A)^T: swap the operands.
void CudaBackend::gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                       const float* b, int ldb, float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  RPG_GUARD();
  if (k <= 0) {  // as BLAS (and the CPU backend): C *= beta
    if (beta != 1.f) {
      k_scale_matrix<<<blocks_for(int64_t(m) * n), kThreads, 0, stream_>>>(m, n, beta, c, ldc);
      RPG_LAUNCHED("k_scale_matrix");
    }
    return;
  }
  // C[M=m, N=n] = alpha op(A)[M, K=k] x op(B)[K, N] + beta C
  RPG_CUBLAS(cublasSgemm(blas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha,
                         b, ldb, a, lda, &beta, c, ldc));
}

// ---- element-wise layer operations --------------------------------------------------------

void CudaBackend::add_bias(float* out, const float* bias, int batch, int channels, int64_t spatial, int layout) {
  planar_only(layout, "add_bias");
  const int64_t n = int64_t(batch) * channels * spatial;
  if (n <= 0) return;
  RPG_GUARD();
  // out[B=batch, C=channels, S=spatial] += bias[C]
  k_add_bias<<<blocks_for(n), kThreads, 0, stream_>>>(out, bias, channels, spatial, n);
  RPG_LAUNCHED("k_add_bias");
}

void CudaBackend::activate(Act a, const float* x, float* y, int64_t n) {
  if (a == Act::Linear) {
    copy(y, x, n);
    return;
  }
  if (n <= 0) return;
  RPG_GUARD();
  k_activate<<<blocks_for(n), kThreads, 0, stream_>>>(a, x, y, n);
  RPG_LAUNCHED("k_activate");
}

void CudaBackend::activate_backward(Act a, const float* x, const float* y, float* delta, int64_t n) {
  if (a == Act::Linear || n <= 0) return;
  RPG_GUARD();
  k_activate_backward<<<blocks_for(n), kThreads, 0, stream_>>>(a, x, y, delta, n);
  RPG_LAUNCHED("k_activate_backward");
}

void CudaBackend::cost(CostType type, const float* x, const float* truth, int64_t n, float scale, float* err,
                       float* delta_in) {
  if (n <= 0) return;
  RPG_GUARD();
  k_cost<<<blocks_for(n), kThreads, 0, stream_>>>(type, x, truth, n, scale, err, delta_in);
  RPG_LAUNCHED("k_cost");
}

void CudaBackend::dropout(const float* in, int64_t n, float p, uint64_t seed, float* out) {
  if (n <= 0) return;
  RPG_GUARD();
  const float keep_scale = 1.f / (1.f - p);
  k_dropout<<<blocks_for(n), kThreads, 0, stream_>>>(in, n, p, seed, keep_scale, out);
  RPG_LAUNCHED("k_dropout");
}

void CudaBackend::dropout_backward(const float* delta_out, int64_t n, float p, uint64_t seed, float* delta_in) {
  if (n <= 0) return;
  RPG_GUARD();
  const float keep_scale = 1.f / (1.f - p);
  k_dropout_backward<<<blocks_for(n), kThreads, 0, stream_>>>(delta_out, n, p, seed, keep_scale, delta_in);
  RPG_LAUNCHED("k_dropout_backward");
}

void CudaBackend::ring_generate(const float* ring, const int32_t* code, int64_t n, float scale, float* weights) {
  if (n <= 0) return;
  RPG_GUARD();
  // weights[N=n] = scale * sign(code) * ring[|code| - 1]
  k_ring_generate<<<blocks_for(n), kThreads, 0, stream_>>>(ring, code, n, scale, weights);
  RPG_LAUNCHED("k_ring_generate");
}

void CudaBackend::ring_gather(const float* g, const int32_t* inverse, int64_t n, int64_t k, float* ring_grad) {
  if (n <= 0 || k <= 0) return;
  RPG_GUARD();
  // ring_grad[K=k] += sum over t of sign * g[pos] for inverse[j + t K], t < ceil(N / K)
  k_ring_gather<<<blocks_for(k), kThreads, 0, stream_>>>(g, inverse, n, k, ring_grad);
  RPG_LAUNCHED("k_ring_gather");
}

void CudaBackend::sgd_update(float* w, float* grad, int64_t n, float lr, float decay, float momentum) {
  if (n <= 0) return;
  RPG_GUARD();
  k_sgd_update<<<blocks_for(n), kThreads, 0, stream_>>>(w, grad, n, lr, decay, momentum);
  RPG_LAUNCHED("k_sgd_update");
}

}  // namespace rpg
