// The CUDA backend: the Backend interface on one NVIDIA device, with cuBLAS sgemm for GEMMs and
// convolutions (im2col over a chunk of images, one wide GEMM per group) and a kernel for every
// other operation. Each kernel computes what its CPU twin in src/backend/cpu_backend.cc computes;
// tests/test_cuda.cc compares them op by op.
//
// Ownership: the backend owns its device memory, a non-blocking stream and a cuBLAS handle. Every
// operation is queued on that stream; upload, download and sum wait for it. The device is
// selected per call (each operation makes this backend's device current on the calling thread),
// so two backends on two devices can be used from the same thread, or from different threads. Errors become rpg::Error with
// Status::DeviceError (OutOfMemory for a failed cudaMalloc), naming the failing call.
// Reductions whose CPU result is order-defined use fixed-shape trees in double, never atomics,
// so results are the same run after run.
//
// This header needs no CUDA header: the stream and the handle are declared opaquely.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "backend/backend.h"

struct CUstream_st;    // cudaStream_t
struct cublasContext;  // cublasHandle_t

namespace rpg {

class CudaBackend final : public Backend {
 public:
  // Throws Error(DeviceError) when `device` does not exist or cannot be initialised.
  explicit CudaBackend(int device = 0);
  // The number of usable devices; 0 with the reason in *why (no driver, no device...).
  static int device_count(std::string* why);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  int device() const { return device_; }
  // The device's name, e.g. "NVIDIA H200".
  std::string device_name() const;
  int threads() const override { return 1; }  // host threads are irrelevant to a device
  void set_threads(int n) override;
  // Waits until every queued operation has finished (benchmarks; errors surface here too).
  void synchronize();
  // Scratch budget (floats) for one chunk of images in the convolutions: it bounds memory only,
  // results agree for any value. Tests set it small to run several chunks.
  void set_conv_chunk_floats(int64_t floats) { chunk_floats_ = floats < 1 ? 1 : floats; }

  void* alloc(size_t bytes) override;
  void release(void* p) noexcept override;
  int64_t memory_available() override;  // cudaMemGetInfo's free bytes on this device
  void upload(void* dst, const void* host_src, size_t bytes) override;
  void download(void* host_dst, const void* src, size_t bytes) override;

  void fill(float* x, int64_t n, float v) override;
  void copy(float* dst, const float* src, int64_t n) override;
  void axpy(int64_t n, float a, const float* x, float* y) override;
  void scale(int64_t n, float a, float* x) override;
  double sum(const float* x, int64_t n) override;
  void copy_rows(int64_t rows, int64_t cols, const float* src, int64_t src_stride, float* dst,
                 int64_t dst_stride, bool accumulate) override;

  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) override;
  void conv_forward(const ConvGeometry& g, int batch, int groups, int filters, const float* in,
                    const float* weights, float* out, int in_layout = 0, int out_layout = 0, bool kernel_weights = false) override;
  void conv_backward(const ConvGeometry& g, int batch, int groups, int filters, const float* in,
                     const float* weights, const float* delta, float* weight_grads,
                     float* in_delta, int in_layout = 0, int out_layout = 0,
                     bool add_in_delta = true, bool kernel_weights = false) override;
  void im2col(const ConvGeometry& g, const float* im, float* col) override;
  void col2im(const ConvGeometry& g, const float* col, float* im) override;

  // Planar tensors only (layout 0): conv_training_layout and per_channel_any_layout keep their
  // defaults, so no network plans another layout here.
  void add_bias(float* out, const float* bias, int batch, int channels, int64_t spatial, int layout = 0) override;
  void bias_grad(const float* delta, int batch, int channels, int64_t spatial,
                 float* bias_grad, int layout = 0) override;
  void activate(Act a, const float* x, float* y, int64_t n) override;
  void activate_backward(Act a, const float* x, const float* y, float* delta, int64_t n) override;

  void bn_stats(const float* x, int batch, int channels, int64_t spatial, float* mean,
                float* var, int layout = 0) override;
  void bn_normalize(const float* x, const float* mean, const float* var, int batch, int channels,
                    int64_t spatial, BnEpsilon eps, float* x_hat) override;
  void bn_scale_shift(const float* x_hat, const float* gamma, const float* beta, int batch,
                      int channels, int64_t spatial, float* y) override;
  void bn_backward(const float* x_hat, const float* gamma, const float* var, int batch,
                   int channels, int64_t spatial, BnEpsilon eps, bool training, float* dy,
                   float* gamma_grad, float* beta_grad, int layout = 0) override;
  void bn_running_update(const float* mean, const float* var, int channels, float rate, int64_t m,
                         float* running_mean, float* running_var) override;

  void maxpool_forward(const PoolGeometry& g, const float* in, float* out, int32_t* idx) override;
  void maxpool_backward(const PoolGeometry& g, const float* delta_out, const int32_t* idx,
                        float* delta_in) override;
  void avgpool_forward(int batch, int channels, int64_t spatial, const float* in,
                       float* out, int layout = 0) override;
  void avgpool_backward(int batch, int channels, int64_t spatial, const float* delta_out,
                        float* delta_in, int layout = 0) override;

  void softmax_forward(const float* in, int batch, int n, int groups, float temperature,
                       float* out) override;
  void softmax_backward(const float* out, const float* delta_out, int batch, int n, int groups,
                        float temperature, float* delta_in) override;
  void softmax_cross_entropy(const float* p, const float* truth, int batch, int n, int groups,
                             float temperature, float* err, float* delta_in) override;
  void cost(CostType type, const float* x, const float* truth, int64_t n, float scale, float* err,
            float* delta_in) override;

  void shortcut_forward(int batch, int w1, int h1, int c1, const float* add, int w2, int h2,
                        int c2, float s1, float s2, float* out) override;
  void shortcut_backward(int batch, int w1, int h1, int c1, float* add_delta, int w2, int h2,
                         int c2, float s2, const float* out_delta) override;
  void upsample(const float* in, int batch, int channels, int h, int w, int stride, float scale,
                float* out) override;
  void upsample_backward(const float* delta_out, int batch, int channels, int h, int w, int stride,
                         float scale, float* delta_in) override;
  void crop(const float* in, int batch, int channels, int h, int w, int oh, int ow, int dy, int dx,
            bool flip, float scale, float shift, float* out) override;
  void crop_backward(const float* delta_out, int batch, int channels, int h, int w, int oh, int ow,
                     int dy, int dx, bool flip, float scale, float* delta_in) override;
  void dropout(const float* in, int64_t n, float p, uint64_t seed, float* out) override;
  void dropout_backward(const float* delta_out, int64_t n, float p, uint64_t seed,
                        float* delta_in) override;
  void ring_generate(const float* ring, const int32_t* code, int64_t n, float scale,
                     float* weights) override;
  void ring_gather(const float* g, const int32_t* inverse, int64_t n, int64_t k,
                   float* ring_grad) override;
  void sgd_update(float* w, float* grad, int64_t n, float lr, float decay,
                  float momentum) override;

 private:
  // Device scratch owned by this backend, grown on demand (never shrinks) and reused by the
  // operations one after another on the stream.
  void* scratch(size_t bytes);
  int device_;
  CUstream_st* stream_ = nullptr;
  cublasContext* blas_ = nullptr;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  int64_t chunk_floats_ = int64_t(1) << 26;  // 256 MB
};

}  // namespace rpg
