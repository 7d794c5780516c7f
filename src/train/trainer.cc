// The training loop and evaluation (see trainer.h).
#include "train/trainer.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "data/loader.h"
#include "io/checkpoint.h"
#include "io/darknet_weights.h"
#include "train/policy.h"

namespace rpg {

namespace {

void make_dirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    const std::string part = dir.substr(0, i);
    if (mkdir(part.c_str(), 0777) != 0 && errno != EEXIST)
      fail(Status::NotFound, "cannot create folder '" + part + "': " + std::strerror(errno));
  }
}

}  // namespace

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

TrainResult Trainer::run(TrainState state) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  make_dirs(opt_.backup_dir);
  const std::string ckpt = opt_.backup_dir + "/" + opt_.name + ".ckpt";
  const NetConfig& c = net_.config();
  const int subdivisions = c.subdivisions;
  const int64_t batch_images = int64_t(net_.batch()) * subdivisions;

  BatchLoader loader(data_, loader_options(net_, true));
  loader.seek(state.loader_position);
  std::vector<float> x(size_t(net_.batch() * net_.input_size())), truth(size_t(net_.batch() * net_.output_size()));

  TrainResult result;
  double avg = -1;
  auto last_report = Clock::now();
  int64_t images_since_report = 0;
  const int64_t end = opt_.stop_at > 0 ? std::min(opt_.stop_at, max_iterations_) : max_iterations_;
  auto save = [&]() {
    state.passes = net_.passes();
    save_checkpoint(net_, state, ckpt);
    result.checkpoint = ckpt;
  };
  while (state.iteration < end) {
    const float lr = learning_rate(c, state.iteration, max_iterations_);
    double loss = 0;
    for (int s = 0; s < subdivisions; ++s) {
      loader.next(x.data(), truth.data(), nullptr);
      loss += net_.train_pass(x.data(), truth.data());
    }
    net_.update(lr);
    state.count_update(batch_images, loader.position());
    images_since_report += batch_images;
    const double per_image = loss / double(batch_images);
    if (!std::isfinite(per_image))
      fail(Status::InvalidArgument, "training diverged at update " + std::to_string(state.iteration) +
                                        " (loss " + std::to_string(per_image) + "); lower learning_rate in " + net_.cfg_path());
    avg = avg < 0 ? per_image : avg * .9 + per_image * .1;

    const bool stopping = opt_.stop && opt_.stop->load();
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
    if (stopping) {
      save();
      result.interrupted = true;
      break;
    }
    if (!last && opt_.checkpoint_every > 0 && state.iteration % opt_.checkpoint_every == 0) save();
  }
  if (!result.interrupted) {
    if (state.iteration >= max_iterations_ && opt_.bn_recalibrate > 0)
      recalibrate_batchnorm(net_, data_, opt_.bn_recalibrate);
    save();
    if (state.iteration >= max_iterations_) {
      result.finished = true;
      result.weights = opt_.backup_dir + "/" + opt_.name + ".weights";
      save_darknet_weights(net_, result.weights, state.seen);
    }
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
      int rank = 0, best = 0;
      for (int j = 0; j < e.classes; ++j) {
        if (p[j] > p[truth]) ++rank;
        if (p[j] > p[best]) best = j;
      }
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
