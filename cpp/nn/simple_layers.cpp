// simple_layers.cpp — the parameter-free layers: Activation, Dropout and Flatten.
#include "nn/layers.hpp"

namespace bnlab::nn {

Shape Activation::build_impl(const Shape& input_shape, Device) { return input_shape; }

const Tensor& Activation::forward(const Tensor& x, bool) {
  ops::activation_forward(out_, x, act_);
  return out_;
}

const Tensor& Activation::backward(const Tensor& dout, bool dout_is_preactivation, bool) {
  if (dout_is_preactivation) return dout;  // the model already differentiated through the softmax
  ops::activation_backward(dx_, dout, out_, act_);
  return dx_;
}

Shape Dropout::build_impl(const Shape& input_shape, Device) {
  ops::require(rate_ >= 0.0f && rate_ < 1.0f, "Dropout rate must be in [0, 1)");
  return input_shape;
}

const Tensor& Dropout::forward(const Tensor& x, bool training) {
  dropped_ = training && rate_ > 0.0f;
  if (!dropped_) return x;
  ops::dropout_forward(out_, mask_, x, rate_, seed_, counter_++);
  return out_;
}

const Tensor& Dropout::backward(const Tensor& dout, bool, bool) {
  if (!dropped_) return dout;
  ops::dropout_backward(dx_, dout, mask_);
  return dx_;
}

Shape Flatten::build_impl(const Shape& input_shape, Device) {
  in_shape_ = input_shape;
  dx_shape_ = input_shape;
  dx_shape_.insert(dx_shape_.begin(), 0);
  return {shape_numel(input_shape)};
}

const Tensor& Flatten::forward(const Tensor& x, bool) {
  const std::int64_t B = x.ndim() ? x.dim(0) : 0;
  const std::int64_t dims[2] = {B, shape_numel(in_shape_)};
  out_.set_view(x, dims, 2);
  return out_;
}

const Tensor& Flatten::backward(const Tensor& dout, bool, bool) {
  dx_shape_[0] = dout.dim(0);
  dx_.set_view(dout, dx_shape_.data(), static_cast<int>(dx_shape_.size()));
  return dx_;
}

}  // namespace bnlab::nn
