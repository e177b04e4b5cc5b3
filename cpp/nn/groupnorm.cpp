// groupnorm.cpp — the GroupNormalization and LayerNormalization layers on the group-norm ops.
//
//   y = gamma_c * (x - mu_{n,g}) / sqrt(var_{n,g} + eps) + beta_c
// with mu and the biased var taken per sample n over its group g (GroupNorm: the C/G channels of the group
// and every other per-sample position; LayerNorm: all the normalised axes). No batch statistics, so no
// moving averages, and training = inference. The per-sample view (A, G, K, L) is fixed at build time.
#include <string>

#include "nn/norm_layers.hpp"

namespace bnlab::nn {

Shape GroupNorm::make_params(const Shape& param_shape, Device device) {
  gamma = Tensor::full(param_shape, 1.0f, device);
  beta = Tensor::zeros(param_shape, device);
  dgamma = Tensor::zeros(param_shape, device);
  dbeta = Tensor::zeros(param_shape, device);
  return input_shape_;
}

Shape GroupNorm::build_impl(const Shape& input_shape, Device device) {
  const int rank = static_cast<int>(input_shape.size());
  ops::require(axis_ >= 0 && axis_ < rank,
               [&] { return "GroupNormalization axis is out of range for input shape " + shape_str(input_shape); });
  const std::int64_t C = input_shape[static_cast<std::size_t>(axis_)];
  const std::int64_t G = groups_ == -1 ? C : groups_;
  ops::require(G >= 1 && G <= C && C % G == 0, [&] {
    return "GroupNormalization groups=" + std::to_string(groups_) + " must divide the " + std::to_string(C) +
           " channels of axis " + std::to_string(axis_ + 1);
  });
  std::int64_t A = 1, L = 1;
  for (int i = 0; i < axis_; ++i) A *= input_shape[static_cast<std::size_t>(i)];
  for (int i = axis_ + 1; i < rank; ++i) L *= input_shape[static_cast<std::size_t>(i)];
  per_sample_ = {1, A, G, C / G, L};
  return make_params({C}, device);
}

Shape LayerNorm::build_impl(const Shape& input_shape, Device device) {
  const int rank = static_cast<int>(input_shape.size());
  ops::require(axis_ >= 0 && axis_ < rank,
               [&] { return "LayerNormalization axis is out of range for input shape " + shape_str(input_shape); });
  const Shape normalised(input_shape.begin() + axis_, input_shape.end());
  std::int64_t D = 1;
  for (std::int64_t d : normalised) D *= d;
  std::int64_t A = 1;
  for (int i = 0; i < axis_; ++i) A *= input_shape[static_cast<std::size_t>(i)];
  // Rows are (sample, leading position) pairs: N*A rows of D values, one group each.
  per_sample_ = {A, 1, 1, D, 1};
  return make_params(normalised, device);
}

ops::GNShape GroupNorm::view_of(const Tensor& x) const {
  const ops::GNShape& p = per_sample_;
  const std::int64_t per = p.N * p.A * p.G * p.K * p.L;  // values per sample
  const std::int64_t B = per ? x.numel() / per : 0;
  return {B * p.N, p.A, p.G, p.K, p.L};
}

const Tensor& GroupNorm::forward(const Tensor& x, bool) {
  ops::groupnorm_forward(out_, cache, x, scale_ ? &gamma : nullptr, center_ ? &beta : nullptr, view_of(x), epsilon_);
  return out_;
}

const Tensor& GroupNorm::backward(const Tensor& dout, bool, bool) {
  const bool train = trainable;  // a frozen layer still passes the gradient to its input
  if (train && fresh_grads_) {
    dgamma.fill(0.0f);
    dbeta.fill(0.0f);
    fresh_grads_ = false;
  }
  ops::groupnorm_backward(dx, train && scale_ ? &dgamma : nullptr, train && center_ ? &dbeta : nullptr, dout, cache,
                          scale_ ? &gamma : nullptr, view_of(dout));
  return dx;
}

std::vector<Param> GroupNorm::params() {
  std::vector<Param> p;
  if (scale_) p.push_back({"gamma", &gamma, &dgamma});
  if (center_) p.push_back({"beta", &beta, &dbeta});
  return p;
}

}  // namespace bnlab::nn
