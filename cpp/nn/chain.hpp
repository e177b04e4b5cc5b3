// chain.hpp — running a list of layers in order: the forward and backward walks that Sequential and the
// Residual block share. A BatchNormalization directly followed by Activation('relu') runs as one fused pass
// (BatchNorm::forward_relu), and its backward starts from the ReLU's output gradient, so the Activation is
// skipped both ways; `pairs[i]` is 1 where layer i is such a BatchNorm.
#pragma once

#include <vector>

#include "nn/layers.hpp"

namespace bnlab::nn {

// (layers) 1 where layer i is a BatchNorm and layer i + 1 a ReLU Activation.
std::vector<char> bn_relu_pairs(const std::vector<LayerPtr>& layers);

// Builds the layers in order from `input_shape` (a layer built before must receive the shape it was built
// for) and returns the output shape.
Shape build_chain(std::vector<LayerPtr>& layers, const Shape& input_shape, Device device);

// The output of layers[0..] applied to x; `fuse` runs the pairs fused. The result is the last layer's buffer.
const Tensor& chain_forward(std::vector<LayerPtr>& layers, const std::vector<char>& pairs, bool fuse, const Tensor& x,
                            bool training);

// The backward walk over layers [stop, end) from `dout` (d(loss)/d(output of the last forward)), in the order
// and with the fusion of that forward. preact_last: dout is w.r.t. the last layer's pre-activation (softmax +
// cross-entropy). need_dinp_stop: whether layer `stop` computes its input gradient (the layers after it always
// do). Returns d(loss)/d(input of layer stop), or dout when the range is empty.
const Tensor& chain_backward(std::vector<LayerPtr>& layers, const std::vector<char>& pairs, bool fuse,
                             const Tensor& dout, std::size_t stop, bool preact_last, bool need_dinp_stop);

}  // namespace bnlab::nn
