// batchrenorm_cpu.cpp — the per-feature steps of batch renormalisation (Ioffe 2017) on the CPU.
//
// Batch renormalisation reuses the batch-norm kernels for everything that touches x (see ops/batchrenorm.cpp):
// the training forward is y = gamma * (xhat * r + d) + beta = gamma_eff * xhat + beta_eff with
//   sigma_B = sqrt(var_B + eps),  r = clip(sigma_B / sigma_mov, rmin, rmax),  d = clip((mu_B - mu_mov) / sigma_mov,
//   -dmax, dmax),  gamma_eff = gamma * r,  beta_eff = gamma * d + beta,
// and r, d are constants in the backward (the paper's stop_gradient). What is left are these C-sized steps.
// Keras's order (keras/src/layers/normalization/batch_normalization.py, renorm=True): r and d use the renorm
// statistics BEFORE this batch's update, and sigma_mov is max(renorm_stddev, sqrt(eps)); then
//   renorm_mean   <- renorm_momentum * renorm_mean   + (1 - renorm_momentum) * mu_B
//   renorm_stddev <- renorm_momentum * renorm_stddev + (1 - renorm_momentum) * sigma_B
//   moving_mean   <- momentum * moving_mean   + (1 - momentum) * mu_B
//   moving_stddev <- momentum * moving_stddev + (1 - momentum) * sigma_B
//   moving_variance = max(moving_stddev^2 - eps, 0)          (what inference reads, as in plain BN)
#include <algorithm>
#include <cmath>

#include "backend/cpu/kernels_cpu.hpp"

namespace bnlab::cpu {

// Shapes: kernel::BatchrenormCorrect (backend/kernels.hpp).
void batchrenorm_correct(float* gamma_eff, float* beta_eff, float* r, float* d, float* renorm_mean,
                         float* renorm_stddev, float* moving_mean, float* moving_stddev, float* moving_var,
                         const float* mean, const float* var, const float* gamma, const float* beta, std::int64_t C,
                         float eps, float rmin, float rmax, float dmax, float momentum, float renorm_momentum) {
  const float floor_std = std::sqrt(eps);
  for (std::int64_t c = 0; c < C; ++c) {
    const float sigma = std::sqrt(var[c] + eps);
    const float sigma_mov = std::max(renorm_stddev[c], floor_std);
    const float rc = std::min(std::max(sigma / sigma_mov, rmin), rmax);
    const float dc = std::min(std::max((mean[c] - renorm_mean[c]) / sigma_mov, -dmax), dmax);
    const float g = gamma ? gamma[c] : 1.0f;
    r[c] = rc;
    d[c] = dc;
    gamma_eff[c] = g * rc;
    beta_eff[c] = g * dc + (beta ? beta[c] : 0.0f);
    renorm_mean[c] = renorm_mean[c] * renorm_momentum + mean[c] * (1.0f - renorm_momentum);
    renorm_stddev[c] = renorm_stddev[c] * renorm_momentum + sigma * (1.0f - renorm_momentum);
    moving_mean[c] = moving_mean[c] * momentum + mean[c] * (1.0f - momentum);
    moving_stddev[c] = moving_stddev[c] * momentum + sigma * (1.0f - momentum);
    moving_var[c] = std::max(moving_stddev[c] * moving_stddev[c] - eps, 0.0f);
  }
}

// With y = gamma * (xhat * r + d) + beta and r, d constant: dgamma = sum(dy * (xhat * r + d))
// = r * sum(dy * xhat) + d * sum(dy), dbeta = sum(dy); the sums come from batchnorm_backward.
// Shapes: kernel::BatchrenormParamGrads (backend/kernels.hpp).
void batchrenorm_param_grads(float* dgamma, float* dbeta, const float* sum_dy_xhat, const float* sum_dy, const float* r,
                             const float* d, std::int64_t C) {
  for (std::int64_t c = 0; c < C; ++c) {
    if (dgamma) dgamma[c] += r[c] * sum_dy_xhat[c] + d[c] * sum_dy[c];
    if (dbeta) dbeta[c] += sum_dy[c];
  }
}

}  // namespace bnlab::cpu
