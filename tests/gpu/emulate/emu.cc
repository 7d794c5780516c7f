// The emulator's runtime: the fiber scheduler behind kernel launches, the CUDA runtime calls
// on host memory, and cuBLAS sgemm as documented (column-major). See cuda_emu.h.
#include <cstdio>
#include <string>

#include "cublas_v2.h"

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace emu {
namespace {
ucontext_t sched;
std::vector<ucontext_t> ctx;
std::vector<std::vector<char>> stacks;
std::vector<char> done;
const std::function<void()>* body_ptr;
unsigned cur;
alignas(16) char slots[8 * 1024];
void trampoline() {
  (*body_ptr)();
  done[cur] = 1;
}
}  // namespace

void* shuffle_slots() { return slots; }

void run_block(unsigned threads, const std::function<void()>& body) {
  if (threads > 1024) std::abort();
  if (ctx.size() < threads) {
    ctx.resize(threads);
    stacks.resize(threads);
    for (auto& s : stacks) s.resize(256 * 1024);
  }
  done.assign(threads, 0);
  body_ptr = &body;
  for (unsigned i = 0; i < threads; ++i) {
    getcontext(&ctx[i]);
    ctx[i].uc_stack.ss_sp = stacks[i].data();
    ctx[i].uc_stack.ss_size = stacks[i].size();
    ctx[i].uc_link = &sched;
    makecontext(&ctx[i], trampoline, 0);
  }
  for (bool live = true; live;) {
    live = false;
    for (unsigned i = 0; i < threads; ++i) {
      if (done[i]) continue;
      cur = i;
      threadIdx.x = i;
      swapcontext(&sched, &ctx[i]);
      if (!done[i]) live = true;
    }
  }
}

void barrier() { swapcontext(&ctx[cur], &sched); }
}  // namespace emu

namespace {
cudaError_t last = cudaSuccess;
int current = 0;
}
cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaGetDevice(int* d) { *d = current; return cudaSuccess; }
cudaError_t cudaSetDevice(int d) { if (d != 0) return last = cudaErrorInvalidDevice; current = d; return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { *s = new CUstream_st{0}; return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t s) { delete s; return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
// The emulated device reports a fixed 64 GiB, all of it free (the memory estimate's input).
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *free_bytes = *total_bytes = size_t(64) << 30;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  if (bytes > (size_t(1) << 40)) return last = cudaErrorMemoryAllocation;
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  std::memset(*p, 0xcd, bytes);  // garbage, like real device memory
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
cudaError_t cudaMemsetAsync(void* p, int v, size_t bytes, cudaStream_t) { std::memset(p, v, bytes); return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  std::memmove(d, s, bytes);
  return cudaSuccess;
}
cudaError_t cudaGetLastError() { cudaError_t e = last; last = cudaSuccess; return e; }
const char* cudaGetErrorString(cudaError_t e) { return e == cudaErrorMemoryAllocation ? "out of memory" : "emulated error"; }
const char* cudaGetErrorName(cudaError_t e) { return e == cudaErrorMemoryAllocation ? "cudaErrorMemoryAllocation" : "cudaErrorX"; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) { std::strcpy(p->name, "emulated device"); return cudaSuccess; }

cublasStatus_t cublasCreate(cublasHandle_t* h) { *h = new cublasContext{nullptr}; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy(cublasHandle_t h) { delete h; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) { h->s = s; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
const char* cublasGetStatusString(cublasStatus_t) { return "emulated cublas error"; }

// Column-major, as documented: C(i, j) = alpha sum_l op(A)(i, l) op(B)(l, j) + beta C(i, j).
cublasStatus_t cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  if (m < 0 || n < 0 || k < 0 || lda < std::max(1, ta == CUBLAS_OP_N ? m : k) ||
      ldb < std::max(1, tb == CUBLAS_OP_N ? k : n) || ldc < std::max(1, m)) {
    std::fprintf(stderr, "EMU: cublasSgemm invalid: ta=%d tb=%d m=%d n=%d k=%d lda=%d ldb=%d ldc=%d\n", ta, tb, m, n,
                 k, lda, ldb, ldc);
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      float s = 0;
      for (int l = 0; l < k; ++l) {
        const float a = ta == CUBLAS_OP_N ? A[i + size_t(l) * lda] : A[l + size_t(i) * lda];
        const float b = tb == CUBLAS_OP_N ? B[l + size_t(j) * ldb] : B[j + size_t(l) * ldb];
        s += a * b;
      }
      float& c = C[i + size_t(j) * ldc];
      c = *beta == 0.f ? *alpha * s : *alpha * s + *beta * c;
    }
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float* alpha, const float* A, int lda, long long sa,
                                         const float* B, int ldb, long long sb, const float* beta, float* C, int ldc,
                                         long long sc, int count) {
  for (int b = 0; b < count; ++b) {
    cublasStatus_t s = cublasSgemm(h, ta, tb, m, n, k, alpha, A + b * sa, lda, B + b * sb, ldb, beta, C + b * sc, ldc);
    if (s) return s;
  }
  return CUBLAS_STATUS_SUCCESS;
}
