// One side of the rpgnet-against-PyTorch benchmark (tests/bench/compare.py runs it alternately
// with tests/bench/torch_bench.py, which prints the same line): for one cfg in one process, the
// training step (forward + backward + SGD update) and inference at batch B, the batch-1
// inference latency, and the process's peak RSS.
//   usage: measure [--threads N] [--batch B] [--size S] [--steps S] [--warmup W] [--latency-reps R] cfg
//   prints: train_ms=<median> infer_ms=<median> latency_ms=<median> peak_rss_mib=<VmHWM> dof=<total DoF>
// Inputs are random and the labels cycle through the classes; timings are medians over the
// steps (default 10) after W warm-up steps (default 3) of each kind.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "backend/factory.h"
#include "bench_util.h"
#include "cfg/cfg.h"
#include "core/network.h"
#include "base/random.h"

namespace {

using bench::median;
using bench::now_ms;
using bench::timed_median;

// The process's peak resident set (VmHWM). Not getrusage's ru_maxrss: that one keeps the high-water
// mark of the process image before execve, so a child of a big parent (a Python driver that
// imported torch) would report the parent's size.
double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;  // kB
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, batch = 128, steps = 10, warmup = 3, latency_reps = 50, size = 0;
  std::string cfg_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--threads") threads = value();
    else if (a == "--batch") batch = value();
    else if (a == "--size") size = value();
    else if (a == "--steps") steps = value();
    else if (a == "--warmup") warmup = value();
    else if (a == "--latency-reps") latency_reps = value();
    else if (cfg_path.empty() && a.rfind("--", 0) != 0) cfg_path = a;
    else cfg_path.clear(), i = argc;
  }
  if (cfg_path.empty() || threads < 1 || batch < 1 || size < 0 || steps < 1 || warmup < 0 || latency_reps < 1) {
    std::fprintf(stderr,
                 "usage: %s [--threads N] [--batch B] [--size S] [--steps S] [--warmup W] [--latency-reps R] cfg\n",
                 argv[0]);
    return 2;
  }
  try {
    rpg::CfgFile cfg = rpg::load_cfg(cfg_path);
    rpg::apply_override(cfg, "net.batch=" + std::to_string(batch));
    rpg::apply_override(cfg, "net.subdivisions=1");
    if (size) {  // the input's width and height
      rpg::apply_override(cfg, "net.width=" + std::to_string(size));
      rpg::apply_override(cfg, "net.height=" + std::to_string(size));
    }
    rpg::Network net(cfg, rpg::make_backend(-1, threads));
    rpg::Rng rng(3);
    std::vector<float> x(size_t(batch * net.input_size()));
    for (auto& v : x) v = rng.uniform();
    const int64_t classes = net.output_size();
    std::vector<float> truth(size_t(batch * classes), 0.f);
    for (int b = 0; b < batch; ++b) truth[size_t(b * classes + b % classes)] = 1.f;

    auto step = [&]() {
      net.train_pass(x.data(), truth.data());
      net.update(0.001f);
    };
    for (int i = 0; i < warmup; ++i) step();
    const double train_ms = timed_median(steps, step);
    for (int i = 0; i < warmup; ++i) net.predict(x.data());
    const double infer_ms = timed_median(steps, [&]() { net.predict(x.data()); });
    net.set_batch(1);
    for (int i = 0; i < warmup; ++i) net.predict(x.data());
    const double latency_ms = timed_median(latency_reps, [&]() { net.predict(x.data()); });
    std::printf("train_ms=%.3f infer_ms=%.3f latency_ms=%.4f peak_rss_mib=%.1f dof=%lld\n", train_ms, infer_ms,
                latency_ms, peak_rss_mib(), static_cast<long long>(net.total_dof()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "measure: %s\n", e.what());
    return 1;
  }
  return 0;
}
