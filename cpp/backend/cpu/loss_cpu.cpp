// loss_cpu.cpp — cross-entropy in its four forms, mean squared error and accuracy on the CPU.
//
// Probabilities (Keras from_logits=False): q = p / sum(p), qc = clip(q, eps, 1 - eps), loss = -sum y log qc.
//   dL/dq_j  = -y_j / qc_j where q_j is inside the clip range, 0 where clipped;
//   dL/dp_j  = (dL/dq_j - sum_i q_i dL/dq_i) / sum(p)                  (the renormalisation's Jacobian);
//   fused through a softmax that produced p: dL/dz_j = p_j (dL/dp_j - sum_k p_k dL/dp_k).
//   With one-hot y and nothing clipped this is the familiar p - y.
// Logits: loss = -sum y (z - logsumexp z);  dL/dz_j = softmax(z)_j * sum(y) - y_j.
// Every gradient is multiplied by `scale` (1/B for a batch mean).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/kernels_cpu.hpp"
#include "backend/cpu/scratch.hpp"
#include "core/profile.hpp"

namespace bnlab::cpu {
namespace {
// The target row as dense floats (one-hot for sparse labels).
void target_row(float* t, const void* target, std::int64_t r, std::int64_t K, bool sparse) {
  if (sparse) {
    std::fill(t, t + K, 0.0f);
    t[static_cast<const std::int32_t*>(target)[r]] = 1.0f;
  } else {
    std::memcpy(t, static_cast<const float*>(target) + r * K, sizeof(float) * static_cast<std::size_t>(K));
  }
}

struct RowWork;  // scratch.hpp tag: one row's target, probabilities and gradient
}  // namespace

void xent(float* loss_rows, float* grad, const float* pred, const void* target, std::int64_t B, std::int64_t K,
          XentForm form, bool grad_wrt_logits, float eps, float scale) {
  const profile::Scope timer({"loss.xent", B, K, 0});
  const bool sparse = form == XentForm::SparseProbs || form == XentForm::SparseLogits;
  const bool logits = form == XentForm::CategoricalLogits || form == XentForm::SparseLogits;
  float* y = thread_scratch<float, RowWork>(3 * K);
  float* q = y + K;
  float* g = y + 2 * K;
  for (std::int64_t r = 0; r < B; ++r) {
    const float* p = pred + r * K;
    float* gr = grad ? grad + r * K : nullptr;
    target_row(y, target, r, K, sparse);
    double loss = 0.0;
    if (logits) {  // e_j = exp(z_j - m) in float, summed in double; softmax_j = e_j / sum(e)
      const float m = *std::max_element(p, p + K);
      for (std::int64_t j = 0; j < K; ++j) q[j] = std::exp(p[j] - m);
      double se = 0.0;  // summed apart from the exps: a sum carried across the calls went through memory
      for (std::int64_t j = 0; j < K; ++j) se += q[j];
      const double lse = m + std::log(se);
      double ysum = 0.0;
      for (std::int64_t j = 0; j < K; ++j) {
        if (y[j] != 0.0f) loss -= y[j] * (p[j] - lse);  // a class with y = 0 adds nothing, even at z = -inf
        ysum += y[j];
      }
      if (gr) {
        const double w = ysum / se;
        for (std::int64_t j = 0; j < K; ++j) gr[j] = scale * static_cast<float>(q[j] * w - y[j]);
      }
    } else {
      double s = 0.0;
      for (std::int64_t j = 0; j < K; ++j) s += p[j];
      double qg = 0.0;
      for (std::int64_t j = 0; j < K; ++j) {
        q[j] = static_cast<float>(p[j] / s);
        const bool inside = q[j] > eps && q[j] < 1.0f - eps;
        const float qc = std::min(std::max(q[j], eps), 1.0f - eps);
        if (y[j] != 0.0f) loss -= y[j] * std::log(static_cast<double>(qc));  // qc >= eps: 0 * log(qc) is 0
        g[j] = inside ? -y[j] / qc : 0.0f;                                   // dL/dq
        qg += static_cast<double>(q[j]) * g[j];
      }
      if (gr) {
        for (std::int64_t j = 0; j < K; ++j) g[j] = static_cast<float>((g[j] - qg) / s);  // dL/dp
        if (grad_wrt_logits) {
          double pg = 0.0;
          for (std::int64_t j = 0; j < K; ++j) pg += static_cast<double>(p[j]) * g[j];
          for (std::int64_t j = 0; j < K; ++j) gr[j] = scale * p[j] * static_cast<float>(g[j] - pg);
        } else {
          for (std::int64_t j = 0; j < K; ++j) gr[j] = scale * g[j];
        }
      }
    }
    loss_rows[r] = static_cast<float>(loss);
  }
}

void mse(float* loss_rows, float* grad, const float* pred, const float* target, std::int64_t B, std::int64_t K,
         float scale) {
  const profile::Scope timer({"loss.mse", B, K, 0});
  for (std::int64_t r = 0; r < B; ++r) {
    double acc = 0.0;
    for (std::int64_t j = 0; j < K; ++j) {
      const float d = pred[r * K + j] - target[r * K + j];
      acc += static_cast<double>(d) * d;
      if (grad) grad[r * K + j] = scale * 2.0f * d / static_cast<float>(K);
    }
    loss_rows[r] = static_cast<float>(acc / static_cast<double>(K));
  }
}

void argmax_rows(std::int32_t* out, const float* x, std::int64_t B, std::int64_t K) {
  for (std::int64_t r = 0; r < B; ++r)  // first maximum wins, as in NumPy, Keras and PyTorch
    out[r] = static_cast<std::int32_t>(std::max_element(x + r * K, x + (r + 1) * K) - (x + r * K));
}

void accuracy(float* correct, const float* pred, const void* target, std::int64_t B, std::int64_t K, bool sparse) {
  const profile::Scope timer({"loss.accuracy", B, K, 0});
  for (std::int64_t r = 0; r < B; ++r) {
    std::int32_t guess = 0, truth = 0;
    argmax_rows(&guess, pred + r * K, 1, K);
    if (sparse)
      truth = static_cast<const std::int32_t*>(target)[r];
    else
      argmax_rows(&truth, static_cast<const float*>(target) + r * K, 1, K);
    correct[r] = guess == truth ? 1.0f : 0.0f;
  }
}

double sum(const float* x, std::int64_t n) {
  double s = 0.0;
  for (std::int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}

void accumulate_sums(double* acc, const float* a, const float* b, std::int64_t n) {
  const profile::Scope timer({"loss.sums", n, 0, 0});
  acc[0] += sum(a, n);
  acc[1] += sum(b, n);
}

}  // namespace bnlab::cpu
