// Convolutions on oneDNN's CPU primitives (the CPU backend's default engine).
//
// For each shape (geometry, batch, groups, filters, thread count) the primitives are created
// once, by prepare() (Network::set_batch calls it through Backend::conv_prepare), and kept: a
// training step creates and allocates nothing. oneDNN chooses the layouts its kernels want
// (blocked, e.g. nChw8c on AVX2); activations cross in and out of them by reorders into one
// arena that every shape shares, because the backend's buffers are planar NCHW. Gradients are
// accumulated (+=) into the caller's buffers by reorders with a sum post-op, as Backend's
// contract says.
//
// Results are identical run to run for one thread count; across thread counts they differ in
// the last bits (oneDNN splits reductions by thread). The reference engine keeps that guarantee.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace rpg {

// Backend::gemm on oneDNN's sgemm (row-major; C = alpha op(A) op(B) + beta C) with `threads`
// OpenMP threads: the oneDNN engine's matrix products (the connected layer). Throws Error if
// oneDNN fails. Results are reproducible for one thread count only.
void onednn_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc, int threads);

class OneDnnConvolutions {
 public:
  // Memory (the arena) is allocated through `memory`, so that its failures are the backend's.
  explicit OneDnnConvolutions(Backend& memory);
  ~OneDnnConvolutions();
  OneDnnConvolutions(const OneDnnConvolutions&) = delete;
  OneDnnConvolutions& operator=(const OneDnnConvolutions&) = delete;

  // Creates the primitives of one shape and grows the arena to fit it. False when oneDNN has
  // no implementation for the shape (the caller then runs its own loops). Throws Error on
  // allocation failure; what was prepared before stays usable.
  // Both the training primitives and the inference one (for the activation act).
  bool prepare(const ConvGeometry& g, int batch, int groups, int filters, Act act, int threads);
  // The arena bytes one shape needs (creates its primitives and keeps them for prepare, without
  // growing the arena); 0 when oneDNN has no implementation for it.
  int64_t workspace_bytes(const ConvGeometry& g, int batch, int groups, int filters, Act act, int threads);

  // Backend::conv_forward and conv_backward. False (nothing done) when the shape has no
  // oneDNN implementation. A shape not prepared before is prepared here, once. in_layout and
  // out_layout: the layouts of in and in_delta, and of out and delta (Backend's codes).
  // kernel_weights: weights and weight_grads in weight_order's order.
  bool forward(const ConvGeometry& g, int batch, int groups, int filters, int threads,
               const float* in, const float* weights, float* out, int in_layout = 0, int out_layout = 0,
               bool kernel_weights = false);
  bool backward(const ConvGeometry& g, int batch, int groups, int filters, int threads,
                const float* in, const float* weights, const float* delta, float* weight_grads,
                float* in_delta, int in_layout = 0, int out_layout = 0, bool add_in_delta = true,
                bool kernel_weights = false);
  // Backend::conv_weight_order: the training forward kernel's weights layout as a permutation of
  // the planar order (empty: planar, padded, or not on oneDNN).
  std::vector<int64_t> weight_order(const ConvGeometry& g, int batch, int groups, int filters, int threads,
                                    int in_layout, int out_layout);
  // Backend::conv_training_layout: the layout the training forward kernel writes (1, 8, 16), 0
  // when it writes another, -1 when the shape is not on oneDNN.
  int training_layout(const ConvGeometry& g, int batch, int groups, int filters, int threads);
  // Backend::conv_prepare_training.
  void prepare_training(const ConvGeometry& g, int batch, int groups, int filters, int threads, int in_layout,
                        int out_layout);

  // Backend::conv_inference: the batch norm folded into a copy of the weights and a bias, the
  // activation run by the kernel where oneDNN has it (else by the backend afterwards). False
  // when the shape has no oneDNN implementation. Each layer's folded copy (known by `weights`)
  // is kept, in the kernel's layout, and reused while params_version (nonzero) stays the same:
  // its memory is allocated by the layer's first inference pass and kept until the backend goes.
  // in_layout, out_layout: the layouts of in and out (Backend::conv_inference_layout).
  bool inference(const ConvGeometry& g, int batch, int groups, int filters, int threads, const float* in,
                 const float* weights, const float* biases, const BnInference* bn, Act act, float* out,
                 uint64_t params_version, int in_layout, int out_layout, const Act* sum = nullptr);
  // Backend::conv_inference_sums: builds the inference primitive with the shortcut's sum (a sum
  // post-op, then sum_act's eltwise; the layer's own activation an eltwise before them) writing
  // the caller's out_layout; false where oneDNN has none, or only with another kernel than the
  // plain pass's, or on Winograd.
  bool prepare_inference_sum(const ConvGeometry& g, int batch, int groups, int filters, Act act, Act sum_act,
                             int threads, int in_layout, int out_layout);
  // Backend::conv_inference_layout: the layout the inference kernel writes (1 NHWC, 8 nChw8c,
  // 16 nChw16c), 0 when it writes another, -1 when the shape is not on oneDNN.
  int inference_layout(const ConvGeometry& g, int batch, int groups, int filters, Act act, int threads);
  // Backend::conv_prepare_inference.
  void prepare_inference(const ConvGeometry& g, int batch, int groups, int filters, Act act, int threads, int in_layout,
                         int out_layout);

  // Backend::maxpool_inference (Darknet's windows, from -padding / 2) and maxpool_prepare. False
  // (nothing done) where oneDNN's result could differ from Darknet's: a window that can fall
  // wholly into the padding (Darknet gives 0 there), or padding oneDNN does not take.
  // in and out in `layout` (Backend::conv_inference_layout's codes). maxpool_prepare: whether
  // oneDNN runs this geometry (in any layout).
  bool maxpool(const PoolGeometry& g, int threads, const float* in, float* out, int layout);
  bool maxpool_prepare(const PoolGeometry& g, int threads, int layout);

  // The implementations oneDNN chose for a shape (e.g. "jit:avx2"), for reports.
  std::string kernels(const ConvGeometry& g, int batch, int groups, int filters, int threads);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rpg
