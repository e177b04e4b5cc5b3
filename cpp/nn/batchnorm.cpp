// batchnorm.cpp — Keras's BatchNormalization layer on the batchnorm ops.
//
// Training:  y = gamma * (x - mu_B) / sqrt(var_B + eps) + beta with the batch's mean and BIASED variance;
//            moving_mean     = momentum * moving_mean     + (1 - momentum) * mu_B
//            moving_variance = momentum * moving_variance + (1 - momentum) * var_B   (biased, as Keras).
// Inference: the same transform with moving_mean and moving_variance.
// A layer with trainable = false always runs in inference mode (Keras 3).
// forward_relu fuses a following ReLU into the same pass (see backend/cpu/batchnorm_cpu.cpp); the backward
// then gates its incoming gradient by [out > 0], exactly what the ReLU's own backward would have done.
// The feature axis may be any axis of the per-sample shape: x (B, d0..dk) is viewed as (outer, C, inner).
#include "nn/layers.hpp"

namespace bnlab::nn {

Shape BatchNorm::build_impl(const Shape& input_shape, Device device) {
  const int rank = static_cast<int>(input_shape.size());
  ops::require(rank >= 1, "BatchNormalization needs at least one feature axis");
  ops::require(axis_ >= 0 && axis_ < rank,
               "BatchNormalization axis is out of range for input shape " + shape_str(input_shape));
  channels_ = input_shape[static_cast<std::size_t>(axis_)];
  inner_ = 1;
  for (int i = axis_ + 1; i < rank; ++i) inner_ *= input_shape[static_cast<std::size_t>(i)];
  gamma = Tensor::full({channels_}, 1.0f, device);
  beta = Tensor::zeros({channels_}, device);
  moving_mean = Tensor::zeros({channels_}, device);
  moving_variance = Tensor::full({channels_}, 1.0f, device);
  dgamma = Tensor::zeros({channels_}, device);
  dbeta = Tensor::zeros({channels_}, device);
  zero_mean_ = Tensor::zeros({channels_}, device);
  return input_shape;
}

ops::BNShape BatchNorm::view_of(const Tensor& x) const {
  const std::int64_t per_sample = channels_ * inner_;
  return {per_sample ? x.numel() / per_sample : 0, channels_, inner_};
}

const Tensor& BatchNorm::forward(const Tensor& x, bool training) { return run_forward(x, training, false); }

const Tensor& BatchNorm::forward_relu(const Tensor& x, bool training) { return run_forward(x, training, true); }

const Tensor& BatchNorm::run_forward(const Tensor& x, bool training, bool fuse_relu) {
  const ops::BNShape s = view_of(x);
  const Tensor* g = scale_ ? &gamma : nullptr;
  const Tensor* b = center_ ? &beta : nullptr;
  trained_ = training && trainable;
  fused_relu_ = fuse_relu;
  if (!trained_) {
    ops::batchnorm_forward_infer(out_, x, moving_mean, moving_variance, g, b, s, epsilon_, fuse_relu);
    return out_;
  }
  train_forward(x, fuse_relu);
  return out_;
}

void BatchNorm::train_forward(const Tensor& x, bool fuse_relu) {
  ops::batchnorm_forward_train(out_, cache, x, scale_ ? &gamma : nullptr, center_ ? &beta : nullptr, view_of(x),
                               epsilon_, fuse_relu);
  ops::blend(moving_mean, cache.mean, momentum);
  ops::blend(moving_variance, cache.var, momentum);
}

void BatchNorm::train_backward(const Tensor& dout) {
  ops::batchnorm_backward(dx, scale_ ? &dgamma : nullptr, center_ ? &dbeta : nullptr, dout, cache,
                          scale_ ? &gamma : nullptr, view_of(dout), fused_relu_ ? &out_ : nullptr);
}

const Tensor& BatchNorm::backward(const Tensor& dout, bool, bool) {
  if (!trained_) {
    // Inference mode (a frozen layer): y = (x - moving_mean) * gamma / sqrt(moving_variance + eps) + beta is
    // affine in x, so dx = dy * gamma / sqrt(moving_variance + eps): the same transform applied to dy with a
    // zero mean and no beta. gamma and beta are not trained in this mode. A fused ReLU's gate comes first
    // (into dx, which the transform then rewrites in place: it is elementwise).
    const Tensor* dy = &dout;
    if (fused_relu_) {
      ops::activation_backward(dx, dout, out_, Act::Relu);
      dy = &dx;
    }
    ops::batchnorm_forward_infer(dx, *dy, zero_mean_, moving_variance, scale_ ? &gamma : nullptr, nullptr,
                                 view_of(dout), epsilon_);
    return dx;
  }
  if (fresh_grads_) {
    dgamma.fill(0.0f);
    dbeta.fill(0.0f);
    fresh_grads_ = false;
  }
  train_backward(dout);
  return dx;
}

std::vector<Param> BatchNorm::params() {
  std::vector<Param> p;
  if (scale_) p.push_back({"gamma", &gamma, &dgamma});
  if (center_) p.push_back({"beta", &beta, &dbeta});
  return p;
}

std::vector<std::pair<std::string, Tensor*>> BatchNorm::buffers() {
  return {{"moving_mean", &moving_mean}, {"moving_variance", &moving_variance}};
}

}  // namespace bnlab::nn
