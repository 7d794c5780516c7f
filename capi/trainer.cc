// The C boundary, part 5: training from a Darknet .data file with the library's training loop
// (train/trainer.h), as `rpgnet classifier train` does: progress through a callback, a stop
// request from any thread, polling, checkpoints, and evaluation on the valid set.
#include <cmath>
#include <cstdio>

#include "boundary.h"
#include "train/collective.h"
#include "train/run_setup.h"
#include "train/trainer.h"

using rpg_capi::guard;
using rpg_capi::handle;
using rpg_capi::invalid;
using rpg_capi::need;
using rpg_capi::need_string;

struct rpg_trainer {
  uint32_t magic = rpg_capi::kTrainerMagic;
  rpg_network* net = nullptr;  // borrowed
  rpg::ClassifierData data;
  std::unique_ptr<rpg::Dataset> train, valid;  // valid opened on first use
  std::unique_ptr<rpg::Collective> comm;        // rpg_trainer_set_distributed; null: one process
  rpg::TrainOptions options;
  int64_t max_updates = 0;
  rpg_progress_fn fn = nullptr;
  void* user = nullptr;
  std::atomic<bool> stop{false};
  bool running = false;  // inside rpg_trainer_run (its callback must not free the trainer)
  mutable std::mutex mu;  // guards the two progress fields (polled from other threads)
  int64_t update = 0;
  double avg_loss = 0;
};

namespace {

rpg::Network& network(rpg_trainer& t) { return *handle(t.net, "the trainer's network").net; }

// Marks the network as used by a run for as long as the run lasts, however it ends.
struct Training {
  rpg_network& h;
  rpg_trainer& t;
  Training(rpg_network& net, rpg_trainer& trainer) : h(net), t(trainer) {
    rpg_capi::need_not_training(h);
    h.training = &t;
    t.running = true;
  }
  ~Training() {
    h.training = nullptr;
    t.running = false;
  }
  Training(const Training&) = delete;
  Training& operator=(const Training&) = delete;
};

}  // namespace

void rpg_capi::need_not_training(const rpg_network& h) {
  if (!h.training) return;
  const rpg_trainer& t = *h.training;
  invalid("the network is in use by rpg_trainer_run of trainer '" + t.options.name + "' (checkpoints in '" +
          t.options.backup_dir + "'): call this after the run returns, not from its progress callback");
}

rpg_status rpg_trainer_create(rpg_network* net, const char* data_path, rpg_trainer** out) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    const std::string path = need_string(data_path, "data_path");
    need(out, "out");
    auto t = std::make_unique<rpg_trainer>();
    t->net = net;
    t->data = rpg::load_classifier_data(path);
    rpg::check_classes(t->data, *h.net);
    t->train = rpg::open_classifier_set(t->data, "train", *h.net);
    t->options.backup_dir = rpg::backup_dir(t->data.data);
    t->options.name = rpg::run_name(h.net->cfg_path());
    t->max_updates = rpg::Trainer(*h.net, *t->train, t->options).max_iterations();  // validates the fit
    t->update = h.state.iteration;
    h.max_updates = t->max_updates;
    *out = t.release();
  });
}

void rpg_trainer_free(rpg_trainer* trainer) {
  if (!rpg_capi::freeable(trainer, __func__)) return;
  if (trainer->running) {
    rpg_capi::log(RPG_LOG_ERROR, std::string(__func__) + ": not freed: its rpg_trainer_run is running");
    return;
  }
  trainer->magic = 0;
  delete trainer;
}

rpg_status rpg_trainer_set_backup_dir(rpg_trainer* trainer, const char* dir) {
  return guard(__func__, [&] { handle(trainer, "trainer").options.backup_dir = need_string(dir, "dir"); });
}

rpg_status rpg_trainer_set_name(rpg_trainer* trainer, const char* name) {
  return guard(__func__, [&] {
    rpg_trainer& t = handle(trainer, "trainer");
    const std::string n = need_string(name, "name");
    if (n.find('/') != std::string::npos) invalid("name '" + n + "' contains '/': set the folder with rpg_trainer_set_backup_dir");
    t.options.name = n;
  });
}

rpg_status rpg_trainer_set_checkpoint_every(rpg_trainer* trainer, int64_t updates) {
  return guard(__func__, [&] {
    rpg_trainer& t = handle(trainer, "trainer");
    if (updates < 0) invalid("updates is " + std::to_string(updates) + ", expected >= 0");
    t.options.checkpoint_every = updates;
  });
}

rpg_status rpg_trainer_set_report_every(rpg_trainer* trainer, int64_t updates) {
  return guard(__func__, [&] {
    rpg_trainer& t = handle(trainer, "trainer");
    if (updates < 1) invalid("updates is " + std::to_string(updates) + ", expected >= 1");
    t.options.report_every = updates;
  });
}

rpg_status rpg_trainer_set_stop_at(rpg_trainer* trainer, int64_t update) {
  return guard(__func__, [&] {
    rpg_trainer& t = handle(trainer, "trainer");
    if (update < 0) invalid("update is " + std::to_string(update) + ", expected >= 0");
    t.options.stop_at = update;
  });
}

rpg_status rpg_trainer_set_progress_callback(rpg_trainer* trainer, rpg_progress_fn fn, void* user_data) {
  return guard(__func__, [&] {
    rpg_trainer& t = handle(trainer, "trainer");
    t.fn = fn;
    t.user = fn ? user_data : nullptr;
  });
}

rpg_status rpg_trainer_max_updates(const rpg_trainer* trainer, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_trainer& t = handle(trainer, "trainer");
    need(out, "out");
    *out = t.max_updates;
  });
}

rpg_status rpg_trainer_run(rpg_trainer* trainer, int32_t* finished) {
  return guard(__func__, [&] {
    rpg_trainer& t = handle(trainer, "trainer");
    rpg_network& h = handle(t.net, "the trainer's network");
    const Training training(h, t);  // refuses a second run on the network, from a callback
    rpg::TrainOptions o = t.options;
    o.stop = &t.stop;
    o.collective = t.comm.get();
    o.on_progress = [&t](const rpg::Progress& p) {
      {
        std::lock_guard<std::mutex> lock(t.mu);
        t.update = p.iteration;
        t.avg_loss = p.avg_loss;
      }
      char line[200];
      std::snprintf(line, sizeof line, "update %lld/%lld  epoch %.2f  loss %.4f  avg %.4f  lr %.5f  %.0f img/s",
                    (long long)p.iteration, (long long)p.max_iterations, p.epoch, p.loss, p.avg_loss,
                    double(p.learning_rate), p.images_per_second);
      rpg_capi::log(RPG_LOG_INFO, line);
      if (t.fn && t.fn(p.iteration, p.max_iterations, p.epoch, p.loss, p.avg_loss, p.learning_rate,
                       p.images_per_second, t.user) != 0)
        t.stop.store(true);
    };
    o.on_warning = [](const std::string& message) { rpg_capi::log(RPG_LOG_WARNING, message); };
    rpg::Trainer run(*h.net, *t.train, o);
    h.max_updates = run.max_iterations();
    h.last = rpg_network::Pass::None;
    struct AfterRun {  // however the run ends (a failure too): the update count matches the
                       // weights, and a stop request ends this run only
      rpg_trainer& t;
      rpg_network& h;
      const rpg::Trainer& run;
      ~AfterRun() {
        h.state = run.state();
        std::lock_guard<std::mutex> lock(t.mu);
        t.update = h.state.iteration;
        t.stop.store(false);
      }
    } after{t, h, run};
    const rpg::TrainResult r = run.run(h.state);
    if (finished) *finished = r.finished ? 1 : 0;
  });
}

rpg_status rpg_trainer_stop(rpg_trainer* trainer) {
  return guard(__func__, [&] { handle(trainer, "trainer").stop.store(true); });
}

rpg_status rpg_trainer_progress(const rpg_trainer* trainer, int64_t* update, double* avg_loss) {
  return guard(__func__, [&] {
    const rpg_trainer& t = handle(trainer, "trainer");
    need(update, "update");
    need(avg_loss, "avg_loss");
    std::lock_guard<std::mutex> lock(t.mu);
    *update = t.update;
    *avg_loss = t.avg_loss;
  });
}

rpg_status rpg_trainer_evaluate(rpg_trainer* trainer, int32_t k, double* top1, double* topk, double* loss) {
  return guard(__func__, [&] {
    rpg_trainer& t = handle(trainer, "trainer");
    if (k < 1) invalid("k is " + std::to_string(k) + ", expected >= 1");
    rpg_capi::need_not_training(handle(t.net, "the trainer's network"));  // evaluation resizes the batch
    rpg::Network& net = network(t);
    if (!t.valid) t.valid = rpg::open_classifier_set(t.data, "valid", net);
    const rpg::Evaluation e = rpg::evaluate(net, *t.valid, k);
    handle(t.net, "net").last = rpg_network::Pass::None;
    if (top1) *top1 = e.top1;
    if (topk) *topk = e.topk;
    if (loss) *loss = e.loss;
  });
}

rpg_status rpg_trainer_set_distributed(rpg_trainer* trainer, int64_t communicator, double timeout_seconds,
                                       int32_t* rank, int32_t* size) {
  return guard(__func__, [&] {
    rpg_trainer& t = handle(trainer, "trainer");
    if (t.running) invalid("the trainer's rpg_trainer_run is running");
    if (!(timeout_seconds > 0) || !std::isfinite(timeout_seconds))
      invalid("timeout_seconds is " + std::to_string(timeout_seconds) + ", expected a positive number");
    if (communicator != RPG_COMM_WORLD && (communicator < 0 || communicator > INT32_MAX))
      invalid("communicator " + std::to_string(communicator) +
              " is neither RPG_COMM_WORLD (-1) nor an MPI communicator's Fortran handle (MPI_Comm_c2f)");
    std::unique_ptr<rpg::Collective> comm = rpg::connect_mpi(communicator, timeout_seconds);
    if (rank) *rank = comm->rank();
    if (size) *size = comm->size();
    t.comm = std::move(comm);
  });
}

rpg_status rpg_distributed_finalize(void) {
  return guard(__func__, [&] { rpg::finalize_mpi(); });
}
