// Backend memory from the host's side: Buffer<T> owns it, BufferRef<T> refers to it.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "backend/backend.h"

namespace rpg {

// BufferRef<T>: n elements of backend memory owned elsewhere (a Buffer, or a slice of one).
template <typename T>
class BufferRef {
 public:
  BufferRef() = default;
  BufferRef(Backend& be, T* data, int64_t n) : be_(&be), data_(data), n_(n) {}

  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t size() const { return n_; }
  bool empty() const { return n_ == 0; }

  void upload(const T* host, int64_t n, int64_t offset = 0) {
    if (n > 0) be_->upload(data_ + offset, host, size_t(n) * sizeof(T));
  }
  void upload(const std::vector<T>& host) { upload(host.data(), int64_t(host.size())); }
  void download(T* host, int64_t n, int64_t offset = 0) const {
    if (n > 0) be_->download(host, data_ + offset, size_t(n) * sizeof(T));
  }
  std::vector<T> to_vector() const {
    std::vector<T> v(static_cast<size_t>(n_));
    download(v.data(), n_);
    return v;
  }

 protected:
  Backend* be_ = nullptr;
  T* data_ = nullptr;
  int64_t n_ = 0;
};

// Buffer<T>: an owning handle to n elements of backend memory (zeroed on allocation).
template <typename T>
class Buffer : public BufferRef<T> {
  using BufferRef<T>::be_;
  using BufferRef<T>::data_;
  using BufferRef<T>::n_;

 public:
  Buffer() = default;
  Buffer(Backend& be, int64_t n) { resize(be, n); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    Buffer tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~Buffer() { reset(); }

  // Reallocates (zeroed) unless the size is unchanged.
  void resize(Backend& be, int64_t n) {
    if (be_ == &be && n_ == n) return;
    reset();
    if (n > 0) data_ = static_cast<T*>(be.alloc(size_t(n) * sizeof(T)));
    be_ = &be;
    n_ = n;
  }
  void reset() noexcept {
    if (be_ && data_) be_->release(data_);
    data_ = nullptr;
    n_ = 0;
  }

 private:
  void swap(Buffer& o) noexcept {
    std::swap(be_, o.be_);
    std::swap(data_, o.data_);
    std::swap(n_, o.n_);
  }
};

}  // namespace rpg
