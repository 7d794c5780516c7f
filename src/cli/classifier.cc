// `rpgnet classifier train | valid | predict`: Darknet's classifier commands on the library's
// trainer, with progress on the terminal and Ctrl-C saving a checkpoint.
#include "cli/classifier.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "backend/factory.h"
#include "base/error.h"
#include "core/int8_net.h"
#include "core/summary.h"
#include "data/augment.h"
#include "data/data_config.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/text_file.h"
#include "io/checkpoint.h"
#include "io/darknet_weights.h"
#include "io/weights_file.h"
#include "io/prune.h"
#include "train/collective.h"
#include "train/data_parallel.h"
#include "train/run_setup.h"
#include "train/trainer.h"

namespace rpg_cli {

namespace {

std::atomic<bool> g_stop{false};  // set by SIGINT/SIGTERM/SIGHUP (command-line tool only, not the library)

// Under mpirun a Ctrl-C reaches a rank twice, from the terminal and forwarded by mpirun: there
// a second one must not end the rank before its checkpoint (mpirun's kill does, if need be).
volatile sig_atomic_t g_second_int_kills = 1;

void on_signal(int) {
  g_stop.store(true);
  if (g_second_int_kills) signal(SIGINT, SIG_DFL);  // a second Ctrl-C leaves at once
}

std::string duration(double s) {
  char b[32];
  const long t = long(s + .5);
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(b, sizeof b, "%lds", t);
  return b;
}

// The network of the cfg (overrides applied) on the chosen backend, and its .data file.
struct Setup {
  std::unique_ptr<rpg::Network> net;
  rpg::ClassifierData cd;
  const rpg::DataConfig& data() const { return cd.data; }
  const std::vector<std::string>& labels() const { return cd.labels; }
  std::unique_ptr<rpg::Dataset> open(const std::string& key) const { return rpg::open_classifier_set(cd, key, *net); }
};

Setup setup(const Args& a, const std::string& data_path, const std::string& cfg_path) {
  Setup s;
  s.cd = rpg::load_classifier_data(data_path);
  s.net = std::make_unique<rpg::Network>(load_with_overrides(cfg_path, a.sets), backend_for(a));
  rpg::check_classes(s.cd, *s.net);
  return s;
}

void print_evaluation(const rpg::Evaluation& e, double seconds, const std::vector<std::string>& labels,
                      bool confusion) {
  std::printf("top-1 %.2f%%  top-%d %.2f%%  loss %.4f  (%lld images, %.1f s)\n", 100 * e.top1, e.k, 100 * e.topk,
              e.loss, (long long)e.images, seconds);
  if (!confusion) return;
  size_t w = 5;
  for (const auto& l : labels) w = std::max(w, l.size());
  std::printf("confusion (rows: truth, columns: predicted)\n%*s", int(w), "");
  for (int j = 0; j < e.classes; ++j) std::printf(" %6.6s", labels[size_t(j)].c_str());
  std::printf("\n");
  for (int i = 0; i < e.classes; ++i) {
    std::printf("%*s", int(w), labels[size_t(i)].c_str());
    for (int j = 0; j < e.classes; ++j) std::printf(" %6lld", (long long)e.confusion[size_t(i * e.classes + j)]);
    std::printf("\n");
  }
}

class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : tty_(!quiet && isatty(fileno(stdout))), quiet_(quiet) {}
  void operator()(const rpg::Progress& p) {
    if (quiet_) return;
    char line[256];
    std::snprintf(line, sizeof line,
                  "%6lld/%lld  epoch %.2f  loss %.4f  avg %.4f  lr %.5f  %.0f img/s  ETA %s",
                  (long long)p.iteration, (long long)p.max_iterations, p.epoch, p.loss, p.avg_loss,
                  double(p.learning_rate), p.images_per_second, duration(p.eta_seconds).c_str());
    if (tty_) {
      const int width = 24, filled = int(width * double(p.iteration) / double(std::max<int64_t>(1, p.max_iterations)));
      std::string bar(size_t(filled), '#');
      bar.resize(size_t(width), '.');
      std::printf("\r[%s] %s\x1b[K", bar.c_str(), line);
      if (p.iteration >= p.max_iterations) std::printf("\n");
    } else {
      std::printf("%s\n", line);
    }
    std::fflush(stdout);
  }
  void finish() {
    if (tty_) std::printf("\n");
  }

 private:
  bool tty_, quiet_;
};

// Everything a training run needs before its first update; built on every rank of a
// distributed run, which all check that every rank got this far (a data file missing on one
// machine stops the job before training starts).
struct TrainSetup {
  Setup s;
  std::unique_ptr<rpg::Dataset> train_set, valid_set;
  rpg::TrainState state;
  std::unique_ptr<rpg::Trainer> trainer;
};

void prepare_training(const Args& a, rpg::Collective* comm, ProgressPrinter& printer, TrainSetup& t) {
  t.s = setup(a, a.positional[1], a.positional[2]);
  rpg::Network& net = *t.s.net;
  t.train_set = t.s.open("train");
  if (!t.s.data().valid.empty()) t.valid_set = t.s.open("valid");  // checked up front too

  if (a.positional.size() == 4) {
    const std::string& w = a.positional[3];
    const rpg::LoadedWeights l = rpg::load_any_weights(net, w, false);
    switch (l.kind) {
      case rpg::WeightsKind::Export:
        std::printf("loaded export %s (training starts at update 0)\n", w.c_str());
        break;
      case rpg::WeightsKind::Checkpoint:
        std::printf("loaded checkpoint %s%s\n", w.c_str(),
                    a.clear ? " (-clear: training restarts at update 0)"
                            : (" (resuming at update " + std::to_string(l.state.iteration) + ")").c_str());
        break;
      case rpg::WeightsKind::Darknet:
        std::printf("loaded weights %s (seen %lld images)\n", w.c_str(), (long long)l.seen);
        break;
    }
    if (!a.clear) t.state = l.state;  // Darknet: the update count continues from the images seen
  }
  if (a.prune >= 0) {
    // Pruned fine-tuning: on a resumed run the pruned entries are already 0, so the same mask
    // is found again (they are the smallest magnitudes).
    const int64_t pruned = rpg::prune_rings(net, a.prune, true);
    std::printf("pruned %lld of %lld ring entries (--prune %g); they stay 0 while training\n", (long long)pruned,
                (long long)net.ring_dof(), a.prune);
  }
  rpg::TrainOptions opt;
  opt.backup_dir = rpg::backup_dir(t.s.data());
  opt.name = rpg::run_name(a.positional[2]);
  opt.checkpoint_every = a.checkpoint_every;
  opt.report_every = a.report_every;
  opt.bn_recalibrate = std::max<int64_t>(0, a.bn_recalibrate);
  opt.on_progress = [&printer](const rpg::Progress& p) { printer(p); };
  const std::string who = comm ? comm->describe() + ": " : "";
  opt.on_warning = [who](const std::string& message) {
    std::fprintf(stderr, "rpgnet: warning: %s%s\n", who.c_str(), message.c_str());
  };
  opt.stop = &g_stop;
  if (a.valid_every > 0) {
    if (!t.valid_set) throw UsageError{"--valid-every needs a 'valid' set in " + a.positional[1]};
    opt.evaluate_every = a.valid_every;
    opt.on_evaluate = [&t, &printer, comm](int64_t iteration) {
      if (comm && comm->rank() != 0) return;  // the parameters are the same on every rank
      printer.finish();
      auto t0 = std::chrono::steady_clock::now();
      const rpg::Evaluation e = rpg::evaluate(*t.s.net, *t.valid_set, t.s.data().top);
      std::printf("valid at update %lld: ", (long long)iteration);
      print_evaluation(e, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), t.s.labels(),
                       false);
      std::fflush(stdout);
    };
  }
  opt.collective = comm;
  opt.every_rank_saves = a.save_all_ranks;
  t.trainer = std::make_unique<rpg::Trainer>(net, *t.train_set, opt);
}

int train_run(const Args& a, rpg::Collective* comm) {
  if (a.positional.size() < 3 || a.positional.size() > 4)
    throw UsageError{"classifier train takes <data> <cfg> [weights|checkpoint]"};
  ProgressPrinter printer(a.quiet);
  TrainSetup t;
  if (comm)
    rpg::on_every_rank(*comm, "setting up the run", [&] { prepare_training(a, comm, printer, t); });
  else
    prepare_training(a, comm, printer, t);
  rpg::Network& net = *t.s.net;
  rpg::Trainer& trainer = *t.trainer;
  const rpg::TrainState state = t.state;
  const std::string backup = rpg::backup_dir(t.s.data()), name = rpg::run_name(a.positional[2]);

  const rpg::NetConfig& c = net.config();
  std::printf("%s: %s parameters, %.3f GFLOPs per image\n", a.positional[2].c_str(),
              rpg::with_commas(net.num_params()).c_str(), 2.0 * double(net.macs()) / 1e9);
  if (!net.rings().empty()) std::fputs(rpg::dof_summary(net).c_str(), stdout);
  std::string where = where_it_runs(a);
  if (comm && comm->size() > 1) {
    const rpg::Shard first = rpg::shard_for(c.batch, c.batch / c.subdivisions, 0, comm->size());
    const rpg::Shard last = rpg::shard_for(c.batch, c.batch / c.subdivisions, comm->size() - 1, comm->size());
    where = std::to_string(comm->size()) + " ranks (" + where + " each; " + std::to_string(first.count) +
            (first.count == last.count ? "" : " or " + std::to_string(last.count)) + " images of every batch per rank)";
  }
  std::printf("training %lld updates of %d images (%.2f epochs of %zu) on %s; checkpoints in %s/%s.ckpt\n",
              (long long)trainer.max_iterations(), c.batch,
              double(trainer.max_iterations()) * c.batch / double(t.train_set->size()), t.train_set->size(),
              where.c_str(), backup.c_str(), name.c_str());
  std::fflush(stdout);

  // A closed terminal (SIGHUP) stops the run as Ctrl-C and SIGTERM do: with a checkpoint.
  const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
  for (int sig : stop_signals) signal(sig, on_signal);
  rpg::TrainResult r = trainer.run(state);
  for (int sig : stop_signals) signal(sig, SIG_DFL);
  printer.finish();
  if (r.bad_samples > 0)
    std::fprintf(stderr, "rpgnet: warning: %lld unreadable training samples were skipped (listed above)\n",
                 (long long)r.bad_samples);
  if (r.ranks > 1) {
    const int64_t updates = std::max<int64_t>(1, r.state.iteration - state.iteration);
    std::printf("data-parallel: %lld floats (%lld bytes) summed across %d ranks per update: %lld gradients of the "
                "degrees of freedom, %lld batch-norm statistics, %lld control; rank 0 sent %lld bytes per update; "
                "parameters identical on every rank (fingerprint %016llx)\n",
                (long long)r.exchanged_floats, (long long)(4 * r.exchanged_floats), r.ranks,
                (long long)r.gradient_floats, (long long)r.statistic_floats,
                (long long)(r.exchanged_floats - r.gradient_floats - r.statistic_floats), (long long)(r.bytes_sent / updates),
                (unsigned long long)r.fingerprint);
  }
  if (r.interrupted) {
    std::printf("interrupted at update %lld: checkpoint %s (resume with: rpgnet classifier train %s %s %s)\n",
                (long long)r.state.iteration, r.checkpoint.c_str(), a.positional[1].c_str(), a.positional[2].c_str(),
                r.checkpoint.c_str());
    return 130;
  }
  std::printf("trained %lld updates in %s (%.0f images/s); weights %s, checkpoint %s\n", (long long)r.state.iteration,
              duration(r.seconds).c_str(), double(r.state.seen - state.seen) / std::max(1e-9, r.seconds),
              r.weights.empty() ? "(not finished)" : r.weights.c_str(), r.checkpoint.c_str());
  if (t.valid_set && (!comm || comm->rank() == 0)) {  // the parameters are the same on every rank
    auto t0 = std::chrono::steady_clock::now();
    rpg::Evaluation e = rpg::evaluate(net, *t.valid_set, t.s.data().top);
    std::printf("valid: ");
    print_evaluation(e, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), t.s.labels(), false);
  }
  return 0;
}

// Under mpirun every rank runs train_run on the job's communicator. Only rank 0 prints to
// stdout; errors and warnings of every rank go to stderr, naming the rank. A failure that
// every rank learnt of (setup, a rank's passes, divergence) ends every rank cleanly; a
// communication failure or timeout (the other ranks may be anywhere) ends the job at once.
int train(const Args& a) {
  if (!rpg::launched_by_mpi()) return train_run(a, nullptr);
  std::unique_ptr<rpg::Collective> comm = rpg::connect_mpi(rpg::kCommWorld, a.mpi_timeout);
  g_second_int_kills = 0;
  if (comm->rank() != 0 && !std::freopen("/dev/null", "w", stdout))
    throw rpg::Error(rpg::Status::NotFound, "cannot silence the standard output of " + comm->describe());
  int status = 1;
  try {
    status = train_run(a, comm.get());
  } catch (const rpg::Error& e) {
    const std::string who = comm->describe() + ": ";
    const std::string message = std::string(e.what()).rfind(who, 0) == 0 ? e.what() : who + e.what();
    if (comm->broken()) {
      std::fprintf(stderr, "rpgnet: error: %s; ending the job\n", message.c_str());
      std::fflush(stderr);
      comm->abort_job(1);
    }
    comm.reset();
    rpg::finalize_mpi();
    throw rpg::Error(e.status(), message);
  } catch (...) {  // a usage error: the same on every rank
    comm.reset();
    rpg::finalize_mpi();
    throw;
  }
  std::fflush(stdout);
  comm.reset();
  rpg::finalize_mpi();
  return status;
}

// The output is a file of the input's kind: a checkpoint (its training state kept) from a
// checkpoint or an export (rings stay rings), a Darknet .weights from a .weights.
int recalibrate(const Args& a) {
  if (a.positional.size() != 4 || a.output.empty())
    throw UsageError{"classifier recalibrate takes <data> <cfg> <weights|checkpoint|rpgm> -o <output>"};
  Setup s = setup(a, a.positional[1], a.positional[2]);
  rpg::Network& net = *s.net;
  auto train_set = s.open("train");
  const rpg::LoadedWeights loaded = rpg::load_any_weights(net, a.positional[3], false);
  const bool darknet = loaded.kind == rpg::WeightsKind::Darknet;
  const int64_t batches = a.bn_recalibrate < 0 ? 100 : a.bn_recalibrate;
  const int n = rpg::recalibrate_batchnorm(net, *train_set, batches);
  if (n == 0)
    throw rpg::Error(rpg::Status::InvalidArgument, batches == 0 ? "--bn-recalibrate 0: nothing to do"
                                                                : a.positional[2] + " has no batch-normalised layer");
  if (darknet)
    rpg::save_darknet_weights(net, a.output, loaded.seen);
  else
    rpg::save_checkpoint(net, loaded.state, a.output);
  std::printf("recalibrated %d batch-norm layers from %lld batches of %d images; %s %s\n", n, (long long)batches,
              net.batch(), darknet ? "weights" : "checkpoint", a.output.c_str());
  return 0;
}

// Says when an int8 export runs on the int8 engine.
void print_int8(rpg::Network& net) {
  const auto* plan = dynamic_cast<const rpg::Int8Plan*>(net.inference_plan());
  if (plan) std::printf("int8: %d layers run in int8 (rpgnet info on the export lists them; --fp32: float32)\n", plan->int8_layers());
}

int valid(const Args& a) {
  if (a.positional.size() != 4) throw UsageError{"classifier valid takes <data> <cfg> <weights|checkpoint>"};
  Setup s = setup(a, a.positional[1], a.positional[2]);
  auto valid_set = s.open("valid");
  rpg::load_any_weights(*s.net, a.positional[3], !a.fp32);
  print_int8(*s.net);
  auto t0 = std::chrono::steady_clock::now();
  rpg::Evaluation e = rpg::evaluate(*s.net, *valid_set, a.top > 0 ? a.top : s.data().top);
  print_evaluation(e, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), s.labels(),
                   a.confusion);
  return 0;
}

bool looks_like_image(const std::string& p) {
  std::string ext = p.substr(p.find_last_of('.') == std::string::npos ? p.size() : p.find_last_of('.'));
  for (auto& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tga" || ext == ".gif" ||
         ext == ".pgm" || ext == ".ppm";
}

int predict(const Args& a) {
  if (a.positional.size() != 5) throw UsageError{"classifier predict takes <data> <cfg> <weights> <image|list>"};
  Setup s = setup(a, a.positional[1], a.positional[2]);
  rpg::Network& net = *s.net;
  rpg::load_any_weights(net, a.positional[3], !a.fp32);
  net.set_batch(1);
  std::vector<std::string> paths;
  const std::string& target = a.positional[4];
  if (looks_like_image(target)) {
    paths.push_back(target);
  } else {
    std::string dir = target.find('/') == std::string::npos ? "" : target.substr(0, target.find_last_of('/') + 1);
    for (const rpg::TextLine& l : rpg::read_text_lines(target, "list file")) {  // regular files only, bounded
      const std::string& line = l.text;
      if (line.empty()) continue;
      paths.push_back(line[0] == '/' ? line : dir + line);
    }
    if (paths.empty()) throw rpg::Error(rpg::Status::InvalidArgument, "'" + target + "' lists no images");
  }
  const rpg::Shape in = net.input_shape();
  const int k = std::max(1, std::min(a.top > 0 ? a.top : std::min(5, s.data().classes), s.data().classes));
  std::vector<float> x(size_t(net.input_size()));
  for (const auto& p : paths) {
    rpg::Image im = rpg::load_image(p, in.c);
    rpg::letterbox_input(im, in.w, in.h, in.c, x.data());  // as Darknet's classifier predict
    std::vector<float> out = net.predict(x.data());
    std::vector<int> order(out.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int l, int r) { return out[size_t(l)] > out[size_t(r)]; });
    std::printf("%s:", p.c_str());
    for (int i = 0; i < k; ++i)
      std::printf("%s %s %.2f%%", i ? "," : "", s.labels()[size_t(order[size_t(i)])].c_str(), 100.0 * out[size_t(order[size_t(i)])]);
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int cmd_classifier(const Args& a) {
  if (a.positional.empty()) throw UsageError{"classifier needs a subcommand: train, valid, predict or recalibrate"};
  const std::string& sub = a.positional[0];
  if (sub == "train") return train(a);
  if (sub == "valid") return valid(a);
  if (sub == "predict") return predict(a);
  if (sub == "recalibrate") return recalibrate(a);
  throw UsageError{"unknown classifier subcommand '" + sub + "' (train, valid, predict, recalibrate)"};
}

}  // namespace rpg_cli
