// Winograd F(2x2, 3x3) convolution (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016) for the CPU backend: a 3x3 stride-1 convolution computed on 2x2 output tiles
// as Y = A^T [ (G g G^T) .* (B^T d B) ] A, where d is the 4x4 input tile. The elementwise
// products over all channels become 16 GEMMs, U_xi [filters x channels] x V_xi [channels x tiles],
// with 16 multiply-adds per 2x2 outputs per channel pair instead of 36: 2.25x fewer than im2col
// + GEMM. Results differ from the im2col path by float rounding only (the transforms add and
// subtract at most four terms, so the error stays within a few ulps of the inputs' magnitude).
//
// The backward data pass of the same convolution is a 3x3 stride-1 convolution of the delta
// with the filters rotated by 180 degrees and channels and filters swapped, padded by 2 - pad:
// rotate_filters gives those filters, and forward_chunk computes it. The weight gradient has its
// own transform (weight_grad_chunk, below). All three passes cost 2.25x fewer multiply-adds.
#pragma once
#include <cstdint>

#include "backend/backend.h"

namespace rpg::winograd {

// Whether the Winograd path serves this convolution: 3x3, stride 1, pad at most 2, one group,
// and enough channels and filters for the GEMMs to pay (at least 8 of each).
bool applies(const ConvGeometry& g, int groups, int filters);

// U[16][filters][channels] from weights[filters][channels][3][3].
void transform_filters(const float* weights, int filters, int channels, float* u);

// w_rot[c][f][2 - i][2 - j] = w[f][c][i][j]: the filters of the backward data pass.
void rotate_filters(const float* weights, int filters, int channels, float* rotated);

// Images per GEMM: enough tiles to fill the GEMMs (depends on the geometry only, so results do
// not depend on the thread count).
int images_per_chunk(const ConvGeometry& g);

// Floats of scratch forward_chunk needs for `images` images.
int64_t workspace_floats(const ConvGeometry& g, int images, int filters);

// Rows of 2x2 output tiles in one image: a chunk may cover a range of them.
int tile_rows(const ConvGeometry& g);

// out[b, f] (+)= sum_c w[f, c] (*) in[b, c] on the rows of tiles [ty0, ty1) of `images` images
// (NCHW, in and out pointing at the first image), from the transformed filters u; overwrites
// out, or adds to it when `accumulate`. Single-threaded: callers run chunks in parallel. Each
// output is computed the same way whichever chunk computes it.
void forward_chunk(const ConvGeometry& g, int images, int ty0, int ty1, int filters, const float* in,
                   const float* u, float* out, float* work, bool accumulate);

// The weight gradient of the same convolution: with dM = A dY A^T on each 2x2 tile of the
// delta, dU[xi] = sum over tiles of dM[xi] V[xi]^T (one GEMM per xi, over all tiles of the chunk)
// and d loss / d g = G^T dU G. weight_grad_chunk adds one chunk's dU[16][filters][channels] into
// du; weight_grad_finish adds G^T du G to weight_grads[filters][channels][3][3].
int64_t weight_workspace_floats(const ConvGeometry& g, int images, int filters);
void weight_grad_chunk(const ConvGeometry& g, int images, int filters, const float* in, const float* delta,
                       float* du, float* work);
void weight_grad_finish(const float* du, int filters, int channels, float* weight_grads);

}  // namespace rpg::winograd
