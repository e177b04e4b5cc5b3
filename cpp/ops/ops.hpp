// ops.hpp — the device-generic ops: each checks shapes, devices and arguments once, then calls the kernel of
// the tensors' device through the backend table. Ops come in forward/backward pairs; a forward writes the
// cache its backward reads. Outputs come first. Outputs are resized with Tensor::ensure, so a caller that
// keeps its output tensors allocates only on the first call (or when a batch grows).
//
// Errors are std::invalid_argument with a message naming the argument; the bindings turn them into
// Python ValueError.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>

#include "backend/backend.hpp"
#include "core/tensor.hpp"

namespace bnlab::ops {

// ---- dense ----
// out (B, OUT) = inp (B, IN) @ weight (+ bias). weight is (IN, OUT), or (OUT, IN) when weight_out_in.
void dense_forward(Tensor& out, const Tensor& inp, const Tensor& weight, const Tensor* bias, bool weight_out_in);
// dinp (B, IN) assigned unless nullptr; dweight, dbias accumulate (or are assigned when !accumulate).
void dense_backward(Tensor* dinp, Tensor& dweight, Tensor* dbias, const Tensor& dout, const Tensor& inp,
                    const Tensor& weight, bool weight_out_in, bool accumulate = true);

// ---- batch normalisation; x is viewed as (N, C, L) with (outer, C, inner) given by the caller ----
struct BNShape {
  std::int64_t N, C, L;
};
// Cache written by the training forward and read by the backward.
struct BNCache {
  Tensor xhat;  // (N, C, L)
  Tensor mean;  // (C) batch mean
  Tensor var;   // (C) biased batch variance
  Tensor rstd;  // (C) 1/sqrt(var + eps)
};
// fuse_relu: out = max(y, 0), the ReLU of a following Activation('relu') in the same pass.
void batchnorm_forward_train(Tensor& out, BNCache& cache, const Tensor& inp, const Tensor* gamma, const Tensor* beta,
                             BNShape s, float eps, bool fuse_relu = false);
void batchnorm_forward_infer(Tensor& out, const Tensor& inp, const Tensor& mean, const Tensor& var, const Tensor* gamma,
                             const Tensor* beta, BNShape s, float eps, bool fuse_relu = false);
// relu_out: the fused forward's output; dout is then the gradient w.r.t. the ReLU's output.
void batchnorm_backward(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, const BNCache& cache,
                        const Tensor* gamma, BNShape s, const Tensor* relu_out = nullptr);
// moving = moving * keep + batch * batch_scale * (1 - keep).
void blend(Tensor& moving, const Tensor& batch, float keep, float batch_scale = 1.0f);
// out rows (B, ...) = src rows picked by idx; src is (n, ...), any dtype. Two forms:
// - host indices (checked against n, then uploaded when src is not on the CPU): for one-off batches;
// - idx[start, start + B) of an int32 tensor on src's device (the training loop's permutation, uploaded once
//   per epoch): nothing moves between host and device. Its values are checked only where the host can read
//   them (on the CPU); on another device the caller guarantees 0 <= idx < n.
void gather_rows(Tensor& out, const Tensor& src, const std::int64_t* idx, std::int64_t B);
void gather_rows(Tensor& out, const Tensor& src, const Tensor& idx, std::int64_t start, std::int64_t B);
// out rows [start, start + rows of src) = src (rows, ...): one batch's result put in place in the whole set's.
// out and src are on one device and agree in dtype and row size.
void put_rows(Tensor& out, std::int64_t start, const Tensor& src);

// ---- activations; rows x D where D is the last dimension (softmax normalises over it) ----
void activation_forward(Tensor& out, const Tensor& inp, Act act);
void activation_backward(Tensor& dinp, const Tensor& dout, const Tensor& out, Act act);

// ---- dropout ----
void dropout_forward(Tensor& out, Tensor& mask, const Tensor& inp, float rate, std::uint64_t seed,
                     std::uint64_t counter);
void dropout_backward(Tensor& dinp, const Tensor& dout, const Tensor& mask);

// ---- losses and metrics; pred (B, K) ----
// target: int32 (B) for sparse forms, float32 (B, K) otherwise. loss_rows (B). grad may be nullptr.
void xent(Tensor& loss_rows, Tensor* grad, const Tensor& pred, const Tensor& target, XentForm form,
          bool grad_wrt_logits, float eps, float scale);
void mse(Tensor& loss_rows, Tensor* grad, const Tensor& pred, const Tensor& target, float scale);
void accuracy(Tensor& correct, const Tensor& pred, const Tensor& target);
double sum(const Tensor& x);
// Two running sums in double that live on a device (the training loop's loss and accuracy totals).
struct DeviceSums {
  std::shared_ptr<Storage> acc;  // (2) doubles on `device`
  Device device = Device::CPU;
};
// Gives `sums` storage on `device` (allocating only the first time, or when the device changes) and zeroes it.
void reset_sums(DeviceSums& sums, Device device);
// sums += (sum(a), sum(b)) on the device, without the host waiting; a and b are float32 of equal size.
void accumulate_sums(DeviceSums& sums, const Tensor& a, const Tensor& b);
// The two sums, read back to the host (on a GPU this waits for the queued work).
void read_sums(double out[2], const DeviceSums& sums);

// ---- optimizer updates (in place) ----
void sgd_update(Tensor& w, Tensor& buf, const Tensor& g, float lr, float momentum, float dampening, float weight_decay,
                bool nesterov, bool first_step);
void adam_update(Tensor& w, Tensor& m, Tensor& v, Tensor* vmax, const Tensor& g, float lr, double beta1, double beta2,
                 float eps, std::int64_t step, bool keras_eps, float weight_decay);
void rmsprop_update(Tensor& w, Tensor& v, Tensor* avg, Tensor* mom, const Tensor& g, float lr, float rho,
                    float momentum, float eps);

// Every check: throws std::invalid_argument(message) unless ok (the bindings turn it into ValueError).
void require(bool ok, const std::string& message);
// The same for a literal: no std::string is built unless the check fails.
void require(bool ok, const char* message);
// The same with the message built only on failure. Checks on the training step's path use this form (or a
// literal): building a message eagerly allocates on every call, and steady-state training allocates nothing.
template <std::invocable F>
void require(bool ok, F&& make_message) {
  if (!ok) require(false, std::string(make_message()));
}

}  // namespace bnlab::ops
