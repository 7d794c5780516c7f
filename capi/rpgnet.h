/* rpgnet.h: the stable C ABI of rpgnet (Recurrent Parameter Generators, Darknet-style networks).
 * The only public header; pure C99; identical for CPU and GPU builds; SWIG reads it as is.
 *
 * Conventions (they hold for every function below unless its comment says otherwise):
 * - Status: a fallible function returns rpg_status (int32_t): RPG_STATUS_OK (0) or a negative
 *   RPG_STATUS_* code. Every function may also return RPG_STATUS_INVALID_ARGUMENT (a NULL
 *   pointer, a wrong size, a handle of another kind), RPG_STATUS_OUT_OF_MEMORY and
 *   RPG_STATUS_INTERNAL; the other codes a function can return are listed on it.
 * - On failure, outputs are left untouched, nothing leaks, and rpg_last_error() holds a message
 *   on the calling thread (read it right after the call, before any other rpg_* call).
 *   Successful calls leave that message as it was.
 * - Nothing here aborts, exits, throws, or writes to stdout. Diagnostics go to the log callback
 *   (rpg_set_log_callback; default: stderr, warnings and errors only).
 * - Ownership: handles come from rpg_<object>_create* (caller-owned: release with
 *   rpg_<object>_free, which accepts NULL and returns nothing). "borrowed" strings and pointers
 *   belong to the library and live as long as stated. Buffers are caller-provided with their
 *   length in elements (int64_t, floats) or bytes (size_t); the library never keeps them.
 * - Sizes: int64_t counts of tensor elements, size_t bytes, int32_t flags and small counts
 *   (flags: 0 or 1). Strings are NUL-terminated UTF-8; paths are file-system paths.
 * - Threading: one handle is used by one thread at a time unless a function says otherwise;
 *   distinct handles may be used concurrently (two networks train on two threads at once).
 *   A ring may be shared read-only (its generators used from several threads) while nothing
 *   writes it. rpg_last_error() is per thread.
 * - Versioning: functions and RPG_* constants are only ever appended; a change is recorded in
 *   capi/ABI_CHANGES.md, and a function is deprecated before it is removed.
 */
#ifndef RPGNET_H
#define RPGNET_H

#include <stddef.h>
#include <stdint.h>

#if defined(SWIG)
#define RPG_API
#elif defined(_WIN32)
#define RPG_API __declspec(dllimport)
#elif defined(__GNUC__)
#define RPG_API __attribute__((visibility("default")))
#else
#define RPG_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version and build ------------------------------------------------------------------ */

#define RPG_VERSION_MAJOR 0
#define RPG_VERSION_MINOR 1
#define RPG_VERSION_PATCH 0
/* The number in the shared library's soname (librpgnet.so.0). It changes only when an existing
 * function's signature or meaning changes, never for an addition. */
#define RPG_ABI_VERSION 0

/* RPG_ABI_VERSION of the library actually loaded (compare with the header's). */
RPG_API int32_t rpg_abi_version(void);
/* "0.1.0". Borrowed, static. */
RPG_API const char* rpg_version_string(void);
/* Comma-separated features of this build: "openblas,onednn" (CPU), "openblas,onednn,cuda" (GPU=1),
 * and ",mpi" when it can train over MPI (rpg_trainer_set_distributed). Borrowed, static. */
RPG_API const char* rpg_build_features(void);

/* ---- Status codes and messages ---------------------------------------------------------- */

typedef int32_t rpg_status;
#define RPG_STATUS_OK 0
#define RPG_STATUS_INVALID_ARGUMENT (-1) /* bad pointer, size, value, or call order */
#define RPG_STATUS_NOT_FOUND (-2)        /* a file or folder cannot be opened, created or written:
                                          missing, no permission, read-only or full file system
                                          (the message says which) */
#define RPG_STATUS_PARSE_ERROR (-3)      /* a cfg or .data text is invalid (message: file:line) */
#define RPG_STATUS_FORMAT_ERROR (-4)     /* a weights, checkpoint or export file is corrupt */
#define RPG_STATUS_OUT_OF_MEMORY (-5)
#define RPG_STATUS_DEVICE_ERROR (-6)     /* the GPU failed */
#define RPG_STATUS_UNSUPPORTED (-7)      /* not available in this build */
#define RPG_STATUS_INTERNAL (-8)         /* a bug in rpgnet: please report the message */
#define RPG_STATUS_COMM_ERROR (-9)       /* distributed training: another process of the run
                                          failed, died, or did not answer within the timeout
                                          */

/* A short English name for a status ("OK", "invalid argument", ...; "unknown status" for other
 * values). Borrowed, static. Any thread. */
RPG_API const char* rpg_status_string(rpg_status status);
/* The message of the last failed rpg_* call on this thread ("" if none). Borrowed: valid until
 * the next rpg_* call on this thread. Never NULL. */
RPG_API const char* rpg_last_error(void);

/* ---- Logging ---------------------------------------------------------------------------- */

#define RPG_LOG_DEBUG 0   /* every failed call, with its message */
#define RPG_LOG_INFO 1    /* training progress, loaded files */
#define RPG_LOG_WARNING 2 /* suspicious but harmless use (a handle of the wrong kind freed) */
#define RPG_LOG_ERROR 3

/* Receives one message (borrowed for the duration of the call) at a level >= the minimum.
 * May be called from any thread that calls rpg_*; must not call rpg_set_log_callback. */
typedef void (*rpg_log_fn)(int32_t level, const char* message, void* user_data);
/* Process-wide. fn NULL restores the default (stderr). min_level: RPG_LOG_DEBUG..RPG_LOG_ERROR,
 * or RPG_LOG_ERROR + 1 to silence everything. Any thread. */
RPG_API rpg_status rpg_set_log_callback(rpg_log_fn fn, void* user_data, int32_t min_level);

/* ---- Handles ---------------------------------------------------------------------------- */

typedef struct rpg_ring rpg_ring;                     /* K shared trainable floats */
typedef struct rpg_generator rpg_generator;           /* a ring bound to one weight tensor */
typedef struct rpg_network rpg_network;               /* layers and rings from a cfg */
typedef struct rpg_export_options rpg_export_options; /* prune / quantize settings */
typedef struct rpg_trainer rpg_trainer;               /* the training loop on a .data file */

/* ---- Rings (RPG.md) ----------------------------------------------------------------------
 * A standalone ring, usable without a network: bind generators to weight tensors of your own
 * framework, generate their weights from the ring, gather the ring gradient from theirs, and
 * step the ring. Weight i of a generator at ring position offset is
 *     w[i] = c * s(p) * r[pi(p) mod K],   p = offset + i,
 * with pi and s the bit-exact permutation and signs of RPG.md keyed by the ring's seed over
 * N = the end of the furthest generator bound to the ring. Bind every generator before you
 * generate: binding another one that extends N changes the mapping of all of them (as adding a
 * layer to a ring in a cfg does). Threading: reading (generate, accumulate, get_values) may run
 * on several threads at once; create/free of generators, set_values, init_he and sgd_step write
 * the ring and need exclusive use. */

/* A ring of size K (1 <= K < 2^31 - 1) seeded with seed. Its values start as K standard normal
 * draws z_j from the seed (the stream network rings use); see rpg_ring_init_he. *out: caller-
 * owned, free with rpg_ring_free (generators keep the ring's data alive until they are freed). */
RPG_API rpg_status rpg_ring_create(int64_t size, uint64_t seed, rpg_ring** out);
RPG_API void rpg_ring_free(rpg_ring* ring);
/* K. */
RPG_API rpg_status rpg_ring_size(const rpg_ring* ring, int64_t* out);
/* N: the end of the furthest bound generator (0 when none is bound). */
RPG_API rpg_status rpg_ring_positions(const rpg_ring* ring, int64_t* out);
/* Copies the K values out (len must be K). */
RPG_API rpg_status rpg_ring_get_values(const rpg_ring* ring, float* values, int64_t len);
/* Overwrites the K values (len must be K); the momentum of sgd_step is kept. */
RPG_API rpg_status rpg_ring_set_values(rpg_ring* ring, const float* values, int64_t len);
/* He initialisation as a network ring gets it: r_j = sqrt(2 / F) z_j, with F the largest fan-out
 * of the generators bound so far (1 when none). Resets the momentum. A ring and generators bound
 * as a cfg binds its layers (same seed, K, counts, fan-outs, order) reproduce the network's
 * generated weights exactly. */
RPG_API rpg_status rpg_ring_init_he(rpg_ring* ring);
/* One SGD step with momentum and weight decay on the ring, with grad (len == K) its gradient:
 *     v = momentum * v + grad + decay * r;   r -= learning_rate * v
 * (Darknet's form; v starts at 0). learning_rate >= 0, 0 <= momentum < 1, decay >= 0. */
RPG_API rpg_status rpg_ring_sgd_step(rpg_ring* ring, const float* grad, int64_t len,
                                     float learning_rate, float momentum, float decay);

/* ---- Generators ---------------------------------------------------------------------------- */

/* Binds ring positions [offset, offset + count) to a weight tensor of count elements whose
 * fan-out (filters * size * size for a convolution, outputs for a dense layer) is fan_out.
 * offset RPG_GENERATOR_APPEND places it after the furthest generator bound so far; ranges of
 * one ring must not overlap. count, fan_out >= 1; offset + count <= 2^62.
 * Scale: c = sqrt(F / fan_out) with F the largest fan-out over the ring's bound generators at
 * the time of each call (RPG.md), unless fixed with rpg_generator_set_scale.
 * *out: caller-owned, free with rpg_generator_free (which unbinds it from the ring). */
#define RPG_GENERATOR_APPEND (-1)
RPG_API rpg_status rpg_generator_create(rpg_ring* ring, int64_t count, int64_t fan_out,
                                        int64_t offset, rpg_generator** out);
RPG_API void rpg_generator_free(rpg_generator* generator);
RPG_API rpg_status rpg_generator_count(const rpg_generator* generator, int64_t* out);
RPG_API rpg_status rpg_generator_offset(const rpg_generator* generator, int64_t* out);
/* Fixes c (> 0, finite); 0 returns to the automatic sqrt(F / fan_out). */
RPG_API rpg_status rpg_generator_set_scale(rpg_generator* generator, float scale);
/* The c in use now. */
RPG_API rpg_status rpg_generator_scale(const rpg_generator* generator, float* out);
/* weights[i] = c * s(p) * r[pi(p) mod K] for i < count (len must be count). */
RPG_API rpg_status rpg_generator_generate(rpg_generator* generator, float* weights, int64_t len);
/* ring_grad[pi(p) mod K] += c * s(p) * weight_grad[i] for i < count: the chain rule through
 * generate (weight_len == count, ring_len == K). Accumulates: zero ring_grad before the first
 * generator of a step. Deterministic (sequential in i). */
RPG_API rpg_status rpg_generator_accumulate_gradient(rpg_generator* generator,
                                                     const float* weight_grad, int64_t weight_len,
                                                     float* ring_grad, int64_t ring_len);

/* ---- Networks ------------------------------------------------------------------------------
 * A network is the layers and rings of a Darknet-style cfg (CFG.md), on the CPU by default with
 * one thread. Batch: images per pass (the cfg's batch / subdivisions at creation). Sizes below
 * are per image; buffers hold batch images, planar (C x H x W), one after another.
 * Threading: one thread at a time per network; distinct networks concurrently. Borrowed
 * strings of a network live until it is freed or rpg_network_bind_ring rebuilds it. */

/* Builds from a cfg file. overrides (nullable): lines "SECTION.KEY=VALUE" separated by '\n',
 * as the command's --set (SECTION: net, a layer index from 0, or ring.NAME). Parameters are
 * initialised from the cfg's seeds. *out: caller-owned, free with rpg_network_free.
 * Returns NOT_FOUND (no such file, or not a regular file), PARSE_ERROR (invalid cfg, or a
 * shape beyond the limits of the README's "Limits", message file:line), OUT_OF_MEMORY (the
 * parameters or the cfg's batch would not fit in the memory available; the message names the
 * layer), INVALID_ARGUMENT (bad override). */
RPG_API rpg_status rpg_network_create(const char* cfg_path, const char* overrides,
                                      rpg_network** out);
/* The same from cfg text (messages name the file "<text>"). */
RPG_API rpg_status rpg_network_create_from_text(const char* cfg_text, const char* overrides,
                                                rpg_network** out);
RPG_API void rpg_network_free(rpg_network* net);

/* Threads of the CPU backend (>= 1; default 1). Results do not depend on it. */
RPG_API rpg_status rpg_network_set_threads(rpg_network* net, int32_t threads);

#define RPG_DEVICE_CPU 0
#define RPG_DEVICE_CUDA 1
/* Devices of a kind this build can use (CPU: 1; CUDA: 0 in a CPU build). Any thread. */
RPG_API rpg_status rpg_device_count(int32_t kind, int32_t* out);
/* Moves the network whole (parameters, momentum, statistics, counters) to a device (index from
 * 0); the same device is a no-op. Returns UNSUPPORTED for a kind this build lacks (CUDA in a CPU
 * build), DEVICE_ERROR when the device does not exist or fails (the network stays where it was).
 * Networks start on the CPU; rebuilds (bind_ring) keep the device. */
RPG_API rpg_status rpg_network_set_device(rpg_network* net, int32_t kind, int32_t index);
RPG_API rpg_status rpg_network_device(const rpg_network* net, int32_t* kind, int32_t* index);
/* The CPU's engine: 0 (the default) oneDNN's kernels, whose results are the same bits run to run
 * for one thread count but may differ in the last bits across thread counts; 1 the reference
 * engine (im2col + OpenBLAS), slower, whose results are the same bits for every thread count (the
 * command's --deterministic). Moves the network whole, as rpg_network_set_device; no effect on a
 * CUDA device's results. Refused while a trainer runs. Added in ABI 0 (issue 16). */
RPG_API rpg_status rpg_network_set_deterministic(rpg_network* net, int32_t deterministic);
RPG_API rpg_status rpg_network_deterministic(const rpg_network* net, int32_t* out);

/* Binds layer (0-based, as rpgnet info numbers them; a convolutional or connected layer) to the
 * ring named ring_name, as the cfg key ring= does. When the cfg has no such ring, one is declared
 * with K = dof x its bound weights (0 < dof <= 1) and the [net] seed; when it has, dof must be 0.
 * Rebuilds the network: every parameter is re-initialised from the seeds, the update count and
 * gradients restart at 0, batch and threads are kept. Call it before loading weights or
 * training. Returns PARSE_ERROR when the result is not a valid network (then nothing changes). */
RPG_API rpg_status rpg_network_bind_ring(rpg_network* net, int32_t layer, const char* ring_name,
                                         double dof);

/* Images per pass (1 .. 2^20). Reallocates activations; forgets the last forward pass. The
 * memory the new batch needs (activations, deltas, workspace) is estimated first and compared
 * with the memory available: OUT_OF_MEMORY, naming the biggest layer, when it does not fit. The
 * new buffers are allocated before the old ones are released, so any failure (OUT_OF_MEMORY,
 * DEVICE_ERROR) changes nothing: the network keeps its batch and works as before. */
RPG_API rpg_status rpg_network_set_batch(rpg_network* net, int32_t batch);
RPG_API rpg_status rpg_network_batch(const rpg_network* net, int32_t* out);
/* Floats per image at the input and at the output of the last layer. */
RPG_API rpg_status rpg_network_input_size(const rpg_network* net, int64_t* out);
RPG_API rpg_status rpg_network_output_size(const rpg_network* net, int64_t* out);
RPG_API rpg_status rpg_network_input_shape(const rpg_network* net, int32_t* channels,
                                           int32_t* height, int32_t* width);

/* Forward pass. input: batch x input_size floats (input_len). train: 1 for training mode (batch
 * statistics, dropout; needed before a backward pass), 0 for inference. output (nullable, then
 * output_len 0): receives batch x output_size floats. */
RPG_API rpg_status rpg_network_forward(rpg_network* net, const float* input, int64_t input_len,
                                       int32_t train, float* output, int64_t output_len);
/* Forward pass with a target (batch x output_size floats: one-hot rows for [softmax], values for
 * [cost]) for a network ending in a loss layer. *loss (nullable): the loss summed over the batch
 * divided by batch. A following rpg_network_backward starts from this target.
 * Returns INVALID_ARGUMENT when the last layer is no loss layer. */
RPG_API rpg_status rpg_network_forward_target(rpg_network* net, const float* input,
                                              int64_t input_len, const float* target,
                                              int64_t target_len, int32_t train, double* loss);
/* Backward pass from the target of the last rpg_network_forward_target: accumulates every
 * parameter's gradient (rings included, at the next update). input_grad (nullable, then
 * input_grad_len 0): receives d loss / d input, batch x input_size floats.
 * Returns INVALID_ARGUMENT when the last forward pass had no target (or set_batch came since). */
RPG_API rpg_status rpg_network_backward(rpg_network* net, float* input_grad,
                                        int64_t input_grad_len);
/* Backward pass from d loss / d output (batch x output_size floats) of the last
 * rpg_network_forward, for a loss computed by the caller. input_grad as above.
 * Returns INVALID_ARGUMENT when there was no forward pass since creation or set_batch. */
RPG_API rpg_status rpg_network_backward_output_grad(rpg_network* net, const float* output_grad,
                                                    int64_t output_grad_len, float* input_grad,
                                                    int64_t input_grad_len);
/* SGD step on the gradients accumulated since the last update (Darknet: momentum, decay on
 * weights, rate divided by the cfg's batch, rings then regenerate their layers' weights). The
 * rate comes from the cfg's policy at the network's update count, which then increments. */
RPG_API rpg_status rpg_network_update(rpg_network* net);
/* The same with an explicit learning rate (>= 0) instead of the policy's. */
RPG_API rpg_status rpg_network_update_with_rate(rpg_network* net, float learning_rate);
/* The rate the next rpg_network_update will use. */
RPG_API rpg_status rpg_network_learning_rate(const rpg_network* net, float* out);
/* Updates done (restored by checkpoints; Darknet weights set it to seen / batch). */
RPG_API rpg_status rpg_network_update_count(const rpg_network* net, int64_t* out);
/* Length of the run for policies that need it (poly, cosine): default the cfg's max_batches;
 * a trainer sets it from epochs and its data. max_updates >= 1. */
RPG_API rpg_status rpg_network_set_max_updates(rpg_network* net, int64_t max_updates);
/* One training step on one batch: forward with target, backward, update (policy rate).
 * *loss (nullable) as rpg_network_forward_target. A loss that is NaN or infinite is
 * INVALID_ARGUMENT ("training diverged"): *loss is set, but no backward pass or update is run
 * (parameters, momentum and the update count stay as they were). With [net] subdivisions > 1 (several passes
 * per update), call forward_target and backward per pass, then rpg_network_update. */
RPG_API rpg_status rpg_network_train_step(rpg_network* net, const float* input, int64_t input_len,
                                          const float* target, int64_t target_len, double* loss);
/* Inference on one batch: output gets batch x output_size floats (required). */
RPG_API rpg_status rpg_network_predict(rpg_network* net, const float* input, int64_t input_len,
                                       float* output, int64_t output_len);

/* Checkpoints: every parameter, momentum, batch-norm statistic and counter, for an exact resume.
 * save writes atomically (NOT_FOUND: the file cannot be written: missing folder, read-only or
 * full file system; INVALID_ARGUMENT when a tensor holds a NaN or an infinity, naming the
 * layer: nothing is written). load validates the whole file first and leaves the network
 * unchanged when it fails: NOT_FOUND, FORMAT_ERROR (corrupt, written for another architecture,
 * a NaN or infinity, a counter beyond 2^50). */
RPG_API rpg_status rpg_network_save_checkpoint(rpg_network* net, const char* path);
RPG_API rpg_status rpg_network_load_checkpoint(rpg_network* net, const char* path);
/* Darknet .weights, byte-compatible with Darknet. save writes generated weights expanded: the
 * file belongs to the same cfg without rings (see rpg_network_export_darknet); it refuses NaN
 * and infinite values as checkpoints do. load sets the update count to seen / batch;
 * NOT_FOUND, FORMAT_ERROR (bad header, a length this cfg does not need, a NaN or infinity),
 * INVALID_ARGUMENT for a network with rings (a .weights file holds no ring: load a checkpoint
 * or an export). */
RPG_API rpg_status rpg_network_save_darknet_weights(rpg_network* net, const char* path);
RPG_API rpg_status rpg_network_load_darknet_weights(rpg_network* net, const char* path);

/* ---- Summary (rpgnet info) ---------------------------------------------------------------- */

RPG_API rpg_status rpg_network_layer_count(const rpg_network* net, int32_t* out);
/* Layer type ("convolutional", ...): borrowed (network lifetime). layer: 0..count-1. */
RPG_API rpg_status rpg_network_layer_type(const rpg_network* net, int32_t layer, const char** out);
RPG_API rpg_status rpg_network_layer_output_shape(const rpg_network* net, int32_t layer,
                                                  int32_t* channels, int32_t* height,
                                                  int32_t* width);
/* Parameters of the layer, generated weights counted as free (as in the full count). */
RPG_API rpg_status rpg_network_layer_param_count(const rpg_network* net, int32_t layer,
                                                 int64_t* out);
/* Name of the ring generating the layer's weights, "" when they are free. Borrowed. */
RPG_API rpg_status rpg_network_layer_ring(const rpg_network* net, int32_t layer, const char** out);
/* The layer's main weight tensor (what a ring generates): its element count (0 when the layer
 * has none), and a copy of it (len must be that count). */
RPG_API rpg_status rpg_network_layer_weight_count(const rpg_network* net, int32_t layer,
                                                  int64_t* out);
RPG_API rpg_status rpg_network_layer_get_weights(const rpg_network* net, int32_t layer,
                                                 float* weights, int64_t len);
/* Full parameters P (every weight free), ring DoF (sum of K), total DoF (ring DoF plus every
 * parameter no ring generates). */
RPG_API rpg_status rpg_network_param_count(const rpg_network* net, int64_t* out);
RPG_API rpg_status rpg_network_ring_dof(const rpg_network* net, int64_t* out);
RPG_API rpg_status rpg_network_total_dof(const rpg_network* net, int64_t* out);
/* The table rpgnet info prints. Borrowed: valid until the next call with this network. */
RPG_API rpg_status rpg_network_summary(rpg_network* net, const char** out);

/* The network's rings, 0..count-1 in cfg order: name (borrowed), K, N, seed, values. Setting
 * values regenerates the bound layers' weights (len must be K). */
RPG_API rpg_status rpg_network_ring_count(const rpg_network* net, int32_t* out);
RPG_API rpg_status rpg_network_ring_name(const rpg_network* net, int32_t ring, const char** out);
RPG_API rpg_status rpg_network_ring_size(const rpg_network* net, int32_t ring, int64_t* out);
RPG_API rpg_status rpg_network_ring_positions(const rpg_network* net, int32_t ring, int64_t* out);
RPG_API rpg_status rpg_network_ring_seed(const rpg_network* net, int32_t ring, uint64_t* out);
RPG_API rpg_status rpg_network_ring_get_values(const rpg_network* net, int32_t ring,
                                               float* values, int64_t len);
RPG_API rpg_status rpg_network_ring_set_values(rpg_network* net, int32_t ring,
                                               const float* values, int64_t len);

/* ---- Export (prune / quantize; RPG.md) ---------------------------------------------------
 * A self-contained file: cfg text, seeds, rings (optionally pruned and quantized) and unshared
 * parameters (src/io/export.h), about K x bits / 8 bytes plus the unshared part. Options:
 * caller-owned, free with rpg_export_options_free; a NULL options pointer means the defaults;
 * setters need exclusive use, exports may share one options object across threads.
 * Exporting never changes the network (pruning and quantization apply to a copy). */

/* Defaults: 32 bits (ring values as float32, no quantization), prune fraction 0, unshared
 * parameters as float32. */
RPG_API rpg_status rpg_export_options_create(rpg_export_options** out);
RPG_API void rpg_export_options_free(rpg_export_options* options);
/* Ring value bits: 2..16 (symmetric uniform code, one scale per block) or 32 (float32). */
RPG_API rpg_status rpg_export_options_set_bits(rpg_export_options* options, int32_t bits);
/* Fraction of ring entries, smallest magnitudes first, set to zero and stored sparsely: [0, 1). */
RPG_API rpg_status rpg_export_options_set_prune_fraction(rpg_export_options* options,
                                                         double fraction);
/* Bits of the unshared parameters: 16 (float16) or 32. */
RPG_API rpg_status rpg_export_options_set_unshared_precision(rpg_export_options* options,
                                                             int32_t bits);

/* Writes the export file atomically. NOT_FOUND (cannot be written); INVALID_ARGUMENT for
 * non-finite parameters, or unshared values beyond float16's range at 16 bits. */
RPG_API rpg_status rpg_network_export(rpg_network* net, const rpg_export_options* options,
                                      const char* path);
/* The export file's bytes into a caller buffer. buffer NULL and capacity 0: only *size is set
 * (the bytes needed). Otherwise the bytes are written when capacity >= that size (*size: bytes
 * written), else INVALID_ARGUMENT and nothing is written. Other statuses as rpg_network_export. */
RPG_API rpg_status rpg_network_export_to_buffer(rpg_network* net,
                                                const rpg_export_options* options, void* buffer,
                                                size_t capacity, size_t* size);
/* A network from an export file, built from its embedded cfg, its weights regenerated from its
 * rings; batch as in that cfg. The whole file is validated first. *out as rpg_network_create.
 * NOT_FOUND, FORMAT_ERROR (corrupt or truncated file, or a file of another kind). */
RPG_API rpg_status rpg_network_create_from_export(const char* path, rpg_network** out);
/* The same from the bytes of an export file (size bytes; the library copies what it needs). */
RPG_API rpg_status rpg_network_create_from_export_buffer(const void* data, size_t size,
                                                         rpg_network** out);
/* Loads an export file's values into this network, which must have the same architecture ([net]
 * training keys such as batch may differ). FORMAT_ERROR names the first difference; a rejected
 * file leaves the network unchanged. NOT_FOUND. */
RPG_API rpg_status rpg_network_load_export(rpg_network* net, const char* path);
/* The expanded model as the export with these options gives it back (pruned, quantized), as a
 * Darknet .weights file for the architecture without rings, and, when cfg_path is not NULL, that
 * ring-free cfg: what a stock Darknet-style runtime needs. Statuses as rpg_network_export. */
RPG_API rpg_status rpg_network_export_darknet(rpg_network* net, const rpg_export_options* options,
                                              const char* weights_path, const char* cfg_path);

/* ---- int8 exports (issue 17; added in ABI 0) --------------------------------------------
 * An export made with int8 (8-bit rings with one scale each and activation ranges calibrated on
 * training images; src/io/export.h, src/core/int8_net.h) runs its convolutional and connected
 * layers on oneDNN's int8 kernels in rpg_network_predict, when it is loaded on the CPU with the
 * oneDNN engine (not deterministic, not CUDA) and not with RPG_EXPORT_LOAD_FLOAT32. An update,
 * a training-mode rpg_network_forward (batch norm's statistics move), loading other values,
 * rpg_network_ring_set_values, rpg_network_set_device and rpg_network_set_deterministic return
 * the network to float32. rpg_network_forward always runs float32. */

/* Makes exports with int8: the rings at 8 bits with one scale each (the bits setting is then
 * ignored), and the activation ranges calibrated on `batches` (>= 1) batches of the 'train' list
 * of the .data file data_path when the network is exported. data_path NULL: int8 off again. The
 * path is copied. INVALID_ARGUMENT for batches < 1; the export returns NOT_FOUND, FORMAT_ERROR or
 * INVALID_ARGUMENT for an unreadable or unsuitable .data file. */
RPG_API rpg_status rpg_export_options_set_int8(rpg_export_options* options, const char* data_path,
                                               int32_t batches);
/* Flags of the _ex loaders. */
#define RPG_EXPORT_LOAD_FLOAT32 1 /* run an int8 export in float32 (the command's --fp32) */
/* rpg_network_create_from_export and _buffer with flags (0 or RPG_EXPORT_LOAD_FLOAT32); other
 * bits: INVALID_ARGUMENT. Without flags (the plain functions) an int8 export runs int8. */
RPG_API rpg_status rpg_network_create_from_export_ex(const char* path, uint32_t flags,
                                                     rpg_network** out);
RPG_API rpg_status rpg_network_create_from_export_buffer_ex(const void* data, size_t size,
                                                            uint32_t flags, rpg_network** out);
/* How many layers rpg_network_predict runs in int8 (0: all float32). */
RPG_API rpg_status rpg_network_int8_layers(const rpg_network* net, int32_t* out);

/* ---- Training from a .data file (the rpgnet classifier train loop) -------------------------
 * A trainer borrows its network: the network must outlive it and must not be used by another
 * thread while rpg_trainer_run or rpg_trainer_evaluate runs. Checkpoints go to
 * <backup>/<name>.ckpt every checkpoint_every updates and when the run stops; a finished run also
 * writes <backup>/<name>.weights. */

/* Called every report_every updates and at the last one, on the thread running
 * rpg_trainer_run: update count, length of the run, epochs done, loss per image of this update,
 * its moving average, learning rate, images per second. Return nonzero to stop: the run ends
 * after the next update, with a checkpoint. While the run lasts, the calls that would reallocate
 * or replace the network under it are refused with INVALID_ARGUMENT and a message naming the
 * running trainer: rpg_network_set_batch, _bind_ring, _set_device, _load_checkpoint,
 * _load_darknet_weights, _load_export, rpg_trainer_evaluate and a second rpg_trainer_run on the
 * network; rpg_network_free of the network and rpg_trainer_free of the trainer do nothing and log
 * an error. Call them after rpg_trainer_run returns. */
typedef int32_t (*rpg_progress_fn)(int64_t update, int64_t max_updates, double epoch, double loss,
                                   double avg_loss, float learning_rate, double images_per_second,
                                   void* user_data);

/* Reads data_path (Darknet .data: classes, train, valid, labels, backup) and opens its train
 * set. Backup folder: the file's backup key, else "backup"; name: the cfg's base name ("model"
 * for cfg text). Returns NOT_FOUND, PARSE_ERROR, FORMAT_ERROR (corrupt data files),
 * INVALID_ARGUMENT (classes differ from the network's outputs; no train set; the run has no
 * length: neither max_batches nor epochs). *out: free with rpg_trainer_free. */
RPG_API rpg_status rpg_trainer_create(rpg_network* net, const char* data_path, rpg_trainer** out);
RPG_API void rpg_trainer_free(rpg_trainer* trainer);
RPG_API rpg_status rpg_trainer_set_backup_dir(rpg_trainer* trainer, const char* dir);
RPG_API rpg_status rpg_trainer_set_name(rpg_trainer* trainer, const char* name);
/* Updates between checkpoints (>= 0; 0: only when the run stops; default 1000). */
RPG_API rpg_status rpg_trainer_set_checkpoint_every(rpg_trainer* trainer, int64_t updates);
/* Updates between progress callbacks and INFO log lines (>= 1; default 10). */
RPG_API rpg_status rpg_trainer_set_report_every(rpg_trainer* trainer, int64_t updates);
/* Stop (with a checkpoint) once the update count reaches update (>= 0; 0: run to the end). */
RPG_API rpg_status rpg_trainer_set_stop_at(rpg_trainer* trainer, int64_t update);
/* fn NULL: no callback. user_data is passed back as is. */
RPG_API rpg_status rpg_trainer_set_progress_callback(rpg_trainer* trainer, rpg_progress_fn fn,
                                                     void* user_data);
/* Updates of the whole run (max_batches, or epochs x train images / batch). */
RPG_API rpg_status rpg_trainer_max_updates(const rpg_trainer* trainer, int64_t* out);
/* Trains from the network's update count (0, or where a loaded checkpoint stopped) until the end
 * of the run, the stop_at update, or a stop request. *finished (nullable): 1 when the schedule
 * ran to its end. Before the first update the backup folder is checked (NOT_FOUND when it
 * cannot be created or written: not a folder, read-only, full). Returns INVALID_ARGUMENT when
 * training diverges ("training diverged at update N": a NaN or infinite loss stops the run
 * before that update; a NaN in a tensor stops it before a checkpoint, which is never written
 * with one, so the last good checkpoint stays) and when the policy's learning rate is negative
 * or infinite. An image that cannot be decoded is skipped (replaced by the next one, reported
 * at warning level); beyond 100 distinct bad images the run writes a checkpoint and returns
 * FORMAT_ERROR naming the first. However it ends, rpg_network_update_count then counts the
 * updates the weights have had. */
RPG_API rpg_status rpg_trainer_run(rpg_trainer* trainer, int32_t* finished);
/* Asks a running rpg_trainer_run to stop after its current update. Any thread; also before a
 * run (which then stops after one update). */
RPG_API rpg_status rpg_trainer_stop(rpg_trainer* trainer);
/* Where the current or last run stands: update count and average loss. Any thread, also while
 * rpg_trainer_run runs. */
RPG_API rpg_status rpg_trainer_progress(const rpg_trainer* trainer, int64_t* update,
                                        double* avg_loss);
/* Inference on the .data file's valid set at the network's batch: top-1 and top-k accuracy in
 * [0, 1] and mean cross-entropy (each output nullable). k >= 1. Returns INVALID_ARGUMENT when
 * the .data file has no valid set. */
RPG_API rpg_status rpg_trainer_evaluate(rpg_trainer* trainer, int32_t k, double* top1,
                                        double* topk, double* loss);

/* ---- Data-parallel training over MPI (README "Scaling out") -------------------------
 * Every process of an MPI job (mpirun -np N) creates the same network and trainer, calls
 * rpg_trainer_set_distributed on the same communicator, then rpg_trainer_run: together they
 * train one model. Each takes its share of every batch (the cfg's batch is the global batch;
 * the first batch % N ranks take one image more), the gradients of the degrees of freedom are
 * summed across the ranks in rank order before every update (the same bits on every rank and
 * in every run), batch-norm running statistics are averaged across the ranks at every update,
 * rank 0 alone writes checkpoints and weights, and a stop request on any rank (rpg_trainer_stop,
 * a progress callback returning nonzero) stops every rank at the same update. The progress
 * callback runs on every rank with the same values (the loss of the whole batch; images per
 * second of all ranks). An error on one rank ends the run on every rank: that rank returns its
 * own status, the others RPG_STATUS_COMM_ERROR naming it. RPG_STATUS_COMM_ERROR from
 * rpg_trainer_run after a failed or timed-out exchange means the other ranks may be anywhere:
 * end the job (MPI_Abort, or exit with a nonzero status, which makes mpirun end it). */

/* The communicator argument: MPI_COMM_WORLD, or an MPI communicator as its Fortran handle
 * (MPI_Comm_c2f(comm) in C; mpi4py: comm.py2f()), an integer, so that no MPI type crosses this
 * header. */
#define RPG_COMM_WORLD (-1)
/* Makes the trainer one rank of a data-parallel run on a duplicate of `communicator`: a
 * collective call (every rank of it calls it, in the same order as its other MPI collectives).
 * Initialises MPI (MPI_Init_thread, MPI_THREAD_SERIALIZED) when the program has not; such a
 * program calls rpg_distributed_finalize before it exits. timeout_seconds (> 0): the longest
 * wait for the other ranks, after which rpg_trainer_run returns RPG_STATUS_COMM_ERROR instead
 * of hanging. *rank and *size (nullable): this process's rank and the number of ranks.
 * Returns UNSUPPORTED in a build without MPI (rpg_build_features has no "mpi"), COMM_ERROR when
 * MPI fails, INVALID_ARGUMENT for a communicator that is neither RPG_COMM_WORLD nor a valid
 * handle, or while the trainer's run is running. */
RPG_API rpg_status rpg_trainer_set_distributed(rpg_trainer* trainer, int64_t communicator,
                                               double timeout_seconds, int32_t* rank,
                                               int32_t* size);
/* MPI_Finalize, when MPI is initialised and not yet finalised: for a program that let
 * rpg_trainer_set_distributed initialise MPI, once, after its last rpg_trainer_run and before
 * it exits (mpirun reports a process that exits without it as failed). Free the distributed
 * trainers first. Returns OK, also in a build without MPI (nothing to do). */
RPG_API rpg_status rpg_distributed_finalize(void);

#ifdef __cplusplus
}
#endif

#endif /* RPGNET_H */
