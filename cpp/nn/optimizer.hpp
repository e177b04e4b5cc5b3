// optimizer.hpp — optimizers built on the in-place update ops. State (moments, step count) is kept PER
// PARAMETER, keyed by the parameter's storage, so one optimizer object can serve several models, as the
// tf.keras of the seeds allowed (Keras 3 raises instead; see the notebooks).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "nn/layer.hpp"

namespace bnlab::nn {

class Optimizer {
 public:
  explicit Optimizer(float lr) : learning_rate(lr) {}
  virtual ~Optimizer() = default;
  // One update of every parameter from its gradient.
  void step(const std::vector<Param>& params);
  float learning_rate;
  std::int64_t iterations = 0;  // step() calls so far

  struct Slots {
    Tensor a, b, c;                // per-optimizer meaning (momentum buffer, first/second moments, ...)
    std::int64_t step = 0;         // updates applied to this parameter
    std::weak_ptr<Storage> owner;  // the parameter's storage: expired means the address was reused
  };
  // The state of one parameter, or nullptr when it has never been updated.
  Slots* slots_of(const Tensor& param);
  // The state of one parameter, created (zeroed, step 0) when it has none: step() updates it, and a loader
  // writes saved moments and the step count into it.
  Slots& state_of(const Tensor& param);

 protected:
  virtual void update(Tensor& w, const Tensor& g, Slots& s) = 0;
  virtual void init_slots(const Tensor& w, Slots& s) = 0;

 private:
  std::unordered_map<const void*, Slots> slots_;
};

// Keras SGD (dampening 0) and PyTorch SGD in one rule; see backend/kernels.hpp.
class SGD : public Optimizer {
 public:
  SGD(float lr, float momentum, bool nesterov, float dampening, float weight_decay)
      : Optimizer(lr), momentum(momentum), nesterov(nesterov), dampening(dampening), weight_decay(weight_decay) {}
  float momentum;
  bool nesterov;
  float dampening, weight_decay;

 protected:
  void update(Tensor& w, const Tensor& g, Slots& s) override;
  void init_slots(const Tensor& w, Slots& s) override;
};

// Adam with Keras's epsilon placement (keras_eps) or PyTorch's; amsgrad keeps the running max of v.
class Adam : public Optimizer {
 public:
  Adam(float lr, double beta1, double beta2, float eps, bool amsgrad, bool keras_eps, float weight_decay)
      : Optimizer(lr),
        beta1(beta1),
        beta2(beta2),
        epsilon(eps),
        amsgrad(amsgrad),
        keras_eps(keras_eps),
        weight_decay(weight_decay) {}
  double beta1, beta2;  // double, so that 1 - beta is exact enough (see backend/kernels.hpp)
  float epsilon;
  bool amsgrad, keras_eps;
  float weight_decay;

 protected:
  void update(Tensor& w, const Tensor& g, Slots& s) override;
  void init_slots(const Tensor& w, Slots& s) override;
};

// Keras RMSprop.
class RMSprop : public Optimizer {
 public:
  RMSprop(float lr, float rho, float momentum, float eps, bool centered)
      : Optimizer(lr), rho(rho), momentum(momentum), epsilon(eps), centered(centered) {}
  float rho, momentum, epsilon;
  bool centered;

 protected:
  void update(Tensor& w, const Tensor& g, Slots& s) override;
  void init_slots(const Tensor& w, Slots& s) override;
};

}  // namespace bnlab::nn
