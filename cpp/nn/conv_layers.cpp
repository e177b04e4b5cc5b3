// conv_layers.cpp — Conv2D, MaxPooling2D / AveragePooling2D and GlobalAveragePooling2D on the window ops.
#include "nn/conv_layers.hpp"

#include <algorithm>
#include <string>

namespace bnlab::nn {
namespace {
// Keras's padding along one axis: the output size and the padding before/after.
struct AxisPadding {
  std::int64_t out, before, after;
};
AxisPadding axis_padding(std::int64_t in, std::int64_t kernel, std::int64_t stride, bool same) {
  if (!same) return {in >= kernel ? (in - kernel) / stride + 1 : 0, 0, 0};
  const std::int64_t out = (in + stride - 1) / stride;
  const std::int64_t total = std::max<std::int64_t>((out - 1) * stride + kernel - in, 0);
  return {out, total / 2, total - total / 2};
}

// The window of `spec` over a per-sample (H, W, C) input: checks it and returns the explicit paddings and the
// per-sample output (OH, OW).
ops::Window2d window_for(const std::string& layer, const Shape& input_shape, const WindowSpec& spec, std::int64_t& OH,
                         std::int64_t& OW) {
  ops::require(input_shape.size() == 3, [&] {
    return layer + " expects a per-sample input (height, width, channels), got " + shape_str(input_shape);
  });
  ops::require(spec.KH >= 1 && spec.KW >= 1 && spec.SH >= 1 && spec.SW >= 1,
               [&] { return layer + ": kernel size and strides must be >= 1"; });
  const AxisPadding h = axis_padding(input_shape[0], spec.KH, spec.SH, spec.same);
  const AxisPadding w = axis_padding(input_shape[1], spec.KW, spec.SW, spec.same);
  ops::require(h.out >= 1 && w.out >= 1, [&] {
    return layer + ": the window (" + std::to_string(spec.KH) + ", " + std::to_string(spec.KW) +
           ") is larger than the input " + shape_str(input_shape) + " with padding='valid': the output would be empty";
  });
  OH = h.out;
  OW = w.out;
  return {spec.SH, spec.SW, h.before, h.after, w.before, w.after, true};
}
}  // namespace

Shape Conv2D::build_impl(const Shape& input_shape, Device device) {
  ops::require(filters_ >= 1, "Conv2D filters must be >= 1");
  std::int64_t OH = 0, OW = 0;
  win_ = window_for("Conv2D", input_shape, spec_, OH, OW);
  const std::int64_t C = input_shape[2];
  kernel = Tensor::zeros({spec_.KH, spec_.KW, C, filters_}, device);
  dkernel = Tensor::zeros({spec_.KH, spec_.KW, C, filters_}, device);
  if (use_bias_) {
    bias = Tensor::zeros({filters_}, device);
    dbias = Tensor::zeros({filters_}, device);
  }
  return {OH, OW, filters_};
}

const Tensor& Conv2D::forward(const Tensor& x, bool) {
  ops::conv2d_forward(pre_, cache_, x, kernel, use_bias_ ? &bias : nullptr, win_);
  if (act_ == Act::Linear) return pre_;
  ops::activation_forward(out_, pre_, act_);
  return out_;
}

const Tensor& Conv2D::backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) {
  const Tensor* dpre = &dout;
  if (act_ != Act::Linear && !dout_is_preactivation) {
    ops::activation_backward(dpre_, dout, out_, act_);
    dpre = &dpre_;
  }
  ops::conv2d_backward(need_dinp ? &dx_ : nullptr, dkernel, use_bias_ ? &dbias : nullptr, *dpre, cache_, kernel,
                       !fresh_grads_);
  fresh_grads_ = false;
  return dx_;
}

std::vector<Param> Conv2D::params() {
  std::vector<Param> p{{"kernel", &kernel, &dkernel}};
  if (use_bias_) p.push_back({"bias", &bias, &dbias});
  return p;
}

Shape Pooling2D::build_impl(const Shape& input_shape, Device) {
  std::int64_t OH = 0, OW = 0;
  win_ = window_for(kind(), input_shape, spec_, OH, OW);
  return {OH, OW, input_shape[2]};
}

const Tensor& Pooling2D::forward(const Tensor& x, bool) {
  if (mode_ == Mode::Max)
    ops::max_pool2d_forward(out_, cache_, x, spec_.KH, spec_.KW, win_);
  else
    ops::avg_pool2d_forward(out_, cache_, x, spec_.KH, spec_.KW, win_, false);
  return out_;
}

const Tensor& Pooling2D::backward(const Tensor& dout, bool, bool need_dinp) {
  if (!need_dinp) return dx_;
  if (mode_ == Mode::Max)
    ops::max_pool2d_backward(dx_, dout, cache_);
  else
    ops::avg_pool2d_backward(dx_, dout, cache_);
  return dx_;
}

Shape GlobalAveragePooling2D::build_impl(const Shape& input_shape, Device) {
  ops::require(input_shape.size() == 3, [&] {
    return "GlobalAveragePooling2D expects a per-sample input (height, width, channels), got " + shape_str(input_shape);
  });
  return {input_shape[2]};
}

const Tensor& GlobalAveragePooling2D::forward(const Tensor& x, bool) {
  ops::global_avg_pool2d_forward(out_, cache_, x, true);
  return out_;
}

const Tensor& GlobalAveragePooling2D::backward(const Tensor& dout, bool, bool need_dinp) {
  if (need_dinp) ops::global_avg_pool2d_backward(dx_, dout, cache_);
  return dx_;
}

}  // namespace bnlab::nn
