// pool.hpp — the device-generic 2-D pooling ops: max, average and global average pooling, both layouts
// (conv.hpp's Window2d and geometry). Checks once, then the kernel of the input's device; the forward records
// the geometry (and max pooling's winners) in its cache, the backward reads them there.
#pragma once

#include "ops/conv.hpp"

namespace bnlab::ops {

struct PoolCache {
  Tensor argmax;  // int32, the output's shape: max pooling's winners (ih*W + iw within their plane)
  Conv2dShape shape;
  bool count_include_pad = true;
};
// Max pooling with a (KH, KW) window; padding never wins.
void max_pool2d_forward(Tensor& out, PoolCache& cache, const Tensor& inp, std::int64_t KH, std::int64_t KW,
                        const Window2d& win);
void max_pool2d_backward(Tensor& dinp, const Tensor& dout, const PoolCache& cache);
// Average pooling; the divisor counts padding when count_include_pad (PyTorch's default) and not otherwise
// (Keras/TF).
void avg_pool2d_forward(Tensor& out, PoolCache& cache, const Tensor& inp, std::int64_t KH, std::int64_t KW,
                        const Window2d& win, bool count_include_pad);
void avg_pool2d_backward(Tensor& dinp, const Tensor& dout, const PoolCache& cache);
// out (N, C) = the mean over H*W of each channel (Keras's GlobalAveragePooling2D; PyTorch's AdaptiveAvgPool2d(1)
// is the same values viewed as (N, C, 1, 1)): an average pool whose window is the whole image.
void global_avg_pool2d_forward(Tensor& out, PoolCache& cache, const Tensor& inp, bool channels_last);
void global_avg_pool2d_backward(Tensor& dinp, const Tensor& dout, const PoolCache& cache);

}  // namespace bnlab::ops
