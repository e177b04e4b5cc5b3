// groupnorm_cuda.cu — group normalisation (and layer normalisation, its one-group case) on the GPU.
// x is viewed as (N, A, G, K, L); the maths is groupnorm_cpu.cpp's, which is the specification.
//
// Forward: one block per group (n, g). The block sums the shifted values d = x - k and d^2 in double
// (k = the group's first value, the CPU's shift), reduces them in shared memory, and in a second read writes
// xhat = (x - mu) * rstd and y = gamma_c * xhat + beta_c.
// Backward: one block per group for the two sums sum(g), sum(g * xhat) with g = gamma_c * dy and then
// dx = rstd / M * (M*g - sum(g) - xhat * sum(g * xhat)); a second kernel, one thread per channel, adds
// dgamma_c += sum(dy * xhat) and dbeta_c += sum(dy) over (N, A, L) in a fixed order (no atomics: results are
// the same from run to run).
#include <cmath>

#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {
namespace {
constexpr int kGroupThreads = 256;

// The flat index of value m (of M = A*K*L) of group (n, g), and its channel.
__device__ inline std::int64_t group_index(std::int64_t n, std::int64_t g, std::int64_t m, std::int64_t A,
                                           std::int64_t G, std::int64_t K, std::int64_t L, std::int64_t* c) {
  const std::int64_t KL = K * L;
  const std::int64_t a = m / KL, rem = m - a * KL;
  *c = g * K + rem / L;
  return ((n * A + a) * G + g) * KL + rem;
}

// Sums two doubles over the block; every thread receives the totals.
__device__ inline void block_sum2(double& s1, double& s2) {
  __shared__ double sh1[kGroupThreads / 32], sh2[kGroupThreads / 32];
  s1 = warp_sum(s1);
  s2 = warp_sum(s2);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    sh1[warp] = s1;
    sh2[warp] = s2;
  }
  __syncthreads();
  s1 = 0.0;
  s2 = 0.0;
  for (int w = 0; w < kGroupThreads / 32; ++w) {
    s1 += sh1[w];
    s2 += sh2[w];
  }
  __syncthreads();
}

__global__ void groupnorm_forward_kernel(float* out, float* xhat, float* mean, float* rstd, const float* inp,
                                         const float* gamma, const float* beta, std::int64_t A, std::int64_t G,
                                         std::int64_t K, std::int64_t L, float eps) {
  const std::int64_t n = blockIdx.x / G, g = blockIdx.x % G;
  const std::int64_t M = A * K * L;
  std::int64_t c;
  const double shift = inp[group_index(n, g, 0, A, G, K, L, &c)];
  double s1 = 0.0, s2 = 0.0;
  for (std::int64_t m = threadIdx.x; m < M; m += kGroupThreads) {
    const double d = double(inp[group_index(n, g, m, A, G, K, L, &c)]) - shift;
    s1 += d;
    s2 += d * d;
  }
  block_sum2(s1, s2);
  const double m1 = s1 / double(M);
  double var = s2 / double(M) - m1 * m1;
  var = var < 0.0 ? 0.0 : var;
  const float mu = float(shift + m1);
  const float r = float(1.0 / sqrt(var + double(eps)));
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = mu;
    rstd[blockIdx.x] = r;
  }
  for (std::int64_t m = threadIdx.x; m < M; m += kGroupThreads) {
    const std::int64_t i = group_index(n, g, m, A, G, K, L, &c);
    const float h = (inp[i] - mu) * r;
    xhat[i] = h;
    out[i] = (gamma ? gamma[c] : 1.0f) * h + (beta ? beta[c] : 0.0f);
  }
}

__global__ void groupnorm_dx_kernel(float* dinp, const float* dout, const float* xhat, const float* rstd,
                                    const float* gamma, std::int64_t A, std::int64_t G, std::int64_t K,
                                    std::int64_t L) {
  const std::int64_t n = blockIdx.x / G, g = blockIdx.x % G;
  const std::int64_t M = A * K * L;
  std::int64_t c;
  double s1 = 0.0, s2 = 0.0;
  for (std::int64_t m = threadIdx.x; m < M; m += kGroupThreads) {
    const std::int64_t i = group_index(n, g, m, A, G, K, L, &c);
    const float gv = (gamma ? gamma[c] : 1.0f) * dout[i];
    s1 += gv;
    s2 += double(gv) * xhat[i];
  }
  block_sum2(s1, s2);
  const float k = float(rstd[blockIdx.x] / double(M)), mf = float(M);
  const float f1 = float(s1), f2 = float(s2);
  for (std::int64_t m = threadIdx.x; m < M; m += kGroupThreads) {
    const std::int64_t i = group_index(n, g, m, A, G, K, L, &c);
    const float gv = (gamma ? gamma[c] : 1.0f) * dout[i];
    dinp[i] = k * (mf * gv - f1 - xhat[i] * f2);
  }
}

// One thread per channel c = g*K + k: sums over n, a and l of dy * xhat and dy.
__global__ void groupnorm_param_grads_kernel(float* dgamma, float* dbeta, const float* dout, const float* xhat,
                                             std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K,
                                             std::int64_t L) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= G * K) return;
  double sg = 0.0, sb = 0.0;
  for (std::int64_t na = 0; na < N * A; ++na)
    for (std::int64_t l = 0; l < L; ++l) {
      const std::int64_t i = (na * G * K + c) * L + l;
      sg += double(dout[i]) * xhat[i];
      sb += dout[i];
    }
  if (dgamma) dgamma[c] += float(sg);
  if (dbeta) dbeta[c] += float(sb);
}
}  // namespace

void groupnorm_forward(float* out, float* xhat, float* mean, float* rstd, const float* inp, const float* gamma,
                       const float* beta, std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K,
                       std::int64_t L, float eps) {
  if (N * G == 0) return;
  if (A * K * L == 0) {  // empty groups: mean 0, rstd 1/sqrt(eps), as the CPU
    fill(mean, 0.0f, N * G);
    fill(rstd, float(1.0 / std::sqrt(double(eps))), N * G);
    return;
  }
  groupnorm_forward_kernel<<<unsigned(N * G), kGroupThreads, 0, stream()>>>(out, xhat, mean, rstd, inp, gamma, beta, A,
                                                                            G, K, L, eps);
  BNLAB_CUDA_CHECK_LAUNCH();
}

void groupnorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                        const float* rstd, const float* gamma, std::int64_t N, std::int64_t A, std::int64_t G,
                        std::int64_t K, std::int64_t L) {
  if (N * G == 0 || A * K * L == 0) return;
  groupnorm_dx_kernel<<<unsigned(N * G), kGroupThreads, 0, stream()>>>(dinp, dout, xhat, rstd, gamma, A, G, K, L);
  BNLAB_CUDA_CHECK_LAUNCH();
  if (dgamma || dbeta) {
    const std::int64_t C = G * K;
    groupnorm_param_grads_kernel<<<unsigned((C + kThreads - 1) / kThreads), kThreads, 0, stream()>>>(
        dgamma, dbeta, dout, xhat, N, A, G, K, L);
    BNLAB_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace bnlab::cuda
