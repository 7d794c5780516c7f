// Batch normalisation shared by the convolutional and connected layers.
#include "layers/batchnorm.h"

#include <algorithm>
#include <vector>

namespace rpg {

void BatchNorm::init(Backend& be, int channels) {
  channels_ = channels;
  scales.resize(be, channels);
  scale_grads.resize(be, channels);
  rolling_mean.resize(be, channels);
  rolling_var.resize(be, channels);
  mean_.resize(be, channels);
  var_.resize(be, channels);
  be.fill(scales.data(), channels, 1.f);
  be.fill(rolling_var.data(), channels, 1.f);
}

void BatchNorm::allocate(BufferStaging& s, int batch, int64_t spatial) {
  spatial_ = spatial;  // the same for every batch
  s.add(x_hat_, int64_t(batch) * channels_ * spatial);
}

void BatchNorm::forward(Backend& be, float* x, const Buffer<float>& biases, int batch, bool train, Act act,
                        int layout) {
  const float* mean = rolling_mean.data();
  const float* var = rolling_var.data();
  if (train) {
    be.bn_stats(x, batch, channels_, spatial_, mean_.data(), var_.data(), layout);
    ++updates;
    be.bn_running_update(mean_.data(), var_.data(), channels_, std::max(0.01f, 1.f / float(updates)),
                         int64_t(batch) * spatial_, rolling_mean.data(), rolling_var.data());
    mean = mean_.data();
    var = var_.data();
  }
  be.bn_apply(x, mean, var, scales.data(), biases.data(), batch, channels_, spatial_, epsilon(train), x_hat_.data(), act,
              layout);
}

void BatchNorm::backward(Backend& be, float* dy, Buffer<float>& bias_grads, int batch, bool train, int layout) {
  be.bn_backward(x_hat_.data(), scales.data(), train ? var_.data() : rolling_var.data(), batch,
                 channels_, spatial_, epsilon(train), train, dy, scale_grads.data(), bias_grads.data(), layout);
}

void normalize_and_activate(Backend& be, BatchNorm* norm, const Buffer<float>& biases, Buffer<float>& preact,
                            Act act, float* y, int batch, int channels, int64_t spatial, bool train, int layout) {
  if (norm && preact.empty()) {
    norm->forward(be, y, biases, batch, train, act, layout);
    return;
  }
  if (norm)
    norm->forward(be, y, biases, batch, train, Act::Linear, layout);
  else
    be.add_bias(y, biases.data(), batch, channels, spatial, layout);
  const int64_t total = int64_t(batch) * channels * spatial;
  if (!preact.empty()) be.copy(preact.data(), y, total);
  be.activate(act, y, y, total);
}

}  // namespace rpg
