// The training loop and evaluation (see trainer.h).
#include "train/trainer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <set>

#include "base/error.h"
#include "data/loader.h"
#include "io/checkpoint.h"
#include "io/atomic_file.h"
#include "io/darknet_weights.h"
#include "train/data_parallel.h"
#include "train/policy.h"

namespace rpg {

AugmentOptions augment_options(const NetConfig& c) {
  AugmentOptions a;
  a.min_crop = c.min_crop;
  a.max_crop = c.max_crop;
  a.angle = c.angle;
  a.aspect = c.aspect;
  a.hue = c.hue;
  a.saturation = c.saturation;
  a.exposure = c.exposure;
  a.center = c.center;
  a.flip = c.flip;
  a.crop_padding = c.crop_padding;
  return a;
}

namespace {

LoaderOptions loader_options(Network& net, bool train) {
  const NetConfig& c = net.config();
  LoaderOptions o;
  o.batch = net.batch();
  o.width = c.input.w;
  o.height = c.input.h;
  o.channels = c.input.c;
  o.classes = int(net.output_size());
  o.aug = augment_options(c);
  o.train = train;
  o.seed = c.seed;
  return o;
}

void check_fit(Network& net, const Dataset& data) {
  const Shape in = net.input_shape();
  if (in.c != data.channels())
    fail(Status::InvalidArgument, "the network takes " + std::to_string(in.c) + "-channel input but " +
                                      data.describe(0) + " has " + std::to_string(data.channels()) + " channels");
  if (!net.has_loss())
    fail(Status::InvalidArgument, "the network's last layer is a " + net.layers().back()->type +
                                      ": training a classifier needs [softmax] (or [cost]) last");
}

}  // namespace

Trainer::Trainer(Network& net, const Dataset& train, TrainOptions options)
    : net_(net), data_(train), opt_(std::move(options)) {
  check_fit(net_, data_);
  max_iterations_ = total_iterations(net_.config(), int64_t(data_.size()));
  if (max_iterations_ <= 0)
    fail(Status::InvalidArgument, net_.cfg_path() + ": [net] sets neither max_batches nor epochs: the run has no end");
}

namespace {

// Bytes the backup folder needs: a checkpoint (parameters and momentum), its temporary copy
// while the old one still exists, and the final .weights; plus room for the container's tables.
uint64_t backup_bytes_needed(const Network& net) {
  const uint64_t floats = uint64_t(net.num_params()) + uint64_t(net.ring_dof());
  const uint64_t checkpoint = 8 * floats + (1 << 16);
  return 2 * checkpoint + 4 * uint64_t(net.num_params());
}

}  // namespace

TrainResult Trainer::run(TrainState start) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  state_ = start;
  TrainState& state = state_;  // kept current, so that state() is right after a failure too
  const std::string ckpt = opt_.backup_dir + "/" + opt_.name + ".ckpt";
  const std::string weights = opt_.backup_dir + "/" + opt_.name + ".weights";
  // Data-parallel: comm is null for one process. Rank 0 writes every file.
  Collective* comm = opt_.collective && opt_.collective->size() > 1 ? opt_.collective : nullptr;
  const bool writer = !comm || comm->rank() == 0;
  auto everywhere = [&](const std::string& what, const std::function<void()>& step) {
    if (comm)
      on_every_rank(*comm, what, step);
    else
      step();
  };
  const NetConfig& c = net_.config();
  Shard shard;
  everywhere("preparing the run", [&] {
    if (writer) {
      check_writable_folder(opt_.backup_dir, backup_bytes_needed(net_));
      remove_stale_temporaries(ckpt);
      remove_stale_temporaries(weights);
    }
    if (comm) {
      shard = shard_for(c.batch, c.batch / c.subdivisions, comm->rank(), comm->size());
      net_.set_batch(shard.pass);
    }
  });
  const int passes = comm ? shard.passes : c.subdivisions;
  const int64_t batch_images = comm ? int64_t(c.batch) : int64_t(net_.batch()) * c.subdivisions;

  LoaderOptions lo = loader_options(net_, true);
  lo.skip_bad_samples = true;
  if (comm) {
    lo.shard_period = c.batch;
    lo.shard_offset = shard.offset;
    lo.shard_count = shard.count;
  }
  BatchLoader loader(data_, lo);
  loader.seek(state.loader_position);
  std::vector<float> x(size_t(net_.batch() * net_.input_size())), truth(size_t(net_.batch() * net_.output_size()));
  std::unique_ptr<GradientExchange> exchange;
  if (comm) exchange = std::make_unique<GradientExchange>(net_, *comm);

  TrainResult result;
  if (comm) {
    result.ranks = comm->size();
    result.exchanged_floats = exchange->floats();
    result.gradient_floats = exchange->gradient_floats();
    result.statistic_floats = exchange->statistic_floats();
  }
  const int64_t bytes_before = comm ? comm->bytes_sent() : 0;
  std::set<std::string> bad_samples;
  int64_t last_checkpoint = -1;  // the update of the last checkpoint this run wrote
  auto diverged = [&](int64_t update, const std::string& what) {
    fail(Status::InvalidArgument,
         "training diverged at update " + std::to_string(update) + ": " + what + "; " +
             (last_checkpoint >= 0 ? "the last good checkpoint, " + ckpt + " (update " + std::to_string(last_checkpoint) + "), is kept"
                                   : "no checkpoint was written by this run") +
             "; lower learning_rate (or raise burn_in) in " + net_.cfg_path());
  };
  // The parameters are the same on every rank, so every rank finds the same NaN; rank 0 writes.
  auto save = [&]() {
    const std::string bad = net_.non_finite_tensor();
    if (!bad.empty()) diverged(state.iteration, bad + " holds a NaN or an infinity (" + ckpt + " not written)");
    if (exchange) exchange->check_identical(state.iteration);
    state.passes = net_.passes();
    everywhere("writing checkpoint " + ckpt, [&] {
      if (writer) save_checkpoint(net_, state, ckpt);
    });
    result.checkpoint = ckpt;
    last_checkpoint = state.iteration;
  };
  auto note_bad_samples = [&]() {
    for (const SkippedSample& b : loader.take_skipped()) {
      if (!bad_samples.insert(b.where).second) continue;
      if (opt_.on_warning)
        opt_.on_warning("skipped an unreadable sample (replaced by the next one): " + b.reason);
    }
    result.bad_samples = int64_t(bad_samples.size());
  };
  double avg = -1;
  auto last_report = Clock::now();
  int64_t images_since_report = 0;
  const int64_t end = opt_.stop_at > 0 ? std::min(opt_.stop_at, max_iterations_) : max_iterations_;
  while (state.iteration < end) {
    const float lr = rate_for_update(net_, state.iteration, max_iterations_);
    double loss = 0;
    bool stopping = false;
    if (!comm) {
      for (int s = 0; s < passes; ++s) {
        loader.next(x.data(), truth.data(), nullptr);
        loss += net_.train_pass(x.data(), truth.data());
      }
      note_bad_samples();
    } else {
      // An error of this rank's passes (a corrupt image) travels with the exchange, so that
      // every rank stops at this update; this rank rethrows it, the others name this rank.
      std::exception_ptr error;
      const uint64_t counter = net_.passes();
      try {
        exchange->begin_update();
        for (int s = 0; s < passes; ++s) {
          loader.next(x.data(), truth.data(), nullptr);
          net_.set_passes(counter + uint64_t(shard.pass_index(s)));  // the pass one process would run
          loss += net_.train_pass(x.data(), truth.data());
        }
        note_bad_samples();
        net_.gather_ring_gradients();
      } catch (...) {
        error = std::current_exception();
      }
      const bool asked = opt_.stop && opt_.stop->load();
      const GradientExchange::Outcome o = exchange->exchange(loss, asked, result.bad_samples, error != nullptr);
      if (error) std::rethrow_exception(error);
      if (!o.failed.empty())
        fail(Status::CommError, comm->describe() + ": rank " + std::to_string(o.failed.front()) + " failed at update " +
                                    std::to_string(state.iteration + 1) + " (its own message says why); stopped there");
      net_.set_passes(counter + uint64_t(shard.counter_step));
      loss = o.loss;
      stopping = o.stop;
      result.bad_samples = o.bad_samples;
    }
    const double per_image = loss / double(batch_images);
    // Checked before the update, so that the weights stay those of the last good update.
    if (!std::isfinite(per_image))
      diverged(state.iteration + 1, std::string("the loss is ") + (std::isnan(per_image) ? "nan" : per_image > 0 ? "inf" : "-inf"));
    if (comm)
      net_.apply_gradients(lr);
    else
      net_.update(lr);
    state.count_update(batch_images, loader.position());
    images_since_report += batch_images;
    avg = avg < 0 ? per_image : avg * .9 + per_image * .1;

    if (!comm) stopping = opt_.stop && opt_.stop->load();
    const bool last = state.iteration >= end;
    if (opt_.on_progress && (state.iteration % std::max<int64_t>(1, opt_.report_every) == 0 || last || stopping)) {
      const auto now = Clock::now();
      Progress p;
      p.iteration = state.iteration;
      p.max_iterations = max_iterations_;
      p.epoch = double(state.loader_position) / double(data_.size());
      p.loss = per_image;
      p.avg_loss = avg;
      p.learning_rate = lr;
      const double dt = std::chrono::duration<double>(now - last_report).count();
      p.images_per_second = dt > 0 ? double(images_since_report) / dt : 0;
      p.elapsed_seconds = std::chrono::duration<double>(now - t0).count();
      p.eta_seconds = p.images_per_second > 0
                          ? double(max_iterations_ - state.iteration) * double(batch_images) / p.images_per_second
                          : 0;
      opt_.on_progress(p);
      last_report = now;
      images_since_report = 0;
    }
    if (result.bad_samples > opt_.max_bad_samples) {
      save();
      fail(Status::FormatError, std::to_string(result.bad_samples) + " training samples cannot be read (more than " +
                                    std::to_string(opt_.max_bad_samples) + "; the first: " +
                                    (bad_samples.empty() ? "on another rank" : *bad_samples.begin()) +
                                    "); stopped at update " + std::to_string(state.iteration) + " with checkpoint " +
                                    ckpt + ": fix or remove them from the list, then resume from it");
    }
    if (stopping) {
      save();
      result.interrupted = true;
      break;
    }
    if (!last && opt_.checkpoint_every > 0 && state.iteration % opt_.checkpoint_every == 0) save();
    if (!last && opt_.on_evaluate && opt_.evaluate_every > 0 && state.iteration % opt_.evaluate_every == 0) {
      opt_.on_evaluate(state.iteration);
      last_report = Clock::now();  // the evaluation's time is not training speed
    }
  }
  if (!result.interrupted) {
    if (state.iteration >= max_iterations_ && opt_.bn_recalibrate > 0) {
      recalibrate_batchnorm(net_, data_, opt_.bn_recalibrate);
      if (exchange) exchange->average_statistics();  // every rank recalibrated at its own batch
    }
    save();
    if (state.iteration >= max_iterations_) {
      result.finished = true;
      result.weights = weights;
      everywhere("writing " + weights, [&] {
        if (writer) save_darknet_weights(net_, result.weights, state.seen);
        if (comm && opt_.every_rank_saves && !writer)
          save_darknet_weights(net_, opt_.backup_dir + "/" + opt_.name + ".rank" + std::to_string(comm->rank()) + ".weights",
                               state.seen);
      });
    }
  }
  if (exchange) {
    result.fingerprint = exchange->fingerprint();
    result.bytes_sent = comm->bytes_sent() - bytes_before;
  }
  result.state = state;
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

int recalibrate_batchnorm(Network& net, const Dataset& data, int64_t batches) {
  check_fit(net, data);
  std::vector<int64_t*> counters;
  for (const auto& l : net.layers())
    if (int64_t* u = l->bn_updates()) counters.push_back(u);
  if (counters.empty() || batches <= 0) return 0;
  for (int64_t* u : counters) *u = 0;  // the next update copies the batch statistics
  BatchLoader loader(data, loader_options(net, false));
  std::vector<float> x(size_t(net.batch() * net.input_size()));
  std::vector<int> labels(size_t(net.batch()));
  for (int64_t i = 0; i < batches; ++i) {
    loader.next(x.data(), nullptr, labels.data());
    net.predict(x.data(), true);
  }
  return int(counters.size());
}

Int8Calibration calibrate_activations(Network& net, const Dataset& data, int batches) {
  check_fit(net, data);
  if (batches < 1) fail(Status::InvalidArgument, "calibration needs at least 1 batch, got " + std::to_string(batches));
  if (net.inference_plan())
    fail(Status::InvalidArgument, net.cfg_path() + ": calibration needs the float32 inference pass (the network has a plan)");
  Int8Calibration c;
  c.batches = uint32_t(batches);
  c.images = uint32_t(net.batch());
  const auto& layers = net.layers();
  c.ranges.assign(layers.size(), {INFINITY, -INFINITY});
  auto widen = [](std::pair<float, float>& r, const std::vector<float>& v) {
    for (float x : v) r.first = std::min(r.first, x), r.second = std::max(r.second, x);
  };
  BatchLoader loader(data, loader_options(net, false));
  std::vector<float> x(size_t(net.batch() * net.input_size()));
  for (int b = 0; b < batches; ++b) {
    loader.next(x.data(), nullptr, nullptr);
    net.predict(x.data());
    widen(c.ranges[0], x);
    for (size_t i = 1; i < layers.size(); ++i) widen(c.ranges[i], layers[i - 1]->output.to_vector());
  }
  for (auto& [lo, hi] : c.ranges)
    if (!std::isfinite(lo) || !std::isfinite(hi))
      fail(Status::InvalidArgument, net.cfg_path() + ": calibration met a non-finite activation");
  return c;
}

Evaluation evaluate(Network& net, const Dataset& data, int k) {
  check_fit(net, data);
  Evaluation e;
  e.classes = int(net.output_size());
  e.k = std::max(1, std::min(k, e.classes));
  e.confusion.assign(size_t(e.classes) * size_t(e.classes), 0);
  BatchLoader loader(data, loader_options(net, false));
  const int b = net.batch();
  std::vector<float> x(size_t(b * net.input_size()));
  std::vector<int> labels(static_cast<size_t>(b));
  const int64_t n = int64_t(data.size());
  int64_t correct1 = 0, correctk = 0;
  for (int64_t done = 0; done < n; done += b) {
    loader.next(x.data(), nullptr, labels.data());
    std::vector<float> out = net.predict(x.data());
    const int64_t count = std::min<int64_t>(b, n - done);
    for (int64_t i = 0; i < count; ++i) {
      const float* p = out.data() + i * e.classes;
      const int truth = labels[size_t(i)];
      // A NaN compares false with everything, so it would rank first: an output holding one is
      // never a correct prediction, and never the predicted class.
      int rank = 0, best = 0;
      bool nan = false;
      for (int j = 0; j < e.classes; ++j) {
        nan = nan || std::isnan(p[j]);
        if (p[j] > p[truth]) ++rank;
        if (std::isnan(p[best]) ? !std::isnan(p[j]) : p[j] > p[best]) best = j;
      }
      if (nan) rank = e.classes;
      correct1 += rank == 0;
      correctk += rank < e.k;
      e.loss += -std::log(std::max(p[truth], 1e-30f));
      ++e.confusion[size_t(truth) * size_t(e.classes) + size_t(best)];
    }
  }
  e.images = n;
  e.top1 = double(correct1) / double(n);
  e.topk = double(correctk) / double(n);
  e.loss /= double(n);
  return e;
}

}  // namespace rpg
