// Shared pieces of the CUDA backend's .cu files: error checks that throw rpg::Error, the device
// guard, launch sizes and the grid-stride loop. Internal to cuda/.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "base/error.h"

namespace rpg {
namespace cuda {

constexpr int kThreads = 256;  // threads per block of the element-wise kernels

// Blocks for n elements with a grid-stride loop (capped: the loop covers the rest).
inline unsigned blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(b, 1 << 16)));
}

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* call, int device) {
  cudaGetLastError();  // clear a non-sticky error so the backend stays usable
  fail(e == cudaErrorMemoryAllocation ? Status::OutOfMemory : Status::DeviceError,
       std::string("CUDA error in ") + call + " on device " + std::to_string(device) + ": " +
           cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")");
}

inline void check(cudaError_t e, const char* call, int device) {
  if (e != cudaSuccess) throw_cuda(e, call, device);
}

inline void check_blas(cublasStatus_t s, const char* call, int device) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail(s == CUBLAS_STATUS_ALLOC_FAILED ? Status::OutOfMemory : Status::DeviceError,
         std::string("cuBLAS error in ") + call + " on device " + std::to_string(device) + ": " +
             cublasGetStatusString(s));
}

// Makes `device` current on the calling thread before an operation, so no operation relies on
// whichever device the thread had. The caller's device is not restored: since CUDA 12 that would
// initialise a context on it (device 0 for a thread that never chose one).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    int current = -1;
    check(cudaGetDevice(&current), "cudaGetDevice", device);
    if (current != device) check(cudaSetDevice(device), "cudaSetDevice", device);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;
};

}  // namespace cuda
}  // namespace rpg

// Inside CudaBackend members: check a runtime or cuBLAS call, or the launch just made.
#define RPG_CUDA(call) ::rpg::cuda::check((call), #call, device_)
#define RPG_CUBLAS(call) ::rpg::cuda::check_blas((call), #call, device_)
#define RPG_LAUNCHED(kernel) ::rpg::cuda::check(cudaGetLastError(), "launch of " kernel, device_)
#define RPG_GUARD() ::rpg::cuda::DeviceGuard rpg_device_guard_(device_)

// for (i = global thread index; i < n; i += grid size), 64-bit.
#define RPG_FOR_EACH(i, n)                                                               \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < int64_t(n); \
       i += int64_t(blockDim.x) * gridDim.x)
