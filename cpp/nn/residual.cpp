// residual.cpp — out = main(x) + shortcut(x) and its backward (see residual.hpp for the derivation).
#include "nn/residual.hpp"

#include "nn/chain.hpp"
#include "ops/tensor_ops.hpp"

namespace bnlab::nn {

Residual::Residual(std::vector<LayerPtr> main_branch, std::vector<LayerPtr> shortcut_branch)
    : main(std::move(main_branch)), shortcut(std::move(shortcut_branch)) {
  ops::require(!main.empty(), "a residual block needs at least one layer on its main branch");
}

Shape Residual::build_impl(const Shape& input_shape, Device device) {
  const Shape main_shape = build_chain(main, input_shape, device);
  const Shape short_shape = shortcut.empty() ? input_shape : build_chain(shortcut, input_shape, device);
  ops::require(main_shape == short_shape, [&] {
    return "the residual block's branches end in different shapes: " + shape_str(main_shape) + " (main) and " +
           shape_str(short_shape) + " (shortcut); Add needs equal shapes";
  });
  main_pairs_ = bn_relu_pairs(main);
  shortcut_pairs_ = bn_relu_pairs(shortcut);
  return main_shape;
}

const Tensor& Residual::forward(const Tensor& x, bool training) {
  x_ = &x;
  fusing_ = fuse_bn_relu;
  const Tensor& a = chain_forward(main, main_pairs_, fusing_, x, training);
  const Tensor& b = shortcut.empty() ? x : chain_forward(shortcut, shortcut_pairs_, fusing_, x, training);
  ops::binary(out_, a, b, BinaryOp::Add);  // out_ (B, per-sample...)
  return out_;
}

const Tensor& Residual::backward(const Tensor& dout, bool /*dout_is_preactivation*/, bool need_dinp) {
  // Each branch's first layer computes its input gradient only when the block's is needed.
  const Tensor& dmain = chain_backward(main, main_pairs_, fusing_, dout, 0, false, need_dinp);
  const Tensor& dshort =
      shortcut.empty() ? dout : chain_backward(shortcut, shortcut_pairs_, fusing_, dout, 0, false, need_dinp);
  if (need_dinp) ops::binary(dx_, dmain, dshort, BinaryOp::Add);  // dx_ (B, per-sample...)
  return dx_;
}

std::vector<Param> Residual::params() {
  std::vector<Param> out;
  for (auto* branch : {&main, &shortcut})
    for (auto& layer : *branch)
      if (layer->trainable)
        for (const Param& p : layer->params()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Residual::buffers() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto* branch : {&main, &shortcut})
    for (auto& layer : *branch)
      for (auto& b : layer->buffers()) out.push_back(b);
  return out;
}

void Residual::begin_step() {
  Layer::begin_step();
  for (auto* branch : {&main, &shortcut})
    for (auto& layer : *branch) layer->begin_step();
}

std::uint64_t Residual::params_version() const {
  std::uint64_t sum = params_version_;  // each only grows, so the sum changes exactly when one of them does
  for (const auto* branch : {&main, &shortcut})
    for (const auto& layer : *branch) sum += layer->params_version();
  return sum;
}

}  // namespace bnlab::nn
