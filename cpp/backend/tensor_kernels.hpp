// tensor_kernels.hpp — a second, small dispatch table: the kernels the PyTorch front end (bnlab.torch) needs
// beyond backend.hpp. General tensor arithmetic (broadcast binary ops, unary ops with a scalar, sums over
// axes), log-softmax, the negative log-likelihood loss, and the backward of batch norm in eval mode.
//
// Same conventions as backend.hpp: outputs first, then inputs, then sizes; every output is ASSIGNED except
// where a kernel says it accumulates. Shapes and strides are worked out once by the device-generic ops in
// ops/tensor_ops.cpp (broadcasting, dropping size-1 dimensions, merging contiguous ones), so a kernel only
// walks at most kMaxDims dimensions. A device without a registered table makes those ops raise an error
// naming the device; no other kernel is affected.
#pragma once

#include <cstdint>

#include "core/device.hpp"

namespace bnlab {

constexpr int kMaxDims = 8;

// First is a (b ignored): a broadcasting copy, what expand() uses.
enum class BinaryOp : int { Add = 0, Sub = 1, Mul = 2, Div = 3, First = 4 };

// y = f(x, s) for one scalar s (ignored by the ops that take none).
enum class UnaryOp : int {
  Neg = 0,          // -x
  Exp = 1,          // e^x
  Log = 2,          // ln x
  Sqrt = 3,         // sqrt x
  Abs = 4,          // |x|
  Sign = 5,         // -1, 0 or 1 (0 for NaN's sign is not defined; NaN stays NaN)
  AddScalar = 6,    // x + s
  MulScalar = 7,    // x * s
  DivScalar = 8,    // x / s  (a true division, not x * (1/s), so that results equal PyTorch's bit for bit)
  RSubScalar = 9,   // s - x
  RDivScalar = 10,  // s / x
  PowScalar = 11,   // x^s (s = 2 is x*x, s = 0.5 is sqrt x, as PyTorch special-cases them)
};

struct TensorKernels {
  const char* name;

  // out[i] = a[ia] op b[ib] over the (collapsed) output shape; ia, ib follow the element strides of a and
  // b, which are 0 along broadcast dimensions. out may alias a or b when their strides are contiguous.
  void (*binary)(float* out,      // (shape), contiguous
                 const float* a,  // strided by a_strides
                 const float* b,  // strided by b_strides
                 int ndim, const std::int64_t* shape, const std::int64_t* a_strides, const std::int64_t* b_strides,
                 BinaryOp op);
  // out[i] = f(a[i], s) over n elements; out may alias a.
  void (*unary)(float* out, const float* a, std::int64_t n, UnaryOp op, float s);
  // out (m elements) = sums of a (shape, contiguous) where out_strides is 0 along the summed dimensions:
  // out[sum_d idx_d * out_strides[d]] += a[idx]. Accumulates in double; assigns the result.
  void (*sum_to)(float* out, std::int64_t m, const float* a, int ndim, const std::int64_t* shape,
                 const std::int64_t* out_strides);

  // ---- log-softmax over rows of width D ----
  // out = x - max(x) - log(sum(exp(x - max(x)))).
  void (*log_softmax_forward)(float* out, const float* inp, std::int64_t rows, std::int64_t D);
  // From the forward OUTPUT y: dx = dy - exp(y) * sum(dy)   (softmax = exp(y)).
  void (*log_softmax_backward)(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D);

  // ---- negative log-likelihood over log-probabilities (B, K) and int32 class indices (B) ----
  // loss_rows[r] = -w[t_r] * logp[r, t_r] and weight_rows[r] = w[t_r] (w = 1 without weights); both 0 for a
  // row whose target equals ignore_index. The caller reduces: sum, or sum / sum(weight_rows) for a mean.
  void (*nll_forward)(float* loss_rows,            // (B)
                      float* weight_rows,          // (B)
                      const float* logp,           // (B, K)
                      const std::int32_t* target,  // (B)
                      const float* weight,         // (K) or nullptr
                      std::int64_t B, std::int64_t K, std::int64_t ignore_index);
  // dlogp (B, K) = 0 except dlogp[r, t_r] = -w[t_r] * scale * (drows ? drows[r] : 1); ignored rows stay 0.
  void (*nll_backward)(float* dlogp, const float* drows, float scale, const std::int32_t* target, const float* weight,
                       std::int64_t B, std::int64_t K, std::int64_t ignore_index);

  // ---- batch norm in eval mode (running statistics are constants), x viewed as (N, C, L) ----
  // y = gamma * (x - mean) * rstd + beta, rstd = 1/sqrt(var + eps), so
  // dx = dy * gamma * rstd;  dgamma += sum(dy * (x - mean) * rstd);  dbeta += sum(dy).
  void (*batchnorm_backward_eval)(float* dinp,         // (N, C, L)
                                  float* dgamma,       // (C) or nullptr, accumulates
                                  float* dbeta,        // (C) or nullptr, accumulates
                                  const float* dout,   // (N, C, L)
                                  const float* inp,    // (N, C, L)
                                  const float* mean,   // (C)
                                  const float* var,    // (C)
                                  const float* gamma,  // (C) or nullptr (ones)
                                  std::int64_t N, std::int64_t C, std::int64_t L, float eps);
};

void register_tensor_kernels(Device device, const TensorKernels* kernels);
// The table of a device; throws std::runtime_error naming the device when none is registered.
const TensorKernels& tensor_kernels(Device device);

}  // namespace bnlab
