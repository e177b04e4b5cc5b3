// dense.cpp — the Dense layer: the dense op followed by an optional activation.
#include "nn/layers.hpp"

namespace bnlab::nn {

Shape Dense::build_impl(const Shape& input_shape, Device device) {
  ops::require(input_shape.size() == 1, "Dense expects a flat input per sample (features,), got " +
                                            shape_str(input_shape) + "; add a Flatten layer first");
  kernel = Tensor::zeros({input_shape[0], units_}, device);
  dkernel = Tensor::zeros({input_shape[0], units_}, device);
  if (use_bias_) {
    bias = Tensor::zeros({units_}, device);
    dbias = Tensor::zeros({units_}, device);
  }
  return {units_};
}

const Tensor& Dense::forward(const Tensor& x, bool) {
  x_ = &x;
  ops::dense_forward(pre_, x, kernel, use_bias_ ? &bias : nullptr, false);
  if (act_ == Act::Linear) return pre_;
  ops::activation_forward(out_, pre_, act_);
  return out_;
}

const Tensor& Dense::backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) {
  const Tensor* dpre = &dout;
  if (act_ != Act::Linear && !dout_is_preactivation) {
    ops::activation_backward(dpre_, dout, out_, act_);
    dpre = &dpre_;
  }
  ops::dense_backward(need_dinp ? &dx_ : nullptr, dkernel, use_bias_ ? &dbias : nullptr, *dpre, *x_, kernel, false,
                      !fresh_grads_);
  fresh_grads_ = false;
  return dx_;
}

std::vector<Param> Dense::params() {
  std::vector<Param> p{{"kernel", &kernel, &dkernel}};
  if (use_bias_) p.push_back({"bias", &bias, &dbias});
  return p;
}

}  // namespace bnlab::nn
