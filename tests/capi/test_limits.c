/* Limits through the C API (issue 15): shapes whose int arithmetic used to wrap ([route] of
 * 65,537 inputs, [upsample] chains) refused at parse time with file:line; a batch beyond the
 * memory available refused by the memory estimate without changing the network; and calls that
 * would reallocate or replace a network from the progress callback of its own running trainer
 * refused with INVALID_ARGUMENT naming the trainer. Built and run under ASan/UBSan too. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "temp_path.h"


static int contains(const char* haystack, const char* needle) {
  return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* ---- shapes ------------------------------------------------------------------------------ */

static void shapes(void) {
  static const char head[] =
      "[net]\nwidth=1\nheight=1\nchannels=1\n[convolutional]\nfilters=65536\nsize=1\nactivation=linear\n"
      "[route]\nlayers=0";
  const size_t refs = 65537, len = sizeof head + 2 * refs + 2;
  char* text = malloc(len);
  rpg_network* net = NULL;
  size_t i, at_end;
  if (!text) return;
  memcpy(text, head, sizeof head);
  at_end = sizeof head - 1;
  for (i = 1; i < refs; ++i) text[at_end++] = ',', text[at_end++] = '0';
  text[at_end++] = '\n';
  text[at_end] = '\0';
  /* 65,537 x 65,536 channels wrapped to 65,536 in int: the network built, then overflowed. */
  FAILS(RPG_STATUS_PARSE_ERROR, rpg_network_create_from_text(text, NULL, &net));
  CHECK(net == NULL);
  CHECK(contains(rpg_last_error(), "<text>:10: route of 16385 inputs"));
  CHECK(contains(rpg_last_error(), "exceed the limit"));
  free(text);

  FAILS(RPG_STATUS_PARSE_ERROR,
        rpg_network_create_from_text("[net]\nwidth=256\nheight=256\nchannels=1\n[upsample]\nstride=64\n"
                                     "[upsample]\nstride=64\n[upsample]\nstride=64\n",
                                     NULL, &net));
  CHECK(contains(rpg_last_error(), "<text>:7: [upsample] output"));
  CHECK(net == NULL);
}

/* ---- a batch beyond the memory available ------------------------------------------------- */

static void batch_beyond_memory(void) {
  static const char cfg[] =
      "[net]\nbatch=2\nwidth=256\nheight=256\nchannels=3\nlearning_rate=0.01\n"
      "[convolutional]\nfilters=8\nsize=3\nstride=4\npad=1\nactivation=relu\n"
      "[avgpool]\n[connected]\noutput=2\nactivation=linear\n[softmax]\n";
  rpg_network* net = NULL;
  int32_t batch = 0;
  int64_t n_in = 0;
  float* x;
  float y[4] = {1, 0, 0, 1};
  double loss = -1;
  OK(rpg_network_create_from_text(cfg, NULL, &net));
  if (!net) return;
  OK(rpg_network_input_size(net, &n_in));
  x = calloc((size_t)(2 * n_in), sizeof(float));
  /* 2^20 images of 3 x 256 x 256: about 800 GiB of activations. Before the fix, some buffers were
   * freed, the allocation failed, and the next train step wrote through freed memory. */
  FAILS(RPG_STATUS_OUT_OF_MEMORY, rpg_network_set_batch(net, 1 << 20));
  CHECK(contains(rpg_last_error(), "the biggest layer is 0 [convolutional]"));
  OK(rpg_network_batch(net, &batch));
  CHECK(batch == 2);
  if (x) {
    OK(rpg_network_train_step(net, x, 2 * n_in, y, 4, &loss));
    CHECK(loss > 0 && loss < 10);
  }
  OK(rpg_network_set_batch(net, 3));
  free(x);
  rpg_network_free(net);
}

/* ---- calls from the progress callback of a running trainer ------------------------------- */

static void write_u32(FILE* f, unsigned v) {
  const unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                              (unsigned char)v};
  fwrite(b, 1, 4, f);
}

/* Eight 4x4 images in two classes as IDX files, and the .data file naming them. */
static void write_idx_dataset(void) {
  FILE* images = fopen(at("images.idx"), "wb");
  FILE* labels = fopen(at("labels.idx"), "wb");
  FILE* data = fopen(at("idx.data"), "w");
  int i, j;
  if (images && labels && data) {
    write_u32(images, 0x803), write_u32(images, 8), write_u32(images, 4), write_u32(images, 4);
    write_u32(labels, 0x801), write_u32(labels, 8);
    for (i = 0; i < 8; ++i) {
      for (j = 0; j < 16; ++j) fputc((i % 2 ? 200 : 30) + j, images);
      fputc(i % 2, labels);
    }
    fprintf(data, "classes=2\ntrain=idx:images.idx,labels.idx\nbackup=%s/backup\n", g_dir);
  }
  if (images) fclose(images);
  if (labels) fclose(labels);
  if (data) fclose(data);
}

struct Reentry {
  rpg_network* net;
  rpg_trainer* trainer;
  int calls;
  int refused;  /* every call below that was refused as it should be */
  int attempts;
  char message[512];
};

static int refused(struct Reentry* r, rpg_status s) {
  ++r->attempts;
  if (s != RPG_STATUS_INVALID_ARGUMENT || !contains(rpg_last_error(), "in use by rpg_trainer_run of trainer 'reentry'")) {
    snprintf(r->message, sizeof r->message, "status %d: %s", (int)s, rpg_last_error() ? rpg_last_error() : "");
    return 0;
  }
  return 1;
}

static int32_t reenter(int64_t update, int64_t max_updates, double epoch, double loss, double avg_loss,
                       float learning_rate, double images_per_second, void* user) {
  struct Reentry* r = (struct Reentry*)user;
  double top1 = 0;
  int32_t finished = 0;
  (void)update, (void)max_updates, (void)epoch, (void)loss, (void)avg_loss, (void)learning_rate,
      (void)images_per_second;
  ++r->calls;
  /* Each of these reallocated or replaced the network under the running update (heap overflow
   * and use after free under ASan before the fix). */
  r->refused += refused(r, rpg_network_set_batch(r->net, 7));
  r->refused += refused(r, rpg_network_bind_ring(r->net, 0, "r", 0.5));
  r->refused += refused(r, rpg_network_set_device(r->net, RPG_DEVICE_CUDA, 0));
  r->refused += refused(r, rpg_network_load_checkpoint(r->net, at("backup/reentry.ckpt")));
  r->refused += refused(r, rpg_network_load_darknet_weights(r->net, at("missing.weights")));
  r->refused += refused(r, rpg_network_load_export(r->net, at("missing.rpgm")));
  r->refused += refused(r, rpg_trainer_evaluate(r->trainer, 1, &top1, NULL, NULL));
  r->refused += refused(r, rpg_trainer_run(r->trainer, &finished));
  rpg_network_free(r->net);      /* refused: logs an error, frees nothing */
  rpg_trainer_free(r->trainer);  /* the same */
  return 0;
}

static void quiet_log(int32_t level, const char* message, void* user) {
  (void)level, (void)message;
  ++*(int*)user;
}

static void callback_reentry(void) {
  static const char cfg[] =
      "[net]\nbatch=2\nwidth=4\nheight=4\nchannels=1\nlearning_rate=0.1\nmax_batches=3\n"
      "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=relu\n"
      "[avgpool]\n[connected]\noutput=2\nactivation=linear\n[softmax]\n";
  struct Reentry r;
  rpg_trainer* t = NULL;
  int32_t finished = 0, batch = 0;
  int64_t updates = 0;
  int logged = 0;
  memset(&r, 0, sizeof r);
  write_idx_dataset();
  OK(rpg_network_create_from_text(cfg, NULL, &r.net));
  if (!r.net) return;
  OK(rpg_trainer_create(r.net, at("idx.data"), &t));
  if (t) {
    r.trainer = t;
    OK(rpg_trainer_set_name(t, "reentry"));
    OK(rpg_trainer_set_report_every(t, 1));
    OK(rpg_trainer_set_progress_callback(t, reenter, &r));
    OK(rpg_set_log_callback(quiet_log, &logged, RPG_LOG_ERROR));
    OK(rpg_trainer_run(t, &finished));
    OK(rpg_set_log_callback(NULL, NULL, RPG_LOG_WARNING));
    CHECK(finished == 1);
    CHECK(r.calls == 3);
    CHECK(r.attempts == 3 * 8);
    CHECK(r.refused == r.attempts);
    if (r.refused != r.attempts) fprintf(stderr, "not refused as expected: %s\n", r.message);
    CHECK(logged == 3 * 2); /* the two frees, refused with an error in the log */
    /* After the run, the same calls work again on the same (live) handles. */
    OK(rpg_network_update_count(r.net, &updates));
    CHECK(updates == 3);
    OK(rpg_network_set_batch(r.net, 5));
    OK(rpg_network_batch(r.net, &batch));
    CHECK(batch == 5);
    OK(rpg_network_load_checkpoint(r.net, at("backup/reentry.ckpt")));
  }
  rpg_trainer_free(t);
  rpg_network_free(r.net);
}

int main(void) {
  char cmd[128];
  snprintf(g_dir, sizeof g_dir, "/tmp/rpg_capi_limits_XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 1;
  }
  shapes();
  batch_beyond_memory();
  callback_reentry();
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  return check_summary("test_limits");
}
