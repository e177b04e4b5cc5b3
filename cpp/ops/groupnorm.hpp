// groupnorm.hpp — the group- and layer-normalisation ops (checked entry points over the backend's
// groupnorm kernels; see backend/cpu/groupnorm_cpu.cpp for the maths). Outputs first; the forward writes the
// cache its backward reads; outputs are resized with Tensor::ensure (no allocation once warm).
#pragma once

#include <cstdint>

#include "core/tensor.hpp"

namespace bnlab::ops {

// x viewed as (N, A, G, K, L): G groups of K channels (C = G*K); group (n, g) has A*K*L values.
struct GNShape {
  std::int64_t N, A, G, K, L;
};
// Written by the forward, read by the backward.
struct NormCache {
  Tensor xhat;  // input's shape: (x - mean) * rstd
  Tensor mean;  // (N, G) per-sample group means
  Tensor rstd;  // (N, G) 1/sqrt(biased variance + eps)
};

// y = gamma_c * (x - mu_ng) * rstd_ng + beta_c. gamma, beta: (C) or nullptr.
void groupnorm_forward(Tensor& out, NormCache& cache, const Tensor& inp, const Tensor* gamma, const Tensor* beta,
                       GNShape s, float eps);
// dinp assigned; dgamma, dbeta (C) accumulate (may be nullptr).
void groupnorm_backward(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, const NormCache& cache,
                        const Tensor* gamma, GNShape s);

// Layer norm of x viewed as (R, D): each row normalised over its D values; gamma, beta (D). The one-group
// case of group norm: (N, A, G, K, L) = (R, 1, 1, D, 1). mean and rstd are (R, 1).
void layernorm_forward(Tensor& out, NormCache& cache, const Tensor& inp, const Tensor* gamma, const Tensor* beta,
                       std::int64_t R, std::int64_t D, float eps);
void layernorm_backward(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, const NormCache& cache,
                        const Tensor* gamma, std::int64_t R, std::int64_t D);

}  // namespace bnlab::ops
