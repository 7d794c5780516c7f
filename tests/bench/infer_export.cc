// Inference speed of an export file (tests/bench/int8.sh): the model as rpgnet classifier valid /
// predict and rpg_network_create_from_export run it (int8 on oneDNN for an int8 export, float32
// with --fp32), at batch B and at batch 1, on random inputs in [0, 1].
//   usage: infer_export [--threads N] [--batch B] [--steps S] [--warmup W] [--latency-reps R]
//          [--fp32] [--profile] model.rpgm
//   prints: infer_ms=<median> images_per_s=<B / median> latency_ms=<median> int8_layers=<N>
// --profile: after the warm-up at batch B, one pass between the lines "profile_begin" and
// "profile_end infer_ms=<its time>" (run it with DNNL_VERBOSE=1: oneDNN's per-primitive times of
// that pass are the lines between), and nothing else.
// Timings are medians over S passes (default 20) at batch B and R passes (default 200) at
// batch 1, after W warm-up passes (default 5) of each.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend/factory.h"
#include "base/random.h"
#include "bench_util.h"
#include "core/int8_net.h"
#include "io/export.h"

using bench::timed_median;

int main(int argc, char** argv) {
  int threads = 1, batch = 128, steps = 20, warmup = 5, latency_reps = 200;
  bool fp32 = false, profile = false;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--threads") threads = value();
    else if (a == "--batch") batch = value();
    else if (a == "--steps") steps = value();
    else if (a == "--warmup") warmup = value();
    else if (a == "--latency-reps") latency_reps = value();
    else if (a == "--fp32") fp32 = true;
    else if (a == "--profile") profile = true;
    else if (path.empty() && a.rfind("--", 0) != 0) path = a;
    else path.clear(), i = argc;
  }
  if (path.empty() || threads < 1 || batch < 1 || steps < 1 || warmup < 0 || latency_reps < 1) {
    std::fprintf(stderr,
                 "usage: %s [--threads N] [--batch B] [--steps S] [--warmup W] [--latency-reps R] [--fp32] [--profile] "
                 "model.rpgm\n",
                 argv[0]);
    return 2;
  }
  try {
    auto net = rpg::load_export(path, rpg::make_backend(-1, threads), !fp32);
    net->set_batch(batch);
    const auto* plan = dynamic_cast<const rpg::Int8Plan*>(net->inference_plan());
    rpg::Rng rng(3);
    std::vector<float> x(size_t(batch * net->input_size()));
    for (auto& v : x) v = rng.uniform();
    for (int i = 0; i < warmup; ++i) net->predict(x.data());
    if (profile) {
      std::printf("profile_begin\n");
      std::fflush(stdout);
      const double ms = timed_median(1, [&]() { net->predict(x.data()); });
      std::fflush(stdout);
      std::printf("profile_end infer_ms=%.3f\n", ms);
      return 0;
    }
    const double infer_ms = timed_median(steps, [&]() { net->predict(x.data()); });
    net->set_batch(1);
    for (int i = 0; i < warmup; ++i) net->predict(x.data());
    const double latency_ms = timed_median(latency_reps, [&]() { net->predict(x.data()); });
    std::printf("infer_ms=%.3f images_per_s=%.1f latency_ms=%.4f int8_layers=%d\n", infer_ms,
                1000.0 * batch / infer_ms, latency_ms, plan ? plan->int8_layers() : 0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "infer_export: %s\n", e.what());
    return 1;
  }
  return 0;
}
