/* RPG as a plugin: a model that keeps its own weights (here two dense layers in plain C, fitting
 * y = sin(x) on [-3, 3]) draws its 80 weights from one rpgnet ring of 40 entries. Each step
 * generates the weights from the ring, runs the model, gathers the ring gradient from the
 * weight gradients, and takes an SGD step on the ring.
 * Build: cc -std=c99 ring_plugin.c $(pkg-config --cflags --libs rpgnet) -lm */
#include <math.h>
#include <stdio.h>

#include "rpgnet.h"

#define H 40   /* hidden units */
#define K 40   /* ring entries: the model's degrees of freedom (biases stay free) */
#define M 64   /* training points */

#define TRY(call)                                                                  \
  do {                                                                             \
    rpg_status s_ = (call);                                                        \
    if (s_ != RPG_STATUS_OK) {                                                     \
      fprintf(stderr, "%s failed: %s\n", #call, rpg_last_error());                 \
      return 1;                                                                    \
    }                                                                              \
  } while (0)

int main(void) {
  rpg_ring* ring = NULL;
  rpg_generator *g1 = NULL, *g2 = NULL;
  float w1[H], w2[H], b1[H] = {0}, b2 = 0, dw1[H], dw2[H], grad[K];
  double first = 0, loss = 0;
  int step, i, h;

  TRY(rpg_ring_create(K, 42, &ring));
  /* Layer 1: H weights (1 input -> H units, fan-out H); layer 2: H weights (H -> 1, fan-out 1). */
  TRY(rpg_generator_create(ring, H, H, RPG_GENERATOR_APPEND, &g1));
  TRY(rpg_generator_create(ring, H, 1, RPG_GENERATOR_APPEND, &g2));
  TRY(rpg_ring_init_he(ring));
  for (step = 0; step <= 2000; ++step) {
    float db1[H] = {0}, db2 = 0;
    TRY(rpg_generator_generate(g1, w1, H));
    TRY(rpg_generator_generate(g2, w2, H));
    for (h = 0; h < H; ++h) dw1[h] = dw2[h] = 0;
    loss = 0;
    for (i = 0; i < M; ++i) { /* forward and backward of a tanh MLP, by hand */
      const float x = -3.f + 6.f * (float)i / (M - 1), y = sinf(x);
      float a[H], out = b2, d;
      for (h = 0; h < H; ++h) {
        a[h] = tanhf(w1[h] * x + b1[h]);
        out += w2[h] * a[h];
      }
      d = (out - y) / M;
      loss += 0.5 * (out - y) * (out - y) / M;
      db2 += d;
      for (h = 0; h < H; ++h) {
        const float da = d * w2[h] * (1.f - a[h] * a[h]);
        dw2[h] += d * a[h];
        dw1[h] += da * x;
        db1[h] += da;
      }
    }
    if (step == 0) first = loss;
    if (step % 500 == 0) printf("step %4d  loss %.5f\n", step, loss);
    for (i = 0; i < K; ++i) grad[i] = 0;
    TRY(rpg_generator_accumulate_gradient(g1, dw1, H, grad, K));
    TRY(rpg_generator_accumulate_gradient(g2, dw2, H, grad, K));
    TRY(rpg_ring_sgd_step(ring, grad, K, 0.001f, 0.9f, 0.f));
    for (h = 0; h < H; ++h) b1[h] -= 0.05f * db1[h];
    b2 -= 0.05f * db2;
  }
  printf("%d weights from a ring of %d: loss %.5f -> %.5f\n", 2 * H, K, first, loss);
  rpg_generator_free(g1);
  rpg_generator_free(g2);
  rpg_ring_free(ring);
  return loss < 0.5 * first ? 0 : 1;
}
