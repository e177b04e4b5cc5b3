// tensor_ops.cpp — the device-generic checks of each tensor op, before the device's kernel: broadcasting,
// stride computation and dimension collapsing happen here once, so kernels walk the fewest dimensions.
#include "ops/tensor_ops.hpp"

#include <array>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "backend/backend.hpp"
#include "ops/ops.hpp"

namespace bnlab {

namespace ops {
namespace {
void f32(const Tensor& t, const char* what) {
  require(t.defined() && t.dtype() == DType::F32, std::string(what) + " must be a float32 tensor");
}
void same_device(const Tensor& a, const Tensor& b, const char* what) {
  require(a.device() == b.device(), std::string(what) + ": tensors are on different devices (" +
                                        device_name(a.device()) + " and " + device_name(b.device()) + ")");
}
const Backend& on(const Tensor& t) { return backend(t.device()); }

// A walk over an output shape with the element strides of up to two operands; size-1 dimensions dropped and
// neighbours merged wherever every operand is contiguous across them.
struct Walk {
  int ndim = 0;
  std::int64_t shape[kMaxDims] = {}, s0[kMaxDims] = {}, s1[kMaxDims] = {};
};

Walk collapse(const Shape& shape, const std::int64_t* s0, const std::int64_t* s1) {
  Walk w;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int k = w.ndim;
    if (k > 0 && w.s0[k - 1] == s0[d] * shape[d] && w.s1[k - 1] == s1[d] * shape[d]) {
      w.shape[k - 1] *= shape[d];  // merge into the previous (outer) dimension
      w.s0[k - 1] = s0[d];
      w.s1[k - 1] = s1[d];
      continue;
    }
    require(k < kMaxDims, "tensor ops support at most " + std::to_string(kMaxDims) + " dimensions");
    w.shape[k] = shape[d];
    w.s0[k] = s0[d];
    w.s1[k] = s1[d];
    w.ndim = k + 1;
  }
  return w;
}

// Element strides of `t` read along `out` (right-aligned; 0 where t has size 1 or no dimension).
std::vector<std::int64_t> broadcast_strides(const Shape& t, const Shape& out) {
  std::vector<std::int64_t> s(out.size(), 0);
  std::int64_t stride = 1;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const std::size_t dt = t.size() - 1 - i, dout = out.size() - 1 - i;
    if (t[dt] != 1) s[dout] = stride;
    stride *= t[dt];
  }
  return s;
}
}  // namespace

Shape broadcast_shape(const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n, 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const std::int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    require(da == db || da == 1 || db == 1, "shapes " + shape_str(a) + " and " + shape_str(b) +
                                                " do not broadcast (dimension " + std::to_string(n - 1 - i) + ": " +
                                                std::to_string(da) + " vs " + std::to_string(db) + ")");
    out[n - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

void binary(Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op) {
  f32(a, "first operand");
  f32(b, "second operand");
  same_device(a, b, "binary op");
  const Shape shape = broadcast_shape(a.shape(), b.shape());
  if (&out == &a || &out == &b)
    require(out.shape() == shape, "in-place op: the result's shape " + shape_str(shape) +
                                      " differs from the output's " + shape_str(out.shape()));
  else
    out.ensure(shape, a.device());
  const auto sa = broadcast_strides(a.shape(), shape), sb = broadcast_strides(b.shape(), shape);
  const Walk w = collapse(shape, sa.data(), sb.data());
  if (out.numel() == 0) return;
  on(a).binary(out.f32(), a.f32(), b.f32(), w.ndim, w.shape, w.s0, w.s1, op);
}

void expand(Tensor& out, const Tensor& a, const Shape& shape) {
  f32(a, "expand input");
  require(broadcast_shape(a.shape(), shape) == shape,
          "expand: " + shape_str(a.shape()) + " cannot be broadcast to " + shape_str(shape));
  require(&out != &a, "expand: the output must be another tensor than the input");
  out.ensure(shape, a.device());
  const auto sa = broadcast_strides(a.shape(), shape);
  const Walk w = collapse(shape, sa.data(), sa.data());
  if (out.numel() == 0) return;
  on(a).binary(out.f32(), a.f32(), a.f32(), w.ndim, w.shape, w.s0, w.s1, BinaryOp::First);
}

void unary(Tensor& out, const Tensor& a, UnaryOp op, float s) {
  f32(a, "unary op input");
  if (&out != &a) out.ensure(a.shape(), a.device());
  on(a).unary(out.f32(), a.f32(), a.numel(), op, s);
}

void sum_to(Tensor& out, const Tensor& a, const Shape& shape) {
  f32(a, "sum input");
  require(shape.size() <= a.shape().size(),
          "sum_to: target " + shape_str(shape) + " has more dimensions than " + shape_str(a.shape()));
  const std::size_t lead = a.shape().size() - shape.size();
  Shape padded(lead, 1);
  padded.insert(padded.end(), shape.begin(), shape.end());
  for (std::size_t d = 0; d < padded.size(); ++d)
    require(padded[d] == 1 || padded[d] == a.shape()[d],
            "sum_to: " + shape_str(a.shape()) + " cannot be summed to " + shape_str(shape));
  const auto so = broadcast_strides(padded, a.shape());
  std::vector<std::int64_t> sa(a.shape().size());
  std::int64_t stride = 1;
  for (std::size_t i = sa.size(); i-- > 0;) {
    sa[i] = stride;
    stride *= a.shape()[i];
  }
  const Walk w = collapse(a.shape(), sa.data(), so.data());
  out.ensure(shape, a.device());
  if (out.numel() == 0) return;
  if (a.numel() == 0) {  // sums over an empty dimension are 0 (as torch.zeros(3, 0).sum(1))
    out.fill(0.0f);
    return;
  }
  on(a).sum_to(out.f32(), out.numel(), a.f32(), w.ndim, w.shape, w.s1);
}

namespace {
std::int64_t rows_of(const Tensor& t) { return t.ndim() && t.dim(-1) ? t.numel() / t.dim(-1) : 0; }
}  // namespace

void log_softmax_forward(Tensor& out, const Tensor& inp) {
  f32(inp, "log_softmax input");
  require(inp.ndim() >= 1, "log_softmax needs at least one dimension");
  out.ensure(inp.shape(), inp.device());
  on(inp).log_softmax_forward(out.f32(), inp.f32(), rows_of(inp), inp.dim(-1));
}

void log_softmax_backward(Tensor& dinp, const Tensor& dout, const Tensor& out) {
  f32(dout, "log_softmax backward dout");
  f32(out, "log_softmax backward output");
  same_device(dout, out, "log_softmax backward");
  require(dout.shape() == out.shape(), "log_softmax backward: dout " + shape_str(dout.shape()) +
                                           " differs from the forward output " + shape_str(out.shape()));
  dinp.ensure(out.shape(), out.device());
  on(out).log_softmax_backward(dinp.f32(), dout.f32(), out.f32(), rows_of(out), out.dim(-1));
}

namespace {
void check_nll(const Tensor& logp, const Tensor& target, const Tensor* weight, std::int64_t ignore_index) {
  f32(logp, "nll input");
  require(logp.ndim() == 2, "nll input must be 2-D (batch, classes), got " + shape_str(logp.shape()));
  const std::int64_t B = logp.dim(0), K = logp.dim(1);
  require(target.dtype() == DType::I32 && target.numel() == B,
          "nll targets must be " + std::to_string(B) + " class indices, got shape " + shape_str(target.shape()));
  same_device(logp, target, "nll");
  if (weight) {
    f32(*weight, "nll weight");
    same_device(logp, *weight, "nll weight");
    require(weight->numel() == K, "nll weight must have one value per class (" + std::to_string(K) + ")");
  }
  if (target.device() == Device::CPU)
    for (std::int64_t i = 0; i < B; ++i) {
      const std::int32_t t = target.i32()[i];
      require(t == ignore_index || (t >= 0 && t < K), "Target " + std::to_string(t) + " is out of bounds.");
    }
}
}  // namespace

void nll_forward(Tensor& loss_rows, Tensor& weight_rows, const Tensor& logp, const Tensor& target, const Tensor* weight,
                 std::int64_t ignore_index) {
  check_nll(logp, target, weight, ignore_index);
  const std::int64_t B = logp.dim(0), K = logp.dim(1);
  loss_rows.ensure({B}, logp.device());
  weight_rows.ensure({B}, logp.device());
  on(logp).nll_forward(loss_rows.f32(), weight_rows.f32(), logp.f32(), target.i32(), weight ? weight->f32() : nullptr,
                       B, K, ignore_index);
}

void nll_backward(Tensor& dlogp, const Tensor* drows, float scale, const Tensor& logp, const Tensor& target,
                  const Tensor* weight, std::int64_t ignore_index) {
  check_nll(logp, target, weight, ignore_index);
  const std::int64_t B = logp.dim(0), K = logp.dim(1);
  if (drows) {
    f32(*drows, "nll backward row gradients");
    same_device(logp, *drows, "nll backward row gradients");
    require(drows->numel() == B, "nll backward: the row gradients must have " + std::to_string(B) + " elements");
  }
  dlogp.ensure(logp.shape(), logp.device());
  on(logp).nll_backward(dlogp.f32(), drows ? drows->f32() : nullptr, scale, target.i32(),
                        weight ? weight->f32() : nullptr, B, K, ignore_index);
}

void batchnorm_backward_eval(Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, const Tensor& inp,
                             const Tensor& mean, const Tensor& var, const Tensor* gamma, std::int64_t N, std::int64_t C,
                             std::int64_t L, float eps) {
  f32(inp, "batchnorm input");
  f32(dout, "batchnorm backward dout");
  f32(mean, "batchnorm mean");
  f32(var, "batchnorm variance");
  require(N * C * L == inp.numel() && dout.numel() == inp.numel(),
          "batchnorm backward: (N, C, L) does not match the input and dout");
  same_device(inp, dout, "batchnorm backward dout");
  same_device(inp, mean, "batchnorm mean");
  same_device(inp, var, "batchnorm variance");
  for (const Tensor* t : std::initializer_list<const Tensor*>{gamma, dgamma, dbeta})
    if (t) {
      f32(*t, "batchnorm gamma/dgamma/dbeta");
      same_device(inp, *t, "batchnorm gamma/dgamma/dbeta");
    }
  require(mean.numel() == C && var.numel() == C, "batchnorm statistics must have C elements");
  if (gamma) require(gamma->numel() == C, "batchnorm gamma must have C elements");
  if (dgamma) require(dgamma->numel() == C, "batchnorm dgamma must have C elements");
  if (dbeta) require(dbeta->numel() == C, "batchnorm dbeta must have C elements");
  dinp.ensure(inp.shape(), inp.device());
  on(inp).batchnorm_backward_eval(dinp.f32(), dgamma ? dgamma->f32() : nullptr, dbeta ? dbeta->f32() : nullptr,
                                  dout.f32(), inp.f32(), mean.f32(), var.f32(), gamma ? gamma->f32() : nullptr, N, C, L,
                                  eps);
}

Tensor view(const Tensor& src, const Shape& shape) {
  require(src.defined(), "view of an undefined tensor");
  require(shape_numel(shape) == src.numel(),
          "shape " + shape_str(shape) + " is invalid for a tensor of " + std::to_string(src.numel()) + " elements");
  return src.view(shape);
}

Tensor empty(const Shape& shape, Device device, DType dtype) { return Tensor(shape, device, dtype); }

void copy(Tensor& dst, const Tensor& src) {
  require(dst.numel() == src.numel() && dst.dtype() == src.dtype(),
          "copy: " + shape_str(src.shape()) + " into " + shape_str(dst.shape()) + " (element counts or dtypes differ)");
  same_device(dst, src, "copy");
  if (src.numel())
    backend(src.device()).copy(dst.raw(), src.raw(), static_cast<std::size_t>(src.numel()) * dtype_size(src.dtype()));
}

}  // namespace ops
}  // namespace bnlab
