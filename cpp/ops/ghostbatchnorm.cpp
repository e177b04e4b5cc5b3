// ghostbatchnorm.cpp — ghost batch norm on the batch-norm ops and the backend's broadcast kernels.
#include "ops/ghostbatchnorm.hpp"

#include <string>

#include "backend/backend.hpp"

namespace bnlab::ops {
namespace {
// out (V, C) = a (C) repeated V times.
void tile(Tensor& out, const Tensor& a, std::int64_t V, std::int64_t C) {
  out.ensure({V * C}, a.device());
  const std::int64_t shape[2] = {V, C}, stride[2] = {0, 1};
  backend(a.device()).binary(out.f32(), a.f32(), a.f32(), 2, shape, stride, stride, BinaryOp::First);
}
// out (C) = scale * sum over v of a (V, C); accumulate: out += that instead.
void sum_rows(Tensor& out, Tensor& scratch, const Tensor& a, std::int64_t V, std::int64_t C, float scale,
              bool accumulate) {
  Tensor& dst = accumulate ? scratch : out;
  dst.ensure({C}, a.device());
  const std::int64_t shape[2] = {V, C}, ostride[2] = {0, 1};
  const Backend& k = backend(a.device());
  k.sum_to(dst.f32(), C, a.f32(), 2, shape, ostride);
  if (scale != 1.0f) k.unary(dst.f32(), dst.f32(), C, UnaryOp::MulScalar, scale);
  if (accumulate) {
    const std::int64_t one[1] = {C}, unit[1] = {1};
    k.binary(out.f32(), out.f32(), dst.f32(), 1, one, unit, unit, BinaryOp::Add);
  }
}
BNShape ghost_view(BNShape s, std::int64_t k) {
  require(k >= 1 && s.N % k == 0, [&] {
    return "virtual_batch_size=" + std::to_string(k) + " must divide the batch size " + std::to_string(s.N);
  });
  return {k, (s.N / k) * s.C, s.L};
}
}  // namespace

void ghost_batchnorm_forward_train(Tensor& out, GhostCache& c, const Tensor& inp, const Tensor* gamma,
                                   const Tensor* beta, BNShape s, std::int64_t k, float eps, bool fuse_relu) {
  const BNShape g = ghost_view(s, k);
  const std::int64_t V = s.N / k;
  require(!gamma || gamma->numel() == s.C, "ghost batchnorm: gamma must have C elements");
  require(!beta || beta->numel() == s.C, "ghost batchnorm: beta must have C elements");
  if (gamma) tile(c.gamma_tiled, *gamma, V, s.C);
  if (beta) tile(c.beta_tiled, *beta, V, s.C);
  batchnorm_forward_train(out, c.bn, inp, gamma ? &c.gamma_tiled : nullptr, beta ? &c.beta_tiled : nullptr, g, eps,
                          fuse_relu);
  Tensor unused;
  sum_rows(c.mean, unused, c.bn.mean, V, s.C, 1.0f / static_cast<float>(V), false);
  sum_rows(c.var, unused, c.bn.var, V, s.C, 1.0f / static_cast<float>(V), false);
}

void ghost_batchnorm_backward(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, GhostCache& c,
                              const Tensor* gamma, BNShape s, std::int64_t k, const Tensor* relu_out) {
  const BNShape g = ghost_view(s, k);
  const std::int64_t V = s.N / k;
  for (Tensor* t : {&c.dgamma_tiled, &c.dbeta_tiled}) {
    t->ensure({V * s.C}, dout.device());
    t->fill(0.0f);
  }
  batchnorm_backward(dinp, &c.dgamma_tiled, &c.dbeta_tiled, dout, c.bn, gamma ? &c.gamma_tiled : nullptr, g, relu_out);
  // Gradients of the shared gamma and beta: the sums over the virtual batches of the tiled copies' gradients.
  if (dgamma) sum_rows(*dgamma, c.scratch, c.dgamma_tiled, V, s.C, 1.0f, true);
  if (dbeta) sum_rows(*dbeta, c.scratch, c.dbeta_tiled, V, s.C, 1.0f, true);
}

}  // namespace bnlab::ops
