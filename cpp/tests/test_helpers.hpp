// test_helpers.hpp — what the unit tests share: seeded random tensors, double-precision views of tensors,
// central finite differences over the float32 ops, and a closeness assertion with a readable failure.
//
// Finite differences: the ops are float32 only, so a gradient is checked against central differences in
// double OVER the float32 forward: the loss L(x) = sum_i w_i y_i(x) (fixed random weights w, so dL/dy = w is
// the `dout` given to the backward) is summed in double from the float32 outputs, and the step actually taken
// is (float(x + h) - float(x - h)), not 2h, so the rounding of x itself adds no error. What remains is
//   rounding: each y_i carries ~2^-24 |y_i| of error, so (L+ - L-) errs by ~sqrt(n) 6e-8 max|y|, divided by 2h;
//   truncation: h^2 / 6 |f'''|.
// With h = 1e-2, n <= 1000 outputs of size O(1) both are below ~1e-4 of max(1, |grad|), and the checks use
// tol = 2e-3 of that scale: 20x above the expected error, while a wrong or missing term errs by O(1).
// Tests that need another h (steep functions such as -log p) say why where they choose it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace bnlab::test {

inline Tensor make(const Shape& shape, const std::vector<float>& values) {
  Tensor t(shape);
  t.copy_from_host(values.data(), static_cast<std::int64_t>(values.size()));
  return t;
}

// A tensor of `shape` filled with draws of `dist`, seeded: the same values run after run.
template <class Dist>
Tensor random(const Shape& shape, Dist dist, unsigned seed) {
  std::mt19937 gen(seed);
  Tensor t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = dist(gen);
  return t;
}
inline Tensor uniform(const Shape& shape, float lo, float hi, unsigned seed) {
  return random(shape, std::uniform_real_distribution<float>(lo, hi), seed);
}
inline Tensor normal(const Shape& shape, float mean, float stddev, unsigned seed) {
  return random(shape, std::normal_distribution<float>(mean, stddev), seed);
}

// (B) int32 class indices in [0, K).
inline Tensor labels(std::int64_t B, int K, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(0, K - 1);
  Tensor t({B}, Device::CPU, DType::I32);
  for (std::int64_t i = 0; i < B; ++i) t.i32()[i] = dist(gen);
  return t;
}

inline std::vector<double> as_double(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  return {v.begin(), v.end()};
}

// sum_i out_i * w_i in double: the scalar loss whose gradient w.r.t. out is w.
inline double weighted_sum(const Tensor& out, const Tensor& w) {
  double s = 0.0;
  for (std::int64_t i = 0; i < out.numel(); ++i) s += static_cast<double>(out.f32()[i]) * w.f32()[i];
  return s;
}

inline double total(const Tensor& t) {
  double s = 0.0;
  for (std::int64_t i = 0; i < t.numel(); ++i) s += t.f32()[i];
  return s;
}

// Central differences of loss() w.r.t. every element of x (see the header comment). loss() must read x.
inline std::vector<double> central_diff(Tensor& x, const std::function<double()>& loss, double h = 1e-2) {
  std::vector<double> g(static_cast<std::size_t>(x.numel()));
  float* p = x.f32();
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float x0 = p[i];
    const float xp = static_cast<float>(x0 + h), xm = static_cast<float>(x0 - h);
    p[i] = xp;
    const double lp = loss();
    p[i] = xm;
    const double lm = loss();
    p[i] = x0;
    g[static_cast<std::size_t>(i)] = (lp - lm) / (static_cast<double>(xp) - static_cast<double>(xm));
  }
  return g;
}

// max_i |got_i - want_i| <= tol * max(1, max_i |want_i|); the failure names the worst element.
inline ::testing::AssertionResult close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes differ: " << got.size() << " vs " << want.size();
  double scale = 1.0, worst = 0.0;
  std::size_t at = 0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - want[i]);
    if (!(err <= worst)) {  // also catches NaN
      worst = err;
      at = i;
    }
  }
  if (worst <= tol * scale) return ::testing::AssertionSuccess();
  std::ostringstream s;
  s << "element " << at << ": got " << got[at] << ", want " << want[at] << " (error " << worst << " > " << tol
    << " * scale " << scale << ")";
  return ::testing::AssertionFailure() << s.str();
}

inline ::testing::AssertionResult close(const Tensor& got, const std::vector<double>& want, double tol) {
  return close(as_double(got), want, tol);
}

}  // namespace bnlab::test
