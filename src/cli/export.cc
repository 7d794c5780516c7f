// `rpgnet export` (a compressed .rpgm and/or an expanded Darknet .weights file) and `rpgnet info`
// on an export file.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "backend/factory.h"
#include "cfg/cfg_text.h"
#include "cli/classifier.h"
#include "base/error.h"
#include "core/int8_net.h"
#include "core/network.h"
#include "core/summary.h"
#include "io/atomic_file.h"
#include "io/darknet_weights.h"
#include "io/export.h"
#include "io/weights_file.h"
#include "train/int8_export.h"

namespace rpg_cli {

namespace {

// An output that is an input (the same name, or the same file through a link) would replace it:
// `export X.ckpt -o X.ckpt --bits 4` would swap the training checkpoint for a lossy export.
void refuse_overwriting_inputs(const std::vector<std::string>& outputs, const std::vector<std::string>& inputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].empty()) continue;
    for (const std::string& in : inputs)
      if (outputs[i] == in || rpg::same_file(outputs[i], in))
        throw UsageError{"export: the output '" + outputs[i] + "' is the input '" + in +
                         "': refusing to overwrite it (write to another file)"};
    for (size_t j = 0; j < i; ++j)
      if (outputs[i] == outputs[j] || rpg::same_file(outputs[i], outputs[j]))
        throw UsageError{"export: '" + outputs[i] + "' is given as two outputs"};
  }
}

// The activation ranges for --int8, with a line saying what calibrated them.
rpg::Int8Calibration calibrate(const Args& a, rpg::Network& net, const rpg::ExportOptions& o, uint64_t seen) {
  const int batches = a.calibrate > 0 ? a.calibrate : 10;
  rpg::Int8Calibration c = rpg::calibrate_export(net, o, seen, a.data, batches, backend_for(a));
  std::printf("calibrated the int8 activation ranges (min/max per tensor) on %d batches of %u images of %s\n", batches,
              c.images, a.data.c_str());
  return c;
}

}  // namespace

int cmd_export(const Args& a) {
  if (a.positional.size() != 2) throw UsageError{"export takes <cfg> <weights|checkpoint|rpgm> -o model.rpgm"};
  if (a.output.empty() && a.darknet.empty() && a.darknet_cfg.empty())
    throw UsageError{"export needs -o model.rpgm (or --darknet out.weights)"};
  if (!((a.bits >= 2 && a.bits <= 16) || a.bits == 32)) throw UsageError{"--bits takes 2..16 or 32"};
  if (a.int8 && a.bits != 8 && a.bits != 32) throw UsageError{"export --int8 stores 8-bit rings: --bits must be 8"};
  if (a.int8 && a.data.empty()) throw UsageError{"export --int8 needs --data file.data (its training images calibrate)"};
  if (!a.int8 && (!a.data.empty() || a.calibrate > 0)) throw UsageError{"--data and --calibrate go with export --int8"};
  const std::string& cfg_path = a.positional[0];
  const std::string& weights = a.positional[1];
  refuse_overwriting_inputs({a.output, a.darknet, a.darknet_cfg}, {cfg_path, weights});
  const rpg::CfgFile cfg = load_with_overrides(cfg_path, a.sets);
  rpg::Network net(cfg, backend_for(a), rpg::NetworkOptions{false});
  net.set_batch(1);
  const uint64_t seen = uint64_t(rpg::load_any_weights(net, weights, false).seen);

  rpg::ExportOptions o;
  o.bits = a.int8 ? 8 : a.bits;
  o.prune = a.prune < 0 ? 0 : a.prune;
  o.unshared = a.unshared == "fp16" ? rpg::UnsharedPrecision::fp16 : rpg::UnsharedPrecision::fp32;
  const std::string name = a.output.empty() ? "(export)" : a.output;
  if (a.int8) o.calibration = calibrate(a, net, o, seen);
  o.int8 = a.int8;
  const std::string bytes = rpg::encode_export(net, o, seen);
  if (!a.output.empty()) {
    rpg::write_file_atomic(a.output, bytes);
    std::fputs(rpg::export_info_text(rpg::describe_export(bytes, a.output)).c_str(), stdout);
  }
  if (a.int8 && a.bits == 32) std::printf("(--int8: the rings are stored at 8 bits)\n");
  if (!a.darknet.empty()) {
    // The expanded model as exported (pruned and quantized as the .rpgm is).
    auto exported = rpg::load_export_from_bytes(bytes, name, backend_for(a));
    rpg::save_darknet_weights(*exported, a.darknet, int64_t(seen));
    std::printf("%s: Darknet .weights of the expanded model, %s floats (for %s without rings)\n", a.darknet.c_str(),
                rpg::with_commas(rpg::darknet_weight_floats(*exported, false)).c_str(), cfg_path.c_str());
  }
  if (!a.darknet_cfg.empty()) {
    rpg::write_file_atomic(a.darknet_cfg, "# " + cfg_path + " without rings: the architecture of the expanded weights\n" +
                                              rpg::cfg_to_text(rpg::strip_rings(cfg)));
    std::printf("%s: the cfg without rings\n", a.darknet_cfg.c_str());
  }
  return 0;
}

int info_export(const Args& a, const std::string& path) {
  const rpg::ExportInfo info = rpg::describe_export(rpg::read_file(path), path);
  std::fputs(rpg::export_info_text(info).c_str(), stdout);
  const rpg::CfgFile cfg = rpg::parse_cfg(info.cfg_text, path + " (embedded cfg)");
  // A summary needs shapes, not activations.
  rpg::Network net(cfg, backend_for(a), rpg::NetworkOptions{false});
  if (info.int8) {
    // Which layers the int8 engine runs, and oneDNN's kernels for them at batch 1.
    rpg::load_export_into_from_bytes(net, rpg::read_file(path), path, !a.fp32);
    net.set_batch(1);
    const auto* plan = dynamic_cast<const rpg::Int8Plan*>(net.inference_plan());
    if (plan)
      std::printf("  int8 engine (%d threads; kernels at batch 1):\n%s", net.backend().threads(),
                  rpg::int8_plan_text(*plan, net).c_str());
    else
      std::printf("  int8 engine: not used (%s): the model runs in float32\n",
                  a.fp32 ? "--fp32" : "it needs the CPU backend on oneDNN");
  }
  std::printf("\nembedded cfg: input %s\n", net.input_shape().str().c_str());
  std::fputs(rpg::summary_table(net).c_str(), stdout);
  return 0;
}

}  // namespace rpg_cli
