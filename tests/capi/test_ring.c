/* A standalone ring used as a plugin on weight buffers the program owns: generators bound to
 * two "layers", the generated weights (signs, scales, even sampling), the gradient gather
 * against finite differences, SGD steps on a toy objective whose loss falls, and the
 * equivalence with a network's ring built from the same seed, K, counts and fan-outs. */
#include <math.h>
#include <stdlib.h>

#include "check.h"

#define K 64
#define N1 200 /* layer 1: 200 weights, fan-out 10 */
#define N2 56  /* layer 2: 56 weights, fan-out 5 */

static double loss_and_grad(const float* w, const float* target, float* grad, int n) {
  double l = 0;
  int i;
  for (i = 0; i < n; ++i) {
    const double d = (double)w[i] - (double)target[i];
    l += 0.5 * d * d;
    if (grad) grad[i] = (float)d;
  }
  return l;
}

/* Toy objective: make the generated weights match those of another ring (reachable exactly). */
static void toy_objective(void) {
  rpg_ring *ring = NULL, *goal = NULL;
  rpg_generator *g1 = NULL, *g2 = NULL, *h1 = NULL, *h2 = NULL;
  float w1[N1], w2[N2], t1[N1], t2[N2], d1[N1], d2[N2], rg[K];
  double first = 0, last = 0, prev = 1e30;
  int step, monotone = 1;
  float c1 = 0, c2 = 0;
  int64_t n = 0, off = -5;

  OK(rpg_ring_create(K, 7, &ring));
  OK(rpg_generator_create(ring, N1, 10, RPG_GENERATOR_APPEND, &g1));
  OK(rpg_generator_create(ring, N2, 5, RPG_GENERATOR_APPEND, &g2));
  OK(rpg_ring_init_he(ring));
  OK(rpg_ring_positions(ring, &n));
  CHECK(n == N1 + N2);
  OK(rpg_generator_offset(g2, &off));
  CHECK(off == N1);
  OK(rpg_generator_scale(g1, &c1));
  OK(rpg_generator_scale(g2, &c2));
  CHECK(fabsf(c1 - 1.f) < 1e-6f && fabsf(c2 - sqrtf(2.f)) < 1e-6f); /* c = sqrt(F / fan_out), F = 10 */

  OK(rpg_ring_create(K, 7, &goal)); /* same seed: the same mapping, other values */
  OK(rpg_generator_create(goal, N1, 10, RPG_GENERATOR_APPEND, &h1));
  OK(rpg_generator_create(goal, N2, 5, RPG_GENERATOR_APPEND, &h2));
  OK(rpg_generator_generate(h1, t1, N1));
  OK(rpg_generator_generate(h2, t2, N2));

  for (step = 0; step < 60; ++step) {
    double l;
    OK(rpg_generator_generate(g1, w1, N1));
    OK(rpg_generator_generate(g2, w2, N2));
    l = loss_and_grad(w1, t1, d1, N1) + loss_and_grad(w2, t2, d2, N2);
    if (step == 0) first = l;
    if (l > prev + 1e-9) monotone = 0;
    prev = last = l;
    memset(rg, 0, sizeof rg);
    OK(rpg_generator_accumulate_gradient(g1, d1, N1, rg, K));
    OK(rpg_generator_accumulate_gradient(g2, d2, N2, rg, K));
    OK(rpg_ring_sgd_step(ring, rg, K, 0.1f, 0.f, 0.f)); /* lr x largest curvature (~8) < 2 */
  }
  printf("toy objective: loss %.6f -> %.6f after 60 SGD steps on the ring\n", first, last);
  CHECK(first > 1.0);
  CHECK(last < 1e-3 * first);
  CHECK(monotone);

  rpg_generator_free(h1);
  rpg_generator_free(h2);
  rpg_ring_free(goal);
  /* Freeing the ring before its generators is allowed: they keep its data alive. */
  rpg_ring_free(ring);
  OK(rpg_generator_generate(g1, w1, N1));
  rpg_generator_free(g1);
  rpg_generator_free(g2);
}

/* sgd_step is Darknet's SGD: v = momentum v + g + decay r; r -= lr v. */
static void sgd_formula(void) {
  rpg_ring* ring = NULL;
  float r[4], v[4] = {0, 0, 0, 0}, got[4];
  const float g[4] = {1.f, -2.f, 0.5f, 0.f};
  int step, j, same = 1;
  OK(rpg_ring_create(4, 3, &ring));
  OK(rpg_ring_get_values(ring, r, 4));
  for (step = 0; step < 3; ++step) {
    OK(rpg_ring_sgd_step(ring, g, 4, 0.1f, 0.9f, 0.01f));
    for (j = 0; j < 4; ++j) {
      v[j] = 0.9f * v[j] + g[j] + 0.01f * r[j];
      r[j] -= 0.1f * v[j];
    }
  }
  OK(rpg_ring_get_values(ring, got, 4));
  for (j = 0; j < 4; ++j)
    if (fabsf(got[j] - r[j]) > 1e-6f) same = 0;
  CHECK(same);
  rpg_ring_free(ring);
}

/* Every weight is +-c r[j]; every entry feeds floor(N/K) or ceil(N/K) positions; the gathered
 * gradient matches finite differences of a quadratic through generate. */
static void mapping_and_gradient(void) {
  rpg_ring* ring = NULL;
  rpg_generator* g = NULL;
  float onehot[K], w[N1], target[N1], d[N1], rg[K], r[K];
  int j, i, even = 1, signs = 1;
  OK(rpg_ring_create(K, 123, &ring));
  OK(rpg_generator_create(ring, N1, 4, 0, &g));
  for (j = 0; j < K; ++j) {
    int used = 0;
    memset(onehot, 0, sizeof onehot);
    onehot[j] = 1.f;
    OK(rpg_ring_set_values(ring, onehot, K));
    OK(rpg_generator_generate(g, w, N1));
    for (i = 0; i < N1; ++i) {
      if (w[i] != 0.f) ++used;
      if (w[i] != 0.f && w[i] != 1.f && w[i] != -1.f) signs = 0; /* one generator: c = 1 */
    }
    if (used != N1 / K && used != N1 / K + 1) even = 0;
  }
  CHECK(even);
  CHECK(signs);

  for (j = 0; j < K; ++j) r[j] = (float)sin(0.7 * j);
  for (i = 0; i < N1; ++i) target[i] = (float)cos(0.3 * i);
  OK(rpg_ring_set_values(ring, r, K));
  OK(rpg_generator_generate(g, w, N1));
  loss_and_grad(w, target, d, N1);
  memset(rg, 0, sizeof rg);
  OK(rpg_generator_accumulate_gradient(g, d, N1, rg, K));
  for (j = 0; j < K; j += 9) {
    const float h = 1e-2f, keep = r[j];
    double lp, lm, fd;
    r[j] = keep + h;
    OK(rpg_ring_set_values(ring, r, K));
    OK(rpg_generator_generate(g, w, N1));
    lp = loss_and_grad(w, target, NULL, N1);
    r[j] = keep - h;
    OK(rpg_ring_set_values(ring, r, K));
    OK(rpg_generator_generate(g, w, N1));
    lm = loss_and_grad(w, target, NULL, N1);
    r[j] = keep;
    fd = (lp - lm) / (2.0 * h);
    CHECK(fabs(fd - rg[j]) < 1e-3 * (1.0 + fabs(fd)));
  }
  rpg_generator_free(g);
  rpg_ring_free(ring);
}

/* A standalone ring bound like a cfg binds its layers reproduces the network's ring and weights. */
static const char* kCfg =
    "[net]\nbatch=2\nwidth=6\nheight=6\nchannels=2\nseed=5\n"
    "[ring]\nname=r\nsize=300\nseed=11\n"
    "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=relu\nring=r\n"
    "[convolutional]\nfilters=4\nsize=1\nstride=1\npad=0\nactivation=relu\nring=r\n"
    "[connected]\noutput=3\nactivation=linear\nring=r\n"
    "[softmax]\n";

static void same_as_network(void) {
  rpg_network* net = NULL;
  rpg_ring* ring = NULL;
  rpg_generator* gens[3] = {NULL, NULL, NULL};
  const int64_t fan_out[3] = {8 * 9, 4, 3};
  int64_t k = 0, pos = 0, count = 0;
  uint64_t seed = 0;
  int layer, bound = 0, exact = 1;
  float *mine, *theirs, *rv, *nv;

  OK(rpg_network_create_from_text(kCfg, NULL, &net));
  if (!net) return;
  OK(rpg_network_ring_size(net, 0, &k));
  OK(rpg_network_ring_seed(net, 0, &seed));
  OK(rpg_network_ring_positions(net, 0, &pos));
  CHECK(k == 300 && seed == 11);
  OK(rpg_ring_create(k, seed, &ring));
  for (layer = 0; layer < 3; ++layer) {
    OK(rpg_network_layer_weight_count(net, layer, &count));
    OK(rpg_generator_create(ring, count, fan_out[layer], RPG_GENERATOR_APPEND, &gens[layer]));
  }
  OK(rpg_ring_init_he(ring));
  rv = malloc(sizeof(float) * (size_t)k);
  nv = malloc(sizeof(float) * (size_t)k);
  OK(rpg_ring_get_values(ring, rv, k));
  OK(rpg_network_ring_get_values(net, 0, nv, k));
  CHECK(memcmp(rv, nv, sizeof(float) * (size_t)k) == 0);
  for (layer = 0; layer < 3; ++layer) {
    OK(rpg_network_layer_weight_count(net, layer, &count));
    bound += (int)count;
    mine = malloc(sizeof(float) * (size_t)count);
    theirs = malloc(sizeof(float) * (size_t)count);
    OK(rpg_generator_generate(gens[layer], mine, count));
    OK(rpg_network_layer_get_weights(net, layer, theirs, count));
    if (memcmp(mine, theirs, sizeof(float) * (size_t)count) != 0) exact = 0;
    free(mine);
    free(theirs);
  }
  CHECK(bound == pos);
  CHECK(exact);
  /* Writing the network's ring regenerates its layers. */
  nv[0] += 1.f;
  OK(rpg_network_ring_set_values(net, 0, nv, k));
  OK(rpg_ring_set_values(ring, nv, k));
  OK(rpg_network_layer_weight_count(net, 0, &count));
  mine = malloc(sizeof(float) * (size_t)count);
  theirs = malloc(sizeof(float) * (size_t)count);
  OK(rpg_generator_generate(gens[0], mine, count));
  OK(rpg_network_layer_get_weights(net, 0, theirs, count));
  CHECK(memcmp(mine, theirs, sizeof(float) * (size_t)count) == 0);
  free(mine);
  free(theirs);
  free(rv);
  free(nv);
  for (layer = 0; layer < 3; ++layer) rpg_generator_free(gens[layer]);
  rpg_ring_free(ring);
  rpg_network_free(net);
}

int main(void) {
  CHECK(rpg_abi_version() == RPG_ABI_VERSION);
  CHECK(strcmp(rpg_version_string(), "0.1.0") == 0);
  toy_objective();
  sgd_formula();
  mapping_and_gradient();
  same_as_network();
  return check_summary("test_ring");
}
