// groupnorm_cpu.cpp — group normalisation on the CPU, and layer normalisation as its one-group case.
//
// x is viewed as (N, A, G, K, L): sample n, G groups of K channels each (C = G*K, channel c = g*K + k), and
// the positions of one sample split into A outer and L inner ones. Group (n, g) is normalised over its
// M = A*K*L values; gamma and beta are per channel. The three layouts the layers use:
//   layer norm, x (R, D), over the D features of a row:        (N, A, G, K, L) = (R, 1, 1, D, 1)
//   PyTorch GroupNorm, x (N, C, *) channels first:             (N, 1, G, C/G, prod(*))
//   Keras GroupNormalization, x (N, *, C) channels last:       (N, prod(*), G, C/G, 1)
// Forward, two passes over the group (the statistics must be known before any output can be written):
//   pass 1 (read x):  shifted sums in double, s1 = sum(x - k), s2 = sum((x - k)^2), k the group's first value;
//                     mu = k + s1/M, var = s2/M - (s1/M)^2 (biased), rstd = 1/sqrt(var + eps).
//   pass 2 (read x, write xhat and y): xhat = (x - mu) * rstd, y = gamma_c * xhat + beta_c.
// Backward, two passes: with g = gamma_c * dy (the gradient w.r.t. xhat), differentiating mu and var through
// x gives dx = rstd / M * (M*g - sum(g) - xhat * sum(g * xhat)), the sums over the group;
//   pass 1 (read dy, xhat): the two sums, and dgamma_c += dy * xhat, dbeta_c += dy along the way;
//   pass 2 (read dy, xhat, write dx).
// mean and rstd are (N, G). Unlike batch norm, the statistics are per sample: training and inference are the
// same transform, and a batch of one is as good as any.
#include <cmath>

#include "backend/cpu/kernels_cpu.hpp"

namespace bnlab::cpu {
namespace {
// Calls f(i, c) for every value of group (n, g) with its channel c. With L == 1 the channel is the innermost
// index, so each of the A runs is one contiguous loop over K; otherwise each (a, k) is a contiguous run of L.
template <class F>
inline void for_each_in_group(std::int64_t n, std::int64_t g, std::int64_t A, std::int64_t G, std::int64_t K,
                              std::int64_t L, F f) {
  for (std::int64_t a = 0; a < A; ++a) {
    const std::int64_t base = ((n * A + a) * G + g) * K * L;
    if (L == 1) {
      for (std::int64_t k = 0; k < K; ++k) f(base + k, g * K + k);
      continue;
    }
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t l = 0; l < L; ++l) f(base + k * L + l, g * K + k);
  }
}
}  // namespace

void groupnorm_forward(float* out,          // (N, A, G, K, L)
                       float* xhat,         // (N, A, G, K, L) cache
                       float* mean,         // (N, G) cache
                       float* rstd,         // (N, G) cache
                       const float* inp,    // (N, A, G, K, L)
                       const float* gamma,  // (G*K) or nullptr
                       const float* beta,   // (G*K) or nullptr
                       std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K, std::int64_t L, float eps) {
  const double M = static_cast<double>(A * K * L);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t g = 0; g < G; ++g) {
      const std::int64_t ng = n * G + g;
      if (M == 0) {
        mean[ng] = 0.0f;
        rstd[ng] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(eps)));
        continue;
      }
      const double shift = inp[(n * A * G + g) * K * L];  // the group's first value
      double s1 = 0.0, s2 = 0.0;
      for_each_in_group(n, g, A, G, K, L, [&](std::int64_t i, std::int64_t) {
        const double d = static_cast<double>(inp[i]) - shift;
        s1 += d;
        s2 += d * d;
      });
      const double m1 = s1 / M;
      double var = s2 / M - m1 * m1;
      var = var < 0.0 ? 0.0 : var;  // clamp rounding below 0; NaN propagates
      const float mu = static_cast<float>(shift + m1);
      const float r = static_cast<float>(1.0 / std::sqrt(var + eps));
      mean[ng] = mu;
      rstd[ng] = r;
      for_each_in_group(n, g, A, G, K, L, [&](std::int64_t i, std::int64_t c) {
        const float h = (inp[i] - mu) * r;
        xhat[i] = h;
        out[i] = (gamma ? gamma[c] : 1.0f) * h + (beta ? beta[c] : 0.0f);
      });
    }
}

void groupnorm_backward(float* dinp,         // (N, A, G, K, L)
                        float* dgamma,       // (G*K) or nullptr, accumulates
                        float* dbeta,        // (G*K) or nullptr, accumulates
                        const float* dout,   // (N, A, G, K, L)
                        const float* xhat,   // (N, A, G, K, L) from forward
                        const float* rstd,   // (N, G) from forward
                        const float* gamma,  // (G*K) or nullptr (treated as ones)
                        std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K, std::int64_t L) {
  const double M = static_cast<double>(A * K * L);
  if (M == 0) return;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t g = 0; g < G; ++g) {
      double sum_g = 0.0, sum_g_xhat = 0.0;  // pass 1
      for_each_in_group(n, g, A, G, K, L, [&](std::int64_t i, std::int64_t c) {
        const float dy = dout[i];
        const float gv = (gamma ? gamma[c] : 1.0f) * dy;
        sum_g += gv;
        sum_g_xhat += static_cast<double>(gv) * xhat[i];
        if (dgamma) dgamma[c] += dy * xhat[i];
        if (dbeta) dbeta[c] += dy;
      });
      const float k = static_cast<float>(rstd[n * G + g] / M);  // pass 2
      const float m = static_cast<float>(M);
      const float s1 = static_cast<float>(sum_g), s2 = static_cast<float>(sum_g_xhat);
      for_each_in_group(n, g, A, G, K, L, [&](std::int64_t i, std::int64_t c) {
        const float gv = (gamma ? gamma[c] : 1.0f) * dout[i];
        dinp[i] = k * (m * gv - s1 - xhat[i] * s2);
      });
    }
}

}  // namespace bnlab::cpu
