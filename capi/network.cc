// The C boundary, part 2: networks from cfg files or text, device and batch, the passes
// (forward, backward from a target or an output gradient, update, train step, predict), and
// checkpoints and Darknet weights. The summary and ring accessors are in network_info.cc.
#include <cmath>
#include <cstring>

#include "backend/factory.h"
#include "boundary.h"
#include "io/checkpoint.h"
#include "io/darknet_weights.h"
#include "train/policy.h"

using rpg_capi::guard;
using rpg_capi::handle;
using rpg_capi::invalid;
using rpg_capi::need;
using rpg_capi::need_len;
using rpg_capi::need_string;

namespace rpg_capi {

std::unique_ptr<rpg::Backend> make_backend_for(const rpg_network& h) {
  return rpg::make_backend(h.device_kind == RPG_DEVICE_CUDA ? h.device_index : -1, h.threads, h.deterministic != 0);
}

void install_network(rpg_network& h, std::unique_ptr<rpg::Network> net) {
  h.input.reset();  // buffers of the old backend go before it does
  h.target.reset();
  h.input_grad.reset();
  h.net = std::move(net);
  h.state = rpg::TrainState{};
  h.max_updates = h.net->config().max_batches;
  h.last = rpg_network::Pass::None;
  h.summary.clear();
}

}  // namespace rpg_capi

namespace {

// Applies "SECTION.KEY=VALUE" lines ('\n'-separated; blank lines and '#' comments skipped).
void apply_overrides(rpg::CfgFile& cfg, const char* overrides) {
  if (!overrides) return;
  const std::string text = overrides;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    rpg::apply_override(cfg, line.substr(first));
  }
}

rpg_status create(const char* fn, rpg::CfgFile cfg, const char* overrides, rpg_network** out) {
  return guard(fn, [&] {
    apply_overrides(cfg, overrides);
    auto h = std::make_unique<rpg_network>();
    rpg_capi::install_network(*h, std::make_unique<rpg::Network>(cfg, rpg_capi::make_backend_for(*h)));
    *out = h.release();
  });
}

int64_t batch_floats(const rpg_network& h, int64_t per_image) { return int64_t(h.net->batch()) * per_image; }

std::string per_batch(const rpg_network& h, int64_t per_image, const char* what) {
  return "batch " + std::to_string(h.net->batch()) + " x " + std::to_string(per_image) + " " + what;
}

void need_input(const rpg_network& h, const float* input, int64_t len) {
  need(input, "input");
  need_len(len, batch_floats(h, h.net->input_size()), "input_len", per_batch(h, h.net->input_size(), "input floats"));
}

// An optional output buffer: NULL with length 0, or exactly batch x per_image floats.
bool optional_buffer(const rpg_network& h, const void* p, int64_t len, int64_t per_image, const char* arg,
                     const char* len_arg) {
  if (!p) {
    if (len != 0) invalid(std::string(arg) + " is NULL but " + len_arg + " is " + std::to_string(len));
    return false;
  }
  need_len(len, batch_floats(h, per_image), len_arg, per_batch(h, per_image, "floats"));
  return true;
}

void upload_input(rpg_network& h, const float* input) {
  rpg::Backend& be = h.net->backend();
  const int64_t n = batch_floats(h, h.net->input_size());
  h.input.resize(be, n);
  h.input.upload(input, n);
}

double forward_target(rpg_network& h, const float* input, const float* target, bool train) {
  if (!h.net->has_loss())
    invalid("the last layer is [" + h.net->layers().back()->type +
            "], not a loss layer ([softmax] or [cost]): use rpg_network_forward and "
            "rpg_network_backward_output_grad");
  upload_input(h, input);
  const int64_t n = batch_floats(h, h.net->output_size());
  h.target.resize(h.net->backend(), n);
  h.target.upload(target, n);
  h.last = rpg_network::Pass::None;
  const double loss = h.net->forward(h.input.data(), train, h.target.data());
  h.last = rpg_network::Pass::ForwardTarget;
  return loss / double(h.net->batch());
}

// Backward from whatever the last layer holds; input_grad (nullable) gets d loss / d input.
void backward(rpg_network& h, float* input_grad) {
  float* dx = nullptr;
  if (input_grad) {
    const int64_t n = batch_floats(h, h.net->input_size());
    h.input_grad.resize(h.net->backend(), n);
    h.net->backend().fill(h.input_grad.data(), n, 0.f);
    dx = h.input_grad.data();
  }
  h.net->backward(h.input.data(), dx);
  if (input_grad) h.input_grad.download(input_grad, h.input_grad.size());
}

void update(rpg_network& h, float lr) {
  h.net->update(lr);
  const int64_t images = h.net->config().batch;
  h.state.count_update(images, h.state.seen + images);  // no loader here: it stands at the images seen
}

float policy_rate(const rpg_network& h) {
  return rpg::learning_rate(h.net->config(), h.state.iteration, h.max_updates);
}

// The policy's rate for the next update, refused when negative or not finite.
float update_rate(const rpg_network& h) { return rpg::rate_for_update(*h.net, h.state.iteration, h.max_updates); }

}  // namespace

// ---- Creation, device, threads, batch ------------------------------------------------------

rpg_status rpg_network_create(const char* cfg_path, const char* overrides, rpg_network** out) {
  rpg::CfgFile cfg;
  const rpg_status s = guard(__func__, [&] {
    const std::string path = need_string(cfg_path, "cfg_path");
    need(out, "out");
    cfg = rpg::load_cfg(path);
  });
  return s != RPG_STATUS_OK ? s : create(__func__, std::move(cfg), overrides, out);
}

rpg_status rpg_network_create_from_text(const char* cfg_text, const char* overrides, rpg_network** out) {
  rpg::CfgFile cfg;
  const rpg_status s = guard(__func__, [&] {
    need(cfg_text, "cfg_text");
    need(out, "out");
    cfg = rpg::parse_cfg(cfg_text, "<text>");
  });
  return s != RPG_STATUS_OK ? s : create(__func__, std::move(cfg), overrides, out);
}

void rpg_network_free(rpg_network* net) {
  if (!rpg_capi::freeable(net, __func__)) return;
  if (net->training) {  // freed from a progress callback: refused, the run still needs it
    rpg_capi::guard(__func__, [&] { rpg_capi::need_not_training(*net); });
    rpg_capi::log(RPG_LOG_ERROR, std::string(__func__) + ": not freed: " + rpg_last_error());
    return;
  }
  net->magic = 0;
  delete net;
}

rpg_status rpg_network_set_threads(rpg_network* net, int32_t threads) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    if (threads < 1 || threads > 1024) invalid("threads is " + std::to_string(threads) + ", expected 1 .. 1024");
    h.net->set_threads(threads);
    h.threads = threads;
  });
}

rpg_status rpg_device_count(int32_t kind, int32_t* out) {
  return guard(__func__, [&] {
    need(out, "out");
    if (kind == RPG_DEVICE_CPU) {
      *out = 1;
    } else if (kind == RPG_DEVICE_CUDA) {
      *out = rpg::cuda_device_count();
    } else {
      invalid("kind is " + std::to_string(kind) + ", expected RPG_DEVICE_CPU (0) or RPG_DEVICE_CUDA (1)");
    }
  });
}

namespace {

// Rebuilds the network whole on another backend and gives it its own checkpoint (every parameter,
// momentum, batch-norm statistic and counter); on failure the network stays as it was.
void move_network(rpg_network& h, int32_t kind, int32_t index, int32_t deterministic) {
  // UNSUPPORTED in a CPU build, DEVICE_ERROR for a missing GPU.
  auto backend = rpg::make_backend(kind == RPG_DEVICE_CUDA ? index : -1, h.threads, deterministic != 0);
  const std::string bytes = rpg::encode_checkpoint(*h.net, h.state);
  auto moved = std::make_unique<rpg::Network>(h.net->cfg(), std::move(backend));
  moved->set_batch(h.net->batch());
  rpg::load_checkpoint_from_bytes(*moved, bytes, "<device move>");
  const rpg::TrainState state = h.state;
  const int64_t max_updates = h.max_updates;
  rpg_capi::install_network(h, std::move(moved));
  h.state = state;
  h.max_updates = max_updates;
  h.device_kind = kind;
  h.device_index = index;
  h.deterministic = deterministic;
}

}  // namespace

rpg_status rpg_network_set_device(rpg_network* net, int32_t kind, int32_t index) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    rpg_capi::need_not_training(h);
    if (kind != RPG_DEVICE_CPU && kind != RPG_DEVICE_CUDA)
      invalid("kind is " + std::to_string(kind) + ", expected RPG_DEVICE_CPU (0) or RPG_DEVICE_CUDA (1)");
    if (index < 0) invalid("index is " + std::to_string(index) + ", expected >= 0");
    if (kind == RPG_DEVICE_CPU && index != 0) invalid("index is " + std::to_string(index) + ", but there is one CPU device (0)");
    if (kind == h.device_kind && index == h.device_index) return;
    move_network(h, kind, index, h.deterministic);
  });
}

rpg_status rpg_network_set_deterministic(rpg_network* net, int32_t deterministic) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    rpg_capi::need_not_training(h);
    if (deterministic != 0 && deterministic != 1) invalid("deterministic is " + std::to_string(deterministic) + ", expected 0 or 1");
    if (deterministic == h.deterministic) return;
    move_network(h, h.device_kind, h.device_index, deterministic);
  });
}

rpg_status rpg_network_deterministic(const rpg_network* net, int32_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = h.deterministic;
  });
}

rpg_status rpg_network_device(const rpg_network* net, int32_t* kind, int32_t* index) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(kind, "kind");
    need(index, "index");
    *kind = h.device_kind;
    *index = h.device_index;
  });
}

rpg_status rpg_network_bind_ring(rpg_network* net, int32_t layer, const char* ring_name, double dof) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    rpg_capi::need_not_training(h);
    const std::string name = need_string(ring_name, "ring_name");
    const int32_t layers = int32_t(h.net->layers().size());
    if (layer < 0 || layer >= layers)
      invalid("layer is " + std::to_string(layer) + ", expected 0 .. " + std::to_string(layers - 1));
    if (name.find_first_of("\n\r=#;") != std::string::npos) invalid("ring_name '" + name + "' has a forbidden character");
    rpg::CfgFile cfg = h.net->cfg();
    bool declared = false;
    for (const auto& s : cfg.sections)
      declared = declared || (s.type == "ring" && rpg::ring_section_name(s) == name);
    if (declared && dof != 0)
      invalid("ring '" + name + "' is already declared (with its own size): dof must be 0, got " + std::to_string(dof));
    if (!declared) {
      if (!(dof > 0 && dof <= 1)) invalid("dof is " + std::to_string(dof) + ", expected 0 < dof <= 1 for a new ring");
      char value[32];
      std::snprintf(value, sizeof value, "%.17g", dof);
      rpg::CfgSection s;
      s.type = "ring";
      s.entries = {{"name", name, 0}, {"dof", value, 0}};
      cfg.sections.push_back(std::move(s));
    }
    rpg::apply_override(cfg, std::to_string(layer) + ".ring=" + name);
    const int batch = h.net->batch();
    auto rebuilt = std::make_unique<rpg::Network>(cfg, rpg_capi::make_backend_for(h));
    rebuilt->set_batch(batch);
    rpg_capi::install_network(h, std::move(rebuilt));
  });
}

rpg_status rpg_network_set_batch(rpg_network* net, int32_t batch) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    rpg_capi::need_not_training(h);
    if (batch < 1 || batch > (1 << 20)) invalid("batch is " + std::to_string(batch) + ", expected 1 .. 2^20");
    h.net->set_batch(batch);  // a failure changes nothing, the last pass included
    h.last = rpg_network::Pass::None;
  });
}

rpg_status rpg_network_batch(const rpg_network* net, int32_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = h.net->batch();
  });
}

rpg_status rpg_network_input_size(const rpg_network* net, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = h.net->input_size();
  });
}

rpg_status rpg_network_output_size(const rpg_network* net, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = h.net->output_size();
  });
}

rpg_status rpg_network_input_shape(const rpg_network* net, int32_t* channels, int32_t* height, int32_t* width) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(channels, "channels");
    need(height, "height");
    need(width, "width");
    const rpg::Shape s = h.net->input_shape();
    *channels = s.c;
    *height = s.h;
    *width = s.w;
  });
}

// ---- Passes -------------------------------------------------------------------------------

rpg_status rpg_network_forward(rpg_network* net, const float* input, int64_t input_len, int32_t train,
                               float* output, int64_t output_len) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    need_input(h, input, input_len);
    rpg_capi::need_flag(train, "train");
    const bool out = optional_buffer(h, output, output_len, h.net->output_size(), "output", "output_len");
    upload_input(h, input);
    h.last = rpg_network::Pass::None;
    h.net->forward(h.input.data(), train != 0);
    h.last = rpg_network::Pass::Forward;
    if (out) h.net->layers().back()->output.download(output, output_len);
  });
}

rpg_status rpg_network_forward_target(rpg_network* net, const float* input, int64_t input_len, const float* target,
                                      int64_t target_len, int32_t train, double* loss) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    need_input(h, input, input_len);
    need(target, "target");
    need_len(target_len, batch_floats(h, h.net->output_size()), "target_len",
             per_batch(h, h.net->output_size(), "output floats"));
    rpg_capi::need_flag(train, "train");
    const double l = forward_target(h, input, target, train != 0);
    if (loss) *loss = l;
  });
}

rpg_status rpg_network_backward(rpg_network* net, float* input_grad, int64_t input_grad_len) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    optional_buffer(h, input_grad, input_grad_len, h.net->input_size(), "input_grad", "input_grad_len");
    if (h.last != rpg_network::Pass::ForwardTarget)
      invalid("no target to start from: call rpg_network_forward_target first (set_batch and loads forget it)");
    backward(h, input_grad);
  });
}

rpg_status rpg_network_backward_output_grad(rpg_network* net, const float* output_grad, int64_t output_grad_len,
                                            float* input_grad, int64_t input_grad_len) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    need(output_grad, "output_grad");
    need_len(output_grad_len, batch_floats(h, h.net->output_size()), "output_grad_len",
             per_batch(h, h.net->output_size(), "output floats"));
    optional_buffer(h, input_grad, input_grad_len, h.net->input_size(), "input_grad", "input_grad_len");
    if (h.last != rpg_network::Pass::Forward)
      invalid("no forward pass to go back through: call rpg_network_forward first (set_batch, loads and "
              "rpg_network_predict forget it)");
    h.net->clear_deltas();
    h.net->layers().back()->delta.upload(output_grad, output_grad_len);
    backward(h, input_grad);
  });
}

rpg_status rpg_network_update(rpg_network* net) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    update(h, update_rate(h));
  });
}

rpg_status rpg_network_update_with_rate(rpg_network* net, float learning_rate) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    if (!(learning_rate >= 0.f) || !std::isfinite(learning_rate))
      invalid("learning_rate is " + std::to_string(learning_rate) + ", expected a finite value >= 0");
    update(h, learning_rate);
  });
}

rpg_status rpg_network_learning_rate(const rpg_network* net, float* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = policy_rate(h);
  });
}

rpg_status rpg_network_update_count(const rpg_network* net, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = h.state.iteration;
  });
}

rpg_status rpg_network_set_max_updates(rpg_network* net, int64_t max_updates) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    if (max_updates < 1) invalid("max_updates is " + std::to_string(max_updates) + ", expected >= 1");
    h.max_updates = max_updates;
  });
}

rpg_status rpg_network_train_step(rpg_network* net, const float* input, int64_t input_len, const float* target,
                                  int64_t target_len, double* loss) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    need_input(h, input, input_len);
    need(target, "target");
    need_len(target_len, batch_floats(h, h.net->output_size()), "target_len",
             per_batch(h, h.net->output_size(), "output floats"));
    const double l = forward_target(h, input, target, true);
    if (loss) *loss = l;
    if (!std::isfinite(l))  // as the trainer: a non-finite loss never reaches the parameters
      invalid("training diverged at update " + std::to_string(h.state.iteration + 1) + ": the loss is " +
              std::to_string(l) + "; the update was not applied (lower the learning rate, or check the input)");
    backward(h, nullptr);
    update(h, update_rate(h));
  });
}

rpg_status rpg_network_predict(rpg_network* net, const float* input, int64_t input_len, float* output,
                               int64_t output_len) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    need_input(h, input, input_len);
    need(output, "output");
    need_len(output_len, batch_floats(h, h.net->output_size()), "output_len",
             per_batch(h, h.net->output_size(), "output floats"));
    upload_input(h, input);
    h.last = rpg_network::Pass::None;  // inference keeps nothing for a backward pass
    h.net->infer(h.input.data());
    h.net->layers().back()->output.download(output, output_len);
  });
}

// ---- Files ------------------------------------------------------------------------------

rpg_status rpg_network_save_checkpoint(rpg_network* net, const char* path) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    rpg::save_checkpoint(*h.net, h.state, need_string(path, "path"));
  });
}

rpg_status rpg_network_load_checkpoint(rpg_network* net, const char* path) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    rpg_capi::need_not_training(h);
    const std::string p = need_string(path, "path");
    const rpg::TrainState s = rpg::load_checkpoint(*h.net, p);
    h.state = s;
    h.last = rpg_network::Pass::None;
    rpg_capi::log(RPG_LOG_INFO, "loaded checkpoint " + p + " (update " + std::to_string(s.iteration) + ")");
  });
}

rpg_status rpg_network_save_darknet_weights(rpg_network* net, const char* path) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    rpg::save_darknet_weights(*h.net, need_string(path, "path"), h.state.seen);
  });
}

rpg_status rpg_network_load_darknet_weights(rpg_network* net, const char* path) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    rpg_capi::need_not_training(h);
    const std::string p = need_string(path, "path");
    const int64_t seen = rpg::load_darknet_weights(*h.net, p);
    h.state = rpg::TrainState::after_darknet_weights(seen, h.net->config().batch);
    h.last = rpg_network::Pass::None;
    rpg_capi::log(RPG_LOG_INFO, "loaded weights " + p + " (seen " + std::to_string(seen) + " images)");
  });
}
