// chain.cpp — the forward and backward walks over a list of layers (see chain.hpp).
#include "nn/chain.hpp"

namespace bnlab::nn {

std::vector<char> bn_relu_pairs(const std::vector<LayerPtr>& layers) {
  std::vector<char> pairs(layers.size(), 0);
  for (std::size_t i = 0; i + 1 < layers.size(); ++i) {
    const auto* act = dynamic_cast<const Activation*>(layers[i + 1].get());
    pairs[i] = dynamic_cast<const BatchNorm*>(layers[i].get()) && act && act->act() == Act::Relu;
  }
  return pairs;
}

Shape build_chain(std::vector<LayerPtr>& layers, const Shape& input_shape, Device device) {
  Shape shape = input_shape;
  for (auto& layer : layers) {
    if (!layer->built()) {
      shape = layer->build(shape, device);
      continue;
    }
    // A layer built on its own (the Python API initialises weights first) keeps its weights.
    ops::require(layer->input_shape() == shape, layer->kind() + " was built for input " +
                                                    shape_str(layer->input_shape()) + " but receives " +
                                                    shape_str(shape));
    shape = layer->output_shape();
  }
  return shape;
}

const Tensor& chain_forward(std::vector<LayerPtr>& layers, const std::vector<char>& pairs, bool fuse, const Tensor& x,
                            bool training) {
  const Tensor* h = &x;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (fuse && pairs[i]) {  // BatchNorm + ReLU in one pass; the Activation layer i + 1 is skipped
      h = &static_cast<BatchNorm&>(*layers[i]).forward_relu(*h, training);
      ++i;
      continue;
    }
    h = &layers[i]->forward(*h, training);
  }
  return *h;
}

const Tensor& chain_backward(std::vector<LayerPtr>& layers, const std::vector<char>& pairs, bool fuse,
                             const Tensor& dout, std::size_t stop, bool preact_last, bool need_dinp_stop) {
  const Tensor* g = &dout;
  for (std::size_t i = layers.size(); i-- > stop;) {
    if (i > 0 && fuse && pairs[i - 1]) continue;  // a ReLU fused into the BatchNorm before it
    g = &layers[i]->backward(*g, preact_last && i + 1 == layers.size(), i > stop || need_dinp_stop);
  }
  return *g;
}

}  // namespace bnlab::nn
