// The numeric codes of the export format (io/export.h): IEEE half precision, symmetric uniform
// quantization with one scale per block, and tightly packed B-bit code streams.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rpg {
namespace io {

// IEEE 754 binary16, round to nearest even; overflow gives infinity, NaN stays NaN.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

// Symmetric uniform quantization at B bits (2..16): codes q in [-Q, Q], Q = 2^(B-1) - 1, stored
// as u = q + Q (so 2^B - 1 is never a valid code). A block's scale is max|r| / Q (0 for an
// all-zero block); r is coded as q = round(r / scale) and decoded as float(q) * scale, so that
// |decoded - r| <= scale / 2 (up to float rounding of the product).
inline int32_t quant_levels(int bits) { return (1 << (bits - 1)) - 1; }
float block_scale(float max_abs, int bits);
uint32_t quantize(float r, float scale, int bits);      // the stored code u
inline float dequantize(uint32_t u, float scale, int bits) {
  return float(int32_t(u) - quant_levels(bits)) * scale;
}

// A code stream: code i occupies bits [i B, (i + 1) B) of the stream, least significant bit
// first; stream bit k is bit k % 8 of byte k / 8. Padding bits of the last byte are 0.
inline size_t packed_bytes(uint64_t count, int bits) { return size_t((count * uint64_t(bits) + 7) / 8); }
void pack_codes(const std::vector<uint32_t>& codes, int bits, std::string& out);
// Reads `count` codes from packed_bytes(count, bits) bytes at p. Returns false when a padding
// bit is set.
bool unpack_codes(const char* p, uint64_t count, int bits, std::vector<uint32_t>& out);

}  // namespace io
}  // namespace rpg
