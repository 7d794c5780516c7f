// The training loop as library code: batches from a background loader, batch/subdivisions with
// Darknet's meaning, the learning-rate policy, progress reports through a callback, atomic
// checkpoints, resume, and a stop flag (Ctrl-C in the command line tool). Plus evaluation.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/int8_net.h"
#include "core/network.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "core/train_state.h"
#include "train/collective.h"

namespace rpg {

struct Progress {
  int64_t iteration = 0, max_iterations = 0;
  double epoch = 0;            // fractional epochs of training data seen
  double loss = 0;             // this update, per image
  double avg_loss = 0;         // exponential moving average (0.9 / 0.1, as Darknet)
  float learning_rate = 0;
  double images_per_second = 0;
  double elapsed_seconds = 0, eta_seconds = 0;
};

struct TrainOptions {
  std::string backup_dir = "backup";  // checkpoints and final weights go here (created if missing)
  std::string name = "model";         // file base name: <name>.ckpt, <name>.weights
  int64_t checkpoint_every = 1000;    // updates between checkpoints (0: only at the end)
  int64_t report_every = 10;          // updates between progress callbacks
  int64_t stop_at = 0;                // stop (with a checkpoint) after this update; 0: run to the end
  int64_t bn_recalibrate = 0;         // after the last update: recalibrate_batchnorm over this many batches
  // Unreadable training samples (an image that cannot be opened or decoded) are replaced by the
  // next readable one and reported through on_warning; once more than this many distinct
  // samples were bad, the run writes a checkpoint and stops with Error(FormatError).
  int64_t max_bad_samples = 100;
  std::function<void(const Progress&)> on_progress;
  // Called after every evaluate_every-th update but the last (0: never), e.g. to measure the
  // validation accuracy for a convergence curve. It may run inference passes on the network
  // (Network::predict), which change nothing the training depends on: the run stays bit-exact.
  int64_t evaluate_every = 0;
  std::function<void(int64_t iteration)> on_evaluate;
  std::function<void(const std::string&)> on_warning;  // bad samples, one message each
  const std::atomic<bool>* stop = nullptr;  // polled after every update
  // Data-parallel training (README "Scaling out"; borrowed, null: one process). With more than
  // one rank, every rank runs the same Trainer on the same network, data and options: each
  // takes its shard of every batch (data_parallel.h), the gradients of the degrees of freedom
  // and the batch-norm running statistics are exchanged before every update, rank 0 alone
  // writes the checkpoints and the weights, and the run stops on every rank at the same update
  // (a stop request on any rank, an error on any rank: Error(CommError) on the others).
  Collective* collective = nullptr;
  bool every_rank_saves = false;  // ranks > 0 also write <name>.rank<R>.weights at the end
};

struct TrainResult {
  TrainState state;
  bool interrupted = false;   // the stop flag was seen
  bool finished = false;      // the schedule ran to its end
  std::string checkpoint;     // last checkpoint written
  std::string weights;        // final Darknet .weights (when finished)
  int64_t bad_samples = 0;    // distinct unreadable samples replaced (reported through on_warning)
  double seconds = 0;
  // Data-parallel training: the ranks, the floats summed across them per update (gradients of
  // the degrees of freedom, running statistics, control values) and the bytes this rank sent
  // during the run; the fingerprint of the final parameters, which every rank checked equal.
  int ranks = 1;
  int64_t exchanged_floats = 0, gradient_floats = 0, statistic_floats = 0, bytes_sent = 0;
  uint64_t fingerprint = 0;
};

class Trainer {
 public:
  // The dataset must outlive the trainer. Error(InvalidArgument) when the network's input or
  // output does not fit the dataset or the run has no length (neither max_batches nor epochs).
  Trainer(Network& net, const Dataset& train, TrainOptions options);
  int64_t max_iterations() const { return max_iterations_; }
  // Trains from `start` (a fresh TrainState, or one returned by load_checkpoint).
  // Before the first update it checks that the backup folder can be written (created if
  // missing; Error(NotFound) naming it when it is not a folder, read-only or full) and removes
  // stale temporaries of its checkpoint and weights files. At each update it checks the
  // learning rate (finite, >= 0) and the loss: a NaN or infinite loss stops the run, before
  // that update changes the weights, with Error(InvalidArgument) "training diverged at update
  // N ...". Before each checkpoint and at the end it checks every tensor
  // (Network::non_finite_tensor) and stops the same way instead of writing a file that holds
  // a NaN: the last good checkpoint stays in place. Too many bad samples: see max_bad_samples.
  TrainResult run(TrainState start);
  // Where the weights stand after run(), also after a run that failed: the updates done.
  const TrainState& state() const { return state_; }

 private:
  Network& net_;
  const Dataset& data_;
  TrainOptions opt_;
  int64_t max_iterations_ = 0;
  TrainState state_;
};

struct Evaluation {
  int64_t images = 0;
  double loss = 0;   // mean cross-entropy per image
  double top1 = 0, topk = 0;
  int k = 1;
  int classes = 0;
  std::vector<int64_t> confusion;  // classes x classes: [truth * classes + predicted]
};

// The data augmentation a network's [net] section asks for.
AugmentOptions augment_options(const NetConfig& c);

// Batch-norm recalibration: forgets every batch-norm layer's running mean and variance and
// recomputes them from `batches` training-mode forward passes over `data` (in order, without
// augmentation), the weights unchanged. The first 100 passes are averaged with equal weight,
// later ones blend in at rate 0.01 (BatchNorm's schedule). Short trainings leave running
// statistics that lag the weights; this is the standard fix before evaluating or exporting.
// Returns the number of batch-norm layers recalibrated (0: none, nothing run).
int recalibrate_batchnorm(Network& net, const Dataset& data, int64_t batches);

// The activation ranges the int8 engine needs (core/int8_net.h; method 0, min/max per tensor):
// `batches` batches of the data set's images at the network's batch size, sequential from the
// first and without augmentation (as evaluate loads them), through the network's float32
// inference pass; per layer, the min and max of its input. Deterministic. Error
// (InvalidArgument) for batches < 1 or a network that infers through an inference plan.
Int8Calibration calibrate_activations(Network& net, const Dataset& data, int batches);

// Inference over the whole dataset, in order, at the network's batch size. An output that is
// NaN for the true class never counts as a correct prediction (nor does a NaN win the top-1).
Evaluation evaluate(Network& net, const Dataset& data, int k);

}  // namespace rpg
