// residual.hpp — the residual block of a ResNet as one layer: out = main(x) + shortcut(x).
//
// Both branches are lists of layers run in order (chain.hpp, BatchNorm -> ReLU fused inside each); an empty
// shortcut is the identity. This is what Keras's functional `layers.Add()([main, shortcut])` computes when
// both inputs come from the same tensor x, and what a PyTorch BasicBlock's `out += identity` computes.
//
// Backward (d = d(loss)/d(out)): the sum passes d to both branches unchanged, and x feeds both, so
//   dx = main'(x)^T d + shortcut'(x)^T d        (the identity shortcut: + d).
#pragma once

#include <vector>

#include "nn/layer.hpp"

namespace bnlab::nn {

class Residual : public Layer {
 public:
  Residual(std::vector<LayerPtr> main, std::vector<LayerPtr> shortcut);
  std::string kind() const override { return "Residual"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) override;
  // The trainable branch layers' parameters (main first, then the shortcut), and every branch layer's buffers.
  std::vector<Param> params() override;
  std::vector<std::pair<std::string, Tensor*>> buffers() override;
  void begin_step() override;
  std::uint64_t params_version() const override;

  std::vector<LayerPtr> main, shortcut;
  bool fuse_bn_relu = true;

 private:
  std::vector<char> main_pairs_, shortcut_pairs_;
  bool fusing_ = true;         // the last forward's fusion, which its backward follows
  const Tensor* x_ = nullptr;  // (B, per-sample...), owned by the layer before
  Tensor out_, dx_;            // (B, per-sample...) each
};

}  // namespace bnlab::nn
