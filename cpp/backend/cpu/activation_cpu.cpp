// activation_cpu.cpp — elementwise activations and the row-wise softmax on the CPU, written with xtensor
// expressions over adapted (non-owning) buffers.
//
// Backward is taken from the forward OUTPUT y, which every activation here allows:
//   relu' = [y > 0], sigmoid' = y(1 - y), tanh' = 1 - y^2,
//   softmax: dx_j = y_j (dy_j - sum_k dy_k y_k)   (the Jacobian diag(y) - y y^T applied to dy).
#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "backend/cpu/kernels_cpu.hpp"

namespace bnlab::cpu {
namespace {
auto flat(float* p, std::int64_t n) {
  return xt::adapt(p, static_cast<std::size_t>(n), xt::no_ownership(), std::vector<std::size_t>{std::size_t(n)});
}
auto flat(const float* p, std::int64_t n) {
  return xt::adapt(p, static_cast<std::size_t>(n), xt::no_ownership(), std::vector<std::size_t>{std::size_t(n)});
}
}  // namespace

void activation_forward(float* out, const float* inp, std::int64_t rows, std::int64_t D, Act act) {
  const std::int64_t n = rows * D;
  auto x = flat(inp, n);
  auto y = flat(out, n);
  switch (act) {
    case Act::Linear:
      if (out != inp) y = x;
      return;
    case Act::Relu:
      y = xt::maximum(x, 0.0f);
      return;
    case Act::Sigmoid:
      y = 1.0f / (1.0f + xt::exp(-x));
      return;
    case Act::Tanh:
      y = xt::tanh(x);
      return;
    case Act::Softmax:
      for (std::int64_t r = 0; r < rows; ++r) {
        auto xr = flat(inp + r * D, D);
        auto yr = flat(out + r * D, D);
        const float m = xt::amax(xr)();
        yr = xt::exp(xr - m);
        const float s = xt::sum(yr)();
        yr /= s;
      }
      return;
  }
}

void activation_backward(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D,
                         Act act) {
  const std::int64_t n = rows * D;
  auto dy = flat(dout, n);
  auto y = flat(out, n);
  auto dx = flat(dinp, n);
  switch (act) {
    case Act::Linear:
      if (dinp != dout) dx = dy;
      return;
    case Act::Relu:
      dx = xt::where(y > 0.0f, dy, 0.0f);
      return;
    case Act::Sigmoid:
      dx = dy * y * (1.0f - y);
      return;
    case Act::Tanh:
      dx = dy * (1.0f - y * y);
      return;
    case Act::Softmax:
      for (std::int64_t r = 0; r < rows; ++r) {
        auto dyr = flat(dout + r * D, D);
        auto yr = flat(out + r * D, D);
        auto dxr = flat(dinp + r * D, D);
        const float dot = xt::sum(dyr * yr)();
        dxr = yr * (dyr - dot);
      }
      return;
  }
}

}  // namespace bnlab::cpu
