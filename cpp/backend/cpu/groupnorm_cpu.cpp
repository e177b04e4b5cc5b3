// groupnorm_cpu.cpp — group normalisation on the CPU, and layer normalisation as its one-group case.
//
// x is viewed as (N, A, G, K, L): sample n, G groups of K channels each (C = G*K, channel c = g*K + k), and
// the positions of one sample split into A outer and L inner ones. Group (n, g) is normalised over its
// M = A*K*L values; gamma and beta are per channel. The three layouts the layers use:
//   layer norm, x (R, D), over the D features of a row:        (N, A, G, K, L) = (R, 1, 1, D, 1)
//   PyTorch GroupNorm, x (N, C, *) channels first:             (N, 1, G, C/G, prod(*))
//   Keras GroupNormalization, x (N, *, C) channels last:       (N, prod(*), G, C/G, 1)
// Forward, two passes over the group (the statistics must be known before any output can be written):
//   pass 1 (read x):  shifted sums (float lanes into double totals, run_sums.hpp), s1 = sum(x - k),
//                     s2 = sum((x - k)^2), k the group's first value;
//                     mu = k + s1/M, var = s2/M - (s1/M)^2 (biased), rstd = 1/sqrt(var + eps).
//   pass 2 (read x, write xhat and y): xhat = (x - mu) * rstd, y = gamma_c * xhat + beta_c.
// Backward, two passes: with g = gamma_c * dy (the gradient w.r.t. xhat), differentiating mu and var through
// x gives dx = rstd / M * (M*g - sum(g) - xhat * sum(g * xhat)), the sums over the group;
//   pass 1 (read dy, xhat): the two sums, and dgamma_c += dy * xhat, dbeta_c += dy along the way (channels
//                     innermost: g = gamma * dy formed in a scratch row, then run_sums; channels outer: the
//                     per-channel sums of dy and dy * xhat over each run of L, which give both);
//   pass 2 (read dy, xhat, write dx).
// mean and rstd are (N, G). Unlike batch norm, the statistics are per sample: training and inference are the
// same transform, and a batch of one is as good as any.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/kernels_cpu.hpp"
#include "backend/cpu/parallel.hpp"
#include "backend/cpu/run_sums.hpp"
#include "backend/cpu/scratch.hpp"
#include "core/profile.hpp"

namespace bnlab::cpu {
namespace {
using i64 = std::int64_t;

constexpr i64 kMinParallelValues = 1 << 16;  // below this a pass is faster on one thread
constexpr i64 kChunks = 8;                   // the backward's parameter-gradient partials

struct AffineAndPartials;  // scratch.hpp tags: the identity affine and the parameter-gradient partials
struct ScaledRun;          // each thread's gamma * dy run

// h = (x - mu) * r;  y = gamma * h + beta over one run; gamma/beta per value (channels innermost) or one
// channel's scalars. __restrict lets the loop vectorise without alias checks.
template <class P>
void affine_run(float* __restrict y, float* __restrict h, const float* __restrict x, float mu, float r, P g, P b,
                i64 n) {
  for (i64 i = 0; i < n; ++i) {
    const float v = (x[i] - mu) * r;
    h[i] = v;
    y[i] = at(g, i) * v + at(b, i);
  }
}

// dx = k * (m * gamma * dy - s1 - h * s2) over one run.
template <class P>
void dx_run(float* __restrict dx, const float* __restrict dy, const float* __restrict h, P g, float k, float m,
            float s1, float s2, i64 n) {
  for (i64 i = 0; i < n; ++i) dx[i] = k * (m * (at(g, i) * dy[i]) - s1 - h[i] * s2);
}

// gv = gamma * dy; dgamma += dy * h; dbeta += dy over one run with channels innermost.
void grad_row(float* __restrict gv, float* __restrict dgamma, float* __restrict dbeta, const float* __restrict dy,
              const float* __restrict h, const float* __restrict g, i64 n) {
  for (i64 i = 0; i < n; ++i) {
    gv[i] = g[i] * dy[i];
    dgamma[i] += dy[i] * h[i];
    dbeta[i] += dy[i];
  }
}

// gamma and beta as arrays of C (ones and zeros where absent), so the runs never branch on nullptr; written
// into the first 2C floats of `scratch`.
struct Affine {
  const float* gamma;
  const float* beta;
};
Affine affine_or_identity(float* scratch, const float* gamma, const float* beta, i64 C) {
  float* ones = scratch;
  float* zeros = scratch + C;
  for (i64 c = 0; c < C; ++c) {
    ones[c] = gamma ? gamma[c] : 1.0f;
    zeros[c] = beta ? beta[c] : 0.0f;
  }
  return {ones, zeros};
}
}  // namespace

// Shapes: kernel::GroupnormForward (backend/kernels.hpp).
void groupnorm_forward(float* out, float* xhat, float* mean, float* rstd, const float* inp, const float* gamma,
                       const float* beta, std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K,
                       std::int64_t L, float eps) {
  const profile::Scope timer(
      {"groupnorm.forward", N * G, A * K * L, 0, '-', '-', 0, 0.0, 0.0, 16.0 * N * A * G * K * L});
  const double M = static_cast<double>(A * K * L);
  const i64 run = K * L;  // each of a group's A runs is contiguous
  const Affine ab = affine_or_identity(thread_scratch<float, AffineAndPartials>(2 * G * K), gamma, beta, G * K);
  auto forward_group = [&](i64 n, i64 g) {
    const i64 ng = n * G + g;
    if (M == 0) {
      mean[ng] = 0.0f;
      rstd[ng] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(eps)));
      return;
    }
    const float shift = inp[(n * A * G + g) * run];  // the group's first value
    double s1 = 0.0, s2 = 0.0;
    for (i64 a = 0; a < A; ++a)
      run_sums<false, true>(s1, s2, inp + ((n * A + a) * G + g) * run, nullptr, nullptr, shift, run);
    const double m1 = s1 / M;
    double var = s2 / M - m1 * m1;
    var = var < 0.0 ? 0.0 : var;  // clamp rounding below 0; NaN propagates
    const float mu = static_cast<float>(shift + m1);
    const float r = static_cast<float>(1.0 / std::sqrt(var + eps));
    mean[ng] = mu;
    rstd[ng] = r;
    const float* gk = ab.gamma + g * K;
    const float* bk = ab.beta + g * K;
    for (i64 a = 0; a < A; ++a) {
      const i64 base = ((n * A + a) * G + g) * run;
      if (L == 1) {
        affine_run<const float*>(out + base, xhat + base, inp + base, mu, r, gk, bk, K);
        continue;
      }
      for (i64 k = 0; k < K; ++k) {
        const i64 o = base + k * L;
        affine_run<float>(out + o, xhat + o, inp + o, mu, r, gk[k], bk[k], L);
      }
    }
  };
  parallel_for(N * G, std::max<i64>(1, kMinParallelValues / std::max<i64>(A * run, 1)), [&](i64, i64 u0, i64 u1) {
    for (i64 ng = u0; ng < u1; ++ng) forward_group(ng / G, ng % G);
  });
}

// Shapes: kernel::GroupnormBackward (backend/kernels.hpp).
void groupnorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                        const float* rstd, const float* gamma, std::int64_t N, std::int64_t A, std::int64_t G,
                        std::int64_t K, std::int64_t L) {
  const profile::Scope timer(
      {"groupnorm.backward", N * G, A * K * L, 0, '-', '-', 0, 0.0, 0.0, 20.0 * N * A * G * K * L});
  const double M = static_cast<double>(A * K * L);
  if (M == 0 || N * G == 0) return;
  const i64 C = G * K, run = K * L;
  // gamma as an array (ones if absent); the parameter gradients accumulate per chunk of (n, g) units in
  // scratch (kChunks fixed chunks, whatever the thread count: deterministic), summed in chunk order at the end.
  const i64 units = N * G, chunk = (units + kChunks - 1) / kChunks, chunks = (units + chunk - 1) / chunk;
  float* buf = thread_scratch<float, AffineAndPartials>(2 * C + 2 * chunks * C);
  const Affine ab = affine_or_identity(buf, gamma, nullptr, C);
  float* partials = buf + 2 * C;  // (chunks, 2, C): dgamma then dbeta of each chunk
  const float m = static_cast<float>(M);
  auto backward_group = [&](i64 n, i64 g, float* dg, float* db) {
    const float* gk = ab.gamma + g * K;
    double sum_g = 0.0, sum_g_xhat = 0.0;  // pass 1
    for (i64 a = 0; a < A; ++a) {
      const i64 base = ((n * A + a) * G + g) * run;
      if (L == 1) {
        float* gv = thread_scratch<float, ScaledRun>(K);  // gamma * dy of this run
        grad_row(gv, dg + g * K, db + g * K, dout + base, xhat + base, gk, K);
        run_sums<false, false>(sum_g, sum_g_xhat, gv, xhat + base, nullptr, 0.0f, K);
        continue;
      }
      for (i64 k = 0; k < K; ++k) {
        double s_dy = 0.0, s_dyx = 0.0;
        run_sums<false, false>(s_dy, s_dyx, dout + base + k * L, xhat + base + k * L, nullptr, 0.0f, L);
        sum_g += gk[k] * s_dy;
        sum_g_xhat += gk[k] * s_dyx;
        dg[g * K + k] += static_cast<float>(s_dyx);
        db[g * K + k] += static_cast<float>(s_dy);
      }
    }
    const float k = static_cast<float>(rstd[n * G + g] / M);  // pass 2
    const float s1 = static_cast<float>(sum_g), s2 = static_cast<float>(sum_g_xhat);
    for (i64 a = 0; a < A; ++a) {
      const i64 base = ((n * A + a) * G + g) * run;
      if (L == 1) {
        dx_run<const float*>(dinp + base, dout + base, xhat + base, gk, k, m, s1, s2, K);
        continue;
      }
      for (i64 kk = 0; kk < K; ++kk) {
        const i64 o = base + kk * L;
        dx_run<float>(dinp + o, dout + o, xhat + o, gk[kk], k, m, s1, s2, L);
      }
    }
  };
  parallel_for(chunks, std::max<i64>(1, kMinParallelValues / std::max<i64>(chunk * A * run, 1)),
               [&](i64, i64 c0, i64 c1) {
                 for (i64 ch = c0; ch < c1; ++ch) {
                   float* dg = partials + ch * 2 * C;
                   float* db = dg + C;
                   for (i64 c = 0; c < C; ++c) dg[c] = db[c] = 0.0f;
                   for (i64 u = ch * chunk; u < std::min(units, (ch + 1) * chunk); ++u)
                     backward_group(u / G, u % G, dg, db);
                 }
               });
  for (i64 ch = 0; ch < chunks; ++ch)
    for (i64 c = 0; c < C; ++c) {
      if (dgamma) dgamma[c] += partials[ch * 2 * C + c];
      if (dbeta) dbeta[c] += partials[ch * 2 * C + C + c];
    }
}

}  // namespace bnlab::cpu
