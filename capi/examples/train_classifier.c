/* A small RPG network trained from C: a cfg given as text (two convolutions and the classifier
 * drawing their weights from one ring), a made-up task (is the left or the right half of an 8x8
 * image brighter?), one call per training step, then accuracy on fresh images, the model
 * summary with its degrees of freedom, and a checkpoint saved and loaded back.
 * Build: cc -std=c99 train_classifier.c $(pkg-config --cflags --libs rpgnet) */
#include <stdio.h>
#include <stdlib.h>

#include "rpgnet.h"

#define TRY(call)                                                     \
  do {                                                                \
    rpg_status s_ = (call);                                           \
    if (s_ != RPG_STATUS_OK) {                                        \
      fprintf(stderr, "%s failed: %s\n", #call, rpg_last_error());    \
      exit(1);                                                        \
    }                                                                 \
  } while (0)

static const char* kCfg =
    "[net]\nbatch=16\nwidth=8\nheight=8\nchannels=1\nlearning_rate=0.01\nmomentum=0.9\n"
    "decay=0.0005\nmax_batches=150\npolicy=poly\npower=1\n"
    "[ring]\nname=shared\ndof=0.25\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=relu\nring=shared\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=relu\nring=shared\n"
    "[connected]\noutput=2\nactivation=linear\nring=shared\n"
    "[softmax]\n";

static unsigned next(unsigned* seed) { /* a small LCG: the same images everywhere */
  *seed = *seed * 1103515245u + 12345u;
  return (*seed >> 16) & 0x7fff;
}

/* A batch of noisy images, brighter on the left (class 0) or on the right (class 1). */
static void make_batch(float* x, float* t, int* labels, int n, unsigned* seed) {
  int i, p;
  for (i = 0; i < n; ++i) {
    const int label = (int)(next(seed) % 2);
    for (p = 0; p < 64; ++p) {
      const int left = p % 8 < 4;
      x[i * 64 + p] = (float)(next(seed) % 100) / 100.f + (left != label ? 0.15f : 0.f);
    }
    t[i * 2] = label == 0 ? 1.f : 0.f;
    t[i * 2 + 1] = label == 1 ? 1.f : 0.f;
    if (labels) labels[i] = label;
  }
}

int main(void) {
  rpg_network* net = NULL;
  float x[16 * 64], t[16 * 2], p[16 * 2];
  int labels[16], step, i, correct = 0;
  unsigned seed = 1;
  double loss = 0;
  const char* summary = NULL;

  TRY(rpg_network_create_from_text(kCfg, NULL, &net));
  for (step = 1; step <= 150; ++step) {
    make_batch(x, t, NULL, 16, &seed);
    TRY(rpg_network_train_step(net, x, 16 * 64, t, 16 * 2, &loss));
    if (step % 50 == 0) printf("step %3d  loss %.4f\n", step, loss);
  }
  for (step = 0; step < 8; ++step) { /* 128 fresh images */
    make_batch(x, t, labels, 16, &seed);
    TRY(rpg_network_predict(net, x, 16 * 64, p, 16 * 2));
    for (i = 0; i < 16; ++i) correct += (p[i * 2 + 1] > p[i * 2]) == labels[i];
  }
  printf("accuracy on 128 new images: %.1f%%\n", 100.0 * correct / 128);
  TRY(rpg_network_summary(net, &summary));
  printf("%s", summary);
  TRY(rpg_network_save_checkpoint(net, "/tmp/rpgnet_example.ckpt"));
  TRY(rpg_network_load_checkpoint(net, "/tmp/rpgnet_example.ckpt"));
  remove("/tmp/rpgnet_example.ckpt");
  rpg_network_free(net);
  return correct >= 110 ? 0 : 1;
}
