// Batch normalisation as used inside [convolutional] and [connected] (batch_normalize=1):
// y = scales * (x - mean) / std + biases, per channel over batch and space (std: epsilon()).
// Training uses the batch statistics; inference the running ones. The running statistics start
// unbiased: update t (1-based) blends with rate max(0.01, 1/t), so the first update copies the
// batch statistics instead of averaging them with zeros (Darknet's early-training bias).
#pragma once
#include "backend/buffer.h"
#include "layers/layer.h"

namespace rpg {

class BatchNorm {
 public:
  // 1 / std: sqrt(var + 1e-5) for batch statistics (training), Darknet's sqrt(var) + 1e-6 for
  // the running ones (inference), so Darknet's weights give Darknet's outputs.
  static constexpr float kTrainEps = 1e-5f, kInferenceEps = 1e-6f;
  static BnEpsilon epsilon(bool train) { return train ? BnEpsilon(kTrainEps, 0.f) : BnEpsilon(0.f, kInferenceEps); }

  void init(Backend& be, int channels);
  void allocate(BufferStaging& s, int batch, int64_t spatial);
  // x holds the pre-normalisation values; on return it holds y. `biases` is the layer's bias.
  // x = act(gamma x_hat + beta) in place (act: the layer's activation when it needs no
  // pre-activation copy, otherwise Linear and the layer activates).
  // layout: of x (and x_hat, dy; Backend's codes).
  void forward(Backend& be, float* x, const Buffer<float>& biases, int batch, bool train, Act act = Act::Linear,
               int layout = 0);
  // dy (in place) becomes dx; accumulates scale and bias gradients.
  void backward(Backend& be, float* dy, Buffer<float>& bias_grads, int batch, bool train, int layout = 0);
  void mark_settled() { updates = 100; }

  Buffer<float> scales, scale_grads, rolling_mean, rolling_var;
  int64_t updates = 0;  // running-statistics updates so far

 private:
  int channels_ = 0;
  int64_t spatial_ = 1;
  Buffer<float> mean_, var_, x_hat_;
};

// The end of a [convolutional] or [connected] forward pass on its linear output y (batch x
// channels x spatial): batch norm when `norm` is given, else the bias; then the activation,
// copying the pre-activation into `preact` first when that is allocated (the activation's
// gradient needs it). Without that copy, batch norm and activation run in one pass.
void normalize_and_activate(Backend& be, BatchNorm* norm, const Buffer<float>& biases, Buffer<float>& preact,
                            Act act, float* y, int batch, int channels, int64_t spatial, bool train, int layout = 0);

}  // namespace rpg
