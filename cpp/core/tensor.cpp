// tensor.cpp — storage allocation through the device backend, reshaping within capacity, host copies.
#include "core/tensor.hpp"

#include <sstream>
#include <stdexcept>
#include <utility>

#include "backend/backend.hpp"

namespace bnlab {

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream s;
  s << "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) s << ",";
  s << ")";
  return s.str();
}

Storage::Storage(std::size_t nbytes, Device dev) : bytes(nbytes), device(dev) {
  ptr = nbytes ? backend(dev).alloc(nbytes) : nullptr;
}

Storage::Storage(void* host_memory, std::size_t nbytes, std::shared_ptr<void> memory_owner)
    : ptr(host_memory), bytes(nbytes), device(Device::CPU), owner(std::move(memory_owner)) {}

Storage::~Storage() {
  if (ptr && !owner) backend(device).release(ptr);
}

Tensor::Tensor(const Shape& shape, Device device, DType dtype) { ensure(shape, device, dtype); }

Tensor Tensor::zeros(const Shape& shape, Device device) { return full(shape, 0.0f, device); }

Tensor Tensor::borrow(void* host_memory, const Shape& shape, DType dtype, std::shared_ptr<void> owner) {
  Tensor t;
  const auto bytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
  t.storage_ = std::make_shared<Storage>(host_memory, bytes, std::move(owner));
  t.shape_ = shape;
  t.device_ = Device::CPU;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t(shape, device);
  t.fill(value);
  return t;
}

namespace {
template <typename Dims>
std::size_t checked_numel(const Dims& dims) {
  std::int64_t n = 1;
  for (auto d : dims) {
    if (d < 0) throw std::invalid_argument("negative dimension in a tensor shape");
    n *= d;
  }
  return static_cast<std::size_t>(n);
}
}  // namespace

bool Tensor::ensure(const Shape& shape, Device device, DType dtype) {
  const std::size_t need = checked_numel(shape) * dtype_size(dtype);
  const bool realloc = !storage_ || storage_->device != device || storage_->bytes < need;
  if (realloc) storage_ = std::make_shared<Storage>(need, device);
  if (&shape != &shape_) shape_ = shape;
  device_ = device;
  dtype_ = dtype;
  return realloc;
}

bool Tensor::ensure(std::initializer_list<std::int64_t> dims, Device device, DType dtype) {
  const std::size_t need = checked_numel(dims) * dtype_size(dtype);
  const bool realloc = !storage_ || storage_->device != device || storage_->bytes < need;
  if (realloc) storage_ = std::make_shared<Storage>(need, device);
  shape_.assign(dims.begin(), dims.end());
  device_ = device;
  dtype_ = dtype;
  return realloc;
}

bool Tensor::ensure_rows(std::int64_t rows, const Shape& like, Device device, DType dtype) {
  if (&like != &shape_) shape_ = like;
  if (!shape_.empty()) shape_[0] = rows;
  return ensure(shape_, device, dtype);
}

void Tensor::set_view(const Tensor& src, const std::int64_t* dims, int ndim) {
  std::int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= dims[i];
  if (n > static_cast<std::int64_t>(src.capacity_elements()))
    throw std::invalid_argument("view is larger than the storage it would share");
  storage_ = src.storage_;
  shape_.assign(dims, dims + ndim);
  device_ = src.device_;
  dtype_ = src.dtype_;
}

Tensor Tensor::view(const Shape& shape) const {
  if (shape_numel(shape) > static_cast<std::int64_t>(capacity_elements()))
    throw std::invalid_argument("view " + shape_str(shape) + " is larger than the storage");
  Tensor t;
  t.storage_ = storage_;
  t.shape_ = shape;
  t.device_ = device_;
  t.dtype_ = dtype_;
  return t;
}

std::int64_t Tensor::dim(int i) const {
  const int n = ndim();
  if (i < 0) i += n;
  if (i < 0 || i >= n) throw std::out_of_range("dimension index out of range for shape " + shape_str(shape_));
  return shape_[static_cast<std::size_t>(i)];
}

std::size_t Tensor::capacity_elements() const { return storage_ ? storage_->bytes / dtype_size(dtype_) : 0; }

float* Tensor::f32() { return static_cast<float*>(raw()); }
const float* Tensor::f32() const { return static_cast<const float*>(raw()); }
std::int32_t* Tensor::i32() { return static_cast<std::int32_t*>(raw()); }
const std::int32_t* Tensor::i32() const { return static_cast<const std::int32_t*>(raw()); }

void Tensor::copy_from_host(const void* src, std::int64_t n) {
  if (n != numel()) throw std::invalid_argument("copy_from_host: element count does not match the shape");
  if (n) backend(device_).copy_from_host(raw(), src, static_cast<std::size_t>(n) * dtype_size(dtype_));
}

void Tensor::copy_to_host(void* dst) const {
  if (numel()) backend(device_).copy_to_host(dst, raw(), static_cast<std::size_t>(numel()) * dtype_size(dtype_));
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(static_cast<std::size_t>(numel()));
  copy_to_host(out.data());
  return out;
}

Tensor Tensor::to(Device device) const {
  Tensor out(shape_, device, dtype_);
  const std::size_t bytes = static_cast<std::size_t>(numel()) * dtype_size(dtype_);
  if (!bytes) return out;
  if (device == device_) {
    backend(device).copy(out.raw(), raw(), bytes);
  } else if (device_ == Device::CPU) {
    backend(device).copy_from_host(out.raw(), raw(), bytes);
  } else if (device == Device::CPU) {
    backend(device_).copy_to_host(out.raw(), raw(), bytes);
  } else {
    std::vector<char> host(bytes);
    backend(device_).copy_to_host(host.data(), raw(), bytes);
    backend(device).copy_from_host(out.raw(), host.data(), bytes);
  }
  return out;
}

void Tensor::fill(float value) {
  if (dtype_ != DType::F32) throw std::invalid_argument("fill: only float32 tensors can be filled");
  if (numel()) backend(device_).fill(f32(), value, numel());
}

}  // namespace bnlab
