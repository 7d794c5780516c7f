// The rpgnet command: a thin client of the library. Turns rpg::Error into a message on stderr
// and a non-zero exit status (1: error in the input, 2: usage).
#include <cstdio>
#include <cstring>
#include <climits>
#include <exception>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "backend/factory.h"
#include "cli/classifier.h"
#include "cfg/cfg.h"
#include "base/error.h"
#include "core/network.h"
#include "core/summary.h"
#include "io/export.h"

namespace rpg_cli {

std::unique_ptr<rpg::Backend> backend_for(const Args& a) {
  return rpg::make_backend(a.gpu, a.threads, a.deterministic);
}

std::string where_it_runs(const Args& a) {
  if (a.gpu >= 0) return "CUDA device " + std::to_string(a.gpu);
  return std::to_string(a.threads) + (a.threads == 1 ? " thread" : " threads") +
         (a.deterministic ? " (reference engine, deterministic)" : " (oneDNN)");
}

rpg::CfgFile load_with_overrides(const std::string& path, const std::vector<std::string>& sets) {
  rpg::CfgFile cfg = rpg::load_cfg(path);
  for (const auto& s : sets) rpg::apply_override(cfg, s);
  return cfg;
}

}  // namespace rpg_cli

namespace {

using rpg_cli::Args;
using rpg_cli::UsageError;
using rpg_cli::load_with_overrides;

const char* kUsage =
    "usage: rpgnet <command> [arguments] [options]\n"
    "\n"
    "commands:\n"
    "  info <cfg|model.rpgm>                      layer table and totals of a network (or what an\n"
    "                                             export file holds)\n"
    "  classifier train <data> <cfg> [weights]    train (weights: Darknet .weights or an\n"
    "                                             rpgnet checkpoint .ckpt, which resumes)\n"
    "  classifier valid <data> <cfg> <weights>    top-1 / top-k accuracy and loss on 'valid'\n"
    "  classifier predict <data> <cfg> <weights> <image|list>   top-k labels per image\n"
    "  classifier recalibrate <data> <cfg> <weights> -o FILE [--bn-recalibrate N]\n"
    "                                             recompute batch-norm running statistics\n"
    "                                             from N 'train' batches (default 100); FILE\n"
    "                                             is a checkpoint when the input is one (or an\n"
    "                                             export), else a Darknet .weights\n"
    "                                             (valid, predict: weights may also be an\n"
    "                                             export .rpgm of the same architecture)\n"
    "  export <cfg> <weights|checkpoint|rpgm> -o model.rpgm [--bits B] [--prune F]\n"
    "         [--unshared fp16|fp32] [--darknet out.weights [--darknet-cfg out.cfg]]\n"
    "         [--int8 --data file.data [--calibrate N]]\n"
    "                                             compressed self-contained model; info shows it\n"
    "  help                                       this text\n"
    "  version                                    the version\n"
    "\n"
    "options:\n"
    "  --set SECTION.KEY=VALUE  override a cfg key without editing the file; SECTION is 'net',\n"
    "                           a layer index (as numbered by info) or 'ring.NAME'\n"
    "  --threads N              CPU threads (default: all cores)\n"
    "  --deterministic          CPU: the reference engine (im2col + OpenBLAS) instead of oneDNN:\n"
    "                           slower, and results identical for every thread count (oneDNN's\n"
    "                           are identical run to run for one thread count)\n"
    "  --gpu N                  run on CUDA device N (builds made with make GPU=1; default:\n"
    "                           the CPU)\n"
    "  -clear                   train: load the weights but restart at update 0\n"
    "  -t N, --top N            valid/predict: top-k (default: the .data file's 'top')\n"
    "  --confusion              valid: print the confusion matrix\n"
    "  --checkpoint-every N     train: updates between checkpoints (default 1000)\n"
    "  --report-every N         train: updates between progress lines (default 10)\n"
    "  --valid-every N          train: also evaluate the .data file's valid set every N updates\n"
    "                           (a 'valid at update U:' line each; a convergence curve)\n"
    "  --quiet                  train: no progress lines\n"
    "  --bn-recalibrate N       train: after the last update, recompute the batch-norm running\n"
    "                           statistics from N training batches with the weights fixed (short\n"
    "                           trainings leave them behind the weights); default 0 (off)\n"
    "  --prune F                train: prune the fraction F of every ring's entries (smallest\n"
    "                           magnitude) and fine-tune with them frozen at 0; export: the same\n"
    "                           pruning of the exported rings (stored sparsely)\n"
    "  --bits B                 export: ring values at B bits (2..16; default 32 = float32)\n"
    "  --unshared fp16|fp32     export: precision of every parameter no ring generates\n"
    "  --int8                   export: 8-bit rings with one scale each and activation ranges\n"
    "                           calibrated on the --data file's training images, so that\n"
    "                           valid/predict (and the C API) run the model in int8 on oneDNN\n"
    "  --data FILE              export --int8: the .data file whose 'train' list calibrates\n"
    "  --calibrate N            export --int8: calibration batches (default 10)\n"
    "  --fp32                   valid/predict: run an int8 export in float32\n"
    "  --mpi-timeout S          train under mpirun: the longest wait, in seconds, for the\n"
    "                           other ranks before the job ends with an error (default 300)\n"
    "  --save-all-ranks         train under mpirun: every rank also writes its final weights\n"
    "                           (<name>.rank<R>.weights) to compare the ranks\n"
    "  -o FILE                  export: the .rpgm to write; recalibrate: the file to write\n"
    "  --darknet FILE           export: also the expanded model as a Darknet .weights file\n"
    "                           (as exported: pruned/quantized); --darknet-cfg FILE writes the\n"
    "                           matching cfg without rings\n"
    "\n"
    "Ctrl-C during training writes a checkpoint and stops; train on that checkpoint resumes.\n"
    "mpirun -np N rpgnet classifier train ... trains one model on N processes, each taking\n"
    "its share of every batch (README \"Scaling out\"); rank 0 prints and writes the files.\n";

int64_t number(const std::string& name, const std::string& v, int64_t lo, int64_t hi) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || n < lo || n > hi)
    throw UsageError{name + " needs a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" + v + "'"};
  return n;
}

Args parse_args(int argc, char** argv, int first) {
  Args a;
  const unsigned hw = std::thread::hardware_concurrency();
  a.threads = hw ? int(hw) : 1;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&](const std::string& name) {
      if (i + 1 >= argc) throw UsageError{name + " needs a value"};
      return std::string(argv[++i]);
    };
    if (s == "--set") {
      a.sets.push_back(value(s));
    } else if (s.rfind("--set=", 0) == 0) {
      a.sets.push_back(s.substr(6));
    } else if (s == "--threads") {
      a.threads = int(number(s, value(s), 1, 1024));
    } else if (s == "--deterministic") {
      a.deterministic = true;
    } else if (s == "--gpu") {
      a.gpu = int(number(s, value(s), 0, 1023));
    } else if (s == "-clear" || s == "--clear") {
      a.clear = true;
    } else if (s == "-t" || s == "--top") {
      a.top = int(number(s, value(s), 1, 1 << 20));
    } else if (s == "--confusion") {
      a.confusion = true;
    } else if (s == "--quiet") {
      a.quiet = true;
    } else if (s == "--checkpoint-every") {
      a.checkpoint_every = number(s, value(s), 0, INT64_MAX);
    } else if (s == "--valid-every") {
      a.valid_every = number(s, value(s), 1, INT64_MAX);
    } else if (s == "--report-every") {
      a.report_every = number(s, value(s), 1, INT64_MAX);
    } else if (s == "--bn-recalibrate") {
      a.bn_recalibrate = number(s, value(s), 0, INT64_MAX);
    } else if (s == "--mpi-timeout") {
      a.mpi_timeout = double(number(s, value(s), 1, 1 << 30));
    } else if (s == "--save-all-ranks") {
      a.save_all_ranks = true;
    } else if (s == "-o" || s == "--output") {
      a.output = value(s);
    } else if (s == "--bits") {
      a.bits = int(number(s, value(s), 2, 32));
    } else if (s == "--prune") {
      const std::string v = value(s);
      char* end = nullptr;
      a.prune = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(a.prune >= 0 && a.prune < 1))
        throw UsageError{"--prune needs a fraction in [0, 1), got '" + v + "'"};
    } else if (s == "--unshared") {
      a.unshared = value(s);
      if (a.unshared != "fp16" && a.unshared != "fp32")
        throw UsageError{"--unshared takes fp16 or fp32, got '" + a.unshared + "'"};
    } else if (s == "--int8") {
      a.int8 = true;
    } else if (s == "--fp32") {
      a.fp32 = true;
    } else if (s == "--data") {
      a.data = value(s);
    } else if (s == "--calibrate") {
      a.calibrate = int(number(s, value(s), 1, 1 << 20));
    } else if (s == "--darknet") {
      a.darknet = value(s);
    } else if (s == "--darknet-cfg") {
      a.darknet_cfg = value(s);
    } else if (s.size() > 1 && s[0] == '-') {
      throw UsageError{"unknown option '" + s + "'"};
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

int cmd_info(const Args& a) {
  if (a.positional.size() != 1) throw UsageError{"info takes one cfg file"};
  if (rpg::is_export_file(a.positional[0])) return rpg_cli::info_export(a, a.positional[0]);
  const rpg::CfgFile cfg = load_with_overrides(a.positional[0], a.sets);
  // A summary needs shapes, not activations: no per-batch buffers, only their estimate.
  const rpg::Network net(cfg, backend_for(a), rpg::NetworkOptions{false});
  std::printf("%s: input %s\n", cfg.path.c_str(), net.input_shape().str().c_str());
  std::fputs(rpg::summary_table(net).c_str(), stdout);
  const int batch = net.config().batch / net.config().subdivisions;
  const rpg::MemoryEstimate m = net.memory_estimate(batch);
  std::printf("memory at batch %d: parameters %s, activations %s, workspace %s\n", batch,
              rpg::byte_size(m.parameters).c_str(), rpg::byte_size(m.activations).c_str(),
              rpg::byte_size(m.workspace).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (cmd == "version" || cmd == "--version") {
      std::puts("rpgnet 0.1.0");
      return 0;
    }
    Args a = parse_args(argc, argv, 2);
    if (cmd == "info") return cmd_info(a);
    if (cmd == "classifier") return rpg_cli::cmd_classifier(a);
    if (cmd == "export") return rpg_cli::cmd_export(a);
    throw UsageError{"unknown command '" + cmd + "'"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "rpgnet: %s\n\n%s", e.message.c_str(), kUsage);
    return 2;
  } catch (const rpg::Error& e) {
    std::fprintf(stderr, "rpgnet: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rpgnet: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rpgnet: internal error: %s\n", e.what());
    return 1;
  }
}
