// groupnorm.cpp — checks of the group- and layer-normalisation ops, then one call through the backend table.
// Messages are built lazily (the checks run on every training step, which must not allocate once warm).
#include "ops/groupnorm.hpp"

#include <string>

#include "backend/backend.hpp"
#include "ops/ops.hpp"

namespace bnlab::ops {
namespace {
// An optional float32 argument of n elements on the device of `like`.
void param(const Tensor* t, std::int64_t n, const Tensor& like, const char* what) {
  if (!t) return;
  require(t->defined() && t->dtype() == DType::F32 && t->numel() == n && t->device() == like.device(), [&] {
    return std::string(what) + " must be a float32 tensor of " + std::to_string(n) + " elements on " +
           device_name(like.device()) + ", got " + (t->defined() ? shape_str(t->shape()) : std::string("none"));
  });
}
void check(const Tensor& x, GNShape s, const char* op) {
  require(x.defined() && x.dtype() == DType::F32, [&] { return std::string(op) + ": the input must be float32"; });
  require(s.N >= 0 && s.A >= 0 && s.G >= 1 && s.K >= 0 && s.L >= 0 && s.N * s.A * s.G * s.K * s.L == x.numel(), [&] {
    return std::string(op) + ": the view (N, A, G, K, L) = (" + std::to_string(s.N) + ", " + std::to_string(s.A) +
           ", " + std::to_string(s.G) + ", " + std::to_string(s.K) + ", " + std::to_string(s.L) +
           ") does not match the input's shape " + shape_str(x.shape());
  });
}
}  // namespace

void groupnorm_forward(Tensor& out, NormCache& cache, const Tensor& inp, const Tensor* gamma, const Tensor* beta,
                       GNShape s, float eps) {
  check(inp, s, "groupnorm");
  param(gamma, s.G * s.K, inp, "groupnorm gamma");
  param(beta, s.G * s.K, inp, "groupnorm beta");
  require(eps > 0.0f, "groupnorm: epsilon must be > 0");
  const Device d = inp.device();
  out.ensure(inp.shape(), d);
  cache.xhat.ensure(inp.shape(), d);
  cache.mean.ensure({s.N, s.G}, d);
  cache.rstd.ensure({s.N, s.G}, d);
  backend(d).groupnorm_forward(out.f32(), cache.xhat.f32(), cache.mean.f32(), cache.rstd.f32(), inp.f32(),
                               gamma ? gamma->f32() : nullptr, beta ? beta->f32() : nullptr, s.N, s.A, s.G, s.K, s.L,
                               eps);
}

void groupnorm_backward(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, const NormCache& cache,
                        const Tensor* gamma, GNShape s) {
  check(dout, s, "groupnorm backward");
  require(cache.xhat.defined() && cache.xhat.numel() == dout.numel() && cache.rstd.numel() == s.N * s.G &&
              cache.xhat.device() == dout.device(),
          "groupnorm backward: dout does not match the forward's cache");
  param(dgamma, s.G * s.K, dout, "groupnorm backward dgamma");
  param(dbeta, s.G * s.K, dout, "groupnorm backward dbeta");
  param(gamma, s.G * s.K, dout, "groupnorm gamma");
  dinp.ensure(dout.shape(), dout.device());
  backend(dout.device())
      .groupnorm_backward(dinp.f32(), dgamma ? dgamma->f32() : nullptr, dbeta ? dbeta->f32() : nullptr, dout.f32(),
                          cache.xhat.f32(), cache.rstd.f32(), gamma ? gamma->f32() : nullptr, s.N, s.A, s.G, s.K, s.L);
}

void layernorm_forward(Tensor& out, NormCache& cache, const Tensor& inp, const Tensor* gamma, const Tensor* beta,
                       std::int64_t R, std::int64_t D, float eps) {
  groupnorm_forward(out, cache, inp, gamma, beta, {R, 1, 1, D, 1}, eps);
}

void layernorm_backward(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, const NormCache& cache,
                        const Tensor* gamma, std::int64_t R, std::int64_t D) {
  groupnorm_backward(dinp, dgamma, dbeta, dout, cache, gamma, {R, 1, 1, D, 1});
}

}  // namespace bnlab::ops
