// ops.cpp — the device-generic checks of every op, then one call through the backend table.
// Every message is built lazily (a literal or a lambda): the checks run on each training step, which must not
// allocate once warm.
#include "ops/ops.hpp"

#include <climits>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

namespace bnlab::ops {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

void require(bool ok, const char* message) {
  if (!ok) throw std::invalid_argument(message);
}

namespace {
void same_device(const Tensor& a, const Tensor& b, const char* what) {
  require(a.device() == b.device(), [&] {
    return std::string(what) + ": tensors are on different devices (" + device_name(a.device()) + " and " +
           device_name(b.device()) + ")";
  });
}
void f32(const Tensor& t, const char* what) {
  require(t.defined() && t.dtype() == DType::F32, [&] { return std::string(what) + " must be a float32 tensor"; });
}
// An optional float32 argument of n elements on the device of `like`.
void f32_sized(const Tensor* t, std::int64_t n, const Tensor& like, const char* what) {
  if (!t) return;
  f32(*t, what);
  require(t->numel() == n, [&] {
    return std::string(what) + " must have " + std::to_string(n) + " elements, got " + shape_str(t->shape());
  });
  same_device(*t, like, what);
}
const Backend& on(const Tensor& t) { return backend(t.device()); }

struct DenseDims {
  std::int64_t B, IN, OUT;
};
DenseDims dense_dims(const Tensor& inp, const Tensor& weight, bool weight_out_in) {
  f32(inp, "dense input");
  f32(weight, "dense weight");
  require(inp.ndim() == 2,
          [&] { return "dense input must be 2-D (batch, features), got shape " + shape_str(inp.shape()); });
  require(weight.ndim() == 2, [&] { return "dense weight must be 2-D, got shape " + shape_str(weight.shape()); });
  const std::int64_t B = inp.dim(0), IN = inp.dim(1);
  const std::int64_t OUT = weight_out_in ? weight.dim(0) : weight.dim(1);
  const std::int64_t WIN = weight_out_in ? weight.dim(1) : weight.dim(0);
  require(WIN == IN, [&] {
    return "dense input has " + std::to_string(IN) + " features but the weight expects " + std::to_string(WIN) +
           " (input shape " + shape_str(inp.shape()) + ")";
  });
  same_device(inp, weight, "dense");
  // The products take 32-bit sizes (cblas_sgemm, cuBLAS): a larger one is refused here, not narrowed there.
  require(B <= INT_MAX && IN <= INT_MAX && OUT <= INT_MAX, [&] {
    return "dense: input " + shape_str(inp.shape()) + " and weight " + shape_str(weight.shape()) +
           " exceed the 32-bit sizes of the matrix products (2^31 - 1); split the batch";
  });
  return {B, IN, OUT};
}
}  // namespace

void dense_forward(Tensor& out, const Tensor& inp, const Tensor& weight, const Tensor* bias, bool weight_out_in) {
  const auto [B, IN, OUT] = dense_dims(inp, weight, weight_out_in);
  f32_sized(bias, OUT, inp, "dense bias");
  out.ensure({B, OUT}, inp.device());
  on(inp).dense_forward(out.f32(), inp.f32(), weight.f32(), bias ? bias->f32() : nullptr, B, IN, OUT, weight_out_in);
}

void dense_backward(Tensor* dinp, Tensor& dweight, Tensor* dbias, const Tensor& dout, const Tensor& inp,
                    const Tensor& weight, bool weight_out_in, bool accumulate) {
  const auto [B, IN, OUT] = dense_dims(inp, weight, weight_out_in);
  f32(dout, "dense backward dout");
  require(dout.ndim() == 2 && dout.dim(0) == B && dout.dim(1) == OUT, [&] {
    return "dense backward: dout has shape " + shape_str(dout.shape()) + ", expected " + shape_str({B, OUT});
  });
  same_device(dout, inp, "dense backward");
  f32(dweight, "dense backward dweight");
  require(dweight.shape() == weight.shape(), [&] {
    return "dense backward: dweight has shape " + shape_str(dweight.shape()) + ", the weight " +
           shape_str(weight.shape());
  });
  same_device(dweight, inp, "dense backward");
  f32_sized(dbias, OUT, inp, "dense backward dbias");
  if (dinp) dinp->ensure({B, IN}, inp.device());
  on(inp).dense_backward(dinp ? dinp->f32() : nullptr, dweight.f32(), dbias ? dbias->f32() : nullptr, dout.f32(),
                         inp.f32(), weight.f32(), B, IN, OUT, weight_out_in, accumulate);
}

namespace {
void check_bn(const Tensor& inp, BNShape s, const Tensor* gamma, const Tensor* beta) {
  f32(inp, "batchnorm input");
  require(s.N >= 0 && s.C >= 0 && s.L >= 0 && s.N * s.C * s.L == inp.numel(), [&] {
    return "batchnorm: (N, C, L) = (" + std::to_string(s.N) + ", " + std::to_string(s.C) + ", " + std::to_string(s.L) +
           ") does not match the input's shape " + shape_str(inp.shape());
  });
  f32_sized(gamma, s.C, inp, "batchnorm gamma");
  f32_sized(beta, s.C, inp, "batchnorm beta");
}
}  // namespace

void batchnorm_forward_train(Tensor& out, BNCache& cache, const Tensor& inp, const Tensor* gamma, const Tensor* beta,
                             BNShape s, float eps, bool fuse_relu) {
  check_bn(inp, s, gamma, beta);
  require(s.N * s.L >= 1, "batchnorm in training mode needs at least one value per feature");
  const Device d = inp.device();
  out.ensure(inp.shape(), d);
  cache.xhat.ensure(inp.shape(), d);
  cache.mean.ensure({s.C}, d);
  cache.var.ensure({s.C}, d);
  cache.rstd.ensure({s.C}, d);
  on(inp).batchnorm_forward_train(out.f32(), cache.xhat.f32(), cache.mean.f32(), cache.var.f32(), cache.rstd.f32(),
                                  inp.f32(), gamma ? gamma->f32() : nullptr, beta ? beta->f32() : nullptr, s.N, s.C,
                                  s.L, eps, fuse_relu);
}

void batchnorm_forward_infer(Tensor& out, const Tensor& inp, const Tensor& mean, const Tensor& var, const Tensor* gamma,
                             const Tensor* beta, BNShape s, float eps, bool fuse_relu) {
  check_bn(inp, s, gamma, beta);
  f32_sized(&mean, s.C, inp, "batchnorm mean");
  f32_sized(&var, s.C, inp, "batchnorm variance");
  out.ensure(inp.shape(), inp.device());
  on(inp).batchnorm_forward_infer(out.f32(), inp.f32(), mean.f32(), var.f32(), gamma ? gamma->f32() : nullptr,
                                  beta ? beta->f32() : nullptr, s.N, s.C, s.L, eps, fuse_relu);
}

void batchnorm_backward(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, const BNCache& cache,
                        const Tensor* gamma, BNShape s, const Tensor* relu_out) {
  f32(dout, "batchnorm backward dout");
  require(s.N >= 0 && s.C >= 0 && s.L >= 0 && dout.numel() == s.N * s.C * s.L,
          "batchnorm backward: dout does not match (N, C, L)");
  require(cache.xhat.defined() && cache.xhat.numel() == dout.numel() && cache.rstd.numel() == s.C,
          "batchnorm backward: dout does not match the forward's cache");
  f32_sized(dgamma, s.C, dout, "batchnorm backward dgamma");
  f32_sized(dbeta, s.C, dout, "batchnorm backward dbeta");
  f32_sized(gamma, s.C, dout, "batchnorm gamma");
  same_device(dout, cache.xhat, "batchnorm backward");
  f32_sized(relu_out, dout.numel(), dout, "batchnorm backward relu_out");
  dinp.ensure(dout.shape(), dout.device());
  on(dout).batchnorm_backward(dinp.f32(), dgamma ? dgamma->f32() : nullptr, dbeta ? dbeta->f32() : nullptr, dout.f32(),
                              cache.xhat.f32(), cache.rstd.f32(), gamma ? gamma->f32() : nullptr,
                              relu_out ? relu_out->f32() : nullptr, s.N, s.C, s.L);
}

void blend(Tensor& moving, const Tensor& batch, float keep, float batch_scale) {
  f32(moving, "blend moving statistic");
  f32_sized(&batch, moving.numel(), moving, "blend batch statistic");
  on(moving).blend(moving.f32(), batch.f32(), keep, batch_scale, moving.numel());
}

void gather_rows(Tensor& out, const Tensor& src, const std::int64_t* idx, std::int64_t B) {
  require(src.defined() && src.ndim() >= 1, "gather_rows: the source needs a leading dimension");
  require(B >= 0, "gather_rows: negative number of rows");
  const std::int64_t n = src.dim(0);
  for (std::int64_t r = 0; r < B; ++r)
    require(idx[r] >= 0 && idx[r] < n, [&] {
      return "gather_rows: row index " + std::to_string(idx[r]) + " is out of range for " + std::to_string(n) + " rows";
    });
  require(n <= INT32_MAX, "gather_rows: the source has more than 2^31 - 1 rows");
  // The indices as int32 (they are below n), moved to src's device.
  Tensor rows({B}, Device::CPU, DType::I32);
  for (std::int64_t r = 0; r < B; ++r) rows.i32()[r] = static_cast<std::int32_t>(idx[r]);
  gather_rows(out, src, src.device() == Device::CPU ? rows : rows.to(src.device()), 0, B);
}

void gather_rows(Tensor& out, const Tensor& src, const Tensor& idx, std::int64_t start, std::int64_t B) {
  require(src.defined() && src.ndim() >= 1, "gather_rows: the source needs a leading dimension");
  require(idx.defined() && idx.dtype() == DType::I32 && idx.ndim() == 1, "gather_rows: idx must be a 1-D int32 tensor");
  same_device(idx, src, "gather_rows idx");
  require(start >= 0 && B >= 0 && start + B <= idx.numel(), [&] {
    return "gather_rows: rows [" + std::to_string(start) + ", " + std::to_string(start + B) + ") are outside idx of " +
           std::to_string(idx.numel()) + " entries";
  });
  const std::int64_t n = src.dim(0);
  if (idx.device() == Device::CPU)
    for (std::int64_t r = start; r < start + B; ++r)
      require(idx.i32()[r] >= 0 && idx.i32()[r] < n, [&] {
        return "gather_rows: row index " + std::to_string(idx.i32()[r]) + " is out of range for " + std::to_string(n) +
               " rows";
      });
  out.ensure_rows(B, src.shape(), src.device(), src.dtype());
  const std::int64_t row_bytes = (n ? src.numel() / n : 0) * static_cast<std::int64_t>(dtype_size(src.dtype()));
  on(src).gather_rows(out.raw(), src.raw(), idx.i32() + start, B, row_bytes);
}

void put_rows(Tensor& out, std::int64_t start, const Tensor& src) {
  require(out.defined() && src.defined() && out.ndim() >= 1 && src.ndim() >= 1, "put_rows: both need rows");
  same_device(out, src, "put_rows");
  require(out.dtype() == src.dtype(), "put_rows: the dtypes differ");
  const std::int64_t rows = src.dim(0), row = rows ? src.numel() / rows : 0;
  require(out.dim(0) ? out.numel() / out.dim(0) == row : row == 0, "put_rows: the row sizes differ");
  require(start >= 0 && start + rows <= out.dim(0), [&] {
    return "put_rows: rows [" + std::to_string(start) + ", " + std::to_string(start + rows) + ") are outside " +
           std::to_string(out.dim(0)) + " rows";
  });
  const std::size_t bytes = static_cast<std::size_t>(row) * dtype_size(src.dtype());
  on(out).copy(static_cast<char*>(out.raw()) + static_cast<std::size_t>(start) * bytes, src.raw(),
               static_cast<std::size_t>(rows) * bytes);
}

namespace {
std::int64_t last_dim(const Tensor& t) { return t.ndim() ? t.dim(-1) : 1; }
}  // namespace

void activation_forward(Tensor& out, const Tensor& inp, Act act) {
  f32(inp, "activation input");
  if (&out != &inp) out.ensure(inp.shape(), inp.device());
  const std::int64_t D = last_dim(inp);
  on(inp).activation_forward(out.f32(), inp.f32(), D ? inp.numel() / D : 0, D, act);
}

void activation_backward(Tensor& dinp, const Tensor& dout, const Tensor& out, Act act) {
  f32(dout, "activation backward dout");
  f32(out, "activation backward output");
  require(dout.shape() == out.shape(), [&] {
    return "activation backward: dout " + shape_str(dout.shape()) + " differs from the forward output " +
           shape_str(out.shape());
  });
  same_device(dout, out, "activation backward");
  if (&dinp != &dout) dinp.ensure(dout.shape(), dout.device());
  const std::int64_t D = last_dim(out);
  on(out).activation_backward(dinp.f32(), dout.f32(), out.f32(), D ? out.numel() / D : 0, D, act);
}

void dropout_forward(Tensor& out, Tensor& mask, const Tensor& inp, float rate, std::uint64_t seed,
                     std::uint64_t counter) {
  f32(inp, "dropout input");
  require(rate >= 0.0f && rate < 1.0f, [&] { return "dropout rate must be in [0, 1), got " + std::to_string(rate); });
  out.ensure(inp.shape(), inp.device());
  mask.ensure(inp.shape(), inp.device());
  on(inp).dropout_forward(out.f32(), mask.f32(), inp.f32(), inp.numel(), rate, seed, counter);
}

void dropout_backward(Tensor& dinp, const Tensor& dout, const Tensor& mask) {
  f32(dout, "dropout backward dout");
  f32_sized(&mask, dout.numel(), dout, "dropout backward mask");
  dinp.ensure(dout.shape(), dout.device());
  on(dout).dropout_backward(dinp.f32(), dout.f32(), mask.f32(), dout.numel());
}

namespace {
bool is_sparse(XentForm f) { return f == XentForm::SparseProbs || f == XentForm::SparseLogits; }

void check_target(const Tensor& pred, const Tensor& target, bool sparse) {
  f32(pred, "predictions");
  require(pred.ndim() == 2, [&] { return "predictions must be 2-D (batch, classes), got " + shape_str(pred.shape()); });
  const std::int64_t B = pred.dim(0), K = pred.dim(1);
  require(target.defined(), "the targets are an undefined tensor");
  same_device(pred, target, "loss");
  if (sparse) {
    require(target.dtype() == DType::I32 && target.numel() == B, [&] {
      return "sparse targets must be " + std::to_string(B) + " int32 class indices, got shape " +
             shape_str(target.shape());
    });
    if (target.device() == Device::CPU) {
      for (std::int64_t i = 0; i < B; ++i)
        require(target.i32()[i] >= 0 && target.i32()[i] < K, [&] {
          return "target label " + std::to_string(target.i32()[i]) + " is out of range for " + std::to_string(K) +
                 " classes";
        });
    }
  } else {
    require(target.dtype() == DType::F32 && target.shape() == pred.shape(), [&] {
      return "targets of shape " + shape_str(target.shape()) + " do not match predictions of shape " +
             shape_str(pred.shape());
    });
  }
}
}  // namespace

void xent(Tensor& loss_rows, Tensor* grad, const Tensor& pred, const Tensor& target, XentForm form,
          bool grad_wrt_logits, float eps, float scale) {
  check_target(pred, target, is_sparse(form));
  require(eps >= 0.0f && eps < 0.5f,
          [&] { return "cross-entropy epsilon must be in [0, 0.5), got " + std::to_string(eps); });
  const std::int64_t B = pred.dim(0), K = pred.dim(1);
  loss_rows.ensure({B}, pred.device());
  if (grad) grad->ensure(pred.shape(), pred.device());
  on(pred).xent(loss_rows.f32(), grad ? grad->f32() : nullptr, pred.f32(), target.raw(), B, K, form, grad_wrt_logits,
                eps, scale);
}

void mse(Tensor& loss_rows, Tensor* grad, const Tensor& pred, const Tensor& target, float scale) {
  check_target(pred, target, false);
  loss_rows.ensure({pred.dim(0)}, pred.device());
  if (grad) grad->ensure(pred.shape(), pred.device());
  on(pred).mse(loss_rows.f32(), grad ? grad->f32() : nullptr, pred.f32(), target.f32(), pred.dim(0), pred.dim(1),
               scale);
}

void accuracy(Tensor& correct, const Tensor& pred, const Tensor& target) {
  const bool sparse = target.dtype() == DType::I32;
  check_target(pred, target, sparse);
  correct.ensure({pred.dim(0)}, pred.device());
  on(pred).accuracy(correct.f32(), pred.f32(), target.raw(), pred.dim(0), pred.dim(1), sparse);
}

double sum(const Tensor& x) {
  f32(x, "sum input");
  return on(x).sum(x.f32(), x.numel());
}

void reset_sums(DeviceSums& sums, Device device) {
  if (!sums.acc || sums.device != device) {
    sums.acc = std::make_shared<Storage>(2 * sizeof(double), device);
    sums.device = device;
  }
  const double zeros[2] = {0.0, 0.0};
  backend(device).copy_from_host(sums.acc->ptr, zeros, sizeof zeros);
}

void accumulate_sums(DeviceSums& sums, const Tensor& a, const Tensor& b) {
  require(sums.acc != nullptr, "accumulate_sums: call reset_sums first");
  f32(a, "accumulate_sums a");
  f32(b, "accumulate_sums b");
  require(a.numel() == b.numel(), "accumulate_sums: a and b must have the same number of elements");
  require(a.device() == sums.device && b.device() == sums.device, "accumulate_sums: tensors not on the sums' device");
  on(a).accumulate_sums(static_cast<double*>(sums.acc->ptr), a.f32(), b.f32(), a.numel());
}

void read_sums(double out[2], const DeviceSums& sums) {
  require(sums.acc != nullptr, "read_sums: call reset_sums first");
  backend(sums.device).copy_to_host(out, sums.acc->ptr, 2 * sizeof(double));
}

namespace {
void check_update(const Tensor& w, const Tensor& g, const char* what) {
  f32(w, what);
  f32_sized(&g, w.numel(), w, what);
}
}  // namespace

void sgd_update(Tensor& w, Tensor& buf, const Tensor& g, float lr, float momentum, float dampening, float weight_decay,
                bool nesterov, bool first_step) {
  check_update(w, g, "sgd parameter and gradient");
  f32_sized(&buf, w.numel(), w, "sgd momentum buffer");
  on(w).sgd_update(w.f32(), buf.f32(), g.f32(), w.numel(), lr, momentum, dampening, weight_decay, nesterov, first_step);
}

void adam_update(Tensor& w, Tensor& m, Tensor& v, Tensor* vmax, const Tensor& g, float lr, double beta1, double beta2,
                 float eps, std::int64_t step, bool keras_eps, float weight_decay) {
  check_update(w, g, "adam parameter and gradient");
  f32_sized(&m, w.numel(), w, "adam first moment");
  f32_sized(&v, w.numel(), w, "adam second moment");
  f32_sized(vmax, w.numel(), w, "adam amsgrad maximum");
  require(step >= 1, "adam: step must be >= 1");
  const float c1 = static_cast<float>(1.0 - std::pow(beta1, static_cast<double>(step)));
  const float c2 = static_cast<float>(1.0 - std::pow(beta2, static_cast<double>(step)));
  const float omb1 = static_cast<float>(1.0 - beta1), omb2 = static_cast<float>(1.0 - beta2);
  on(w).adam_update(w.f32(), m.f32(), v.f32(), vmax ? vmax->f32() : nullptr, g.f32(), w.numel(), lr, omb1, omb2, eps,
                    c1, c2, keras_eps, weight_decay);
}

void rmsprop_update(Tensor& w, Tensor& v, Tensor* avg, Tensor* mom, const Tensor& g, float lr, float rho,
                    float momentum, float eps) {
  check_update(w, g, "rmsprop parameter and gradient");
  f32_sized(&v, w.numel(), w, "rmsprop second moment");
  f32_sized(avg, w.numel(), w, "rmsprop average gradient");
  f32_sized(mom, w.numel(), w, "rmsprop momentum");
  on(w).rmsprop_update(w.f32(), v.f32(), avg ? avg->f32() : nullptr, mom ? mom->f32() : nullptr, g.f32(), w.numel(), lr,
                       rho, momentum, eps);
}

}  // namespace bnlab::ops
