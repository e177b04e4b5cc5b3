// batchrenorm_cuda.cu — the per-feature steps of batch renormalisation on the GPU, one thread per feature.
// The equations and Keras's order are in backend/cpu/batchrenorm_cpu.cpp, the specification.
#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {
namespace {
// std::max / std::min exactly as the CPU evaluates them: (a < b) ? b : a and (b < a) ? b : a, so that a NaN in
// the first argument comes through (fmaxf / fminf would drop it and return the other argument).
__device__ inline float max_as_cpu(float a, float b) { return a < b ? b : a; }
__device__ inline float min_as_cpu(float a, float b) { return b < a ? b : a; }

__global__ void correct_kernel(float* gamma_eff, float* beta_eff, float* r, float* d, float* renorm_mean,
                               float* renorm_stddev, float* moving_mean, float* moving_stddev, float* moving_var,
                               const float* mean, const float* var, const float* gamma, const float* beta,
                               std::int64_t C, float eps, float rmin, float rmax, float dmax, float momentum,
                               float renorm_momentum) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const float sigma = sqrtf(var[c] + eps);
  const float sigma_mov = max_as_cpu(renorm_stddev[c], sqrtf(eps));
  const float rc = min_as_cpu(max_as_cpu(sigma / sigma_mov, rmin), rmax);
  const float dc = min_as_cpu(max_as_cpu((mean[c] - renorm_mean[c]) / sigma_mov, -dmax), dmax);
  const float g = gamma ? gamma[c] : 1.0f;
  r[c] = rc;
  d[c] = dc;
  gamma_eff[c] = g * rc;
  beta_eff[c] = g * dc + (beta ? beta[c] : 0.0f);
  renorm_mean[c] = renorm_mean[c] * renorm_momentum + mean[c] * (1.0f - renorm_momentum);
  renorm_stddev[c] = renorm_stddev[c] * renorm_momentum + sigma * (1.0f - renorm_momentum);
  moving_mean[c] = moving_mean[c] * momentum + mean[c] * (1.0f - momentum);
  moving_stddev[c] = moving_stddev[c] * momentum + sigma * (1.0f - momentum);
  moving_var[c] = max_as_cpu(moving_stddev[c] * moving_stddev[c] - eps, 0.0f);
}

__global__ void param_grads_kernel(float* dgamma, float* dbeta, const float* sum_dy_xhat, const float* sum_dy,
                                   const float* r, const float* d, std::int64_t C) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  if (dgamma) dgamma[c] += r[c] * sum_dy_xhat[c] + d[c] * sum_dy[c];
  if (dbeta) dbeta[c] += sum_dy[c];
}
}  // namespace

void batchrenorm_correct(float* gamma_eff, float* beta_eff, float* r, float* d, float* renorm_mean,
                         float* renorm_stddev, float* moving_mean, float* moving_stddev, float* moving_var,
                         const float* mean, const float* var, const float* gamma, const float* beta, std::int64_t C,
                         float eps, float rmin, float rmax, float dmax, float momentum, float renorm_momentum) {
  if (C == 0) return;
  correct_kernel<<<grid_1d(C), kThreads, 0, stream()>>>(gamma_eff, beta_eff, r, d, renorm_mean, renorm_stddev,
                                                        moving_mean, moving_stddev, moving_var, mean, var, gamma, beta,
                                                        C, eps, rmin, rmax, dmax, momentum, renorm_momentum);
  BNLAB_CUDA_CHECK_LAUNCH();
}

void batchrenorm_param_grads(float* dgamma, float* dbeta, const float* sum_dy_xhat, const float* sum_dy, const float* r,
                             const float* d, std::int64_t C) {
  if (C == 0) return;
  param_grads_kernel<<<grid_1d(C), kThreads, 0, stream()>>>(dgamma, dbeta, sum_dy_xhat, sum_dy, r, d, C);
  BNLAB_CUDA_CHECK_LAUNCH();
}

}  // namespace bnlab::cuda
