// tensor_ops.hpp — the device-generic ops over the tensor kernels of the Backend table (backend/kernels.hpp): general
// arithmetic with NumPy/PyTorch broadcasting, sums over axes, log-softmax, NLL and the eval-mode batch-norm
// backward, plus the storage helpers the PyTorch front end needs (views, uninitialised tensors, copies).
//
// Each op checks shapes, dtypes and devices once, then calls the kernel of the tensors' device. Outputs come
// first and are resized with Tensor::ensure. Errors are std::invalid_argument naming the argument (ValueError
// in Python).
#pragma once

#include <cstdint>

#include "backend/kernels.hpp"
#include "core/tensor.hpp"

namespace bnlab::ops {

// The shape both operands broadcast to (NumPy rules: align on the right, 1 stretches); throws when they
// do not broadcast.
Shape broadcast_shape(const Shape& a, const Shape& b);

// out (broadcast shape) = a op b. out may be a itself (in-place) when a already has the broadcast shape.
void binary(Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op);
// out (shape) = a broadcast to `shape` (a copy; the backward of sum).
void expand(Tensor& out, const Tensor& a, const Shape& shape);
// out (a's shape) = f(a, s). out may be a itself.
void unary(Tensor& out, const Tensor& a, UnaryOp op, float s = 0.0f);
// out (shape) = a summed down to `shape`, which a must broadcast to (keep-dims form or fewer leading
// dimensions: the backward of broadcasting, and sum over chosen axes).
void sum_to(Tensor& out, const Tensor& a, const Shape& shape);

// Log-softmax over the last dimension.
void log_softmax_forward(Tensor& out, const Tensor& inp);
void log_softmax_backward(Tensor& dinp, const Tensor& dout, const Tensor& out);

// NLL over logp (B, K) and int32 targets (B); see kernel::NllForward. weight (K) may be nullptr.
void nll_forward(Tensor& loss_rows, Tensor& weight_rows, const Tensor& logp, const Tensor& target, const Tensor* weight,
                 std::int64_t ignore_index);
void nll_backward(Tensor& dlogp, const Tensor* drows, float scale, const Tensor& logp, const Tensor& target,
                  const Tensor* weight, std::int64_t ignore_index);

// Batch-norm backward with constant (running) statistics; x viewed as (N, C, L). dgamma, dbeta accumulate.
void batchnorm_backward_eval(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, const Tensor& inp,
                             const Tensor& mean, const Tensor& var, const Tensor* gamma, std::int64_t N, std::int64_t C,
                             std::int64_t L, float eps);

// A tensor of `shape` sharing src's storage (same element count).
Tensor view(const Tensor& src, const Shape& shape);
// An uninitialised tensor (no fill: for outputs that a kernel assigns completely).
Tensor empty(const Shape& shape, Device device, DType dtype);
// dst = src, elementwise on one device (same element count and dtype; shapes may differ).
void copy(Tensor& dst, const Tensor& src);

}  // namespace bnlab::ops
