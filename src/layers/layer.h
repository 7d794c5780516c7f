// The Layer base class: one subclass per cfg section type, each in its own file, each with the
// same verbs (forward, backward; the optimizer updates what params() lists). Layers only call
// Backend operations, so they run unchanged on every backend.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/buffer.h"
#include "base/random.h"
#include "base/shape.h"

namespace rpg {

class Layer;
class Options;

// What one forward or backward pass sees. Set up by Network for each layer in turn.
struct NetState {
  Backend& be;
  int batch = 1;
  bool train = false;
  // No backward pass follows (Network::predict): layers may fuse operations and keep nothing for
  // one. Only with train == false.
  bool inference = false;
  uint64_t params_version = 0;   // Network::params_version() (inference passes; 0: unknown)
  // Every tensor planar NCHW, whatever the plans say (a forward pass without training of the
  // int8 engine's float32 layers, which hands planar tensors between layers).
  bool planar = false;
  // The layout of input: the previous layer's infer_layout in an inference pass, its
  // train_layout in the others (forward and backward).
  int input_layout = 0;
  const float* input = nullptr;  // this layer's input: the previous layer's output
  float* input_delta = nullptr;  // where to accumulate d loss / d input; null: not needed
  // In backward, for a layer that writes_input_delta(): nothing else writes input_delta, and it
  // was not zeroed (it holds anything), so the layer writes all of it instead of accumulating.
  bool input_delta_unset = false;
  // In an inference pass, for a layer that fuses_sum: the shortcut after it is fused into it, so
  // it writes sum_act(its output + sum_into) into sum_into (the shortcut's other input) instead
  // of writing its output.
  float* sum_into = nullptr;
  Act sum_act = Act::Linear;
  const float* truth = nullptr;  // batch x outputs of the last layer, for loss layers
  uint64_t seed = 0;             // per pass and layer: dropout masks, random crops
  double loss = 0;               // loss layers add their summed loss here
};

// A trainable tensor and its gradient accumulator (which doubles as the momentum buffer).
struct Param {
  Buffer<float>* value;
  Buffer<float>* grad;
  bool decay;  // weight decay applies to weights only (DARKNET.md)
};

// What a layer's factory needs to know to build it.
struct BuildContext {
  Backend& be;
  Rng& rng;                      // initialisation
  Shape in;                      // output shape of the previous layer (or the network input)
  int index;                     // this layer's index
  const std::vector<std::unique_ptr<Layer>>& previous;
  int64_t& parameter_bytes;      // parameters (values and gradients) of the layers so far
  int64_t memory_available;      // the backend's memory when the build started; -1: unknown
};

// A convolutional or connected layer as the int8 inference engine sees it (core/int8_net.h): a
// grouped convolution (a connected layer: 1 x 1 on a 1 x 1 input of in.size() channels) with
// weights filters x channels x k x k, biases, the batch norm to fold (inference statistics), and
// the activation.
struct LinearOp {
  ConvGeometry g{};
  int groups = 1, filters = 0;
  Act act = Act::Linear;
  const Buffer<float>* weights = nullptr;
  const Buffer<float>* biases = nullptr;
  const Buffer<float>* bn_scales = nullptr;  // null: no batch norm
  const Buffer<float>* bn_mean = nullptr;
  const Buffer<float>* bn_var = nullptr;
};

// A shortcut layer as the int8 engine sees it: out = act(alpha * prev + beta * layer[from]);
// same_shape false for Darknet's partial sums over differing shapes.
struct ShortcutOp {
  int from = 0;
  Act act = Act::Linear;
  float alpha = 1, beta = 1;
  bool same_shape = true;
};

class Layer {
 public:
  virtual ~Layer() = default;

  std::string type;  // canonical section name: "convolutional", ...
  int index = 0;
  Shape in, out;
  float lr_mult = 1;         // learning_rate key: multiplier of the network's rate
  bool stopbackward = false;
  bool dontsave = false, dontload = false;

  Buffer<float> output;  // batch x out.size()
  // d loss / d output, batch x out.size(): memory the network lends for the backward pass only,
  // shared with layers whose deltas are not live at the same time (Network::set_batch).
  BufferRef<float> delta;

  // Stages the per-batch buffers for `batch` images (Network::set_batch commits them all at once,
  // or none when one allocation fails). Subclasses extend it for their own.
  virtual void allocate(BufferStaging& s, int batch) { s.add(output, int64_t(batch) * out.size()); }
  // Lets the backend build what this layer's passes need at `batch` (after allocate, before the
  // staged buffers are committed; a failure throws and the network stays as it was).
  virtual void prepare(Backend& /*be*/, int /*batch*/) {}
  // Scratch memory the backend needs for this layer's passes at `batch`, in bytes.
  virtual int64_t workspace_bytes(Backend& /*be*/, int /*batch*/) const { return 0; }

  // The layouts of the passes (Network::set_batch plans them, one plan for the inference pass and
  // one for the training passes; Backend::conv_inference_layout's codes: 0 planar NCHW, 1 NHWC,
  // 8 and 16 channel-blocked). The layout of this layer's output in Network::infer; and of its
  // output and its delta in the other passes (forward, with or without training, and backward).
  int infer_layout = 0;
  int train_layout = 0;
  int out_layout(const NetState& s) const { return s.planar ? 0 : s.inference ? infer_layout : train_layout; }
  // How the layer takes its inputs in an inference pass (training false) or in the training passes
  // (training true): planar only; any layout (its kernel reorders what it needs); or in its
  // inputs' layout (element by element, or a pooling in any layout: its inputs and its output all
  // in one; in training also the deltas).
  enum class InferInputs { Planar, Any, Elementwise };
  virtual InferInputs layout_inputs(Backend& /*be*/, int /*batch*/, bool /*training*/) const {
    return InferInputs::Planar;
  }
  // The layers whose outputs this layer reads (-1: the network's input): by default the
  // previous one and delta_sources().
  virtual std::vector<int> inputs() const {
    std::vector<int> v{index - 1};
    for (int j : delta_sources()) v.push_back(j);
    return v;
  }
  // For InferInputs::Any: the layout the layer would rather write (0: planar).
  virtual int preferred_layout(Backend& /*be*/, int /*batch*/, bool /*training*/) const { return 0; }
  // Builds what the passes need for the planned layouts (after prepare; throws Error, leaving the
  // network as it was).
  virtual void prepare_layouts(Backend& /*be*/, int /*batch*/, int /*in_layout*/, int /*out_layout*/,
                               bool /*training*/) {}
  virtual void forward(NetState& s) = 0;
  // Accumulates into s.input_delta (when non-null) and into parameter gradients.
  virtual void backward(NetState& s) = 0;
  // Whether backward writes every element of s.input_delta when s.input_delta_unset says so
  // (which spares the network zeroing it, and the layer a pass adding to it).
  virtual bool writes_input_delta() const { return false; }

  // Earlier layers, other than the previous one, whose deltas backward() accumulates into
  // (shortcut, route): the network keeps their deltas live until then.
  virtual std::vector<int> delta_sources() const { return {}; }
  virtual std::vector<Param> params() { return {}; }
  // The tensors a Darknet .weights file holds for this layer, in file order.
  virtual std::vector<Buffer<float>*> weight_file_order() { return {}; }
  virtual int64_t num_params() const { return 0; }
  virtual int64_t macs() const { return 0; }  // multiply-adds per image (Darknet's BFLOPs / 2)
  virtual bool is_loss() const { return false; }
  // Columns of the summary table: filters and size/stride ("" when not applicable), and a note.
  virtual std::string summary_filters() const { return ""; }
  virtual std::string summary_size() const { return ""; }
  virtual std::string summary_note() const { return ""; }
  // Called after weights are loaded from a file (batch norm treats its statistics as settled).
  virtual void on_weights_loaded() {}
  // The weight tensor a ring can generate (convolutional and connected layers), with its
  // gradient and fan-out (RPG.md); value == nullptr for layers without one.
  struct WeightTensor {
    Buffer<float>* value = nullptr;
    Buffer<float>* grad = nullptr;
    int64_t fan_out = 0;
  };
  virtual WeightTensor main_weights() { return {}; }
  // For a layer whose weights a ring generates: the order its training kernels read them in (at
  // `batch`, with these layouts of its input and output: Backend::conv_weight_order; empty:
  // planar), set by the ring with the weights in it (Ring::set_orders). main_weights().grad is
  // then in that order too.
  virtual std::vector<int64_t> kernel_weight_order(Backend& /*be*/, int /*batch*/, int /*in_layout*/,
                                                   int /*out_layout*/) const {
    return {};
  }
  std::vector<int64_t> weight_order;
  BufferRef<float> ordered_weights;
  // Convolutional and connected layers describe themselves for the int8 engine; false for others.
  virtual bool linear_op(LinearOp* /*op*/) const { return false; }
  // Whether the layer's inference pass can add the shortcut after it (activation sum_act) in its
  // kernel (NetState::sum_into), with these layouts of its input and output; prepares it.
  virtual bool fuses_sum(Backend& /*be*/, int /*batch*/, Act /*sum_act*/, int /*in_layout*/,
                         int /*out_layout*/) {
    return false;
  }
  // Shortcut layers describe themselves for the int8 engine (which fuses them into the
  // convolution before them); false for others.
  virtual bool shortcut_op(ShortcutOp* /*op*/) const { return false; }
  std::string ring;  // the ring generating main_weights(), "" when the weights are free

  // Batch norm's count of running-statistics updates (checkpoints save it); null without BN.
  virtual int64_t* bn_updates() { return nullptr; }
};

}  // namespace rpg
