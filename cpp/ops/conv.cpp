// conv.cpp — the checks and geometry of the 2-D window ops, and the convolution op on them. Messages are built
// only on failure (lambdas): the checks run on every training step, which allocates nothing once warm.
#include "ops/conv.hpp"

#include <climits>
#include <string>

#include "ops/ops.hpp"

namespace bnlab::ops {
namespace {
using i64 = std::int64_t;

std::string pair_str(i64 a, i64 b) { return "(" + std::to_string(a) + ", " + std::to_string(b) + ")"; }

void require_f32(const Tensor& t, const char* what) {
  require(t.defined() && t.dtype() == DType::F32, [&] { return std::string(what) + " must be a float32 tensor"; });
}
}  // namespace

Conv2dShape window_geometry(const char* op, const Tensor& inp, i64 KH, i64 KW, i64 K, const Window2d& win,
                            bool pooling) {
  require_f32(inp, op);
  const bool last = win.channels_last;
  require(inp.ndim() == 4, [&] {
    return std::string(op) + " input must be 4-D " +
           (last ? "(batch, height, width, channels)" : "(batch, channels, height, width)") + ", got shape " +
           shape_str(inp.shape());
  });
  Conv2dShape s;
  s.N = inp.dim(0);
  s.C = last ? inp.dim(3) : inp.dim(1);
  s.H = last ? inp.dim(1) : inp.dim(2);
  s.W = last ? inp.dim(2) : inp.dim(3);
  s.K = K;
  s.KH = KH;
  s.KW = KW;
  s.SH = win.stride_h;
  s.SW = win.stride_w;
  s.pad_top = win.pad_top;
  s.pad_left = win.pad_left;
  s.channels_last = last;
  require(s.C >= 1 && s.H >= 1 && s.W >= 1, [&] {
    return std::string(op) + " input has an empty channel or spatial dimension: shape " + shape_str(inp.shape());
  });
  require(KH >= 1 && KW >= 1, [&] { return std::string(op) + " kernel size must be >= 1, got " + pair_str(KH, KW); });
  require(K >= 1,
          [&] { return std::string(op) + ": the number of output channels must be >= 1, got " + std::to_string(K); });
  require(s.SH >= 1 && s.SW >= 1,
          [&] { return std::string(op) + " stride must be >= 1, got " + pair_str(s.SH, s.SW); });
  require(win.pad_top >= 0 && win.pad_bottom >= 0 && win.pad_left >= 0 && win.pad_right >= 0, [&] {
    return std::string(op) + " padding must be >= 0, got (top, bottom, left, right) = (" + std::to_string(win.pad_top) +
           ", " + std::to_string(win.pad_bottom) + ", " + std::to_string(win.pad_left) + ", " +
           std::to_string(win.pad_right) + ")";
  });
  const i64 HP = s.H + win.pad_top + win.pad_bottom, WP = s.W + win.pad_left + win.pad_right;
  require(KH <= HP && KW <= WP, [&] {
    return std::string(op) + ": the kernel " + pair_str(KH, KW) + " is larger than the padded input " +
           pair_str(HP, WP) + " (input " + pair_str(s.H, s.W) + " plus padding): the output would have size 0";
  });
  s.OH = (HP - KH) / s.SH + 1;
  s.OW = (WP - KW) / s.SW + 1;
  if (pooling)
    require(win.pad_top < KH && win.pad_left < KW && (s.OH - 1) * s.SH - win.pad_top < s.H &&
                (s.OW - 1) * s.SW - win.pad_left < s.W,
            [&] {
              return std::string(op) + ": a window " + pair_str(KH, KW) +
                     " lies entirely in the padding; the padding must be smaller than the window";
            });
  require(s.N * s.OH * s.OW < INT_MAX && KH * KW * s.C * s.OH * s.OW < INT_MAX && s.H * s.W < INT_MAX,
          [&] { return std::string(op) + ": the input " + shape_str(inp.shape()) + " is too large"; });
  return s;
}

void conv2d_forward(Tensor& out, ConvCache& cache, const Tensor& inp, const Tensor& weight, const Tensor* bias,
                    const Window2d& win) {
  require_f32(weight, "conv2d weight");
  require(weight.ndim() == 4, [&] {
    return std::string("conv2d weight must be 4-D ") +
           (win.channels_last ? "(kernel_h, kernel_w, in_channels, out_channels)"
                              : "(out_channels, in_channels, kernel_h, kernel_w)") +
           ", got shape " + shape_str(weight.shape());
  });
  const bool last = win.channels_last;
  const i64 KH = last ? weight.dim(0) : weight.dim(2), KW = last ? weight.dim(1) : weight.dim(3);
  const i64 K = last ? weight.dim(3) : weight.dim(0), WC = last ? weight.dim(2) : weight.dim(1);
  const Conv2dShape s = window_geometry("conv2d", inp, KH, KW, K, win, false);
  require(WC == s.C, [&] {
    return "conv2d input has " + std::to_string(s.C) + " channels but the weight expects " + std::to_string(WC) +
           " (input shape " + shape_str(inp.shape()) + ", weight shape " + shape_str(weight.shape()) + ")";
  });
  require(inp.device() == weight.device(), "conv2d: the input and the weight are on different devices");
  if (bias) {
    require_f32(*bias, "conv2d bias");
    require(bias->numel() == K && bias->device() == inp.device(), [&] {
      return "conv2d bias must have " + std::to_string(K) + " elements on the input's device, got shape " +
             shape_str(bias->shape());
    });
  }
  const Device d = inp.device();
  ensure_dims(out, output_dims(s), d);
  cache.cols.ensure({s.N * s.OH * s.OW * KH * KW * s.C}, d);
  cache.shape = s;
  kernel_of(backend(d).conv2d_forward, "conv2d", d)(out.f32(), cache.cols.f32(), inp.f32(), weight.f32(),
                                                    bias ? bias->f32() : nullptr, s);
}

void conv2d_backward(Tensor* dinp, Tensor& dweight, Tensor* dbias, const Tensor& dout, ConvCache& cache,
                     const Tensor& weight, bool accumulate) {
  const Conv2dShape& s = cache.shape;
  require(cache.cols.defined() && cache.cols.numel() == s.N * s.OH * s.OW * s.KH * s.KW * s.C,
          "conv2d backward: the cache holds no forward (run conv2d_forward first)");
  require_f32(dout, "conv2d backward dout");
  require(has_dims(dout, output_dims(s)), [&] {
    return "conv2d backward: dout has shape " + shape_str(dout.shape()) + ", the forward's output " +
           shape_str(as_shape(output_dims(s)));
  });
  const Dims4 wdims = s.channels_last ? Dims4{s.KH, s.KW, s.C, s.K} : Dims4{s.K, s.C, s.KH, s.KW};
  require_f32(weight, "conv2d weight");
  require(has_dims(weight, wdims), [&] {
    return "conv2d backward: the weight has shape " + shape_str(weight.shape()) + ", the forward's " +
           shape_str(as_shape(wdims));
  });
  require_f32(dweight, "conv2d backward dweight");
  require(has_dims(dweight, wdims), [&] {
    return "conv2d backward: dweight has shape " + shape_str(dweight.shape()) + ", the weight " +
           shape_str(as_shape(wdims));
  });
  if (dbias) {
    require_f32(*dbias, "conv2d backward dbias");
    require(dbias->numel() == s.K, "conv2d backward: dbias must have one element per output channel");
  }
  const Device d = dout.device();
  require(cache.cols.device() == d && weight.device() == d && dweight.device() == d && (!dbias || dbias->device() == d),
          "conv2d backward: tensors are on different devices");
  const i64 R = s.KH * s.KW * s.C;
  if (dinp) {
    ensure_dims(*dinp, input_dims(s), d);
    cache.dcols.ensure({s.channels_last ? s.N * s.OH * s.OW * R : R * s.OH * s.OW}, d);
  }
  kernel_of(backend(d).conv2d_backward, "conv2d backward", d)(
      dinp ? dinp->f32() : nullptr, dinp ? cache.dcols.f32() : nullptr, dweight.f32(), dbias ? dbias->f32() : nullptr,
      dout.f32(), cache.cols.f32(), weight.f32(), s, accumulate);
}

}  // namespace bnlab::ops
