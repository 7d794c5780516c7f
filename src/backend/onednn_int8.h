// Int8 convolutions on oneDNN's CPU primitives, for the int8 inference engine (core/int8_net.h).
//
// One op is a convolution (an inner product for a connected layer's 1 x 1 on 1 x 1) with s8
// weights (reordered once, when the op is added, into the layout oneDNN's kernel wants), u8 or
// s8 activations and s32 accumulation, whose result r = out_scale[f] * acc + bias[f] (+ a
// residual) goes through the activation post-op and is written as float32 (planar NCHW) or as
// int8 codes (NHWC, saturated, rounded to nearest even) of the next layer's input. Its input is float32 NCHW (quantized by a reorder into the arena: code = x / in.scale,
// saturated) or the previous op's int8 NHWC codes. Everything is created by add(), for one batch
// size and thread count; run() creates and allocates nothing. On AVX2 machines oneDNN picks
// jit_uni_int8:avx2; with AVX-512 VNNI, brgconv:avx512_core_vnni (kernel() says which).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace rpg {

// The code of an int8 tensor: value = code * scale, codes u8 (0..255) or s8 (-128..127).
struct Int8Code {
  bool is_unsigned = true;
  float scale = 1;
};

struct Int8ConvSpec {
  ConvGeometry g{};
  int batch = 1, groups = 1, filters = 1, threads = 1;
  std::vector<int8_t> weights;  // filters x channels x k x k codes, planar ([g]OIHW)
  std::vector<float> out_scale;  // per filter: multiplies the s32 accumulator
  std::vector<float> bias;       // per filter, added after the scale
  Act act = Act::Linear;         // Linear, Relu, Leaky or Relie (int8_activation)
  Int8Code in;                   // the input's code
  bool in_float = true;          // input: float32 NCHW (quantized here), else int8 NHWC codes
  bool out_float = true;         // output: float32 NCHW, else int8 NHWC codes of `out`
  Int8Code out;
  // A residual sum (a shortcut fused into the convolution), with int8 output only: the output
  // buffer holds the residual's codes (of code `sum`) when run() is called, and
  // r = out_scale acc + bias + sum_scale residual goes through the activation. 0: none.
  float sum_scale = 0;
  Int8Code sum;
};

// Whether oneDNN's int8 kernels on this processor have VNNI (AVX512-VNNI or AVX-VNNI): u8 x s8
// products accumulate into s32 exactly. Without it (AVX2) they pass through s16 pairs, which
// u8 inputs above 127 can saturate; s8 inputs are safe because oneDNN then halves the weight
// codes when it reorders them (and doubles the result): codes round to even, 7 bits of weights.
bool int8_has_vnni();

// Whether the int8 engine runs this activation as a post-op (a homogeneous one, so that the
// output's requantization scale can be folded into out_scale and bias).
bool int8_activation(Act act);

class OneDnnInt8 {
 public:
  // Memory (the arena) is allocated through `memory`, so that its failures are the backend's.
  explicit OneDnnInt8(Backend& memory);
  ~OneDnnInt8();
  OneDnnInt8(const OneDnnInt8&) = delete;
  OneDnnInt8& operator=(const OneDnnInt8&) = delete;

  // Creates the op; its id, or -1 when oneDNN has no int8 implementation for it other than its
  // reference kernel (plain loops, slower than the float32 path). Error
  // (InvalidArgument) for inconsistent sizes, (Internal/OutOfMemory) when oneDNN fails.
  int add(const Int8ConvSpec& spec);
  // Reorders between the framework's float32 NCHW tensors and int8 NHWC codes: quantize
  // (code = x / code.scale, rounded to nearest even, saturated) and dequantize (x = code scale),
  // for batch x shape (channels, height, width). Their op ids, for run() (quantize: in float32,
  // out codes; dequantize: the other way).
  int add_quantize(int batch, int channels, int height, int width, Int8Code code, int threads);
  int add_dequantize(int batch, int channels, int height, int width, Int8Code code, int threads);
  // Runs op: in and out as the spec says (host memory of the CPU backend).
  void run(int op, const void* in, void* out);
  // oneDNN's implementation (impl_info_str), e.g. "jit_uni_int8:avx2".
  std::string kernel(int op) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rpg
