// Network: the layers of one cfg allocated on one backend, with forward, backward and the SGD
// update. Built from a parsed cfg (cfg/cfg.h); the [net] section becomes a NetConfig.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/buffer.h"
#include "cfg/cfg.h"
#include "base/shape.h"
#include "layers/layer.h"
#include "rpg/ring.h"

namespace rpg {

enum class Policy : int { Constant, Step, Steps, Exp, Poly, Sigmoid, Random, Cosine };

struct NetConfig {
  int batch = 1, subdivisions = 1;  // batch: images per update; a pass runs batch/subdivisions
  Shape input;
  float learning_rate = .001f, momentum = .9f, decay = .0001f;
  Policy policy = Policy::Constant;
  int step = 1;
  float scale = 1, gamma = 1, power = 1;
  std::vector<int> steps;
  std::vector<float> scales;
  int burn_in = 0, max_batches = 0, epochs = 0;
  uint64_t seed = 1;
  // augmentation
  int min_crop = 0, max_crop = 0;
  float angle = 0, aspect = 1, hue = 0, saturation = 1, exposure = 1;
  bool center = false, flip = true;
  int crop_padding = 0;  // rpgnet: pad by N pixels, then crop at random (CIFAR-style)
};

NetConfig parse_net_section(const CfgFile& cfg);

struct NetworkOptions {
  // false: no per-batch buffers until set_batch (`rpgnet info` needs no activations).
  bool allocate_batch = true;
};

// What a network needs in memory at one batch size, in bytes (Network::memory_estimate).
struct MemoryEstimate {
  int64_t parameters = 0;   // values and gradients (momentum shares the gradient buffer)
  int64_t activations = 0;  // per-batch buffers: outputs, deltas, layer scratch, input and truth
  int64_t workspace = 0;    // the backend's scratch (im2col), shared by the layers: the largest
  int biggest_layer = -1;   // the layer with the most per-batch memory
  int64_t biggest_bytes = 0;
  int64_t batch_bytes() const { return activations + workspace; }
};

class Network;

// An engine that runs Network::infer instead of the layers' own fused pass (the int8 engine of an
// int8 export, core/int8_net.h). prepare: for a batch size at the backend's thread count
// (Network::set_batch and set_threads call it); run: one pass, which leaves the result in the
// last layer's output.
class InferencePlan {
 public:
  virtual ~InferencePlan() = default;
  virtual void prepare(Network& net, int batch) = 0;
  virtual void run(Network& net, const float* input) = 0;
};

class Network {
 public:
  // Builds every layer and allocates buffers for batch = config.batch / config.subdivisions
  // (unless options say not to). Throws Error(ParseError) naming file:line for any invalid
  // section or key or a shape beyond the limits of base/shape.h, Error(OutOfMemory) naming the
  // file, line and layer when the parameters or the batch would not fit in the backend's memory.
  Network(const CfgFile& cfg, std::unique_ptr<Backend> backend, NetworkOptions options = {});
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const NetConfig& config() const { return config_; }
  const std::string& cfg_path() const { return cfg_path_; }
  // The cfg the network was built from (overrides applied): exports embed it.
  const CfgFile& cfg() const { return cfg_; }
  Backend& backend() { return *be_; }
  // The backend's thread count; kernels prepared for the current batch are prepared again for it.
  void set_threads(int threads);
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  const std::vector<std::unique_ptr<Ring>>& rings() const { return rings_; }
  // Regenerates every ring-bound layer's weights (after ring values change outside update()).
  // Counts as parameters_changed().
  void generate_weights();
  // Says that parameters (weights above all, or ring values) were written outside the network's
  // own passes and updates: inference passes then fold them again (a backend keeps each layer's
  // folded weights while params_version() stays the same; biases and batch-norm tensors it
  // compares by value). Whoever writes weights through a layer's tensors (loaders, the C API,
  // tests) calls it after writing and before the next pass. update(), generate_weights() and a
  // training-mode forward pass count as a change. It drops the inference plan, which was made
  // for the old values. Generated weights written directly reach the training kernels' copy in
  // their order (Layer::ordered_weights) here.
  void parameters_changed();
  // parameters_changed for a change of batch norm's running statistics only (a training-mode
  // pass, their exchange between processes): no weight changed.
  void statistics_changed() {
    ++params_version_;
    plan_.reset();
  }
  uint64_t params_version() const { return params_version_; }
  // The engine infer() runs (null: the layers' fused float32 pass). Prepared at once when the
  // network has a batch. Set by the export loader for int8 exports (after its
  // generate_weights); dropped by parameters_changed().
  void set_inference_plan(std::unique_ptr<InferencePlan> plan);
  InferencePlan* inference_plan() const { return plan_.get(); }

  int batch() const { return batch_; }  // 0 before the first set_batch (allocate_batch=false)
  // Whether the training passes keep activations and deltas in the kernels' layouts between
  // layers (Layer::train_layout; the default, where the backend has such layouts) or run planar
  // NCHW throughout (the tests compare the two). Plans again at once when the network has a batch.
  void set_training_layouts(bool on);
  // Layer i's output after the last pass, as planar NCHW floats (the layers may hold it in
  // another layout: Layer::infer_layout or train_layout). After an inference pass, the two inputs
  // of a shortcut fused into the convolution before it (fused_sums) hold no output of theirs.
  std::vector<float> layer_output(size_t i) const;
  // The inference pass's fusions: the convolutions that add the shortcut after them in their
  // kernel (Backend::conv_inference's sum), planned by set_batch where the backend takes it, the
  // shortcut adds 1 x each input, the convolution's output is read by that shortcut only, and the
  // shortcut's other input by no later layer: its buffer takes the sum in place, and becomes the
  // shortcut's output (the two layers' buffers are swapped).
  std::vector<int> fused_sums() const;
  // Reallocates the per-batch buffers. The memory estimate is compared with what the backend has
  // available first (Error(OutOfMemory) naming the biggest layer); then every new buffer is
  // allocated before any old one is released, so a failed call changes nothing.
  void set_batch(int batch);
  MemoryEstimate memory_estimate(int batch) const;
  Shape input_shape() const { return config_.input; }
  int64_t input_size() const { return config_.input.size(); }
  int64_t output_size() const { return layers_.back()->out.size(); }
  bool has_loss() const { return layers_.back()->is_loss(); }

  // Device-level passes. input: batch x input_size floats on the backend. With a truth
  // (batch x output_size), the last layer computes its loss, which is returned.
  double forward(const float* input, bool train, const float* truth = nullptr);
  // An inference pass that no backward pass may follow (backward() then fails): layers fuse
  // what they can (a convolution folds its batch norm and runs its activation inside the
  // kernel). The output equals forward(input, false)'s to rounding.
  void infer(const float* input);
  // Backpropagates from the last layer: from the truth given to forward when the last layer is
  // a loss layer, else from whatever the caller wrote into the last layer's delta.
  // input_delta (nullable) receives d loss / d input (accumulated).
  void backward(const float* input, float* input_delta = nullptr);
  // Zeroes every layer's delta (forward with a truth zeroes the last layer's, backward each of the
  // others before its first use; exposed for callers that seed the last delta).
  void clear_deltas();
  void clear_gradients();
  // Darknet's SGD step: lr is the current rate (policy applied by the caller); per-parameter
  // lr = lr * layer learning_rate / batch images, weight decay on weights only.
  // The same as gather_ring_gradients() then apply_gradients(lr).
  void update(float lr);
  // The two halves of update(), for data-parallel training, which sums the gradients of the
  // degrees of freedom across processes between them: every ring's gradient gathered from its
  // layers' weight gradients (which are cleared), then the SGD step of every trainable()
  // tensor and the regeneration of the ring-bound weights.
  void gather_ring_gradients();
  void apply_gradients(float lr);
  // The degrees of freedom (RPG.md): every tensor the SGD step changes, with its gradient
  // buffer (which doubles as its momentum): the parameters no ring generates, in layer order,
  // then the rings' values. Valid until the network is destroyed.
  std::vector<Param> trainable();
  // What a weights file holds that no SGD step changes: batch norm's running statistics.
  std::vector<Buffer<float>*> running_statistics();
  // Where training has diverged: "" when every weight, bias, batch-norm statistic, momentum
  // buffer and ring value is finite, else the first tensor holding a NaN or an infinity
  // ("layer 3 (convolutional)", "ring 'global'"). One reduction per tensor on the backend:
  // cheap next to an update, meant for before a checkpoint and at the end of a run.
  std::string non_finite_tensor();

  // Host conveniences on internal input/truth buffers.
  // Inference (train=false; batch x output_size), or a training-mode forward pass without a
  // truth (train=true: batch statistics, which batch norm folds into its running ones).
  std::vector<float> predict(const float* host_input, bool train = false);
  double train_pass(const float* host_input, const float* host_truth);  // forward + backward

  // Parameter counts (RPG.md, "DoF accounting"): num_params() is the full count P, every
  // weight counted as free; ring_dof() the sum of K over rings; total_dof() ring DoF plus every
  // parameter no ring generates.
  int64_t num_params() const;
  int64_t ring_dof() const;
  int64_t generated_params() const;
  int64_t total_dof() const { return num_params() - generated_params() + ring_dof(); }
  int64_t macs() const;  // per image
  int64_t activation_floats() const;  // per image: every layer's output
  uint64_t passes() const { return passes_; }
  void set_passes(uint64_t p) { passes_ = p; }  // the pass counter seeds dropout and crops

 private:
  NetState state(bool train);
  void need_batch() const;  // InvalidArgument before the first set_batch

  NetConfig config_;
  std::string cfg_path_;
  CfgFile cfg_;
  std::unique_ptr<Backend> be_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::unique_ptr<Ring>> rings_;
  std::unique_ptr<InferencePlan> plan_;
  int batch_ = 0;
  uint64_t passes_ = 0;
  uint64_t params_version_ = 1;  // 0 means "unknown" to the backend
  const float* last_truth_ = nullptr;
  bool last_train_ = false;
  bool last_inference_ = false;  // the last pass was infer(): nothing kept for backward
  double run_forward(const float* input, bool train, const float* truth, bool inference);
  Buffer<float> input_, truth_;
  // Delta memory (set_batch): layers whose deltas are not live at the same time share a buffer;
  // zero_before_[j] lists the layers whose deltas backward() zeroes just before layer j's step.
  std::vector<Buffer<float>> delta_pool_;
  std::vector<std::vector<int>> zero_before_;
  struct DeltaPlan {
    std::vector<int> owner;          // per layer: its buffer in the pool
    std::vector<int64_t> capacity;   // per buffer: floats
    std::vector<std::vector<int>> zero_before;
  };
  DeltaPlan plan_deltas(int batch) const;
  // The layouts at `batch` of the inference pass (Layer::infer_layout) or of the training passes
  // (Layer::train_layout, all planar while training layouts are off), the kernels for them built.
  std::vector<int> plan_layouts(int batch, bool training);
  // Per layer: the other input of the shortcut after it that the inference pass adds in its
  // kernel (fused_sums), -1 where none; planned with the inference layouts `infer`.
  std::vector<int> plan_sums(int batch, const std::vector<int>& infer);
  std::vector<int> sum_from_;
  // What the passes plan at a batch (set_batch, set_threads, set_training_layouts): the inference
  // pass's layouts and fused sums (plan_inference), the training passes' layouts and the rings'
  // weight orders (plan_training, Ring::prepare_orders). Planning may throw and changes nothing;
  // set_plans puts a plan in place and says whether the training plan changed (a layout or a
  // weight order). replan: all three at the current batch, flagging a changed training plan.
  struct PassPlans {
    std::vector<int> infer, train, sums;
    std::vector<std::shared_ptr<Ring::Orders>> orders;  // per ring; null: unchanged
  };
  void plan_inference(int batch, PassPlans& p);
  void plan_training(int batch, PassPlans& p);
  bool set_plans(PassPlans& p);
  void replan();
  bool training_layouts_ = true;
  bool layouts_changed_ = false;  // the training plan changed after the last forward pass
};

}  // namespace rpg
