/* Every entry point of rings, generators, networks (in memory) and export options called with
 * NULL pointers, zero / negative / wrong sizes, out-of-range values and handles of the wrong
 * kind: each returns its documented status with a message naming the function, leaves its
 * outputs untouched, and logs nothing at the default level. Built and run under ASan/UBSan with
 * LeakSanitizer too. Files (missing, corrupt) and the trainer are in test_files.c. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define INV RPG_STATUS_INVALID_ARGUMENT

static const char* kCfg =
    "[net]\nbatch=2\nwidth=4\nheight=4\nchannels=1\nlearning_rate=0.1\n"
    "[ring]\nname=r\ndof=0.5\n"
    "[convolutional]\nfilters=3\nsize=3\nstride=1\npad=1\nactivation=relu\nring=r\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[connected]\noutput=2\nactivation=linear\n"
    "[softmax]\n";
static const char* kNoLoss = "[net]\nbatch=1\ninputs=3\n[connected]\noutput=2\nactivation=linear\n";

static int g_log_count = 0, g_warnings = 0;
static char g_last_log[512];
static void capture(int32_t level, const char* message, void* user) {
  ++*(int*)user;
  if (level == RPG_LOG_WARNING) ++g_warnings;
  snprintf(g_last_log, sizeof g_last_log, "%s", message);
}

static void globals(void) {
  int hits = 0;
  CHECK(rpg_last_error() != NULL);
  CHECK(strcmp(rpg_status_string(RPG_STATUS_OK), "OK") == 0);
  CHECK(strcmp(rpg_status_string(RPG_STATUS_UNSUPPORTED), "unsupported") == 0);
  CHECK(strcmp(rpg_status_string(42), "unknown status") == 0);
  CHECK(strcmp(rpg_status_string(RPG_STATUS_INTERNAL), "internal error") == 0);
  CHECK(strcmp(rpg_status_string(RPG_STATUS_COMM_ERROR), "communication error") == 0);
  /* Data-parallel training: argument checks come before MPI is touched (tests/mpi/ runs it). */
  FAILS(RPG_STATUS_INVALID_ARGUMENT, rpg_trainer_set_distributed(NULL, RPG_COMM_WORLD, 10, NULL, NULL));
  OK(rpg_distributed_finalize()); /* MPI never initialised: nothing to do */
  CHECK(strstr(rpg_build_features(), "openblas") == rpg_build_features());
  FAILS(INV, rpg_set_log_callback(NULL, NULL, -1));
  FAILS(INV, rpg_set_log_callback(capture, &hits, RPG_LOG_ERROR + 2));
  /* Debug level: every failure is logged with its message. */
  OK(rpg_set_log_callback(capture, &g_log_count, RPG_LOG_DEBUG));
  FAILS(INV, rpg_ring_create(0, 1, NULL));
  CHECK(g_log_count == 1 && strcmp(g_last_log, rpg_last_error()) == 0);
  /* From here on: warnings and errors only, counted (the default level prints nothing else). */
  OK(rpg_set_log_callback(capture, &g_log_count, RPG_LOG_WARNING));
  g_log_count = 0;
}

static void rings(rpg_network* net) {
  rpg_ring *ring = NULL, *sentinel = (rpg_ring*)&g_checks, *out = sentinel;
  float v[8], keep[8], g[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  int64_t n = -7;
  FAILS(INV, rpg_ring_create(0, 1, &out));
  FAILS(INV, rpg_ring_create(-5, 1, &out));
  FAILS(INV, rpg_ring_create((int64_t)1 << 31, 1, &out));
  FAILS(INV, rpg_ring_create(8, 1, NULL));
  CHECK(out == sentinel);
  CHECK(strstr(rpg_last_error(), "rpg_ring_create: out is NULL") != NULL);
  OK(rpg_ring_create(8, 1, &ring));
  rpg_ring_free(NULL);
  FAILS(INV, rpg_ring_size(NULL, &n));
  FAILS(INV, rpg_ring_size(ring, NULL));
  FAILS(INV, rpg_ring_size((rpg_ring*)net, &n));
  CHECK(strstr(rpg_last_error(), "is an rpg_network handle, not an rpg_ring") != NULL);
  FAILS(INV, rpg_ring_positions(NULL, &n));
  FAILS(INV, rpg_ring_positions(ring, NULL));
  CHECK(n == -7);
  OK(rpg_ring_get_values(ring, keep, 8));
  memcpy(v, keep, sizeof v);
  FAILS(INV, rpg_ring_get_values(NULL, v, 8));
  FAILS(INV, rpg_ring_get_values(ring, NULL, 8));
  FAILS(INV, rpg_ring_get_values(ring, v, 0));
  FAILS(INV, rpg_ring_get_values(ring, v, -1));
  FAILS(INV, rpg_ring_get_values(ring, v, 9));
  FAILS(INV, rpg_ring_set_values(ring, NULL, 8));
  FAILS(INV, rpg_ring_set_values(ring, v, 7));
  FAILS(INV, rpg_ring_set_values((rpg_ring*)net, v, 8));
  FAILS(INV, rpg_ring_init_he(NULL));
  FAILS(INV, rpg_ring_sgd_step(NULL, g, 8, 0.1f, 0.9f, 0.f));
  FAILS(INV, rpg_ring_sgd_step(ring, NULL, 8, 0.1f, 0.9f, 0.f));
  FAILS(INV, rpg_ring_sgd_step(ring, g, 4, 0.1f, 0.9f, 0.f));
  FAILS(INV, rpg_ring_sgd_step(ring, g, 8, -0.1f, 0.9f, 0.f));
  FAILS(INV, rpg_ring_sgd_step(ring, g, 8, (float)NAN, 0.9f, 0.f));
  FAILS(INV, rpg_ring_sgd_step(ring, g, 8, 0.1f, 1.f, 0.f));
  FAILS(INV, rpg_ring_sgd_step(ring, g, 8, 0.1f, -0.5f, 0.f));
  FAILS(INV, rpg_ring_sgd_step(ring, g, 8, 0.1f, 0.5f, -1.f));
  OK(rpg_ring_get_values(ring, v, 8));
  CHECK(memcmp(v, keep, sizeof v) == 0); /* nothing moved */
  rpg_ring_free(ring);
}

static void generators(rpg_network* net) {
  rpg_ring* ring = NULL;
  rpg_generator *gen = NULL, *sentinel = (rpg_generator*)&g_checks, *out = sentinel;
  float w[10], rg[4];
  float scale = -1.f;
  int64_t n = -7;
  OK(rpg_ring_create(4, 9, &ring));
  FAILS(INV, rpg_generator_create(NULL, 10, 2, 0, &out));
  FAILS(INV, rpg_generator_create((rpg_ring*)net, 10, 2, 0, &out));
  FAILS(INV, rpg_generator_create(ring, 0, 2, 0, &out));
  FAILS(INV, rpg_generator_create(ring, -10, 2, 0, &out));
  FAILS(INV, rpg_generator_create(ring, 10, 0, 0, &out));
  FAILS(INV, rpg_generator_create(ring, 10, 2, -2, &out));
  FAILS(INV, rpg_generator_create(ring, ((int64_t)1 << 62) + 1, 2, 0, &out));
  FAILS(INV, rpg_generator_create(ring, 10, 2, (int64_t)1 << 62, &out));
  FAILS(INV, rpg_generator_create(ring, 10, 2, 0, NULL));
  CHECK(out == sentinel);
  OK(rpg_generator_create(ring, 10, 2, 0, &gen));
  FAILS(INV, rpg_generator_create(ring, 10, 2, 5, &out)); /* overlaps [0, 10) */
  CHECK(strstr(rpg_last_error(), "overlap") != NULL);
  CHECK(out == sentinel);
  rpg_generator_free(NULL);
  FAILS(INV, rpg_generator_count(NULL, &n));
  FAILS(INV, rpg_generator_count(gen, NULL));
  FAILS(INV, rpg_generator_count((rpg_generator*)ring, &n));
  CHECK(strstr(rpg_last_error(), "is an rpg_ring handle") != NULL);
  FAILS(INV, rpg_generator_offset(NULL, &n));
  FAILS(INV, rpg_generator_offset(gen, NULL));
  CHECK(n == -7);
  FAILS(INV, rpg_generator_set_scale(NULL, 1.f));
  FAILS(INV, rpg_generator_set_scale(gen, -1.f));
  FAILS(INV, rpg_generator_set_scale(gen, (float)NAN));
  FAILS(INV, rpg_generator_set_scale(gen, (float)INFINITY));
  FAILS(INV, rpg_generator_scale(gen, NULL));
  FAILS(INV, rpg_generator_scale(NULL, &scale));
  CHECK(scale == -1.f);
  OK(rpg_generator_set_scale(gen, 3.f));
  OK(rpg_generator_scale(gen, &scale));
  CHECK(scale == 3.f);
  FAILS(INV, rpg_generator_generate(NULL, w, 10));
  FAILS(INV, rpg_generator_generate(gen, NULL, 10));
  FAILS(INV, rpg_generator_generate(gen, w, 9));
  FAILS(INV, rpg_generator_generate(gen, w, 0));
  FAILS(INV, rpg_generator_generate((rpg_generator*)net, w, 10));
  FAILS(INV, rpg_generator_accumulate_gradient(NULL, w, 10, rg, 4));
  FAILS(INV, rpg_generator_accumulate_gradient(gen, NULL, 10, rg, 4));
  FAILS(INV, rpg_generator_accumulate_gradient(gen, w, 10, NULL, 4));
  FAILS(INV, rpg_generator_accumulate_gradient(gen, w, -1, rg, 4));
  FAILS(INV, rpg_generator_accumulate_gradient(gen, w, 10, rg, 5));
  rpg_generator_free(gen);
  rpg_ring_free(ring);
}

static void creation(void) {
  rpg_network *sentinel = (rpg_network*)&g_checks, *out = sentinel;
  FAILS(INV, rpg_network_create(NULL, NULL, &out));
  FAILS(INV, rpg_network_create("", NULL, &out));
  FAILS(INV, rpg_network_create("cfg/fashion-resnet-rpg.cfg", NULL, NULL));
  FAILS(RPG_STATUS_NOT_FOUND, rpg_network_create("no/such/file.cfg", NULL, &out));
  CHECK(strstr(rpg_last_error(), "no/such/file.cfg") != NULL);
  FAILS(RPG_STATUS_NOT_FOUND, rpg_network_create("tests", NULL, &out)); /* a folder */
  FAILS(INV, rpg_network_create_from_text(NULL, NULL, &out));
  FAILS(INV, rpg_network_create_from_text(kCfg, NULL, NULL));
  FAILS(RPG_STATUS_PARSE_ERROR, rpg_network_create_from_text("", NULL, &out));
  FAILS(RPG_STATUS_PARSE_ERROR, rpg_network_create_from_text("[net]\nbatch=1\n[connected]\noutput=2\n", NULL, &out));
  FAILS(RPG_STATUS_PARSE_ERROR, rpg_network_create_from_text("[net]\ninputs=3\n[convolutionnal]\n", NULL, &out));
  CHECK(strstr(rpg_last_error(), "<text>:3:") != NULL && strstr(rpg_last_error(), "did you mean") != NULL);
  FAILS(RPG_STATUS_PARSE_ERROR, rpg_network_create_from_text("\x01\x02garbage", NULL, &out));
  FAILS(INV, rpg_network_create_from_text(kCfg, "net.batch", &out));
  FAILS(INV, rpg_network_create_from_text(kCfg, "9.filters=3", &out));
  FAILS(INV, rpg_network_create_from_text(kCfg, "ring.nope.dof=0.1", &out));
  FAILS(RPG_STATUS_PARSE_ERROR, rpg_network_create_from_text(kCfg, "net.batch=2\n\n# comment\nnet.batch=0", &out));
  CHECK(out == sentinel);
}

static void passes(rpg_network* net, rpg_network* noloss) {
  float x[32], y[4], t[4] = {1, 0, 0, 1}, dx[32], keep[4] = {-1, -1, -1, -1};
  double loss = -1;
  int32_t b = -1, c = -1, h = -1, w = -1;
  int64_t n = -1;
  float lr = -1;
  memset(x, 0, sizeof x);
  memcpy(y, keep, sizeof y);
  FAILS(INV, rpg_network_set_threads(NULL, 1));
  FAILS(INV, rpg_network_set_threads(net, 0));
  FAILS(INV, rpg_network_set_threads(net, -2));
  FAILS(INV, rpg_device_count(2, &c));
  FAILS(INV, rpg_device_count(RPG_DEVICE_CPU, NULL));
  OK(rpg_device_count(RPG_DEVICE_CPU, &c));
  CHECK(c == 1);
  if (strstr(rpg_build_features(), "cuda") == NULL) {
    OK(rpg_device_count(RPG_DEVICE_CUDA, &c));
    CHECK(c == 0);
    FAILS(RPG_STATUS_UNSUPPORTED, rpg_network_set_device(net, RPG_DEVICE_CUDA, 0));
  }
  FAILS(INV, rpg_network_set_device(net, 7, 0));
  FAILS(INV, rpg_network_set_device(net, RPG_DEVICE_CPU, 1));
  FAILS(INV, rpg_network_set_device(NULL, RPG_DEVICE_CPU, 0));
  OK(rpg_network_set_device(net, RPG_DEVICE_CPU, 0));
  FAILS(INV, rpg_network_device(net, NULL, &c));
  FAILS(INV, rpg_network_device(net, &c, NULL));
  FAILS(INV, rpg_network_set_batch(NULL, 2));
  FAILS(INV, rpg_network_set_batch(net, 0));
  FAILS(INV, rpg_network_set_batch(net, -3));
  FAILS(INV, rpg_network_set_batch(net, 1 << 21));
  FAILS(INV, rpg_network_batch(net, NULL));
  FAILS(INV, rpg_network_batch((rpg_network*)&g_checks, &b)); /* not a handle at all */
  CHECK(strstr(rpg_last_error(), "not a live handle") != NULL);
  FAILS(INV, rpg_network_input_size(net, NULL));
  FAILS(INV, rpg_network_output_size(NULL, &n));
  FAILS(INV, rpg_network_input_shape(net, &c, NULL, &w));
  FAILS(INV, rpg_network_input_shape(net, NULL, &h, &w));
  CHECK(b == -1 && n == -1 && h == -1);
  /* batch 2, 16 inputs and 2 outputs per image */
  FAILS(INV, rpg_network_forward(NULL, x, 32, 0, y, 4));
  FAILS(INV, rpg_network_forward(net, NULL, 32, 0, y, 4));
  FAILS(INV, rpg_network_forward(net, x, 0, 0, y, 4));
  FAILS(INV, rpg_network_forward(net, x, -32, 0, y, 4));
  FAILS(INV, rpg_network_forward(net, x, 16, 0, y, 4));
  CHECK(strstr(rpg_last_error(), "expected 32 (batch 2 x 16 input floats)") != NULL);
  FAILS(INV, rpg_network_forward(net, x, 32, 2, y, 4));
  FAILS(INV, rpg_network_forward(net, x, 32, 0, NULL, 4));
  FAILS(INV, rpg_network_forward(net, x, 32, 0, y, 3));
  CHECK(memcmp(y, keep, sizeof y) == 0);
  FAILS(INV, rpg_network_backward(net, NULL, 0)); /* no forward pass yet */
  FAILS(INV, rpg_network_backward_output_grad(net, t, 4, NULL, 0));
  OK(rpg_network_forward(net, x, 32, 1, NULL, 0));
  FAILS(INV, rpg_network_backward(net, NULL, 0)); /* that forward had no target */
  FAILS(INV, rpg_network_backward_output_grad(net, NULL, 4, NULL, 0));
  FAILS(INV, rpg_network_backward_output_grad(net, t, 5, NULL, 0));
  FAILS(INV, rpg_network_backward_output_grad(net, t, 4, NULL, 32));
  FAILS(INV, rpg_network_backward_output_grad(net, t, 4, dx, 31));
  OK(rpg_network_backward_output_grad(net, t, 4, dx, 32));
  FAILS(INV, rpg_network_forward_target(net, x, 32, NULL, 4, 1, &loss));
  FAILS(INV, rpg_network_forward_target(net, x, 32, t, 2, 1, &loss));
  FAILS(INV, rpg_network_forward_target(net, x, 32, t, 4, -1, &loss));
  FAILS(INV, rpg_network_forward_target(noloss, x, 3, t, 2, 1, &loss));
  CHECK(strstr(rpg_last_error(), "not a loss layer") != NULL);
  CHECK(loss == -1);
  OK(rpg_network_forward_target(net, x, 32, t, 4, 1, &loss));
  FAILS(INV, rpg_network_backward(net, dx, 0));
  FAILS(INV, rpg_network_backward(net, NULL, 32));
  OK(rpg_network_backward(net, dx, 32));
  OK(rpg_network_set_batch(net, 2)); /* forgets the pass */
  FAILS(INV, rpg_network_backward(net, NULL, 0));
  FAILS(INV, rpg_network_update(NULL));
  FAILS(INV, rpg_network_update_with_rate(net, -1.f));
  FAILS(INV, rpg_network_update_with_rate(net, (float)NAN));
  FAILS(INV, rpg_network_learning_rate(net, NULL));
  FAILS(INV, rpg_network_learning_rate(NULL, &lr));
  FAILS(INV, rpg_network_update_count(net, NULL));
  FAILS(INV, rpg_network_set_max_updates(net, 0));
  FAILS(INV, rpg_network_set_max_updates(net, -1));
  CHECK(lr == -1);
  FAILS(INV, rpg_network_train_step(net, NULL, 32, t, 4, &loss));
  FAILS(INV, rpg_network_train_step(net, x, 32, NULL, 4, &loss));
  FAILS(INV, rpg_network_train_step(net, x, 31, t, 4, &loss));
  FAILS(INV, rpg_network_train_step(net, x, 32, t, 0, &loss));
  FAILS(INV, rpg_network_train_step(noloss, x, 3, t, 2, &loss));
  OK(rpg_network_update_count(net, &n));
  CHECK(n == 0); /* no failed call updated anything */
  FAILS(INV, rpg_network_predict(net, x, 32, NULL, 4));
  FAILS(INV, rpg_network_predict(net, x, 32, y, 0));
  FAILS(INV, rpg_network_predict(net, NULL, 32, y, 4));
  CHECK(memcmp(y, keep, sizeof y) == 0);
}

static void summary_and_rings(rpg_network* net) {
  const char *s = "unchanged", *keep = s;
  int32_t n = -1, c = -1, h = -1, w = -1;
  int64_t k = -1;
  uint64_t seed = 7;
  float v[64];
  FAILS(INV, rpg_network_layer_count(NULL, &n));
  FAILS(INV, rpg_network_layer_count(net, NULL));
  FAILS(INV, rpg_network_layer_type(net, -1, &s));
  FAILS(INV, rpg_network_layer_type(net, 4, &s));
  CHECK(strstr(rpg_last_error(), "expected 0 .. 3") != NULL);
  FAILS(INV, rpg_network_layer_type(net, 0, NULL));
  FAILS(INV, rpg_network_layer_output_shape(net, 0, &c, &h, NULL));
  FAILS(INV, rpg_network_layer_output_shape(net, 9, &c, &h, &w));
  FAILS(INV, rpg_network_layer_param_count(net, 9, &k));
  FAILS(INV, rpg_network_layer_param_count(net, 0, NULL));
  FAILS(INV, rpg_network_layer_ring(net, -3, &s));
  FAILS(INV, rpg_network_layer_ring(net, 0, NULL));
  FAILS(INV, rpg_network_layer_weight_count(net, 5, &k));
  FAILS(INV, rpg_network_layer_get_weights(net, 3, v, 1)); /* softmax: no weights */
  FAILS(INV, rpg_network_layer_get_weights(net, 0, v, 26));
  FAILS(INV, rpg_network_layer_get_weights(net, 0, NULL, 27));
  FAILS(INV, rpg_network_param_count(net, NULL));
  FAILS(INV, rpg_network_ring_dof(NULL, &k));
  FAILS(INV, rpg_network_total_dof(net, NULL));
  FAILS(INV, rpg_network_summary(net, NULL));
  FAILS(INV, rpg_network_summary(NULL, &s));
  FAILS(INV, rpg_network_ring_count(net, NULL));
  FAILS(INV, rpg_network_ring_name(net, 1, &s));
  FAILS(INV, rpg_network_ring_name(net, -1, &s));
  FAILS(INV, rpg_network_ring_name(net, 0, NULL));
  FAILS(INV, rpg_network_ring_size(net, 1, &k));
  FAILS(INV, rpg_network_ring_positions(net, 0, NULL));
  FAILS(INV, rpg_network_ring_seed(net, 2, &seed));
  FAILS(INV, rpg_network_ring_get_values(net, 0, v, 64));
  FAILS(INV, rpg_network_ring_get_values(net, 0, NULL, 14));
  FAILS(INV, rpg_network_ring_set_values(net, 0, v, 13));
  FAILS(INV, rpg_network_ring_set_values(net, 5, v, 14));
  CHECK(s == keep && n == -1 && c == -1 && k == -1 && seed == 7);
  OK(rpg_network_ring_size(net, 0, &k));
  CHECK(k == 14); /* dof 0.5 of 27 weights */
  OK(rpg_network_summary(net, &s));
  CHECK(strstr(s, "ring DoF: 14") != NULL);
  /* bind_ring: bad arguments, and a rebuild that fails leaves the network as it was. */
  FAILS(INV, rpg_network_bind_ring(NULL, 2, "r", 0));
  FAILS(INV, rpg_network_bind_ring(net, 2, NULL, 0));
  FAILS(INV, rpg_network_bind_ring(net, 2, "", 0));
  FAILS(INV, rpg_network_bind_ring(net, -1, "r", 0));
  FAILS(INV, rpg_network_bind_ring(net, 4, "r", 0));
  FAILS(INV, rpg_network_bind_ring(net, 2, "r", 0.5));  /* r exists: dof must be 0 */
  FAILS(INV, rpg_network_bind_ring(net, 2, "s", 0));    /* new ring: 0 < dof <= 1 */
  FAILS(INV, rpg_network_bind_ring(net, 2, "s", 1.5));
  FAILS(INV, rpg_network_bind_ring(net, 2, "a=b", 0.5));
  FAILS(RPG_STATUS_PARSE_ERROR, rpg_network_bind_ring(net, 1, "r", 0)); /* a maxpool */
  OK(rpg_network_layer_ring(net, 2, &s));
  CHECK(strcmp(s, "") == 0);
  OK(rpg_network_bind_ring(net, 2, "s", 0.25));
  OK(rpg_network_ring_count(net, &n));
  OK(rpg_network_layer_ring(net, 2, &s));
  CHECK(n == 2 && strcmp(s, "s") == 0);
}

static void export_options(rpg_network* net) {
  rpg_export_options* o = NULL;
  rpg_network *sentinel = (rpg_network*)&g_checks, *out = sentinel;
  unsigned char buf[16];
  size_t size = 12345;
  FAILS(INV, rpg_export_options_create(NULL));
  OK(rpg_export_options_create(&o));
  rpg_export_options_free(NULL);
  FAILS(INV, rpg_export_options_set_bits(NULL, 8));
  FAILS(INV, rpg_export_options_set_bits(o, 1));
  FAILS(INV, rpg_export_options_set_bits(o, 17));
  FAILS(INV, rpg_export_options_set_bits(o, 31));
  FAILS(INV, rpg_export_options_set_bits((rpg_export_options*)net, 8));
  FAILS(INV, rpg_export_options_set_prune_fraction(o, -0.1));
  FAILS(INV, rpg_export_options_set_prune_fraction(o, 1.0));
  FAILS(INV, rpg_export_options_set_prune_fraction(o, NAN));
  FAILS(INV, rpg_export_options_set_unshared_precision(o, 8));
  FAILS(INV, rpg_export_options_set_unshared_precision(NULL, 16));
  FAILS(INV, rpg_network_export(NULL, o, "x.rpgm"));
  FAILS(INV, rpg_network_export(net, o, NULL));
  FAILS(INV, rpg_network_export(net, (rpg_export_options*)net, "x.rpgm"));
  FAILS(INV, rpg_network_export_to_buffer(net, o, buf, sizeof buf, NULL));
  FAILS(INV, rpg_network_export_to_buffer(net, o, NULL, 5, &size));
  memset(buf, 0xab, sizeof buf);
  FAILS(INV, rpg_network_export_to_buffer(net, o, buf, sizeof buf, &size)); /* too small */
  CHECK(strstr(rpg_last_error(), "the export needs") != NULL);
  CHECK(size == 12345 && buf[0] == 0xab && buf[15] == 0xab);
  FAILS(INV, rpg_network_create_from_export(NULL, &out));
  FAILS(INV, rpg_network_create_from_export_buffer(NULL, 10, &out));
  FAILS(INV, rpg_network_create_from_export_buffer(buf, 0, &out));
  FAILS(RPG_STATUS_FORMAT_ERROR, rpg_network_create_from_export_buffer(buf, sizeof buf, &out));
  FAILS(INV, rpg_network_export_darknet(net, o, NULL, NULL));
  FAILS(INV, rpg_network_export_darknet(net, o, "x.weights", ""));
  CHECK(out == sentinel);
  rpg_export_options_free(o);
}

int main(void) {
  rpg_network *net = NULL, *noloss = NULL;
  globals();
  creation();
  OK(rpg_network_create_from_text(kCfg, NULL, &net));
  OK(rpg_network_create_from_text(kNoLoss, NULL, &noloss));
  if (!net || !noloss) return check_summary("test_errors");
  rings(net);
  generators(net);
  passes(net, noloss);
  summary_and_rings(net);
  export_options(net);
  /* Freeing a handle as the wrong kind does nothing but warn. */
  rpg_ring_free((rpg_ring*)net);
  rpg_trainer_free((rpg_trainer*)net);
  CHECK(g_warnings == 2 && strstr(g_last_log, "rpg_trainer_free: not freed") != NULL);
  CHECK(g_log_count == 2); /* nothing else was logged at warning level */
  rpg_network_free(noloss);
  rpg_network_free(net);
  return check_summary("test_errors");
}
