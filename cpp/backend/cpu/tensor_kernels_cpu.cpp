// tensor_kernels_cpu.cpp — the CPU kernels of general tensor arithmetic (signatures in backend/kernels.hpp),
// for bnlab.torch: broadcast binary ops, unary ops, sums over axes, log-softmax, NLL and the eval-mode
// batch-norm backward. cpu_backend.cpp puts them into the CPU Backend table.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/kernels_cpu.hpp"
#include "backend/cpu/scratch.hpp"

namespace bnlab::cpu {
namespace {

template <typename F>
void binary_loop(float* out, const float* a, const float* b, int ndim, const std::int64_t* shape,
                 const std::int64_t* as, const std::int64_t* bs, F f) {
  if (ndim == 0) {
    out[0] = f(a[0], b[0]);
    return;
  }
  // The innermost dimension runs in a tight loop; the outer ones advance an index counter.
  const int last = ndim - 1;
  const std::int64_t inner = shape[last], sa = as[last], sb = bs[last];
  std::int64_t outer = 1;
  for (int d = 0; d < last; ++d) outer *= shape[d];
  std::int64_t idx[kMaxDims] = {};
  std::int64_t ia = 0, ib = 0;
  for (std::int64_t o = 0; o < outer; ++o) {
    float* po = out + o * inner;
    if (sa == 1 && sb == 1) {
      for (std::int64_t i = 0; i < inner; ++i) po[i] = f(a[ia + i], b[ib + i]);
    } else if (sa == 1 && sb == 0) {
      const float vb = b[ib];
      for (std::int64_t i = 0; i < inner; ++i) po[i] = f(a[ia + i], vb);
    } else if (sa == 0 && sb == 1) {
      const float va = a[ia];
      for (std::int64_t i = 0; i < inner; ++i) po[i] = f(va, b[ib + i]);
    } else {
      for (std::int64_t i = 0; i < inner; ++i) po[i] = f(a[ia + i * sa], b[ib + i * sb]);
    }
    for (int d = last - 1; d >= 0; --d) {  // odometer over the outer dimensions
      ia += as[d];
      ib += bs[d];
      if (++idx[d] < shape[d]) break;
      ia -= as[d] * shape[d];
      ib -= bs[d] * shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

void binary(float* out, const float* a, const float* b, int ndim, const std::int64_t* shape, const std::int64_t* as,
            const std::int64_t* bs, BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return binary_loop(out, a, b, ndim, shape, as, bs, [](float x, float y) { return x + y; });
    case BinaryOp::Sub:
      return binary_loop(out, a, b, ndim, shape, as, bs, [](float x, float y) { return x - y; });
    case BinaryOp::Mul:
      return binary_loop(out, a, b, ndim, shape, as, bs, [](float x, float y) { return x * y; });
    case BinaryOp::Div:
      return binary_loop(out, a, b, ndim, shape, as, bs, [](float x, float y) { return x / y; });
    case BinaryOp::First:
      return binary_loop(out, a, b, ndim, shape, as, bs, [](float x, float) { return x; });
  }
}

namespace {

template <typename F>
void unary_loop(float* out, const float* a, std::int64_t n, F f) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = f(a[i]);
}

}  // namespace

void unary(float* out, const float* a, std::int64_t n, UnaryOp op, float s) {
  switch (op) {
    case UnaryOp::Neg:
      return unary_loop(out, a, n, [](float x) { return -x; });
    case UnaryOp::Exp:
      return unary_loop(out, a, n, [](float x) { return std::exp(x); });
    case UnaryOp::Log:
      return unary_loop(out, a, n, [](float x) { return std::log(x); });
    case UnaryOp::Sqrt:
      return unary_loop(out, a, n, [](float x) { return std::sqrt(x); });
    case UnaryOp::Abs:
      return unary_loop(out, a, n, [](float x) { return std::fabs(x); });
    case UnaryOp::Sign:
      return unary_loop(out, a, n, [](float x) { return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x; });
    case UnaryOp::AddScalar:
      return unary_loop(out, a, n, [s](float x) { return x + s; });
    case UnaryOp::MulScalar:
      return unary_loop(out, a, n, [s](float x) { return x * s; });
    case UnaryOp::DivScalar:
      return unary_loop(out, a, n, [s](float x) { return x / s; });
    case UnaryOp::RSubScalar:
      return unary_loop(out, a, n, [s](float x) { return s - x; });
    case UnaryOp::RDivScalar:
      return unary_loop(out, a, n, [s](float x) { return s / x; });
    case UnaryOp::PowScalar:
      if (s == 2.0f) return unary_loop(out, a, n, [](float x) { return x * x; });
      if (s == 0.5f) return unary_loop(out, a, n, [](float x) { return std::sqrt(x); });
      return unary_loop(out, a, n, [s](float x) { return std::pow(x, s); });
    case UnaryOp::Sin:
      return unary_loop(out, a, n, [](float x) { return std::sin(x); });
    case UnaryOp::Cos:
      return unary_loop(out, a, n, [](float x) { return std::cos(x); });
    case UnaryOp::Tan:
      return unary_loop(out, a, n, [](float x) { return std::tan(x); });
    case UnaryOp::Sinh:
      return unary_loop(out, a, n, [](float x) { return std::sinh(x); });
    case UnaryOp::Cosh:
      return unary_loop(out, a, n, [](float x) { return std::cosh(x); });
    case UnaryOp::Log2:
      return unary_loop(out, a, n, [](float x) { return std::log2(x); });
    case UnaryOp::Log10:
      return unary_loop(out, a, n, [](float x) { return std::log10(x); });
    case UnaryOp::Log1p:
      return unary_loop(out, a, n, [](float x) { return std::log1p(x); });
    case UnaryOp::Expm1:
      return unary_loop(out, a, n, [](float x) { return std::expm1(x); });
    case UnaryOp::Floor:
      return unary_loop(out, a, n, [](float x) { return std::floor(x); });
    case UnaryOp::Ceil:
      return unary_loop(out, a, n, [](float x) { return std::ceil(x); });
    case UnaryOp::Trunc:
      return unary_loop(out, a, n, [](float x) { return std::trunc(x); });
    case UnaryOp::Round:
      return unary_loop(out, a, n, [](float x) { return std::nearbyint(x); });
  }
}

namespace {

struct Sums;  // scratch.hpp tag: double accumulators

}  // namespace

void sum_to(float* out, std::int64_t m, const float* a, int ndim, const std::int64_t* shape, const std::int64_t* os) {
  double* acc = thread_scratch<double, Sums>(m);
  std::fill(acc, acc + m, 0.0);
  std::int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  if (m == 1) {  // a full sum
    double s = 0.0;
    for (std::int64_t i = 0; i < n; ++i) s += a[i];
    acc[0] = s;
  } else if (ndim > 0) {
    const int last = ndim - 1;
    const std::int64_t inner = shape[last], so = os[last], outer = n / inner;
    std::int64_t idx[kMaxDims] = {};
    std::int64_t io = 0;
    for (std::int64_t o = 0; o < outer; ++o) {
      const float* pa = a + o * inner;
      if (so == 0) {
        double s = 0.0;
        for (std::int64_t i = 0; i < inner; ++i) s += pa[i];
        acc[io] += s;
      } else {
        for (std::int64_t i = 0; i < inner; ++i) acc[io + i * so] += pa[i];
      }
      for (int d = last - 1; d >= 0; --d) {
        io += os[d];
        if (++idx[d] < shape[d]) break;
        io -= os[d] * shape[d];
        idx[d] = 0;
      }
    }
  }
  for (std::int64_t i = 0; i < m; ++i) out[i] = static_cast<float>(acc[i]);
}

void log_softmax_forward(float* out, const float* inp, std::int64_t rows, std::int64_t D) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* x = inp + r * D;
    float* y = out + r * D;
    const float m = *std::max_element(x, x + D);
    double se = 0.0;
    for (std::int64_t j = 0; j < D; ++j) se += std::exp(static_cast<double>(x[j] - m));
    const float lse = static_cast<float>(std::log(se));
    for (std::int64_t j = 0; j < D; ++j) y[j] = x[j] - m - lse;
  }
}

void log_softmax_backward(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* dy = dout + r * D;
    const float* y = out + r * D;
    double s = 0.0;
    for (std::int64_t j = 0; j < D; ++j) s += dy[j];
    const float sf = static_cast<float>(s);
    for (std::int64_t j = 0; j < D; ++j) dinp[r * D + j] = dy[j] - std::exp(y[j]) * sf;
  }
}

void nll_forward(float* loss_rows, float* weight_rows, const float* logp, const std::int32_t* target,
                 const float* weight, std::int64_t B, std::int64_t K, std::int64_t ignore_index) {
  for (std::int64_t r = 0; r < B; ++r) {
    const std::int32_t t = target[r];
    if (t == ignore_index) {
      loss_rows[r] = weight_rows[r] = 0.0f;
      continue;
    }
    const float w = weight ? weight[t] : 1.0f;
    weight_rows[r] = w;
    loss_rows[r] = -w * logp[r * K + t];
  }
}

void nll_backward(float* dlogp, const float* drows, float scale, const std::int32_t* target, const float* weight,
                  std::int64_t B, std::int64_t K, std::int64_t ignore_index) {
  std::fill(dlogp, dlogp + B * K, 0.0f);
  for (std::int64_t r = 0; r < B; ++r) {
    const std::int32_t t = target[r];
    if (t == ignore_index) continue;
    const float w = weight ? weight[t] : 1.0f;
    dlogp[r * K + t] = -w * scale * (drows ? drows[r] : 1.0f);
  }
}

void batchnorm_backward_eval(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* inp,
                             const float* mean, const float* var, const float* gamma, std::int64_t N, std::int64_t C,
                             std::int64_t L, float eps) {
  double* sdy = thread_scratch<double, Sums>(2 * C);
  std::fill(sdy, sdy + 2 * C, 0.0);
  double* sdyx = sdy + C;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c) {
      const float rstd = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c]) + eps));
      const float k = (gamma ? gamma[c] : 1.0f) * rstd;
      const std::int64_t base = (n * C + c) * L;
      for (std::int64_t l = 0; l < L; ++l) {
        const float dy = dout[base + l];
        dinp[base + l] = dy * k;
        sdy[c] += dy;
        sdyx[c] += static_cast<double>(dy) * ((inp[base + l] - mean[c]) * rstd);
      }
    }
  for (std::int64_t c = 0; c < C; ++c) {
    if (dgamma) dgamma[c] += static_cast<float>(sdyx[c]);
    if (dbeta) dbeta[c] += static_cast<float>(sdy[c]);
  }
}

}  // namespace bnlab::cpu
