// ghostbatchnorm.hpp — ghost batch normalisation (Keras 2's virtual_batch_size) as a view of batch norm.
//
// x (B, C, L) with B = k * V is reshaped, as Keras 2 does, to (k, V, C, L): virtual batch v holds the samples
// {v, v + V, v + 2V, ...}. Viewed as (k, V*C, L) that is plain batch norm over V*C "features", so the
// batch-norm kernels do all the work on x; gamma and beta are tiled V times, the (V*C) statistics are
// averaged over v for the moving averages (Keras 2 blends those averages), and the (V*C) parameter gradients
// summed over v. Two small kernels of the tensor table do the tiling and the sums, without allocating.
#pragma once

#include "ops/ops.hpp"

namespace bnlab::ops {

struct GhostCache {
  BNCache bn;                                                 // over the (k, V*C, L) view
  Tensor gamma_tiled, beta_tiled, dgamma_tiled, dbeta_tiled;  // (V*C)
  Tensor mean, var;                                           // (C) means over v of the batch mean, var
  Tensor scratch;                                             // (C)
};

// s is the layer's (B, C, L) view; k the virtual batch size, which must divide B.
void ghost_batchnorm_forward_train(Tensor& out, GhostCache& cache, const Tensor& inp, const Tensor* gamma,
                                   const Tensor* beta, BNShape s, std::int64_t k, float eps, bool fuse_relu = false);
// dgamma, dbeta (C) accumulate (may be nullptr); relu_out as batchnorm_backward's.
// gamma: the forward's (tiled again there), or nullptr.
void ghost_batchnorm_backward(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, GhostCache& cache,
                              const Tensor* gamma, BNShape s, std::int64_t k, const Tensor* relu_out = nullptr);

}  // namespace bnlab::ops
