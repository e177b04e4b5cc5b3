// batchnorm_cpu.cpp — batch normalisation on the CPU, x viewed as (N, C, L); feature c has M = N*L values.
//
// Forward (training), two passes over memory, the fewest the maths allows (the statistics must be known
// before any output can be written):
//   pass 1 (read x):  shifted sums (float runs into double totals), s1 = sum(x - k), s2 = sum((x - k)^2) with k = x[0,
//   c, 0];
//                     mu = k + s1/M, var = s2/M - (s1/M)^2  (biased). The shift keeps the subtraction
//                     well conditioned when |mu| >> std.
//   pass 2 (read x, write xhat and y): xhat = (x - mu) * rstd, rstd = 1/sqrt(var + eps); y = gamma*xhat + beta.
// Backward, two passes: with y = gamma*xhat + beta and xhat = (x - mu)*rstd,
//   dbeta = sum(dy), dgamma = sum(dy * xhat), and differentiating mu and var through x gives
//   dx = gamma * rstd / M * (M*dy - sum(dy) - xhat * sum(dy * xhat)).
//   pass 1 (read dy, xhat): the two sums;  pass 2 (read dy, xhat, write dx).
// Fused ReLU (a BatchNormalization layer followed by Activation('relu')): the forward writes
// y = max(gamma*xhat + beta, 0) in pass 2 (NaN stays NaN, as the ReLU kernel), and the backward reads the
// gradient w.r.t. that ReLU's output and gates it on the fly, dy_bn = [y > 0] * dy, in both of its passes:
// the ReLU costs no pass of its own, and the results equal the unfused layers' bit for bit.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "backend/cpu/kernels_cpu.hpp"
#include "backend/cpu/parallel.hpp"
#include "backend/cpu/run_sums.hpp"
#include "backend/cpu/scratch.hpp"
#include "core/profile.hpp"

namespace bnlab::cpu {
namespace {
// The tags of this file's per-thread scratch buffers (scratch.hpp).
struct FeatureSums;   // (2, C) double accumulators of a pass
struct Coefficients;  // (2 or 3, C) per-feature coefficients
struct RunPartials;   // (2, C) float partials of one run
struct ChunkSums;     // (kRowChunks, 2, C) the row chunks' double partials

inline float relu(float v) { return v <= 0.0f ? 0.0f : v; }  // NaN stays NaN

// The element-wise passes, written once over a run of n values: with L == 1 a run is one row of C features
// (the per-feature factors are arrays, P = const float*); with L > 1 it is the L values of one (n, c) (the
// factors are that feature's scalars, P = float). Every pointer is __restrict, so that the compiler vectorises
// the loop without alias checks (the outputs never overlap the inputs).

// xhat = (x - mu) * rstd;  y = gamma * xhat + beta  (then the fused ReLU)
template <bool kRelu, class P>
void train_run(float* __restrict y, float* __restrict h, const float* __restrict x, P mu, P rstd, P g, P b,
               std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = (x[i] - at(mu, i)) * at(rstd, i);
    h[i] = v;
    const float o = at(g, i) * v + at(b, i);
    y[i] = kRelu ? relu(o) : o;
  }
}

// y = (x - mu) * a + beta  (then the fused ReLU)
template <bool kRelu, class P>
void infer_run(float* __restrict y, const float* __restrict x, P mu, P a, P b, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float o = (x[i] - at(mu, i)) * at(a, i) + at(b, i);
    y[i] = kRelu ? relu(o) : o;
  }
}

// dx = k * (M * dy - sum(dy) - xhat * sum(dy * xhat)), dy gated by the fused ReLU's output when kGated
template <bool kGated, class P>
void backward_run(float* __restrict dx, const float* __restrict dy, const float* __restrict h,
                  const float* __restrict gate, P k, P sdy, P sdyx, float m, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float d = kGated ? gated(dy, gate, i) : dy[i];
    dx[i] = at(k, i) * (m * d - at(sdy, i) - h[i] * at(sdyx, i));
  }
}

// Runs row(offset) per row of C when L == 1, run(offset, c) per (n, c) run of L otherwise, over (N, C, L); the
// threads split the rows (or runs), each element being written by exactly one of them.
constexpr std::int64_t kMinParallelValues = 1 << 16;  // below this a pass is faster on one thread
constexpr std::int64_t kFewFeatures = 256;            // fewer features than this: sums split by rows
constexpr std::int64_t kRowChunks = 8;                // ... into this many chunks

template <class Row, class Run>
void for_each_run(std::int64_t N, std::int64_t C, std::int64_t L, Row row, Run run) {
  const std::int64_t units = L == 1 ? N : N * C, size = L == 1 ? C : L;
  parallel_for(units, std::max<std::int64_t>(1, kMinParallelValues / std::max<std::int64_t>(size, 1)),
               [&](std::int64_t, std::int64_t u0, std::int64_t u1) {
                 for (std::int64_t u = u0; u < u1; ++u) {
                   if (L == 1)
                     row(u * C);
                   else
                     run(u * L, u % C);
                 }
               });
}

// Accumulates sum(a) and sum(a*b) per feature over (N, C, L); b == nullptr means b = a - shift. kGated: a is
// read as [gate > 0] * a (gate = the fused ReLU's output; backward only, b != nullptr).
// Precision and speed: see run_sums.hpp. When L == 1 the runs are kRun rows of (N, C), summed across the C
// features of a row (a float-wide loop); when L > 1 each (n, c) run of L values goes through run_sums.
template <bool kGated, bool kShifted>
void feature_sums_impl(double* s1, double* s2, const float* a, const float* b, const float* shift, const float* gate,
                       std::int64_t N, std::int64_t C, std::int64_t L, std::int64_t c0, std::int64_t c1) {
  for (std::int64_t c = c0; c < c1; ++c) s1[c] = s2[c] = 0.0;
  if (L == 1) {
    float* t1 = thread_scratch<float, RunPartials>(2 * C);
    float* t2 = t1 + C;
    for (std::int64_t n0 = 0; n0 < N; n0 += kRun) {
      const std::int64_t n1 = std::min(N, n0 + kRun);
      for (std::int64_t c = c0; c < c1; ++c) t1[c] = t2[c] = 0.0f;
      for (std::int64_t n = n0; n < n1; ++n) {
        const std::int64_t row = n * C;
        for (std::int64_t c = c0; c < c1; ++c)
          term<kGated, kShifted>(t1[c], t2[c], a + row, b ? b + row : nullptr, kGated ? gate + row : nullptr,
                                 kShifted ? shift[c] : 0.0f, c);
      }
      for (std::int64_t c = c0; c < c1; ++c) {
        if (finite_pair(t1[c], t2[c])) {
          s1[c] += t1[c];
          s2[c] += t2[c];
          continue;
        }
        for (std::int64_t n = n0; n < n1; ++n)
          term<kGated, kShifted>(s1[c], s2[c], a + n * C, b ? b + n * C : nullptr, kGated ? gate + n * C : nullptr,
                                 kShifted ? shift[c] : 0.0f, c);
      }
    }
    return;
  }
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = c0; c < c1; ++c) {
      const std::int64_t base = (n * C + c) * L;
      const float* an = a + base;
      const float* bn = b ? b + base : nullptr;
      const float* gn = kGated ? gate + base : nullptr;
      const float sh = kShifted ? shift[c] : 0.0f;
      double d1 = 0.0, d2 = 0.0;
      run_sums<kGated, kShifted>(d1, d2, an, bn, gn, sh, L);
      s1[c] += d1;
      s2[c] += d2;
    }
}

// Threads split the features (blocks of kLanes when L == 1, so that each thread's loops stay vector-wide):
// every feature's sum is done by one thread in the serial order, so the results are the same bits at every
// thread count.
template <bool kGated, bool kShifted>
void feature_sums_split(double* s1, double* s2, const float* a, const float* b, const float* shift, const float* gate,
                        std::int64_t N, std::int64_t C, std::int64_t L) {
  if (L == 1 && C < kFewFeatures && N >= kRowChunks * kRun && N * C >= kMinParallelValues) {
    // Few features (a conv layer's channels over N*H*W rows): split the rows into kRowChunks fixed chunks
    // instead, each summed into its own partials, added in chunk order (deterministic at every thread count).
    const std::int64_t rows = (N + kRowChunks - 1) / kRowChunks;
    double* part = thread_scratch<double, ChunkSums>(2 * C * kRowChunks);
    parallel_for(kRowChunks, 1, [&](std::int64_t, std::int64_t k0, std::int64_t k1) {
      for (std::int64_t k = k0; k < k1; ++k) {
        const std::int64_t r0 = std::min(N, k * rows), r1 = std::min(N, r0 + rows), off = r0 * C;
        feature_sums_impl<kGated, kShifted>(part + 2 * C * k, part + 2 * C * k + C, a + off, b ? b + off : nullptr,
                                            shift, kGated ? gate + off : nullptr, r1 - r0, C, 1, 0, C);
      }
    });
    for (std::int64_t c = 0; c < C; ++c) {
      s1[c] = s2[c] = 0.0;
      for (std::int64_t k = 0; k < kRowChunks; ++k) {
        s1[c] += part[2 * C * k + c];
        s2[c] += part[2 * C * k + C + c];
      }
    }
    return;
  }
  const std::int64_t unit = L == 1 ? kLanes : 1;  // features per block
  const std::int64_t blocks = (C + unit - 1) / unit;
  const std::int64_t per_block = std::max<std::int64_t>(1, N * L * unit);
  parallel_for(blocks, std::max<std::int64_t>(1, kMinParallelValues / per_block),
               [&](std::int64_t, std::int64_t b0, std::int64_t b1) {
                 feature_sums_impl<kGated, kShifted>(s1, s2, a, b, shift, gate, N, C, L, b0 * unit,
                                                     std::min(C, b1 * unit));
               });
}

void feature_sums(double* s1, double* s2, const float* a, const float* b, const float* shift, const float* gate,
                  std::int64_t N, std::int64_t C, std::int64_t L) {
  if (!b)
    feature_sums_split<false, true>(s1, s2, a, nullptr, shift, nullptr, N, C, L);
  else if (gate)
    feature_sums_split<true, false>(s1, s2, a, b, nullptr, gate, N, C, L);
  else
    feature_sums_split<false, false>(s1, s2, a, b, nullptr, nullptr, N, C, L);
}
}  // namespace

// Shapes: kernel::BatchnormForwardTrain (backend/kernels.hpp).
void batchnorm_forward_train(float* out, float* xhat, float* mean, float* var, float* rstd, const float* inp,
                             const float* gamma, const float* beta, std::int64_t N, std::int64_t C, std::int64_t L,
                             float eps, bool fuse_relu) {
  const profile::Scope timer({"bn.forward_train", N * L, C, 0, '-', '-', 0, 0.0, 0.0, 16.0 * N * C * L});
  const double M = static_cast<double>(N * L);
  double* s1 = thread_scratch<double, FeatureSums>(2 * C);
  double* s2 = s1 + C;
  // pass 1: shifted sums; the shift is the feature's first value (x[0, c, 0]).
  for (std::int64_t c = 0; c < C; ++c) mean[c] = inp[c * L];  // mean[] holds the shift until pass 1 ends
  feature_sums(s1, s2, inp, nullptr, mean, nullptr, N, C, L);
  for (std::int64_t c = 0; c < C; ++c) {
    const double m1 = M > 0 ? s1[c] / M : 0.0;
    const double v = M > 0 ? s2[c] / M - m1 * m1 : 0.0;
    mean[c] = static_cast<float>(mean[c] + m1);
    var[c] = static_cast<float>(v < 0.0 ? 0.0 : v);  // clamp rounding below 0; NaN propagates
    rstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c]) + eps));
  }
  // pass 2: normalise, scale and shift.
  float* g = thread_scratch<float, Coefficients>(2 * C);
  float* b = g + C;
  for (std::int64_t c = 0; c < C; ++c) {
    g[c] = gamma ? gamma[c] : 1.0f;
    b[c] = beta ? beta[c] : 0.0f;
  }
  auto pass2 = [&](auto relu_tag) {
    constexpr bool kRelu = decltype(relu_tag)::value;
    for_each_run(
        N, C, L,
        [&](std::int64_t o) { train_run<kRelu, const float*>(out + o, xhat + o, inp + o, mean, rstd, g, b, C); },
        [&](std::int64_t o, std::int64_t c) {
          train_run<kRelu, float>(out + o, xhat + o, inp + o, mean[c], rstd[c], g[c], b[c], L);
        });
  };
  if (fuse_relu)
    pass2(std::true_type{});
  else
    pass2(std::false_type{});
}

// Shapes: kernel::BatchnormForwardInfer (backend/kernels.hpp).
void batchnorm_forward_infer(float* out, const float* inp, const float* mean, const float* var, const float* gamma,
                             const float* beta, std::int64_t N, std::int64_t C, std::int64_t L, float eps,
                             bool fuse_relu) {
  const profile::Scope timer({"bn.forward_infer", N * L, C, 0, '-', '-', 0, 0.0, 0.0, 8.0 * N * C * L});
  // y = (x - mu) * a + beta with a = gamma * rstd folded per feature once. Not x * a + (beta - mu * a): with
  // |mu| >> std that form cancels two large terms and loses digits the training transform keeps.
  float* a = thread_scratch<float, Coefficients>(2 * C);
  float* b = a + C;
  for (std::int64_t c = 0; c < C; ++c) {
    a[c] = static_cast<float>((gamma ? gamma[c] : 1.0) / std::sqrt(static_cast<double>(var[c]) + eps));
    b[c] = beta ? beta[c] : 0.0f;
  }
  auto pass = [&](auto relu_tag) {
    constexpr bool kRelu = decltype(relu_tag)::value;
    for_each_run(
        N, C, L, [&](std::int64_t o) { infer_run<kRelu, const float*>(out + o, inp + o, mean, a, b, C); },
        [&](std::int64_t o, std::int64_t c) { infer_run<kRelu, float>(out + o, inp + o, mean[c], a[c], b[c], L); });
  };
  if (fuse_relu)
    pass(std::true_type{});
  else
    pass(std::false_type{});
}

// Shapes: kernel::BatchnormBackward (backend/kernels.hpp).
void batchnorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                        const float* rstd, const float* gamma, const float* relu_out, std::int64_t N, std::int64_t C,
                        std::int64_t L) {
  const profile::Scope timer(
      {"bn.backward", N * L, C, 0, '-', '-', 0, 0.0, 0.0, (relu_out ? 24.0 : 20.0) * static_cast<double>(N * C * L)});
  const double M = static_cast<double>(N * L);
  double* sum_dy = thread_scratch<double, FeatureSums>(2 * C);
  double* sum_dy_xhat = sum_dy + C;
  feature_sums(sum_dy, sum_dy_xhat, dout, xhat, nullptr, relu_out, N, C, L);  // pass 1
  for (std::int64_t c = 0; c < C; ++c) {
    if (dgamma) dgamma[c] += static_cast<float>(sum_dy_xhat[c]);
    if (dbeta) dbeta[c] += static_cast<float>(sum_dy[c]);
  }
  // pass 2, with the per-feature factors formed once
  float* k = thread_scratch<float, Coefficients>(3 * C);
  float* mdy = k + C;
  float* mdyx = k + 2 * C;
  for (std::int64_t c = 0; c < C; ++c) {
    k[c] = static_cast<float>((gamma ? gamma[c] : 1.0f) * rstd[c] / M);
    mdy[c] = static_cast<float>(sum_dy[c]);
    mdyx[c] = static_cast<float>(sum_dy_xhat[c]);
  }
  const float m = static_cast<float>(M);
  auto pass2 = [&](auto gated_tag) {
    constexpr bool kGated = decltype(gated_tag)::value;
    const float* gate = relu_out;
    for_each_run(
        N, C, L,
        [&](std::int64_t o) {
          backward_run<kGated, const float*>(dinp + o, dout + o, xhat + o, kGated ? gate + o : nullptr, k, mdy, mdyx, m,
                                             C);
        },
        [&](std::int64_t o, std::int64_t c) {
          backward_run<kGated, float>(dinp + o, dout + o, xhat + o, kGated ? gate + o : nullptr, k[c], mdy[c], mdyx[c],
                                      m, L);
        });
  };
  if (relu_out)
    pass2(std::true_type{});
  else
    pass2(std::false_type{});
}

void blend(float* moving, const float* batch, float keep, float batch_scale, std::int64_t C) {
  const profile::Scope timer({"bn.blend", C, 0, 0});
  for (std::int64_t c = 0; c < C; ++c) moving[c] = moving[c] * keep + batch[c] * batch_scale * (1.0f - keep);
}

}  // namespace bnlab::cpu
