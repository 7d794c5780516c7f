// Half precision, block quantization and bit packing (see quantize.h).
#include "io/quantize.h"

#include <cmath>
#include <cstring>

namespace rpg {
namespace io {

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  const int exp = int((x >> 23) & 0xffu);
  uint32_t mant = x & 0x7fffffu;
  if (exp == 255) return uint16_t(sign | 0x7c00u | (mant ? 0x200u : 0u));
  const int e = exp - 127 + 15;
  if (e >= 31) return uint16_t(sign | 0x7c00u);
  if (e <= 0) {  // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000u;
    const int shift = 14 - e;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = (uint32_t(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry may reach infinity: right
  return uint16_t(sign | h);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const int exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    const float v = std::ldexp(float(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31)
    x = sign | 0x7f800000u | (mant << 13);
  else
    x = sign | (uint32_t(exp - 15 + 127) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

float block_scale(float max_abs, int bits) {
  if (!(max_abs > 0)) return 0.f;
  float s = max_abs / float(quant_levels(bits));
  // The largest magnitude must code within [-Q, Q]: never let float rounding push it past Q.
  while (std::nearbyint(double(max_abs) / double(s)) > quant_levels(bits)) s = std::nextafter(s, INFINITY);
  return s;
}

uint32_t quantize(float r, float scale, int bits) {
  const int32_t q_max = quant_levels(bits);
  if (!(scale > 0)) return uint32_t(q_max);
  double q = std::nearbyint(double(r) / double(scale));  // ties to even
  if (q > q_max) q = q_max;
  if (q < -q_max) q = -q_max;
  return uint32_t(int32_t(q) + q_max);
}

void pack_codes(const std::vector<uint32_t>& codes, int bits, std::string& out) {
  const size_t start = out.size();
  out.resize(start + packed_bytes(codes.size(), bits), '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(&out[start]);
  uint64_t bit = 0;
  for (uint32_t c : codes) {
    for (int b = 0; b < bits; ++b, ++bit)
      if ((c >> b) & 1u) p[bit >> 3] |= uint8_t(1u << (bit & 7));
  }
}

bool unpack_codes(const char* data, uint64_t count, int bits, std::vector<uint32_t>& out) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data);
  out.assign(size_t(count), 0);
  uint64_t bit = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t c = 0;
    for (int b = 0; b < bits; ++b, ++bit) c |= uint32_t((p[bit >> 3] >> (bit & 7)) & 1u) << b;
    out[size_t(i)] = c;
  }
  const size_t n = packed_bytes(count, bits);
  for (; bit < uint64_t(n) * 8; ++bit)
    if ((p[bit >> 3] >> (bit & 7)) & 1u) return false;
  return true;
}

}  // namespace io
}  // namespace rpg
