// Backend memory from the host's side: Buffer<T> owns it, BufferRef<T> refers to it,
// BufferStaging resizes a set of buffers all at once or not at all.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
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

// New sizes for a set of buffers, allocated before any of them changes: add() allocates the new
// memory (an exception releases what was staged and changes nothing), commit() moves it all in
// and cannot fail. Network::set_batch stages every layer's per-batch buffers this way, so that a
// failed call (out of memory) leaves the network as it was. Constructed without a backend, it
// only counts the bytes (the memory estimate).
class BufferStaging {
 public:
  explicit BufferStaging(Backend* be) : be_(be) {}

  template <typename T>
  void add(Buffer<T>& target, int64_t n) {
    bytes_ += n * int64_t(sizeof(T));
    if (!be_ || target.size() == n) return;  // unchanged sizes keep their memory (and values)
    auto staged = std::make_shared<Buffer<T>>(*be_, n);
    held_.push_back(staged);
    commits_.push_back([&target, staged]() noexcept { target = std::move(*staged); });
  }
  int64_t bytes() const { return bytes_; }  // everything added, staged or unchanged
  void commit() noexcept {
    for (auto& c : commits_) c();
    commits_.clear();
    held_.clear();
  }

 private:
  Backend* be_;
  int64_t bytes_ = 0;
  std::vector<std::shared_ptr<void>> held_;
  std::vector<std::function<void()>> commits_;
};

}  // namespace rpg
