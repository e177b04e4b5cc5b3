// batchrenorm.cpp — batch renormalisation composed from the batch-norm ops and two per-feature kernels.
#include "ops/batchrenorm.hpp"

#include <string>

namespace bnlab::ops {
namespace {
void sized(const Tensor& t, std::int64_t C, const Tensor& like, const char* what) {
  require(t.defined() && t.dtype() == DType::F32 && t.numel() == C && t.device() == like.device(), [&] {
    return std::string("batchrenorm: ") + what + " must be float32 with " + std::to_string(C) + " elements";
  });
}
}  // namespace

void batchrenorm_forward_train(Tensor& out, BNCache& cache, RenormCorrection& corr, RenormState& state,
                               const Tensor& inp, const Tensor* gamma, const Tensor* beta, BNShape s, float eps,
                               RenormClip clip, float momentum, float renorm_momentum, bool fuse_relu) {
  require(clip.rmin <= clip.rmax && clip.dmax >= 0.0f, "batchrenorm: the clipping needs rmin <= rmax and dmax >= 0");
  batchnorm_forward_train(out, cache, inp, nullptr, nullptr, s, eps);  // statistics and xhat; out rewritten below
  const Device d = inp.device();
  sized(state.renorm_mean, s.C, inp, "renorm_mean");
  sized(state.renorm_stddev, s.C, inp, "renorm_stddev");
  sized(state.moving_mean, s.C, inp, "moving_mean");
  sized(state.moving_stddev, s.C, inp, "moving_stddev");
  sized(state.moving_variance, s.C, inp, "moving_variance");
  if (gamma) sized(*gamma, s.C, inp, "gamma");
  if (beta) sized(*beta, s.C, inp, "beta");
  for (Tensor* t : {&corr.r, &corr.d, &corr.gamma_eff, &corr.beta_eff}) t->ensure({s.C}, d);
  backend(d).batchrenorm_correct(corr.gamma_eff.f32(), corr.beta_eff.f32(), corr.r.f32(), corr.d.f32(),
                                 state.renorm_mean.f32(), state.renorm_stddev.f32(), state.moving_mean.f32(),
                                 state.moving_stddev.f32(), state.moving_variance.f32(), cache.mean.f32(),
                                 cache.var.f32(), gamma ? gamma->f32() : nullptr, beta ? beta->f32() : nullptr, s.C,
                                 eps, clip.rmin, clip.rmax, clip.dmax, momentum, renorm_momentum);
  batchnorm_forward_infer(out, inp, cache.mean, cache.var, &corr.gamma_eff, &corr.beta_eff, s, eps, fuse_relu);
}

void batchrenorm_backward(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, RenormCorrection& corr, const Tensor& dout,
                          const BNCache& cache, BNShape s, const Tensor* relu_out) {
  require(corr.r.defined() && corr.r.numel() == s.C, "batchrenorm backward: no training forward to differentiate");
  const Device d = dout.device();
  corr.sum_dy_xhat.ensure({s.C}, d);
  corr.sum_dy.ensure({s.C}, d);
  corr.sum_dy_xhat.fill(0.0f);
  corr.sum_dy.fill(0.0f);
  batchnorm_backward(dinp, &corr.sum_dy_xhat, &corr.sum_dy, dout, cache, &corr.gamma_eff, s, relu_out);
  if (dgamma) sized(*dgamma, s.C, dout, "dgamma");
  if (dbeta) sized(*dbeta, s.C, dout, "dbeta");
  backend(d).batchrenorm_param_grads(dgamma ? dgamma->f32() : nullptr, dbeta ? dbeta->f32() : nullptr,
                                     corr.sum_dy_xhat.f32(), corr.sum_dy.f32(), corr.r.f32(), corr.d.f32(), s.C);
}

}  // namespace bnlab::ops
