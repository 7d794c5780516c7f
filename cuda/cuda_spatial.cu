// CUDA backend, part 4: spatial layer operations (max pooling, shortcut, upsample, crop). The
// backward kernels either have one writer per element or gather, in the CPU loop's order, every
// contribution to one element: no atomics anywhere.
#include <cfloat>

#include "cuda_backend.h"
#include "cuda_common.cuh"

namespace rpg {

namespace {

using cuda::blocks_for;
using cuda::kThreads;

__global__ void k_maxpool_forward(PoolGeometry g, const float* in, float* out, int32_t* idx) {
  const int off = -g.padding / 2;
  const int64_t total = int64_t(g.batch) * g.channels * g.out_h * g.out_w;
  RPG_FOR_EACH(o, total) {
    const int x = int(o % g.out_w), y = int((o / g.out_w) % g.out_h);
    const int64_t p = o / g.out_w / g.out_h, in_base = p * g.height * g.width;
    float best = -FLT_MAX;
    int64_t best_i = -1;
    for (int n = 0; n < g.size; ++n)
      for (int m = 0; m < g.size; ++m) {
        const int iy = off + y * g.stride + n, ix = off + x * g.stride + m;
        if (iy < 0 || iy >= g.height || ix < 0 || ix >= g.width) continue;
        const int64_t i = in_base + int64_t(iy) * g.width + ix;
        if (in[i] > best || best_i < 0) {
          best = in[i];
          best_i = i;
        }
      }
    out[o] = best_i < 0 ? 0.f : best;
    idx[o] = int32_t(best_i);
  }
}

// Each input element visits the windows that contain it, in output order (the CPU's order).
__global__ void k_maxpool_backward(PoolGeometry g, const float* delta_out, const int32_t* idx, float* delta_in) {
  const int off = -g.padding / 2;
  const int64_t total = int64_t(g.batch) * g.channels * g.height * g.width;
  RPG_FOR_EACH(i, total) {
    const int ix = int(i % g.width), iy = int((i / g.width) % g.height);
    const int64_t p = i / g.width / g.height;
    const int ry = iy - off, rx = ix - off;  // >= 0: windows start at off <= 0
    const int y0 = ry - g.size + 1 <= 0 ? 0 : (ry - g.size + 1 + g.stride - 1) / g.stride;
    const int x0 = rx - g.size + 1 <= 0 ? 0 : (rx - g.size + 1 + g.stride - 1) / g.stride;
    const int y1 = min(g.out_h - 1, ry / g.stride), x1 = min(g.out_w - 1, rx / g.stride);
    float acc = delta_in[i];
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const int64_t o = (p * g.out_h + y) * g.out_w + x;
        if (idx[o] == i) acc += delta_out[o];
      }
    delta_in[i] = acc;
  }
}

// Darknet's shortcut pairs: thread t visits (b, k, j, i) of the overlap; both the out index and
// the add index are one-to-one in t, so forward and backward have one writer per element.
struct ShortcutMap {
  int w1, h1, c1, w2, h2, c2, stride, sample, minw, minh, minc;
  __device__ void pair(int64_t t, int64_t* out_i, int64_t* add_i) const {
    const int64_t i = t % minw, j = (t / minw) % minh, k = (t / minw / minh) % minc, b = t / minw / minh / minc;
    *out_i = i * sample + int64_t(w2) * (j * sample + int64_t(h2) * (k + int64_t(c2) * b));
    *add_i = i * stride + int64_t(w1) * (j * stride + int64_t(h1) * (k + int64_t(c1) * b));
  }
};

ShortcutMap shortcut_map(int w1, int h1, int c1, int w2, int h2, int c2) {
  ShortcutMap s{w1, h1, c1, w2, h2, c2, w1 / w2, w2 / w1, std::min(w1, w2), std::min(h1, h2), std::min(c1, c2)};
  if (s.stride < 1) s.stride = 1;
  if (s.sample < 1) s.sample = 1;
  return s;
}

__global__ void k_shortcut_forward(ShortcutMap s, int64_t total, const float* add, float s1, float s2, float* out) {
  RPG_FOR_EACH(t, total) {
    int64_t o, a;
    s.pair(t, &o, &a);
    out[o] = s1 * out[o] + s2 * add[a];
  }
}
__global__ void k_shortcut_backward(ShortcutMap s, int64_t total, float* add_delta, float s2,
                                    const float* out_delta) {
  RPG_FOR_EACH(t, total) {
    int64_t o, a;
    s.pair(t, &o, &a);
    add_delta[a] += s2 * out_delta[o];
  }
}

__global__ void k_upsample(const float* in, int64_t planes, int h, int w, int stride, float scale, float* out) {
  const int oh = h * stride, ow = w * stride;
  RPG_FOR_EACH(t, planes * oh * ow) {
    const int x = int(t % ow), y = int((t / ow) % oh);
    const int64_t p = t / ow / oh;
    out[t] = scale * in[(p * h + y / stride) * w + x / stride];
  }
}
// Each input element gathers its stride x stride outputs in the CPU's (y, x) order.
__global__ void k_upsample_backward(const float* delta_out, int64_t planes, int h, int w, int stride, float scale,
                                    float* delta_in) {
  const int oh = h * stride, ow = w * stride;
  RPG_FOR_EACH(t, planes * h * w) {
    const int xi = int(t % w), yi = int((t / w) % h);
    const int64_t p = t / w / h;
    float acc = delta_in[t];
    for (int y = yi * stride; y < (yi + 1) * stride; ++y)
      for (int x = xi * stride; x < (xi + 1) * stride; ++x) acc += scale * delta_out[(p * oh + y) * ow + x];
    delta_in[t] = acc;
  }
}

// Crop: output (p, y, x) reads input (p, y + dy, sx), one-to-one, so backward has one writer.
__global__ void k_crop(const float* in, int64_t planes, int h, int w, int oh, int ow, int dy, int dx, bool flip,
                       float scale, float shift, float* out) {
  RPG_FOR_EACH(t, planes * oh * ow) {
    const int x = int(t % ow), y = int((t / ow) % oh);
    const int64_t p = t / ow / oh;
    const int sx = (flip ? ow - 1 - x : x) + dx;
    out[t] = scale * in[(p * h + y + dy) * w + sx] + shift;
  }
}
__global__ void k_crop_backward(const float* delta_out, int64_t planes, int h, int w, int oh, int ow, int dy, int dx,
                                bool flip, float scale, float* delta_in) {
  RPG_FOR_EACH(t, planes * oh * ow) {
    const int x = int(t % ow), y = int((t / ow) % oh);
    const int64_t p = t / ow / oh;
    const int sx = (flip ? ow - 1 - x : x) + dx;
    delta_in[(p * h + y + dy) * w + sx] += scale * delta_out[t];
  }
}

}  // namespace

void CudaBackend::maxpool_forward(const PoolGeometry& g, const float* in, float* out, int32_t* idx) {
  const int64_t total = int64_t(g.batch) * g.channels * g.out_h * g.out_w;
  if (total <= 0) return;
  RPG_GUARD();
  // out[B, C, out_h, out_w], idx[same] = max / argmax of in[B, C, H, W] over size x size windows
  k_maxpool_forward<<<blocks_for(total), kThreads, 0, stream_>>>(g, in, out, idx);
  RPG_LAUNCHED("k_maxpool_forward");
}

void CudaBackend::maxpool_backward(const PoolGeometry& g, const float* delta_out, const int32_t* idx,
                                   float* delta_in) {
  const int64_t total = int64_t(g.batch) * g.channels * g.height * g.width;
  if (total <= 0) return;
  RPG_GUARD();
  // delta_in[B, C, H, W] += delta_out[o] for every o whose argmax is that element
  k_maxpool_backward<<<blocks_for(total), kThreads, 0, stream_>>>(g, delta_out, idx, delta_in);
  RPG_LAUNCHED("k_maxpool_backward");
}

void CudaBackend::shortcut_forward(int batch, int w1, int h1, int c1, const float* add, int w2, int h2, int c2,
                                   float s1, float s2, float* out) {
  const ShortcutMap s = shortcut_map(w1, h1, c1, w2, h2, c2);
  const int64_t total = int64_t(batch) * s.minc * s.minh * s.minw;
  if (total <= 0) return;
  RPG_GUARD();
  // out[B, c2, h2, w2] = s1 out + s2 add[B, c1, h1, w1] over the overlap
  k_shortcut_forward<<<blocks_for(total), kThreads, 0, stream_>>>(s, total, add, s1, s2, out);
  RPG_LAUNCHED("k_shortcut_forward");
}

void CudaBackend::shortcut_backward(int batch, int w1, int h1, int c1, float* add_delta, int w2, int h2, int c2,
                                    float s2, const float* out_delta) {
  const ShortcutMap s = shortcut_map(w1, h1, c1, w2, h2, c2);
  const int64_t total = int64_t(batch) * s.minc * s.minh * s.minw;
  if (total <= 0) return;
  RPG_GUARD();
  // add_delta[B, c1, h1, w1] += s2 out_delta[B, c2, h2, w2] over the overlap
  k_shortcut_backward<<<blocks_for(total), kThreads, 0, stream_>>>(s, total, add_delta, s2, out_delta);
  RPG_LAUNCHED("k_shortcut_backward");
}

void CudaBackend::upsample(const float* in, int batch, int channels, int h, int w, int stride, float scale,
                           float* out) {
  const int64_t planes = int64_t(batch) * channels, total = planes * h * stride * w * stride;
  if (total <= 0) return;
  RPG_GUARD();
  // out[B, C, h*stride, w*stride] = scale * in[B, C, h, w] (nearest)
  k_upsample<<<blocks_for(total), kThreads, 0, stream_>>>(in, planes, h, w, stride, scale, out);
  RPG_LAUNCHED("k_upsample");
}

void CudaBackend::upsample_backward(const float* delta_out, int batch, int channels, int h, int w, int stride,
                                    float scale, float* delta_in) {
  const int64_t planes = int64_t(batch) * channels, total = planes * h * w;
  if (total <= 0) return;
  RPG_GUARD();
  // delta_in[B, C, h, w] += scale * sum of its stride x stride block of delta_out
  k_upsample_backward<<<blocks_for(total), kThreads, 0, stream_>>>(delta_out, planes, h, w, stride, scale,
                                                                   delta_in);
  RPG_LAUNCHED("k_upsample_backward");
}

void CudaBackend::crop(const float* in, int batch, int channels, int h, int w, int oh, int ow, int dy, int dx,
                       bool flip, float scale, float shift, float* out) {
  const int64_t planes = int64_t(batch) * channels, total = planes * oh * ow;
  if (total <= 0) return;
  RPG_GUARD();
  // out[B, C, oh, ow] = scale * in[B, C, y + dy, (flip ? ow - 1 - x : x) + dx] + shift
  k_crop<<<blocks_for(total), kThreads, 0, stream_>>>(in, planes, h, w, oh, ow, dy, dx, flip, scale, shift, out);
  RPG_LAUNCHED("k_crop");
}

void CudaBackend::crop_backward(const float* delta_out, int batch, int channels, int h, int w, int oh, int ow,
                                int dy, int dx, bool flip, float scale, float* delta_in) {
  const int64_t planes = int64_t(batch) * channels, total = planes * oh * ow;
  if (total <= 0) return;
  RPG_GUARD();
  // delta_in[B, C, h, w] += scale * delta_out at the cropped positions
  k_crop_backward<<<blocks_for(total), kThreads, 0, stream_>>>(delta_out, planes, h, w, oh, ow, dy, dx, flip, scale,
                                                               delta_in);
  RPG_LAUNCHED("k_crop_backward");
}

}  // namespace rpg
