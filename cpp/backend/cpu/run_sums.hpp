// run_sums.hpp — the CPU normalisations' reductions over one contiguous run of values: sum(x - shift) and
// sum((x - shift)^2) (the statistics), or sum(a) and sum(a * b) (the backward's two sums), added into double totals.
//
// Precision and speed: values are summed in float, kRun rounds of kLanes independent lanes at a time (explicit
// vector lanes: no -ffast-math needed to reassociate), and each block's float partial joins the double total. A float
// partial of kRun terms per lane carries a relative error of about kRun * 2^-24 (2e-6 at 32), far below what
// float data holds. A block whose float partial overflowed (|x - shift| above about 1e18 squares past FLT_MAX)
// is summed again in double, so the result never depends on the float blocks' range; NaN gives NaN either way.
// The order is fixed, so results are deterministic.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace bnlab::cpu {

constexpr std::int64_t kRun = 32;
constexpr std::int64_t kLanes = 8;

// a[i] gated by the fused ReLU's output: [gate > 0] * a. Both loads are unconditional and the choice is a
// select, so the loops that use it vectorise (a conditional load of a[i] would not).
inline float gated(const float* a, const float* gate, std::int64_t i) {
  const float v = a[i];
  return gate[i] > 0.0f ? v : 0.0f;
}

// One value's contribution: kShifted: d = a - shift, (d, d^2); else (a', a' * b) with a' = a, gated when kGated.
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

// A per-value factor (an array) or a per-run one (a scalar), read alike by the element-wise run kernels.
inline float at(const float* __restrict p, std::int64_t i) { return p[i]; }
inline float at(float p, std::int64_t) { return p; }

inline bool finite_pair(float t1, float t2) { return std::isfinite(t1) && std::isfinite(t2); }

// Eight float lanes (GCC/Clang vector extension): one AVX register, or two SSE ones.
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));
inline Lanes load_lanes(const float* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline float lane_sum(Lanes v) {  // a fixed order: deterministic
  float t = 0.0f;
  for (std::int64_t j = 0; j < kLanes; ++j) t += v[j];
  return t;
}

// s1 += the run's first sum, s2 += its second, over a[0, n) (b, gate alike; nullptr where unused).
template <bool kGated, bool kShifted>
void run_sums(double& s1, double& s2, const float* a, const float* b, const float* gate, float shift, std::int64_t n) {
  std::int64_t l = 0;
  while (l + kLanes <= n) {  // blocks of up to kRun lane-steps, each block's float partial into the totals
    const std::int64_t start = l;
    Lanes u1 = {}, u2 = {};
    for (std::int64_t r = 0; r < kRun && l + kLanes <= n; ++r, l += kLanes) {
      Lanes av = load_lanes(a + l);
      if constexpr (kShifted) {
        const Lanes d = av - shift;
        u1 += d;
        u2 += d * d;
      } else {
        if constexpr (kGated) av = load_lanes(gate + l) > 0.0f ? av : Lanes{};
        u1 += av;
        u2 += av * load_lanes(b + l);
      }
    }
    const float w1 = lane_sum(u1), w2 = lane_sum(u2);
    if (finite_pair(w1, w2)) {
      s1 += w1;
      s2 += w2;
    } else {
      for (std::int64_t q = start; q < l; ++q) term<kGated, kShifted>(s1, s2, a, b, gate, shift, q);
    }
  }
  float v1 = 0.0f, v2 = 0.0f;  // the tail: fewer than kLanes values
  for (std::int64_t q = l; q < n; ++q) term<kGated, kShifted>(v1, v2, a, b, gate, shift, q);
  if (finite_pair(v1, v2)) {
    s1 += v1;
    s2 += v2;
  } else {
    for (; l < n; ++l) term<kGated, kShifted>(s1, s2, a, b, gate, shift, l);
  }
}

}  // namespace bnlab::cpu
