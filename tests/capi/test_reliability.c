/* Issue 15 through the C API: a diverging rpg_trainer_run fails with INVALID_ARGUMENT ("training
 * diverged at update N"), leaves the network's update count equal to the updates its weights
 * have had (before the fix it stayed at its old value) and never writes a checkpoint holding a
 * NaN; an unusable backup folder is found before the first update; a folder that cannot be
 * written gives NOT_FOUND (a file-system status) with the reason, not INVALID_ARGUMENT.
 * Run from the repository root (it trains on cfg/fashion.data). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static int64_t g_last_update = -1;

static int32_t on_progress(int64_t update, int64_t max_updates, double epoch, double loss, double avg_loss,
                           float learning_rate, double images_per_second, void* user_data) {
  (void)max_updates, (void)epoch, (void)loss, (void)avg_loss, (void)learning_rate, (void)images_per_second;
  (void)user_data;
  g_last_update = update;
  return 0;
}

/* zlib's CRC-32, which the container's last 4 bytes hold. */
static uint32_t crc32_of(const unsigned char* p, size_t n) {
  uint32_t c = 0xffffffffu;
  size_t i;
  int k;
  for (i = 0; i < n; ++i) {
    c ^= p[i];
    for (k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

/* Rewrites the checkpoint at path with 64-bit field `field` of its STAT section (0 update count,
 * 1 images seen, 2 loader position) set to value, the checksum fixed: a crafted file. */
static int craft_stat(const char* path, int field, int64_t value) {
  static unsigned char b[1 << 20];
  size_t n, i, at;
  uint32_t crc;
  FILE* f = fopen(path, "rb");
  if (!f) return 0;
  n = fread(b, 1, sizeof b, f);
  fclose(f);
  for (i = 0; i + 4 <= n && memcmp(b + i, "STAT", 4) != 0; ++i) {
  }
  if (i + 48 > n) return 0;
  at = i + 4 + 4 + 8 + 8 * (size_t)field; /* tag, flags, size, then the fields */
  memcpy(b + at, &value, 8);
  crc = crc32_of(b, n - 4);
  memcpy(b + n - 4, &crc, 4);
  f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(b, 1, n, f);
  fclose(f);
  return 1;
}

static const char* kCfg =
    "[net]\nbatch=32\nwidth=28\nheight=28\nchannels=1\nlearning_rate=10\nburn_in=0\nmomentum=0.9\n"
    "max_batches=200\nseed=3\n"
    "[connected]\noutput=32\nactivation=leaky\n"
    "[connected]\noutput=32\nactivation=leaky\n"
    "[connected]\noutput=10\nactivation=linear\n[softmax]\n";

int main(void) {
  char dir[] = "/tmp/rpg_capi_reliability_XXXXXX", path[600];
  rpg_network *net = NULL, *fresh = NULL;
  rpg_trainer* trainer = NULL;
  int64_t count = -1;
  int32_t finished = -1;
  FILE* f;

  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  OK(rpg_network_create_from_text(kCfg, NULL, &net));
  OK(rpg_trainer_create(net, "cfg/fashion.data", &trainer));
  if (!net || !trainer) return check_summary("test_reliability");

  /* A backup "folder" that is a file: found before any update, with the reason. */
  snprintf(path, sizeof path, "%s/file", dir);
  f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) fclose(f);
  OK(rpg_trainer_set_backup_dir(trainer, path));
  FAILS(RPG_STATUS_NOT_FOUND, rpg_trainer_run(trainer, &finished));
  CHECK(strstr(rpg_last_error(), "is not a folder") != NULL);
  OK(rpg_network_update_count(net, &count));
  CHECK(count == 0);
  CHECK(finished == -1);
  /* A folder nobody may create files in (sysfs refuses even root). */
  FAILS(RPG_STATUS_NOT_FOUND, rpg_network_save_checkpoint(net, "/sys/rpgnet.ckpt"));
  CHECK(strstr(rpg_last_error(), "/sys/rpgnet.ckpt") != NULL && strstr(rpg_last_error(), "Permission denied") != NULL);
  OK(rpg_trainer_set_backup_dir(trainer, "/sys"));
  FAILS(RPG_STATUS_NOT_FOUND, rpg_trainer_run(trainer, &finished));
  CHECK(strstr(rpg_last_error(), "folder '/sys' is not writable") != NULL);

  /* learning_rate=10 without burn-in diverges within a few updates. */
  OK(rpg_trainer_set_backup_dir(trainer, dir));
  OK(rpg_trainer_set_checkpoint_every(trainer, 1));
  OK(rpg_trainer_set_report_every(trainer, 1));
  OK(rpg_trainer_set_progress_callback(trainer, on_progress, NULL));
  FAILS(RPG_STATUS_INVALID_ARGUMENT, rpg_trainer_run(trainer, &finished));
  printf("%s\n", rpg_last_error());
  CHECK(strstr(rpg_last_error(), "training diverged at update ") != NULL);
  CHECK(finished == -1);
  OK(rpg_network_update_count(net, &count));
  printf("updates done: %lld, last reported: %lld\n", (long long)count, (long long)g_last_update);
  CHECK(count > 0);
  CHECK(count == g_last_update);
  CHECK(count < 200);
  snprintf(path, sizeof path, "%s/model.weights", dir);
  CHECK(access(path, F_OK) != 0); /* the run did not finish: no final weights */
  snprintf(path, sizeof path, "%s/model.ckpt", dir);
  if (count > 1) {
    /* The checkpoints written before the divergence load (a NaN would be rejected). */
    OK(rpg_network_create_from_text(kCfg, NULL, &fresh));
    OK(rpg_network_load_checkpoint(fresh, path));
    rpg_network_free(fresh);
  }
  /* A crafted checkpoint whose loader position would overflow the loader's arithmetic (its
   * position + batch overflows int64 in the next run) is rejected on load. */
  OK(rpg_network_create_from_text(kCfg, NULL, &fresh));
  OK(rpg_network_save_checkpoint(fresh, path));
  CHECK(craft_stat(path, 2, INT64_MAX - 5));
  FAILS(RPG_STATUS_FORMAT_ERROR, rpg_network_load_checkpoint(fresh, path));
  CHECK(strstr(rpg_last_error(), "loader position 9223372036854775802 is outside") != NULL);
  CHECK(craft_stat(path, 2, 0) && craft_stat(path, 0, -1));
  FAILS(RPG_STATUS_FORMAT_ERROR, rpg_network_load_checkpoint(fresh, path));
  CHECK(strstr(rpg_last_error(), "update count -1 is outside") != NULL);
  OK(rpg_network_update_count(fresh, &count));
  CHECK(count == 0);
  { /* rpg_network_train_step on a NaN loss (a NaN input): refused, nothing updated */
    rpg_network* step = NULL;
    float* x = calloc(2 * 28 * 28, sizeof(float));
    float* bad = calloc(2 * 28 * 28, sizeof(float));
    float t[20] = {0}, before[20], after[20];
    double l = 0;
    int64_t updates = -1;
    int i;
    CHECK(x != NULL && bad != NULL);
    for (i = 0; i < 2 * 28 * 28; ++i) x[i] = bad[i] = (float)(i % 7) / 7.f;
    bad[5] = NAN;
    t[3] = t[10 + 4] = 1;
    OK(rpg_network_create_from_text(kCfg, "net.batch=2", &step));
    OK(rpg_network_train_step(step, x, 2 * 28 * 28, t, 20, &l));
    OK(rpg_network_predict(step, x, 2 * 28 * 28, before, 20));
    FAILS(RPG_STATUS_INVALID_ARGUMENT, rpg_network_train_step(step, bad, 2 * 28 * 28, t, 20, &l));
    CHECK(strstr(rpg_last_error(), "training diverged at update 2") != NULL);
    CHECK(l != l); /* the NaN loss is reported */
    OK(rpg_network_update_count(step, &updates));
    CHECK(updates == 1);
    OK(rpg_network_predict(step, x, 2 * 28 * 28, after, 20));
    CHECK(memcmp(before, after, sizeof before) == 0); /* the weights did not move */
    rpg_network_free(step);
    free(x);
    free(bad);
  }
  rpg_network_free(fresh);
  unlink(path);
  rpg_trainer_free(trainer);
  rpg_network_free(net);
  snprintf(path, sizeof path, "%s/file", dir);
  unlink(path);
  CHECK(rmdir(dir) == 0); /* nothing else was left behind: no temporary files */
  return check_summary("test_reliability");
}
