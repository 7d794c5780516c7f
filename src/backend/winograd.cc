// Winograd F(2x2, 3x3) (see winograd.h). The transforms run along whole rows of tiles so that
// every inner loop is a contiguous, vectorisable pass over the tiles of one row:
//   input:  four zero-padded input rows -> B^T down the columns -> even/odd split -> B^T across;
//   output: A^T down and across on the 16 GEMM results of a row of tiles -> two output rows.
#include "backend/winograd.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace rpg::winograd {

namespace {

struct Tiles {
  int th, tw;       // tiles down and across one image (2x2 outputs each)
  int64_t per_image;
  int wp;           // padded row width: 2 tw + 2 columns cover every tile's 4 inputs
  int ty0, ty1;     // the rows of tiles a chunk covers in each of its images
  int64_t span() const { return int64_t(ty1 - ty0) * tw; }  // tiles per image in the chunk
};

Tiles tiles(const ConvGeometry& g) {
  Tiles t;
  t.th = (g.out_h + 1) / 2;
  t.tw = (g.out_w + 1) / 2;
  t.per_image = int64_t(t.th) * t.tw;
  t.wp = 2 * t.tw + 2;
  t.ty0 = 0;
  t.ty1 = t.th;
  return t;
}

}  // namespace

bool applies(const ConvGeometry& g, int groups, int filters) {
  return g.ksize == 3 && g.stride == 1 && g.pad <= 2 && groups == 1 && g.channels >= 8 && filters >= 8;
}

void transform_filters(const float* weights, int filters, int channels, float* u) {
  // One filter at a time into tmp[16][channels], then 16 contiguous copies: writing the 16
  // planes element by element would hit the same cache sets (planes are often 16 KiB apart).
  const int64_t plane = int64_t(filters) * channels;
  std::vector<float> tmp(16 * size_t(channels));
  for (int f = 0; f < filters; ++f) {
    for (int c = 0; c < channels; ++c) {
      const float* g = weights + (int64_t(f) * channels + c) * 9;
      float t[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
      }
      for (int r = 0; r < 4; ++r) {  // (G g) G^T
        tmp[size_t(r * 4 + 0) * channels + c] = t[r][0];
        tmp[size_t(r * 4 + 1) * channels + c] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
        tmp[size_t(r * 4 + 2) * channels + c] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
        tmp[size_t(r * 4 + 3) * channels + c] = t[r][2];
      }
    }
    for (int xi = 0; xi < 16; ++xi)
      std::memcpy(u + xi * plane + int64_t(f) * channels, tmp.data() + size_t(xi) * channels,
                  size_t(channels) * sizeof(float));
  }
}

void rotate_filters(const float* weights, int filters, int channels, float* rotated) {
  for (int f = 0; f < filters; ++f)
    for (int c = 0; c < channels; ++c)
      for (int i = 0; i < 9; ++i)
        rotated[(int64_t(c) * filters + f) * 9 + (8 - i)] = weights[(int64_t(f) * channels + c) * 9 + i];
}

int images_per_chunk(const ConvGeometry& g) {
  // About 256 tiles per GEMM: wide enough for the sgemm kernels, small enough that the
  // transformed input and the products of a chunk stay in a core's L2 cache.
  return int(std::max<int64_t>(1, 256 / tiles(g).per_image));
}

namespace {

// Per thread: 12 rows of wp floats (4 transformed input rows, or 8 half-transformed output
// rows and 4 output rows) and the even/odd columns of one row.
int64_t row_floats(const Tiles& t) { return 12 * int64_t(t.wp) + 2 * int64_t(t.tw + 1); }

// B^T applied to four rows of n values (down the columns of a tile, or across its columns).
void bt(const float* __restrict d0, const float* __restrict d1, const float* __restrict d2,
        const float* __restrict d3, int n, float* __restrict o0, float* __restrict o1, float* __restrict o2,
        float* __restrict o3) {
  for (int x = 0; x < n; ++x) {
    o0[x] = d0[x] - d2[x];
    o1[x] = d1[x] + d2[x];
    o2[x] = d2[x] - d1[x];
    o3[x] = d1[x] - d3[x];
  }
}

// A^T applied to four rows of n values.
void at(const float* __restrict m0, const float* __restrict m1, const float* __restrict m2,
        const float* __restrict m3, int n, float* __restrict o0, float* __restrict o1) {
  for (int x = 0; x < n; ++x) {
    o0[x] = m0[x] + m1[x] + m2[x];
    o1[x] = m1[x] - m2[x] - m3[x];
  }
}

// Even and odd columns of q: even[x] = q[2x], odd[x] = q[2x + 1], x <= n.
void split(const float* __restrict q, int n, float* __restrict even, float* __restrict odd) {
  for (int x = 0; x <= n; ++x) {
    even[x] = q[2 * x];
    odd[x] = q[2 * x + 1];
  }
}

// row[2x] (+)= y0[x], row[2x + 1] (+)= y1[x] for the out_w columns of an output row.
void interleave(const float* __restrict y0, const float* __restrict y1, int out_w, bool accumulate,
                float* __restrict row) {
  const int full = out_w / 2;
  if (accumulate) {
    for (int x = 0; x < full; ++x) {
      row[2 * x] += y0[x];
      row[2 * x + 1] += y1[x];
    }
    if (out_w % 2) row[2 * full] += y0[full];
  } else {
    for (int x = 0; x < full; ++x) {
      row[2 * x] = y0[x];
      row[2 * x + 1] = y1[x];
    }
    if (out_w % 2) row[2 * full] = y0[full];
  }
}

// V[xi][c][tile] = (B^T d B)[xi] for every input tile of `images` images, a row of tiles at a
// time (the chunk's rows of tiles); zeros: wp zeros; rows: row_floats(t) floats.
void transform_input(const ConvGeometry& g, const Tiles& t, int images, const float* in, float* v,
                     const float* zeros, float* rows) {
  const int C = g.channels, H = g.height, W = g.width, tw = t.tw, wp = t.wp;
  const int64_t n = images * t.span();
  for (int64_t job = 0; job < int64_t(images) * C; ++job) {
    const int img = int(job / C), c = int(job % C);
    float* q[4];
    for (int r = 0; r < 4; ++r) {  // the padding columns stay 0
      q[r] = rows + r * wp;
      std::fill(q[r], q[r] + g.pad, 0.f);
      std::fill(q[r] + g.pad + W, q[r] + wp, 0.f);
    }
    float* even = rows + 12 * int64_t(wp);
    float* odd = even + (tw + 1);
    const float* plane = in + (int64_t(img) * C + c) * H * W;
    for (int ty = t.ty0; ty < t.ty1; ++ty) {
      const float* d[4];
      for (int r = 0; r < 4; ++r) {
        const int iy = 2 * ty - g.pad + r;
        d[r] = iy >= 0 && iy < H ? plane + int64_t(iy) * W : zeros;
      }
      bt(d[0], d[1], d[2], d[3], W, q[0] + g.pad, q[1] + g.pad, q[2] + g.pad, q[3] + g.pad);
      const int64_t tile0 = int64_t(img) * t.span() + int64_t(ty - t.ty0) * tw;
      for (int r = 0; r < 4; ++r) {  // tile x reads columns 2x .. 2x + 3
        split(q[r], tw, even, odd);
        float* vr = v + (r * 4 * int64_t(C) + c) * n + tile0;
        bt(even, odd, even + 1, odd + 1, tw, vr, vr + C * n, vr + 2 * C * n, vr + 3 * C * n);
      }
    }
  }
}

// A applied to two rows of n values: the 4 rows of A dy for 2 output rows (adjoint of A^T).
void a2(const float* __restrict y0, const float* __restrict y1, int n, float* __restrict o0,
        float* __restrict o1, float* __restrict o2, float* __restrict o3) {
  for (int x = 0; x < n; ++x) {
    o0[x] = y0[x];
    o1[x] = y0[x] + y1[x];
    o2[x] = y0[x] - y1[x];
    o3[x] = -y1[x];
  }
}

}  // namespace

int64_t workspace_floats(const ConvGeometry& g, int images, int filters) {
  const Tiles t = tiles(g);
  const int64_t n = images * t.per_image;
  return 16 * n * (g.channels + filters) + row_floats(t) + t.wp;
}

int tile_rows(const ConvGeometry& g) { return tiles(g).th; }

void forward_chunk(const ConvGeometry& g, int images, int ty0, int ty1, int filters, const float* in,
                   const float* u, float* out, float* work, bool accumulate) {
  Tiles t = tiles(g);
  t.ty0 = ty0;
  t.ty1 = ty1;
  const int C = g.channels, K = filters, tw = t.tw, wp = t.wp;
  const int64_t n = images * t.span();  // GEMM width
  if (n == 0) return;
  float* v = work;                      // [16][C][n]
  float* m = v + 16 * C * n;            // [16][K][n]
  float* zeros = m + 16 * K * n;        // one row of zeros (input rows above and below)
  float* rows = zeros + wp;
  std::fill(zeros, zeros + wp, 0.f);

  transform_input(g, t, images, in, v, zeros, rows);

  // M[xi] = U[xi] [K x C] x V[xi] [C x n]
  for (int xi = 0; xi < 16; ++xi)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, int(n), C, 1.f, u + int64_t(xi) * K * C, C,
                v + int64_t(xi) * C * n, int(n), 0.f, m + int64_t(xi) * K * n, int(n));

  // Output transform: Y = A^T M A on each tile, written (or added) to the output rows.
  float* h[8];  // h[a * 4 + s]: A^T down the tile's rows, for column s
  for (int k = 0; k < 8; ++k) h[k] = rows + k * wp;
  float* y[4];  // y[a * 2 + b]: output (2 ty + a, 2 tx + b)
  for (int k = 0; k < 4; ++k) y[k] = rows + (8 + k) * wp;
  for (int64_t job = 0; job < int64_t(images) * K; ++job) {
    const int img = int(job / K), f = int(job % K);
    float* plane = out + (int64_t(img) * K + f) * g.out_h * g.out_w;
    for (int ty = ty0; ty < ty1; ++ty) {
      const int64_t tile0 = int64_t(img) * t.span() + int64_t(ty - ty0) * tw;
      const float* mm[16];
      for (int xi = 0; xi < 16; ++xi) mm[xi] = m + (int64_t(xi) * K + f) * n + tile0;
      for (int s = 0; s < 4; ++s) at(mm[s], mm[4 + s], mm[8 + s], mm[12 + s], tw, h[s], h[4 + s]);
      for (int a = 0; a < 2; ++a) at(h[a * 4], h[a * 4 + 1], h[a * 4 + 2], h[a * 4 + 3], tw, y[a * 2], y[a * 2 + 1]);
      for (int a = 0; a < 2 && 2 * ty + a < g.out_h; ++a)
        interleave(y[a * 2], y[a * 2 + 1], g.out_w, accumulate, plane + int64_t(2 * ty + a) * g.out_w);
    }
  }
}

int64_t weight_workspace_floats(const ConvGeometry& g, int images, int filters) {
  const Tiles t = tiles(g);
  const int64_t n = images * t.per_image;
  return 16 * n * (g.channels + filters) + row_floats(t) + t.wp;
}

void weight_grad_chunk(const ConvGeometry& g, int images, int filters, const float* in, const float* delta,
                       float* du, float* work) {
  const Tiles t = tiles(g);
  const int C = g.channels, K = filters, tw = t.tw, wp = t.wp;
  const int64_t n = images * t.per_image;
  float* v = work;                // [16][C][n]
  float* dm = v + 16 * C * n;     // [16][K][n]
  float* zeros = dm + 16 * K * n;
  float* rows = zeros + wp;
  std::fill(zeros, zeros + wp, 0.f);
  transform_input(g, t, images, in, v, zeros, rows);
  // dM[xi][k][tile] = (A dY A^T)[xi], dY the tile's 2x2 deltas (0 beyond the output's edge).
  float* even = rows + 12 * int64_t(wp);
  float* odd = even + (tw + 1);
  float* e = rows;       // the two delta rows, zero-padded to 2 tw columns
  float* z[4];           // A down: 4 rows
  for (int r = 0; r < 4; ++r) z[r] = rows + (2 + r) * wp;
  std::fill(e, e + 2 * wp, 0.f);
  for (int img = 0; img < images; ++img)
    for (int k = 0; k < K; ++k) {
      const float* plane = delta + (int64_t(img) * K + k) * g.out_h * g.out_w;
      for (int ty = 0; ty < t.th; ++ty) {
        for (int a = 0; a < 2; ++a) {
          const int oy = 2 * ty + a;
          if (oy < g.out_h)
            std::memcpy(e + a * wp, plane + int64_t(oy) * g.out_w, size_t(g.out_w) * sizeof(float));
          else
            std::fill(e + a * wp, e + a * wp + g.out_w, 0.f);
        }
        a2(e, e + wp, 2 * tw, z[0], z[1], z[2], z[3]);
        const int64_t tile0 = int64_t(img) * t.per_image + int64_t(ty) * tw;
        for (int r = 0; r < 4; ++r) {  // A across: columns 2x, 2x + 1 of the tile
          split(z[r], tw - 1, even, odd);
          float* d0 = dm + (r * 4 * int64_t(K) + k) * n + tile0;
          a2(even, odd, tw, d0, d0 + K * n, d0 + 2 * K * n, d0 + 3 * K * n);
        }
      }
    }
  // dU[xi] (+)= dM[xi] [K x n] x V[xi]^T [n x C]
  for (int xi = 0; xi < 16; ++xi)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, C, int(n), 1.f, dm + int64_t(xi) * K * n, int(n),
                v + int64_t(xi) * C * n, int(n), 1.f, du + int64_t(xi) * K * C, C);
}

void weight_grad_finish(const float* du, int filters, int channels, float* weight_grads) {
  const int64_t plane = int64_t(filters) * channels;
  for (int64_t at = 0; at < plane; ++at) {
    float d[4][4];
    for (int xi = 0; xi < 16; ++xi) d[xi / 4][xi % 4] = du[xi * plane + at];
    float h[3][4];  // G^T dU, G = [[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]]
    for (int s = 0; s < 4; ++s) {
      h[0][s] = d[0][s] + 0.5f * (d[1][s] + d[2][s]);
      h[1][s] = 0.5f * (d[1][s] - d[2][s]);
      h[2][s] = 0.5f * (d[1][s] + d[2][s]) + d[3][s];
    }
    float* w = weight_grads + at * 9;
    for (int i = 0; i < 3; ++i) {  // (G^T dU) G
      w[i * 3 + 0] += h[i][0] + 0.5f * (h[i][1] + h[i][2]);
      w[i * 3 + 1] += 0.5f * (h[i][1] - h[i][2]);
      w[i * 3 + 2] += 0.5f * (h[i][1] + h[i][2]) + h[i][3];
    }
  }
}

}  // namespace rpg::winograd
