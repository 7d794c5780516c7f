// Writes the fuzz targets' seed corpus: valid files for the networks of fuzz_nets.h.
// Usage: make_corpus DIR  ->  DIR/export/*.rpgm, DIR/checkpoint/*.ckpt, DIR/weights/*.weights,
// DIR/cfg/*.cfg, DIR/data/*.data, DIR/list/*.list, DIR/idx/* (first byte: 0 images, 1 labels)
#include <sys/stat.h>

#include <cstdio>

#include "fuzz/fuzz_nets.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/darknet_weights.h"
#include "io/export.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  try {
    for (const std::string d : {dir, dir + "/export", dir + "/checkpoint", dir + "/weights", dir + "/cfg",
                                dir + "/data", dir + "/list", dir + "/idx"})
      mkdir(d.c_str(), 0777);
    rpg_fuzz::write_whole(dir + "/cfg/ring.cfg", rpg_fuzz::ring_cfg());
    rpg_fuzz::write_whole(dir + "/cfg/plain.cfg", rpg_fuzz::plain_cfg());
    rpg_fuzz::write_whole(dir + "/cfg/graph.cfg",
                          "[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\nsize=3\npad=1\n"
                          "[maxpool]\nsize=2\nstride=2\n[upsample]\nstride=2\n[route]\nlayers=-1,0\n"
                          "[shortcut]\nfrom=-3\nactivation=leaky\n[crop]\ncrop_width=6\ncrop_height=6\n"
                          "[avgpool]\n[dropout]\nprobability=.3\n[connected]\noutput=3\n[softmax]\n[cost]\n");
    rpg_fuzz::write_whole(dir + "/data/a.data",
                          "\xEF\xBB\xBF# data\r\nclasses = 3\r\ntrain = train.list # c\nvalid=idx:a,b\nnames=n.txt\n"
                          "backup=bk\ntop=2\n");
    rpg_fuzz::write_whole(dir + "/list/a.list", "cat/1.pgm\n\ndog/2.pgm\r\nbird_3.pgm\n");
    rpg_fuzz::write_whole(dir + "/idx/images", std::string(1, '\0') + rpg_fuzz::idx_images(3, 4, 4));
    rpg_fuzz::write_whole(dir + "/idx/labels", std::string(1, '\1') + rpg_fuzz::idx_labels(3, 3));
    auto net = rpg_fuzz::make(rpg_fuzz::ring_cfg());
    // A few steps so that the batch-norm statistics and the ring are not at their initial values.
    std::vector<float> x(16), truth(3, 0.f);
    truth[1] = 1;
    for (int i = 0; i < 3; ++i) {
      for (size_t j = 0; j < x.size(); ++j) x[j] = float((j * 7 + size_t(i)) % 5) / 5.f;
      net->train_pass(x.data(), truth.data());
      net->update(.1f);
    }
    struct Variant {
      const char* name;
      int bits;
      double prune;
      bool fp16;
    };
    for (const Variant& v : {Variant{"f32", 32, 0, false}, Variant{"b8", 8, 0, false}, Variant{"b4-p50-h", 4, .5, true},
                             Variant{"b2-p80", 2, .8, false}, Variant{"f32-p90", 32, .9, true}}) {
      rpg::ExportOptions o;
      o.bits = v.bits;
      o.prune = v.prune;
      o.unshared = v.fp16 ? rpg::UnsharedPrecision::fp16 : rpg::UnsharedPrecision::fp32;
      rpg::export_model(*net, o, dir + "/export/" + v.name + ".rpgm", 42);
    }
    // int8 (flag int8, CALB): calibration ranges of every sign, one degenerate.
    rpg::ExportOptions int8;
    int8.bits = 8;
    int8.int8 = true;
    int8.calibration.batches = 2;
    int8.calibration.images = 4;
    for (size_t i = 0; i < net->layers().size(); ++i)
      int8.calibration.ranges.emplace_back(i % 2 ? -1.5f : 0.f, i == 2 ? 0.f : 2.f);
    rpg::export_model(*net, int8, dir + "/export/int8.rpgm", 42);
    int8.prune = .5;
    rpg::export_model(*net, int8, dir + "/export/int8-p50.rpgm", 42);
    auto plain = rpg_fuzz::make(rpg_fuzz::plain_cfg());
    rpg::export_model(*plain, rpg::ExportOptions(), dir + "/export/plain.rpgm");
    rpg::TrainState s;
    s.iteration = 3;
    s.seen = 3;
    rpg::save_checkpoint(*net, s, dir + "/checkpoint/ring.ckpt");
    rpg::save_darknet_weights(*plain, dir + "/weights/plain.weights", 3);
    rpg::save_darknet_weights(*net, dir + "/weights/expanded.weights", 3);  // loads into plain_cfg
  } catch (const rpg::Error& e) {
    std::fprintf(stderr, "make_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
