// layers.hpp — the concrete layers: Dense, BatchNorm, Activation, Dropout, Flatten. Each is built from the
// ops in ops/ops.hpp and owns its parameters, its gradients and the caches its ops need.
#pragma once

#include "nn/layer.hpp"

namespace bnlab::nn {

// y = act(x @ W + b), W (IN, OUT) as Keras's kernel.
class Dense : public Layer {
 public:
  Dense(std::int64_t units, bool use_bias, Act activation) : units_(units), use_bias_(use_bias), act_(activation) {}
  std::string kind() const override { return "Dense"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) override;
  Act output_activation() const override { return act_; }
  std::vector<Param> params() override;

  Tensor kernel, bias, dkernel, dbias;  // (IN, OUT), (OUT)

 private:
  std::int64_t units_;
  bool use_bias_;
  Act act_;
  const Tensor* x_ = nullptr;  // (B, IN), owned by the previous layer or the model
  Tensor pre_, out_, dpre_, dx_;
};

// What every normalisation layer holds alike: epsilon, and whether gamma (scale) and beta (center) apply.
// All three are read at every call, so that a change after build applies from the next step (as Keras 3 reads
// them in call). gamma and beta exist either way; with scale (center) off, gamma (beta) is neither applied nor
// listed in params(), so the optimizer leaves it as it is, as Keras skips a weight without a gradient.
class NormLayer : public Layer {
 public:
  NormLayer(float epsilon, bool center, bool scale) : epsilon_(epsilon), center_(center), scale_(scale) {}
  float epsilon() const { return epsilon_; }
  void set_epsilon(float epsilon) { epsilon_ = epsilon; }
  bool center() const { return center_; }
  bool scale() const { return scale_; }
  void set_center(bool center) {
    center_ = center;
    params_changed();
  }
  void set_scale(bool scale) {
    scale_ = scale;
    params_changed();
  }

 protected:
  float epsilon_;
  bool center_, scale_;
};

// Batch normalisation over one axis of the per-sample shape (Keras semantics; see batchnorm.cpp).
class BatchNorm : public NormLayer {
 public:
  BatchNorm(int axis, float momentum, float epsilon, bool center, bool scale)
      : NormLayer(epsilon, center, scale), momentum(momentum), axis_(axis) {}
  std::string kind() const override { return "BatchNormalization"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  // backward takes the gradient w.r.t. the output of the last forward: the ReLU's after forward_relu.
  const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) override;
  // forward with the ReLU of a following Activation('relu') applied in the same pass, out = max(y, 0).
  // Sequential uses it for that pair of layers, and skips the Activation.
  const Tensor& forward_relu(const Tensor& x, bool training);
  std::vector<Param> params() override;
  std::vector<std::pair<std::string, Tensor*>> buffers() override;
  ops::BNShape view_of(const Tensor& x) const;

  Tensor gamma, beta, moving_mean, moving_variance;  // (C) each
  Tensor dgamma, dbeta, dx;                          // (C), (C), input shape
  ops::BNCache cache;                                // xhat, batch mean, biased batch variance, rstd
  float momentum;  // Keras convention: moving = momentum * moving + (1 - momentum) * batch; read at every step

 protected:
  // The training-mode transform and its backward; the variants (nn/norm_layers.hpp) replace them and
  // keep the inference transform. train_backward runs after the parameter gradients were readied.
  virtual void train_forward(const Tensor& x, bool fuse_relu);
  virtual void train_backward(const Tensor& dout);
  int axis_;  // index into the per-sample shape
  std::int64_t inner_ = 1, channels_ = 0;
  const Tensor& run_forward(const Tensor& x, bool training, bool fuse_relu);
  bool trained_ = false;     // the last forward ran the training transform (else the backward is the inference one's)
  bool fused_relu_ = false;  // the last forward applied the ReLU (out_ is its output, which gates the backward)
  Tensor out_, zero_mean_;   // zero_mean_ (C): zeros, for the backward of the inference transform
};

class Activation : public Layer {
 public:
  explicit Activation(Act act) : act_(act) {}
  Act act() const { return act_; }
  std::string kind() const override { return "Activation"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) override;
  Act output_activation() const override { return act_; }

 private:
  Act act_;
  Tensor out_, dx_;
};

// Inverted dropout: training keeps a value with probability 1 - rate and scales it by 1 / (1 - rate).
class Dropout : public Layer {
 public:
  Dropout(float rate, std::uint64_t seed) : rate_(rate), seed_(seed) {}
  std::string kind() const override { return "Dropout"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) override;

 private:
  float rate_;
  std::uint64_t seed_, counter_ = 0;
  bool dropped_ = false;  // whether the last forward applied a mask
  Tensor out_, mask_, dx_;
};

// (B, d1, d2, ...) -> (B, d1*d2*...), a view sharing the input's storage.
class Flatten : public Layer {
 public:
  std::string kind() const override { return "Flatten"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) override;

 private:
  Shape in_shape_, dx_shape_;  // per-sample input shape; (B, per-sample) for the backward view
  Tensor out_, dx_;
};

}  // namespace bnlab::nn
