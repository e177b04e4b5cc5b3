// conv_layers.hpp — the convolutional layers of Keras, channels-last (per-sample input (H, W, C)): Conv2D,
// MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D. Built from the ops of ops/conv.hpp and ops/pool.hpp;
// each owns its parameters, gradients, caches and output buffers (reused across steps: no allocation once warm).
// Padding is Keras's: 'valid' (none) or 'same' (output ceil(I / S); the total padding
// max((O - 1)*S + KERNEL - I, 0) split with the odd pixel at the bottom/right).
#pragma once

#include "nn/layer.hpp"
#include "ops/pool.hpp"

namespace bnlab::nn {

// Kernel size, strides and padding mode of a 2-D window layer.
struct WindowSpec {
  std::int64_t KH, KW, SH, SW;
  bool same;  // 'same' padding, else 'valid'
};

// y = act(conv(x, kernel) + bias) with the Keras kernel (KH, KW, C, filters) and bias (filters).
class Conv2D : public Layer {
 public:
  Conv2D(std::int64_t filters, WindowSpec spec, bool use_bias, Act activation)
      : filters_(filters), spec_(spec), use_bias_(use_bias), act_(activation) {}
  std::string kind() const override { return "Conv2D"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) override;
  Act output_activation() const override { return act_; }
  std::vector<Param> params() override;

  Tensor kernel, bias, dkernel, dbias;  // (KH, KW, C, filters), (filters)

 private:
  std::int64_t filters_;
  WindowSpec spec_;
  bool use_bias_;
  Act act_;
  ops::Window2d win_;  // strides and explicit paddings, fixed at build
  ops::ConvCache cache_;
  Tensor pre_, out_, dpre_, dx_;
};

// Max or average pooling over (KH, KW) windows of each channel. Average pooling with 'same' padding divides by
// the number of input values in the window (Keras/TF), never counting the padding.
class Pooling2D : public Layer {
 public:
  enum class Mode { Max, Average };
  Pooling2D(Mode mode, WindowSpec spec) : mode_(mode), spec_(spec) {}
  std::string kind() const override { return mode_ == Mode::Max ? "MaxPooling2D" : "AveragePooling2D"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) override;

 private:
  Mode mode_;
  WindowSpec spec_;
  ops::Window2d win_;
  ops::PoolCache cache_;
  Tensor out_, dx_;
};

// (B, H, W, C) -> (B, C): the mean of each channel over the image.
class GlobalAveragePooling2D : public Layer {
 public:
  std::string kind() const override { return "GlobalAveragePooling2D"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) override;

 private:
  ops::PoolCache cache_;
  Tensor out_, dx_;
};

}  // namespace bnlab::nn
