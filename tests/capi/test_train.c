/* Trains cfg/fashion-resnet-rpg.cfg on Fashion-MNIST (cfg/fashion.data) for a few updates through
 * the C API's trainer, checks the DoF summary, exports at 8 bits (to a file and to a buffer),
 * reloads the export and predicts with it; the 32-bit export predicts exactly as the network.
 * Run from the repository root. RPG_CAPI_UPDATES overrides the number of updates (default 6). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

#define MAX_UPDATES 64

static double g_losses[MAX_UPDATES + 1];
static int g_reports = 0;

static int32_t on_progress(int64_t update, int64_t max_updates, double epoch, double loss, double avg_loss,
                           float learning_rate, double images_per_second, void* user_data) {
  (void)avg_loss;
  (void)user_data;
  printf("update %lld/%lld  epoch %.4f  loss %.4f  lr %.4f  %.0f img/s\n", (long long)update,
         (long long)max_updates, epoch, loss, (double)learning_rate, images_per_second);
  if (g_reports <= MAX_UPDATES) g_losses[g_reports++] = loss;
  return 0;
}

static int argmax(const float* p, int n) {
  int i, best = 0;
  for (i = 1; i < n; ++i)
    if (p[i] > p[best]) best = i;
  return best;
}

int main(void) {
  char dir[] = "/tmp/rpg_capi_train_XXXXXX", path[512], overrides[256];
  const char* env = getenv("RPG_CAPI_UPDATES");
  int updates = env ? atoi(env) : 6;
  rpg_network *net = NULL, *loaded = NULL, *exact = NULL, *from_buffer = NULL;
  rpg_trainer* trainer = NULL;
  rpg_export_options* opts = NULL;
  int32_t finished = -1, batch = 0;
  int64_t in_size = 0, out_size = 0, count = -1, full = 0, ring_dof = 0, total = 0, max_updates = 0;
  float *x = NULL, *p = NULL, *q = NULL;
  void* bytes = NULL;
  size_t size = 0, written = 0;
  double max_diff = 0;
  int i, agree = 0;

  if (updates < 1 || updates > MAX_UPDATES) updates = 6;
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  /* A tiny budget: batch 32, constant rate, a few updates. */
  snprintf(overrides, sizeof overrides,
           "net.batch=32\nnet.max_batches=%d\nnet.burn_in=0\nnet.policy=constant\nnet.learning_rate=0.05", updates);
  OK(rpg_network_create("cfg/fashion-resnet-rpg.cfg", overrides, &net));
  if (!net) return check_summary("test_train");
  OK(rpg_network_set_threads(net, 2));
  OK(rpg_network_param_count(net, &full));
  OK(rpg_network_ring_dof(net, &ring_dof));
  OK(rpg_network_total_dof(net, &total));
  printf("full parameters %lld, ring DoF %lld, total DoF %lld\n", (long long)full, (long long)ring_dof,
         (long long)total);
  CHECK(full == 169834 && ring_dof == 16794 && total == 18692);

  OK(rpg_trainer_create(net, "cfg/fashion.data", &trainer));
  OK(rpg_trainer_set_backup_dir(trainer, dir));
  OK(rpg_trainer_set_report_every(trainer, 1));
  OK(rpg_trainer_set_progress_callback(trainer, on_progress, NULL));
  OK(rpg_trainer_max_updates(trainer, &max_updates));
  CHECK(max_updates == updates);
  OK(rpg_trainer_run(trainer, &finished));
  CHECK(finished == 1);
  CHECK(g_reports == updates);
  OK(rpg_network_update_count(net, &count));
  CHECK(count == updates);
  if (g_reports >= 4) /* the loss falls: the last two updates below the first two */
    CHECK(g_losses[g_reports - 1] + g_losses[g_reports - 2] < g_losses[0] + g_losses[1]);
  snprintf(path, sizeof path, "%s/fashion-resnet-rpg.weights", dir);
  CHECK(access(path, R_OK) == 0); /* a finished run writes the final weights */

  /* Export at 8 bits to a file and to a caller buffer: the same bytes. */
  OK(rpg_export_options_create(&opts));
  OK(rpg_export_options_set_bits(opts, 8));
  snprintf(path, sizeof path, "%s/model.rpgm", dir);
  OK(rpg_network_export(net, opts, path));
  OK(rpg_network_export_to_buffer(net, opts, NULL, 0, &size));
  CHECK(size > 0 && size < 40000); /* ~K bytes + unshared floats + cfg: far below 4 x 169,834 */
  bytes = malloc(size);
  OK(rpg_network_export_to_buffer(net, opts, bytes, size, &written));
  CHECK(written == size);
  printf("export at 8 bits: %zu bytes (float32 weights: %lld bytes)\n", size, (long long)(4 * full));

  OK(rpg_network_create_from_export(path, &loaded));
  OK(rpg_network_create_from_export_buffer(bytes, size, &from_buffer));
  if (loaded && from_buffer) {
    OK(rpg_network_set_batch(net, 16));
    OK(rpg_network_set_batch(loaded, 16));
    OK(rpg_network_set_batch(from_buffer, 16));
    OK(rpg_network_batch(loaded, &batch));
    OK(rpg_network_input_size(loaded, &in_size));
    OK(rpg_network_output_size(loaded, &out_size));
    CHECK(batch == 16 && in_size == 28 * 28 && out_size == 10);
    x = malloc(sizeof(float) * (size_t)(batch * in_size));
    p = malloc(sizeof(float) * (size_t)(batch * out_size));
    q = malloc(sizeof(float) * (size_t)(batch * out_size));
    for (i = 0; i < batch * in_size; ++i) x[i] = (float)(0.5 + 0.5 * sin(0.001 * i * i));
    OK(rpg_network_predict(net, x, batch * in_size, p, batch * out_size));
    OK(rpg_network_predict(loaded, x, batch * in_size, q, batch * out_size));
    for (i = 0; i < batch * out_size; ++i)
      if (fabs(p[i] - q[i]) > max_diff) max_diff = fabs(p[i] - q[i]);
    for (i = 0; i < batch; ++i) agree += argmax(p + i * out_size, (int)out_size) == argmax(q + i * out_size, (int)out_size);
    printf("8-bit export vs network: max |dp| %.5f, argmax agrees on %d of %d\n", max_diff, agree, batch);
    CHECK(max_diff < 0.1);
    CHECK(agree >= batch - 2);
    OK(rpg_network_predict(from_buffer, x, batch * in_size, q, batch * out_size));
    OK(rpg_network_predict(loaded, x, batch * in_size, p, batch * out_size));
    CHECK(memcmp(p, q, sizeof(float) * (size_t)(batch * out_size)) == 0);

    /* At 32 bits the export is exact: the same predictions, bit for bit. */
    OK(rpg_export_options_set_bits(opts, 32));
    OK(rpg_network_export(net, opts, path));
    OK(rpg_network_create_from_export(path, &exact));
    if (exact) {
      OK(rpg_network_set_batch(exact, 16));
      OK(rpg_network_predict(net, x, batch * in_size, p, batch * out_size));
      OK(rpg_network_predict(exact, x, batch * in_size, q, batch * out_size));
      CHECK(memcmp(p, q, sizeof(float) * (size_t)(batch * out_size)) == 0);
    }
  }
  /* The expanded model for a stock Darknet runtime: weights and the ring-free cfg. */
  snprintf(path, sizeof path, "%s/expanded.weights", dir);
  snprintf(overrides, sizeof overrides, "%s/expanded.cfg", dir);
  OK(rpg_network_export_darknet(net, NULL, path, overrides));
  CHECK(access(path, R_OK) == 0 && access(overrides, R_OK) == 0);

  free(x);
  free(p);
  free(q);
  free(bytes);
  rpg_export_options_free(opts);
  rpg_trainer_free(trainer);
  rpg_network_free(exact);
  rpg_network_free(from_buffer);
  rpg_network_free(loaded);
  rpg_network_free(net);
  snprintf(path, sizeof path, "rm -rf '%s'", dir);
  if (system(path) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return check_summary("test_train");
}
