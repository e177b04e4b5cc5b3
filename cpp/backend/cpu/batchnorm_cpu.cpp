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
#include <vector>

#include "backend/cpu/kernels_cpu.hpp"
#include "core/profile.hpp"

namespace bnlab::cpu {
namespace {
// Per-thread scratch for the double accumulators: grows, never shrinks, so steady state allocates nothing.
std::vector<double>& scratch(std::size_t n) {
  thread_local std::vector<double> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

// Per-thread float scratch for per-feature coefficients, grow-only like scratch().
std::vector<float>& float_scratch(std::size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

// Calls f(i, c) for every element i of (N, C, L) with its feature c. When L == 1 (the dense case, x (N, C)) the
// feature is the innermost index, so each row is one contiguous loop over C that the compiler vectorises;
// otherwise the L values of one (n, c) are.
template <class F>
inline void for_each_value(std::int64_t N, std::int64_t C, std::int64_t L, F f) {
  if (L == 1) {
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t c = 0; c < C; ++c) f(n * C + c, c);
    return;
  }
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t l = 0; l < L; ++l) f((n * C + c) * L + l, c);
}

// a[i] gated by the fused ReLU's output: [gate > 0] * a. Both loads are unconditional and the choice is a
// select, so the loops that use it vectorise (a conditional load of a[i] would not).
inline float gated(const float* a, const float* gate, std::int64_t i) {
  const float v = a[i];
  return gate[i] > 0.0f ? v : 0.0f;
}
inline float relu(float v) { return v <= 0.0f ? 0.0f : v; }  // NaN stays NaN

// Accumulates sum(a) and sum(a*b) per feature over (N, C, L); b == nullptr means b = a - shift. kGated: a is
// read as [gate > 0] * a (gate = the fused ReLU's output; backward only, b != nullptr).
// Precision and speed: values are summed in float over short runs (kRun rows of (N, C) when L == 1, kRun values
// of one (n, c) otherwise), and each run's float partial joins the double total. A float partial of kRun terms
// carries a relative error of about kRun * 2^-24 (2e-6 at 32), far below what float data holds, while the inner
// loops stay float-wide: across the C features of a row when L == 1, across kLanes independent lanes (a
// vectorisable pattern without -ffast-math) when L > 1. The order is fixed, so results are deterministic.
constexpr std::int64_t kRun = 32;
constexpr std::int64_t kLanes = 8;

std::vector<float>& partial_scratch(std::size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

template <bool kGated, bool kShifted, class T>
inline void term(T& t1, T& t2, const float* a, const float* b, const float* gate, float shift, std::int64_t i) {
  if constexpr (kShifted) {
    const T d = static_cast<T>(a[i]) - static_cast<T>(shift);
    t1 += d;
    t2 += d * d;
  } else {
    const T av = kGated ? gated(a, gate, i) : a[i];
    t1 += av;
    t2 += av * static_cast<T>(b[i]);
  }
}

// A float partial that overflowed (|x - shift| above about 1e18 squares past FLT_MAX) is summed again in
// double, so the result never depends on the float runs' range; NaN inputs give NaN either way.
inline bool finite_pair(float t1, float t2) { return std::isfinite(t1) && std::isfinite(t2); }

template <bool kGated, bool kShifted>
void feature_sums_impl(double* s1, double* s2, const float* a, const float* b, const float* shift, const float* gate,
                       std::int64_t N, std::int64_t C, std::int64_t L) {
  for (std::int64_t c = 0; c < C; ++c) s1[c] = s2[c] = 0.0;
  if (L == 1) {
    std::vector<float>& part = partial_scratch(static_cast<std::size_t>(2 * C));
    float* t1 = part.data();
    float* t2 = part.data() + C;
    for (std::int64_t n0 = 0; n0 < N; n0 += kRun) {
      const std::int64_t n1 = std::min(N, n0 + kRun);
      for (std::int64_t c = 0; c < C; ++c) t1[c] = t2[c] = 0.0f;
      for (std::int64_t n = n0; n < n1; ++n) {
        const std::int64_t row = n * C;
        for (std::int64_t c = 0; c < C; ++c)
          term<kGated, kShifted>(t1[c], t2[c], a + row, b ? b + row : nullptr, kGated ? gate + row : nullptr,
                                 kShifted ? shift[c] : 0.0f, c);
      }
      for (std::int64_t c = 0; c < C; ++c) {
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
    for (std::int64_t c = 0; c < C; ++c) {
      const std::int64_t base = (n * C + c) * L;
      const float* an = a + base;
      const float* bn = b ? b + base : nullptr;
      const float* gn = kGated ? gate + base : nullptr;
      const float sh = kShifted ? shift[c] : 0.0f;
      double d1 = 0.0, d2 = 0.0;
      std::int64_t l = 0;
      for (; l + kRun * kLanes <= L; l += kRun * kLanes) {  // kRun rounds of kLanes lanes, summed in float
        float u1[kLanes] = {}, u2[kLanes] = {};
        for (std::int64_t r = 0; r < kRun; ++r)
          for (std::int64_t j = 0; j < kLanes; ++j)
            term<kGated, kShifted>(u1[j], u2[j], an, bn, gn, sh, l + r * kLanes + j);
        float w1 = 0.0f, w2 = 0.0f;
        for (std::int64_t j = 0; j < kLanes; ++j) {
          w1 += u1[j];
          w2 += u2[j];
        }
        if (finite_pair(w1, w2)) {
          d1 += w1;
          d2 += w2;
        } else {
          for (std::int64_t q = l; q < l + kRun * kLanes; ++q) term<kGated, kShifted>(d1, d2, an, bn, gn, sh, q);
        }
      }
      float v1 = 0.0f, v2 = 0.0f;  // the tail: fewer than kRun * kLanes values
      for (std::int64_t q = l; q < L; ++q) term<kGated, kShifted>(v1, v2, an, bn, gn, sh, q);
      if (finite_pair(v1, v2)) {
        d1 += v1;
        d2 += v2;
      } else {
        for (; l < L; ++l) term<kGated, kShifted>(d1, d2, an, bn, gn, sh, l);
      }
      s1[c] += d1;
      s2[c] += d2;
    }
}

void feature_sums(double* s1, double* s2, const float* a, const float* b, const float* shift, const float* gate,
                  std::int64_t N, std::int64_t C, std::int64_t L) {
  if (!b)
    feature_sums_impl<false, true>(s1, s2, a, nullptr, shift, nullptr, N, C, L);
  else if (gate)
    feature_sums_impl<true, false>(s1, s2, a, b, nullptr, gate, N, C, L);
  else
    feature_sums_impl<false, false>(s1, s2, a, b, nullptr, nullptr, N, C, L);
}
}  // namespace

void batchnorm_forward_train(float* out,          // (N, C, L)
                             float* xhat,         // (N, C, L)
                             float* mean,         // (C)
                             float* var,          // (C)
                             float* rstd,         // (C)
                             const float* inp,    // (N, C, L)
                             const float* gamma,  // (C) or nullptr
                             const float* beta,   // (C) or nullptr
                             std::int64_t N, std::int64_t C, std::int64_t L, float eps, bool fuse_relu) {
  const profile::Scope timer({"bn.forward_train", N * L, C, 0, '-', '-', 0, 0.0, 0.0, 16.0 * N * C * L});
  const double M = static_cast<double>(N * L);
  std::vector<double>& acc = scratch(static_cast<std::size_t>(2 * C));
  double* s1 = acc.data();
  double* s2 = acc.data() + C;
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
  std::vector<float>& coef = float_scratch(static_cast<std::size_t>(2 * C));
  float* g = coef.data();
  float* b = coef.data() + C;
  for (std::int64_t c = 0; c < C; ++c) {
    g[c] = gamma ? gamma[c] : 1.0f;
    b[c] = beta ? beta[c] : 0.0f;
  }
  if (fuse_relu)
    for_each_value(N, C, L, [&](std::int64_t i, std::int64_t c) {
      const float h = (inp[i] - mean[c]) * rstd[c];
      xhat[i] = h;
      out[i] = relu(g[c] * h + b[c]);
    });
  else
    for_each_value(N, C, L, [&](std::int64_t i, std::int64_t c) {
      const float h = (inp[i] - mean[c]) * rstd[c];
      xhat[i] = h;
      out[i] = g[c] * h + b[c];
    });
}

void batchnorm_forward_infer(float* out,          // (N, C, L)
                             const float* inp,    // (N, C, L)
                             const float* mean,   // (C)
                             const float* var,    // (C)
                             const float* gamma,  // (C) or nullptr
                             const float* beta,   // (C) or nullptr
                             std::int64_t N, std::int64_t C, std::int64_t L, float eps, bool fuse_relu) {
  const profile::Scope timer({"bn.forward_infer", N * L, C, 0, '-', '-', 0, 0.0, 0.0, 8.0 * N * C * L});
  // y = (x - mu) * a + beta with a = gamma * rstd folded per feature once. Not x * a + (beta - mu * a): with
  // |mu| >> std that form cancels two large terms and loses digits the training transform keeps.
  std::vector<float>& coef = float_scratch(static_cast<std::size_t>(2 * C));
  float* a = coef.data();
  float* b = coef.data() + C;
  for (std::int64_t c = 0; c < C; ++c) {
    a[c] = static_cast<float>((gamma ? gamma[c] : 1.0) / std::sqrt(static_cast<double>(var[c]) + eps));
    b[c] = beta ? beta[c] : 0.0f;
  }
  if (fuse_relu)
    for_each_value(N, C, L, [&](std::int64_t i, std::int64_t c) { out[i] = relu((inp[i] - mean[c]) * a[c] + b[c]); });
  else
    for_each_value(N, C, L, [&](std::int64_t i, std::int64_t c) { out[i] = (inp[i] - mean[c]) * a[c] + b[c]; });
}

void batchnorm_backward(float* dinp,            // (N, C, L)
                        float* dgamma,          // (C) or nullptr, accumulates
                        float* dbeta,           // (C) or nullptr, accumulates
                        const float* dout,      // (N, C, L)
                        const float* xhat,      // (N, C, L)
                        const float* rstd,      // (C)
                        const float* gamma,     // (C) or nullptr
                        const float* relu_out,  // (N, C, L) or nullptr: the fused ReLU's output gates dout
                        std::int64_t N, std::int64_t C, std::int64_t L) {
  const profile::Scope timer(
      {"bn.backward", N * L, C, 0, '-', '-', 0, 0.0, 0.0, (relu_out ? 24.0 : 20.0) * static_cast<double>(N * C * L)});
  const double M = static_cast<double>(N * L);
  std::vector<double>& acc = scratch(static_cast<std::size_t>(2 * C));
  double* sum_dy = acc.data();
  double* sum_dy_xhat = acc.data() + C;
  feature_sums(sum_dy, sum_dy_xhat, dout, xhat, nullptr, relu_out, N, C, L);  // pass 1
  for (std::int64_t c = 0; c < C; ++c) {
    if (dgamma) dgamma[c] += static_cast<float>(sum_dy_xhat[c]);
    if (dbeta) dbeta[c] += static_cast<float>(sum_dy[c]);
  }
  // pass 2, with the per-feature factors formed once
  std::vector<float>& coef = float_scratch(static_cast<std::size_t>(3 * C));
  float* k = coef.data();
  float* mdy = coef.data() + C;
  float* mdyx = coef.data() + 2 * C;
  for (std::int64_t c = 0; c < C; ++c) {
    k[c] = static_cast<float>((gamma ? gamma[c] : 1.0f) * rstd[c] / M);
    mdy[c] = static_cast<float>(sum_dy[c]);
    mdyx[c] = static_cast<float>(sum_dy_xhat[c]);
  }
  const float m = static_cast<float>(M);
  if (relu_out)
    for_each_value(N, C, L, [&](std::int64_t i, std::int64_t c) {
      dinp[i] = k[c] * (m * gated(dout, relu_out, i) - mdy[c] - xhat[i] * mdyx[c]);
    });
  else
    for_each_value(
        N, C, L, [&](std::int64_t i, std::int64_t c) { dinp[i] = k[c] * (m * dout[i] - mdy[c] - xhat[i] * mdyx[c]); });
}

void blend(float* moving, const float* batch, float keep, float batch_scale, std::int64_t C) {
  const profile::Scope timer({"bn.blend", C, 0, 0});
  for (std::int64_t c = 0; c < C; ++c) moving[c] = moving[c] * keep + batch[c] * batch_scale * (1.0f - keep);
}

}  // namespace bnlab::cpu
