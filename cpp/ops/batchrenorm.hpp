// batchrenorm.hpp — batch renormalisation (Ioffe 2017) as ops: the batch-norm kernels for everything that
// touches x, plus two per-feature kernels (backend/cpu/batchrenorm_cpu.cpp has the equations and Keras's order).
//
// Training forward, x viewed as (N, C, L):
//   1. batchnorm_forward_train without gamma/beta: mu_B, var_B, rstd, xhat (the cache);
//   2. batchrenorm_correct: r, d (clipped), gamma_eff = gamma*r, beta_eff = gamma*d + beta, and the moving
//      statistics' updates;
//   3. batchnorm_forward_infer with (mu_B, var_B, gamma_eff, beta_eff): y = gamma*(xhat*r + d) + beta.
// Backward with r, d constants: batchnorm_backward with gamma_eff gives dx and the sums sum(dy*xhat), sum(dy);
// batchrenorm_param_grads turns them into dgamma = r*sum(dy*xhat) + d*sum(dy), dbeta = sum(dy).
#pragma once

#include "ops/ops.hpp"

namespace bnlab::ops {

// The moving statistics, all (C). Inference reads moving_mean and moving_variance like plain batch norm.
struct RenormState {
  Tensor renorm_mean, renorm_stddev;  // what r and d are measured against (renorm_momentum)
  Tensor moving_mean, moving_stddev;  // for inference (momentum)
  Tensor moving_variance;             // max(moving_stddev^2 - eps, 0)
};
// The last training step's corrections and the backward's scratch, all (C).
struct RenormCorrection {
  Tensor r, d, gamma_eff, beta_eff;
  Tensor sum_dy_xhat, sum_dy;
};
// r is clipped to [rmin, rmax] and d to [-dmax, dmax] (Keras's defaults for missing keys: 0, inf, inf).
struct RenormClip {
  float rmin, rmax, dmax;
};

void batchrenorm_forward_train(Tensor& out, BNCache& cache, RenormCorrection& corr, RenormState& state,
                               const Tensor& inp, const Tensor* gamma, const Tensor* beta, BNShape s, float eps,
                               RenormClip clip, float momentum, float renorm_momentum, bool fuse_relu = false);
// dinp assigned; dgamma, dbeta (C) accumulate (may be nullptr). corr's sums are overwritten. relu_out: the
// fused forward's output (fuse_relu), as batchnorm_backward's.
void batchrenorm_backward(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, RenormCorrection& corr, const Tensor& dout,
                          const BNCache& cache, BNShape s, const Tensor* relu_out = nullptr);

}  // namespace bnlab::ops
