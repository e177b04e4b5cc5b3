// activation_cpu.cpp — elementwise activations and the row-wise softmax on the CPU, written with xtensor
// expressions over adapted (non-owning) buffers.
//
// Backward is taken from the forward OUTPUT y, which every activation here allows:
//   relu' = [y > 0], sigmoid' = y(1 - y), tanh' = 1 - y^2,
//   softmax: dx_j = y_j (dy_j - sum_k dy_k y_k)   (the Jacobian diag(y) - y y^T applied to dy).
//
// No allocation per call: the views are fixed-rank adaptors (their shape lives inline, where a std::vector
// shape would be a heap allocation), and every assignment goes through xt::noalias — a plain `y = expr`
// first evaluates into a temporary xarray (xtensor's guard against aliasing), allocating on each call.
// noalias is safe here even in place (out == inp, dinp == dout): element i of each result reads only
// element i of its inputs, and the softmax's row reductions are taken before the row is written.
#include <array>
#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xoperation.hpp>

#include "backend/cpu/kernels_cpu.hpp"
#include "core/profile.hpp"

namespace bnlab::cpu {
namespace {
using Shape1 = std::array<std::size_t, 1>;
auto flat(float* p, std::int64_t n) {
  const auto size = static_cast<std::size_t>(n);
  return xt::adapt(p, size, xt::no_ownership(), Shape1{size});
}
auto flat(const float* p, std::int64_t n) {
  const auto size = static_cast<std::size_t>(n);
  return xt::adapt(p, size, xt::no_ownership(), Shape1{size});
}

// The profiler's phase name of an activation's forward or backward.
const char* phase_of(Act act, bool forward) {
  switch (act) {
    case Act::Linear:
      return forward ? "linear.forward" : "linear.backward";
    case Act::Relu:
      return forward ? "relu.forward" : "relu.backward";
    case Act::Sigmoid:
      return forward ? "sigmoid.forward" : "sigmoid.backward";
    case Act::Tanh:
      return forward ? "tanh.forward" : "tanh.backward";
    case Act::Softmax:
      return forward ? "softmax.forward" : "softmax.backward";
  }
  return "activation";
}
}  // namespace

void activation_forward(float* out, const float* inp, std::int64_t rows, std::int64_t D, Act act) {
  const std::int64_t n = rows * D;
  const profile::Scope timer({phase_of(act, true), rows, D, 0, '-', '-', 0, 0.0, 0.0, 8.0 * n});
  auto x = flat(inp, n);
  auto y = flat(out, n);
  switch (act) {
    case Act::Linear:
      if (out != inp) xt::noalias(y) = x;
      return;
    case Act::Relu:
      xt::noalias(y) = xt::where(x <= 0.0f, 0.0f, x);  // NaN stays NaN, as in Keras and PyTorch
      return;
    case Act::Sigmoid:
      xt::noalias(y) = 1.0f / (1.0f + xt::exp(-x));
      return;
    case Act::Tanh:
      xt::noalias(y) = xt::tanh(x);
      return;
    case Act::Softmax:
      for (std::int64_t r = 0; r < rows; ++r) {
        auto xr = flat(inp + r * D, D);
        auto yr = flat(out + r * D, D);
        const float m = xt::amax(xr)();
        xt::noalias(yr) = xt::exp(xr - m);
        const float s = xt::sum(yr)();
        xt::noalias(yr) = yr / s;
      }
      return;
  }
}

void activation_backward(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D, Act act) {
  const std::int64_t n = rows * D;
  const profile::Scope timer({phase_of(act, false), rows, D, 0, '-', '-', 0, 0.0, 0.0, 12.0 * n});
  auto dy = flat(dout, n);
  auto y = flat(out, n);
  auto dx = flat(dinp, n);
  switch (act) {
    case Act::Linear:
      if (dinp != dout) xt::noalias(dx) = dy;
      return;
    case Act::Relu:
      xt::noalias(dx) = xt::where(y > 0.0f, dy, 0.0f);
      return;
    case Act::Sigmoid:
      xt::noalias(dx) = dy * y * (1.0f - y);
      return;
    case Act::Tanh:
      xt::noalias(dx) = dy * (1.0f - y * y);
      return;
    case Act::Softmax:
      for (std::int64_t r = 0; r < rows; ++r) {
        auto dyr = flat(dout + r * D, D);
        auto yr = flat(out + r * D, D);
        auto dxr = flat(dinp + r * D, D);
        const float dot = xt::sum(dyr * yr)();
        xt::noalias(dxr) = yr * (dyr - dot);
      }
      return;
  }
}

}  // namespace bnlab::cpu
