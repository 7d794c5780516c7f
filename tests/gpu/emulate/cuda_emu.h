// A CPU emulation of the small part of CUDA and cuBLAS the backend uses: kernels run as
// cooperative fibers (one per CUDA thread, one block at a time), __syncthreads and warp shuffles
// are barriers over the block's live fibers; cuBLAS sgemm follows its documented column-major
// semantics with naive loops. For validating index math and call conventions without a GPU:
// it runs the CUDA backend's own kernels on the CPU (tests/gpu/emulate/run.sh). It cannot find
// data races (threads run one after another) or differences of device arithmetic.
#pragma once
#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __forceinline__ inline

struct uint3 { unsigned x = 0, y = 0, z = 0; };
struct dim3 { unsigned x = 1, y = 1, z = 1; dim3(unsigned a = 1) : x(a) {} };
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

template <class T> inline T min(T a, T b) { return a < b ? a : b; }
template <class T> inline T max(T a, T b) { return a > b ? a : b; }

namespace emu {
void run_block(unsigned threads, const std::function<void()>& body);
void barrier();  // __syncthreads
void* shuffle_slots();  // 8 bytes per thread of the block
template <class F>
void launch(dim3 grid, dim3 block, F body) {
  gridDim = grid;
  blockDim = block;
  const std::function<void()> f = body;
  for (unsigned b = 0; b < grid.x; ++b) {
    blockIdx.x = b;
    run_block(block.x, f);
  }
}
template <class T> T shfl_impl(T v, int mode, int arg) {  // 0: down, 1: xor, 2: broadcast
  T* slots = static_cast<T*>(shuffle_slots());
  const int tid = int(threadIdx.x), lane = tid % 32, base = tid - lane;
  slots[tid] = v;
  barrier();
  int src = mode == 0 ? lane + arg : mode == 1 ? (lane ^ arg) : arg;
  T r = src < 32 ? slots[base + src] : v;
  barrier();
  return r;
}
}  // namespace emu

#define __syncthreads() ::emu::barrier()
template <class T> inline T __shfl_down_sync(unsigned, T v, int o) { return emu::shfl_impl(v, 0, o); }
template <class T> inline T __shfl_xor_sync(unsigned, T v, int o) { return emu::shfl_impl(v, 1, o); }
template <class T> inline T __shfl_sync(unsigned, T v, int l) { return emu::shfl_impl(v, 2, l); }
