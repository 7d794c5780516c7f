/* Two threads each train their own network at once (two threads of the backend each, so OpenMP
 * teams run concurrently too) and get bit for bit the results they get one after the other;
 * meanwhile each thread makes failing calls whose messages name the thread, and never reads the
 * other thread's message through rpg_last_error. Then the reference engine
 * (rpg_network_set_deterministic) gives the same bits on 1 and 2 threads. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "check.h"

#define STEPS 12
#define BATCH 8
#define IN (3 * 8 * 8)
#define OUT 4

static const char* kCfg =
    "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=3\nlearning_rate=0.05\nmomentum=0.9\ndecay=0.0005\n"
    "policy=poly\npower=2\nmax_batches=12\n"
    "[ring]\nname=g\ndof=0.3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=relu\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=relu\nring=g\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[dropout]\nprobability=0.2\n"
    "[connected]\noutput=4\nactivation=linear\nring=g\n"
    "[softmax]\n";

typedef struct {
  int id;             /* 0 or 1: picks the seed and the data */
  int concurrent;     /* 1: also make failing calls and check the messages */
  int threads;        /* 0: 2 */
  int deterministic;  /* 1: the reference engine */
  double losses[STEPS];
  float out[BATCH * OUT];
  float ring[512];
  int64_t ring_size;
  int ok, message_errors, failures_seen;
} Job;

static void* train(void* arg) {
  Job* j = (Job*)arg;
  rpg_network* net = NULL;
  float* x = malloc(sizeof(float) * BATCH * IN);
  float t[BATCH * OUT];
  char seed[64], path[64], marker[32];
  int s, i;
  j->ok = 0;
  snprintf(seed, sizeof seed, "net.seed=%d", 100 + j->id);
  snprintf(marker, sizeof marker, "thread-%d-", j->id);
  if (rpg_network_create_from_text(kCfg, seed, &net) != RPG_STATUS_OK || !x) goto done;
  if (rpg_network_set_threads(net, j->threads ? j->threads : 2) != RPG_STATUS_OK) goto done;
  if (j->deterministic) {
    int32_t on = 0;
    if (rpg_network_set_deterministic(net, 2) != RPG_STATUS_INVALID_ARGUMENT) goto done;
    if (rpg_network_set_deterministic(net, 1) != RPG_STATUS_OK) goto done;
    if (rpg_network_deterministic(net, &on) != RPG_STATUS_OK || on != 1) goto done;
  }
  for (s = 0; s < STEPS; ++s) {
    rpg_network* none = NULL;
    for (i = 0; i < BATCH * IN; ++i) x[i] = (float)sin(0.01 * (i + 1) * (s + 1) + j->id);
    for (i = 0; i < BATCH * OUT; ++i) t[i] = (i % OUT) == (i / OUT + s + j->id) % OUT ? 1.f : 0.f;
    if (rpg_network_train_step(net, x, BATCH * IN, t, BATCH * OUT, &j->losses[s]) != RPG_STATUS_OK) goto done;
    if (j->concurrent) { /* a failure whose message names this thread, read back at once */
      snprintf(path, sizeof path, "/nonexistent/%s%d.cfg", marker, s);
      if (rpg_network_create(path, NULL, &none) == RPG_STATUS_NOT_FOUND) ++j->failures_seen;
      if (!strstr(rpg_last_error(), path)) ++j->message_errors;
      if (strstr(rpg_last_error(), j->id ? "thread-0-" : "thread-1-")) ++j->message_errors;
    }
  }
  if (rpg_network_predict(net, x, BATCH * IN, j->out, BATCH * OUT) != RPG_STATUS_OK) goto done;
  if (rpg_network_ring_size(net, 0, &j->ring_size) != RPG_STATUS_OK || j->ring_size > 512) goto done;
  if (rpg_network_ring_get_values(net, 0, j->ring, j->ring_size) != RPG_STATUS_OK) goto done;
  /* A successful call leaves this thread's last message as it was. */
  if (j->concurrent && !strstr(rpg_last_error(), marker)) ++j->message_errors;
  j->ok = 1;
done:
  if (!j->ok) fprintf(stderr, "thread %d: %s\n", j->id, rpg_last_error());
  rpg_network_free(net);
  free(x);
  return NULL;
}

static int same(const Job* a, const Job* b) {
  return memcmp(a->losses, b->losses, sizeof a->losses) == 0 && memcmp(a->out, b->out, sizeof a->out) == 0 &&
         a->ring_size == b->ring_size && memcmp(a->ring, b->ring, sizeof(float) * (size_t)a->ring_size) == 0;
}

int main(void) {
  static Job alone[2], together[2], reference[2];
  pthread_t th[2];
  int i;
  for (i = 0; i < 2; ++i) {
    alone[i].id = together[i].id = i;
    together[i].concurrent = 1;
    train(&alone[i]); /* one after the other, on this thread */
  }
  for (i = 0; i < 2; ++i) CHECK(pthread_create(&th[i], NULL, train, &together[i]) == 0);
  for (i = 0; i < 2; ++i) CHECK(pthread_join(th[i], NULL) == 0);
  for (i = 0; i < 2; ++i) {
    CHECK(alone[i].ok && together[i].ok);
    CHECK(same(&alone[i], &together[i]));
    CHECK(together[i].failures_seen == STEPS);
    CHECK(together[i].message_errors == 0);
    printf("network %d: loss %.4f -> %.4f over %d steps, identical alone and concurrently: %s\n", i,
           alone[i].losses[0], alone[i].losses[STEPS - 1], STEPS, same(&alone[i], &together[i]) ? "yes" : "no");
  }
  CHECK(!same(&alone[0], &alone[1])); /* the two jobs really differ */
  CHECK(alone[0].losses[STEPS - 1] < alone[0].losses[0]);
  for (i = 0; i < 2; ++i) {
    reference[i].threads = i + 1;
    reference[i].deterministic = 1;
    train(&reference[i]);
    CHECK(reference[i].ok);
  }
  CHECK(same(&reference[0], &reference[1]));
  printf("reference engine: identical on 1 and 2 threads: %s\n", same(&reference[0], &reference[1]) ? "yes" : "no");
  return check_summary("test_threads");
}
