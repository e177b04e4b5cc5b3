// pool.cpp — the checks of the pooling ops (conv.cpp's window geometry), then the kernel of the input's device.
#include "ops/pool.hpp"

#include <string>

#include "ops/ops.hpp"

namespace bnlab::ops {
namespace {
void pool_forward_shapes(Tensor& out, PoolCache& cache, const char* op, const Tensor& inp, std::int64_t KH,
                         std::int64_t KW, const Window2d& win, bool count_include_pad) {
  const std::int64_t C = inp.ndim() == 4 ? inp.dim(win.channels_last ? 3 : 1) : 1;
  cache.shape = window_geometry(op, inp, KH, KW, C, win, true);
  cache.count_include_pad = count_include_pad;
  ensure_dims(out, output_dims(cache.shape), inp.device());
}

// dout must be the last forward's output shape; dinp gets its input's.
void pool_backward_shapes(Tensor& dinp, const Tensor& dout, const PoolCache& cache, const char* op) {
  require(dout.defined() && dout.dtype() == DType::F32,
          [&] { return std::string(op) + " backward: dout must be a float32 tensor"; });
  require(cache.shape.K >= 1, [&] { return std::string(op) + " backward: the cache holds no forward"; });
  require(has_dims(dout, output_dims(cache.shape)), [&] {
    return std::string(op) + " backward: dout has shape " + shape_str(dout.shape()) + ", the forward's output " +
           shape_str(as_shape(output_dims(cache.shape)));
  });
  ensure_dims(dinp, input_dims(cache.shape), dout.device());
}
}  // namespace

void max_pool2d_forward(Tensor& out, PoolCache& cache, const Tensor& inp, std::int64_t KH, std::int64_t KW,
                        const Window2d& win) {
  pool_forward_shapes(out, cache, "max_pool2d", inp, KH, KW, win, false);
  cache.argmax.ensure(out.shape(), inp.device(), DType::I32);
  kernel_of(backend(inp.device()).max_pool2d_forward, "max_pool2d_forward", inp.device())(out.f32(), cache.argmax.i32(),
                                                                                          inp.f32(), cache.shape);
}

void max_pool2d_backward(Tensor& dinp, const Tensor& dout, const PoolCache& cache) {
  pool_backward_shapes(dinp, dout, cache, "max_pool2d");
  require(cache.argmax.defined() && cache.argmax.dtype() == DType::I32 && cache.argmax.numel() == dout.numel() &&
              cache.argmax.device() == dout.device(),
          "max_pool2d backward: the cache holds no max_pool2d forward of this shape");
  kernel_of(backend(dout.device()).max_pool2d_backward, "max_pool2d_backward", dout.device())(
      dinp.f32(), dout.f32(), cache.argmax.i32(), cache.shape);
}

void avg_pool2d_forward(Tensor& out, PoolCache& cache, const Tensor& inp, std::int64_t KH, std::int64_t KW,
                        const Window2d& win, bool count_include_pad) {
  pool_forward_shapes(out, cache, "avg_pool2d", inp, KH, KW, win, count_include_pad);
  kernel_of(backend(inp.device()).avg_pool2d_forward, "avg_pool2d_forward", inp.device())(
      out.f32(), inp.f32(), cache.shape, count_include_pad);
}

void avg_pool2d_backward(Tensor& dinp, const Tensor& dout, const PoolCache& cache) {
  pool_backward_shapes(dinp, dout, cache, "avg_pool2d");
  kernel_of(backend(dout.device()).avg_pool2d_backward, "avg_pool2d_backward", dout.device())(
      dinp.f32(), dout.f32(), cache.shape, cache.count_include_pad);
}

void global_avg_pool2d_forward(Tensor& out, PoolCache& cache, const Tensor& inp, bool channels_last) {
  require(inp.defined() && inp.ndim() == 4, [&] {
    return std::string("global_avg_pool2d input must be 4-D ") +
           (channels_last ? "(batch, height, width, channels)" : "(batch, channels, height, width)") + ", got shape " +
           shape_str(inp.shape());
  });
  const std::int64_t H = inp.dim(channels_last ? 1 : 2), W = inp.dim(channels_last ? 2 : 3);
  Window2d win;
  win.channels_last = channels_last;
  pool_forward_shapes(out, cache, "global_avg_pool2d", inp, H, W, win, true);
  out.ensure({cache.shape.N, cache.shape.C}, inp.device());  // (N, 1, 1, C) and (N, C, 1, 1) are (N, C) in memory
  kernel_of(backend(inp.device()).avg_pool2d_forward, "avg_pool2d_forward", inp.device())(out.f32(), inp.f32(),
                                                                                          cache.shape, true);
}

void global_avg_pool2d_backward(Tensor& dinp, const Tensor& dout, const PoolCache& cache) {
  const Conv2dShape& s = cache.shape;
  require(dout.defined() && dout.dtype() == DType::F32 && dout.ndim() == 2 && dout.dim(0) == s.N &&
              dout.dim(1) == s.C && s.OH == 1 && s.OW == 1,
          [&] {
            return "global_avg_pool2d backward: dout has shape " + shape_str(dout.shape()) +
                   ", the forward's output (" + std::to_string(s.N) + ", " + std::to_string(s.C) + ")";
          });
  ensure_dims(dinp, input_dims(s), dout.device());
  kernel_of(backend(dout.device()).avg_pool2d_backward, "avg_pool2d_backward", dout.device())(dinp.f32(), dout.f32(), s,
                                                                                              true);
}

}  // namespace bnlab::ops
