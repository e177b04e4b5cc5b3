// conv.hpp — the device-generic 2-D convolution, and the window geometry it shares with pooling (pool.hpp).
// Each op checks its arguments once (std::invalid_argument naming the argument), derives the geometry
// (backend/kernels.hpp's Conv2dShape), sizes the outputs and caches with Tensor::ensure, then calls the kernel of the
// input's device. The forward records the geometry in its cache; the backward reads it from there.
//
// Layouts: channels_last x (N, H, W, C) with a Keras kernel (KH, KW, C, K); channels_first x (N, C, H, W) with a
// PyTorch weight (K, C, KH, KW). Output size per axis: O = (I + pad_before + pad_after - KERNEL) / STRIDE + 1
// (floor). Callers turn Keras's 'valid' (no padding) and 'same' (total max((ceil(I/S) - 1)*S + KERNEL - I, 0),
// the odd pixel at the bottom/right) into explicit paddings.
#pragma once

#include <array>
#include <stdexcept>
#include <string>

#include "backend/backend.hpp"
#include "core/tensor.hpp"

namespace bnlab::ops {

// Strides and explicit paddings of a window op, and the data layout.
struct Window2d {
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  bool channels_last = true;
};

// The checked geometry of a window op over inp (4-D float32) with a (KH, KW) window and K output channels:
// throws std::invalid_argument naming `op` and the argument for a wrong rank, an empty input, stride < 1,
// negative padding, or a window larger than the padded input (an output of size 0); with `pooling`, also for a
// window that would lie entirely in the padding (it would have nothing to pool).
Conv2dShape window_geometry(const char* op, const Tensor& inp, std::int64_t KH, std::int64_t KW, std::int64_t K,
                            const Window2d& win, bool pooling);

// The four dimensions of a window op's input and output in its layout, held without a heap allocation (the
// checks run on every step), and the checks and resizing that use them.
using Dims4 = std::array<std::int64_t, 4>;
inline Dims4 input_dims(const Conv2dShape& s) {
  return s.channels_last ? Dims4{s.N, s.H, s.W, s.C} : Dims4{s.N, s.C, s.H, s.W};
}
inline Dims4 output_dims(const Conv2dShape& s) {
  return s.channels_last ? Dims4{s.N, s.OH, s.OW, s.K} : Dims4{s.N, s.K, s.OH, s.OW};
}
inline bool has_dims(const Tensor& t, const Dims4& d) {
  return t.ndim() == 4 && t.dim(0) == d[0] && t.dim(1) == d[1] && t.dim(2) == d[2] && t.dim(3) == d[3];
}
inline Shape as_shape(const Dims4& d) { return Shape(d.begin(), d.end()); }
inline void ensure_dims(Tensor& t, const Dims4& d, Device device) { t.ensure({d[0], d[1], d[2], d[3]}, device); }

// The kernel `k` of a backend table, or std::invalid_argument when that device has none for `op`.
template <class Kernel>
Kernel kernel_of(Kernel k, const char* op, Device device) {
  if (!k) throw std::invalid_argument(std::string(op) + " has no kernel on the " + device_name(device) + " backend");
  return k;
}

struct ConvCache {
  Tensor cols;        // (N*OH*OW*KH*KW*C) the im2col of the last forward's input, read by the backward
  Tensor dcols;       // the backward's scratch (sized on first use, then reused)
  Conv2dShape shape;  // the last forward's geometry
};
// out (N, OH, OW, K) or (N, K, OH, OW) = conv(inp, weight) (+ bias (K)).
void conv2d_forward(Tensor& out, ConvCache& cache, const Tensor& inp, const Tensor& weight, const Tensor* bias,
                    const Window2d& win);
// dinp assigned unless nullptr (the first layer needs none); dweight and dbias accumulate (assigned when
// !accumulate). weight is the forward's.
void conv2d_backward(Tensor* dinp, Tensor& dweight, Tensor* dbias, const Tensor& dout, ConvCache& cache,
                     const Tensor& weight, bool accumulate = true);

}  // namespace bnlab::ops
