// batchnorm_variants.cpp — BatchNorm's training-mode variants: batch renormalisation and ghost batch norm.
// Both keep BatchNorm's inference transform (moving_mean, moving_variance) and its frozen-layer backward; only
// train_forward / train_backward differ. The ops hold the maths (ops/batchrenorm.hpp, ops/ghostbatchnorm.hpp).
#include <string>

#include "nn/norm_layers.hpp"

namespace bnlab::nn {

// ---- batch renormalisation ----
Shape BatchRenorm::build_impl(const Shape& input_shape, Device device) {
  const Shape out = BatchNorm::build_impl(input_shape, device);
  // Keras initialises the standard deviations as sqrt(moving_variance_initializer) = 1; the Keras face
  // overwrites all five with its initializers.
  state.renorm_mean = Tensor::zeros({channels_}, device);
  state.renorm_stddev = Tensor::full({channels_}, 1.0f, device);
  state.moving_stddev = Tensor::full({channels_}, 1.0f, device);
  state.moving_mean = moving_mean;          // shared storage: BatchNorm's inference reads these two
  state.moving_variance = moving_variance;  //
  return out;
}

std::vector<std::pair<std::string, Tensor*>> BatchRenorm::buffers() {
  // Keras's order: moving_mean, moving_variance, moving_stddev, renorm_mean, renorm_stddev.
  return {{"moving_mean", &moving_mean},
          {"moving_variance", &moving_variance},
          {"moving_stddev", &state.moving_stddev},
          {"renorm_mean", &state.renorm_mean},
          {"renorm_stddev", &state.renorm_stddev}};
}

void BatchRenorm::train_forward(const Tensor& x, bool fuse_relu) {
  ops::batchrenorm_forward_train(out_, cache, corr, state, x, scale_ ? &gamma : nullptr, center_ ? &beta : nullptr,
                                 view_of(x), epsilon_, clip, momentum, renorm_momentum, fuse_relu);
}

void BatchRenorm::train_backward(const Tensor& dout) {
  ops::batchrenorm_backward(dx, scale_ ? &dgamma : nullptr, center_ ? &dbeta : nullptr, corr, dout, cache,
                            view_of(dout), fused_relu_ ? &out_ : nullptr);
}

// ---- ghost batch norm ----
Shape GhostBatchNorm::build_impl(const Shape& input_shape, Device device) {
  ops::require(virtual_batch_size >= 1, [&] {
    return "virtual_batch_size must be a positive integer, got " + std::to_string(virtual_batch_size);
  });
  ops::require(axis_ == 0, [&] {
    return "virtual_batch_size needs the feature axis right after the batch axis (input shape " +
           shape_str(input_shape) + ")";
  });
  return BatchNorm::build_impl(input_shape, device);
}

void GhostBatchNorm::train_forward(const Tensor& x, bool fuse_relu) {
  ops::ghost_batchnorm_forward_train(out_, ghost, x, scale_ ? &gamma : nullptr, center_ ? &beta : nullptr, view_of(x),
                                     virtual_batch_size, epsilon_, fuse_relu);
  ops::blend(moving_mean, ghost.mean, momentum);
  ops::blend(moving_variance, ghost.var, momentum);
}

void GhostBatchNorm::train_backward(const Tensor& dout) {
  ops::ghost_batchnorm_backward(dx, scale_ ? &dgamma : nullptr, center_ ? &dbeta : nullptr, dout, ghost,
                                scale_ ? &gamma : nullptr, view_of(dout), virtual_batch_size,
                                fused_relu_ ? &out_ : nullptr);
}

}  // namespace bnlab::nn
