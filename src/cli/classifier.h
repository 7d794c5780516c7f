// Shared pieces of the rpgnet command: parsed arguments, usage errors, and the subcommands.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "cfg/cfg.h"

namespace rpg_cli {

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> sets;  // --set SECTION.KEY=VALUE
  int threads = 1;
  int gpu = -1;             // --gpu N: CUDA device N; -1: the CPU
  bool deterministic = false;  // --deterministic: the CPU's reference engine
  bool clear = false;       // -clear: keep the weights, restart the schedule at update 0
  bool confusion = false;   // valid: print the confusion matrix
  bool quiet = false;       // train: no progress lines
  int top = 0;              // -t N: top-k (0: the .data file's 'top')
  int64_t checkpoint_every = 1000;
  int64_t report_every = 10;
  int64_t valid_every = 0;  // train: updates between evaluations on the valid set (0: at the end only)
  int64_t bn_recalibrate = -1;  // --bn-recalibrate N; -1: not given
  double mpi_timeout = 300;     // --mpi-timeout S: train under mpirun, the longest wait for a rank
  bool save_all_ranks = false;  // --save-all-ranks: train under mpirun, every rank writes weights
  // export (and train --prune)
  std::string output;         // -o FILE
  int bits = 32;              // --bits B
  double prune = -1;          // --prune F; -1: not given
  std::string unshared = "fp32";             // --unshared fp16|fp32
  std::string darknet, darknet_cfg;          // --darknet FILE, --darknet-cfg FILE
  bool int8 = false;          // export --int8
  std::string data;           // export --data FILE (calibration)
  int calibrate = -1;         // export --calibrate N; -1: not given
  bool fp32 = false;          // valid/predict --fp32: an int8 export in float32
};

struct UsageError {
  std::string message;
};

rpg::CfgFile load_with_overrides(const std::string& path, const std::vector<std::string>& sets);

// The backend the options ask for (--gpu, --threads, --deterministic).
std::unique_ptr<rpg::Backend> backend_for(const Args& a);
// "2 threads (oneDNN)", "CUDA device 0": where a command runs, for its progress lines.
std::string where_it_runs(const Args& a);

int cmd_classifier(const Args& a);
int cmd_export(const Args& a);
// `info` on an export file: what it holds, then the layer table of its embedded cfg.
int info_export(const Args& a, const std::string& path);

}  // namespace rpg_cli
