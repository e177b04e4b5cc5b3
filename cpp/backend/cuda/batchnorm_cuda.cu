// batchnorm_cuda.cu — batch normalisation on the GPU, x viewed as (N, C, L); feature c has M = N*L values.
//
// Layout: x is N rows of J = C*L contiguous values; column j belongs to feature c = j / L. Every kernel
// here puts 32 consecutive columns across a warp (coalesced reads for any L) and strides over rows.
//
// Training forward (the same maths as batchnorm_cpu.cpp), statistics in ONE read of x:
//   1. column_partials: each block sums, in double, over its share of rows, the shifted values d = x - k
//      and d^2 per column (k = x[0, c, 0], the CPU's shift): part (G, 2, J).
//   2. stats_finalize: one warp per feature adds the G*L partials of its columns, in a fixed order;
//      mu = k + s1/M, var = s2/M - (s1/M)^2 (biased, clamped at 0), rstd = 1/sqrt(var + eps).
//   3. normalize_train: xhat = (x - mu) * rstd, y = gamma * xhat + beta (second read of x, the only other).
// Backward, with y = gamma*xhat + beta and xhat = (x - mu)*rstd:
//   dbeta = sum(dy), dgamma = sum(dy * xhat), and through mu and var
//   dx = gamma * rstd / M * (M*dy - sum(dy) - xhat * sum(dy * xhat)).
//   1. column_partials of dy and dy*xhat (one read of dy and xhat);  2. backward_finalize: the two sums per
//   feature, dgamma/dbeta += them, and the per-feature coefficients;  3. backward_dx.
// Fused ReLU (BatchNormalization then Activation('relu')): normalize_train writes max(y, 0), and the backward
// gates dy by [y > 0] as it reads it, in column_partials and backward_dx: no pass of its own for the ReLU.
// No atomics: every sum is taken in a fixed order, so results are the same from run to run.
#include <cmath>

#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {
namespace {
__device__ inline float relu(float v) { return v <= 0.0f ? 0.0f : v; }  // NaN stays NaN, as the CPU's
// a[i] gated by the fused ReLU's output: [gate > 0] * a (a NaN gate closes), or a[i] without a gate.
__device__ inline float gated(const float* a, const float* gate, std::int64_t i) {
  return gate && !(gate[i] > 0.0f) ? 0.0f : a[i];
}

// part (G, 2, J) with G = gridDim.y: per block row and column, s1 = sum a' and s2 = sum a' * b' where
// forward (b == nullptr): a' = b' = a - a[0, c, 0];  backward: a' = [gate > 0] * a (a without a gate), b' = b.
__global__ void column_partials(double* part,       // (G, 2, J)
                                const float* a,     // (N, J)
                                const float* b,     // (N, J) or nullptr
                                const float* gate,  // (N, J) or nullptr (backward of a fused ReLU only)
                                std::int64_t N, std::int64_t J, std::int64_t L) {
  __shared__ double sh1[kRowTile][kColTile], sh2[kRowTile][kColTile];
  const std::int64_t j = blockIdx.x * std::int64_t(kColTile) + threadIdx.x;
  double s1 = 0.0, s2 = 0.0;
  if (j < J) {
    const double k = b ? 0.0 : a[(j / L) * L];  // x[0, c, 0]
    const std::int64_t stride = std::int64_t(gridDim.y) * kRowTile;
    std::int64_t n = blockIdx.y * std::int64_t(kRowTile) + threadIdx.y;
    // Four rows per iteration: four independent loads in flight per thread, which the bandwidth needs.
    for (; n + 3 * stride < N; n += 4 * stride) {
      float v[4], w[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) v[u] = gated(a, gate, (n + u * stride) * J + j);
      if (b) {
#pragma unroll
        for (int u = 0; u < 4; ++u) w[u] = b[(n + u * stride) * J + j];
      }
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const double d = b ? double(v[u]) : double(v[u]) - k;
        s1 += d;
        s2 += d * (b ? double(w[u]) : d);
      }
    }
    for (; n < N; n += stride) {
      const double av = gated(a, gate, n * J + j);
      const double d = b ? av : av - k;
      s1 += d;
      s2 += d * (b ? double(b[n * J + j]) : d);
    }
  }
  sh1[threadIdx.y][threadIdx.x] = s1;
  sh2[threadIdx.y][threadIdx.x] = s2;
  __syncthreads();
  if (threadIdx.y == 0 && j < J) {
    for (int r = 1; r < kRowTile; ++r) {
      s1 += sh1[r][threadIdx.x];
      s2 += sh2[r][threadIdx.x];
    }
    part[(2 * std::int64_t(blockIdx.y)) * J + j] = s1;
    part[(2 * std::int64_t(blockIdx.y) + 1) * J + j] = s2;
  }
}

// The two sums of feature c over its G*L partials, by one warp; the result is in every lane.
__device__ void feature_sums(double& s1, double& s2, const double* part, int G, std::int64_t J, std::int64_t L,
                             std::int64_t c) {
  s1 = s2 = 0.0;
  for (std::int64_t e = threadIdx.x % 32; e < G * L; e += 32) {
    const std::int64_t g = e / L, col = c * L + e % L;
    s1 += part[(2 * g) * J + col];
    s2 += part[(2 * g + 1) * J + col];
  }
  s1 = warp_sum(s1);
  s2 = warp_sum(s2);
}

__global__ void stats_finalize(float* mean,         // (C)
                               float* var,          // (C)
                               float* rstd,         // (C)
                               const double* part,  // (G, 2, J)
                               const float* inp,    // (N, C, L): the shift x[0, c, 0]
                               int G, std::int64_t C, std::int64_t L, double M, float eps) {
  const std::int64_t c = (blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x) / 32;
  if (c >= C) return;  // whole warps leave together
  double s1, s2;
  feature_sums(s1, s2, part, G, C * L, L, c);
  if (threadIdx.x % 32) return;
  const double m1 = s1 / M, v = s2 / M - m1 * m1;
  mean[c] = static_cast<float>(inp[c * L] + m1);
  var[c] = static_cast<float>(v < 0.0 ? 0.0 : v);  // clamp rounding below 0; NaN propagates (as the CPU)
  rstd[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(var[c]) + eps));
}

__global__ void normalize_train(float* out,          // (N, C, L)
                                float* xhat,         // (N, C, L)
                                const float* inp,    // (N, C, L)
                                const float* mean,   // (C)
                                const float* rstd,   // (C)
                                const float* gamma,  // (C) or nullptr
                                const float* beta,   // (C) or nullptr
                                std::int64_t N, std::int64_t J, std::int64_t L, bool fuse_relu) {
  const std::int64_t j = blockIdx.x * std::int64_t(kColTile) + threadIdx.x;
  if (j >= J) return;
  const std::int64_t c = j / L;
  const float mu = mean[c], rs = rstd[c], g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
  for (std::int64_t n = blockIdx.y * std::int64_t(kRowTile) + threadIdx.y; n < N;
       n += std::int64_t(gridDim.y) * kRowTile) {
    const float h = (inp[n * J + j] - mu) * rs;
    xhat[n * J + j] = h;
    const float y = g * h + b;
    out[n * J + j] = fuse_relu ? relu(y) : y;
  }
}

// y = (x - mu) * a + beta with a = gamma * rstd folded per column in double, as the CPU does. Not
// x * a + (beta - mu * a): with |mu| >> std that form cancels two large terms and loses digits.
__global__ void normalize_infer(float* out,          // (N, C, L)
                                const float* inp,    // (N, C, L)
                                const float* mean,   // (C)
                                const float* var,    // (C)
                                const float* gamma,  // (C) or nullptr
                                const float* beta,   // (C) or nullptr
                                std::int64_t N, std::int64_t J, std::int64_t L, float eps, bool fuse_relu) {
  const std::int64_t j = blockIdx.x * std::int64_t(kColTile) + threadIdx.x;
  if (j >= J) return;
  const std::int64_t c = j / L;
  const float a = static_cast<float>((gamma ? gamma[c] : 1.0) / sqrt(static_cast<double>(var[c]) + eps));
  const float mu = mean[c], b = beta ? beta[c] : 0.0f;
  for (std::int64_t n = blockIdx.y * std::int64_t(kRowTile) + threadIdx.y; n < N;
       n += std::int64_t(gridDim.y) * kRowTile) {
    const float y = (inp[n * J + j] - mu) * a + b;
    out[n * J + j] = fuse_relu ? relu(y) : y;
  }
}

// Per feature: dgamma += sum(dy*xhat), dbeta += sum(dy), and coef (C, 3) = (gamma*rstd/M, sum dy, sum dy*xhat).
__global__ void backward_finalize(float* coef,         // (C, 3)
                                  float* dgamma,       // (C) or nullptr
                                  float* dbeta,        // (C) or nullptr
                                  const double* part,  // (G, 2, J)
                                  const float* rstd,   // (C)
                                  const float* gamma,  // (C) or nullptr
                                  int G, std::int64_t C, std::int64_t L, double M) {
  const std::int64_t c = (blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x) / 32;
  if (c >= C) return;
  double sum_dy, sum_dy_xhat;
  feature_sums(sum_dy, sum_dy_xhat, part, G, C * L, L, c);
  if (threadIdx.x % 32) return;
  if (dgamma) dgamma[c] += static_cast<float>(sum_dy_xhat);
  if (dbeta) dbeta[c] += static_cast<float>(sum_dy);
  coef[3 * c] = static_cast<float>((gamma ? gamma[c] : 1.0f) * rstd[c] / M);
  coef[3 * c + 1] = static_cast<float>(sum_dy);
  coef[3 * c + 2] = static_cast<float>(sum_dy_xhat);
}

__global__ void backward_dx(float* dinp,            // (N, C, L)
                            const float* dout,      // (N, C, L)
                            const float* xhat,      // (N, C, L)
                            const float* coef,      // (C, 3)
                            const float* relu_out,  // (N, C, L) or nullptr: gates dout
                            std::int64_t N, std::int64_t J, std::int64_t L, float m) {
  const std::int64_t j = blockIdx.x * std::int64_t(kColTile) + threadIdx.x;
  if (j >= J) return;
  const std::int64_t c = j / L;
  const float k = coef[3 * c], mdy = coef[3 * c + 1], mdyx = coef[3 * c + 2];
  for (std::int64_t n = blockIdx.y * std::int64_t(kRowTile) + threadIdx.y; n < N;
       n += std::int64_t(gridDim.y) * kRowTile)
    dinp[n * J + j] = k * (m * gated(dout, relu_out, n * J + j) - mdy - xhat[n * J + j] * mdyx);
}

__global__ void blend_kernel(float* moving, const float* batch, float keep, float batch_scale, std::int64_t C) {
  for (std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; c < C;
       c += std::int64_t(gridDim.x) * blockDim.x)
    moving[c] = moving[c] * keep + batch[c] * batch_scale * (1.0f - keep);
}

// Launches column_partials over (N, J) into the Reduce scratch; returns it and its number of row blocks G.
double* partials(int& G, const float* a, const float* b, const float* gate, std::int64_t N, std::int64_t J,
                 std::int64_t L) {
  const dim3 grid = grid_2d(N, J);
  G = static_cast<int>(grid.y);
  auto* part = static_cast<double*>(scratch(Scratch::Reduce, sizeof(double) * 2 * grid.y * J));
  column_partials<<<grid, dim3(kColTile, kRowTile), 0, stream()>>>(part, a, b, gate, N, J, L);
  BNLAB_CUDA_CHECK_LAUNCH();
  return part;
}

unsigned warps_grid(std::int64_t C) { return static_cast<unsigned>((C * 32 + kThreads - 1) / kThreads); }
}  // namespace

// Shapes: kernel::BatchnormForwardTrain (backend/kernels.hpp).
void batchnorm_forward_train(float* out, float* xhat, float* mean, float* var, float* rstd, const float* inp,
                             const float* gamma, const float* beta, std::int64_t N, std::int64_t C, std::int64_t L,
                             float eps, bool fuse_relu) {
  if (N * L == 0 || C == 0) return;  // ops::batchnorm_forward_train requires N*L >= 1
  const std::int64_t J = C * L;
  int G = 0;
  const double* part = partials(G, inp, nullptr, nullptr, N, J, L);
  stats_finalize<<<warps_grid(C), kThreads, 0, stream()>>>(mean, var, rstd, part, inp, G, C, L,
                                                           static_cast<double>(N * L), eps);
  BNLAB_CUDA_CHECK_LAUNCH();
  normalize_train<<<grid_2d(N, J), dim3(kColTile, kRowTile), 0, stream()>>>(out, xhat, inp, mean, rstd, gamma, beta, N,
                                                                            J, L, fuse_relu);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::BatchnormForwardInfer (backend/kernels.hpp).
void batchnorm_forward_infer(float* out, const float* inp, const float* mean, const float* var, const float* gamma,
                             const float* beta, std::int64_t N, std::int64_t C, std::int64_t L, float eps,
                             bool fuse_relu) {
  if (N * C * L == 0) return;
  const std::int64_t J = C * L;
  normalize_infer<<<grid_2d(N, J), dim3(kColTile, kRowTile), 0, stream()>>>(out, inp, mean, var, gamma, beta, N, J, L,
                                                                            eps, fuse_relu);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::BatchnormBackward (backend/kernels.hpp).
void batchnorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                        const float* rstd, const float* gamma, const float* relu_out, std::int64_t N, std::int64_t C,
                        std::int64_t L) {
  if (N * L == 0 || C == 0) return;  // empty sums: dgamma and dbeta gain 0, dinp is empty
  const std::int64_t J = C * L;
  int G = 0;
  const double* part = partials(G, dout, xhat, relu_out, N, J, L);
  auto* coef = static_cast<float*>(scratch(Scratch::Coef, sizeof(float) * 3 * C));
  const double M = static_cast<double>(N * L);
  backward_finalize<<<warps_grid(C), kThreads, 0, stream()>>>(coef, dgamma, dbeta, part, rstd, gamma, G, C, L, M);
  BNLAB_CUDA_CHECK_LAUNCH();
  backward_dx<<<grid_2d(N, J), dim3(kColTile, kRowTile), 0, stream()>>>(dinp, dout, xhat, coef, relu_out, N, J, L,
                                                                        static_cast<float>(M));
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::Blend (backend/kernels.hpp).
void blend(float* moving, const float* batch, float keep, float batch_scale, std::int64_t C) {
  if (C <= 0) return;
  blend_kernel<<<grid_1d(C), kThreads, 0, stream()>>>(moving, batch, keep, batch_scale, C);
  BNLAB_CUDA_CHECK_LAUNCH();
}

}  // namespace bnlab::cuda
