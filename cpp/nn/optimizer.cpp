// optimizer.cpp — per-parameter state management and the three optimizers' update steps.
#include "nn/optimizer.hpp"

namespace bnlab::nn {

Optimizer::Slots* Optimizer::slots_of(const Tensor& param) {
  auto it = slots_.find(param.raw());
  return it == slots_.end() || it->second.owner.expired() ? nullptr : &it->second;
}

Optimizer::Slots& Optimizer::state_of(const Tensor& param) {
  auto it = slots_.find(param.raw());
  if (it == slots_.end() || it->second.owner.expired()) {
    // First update of this parameter (the only allocation an optimizer makes), or its address now belongs
    // to a new parameter because the old one was freed: start from fresh state.
    it = slots_.insert_or_assign(param.raw(), Slots{}).first;
    it->second.owner = param.storage();
    init_slots(param, it->second);
  }
  return it->second;
}

void Optimizer::step(const std::vector<Param>& params) {
  for (const Param& p : params) {
    Slots& s = state_of(*p.value);
    ++s.step;
    update(*p.value, *p.grad, s);
  }
  ++iterations;
}

void SGD::init_slots(const Tensor& w, Slots& s) {
  if (momentum != 0.0f) s.a = Tensor::zeros(w.shape(), w.device());
}

void SGD::update(Tensor& w, const Tensor& g, Slots& s) {
  Tensor& buf = momentum != 0.0f ? s.a : w;  // buf is unused without momentum
  ops::sgd_update(w, buf, g, learning_rate, momentum, dampening, weight_decay, nesterov, s.step == 1);
}

void Adam::init_slots(const Tensor& w, Slots& s) {
  s.a = Tensor::zeros(w.shape(), w.device());
  s.b = Tensor::zeros(w.shape(), w.device());
  if (amsgrad) s.c = Tensor::zeros(w.shape(), w.device());
}

void Adam::update(Tensor& w, const Tensor& g, Slots& s) {
  ops::adam_update(w, s.a, s.b, amsgrad ? &s.c : nullptr, g, learning_rate, beta1, beta2, epsilon, s.step, keras_eps,
                   weight_decay);
}

void RMSprop::init_slots(const Tensor& w, Slots& s) {
  s.a = Tensor::zeros(w.shape(), w.device());
  if (centered) s.b = Tensor::zeros(w.shape(), w.device());
  if (momentum > 0.0f) s.c = Tensor::zeros(w.shape(), w.device());
}

void RMSprop::update(Tensor& w, const Tensor& g, Slots& s) {
  ops::rmsprop_update(w, s.a, centered ? &s.b : nullptr, momentum > 0.0f ? &s.c : nullptr, g, learning_rate, rho,
                      momentum, epsilon);
}

}  // namespace bnlab::nn
