// loss_cuda.cu — cross-entropy in its four forms, mean squared error, accuracy and argmax on the GPU, one warp
// per row (B rows of K classes). The maths and the floating-point types follow loss_cpu.cpp step by step:
//
// Probabilities (Keras from_logits=False): q = p / sum(p), qc = clip(q, eps, 1 - eps), loss = -sum y log qc.
//   dL/dq_j  = -y_j / qc_j where q_j is inside the clip range, 0 where clipped;
//   dL/dp_j  = (dL/dq_j - sum_i q_i dL/dq_i) / sum(p)                  (the renormalisation's Jacobian);
//   fused through a softmax that produced p: dL/dz_j = p_j (dL/dp_j - sum_k p_k dL/dp_k).
// Logits: loss = -sum y (z - logsumexp z);  dL/dz_j = softmax(z)_j * sum(y) - y_j.
// Every gradient is multiplied by `scale` (1/B for a batch mean). The CPU keeps q and dL/dq in a row buffer;
// here each lane recomputes them for its own columns (the same expressions give the same values).
// Sums run across the 32 lanes in double, in a different order from the CPU's left-to-right loop.
//
// Sparse labels of CUDA tensors are not range-checked by ops (that would need a copy to the host); a label
// outside [0, K) gives a NaN loss and a zero gradient row here instead of reading out of bounds.
#include <cmath>

#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {
namespace {
constexpr int kRowsPerBlock = kThreads / 32;

// Target value y[r, j]: one-hot of the label (sparse) or the stored float (categorical).
__device__ inline float target_at(const void* target, std::int64_t r, std::int64_t j, std::int64_t K, bool sparse) {
  if (sparse) return static_cast<const std::int32_t*>(target)[r] == j ? 1.0f : 0.0f;
  return static_cast<const float*>(target)[r * K + j];
}

__global__ void xent_kernel(float* loss_rows,    // (B)
                            float* grad,         // (B, K) or nullptr
                            const float* pred,   // (B, K)
                            const void* target,  // (B, K) float or (B) int32
                            std::int64_t B, std::int64_t K, bool sparse, bool logits, bool grad_wrt_logits, float eps,
                            float scale) {
  const std::int64_t r = blockIdx.x * std::int64_t(kRowsPerBlock) + threadIdx.x / 32;
  if (r >= B) return;  // whole warps leave together
  const int lane = threadIdx.x % 32;
  const float* p = pred + r * K;
  float* gr = grad ? grad + r * K : nullptr;
  if (sparse) {
    const std::int32_t label = static_cast<const std::int32_t*>(target)[r];
    if (label < 0 || label >= K) {
      for (std::int64_t j = lane; gr && j < K; j += 32) gr[j] = 0.0f;
      if (lane == 0) loss_rows[r] = NAN;
      return;
    }
  }
  double loss = 0.0;
  if (logits) {
    float m = -INFINITY;
    for (std::int64_t j = lane; j < K; j += 32) m = fmaxf(m, p[j]);
    m = warp_max(m);
    double se = 0.0;
    for (std::int64_t j = lane; j < K; j += 32) se += exp(static_cast<double>(p[j] - m));
    const double lse = m + log(warp_sum(se));
    double ysum = 0.0;
    for (std::int64_t j = lane; j < K; j += 32) {
      const float y = target_at(target, r, j, K, sparse);
      if (y != 0.0f) loss -= y * (p[j] - lse);  // a class with y = 0 adds nothing, even at z = -inf (as the CPU)
      ysum += y;
    }
    loss = warp_sum(loss);
    ysum = warp_sum(ysum);
    for (std::int64_t j = lane; gr && j < K; j += 32)
      gr[j] = scale * static_cast<float>(exp(p[j] - lse) * ysum - target_at(target, r, j, K, sparse));
  } else {
    double s = 0.0;
    for (std::int64_t j = lane; j < K; j += 32) s += p[j];
    s = warp_sum(s);
    // dL/dq_j (and the loss term) for column j; q_j and qc_j as the CPU computes them.
    auto dq = [&](std::int64_t j, float& q, double& term) {
      q = static_cast<float>(p[j] / s);
      const bool inside = q > eps && q < 1.0f - eps;
      // std::min(std::max(q, eps), 1 - eps) as the CPU writes it: a NaN q stays NaN (fmaxf would give eps).
      const float lo = q < eps ? eps : q;
      const float qc = 1.0f - eps < lo ? 1.0f - eps : lo;
      const float y = target_at(target, r, j, K, sparse);
      term = y * log(static_cast<double>(qc));
      return inside ? -y / qc : 0.0f;
    };
    double qg = 0.0;
    for (std::int64_t j = lane; j < K; j += 32) {
      float q;
      double term;
      const float g = dq(j, q, term);
      loss -= term;
      qg += static_cast<double>(q) * g;
    }
    loss = warp_sum(loss);
    qg = warp_sum(qg);
    if (gr) {
      auto dp = [&](std::int64_t j) {  // dL/dp_j
        float q;
        double term;
        const float g = dq(j, q, term);
        return static_cast<float>((g - qg) / s);
      };
      if (grad_wrt_logits) {
        double pg = 0.0;
        for (std::int64_t j = lane; j < K; j += 32) pg += static_cast<double>(p[j]) * dp(j);
        pg = warp_sum(pg);
        for (std::int64_t j = lane; j < K; j += 32) gr[j] = scale * p[j] * static_cast<float>(dp(j) - pg);
      } else {
        for (std::int64_t j = lane; j < K; j += 32) gr[j] = scale * dp(j);
      }
    }
  }
  if (lane == 0) loss_rows[r] = static_cast<float>(loss);
}

__global__ void mse_kernel(float* loss_rows,     // (B)
                           float* grad,          // (B, K) or nullptr
                           const float* pred,    // (B, K)
                           const float* target,  // (B, K)
                           std::int64_t B, std::int64_t K, float scale) {
  const std::int64_t r = blockIdx.x * std::int64_t(kRowsPerBlock) + threadIdx.x / 32;
  if (r >= B) return;
  const int lane = threadIdx.x % 32;
  double acc = 0.0;
  for (std::int64_t j = lane; j < K; j += 32) {
    const float d = pred[r * K + j] - target[r * K + j];
    acc += static_cast<double>(d) * d;
    if (grad) grad[r * K + j] = scale * 2.0f * d / static_cast<float>(K);
  }
  acc = warp_sum(acc);
  if (lane == 0) loss_rows[r] = static_cast<float>(acc / static_cast<double>(K));
}

// Index of the first maximum of x (K), as std::max_element: a NaN in x[0] wins (nothing compares greater),
// other NaNs are skipped. Every lane of the warp returns the result.
__device__ std::int32_t warp_argmax(const float* x, std::int64_t K) {
  const int lane = threadIdx.x % 32;
  float best = 0.0f;
  std::int64_t at = -1;  // -1: this lane has no candidate yet
  for (std::int64_t j = lane; j < K; j += 32) {
    const float v = x[j];
    if (!isnan(v) && (at < 0 || v > best)) {  // columns ascend within a lane: ties keep the first
      best = v;
      at = j;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float ob = __shfl_xor_sync(0xffffffffu, best, o);
    const std::int64_t oa = __shfl_xor_sync(0xffffffffu, at, o);
    if (oa >= 0 && (at < 0 || ob > best || (ob == best && oa < at))) {
      best = ob;
      at = oa;
    }
  }
  return (K > 0 && isnan(x[0])) || at < 0 ? 0 : static_cast<std::int32_t>(at);
}

__global__ void argmax_kernel(std::int32_t* out,  // (B)
                              const float* x,     // (B, K)
                              std::int64_t B, std::int64_t K) {
  const std::int64_t r = blockIdx.x * std::int64_t(kRowsPerBlock) + threadIdx.x / 32;
  if (r >= B) return;
  const std::int32_t a = warp_argmax(x + r * K, K);
  if (threadIdx.x % 32 == 0) out[r] = a;
}

__global__ void accuracy_kernel(float* correct,      // (B)
                                const float* pred,   // (B, K)
                                const void* target,  // (B, K) float or (B) int32
                                std::int64_t B, std::int64_t K, bool sparse) {
  const std::int64_t r = blockIdx.x * std::int64_t(kRowsPerBlock) + threadIdx.x / 32;
  if (r >= B) return;
  const std::int32_t guess = warp_argmax(pred + r * K, K);
  const std::int32_t truth =
      sparse ? static_cast<const std::int32_t*>(target)[r] : warp_argmax(static_cast<const float*>(target) + r * K, K);
  if (threadIdx.x % 32 == 0) correct[r] = guess == truth ? 1.0f : 0.0f;
}

unsigned row_blocks(std::int64_t B) { return static_cast<unsigned>((B + kRowsPerBlock - 1) / kRowsPerBlock); }
}  // namespace

// Shapes: kernel::Xent (backend/kernels.hpp).
void xent(float* loss_rows, float* grad, const float* pred, const void* target, std::int64_t B, std::int64_t K,
          XentForm form, bool grad_wrt_logits, float eps, float scale) {
  if (B <= 0) return;
  const bool sparse = form == XentForm::SparseProbs || form == XentForm::SparseLogits;
  const bool logits = form == XentForm::CategoricalLogits || form == XentForm::SparseLogits;
  xent_kernel<<<row_blocks(B), kThreads, 0, stream()>>>(loss_rows, grad, pred, target, B, K, sparse, logits,
                                                        grad_wrt_logits, eps, scale);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::Mse (backend/kernels.hpp).
void mse(float* loss_rows, float* grad, const float* pred, const float* target, std::int64_t B, std::int64_t K,
         float scale) {
  if (B <= 0) return;
  mse_kernel<<<row_blocks(B), kThreads, 0, stream()>>>(loss_rows, grad, pred, target, B, K, scale);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::Accuracy (backend/kernels.hpp).
void accuracy(float* correct, const float* pred, const void* target, std::int64_t B, std::int64_t K, bool sparse) {
  if (B <= 0) return;
  accuracy_kernel<<<row_blocks(B), kThreads, 0, stream()>>>(correct, pred, target, B, K, sparse);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::ArgmaxRows (backend/kernels.hpp).
void argmax_rows(std::int32_t* out, const float* x, std::int64_t B, std::int64_t K) {
  if (B <= 0) return;
  argmax_kernel<<<row_blocks(B), kThreads, 0, stream()>>>(out, x, B, K);
  BNLAB_CUDA_CHECK_LAUNCH();
}

}  // namespace bnlab::cuda
