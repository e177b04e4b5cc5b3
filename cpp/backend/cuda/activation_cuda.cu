// activation_cuda.cu — elementwise activations, the row-wise softmax and inverted dropout on the GPU.
//
// Backward is taken from the forward OUTPUT y (as on the CPU):
//   relu' = [y > 0], sigmoid' = y(1 - y), tanh' = 1 - y^2,
//   softmax: dx_j = y_j (dy_j - sum_k dy_k y_k)   (the Jacobian diag(y) - y y^T applied to dy).
// Softmax runs one warp per row (rows are class scores: short), max-subtracted like the CPU's.
// Dropout draws value i of the counter-based stream (seed, counter) from core/rng.hpp, the same function the
// CPU calls, so the masks of both devices are equal bit for bit.
#include <cmath>

#include "backend/cuda/cuda_common.cuh"
#include "core/rng.hpp"

namespace bnlab::cuda {
namespace {
__global__ void act_forward_kernel(float* out, const float* inp, std::int64_t n, Act act) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float x = inp[i];
    float y = x;
    if (act == Act::Relu)
      y = x <= 0.0f ? 0.0f : x;  // as the CPU: NaN stays NaN (fmaxf would turn it into 0), -0 becomes +0
    else if (act == Act::Sigmoid)
      y = 1.0f / (1.0f + expf(-x));
    else if (act == Act::Tanh)
      y = tanhf(x);
    out[i] = y;
  }
}

__global__ void act_backward_kernel(float* dinp, const float* dout, const float* out, std::int64_t n, Act act) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float dy = dout[i], y = out[i];
    float dx = dy;
    if (act == Act::Relu)
      dx = y > 0.0f ? dy : 0.0f;
    else if (act == Act::Sigmoid)
      dx = dy * y * (1.0f - y);
    else if (act == Act::Tanh)
      dx = dy * (1.0f - y * y);
    dinp[i] = dx;
  }
}

constexpr int kRowsPerBlock = kThreads / 32;  // one warp per row

__global__ void softmax_forward_kernel(float* out,        // (rows, D)
                                       const float* inp,  // (rows, D)
                                       std::int64_t rows, std::int64_t D) {
  const std::int64_t r = blockIdx.x * std::int64_t(kRowsPerBlock) + threadIdx.x / 32;
  if (r >= rows) return;  // whole warps leave together
  const int lane = threadIdx.x % 32;
  const float* x = inp + r * D;
  float* y = out + r * D;
  float m = -INFINITY;
  for (std::int64_t j = lane; j < D; j += 32) m = fmaxf(m, x[j]);
  m = warp_max(m);
  float s = 0.0f;
  for (std::int64_t j = lane; j < D; j += 32) {
    const float e = expf(x[j] - m);
    y[j] = e;
    s += e;
  }
  s = warp_sum(s);
  for (std::int64_t j = lane; j < D; j += 32) y[j] /= s;  // each lane rereads only what it wrote
}

__global__ void softmax_backward_kernel(float* dinp,        // (rows, D)
                                        const float* dout,  // (rows, D)
                                        const float* out,   // (rows, D)
                                        std::int64_t rows, std::int64_t D) {
  const std::int64_t r = blockIdx.x * std::int64_t(kRowsPerBlock) + threadIdx.x / 32;
  if (r >= rows) return;
  const int lane = threadIdx.x % 32;
  const float *dy = dout + r * D, *y = out + r * D;
  float dot = 0.0f;
  for (std::int64_t j = lane; j < D; j += 32) dot += dy[j] * y[j];
  dot = warp_sum(dot);
  for (std::int64_t j = lane; j < D; j += 32) dinp[r * D + j] = y[j] * (dy[j] - dot);
}

__global__ void dropout_forward_kernel(float* out,        // (n)
                                       float* mask,       // (n)
                                       const float* inp,  // (n)
                                       std::int64_t n, float rate, float keep_scale, std::uint64_t seed,
                                       std::uint64_t counter) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float m = random_uniform(seed, counter, static_cast<std::uint64_t>(i)) >= rate ? keep_scale : 0.0f;
    mask[i] = m;
    out[i] = inp[i] * m;
  }
}

__global__ void dropout_backward_kernel(float* dinp, const float* dout, const float* mask, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    dinp[i] = dout[i] * mask[i];
}

unsigned row_blocks(std::int64_t rows) { return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock); }
}  // namespace

// Shapes: kernel::ActivationForward (backend/kernels.hpp).
void activation_forward(float* out, const float* inp, std::int64_t rows, std::int64_t D, Act act) {
  const std::int64_t n = rows * D;
  if (n <= 0) return;
  if (act == Act::Linear) {
    if (out != inp) copy(out, inp, sizeof(float) * n);
    return;
  }
  if (act == Act::Softmax)
    softmax_forward_kernel<<<row_blocks(rows), kThreads, 0, stream()>>>(out, inp, rows, D);
  else
    act_forward_kernel<<<grid_1d(n), kThreads, 0, stream()>>>(out, inp, n, act);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::ActivationBackward (backend/kernels.hpp).
void activation_backward(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D, Act act) {
  const std::int64_t n = rows * D;
  if (n <= 0) return;
  if (act == Act::Linear) {
    if (dinp != dout) copy(dinp, dout, sizeof(float) * n);
    return;
  }
  if (act == Act::Softmax)
    softmax_backward_kernel<<<row_blocks(rows), kThreads, 0, stream()>>>(dinp, dout, out, rows, D);
  else
    act_backward_kernel<<<grid_1d(n), kThreads, 0, stream()>>>(dinp, dout, out, n, act);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::DropoutForward (backend/kernels.hpp).
void dropout_forward(float* out, float* mask, const float* inp, std::int64_t n, float rate, std::uint64_t seed,
                     std::uint64_t counter) {
  if (n <= 0) return;
  const float keep_scale = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;  // computed on the host, as the CPU does
  dropout_forward_kernel<<<grid_1d(n), kThreads, 0, stream()>>>(out, mask, inp, n, rate, keep_scale, seed, counter);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::DropoutBackward (backend/kernels.hpp).
void dropout_backward(float* dinp, const float* dout, const float* mask, std::int64_t n) {
  if (n <= 0) return;
  dropout_backward_kernel<<<grid_1d(n), kThreads, 0, stream()>>>(dinp, dout, mask, n);
  BNLAB_CUDA_CHECK_LAUNCH();
}

}  // namespace bnlab::cuda
