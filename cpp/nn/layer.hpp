// layer.hpp — the Layer contract of the C++ engine (Keras's, in miniature).
//
// build(input_shape) creates the weights for a per-sample input shape and returns the per-sample output shape.
// forward(x, training) returns a reference to an output buffer the layer owns and reuses across steps;
// the layer also keeps a reference to x for its backward. backward(dout) returns d(loss)/d(input).
// When the model fuses softmax with cross-entropy it passes the gradient w.r.t. the layer's pre-activation
// (dout_is_preactivation); only layers whose output_activation() is Softmax receive that.
// Parameter gradients are assigned on the first backward after begin_step() and accumulate afterwards.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "ops/ops.hpp"

namespace bnlab::nn {

struct Param {
  std::string name;
  Tensor* value;
  Tensor* grad;
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string kind() const = 0;
  // Creates the weights (once) and returns the per-sample output shape.
  Shape build(const Shape& input_shape, Device device) {
    input_shape_ = input_shape;
    output_shape_ = build_impl(input_shape, device);
    built_ = true;
    return output_shape_;
  }
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return output_shape_; }
  virtual const Tensor& forward(const Tensor& x, bool training) = 0;
  virtual const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) = 0;
  virtual Act output_activation() const { return Act::Linear; }
  // Trainable parameters, in Keras's get_weights order.
  virtual std::vector<Param> params() { return {}; }
  // Non-trainable state (BN moving statistics), in Keras's order after the trainable ones.
  virtual std::vector<std::pair<std::string, Tensor*>> buffers() { return {}; }
  // The next backward assigns parameter gradients instead of accumulating them (a block passes it on to its
  // layers).
  virtual void begin_step() { fresh_grads_ = true; }
  bool trainable = true;
  bool built() const { return built_; }
  // Counts the changes to which parameters params() lists (a norm layer's center or scale set after build),
  // so that a compiled model notices them at its next step.
  virtual std::uint64_t params_version() const { return params_version_; }

 protected:
  void params_changed() { ++params_version_; }
  std::uint64_t params_version_ = 0;
  virtual Shape build_impl(const Shape& input_shape, Device device) = 0;
  Shape input_shape_, output_shape_;
  bool fresh_grads_ = true;
  bool built_ = false;
};

using LayerPtr = std::shared_ptr<Layer>;

}  // namespace bnlab::nn
