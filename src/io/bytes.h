// Little-endian encoding of integers and float arrays for the file formats in src/io, whatever
// the host's byte order, and a bounds-checked cursor for decoding them.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"

namespace rpg {
namespace io {

constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

inline uint32_t bswap_if_big(uint32_t v) { return kLittleEndian ? v : __builtin_bswap32(v); }
inline uint64_t bswap_if_big(uint64_t v) { return kLittleEndian ? v : __builtin_bswap64(v); }

// Appends little-endian values to a byte string.
class ByteWriter {
 public:
  void u32(uint32_t v) { raw(bswap_if_big(v)); }
  void i32(int32_t v) { u32(uint32_t(v)); }
  void u64(uint64_t v) { raw(bswap_if_big(v)); }
  void i64(int64_t v) { u64(uint64_t(v)); }
  void bytes(const void* p, size_t n) {
    if (n) out_.append(static_cast<const char*>(p), n);
  }
  void str(const std::string& s) {  // uint32 length + bytes
    u32(uint32_t(s.size()));
    out_ += s;
  }
  void floats(const float* p, size_t n) {
    if (kLittleEndian) return bytes(p, n * sizeof(float));
    for (size_t i = 0; i < n; ++i) {
      uint32_t v;
      std::memcpy(&v, p + i, 4);
      u32(v);
    }
  }
  void floats(const std::vector<float>& v) { floats(v.data(), v.size()); }
  void reserve(size_t n) { out_.reserve(n); }
  size_t size() const { return out_.size(); }
  std::string& data() { return out_; }

 private:
  template <typename T>
  void raw(T v) {
    bytes(&v, sizeof v);
  }
  std::string out_;
};

// Reads little-endian values from [begin, end) of a byte string. Every read is checked against
// what is left; a short read throws Error(FormatError) "<where>: truncated (needs N bytes, M
// left)", where `where` names the file and the part being read.
class ByteReader {
 public:
  ByteReader(const std::string& data, std::string where, size_t begin = 0, size_t end = SIZE_MAX)
      : data_(data),
        where_(std::move(where)),
        pos_(begin),
        end_(end < data.size() ? end : data.size()) {}

  size_t remaining() const { return pos_ < end_ ? end_ - pos_ : 0; }
  size_t position() const { return pos_; }
  uint32_t u32() { return bswap_if_big(raw<uint32_t>()); }
  int32_t i32() { return int32_t(u32()); }
  uint64_t u64() { return bswap_if_big(raw<uint64_t>()); }
  int64_t i64() { return int64_t(u64()); }
  std::string bytes(size_t n) {
    need(n);
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string str() { return bytes(u32()); }
  void skip(size_t n) {
    need(n);
    pos_ += n;
  }
  // Reads n floats into out (resized). The size is checked before anything is allocated.
  void floats(size_t n, float* out) {
    if (n == 0) return;  // out may be null (an empty vector's data())
    if (n > SIZE_MAX / 4) need(SIZE_MAX);
    need(n * 4);
    if (kLittleEndian) {
      std::memcpy(out, data_.data() + pos_, n * 4);
      pos_ += n * 4;
      return;
    }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t v = u32();
      std::memcpy(out + i, &v, 4);
    }
  }
  void need(size_t n) const {
    if (n > remaining())
      fail(Status::FormatError, where_ + ": truncated (needs " + std::to_string(n) + " bytes, " +
                                    std::to_string(remaining()) + " left)");
  }
  const std::string& where() const { return where_; }

 private:
  template <typename T>
  T raw() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  const std::string& data_;
  std::string where_;
  size_t pos_, end_;
};

// Rejects non-finite floats (NaN, infinity), which no weights file may hold: throws
// Error(status, "<what> holds <value> at index <i>") for the first one.
inline void require_finite(const float* v, size_t n, Status status, const std::string& what) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i]))
      fail(status, what + " holds " + (std::isnan(v[i]) ? "nan" : v[i] > 0 ? "inf" : "-inf") + " at index " +
                       std::to_string(i));
}
inline void require_finite(const std::vector<float>& v, Status status, const std::string& what) {
  require_finite(v.data(), v.size(), status, what);
}

}  // namespace io
}  // namespace rpg
