// The CPU backend: OpenBLAS sgemm plus OpenMP loops. The reference every other backend is
// compared with.
//
// Threads: every parallel loop, sgemm included, uses this backend's own thread count through
// OpenMP's num_threads clause (no global state of rpgnet's own). With the oneDNN engine, gemm
// runs on oneDNN's sgemm (the connected layer) and convolutions on its primitives, on the same
// OpenMP threads. In the reference engine OpenBLAS is used single-threaded in the calling thread:
// sgemm calls are split into one block of C per thread here, which avoids
// two thread pools (OpenMP's and OpenBLAS's) competing for the same cores. OpenBLAS's thread count
// is process-wide; the backend sets it to 1 before each sgemm when it differs, which a host
// program that also calls OpenBLAS directly should know.
#pragma once
#include <memory>

#include "backend/backend.h"

namespace rpg {

class OneDnnConvolutions;

// How the CPU backend convolves. OneDnn: oneDNN's JIT kernels (backend/onednn_conv.h), the
// default; identical results run to run for one thread count. Reference: im2col + OpenBLAS and
// Winograd, whose results are also identical across thread counts (rpgnet --deterministic).
enum class CpuEngine { OneDnn, Reference };

// Not final: tests override alloc and memory_available to inject failures into one backend.
class CpuBackend : public Backend {
 public:
  explicit CpuBackend(int threads = 1, CpuEngine engine = CpuEngine::OneDnn);
  ~CpuBackend() override;
  CpuBackend(const CpuBackend&) = delete;
  CpuBackend& operator=(const CpuBackend&) = delete;
  std::string name() const override { return "cpu"; }
  int threads() const override { return threads_; }
  CpuEngine engine() const { return dnn_ ? CpuEngine::OneDnn : CpuEngine::Reference; }
  // The kernels the engine runs for one convolution shape, for reports ("reference" or
  // oneDNN's implementation names, forward / weight gradient / data gradient).
  std::string conv_kernels(const ConvGeometry& g, int batch, int groups, int filters);
  void set_threads(int n) override;

  void* alloc(size_t bytes) override;
  void release(void* p) noexcept override;
  int64_t memory_available() override;  // MemAvailable of /proc/meminfo
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
  int conv_training_layout(const ConvGeometry& g, int batch, int groups, int filters) override;
  std::vector<int64_t> conv_weight_order(const ConvGeometry& g, int batch, int groups, int filters, int in_layout,
                                         int out_layout) override;
  void conv_prepare_training(const ConvGeometry& g, int batch, int groups, int filters, int in_layout,
                             int out_layout) override;
  void conv_inference(const ConvGeometry& g, int batch, int groups, int filters, const float* in,
                      const float* weights, const float* biases, const BnInference* bn, Act act,
                      float* out, uint64_t params_version, int in_layout, int out_layout,
                      const Act* sum = nullptr) override;
  bool conv_inference_sums(const ConvGeometry& g, int batch, int groups, int filters, Act act, Act sum_act,
                           int in_layout, int out_layout) override;
  int conv_inference_layout(const ConvGeometry& g, int batch, int groups, int filters, Act act) override;
  void conv_prepare_inference(const ConvGeometry& g, int batch, int groups, int filters, Act act, int in_layout,
                              int out_layout) override;
  void conv_prepare(const ConvGeometry& g, int batch, int groups, int filters, Act act) override;
  int64_t conv_workspace_bytes(const ConvGeometry& g, int batch, int groups, int filters, Act act) override;
  void im2col(const ConvGeometry& g, const float* im, float* col) override;
  void col2im(const ConvGeometry& g, const float* col, float* im) override;

  void add_bias(float* out, const float* bias, int batch, int channels, int64_t spatial, int layout = 0) override;
  void bias_grad(const float* delta, int batch, int channels, int64_t spatial,
                 float* bias_grad, int layout = 0) override;
  bool per_channel_any_layout() override { return true; }
  void activate(Act a, const float* x, float* y, int64_t n) override;
  void activate_backward(Act a, const float* x, const float* y, float* delta, int64_t n) override;

  void bn_stats(const float* x, int batch, int channels, int64_t spatial, float* mean,
                float* var, int layout = 0) override;
  void bn_normalize(const float* x, const float* mean, const float* var, int batch, int channels,
                    int64_t spatial, BnEpsilon eps, float* x_hat) override;
  void bn_scale_shift(const float* x_hat, const float* gamma, const float* beta, int batch,
                      int channels, int64_t spatial, float* y) override;
  void bn_apply(float* x, const float* mean, const float* var, const float* gamma, const float* beta, int batch,
                int channels, int64_t spatial, BnEpsilon eps, float* x_hat, Act act, int layout = 0) override;
  void bn_backward(const float* x_hat, const float* gamma, const float* var, int batch,
                   int channels, int64_t spatial, BnEpsilon eps, bool training, float* dy,
                   float* gamma_grad, float* beta_grad, int layout = 0) override;
  void bn_running_update(const float* mean, const float* var, int channels, float rate, int64_t m,
                         float* running_mean, float* running_var) override;

  void maxpool_forward(const PoolGeometry& g, const float* in, float* out, int32_t* idx) override;
  void maxpool_backward(const PoolGeometry& g, const float* delta_out, const int32_t* idx,
                        float* delta_in) override;
  void maxpool_inference(const PoolGeometry& g, const float* in, float* out, int32_t* idx, int layout) override;
  void maxpool_prepare(const PoolGeometry& g, int layout) override;
  bool maxpool_any_layout(const PoolGeometry& g) override;
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
  void shortcut_activate(int64_t n, const float* x, const float* add, float s1, float s2, Act act,
                         float* out) override;
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
  // Scratch memory owned by this backend, grown on demand and reused (never shrinks), so that
  // steady-state passes allocate nothing.
  float* scratch(int64_t floats);
  void winograd_conv(const ConvGeometry& g, int batch, int filters, const float* in, const float* weights,
                     float* out, bool data_grad, bool accumulate);
  void winograd_backward(const ConvGeometry& g, int batch, int filters, const float* in, const float* weights,
                         const float* delta, float* weight_grads, float* in_delta);

  int threads_;
  std::unique_ptr<OneDnnConvolutions> dnn_;  // null: the reference engine
  float* scratch_ = nullptr;
  int64_t scratch_floats_ = 0;
};

}  // namespace rpg
