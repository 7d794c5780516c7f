// Threads, for ThreadSanitizer (make test also builds this under SANITIZE=thread, build/tsan):
// the background loader feeding training steps, seeks and an early destruction while its
// worker is busy; and two networks training on two threads at once, each with its own loader,
// bit for bit as the same runs one after the other. Under TSan the CPU backend runs on one
// thread per network (libgomp is not instrumented); the two networks still share OpenBLAS,
// the allocator and every static of the library.
#define BOOST_TEST_MODULE concurrency
#include <boost/test/unit_test.hpp>

#include <thread>

#include "data/dataset.h"
#include "data/loader.h"
#include "testing.h"

namespace {

// Sample i: a 1 x 6 x 6 image of a ramp shifted by i, labelled i % 3.
class RampDataset : public rpg::Dataset {
 public:
  explicit RampDataset(size_t n) : n_(n) {}
  size_t size() const override { return n_; }
  int label(size_t i) const override { return int(i % 3); }
  rpg::Image image(size_t i) const override {
    rpg::Image im(1, 6, 6);
    for (size_t k = 0; k < im.data.size(); ++k) im.data[k] = float((k * 7 + i * 13) % 50) / 50.f;
    return im;
  }
  std::string describe(size_t i) const override { return "ramp #" + std::to_string(i); }
  int channels() const override { return 1; }
  int height() const override { return 6; }
  int width() const override { return 6; }

 private:
  size_t n_;
};

rpg::LoaderOptions options(uint64_t seed) {
  rpg::LoaderOptions o;
  o.batch = 5, o.width = 6, o.height = 6, o.channels = 1, o.classes = 3;
  o.aug.flip = true;
  o.train = true, o.seed = seed;
  return o;
}

const char* kNet = R"([net]
batch=5
width=6
height=6
channels=1

[convolutional]
batch_normalize=1
filters=4
size=3
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[connected]
output=3
activation=linear

[softmax]
)";

// Losses of `steps` training passes fed by a background loader.
std::vector<double> train(uint64_t seed, int steps) {
  RampDataset data(23);
  rpg::BatchLoader loader(data, options(seed));
  std::unique_ptr<rpg::Network> net = rpg_test::net_from_text(kNet, 1);
  std::vector<float> x(5 * 36), truth(5 * 3);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    loader.next(x.data(), truth.data(), nullptr);
    losses.push_back(net->train_pass(x.data(), truth.data()));
  }
  return losses;
}

}  // namespace

BOOST_AUTO_TEST_CASE(loader_feeds_training_and_seeks_while_its_worker_runs) {
  RampDataset data(23);
  std::vector<float> x(5 * 36), truth(5 * 3), first(5 * 36);
  rpg::BatchLoader loader(data, options(3));
  loader.next(first.data(), truth.data(), nullptr);
  for (int i = 0; i < 20; ++i) loader.next(x.data(), truth.data(), nullptr);
  loader.seek(0);  // while the worker prepares the next batches
  loader.next(x.data(), truth.data(), nullptr);
  BOOST_TEST(x == first);
  // Destroyed while its worker is filling slots.
  for (int i = 0; i < 5; ++i) {
    rpg::BatchLoader short_lived(data, options(uint64_t(10 + i)));
    short_lived.next(x.data(), truth.data(), nullptr);
  }
}

BOOST_AUTO_TEST_CASE(two_networks_on_two_threads_match_serial_runs) {
  const std::vector<double> a = train(1, 12), b = train(2, 12);
  std::vector<double> ta, tb;
  std::thread t1([&] { ta = train(1, 12); });
  std::thread t2([&] { tb = train(2, 12); });
  t1.join();
  t2.join();
  BOOST_TEST(ta == a);
  BOOST_TEST(tb == b);
  BOOST_TEST(a != b);
}
