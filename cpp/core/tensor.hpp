// tensor.hpp — a contiguous, row-major tensor of float32 (or int32 labels) on one device.
//
// Storage is reference counted and may be shared by views (Flatten, NumPy views from the bindings).
// `ensure(shape)` reshapes in place and reallocates only when the new shape needs more elements than the
// storage holds; the training loop relies on this so that no allocation happens per step after the first.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/device.hpp"

namespace bnlab {

using Shape = std::vector<std::int64_t>;

std::int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);

// Owns one device allocation and frees it through the device's backend; or borrows host memory that `owner`
// keeps alive (a NumPy array the training data comes from), which it never frees.
struct Storage {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  Device device = Device::CPU;
  std::shared_ptr<void> owner;  // set for borrowed memory
  Storage(std::size_t nbytes, Device dev);
  Storage(void* host_memory, std::size_t nbytes, std::shared_ptr<void> memory_owner);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(const Shape& shape, Device device = Device::CPU, DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, Device device = Device::CPU);
  static Tensor full(const Shape& shape, float value, Device device = Device::CPU);
  // A CPU tensor over existing host memory of shape * dtype bytes, kept alive by `owner` (no copy).
  static Tensor borrow(void* host_memory, const Shape& shape, DType dtype, std::shared_ptr<void> owner);

  // Give the tensor `shape`, keeping its storage when it is large enough (contents then unspecified).
  // Returns true when it had to allocate.
  bool ensure(const Shape& shape, Device device = Device::CPU, DType dtype = DType::F32);
  // The same from a braced list of dimensions, without building a temporary Shape (no heap allocation).
  bool ensure(std::initializer_list<std::int64_t> dims, Device device = Device::CPU, DType dtype = DType::F32);
  // `like` with its leading dimension replaced by `rows`.
  bool ensure_rows(std::int64_t rows, const Shape& like, Device device, DType dtype);
  // Make this tensor a view of `src` (shared storage) with the given dimensions; reuses this tensor's
  // shape vector, so a layer that keeps its view tensors allocates nothing per step.
  void set_view(const Tensor& src, const std::int64_t* dims, int ndim);
  // A tensor sharing this storage with another shape of at most the same number of elements.
  Tensor view(const Shape& shape) const;

  bool defined() const { return static_cast<bool>(storage_); }
  const Shape& shape() const { return shape_; }
  std::int64_t dim(int i) const;
  int ndim() const { return static_cast<int>(shape_.size()); }
  std::int64_t numel() const { return shape_numel(shape_); }
  std::size_t capacity_elements() const;
  Device device() const { return device_; }
  DType dtype() const { return dtype_; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  float* f32();
  const float* f32() const;
  std::int32_t* i32();
  const std::int32_t* i32() const;
  void* raw() { return storage_ ? storage_->ptr : nullptr; }
  const void* raw() const { return storage_ ? storage_->ptr : nullptr; }

  // Host transfers (any device). Sizes must match numel.
  void copy_from_host(const void* src, std::int64_t n);
  void copy_to_host(void* dst) const;
  std::vector<float> to_vector() const;
  // Copy into a (possibly) different device, same shape.
  Tensor to(Device device) const;
  void fill(float value);

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Device device_ = Device::CPU;
  DType dtype_ = DType::F32;
};

}  // namespace bnlab
