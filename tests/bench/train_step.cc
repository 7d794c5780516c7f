// Benchmark: the training step (forward + backward + update) and batch-128 inference of
// networks given on the command line, run side by side: the networks alternate (A B A B ...),
// each measurement is repeated, and medians, spreads and ratios to the first network are
// reported with the machine, thread count and OpenBLAS kernel. Also minor page faults per step.
// --gpu N runs on CUDA device N instead (builds made with make GPU=1); every timing then ends
// with the device's queue drained.
// A cfg written reference:CFG runs on the CPU's reference engine (rpgnet --deterministic)
// instead of oneDNN, so that the two engines can be compared side by side.
//   usage: bench_train_step [--threads N] [--gpu N] [--batch B] [--size S] [--reps R] [reference:]cfg...
#include <cblas.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "backend/factory.h"
#include "bench_util.h"
#include "cfg/cfg.h"
#include "core/network.h"
#include "base/random.h"
#ifdef RPG_GPU
#include "cuda_backend.h"
#endif

namespace {

using bench::median;
using bench::now_ms;

struct Subject {
  std::string cfg;
  std::unique_ptr<rpg::Network> net;
  std::vector<float> x, truth;
  std::vector<double> train_ms, infer_ms;
  std::vector<double> faults;
};

long minor_faults() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, batch = 128, reps = 7, gpu = -1, size = 0;
  std::vector<Subject> subjects;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--gpu" && i + 1 < argc) gpu = std::atoi(argv[++i]);
    else if (a == "--batch" && i + 1 < argc) batch = std::atoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (a == "--size" && i + 1 < argc) size = std::atoi(argv[++i]);
    else subjects.push_back({a, nullptr, {}, {}, {}, {}, {}});
  }
  if (subjects.empty()) {
    std::fprintf(stderr, "usage: %s [--threads N] [--gpu N] [--batch B] [--size S] [--reps R] cfg...\n", argv[0]);
    return 2;
  }
  try {
    for (auto& s : subjects) {
      const bool reference = s.cfg.rfind("reference:", 0) == 0;
      rpg::CfgFile cfg = rpg::load_cfg(reference ? s.cfg.substr(10) : s.cfg);
      rpg::apply_override(cfg, "net.batch=" + std::to_string(batch));
      rpg::apply_override(cfg, "net.subdivisions=1");
      if (size > 0) {  // the input's width and height
        rpg::apply_override(cfg, "net.width=" + std::to_string(size));
        rpg::apply_override(cfg, "net.height=" + std::to_string(size));
      }
      s.net = std::make_unique<rpg::Network>(cfg, rpg::make_backend(gpu, threads, reference));
      rpg::Rng rng(3);
      s.x.resize(size_t(batch * s.net->input_size()));
      for (auto& v : s.x) v = rng.uniform();
      s.truth.assign(size_t(batch * s.net->output_size()), 0.f);
      for (int b = 0; b < batch; ++b) s.truth[size_t(b * s.net->output_size() + b % s.net->output_size())] = 1.f;
      s.net->train_pass(s.x.data(), s.truth.data());  // warm-up: first-touch page faults
      s.net->update(0.f);
      s.net->predict(s.x.data());
    }
    // Waits for the backend's queued work (a device runs asynchronously; sum() downloads).
    auto drain = [](Subject& s) { s.net->backend().sum(s.net->layers().back()->output.data(), 1); };
    for (int r = 0; r < reps; ++r)
      for (auto& s : subjects) {
        long f0 = minor_faults();
        double t0 = now_ms();
        s.net->train_pass(s.x.data(), s.truth.data());
        s.net->update(0.001f);
        drain(s);
        double t1 = now_ms();
        s.faults.push_back(double(minor_faults() - f0));
        s.net->predict(s.x.data());
        double t2 = now_ms();
        s.train_ms.push_back(t1 - t0);
        s.infer_ms.push_back(t2 - t1);
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_step: %s\n", e.what());
    return 1;
  }
  const char* core = std::getenv("OPENBLAS_CORETYPE");
  std::printf("machine: %s, %ld cores; threads %d; batch %d; %d alternating repetitions\n", cpu_model().c_str(),
              sysconf(_SC_NPROCESSORS_ONLN), threads, batch, reps);
  if (gpu >= 0) {
#ifdef RPG_GPU
    std::printf("device: CUDA device %d, %s (%s)\n", gpu,
                dynamic_cast<rpg::CudaBackend&>(subjects[0].net->backend()).device_name().c_str(),
                subjects[0].net->backend().name().c_str());
#endif
  } else {
    std::printf("OpenBLAS kernel: %s (OPENBLAS_CORETYPE=%s)\n", openblas_get_corename(), core ? core : "unset");
  }
  std::printf("| cfg | train step ms (median, min-max) | train img/s | GFLOP/s | vs first | infer img/s | faults/step |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  const double base = median(subjects[0].train_ms);
  for (auto& s : subjects) {
    const double m = median(s.train_ms), mi = median(s.infer_ms);
    const double gflop = 3.0 * 2.0 * double(s.net->macs()) * batch / 1e9;  // a step ~ 3x the forward
    std::printf("| %s | %.1f (%.1f-%.1f) | %.0f | %.0f | %+.1f%% | %.0f | %.0f |\n", s.cfg.c_str(), m,
                *std::min_element(s.train_ms.begin(), s.train_ms.end()),
                *std::max_element(s.train_ms.begin(), s.train_ms.end()), 1000.0 * batch / m, gflop / (m / 1000.0),
                100.0 * (m / base - 1.0), 1000.0 * batch / mi, median(s.faults));
  }
  return 0;
}
