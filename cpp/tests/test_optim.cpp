// test_optim.cpp — the in-place optimizer updates (sgd_update, adam_update, rmsprop_update) against reference
// updates written here in double, step by step, in each framework's own formulation: Keras's SGD with its
// velocity (v = momentum v - lr g), Keras's Adam with the bias correction folded into the learning rate,
// PyTorch's SGD (dampening, weight decay, nesterov) and Adam (eps added to the corrected sqrt(v), amsgrad),
// Keras's RMSprop (plain, centered, momentum).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ops/ops.hpp"
#include "test_helpers.hpp"

namespace bnlab::test {
namespace {

constexpr int kSteps = 6;
constexpr std::int64_t kN = 9;
// Float32 state over six steps against a double reference: a few ulps of relative error per step.
constexpr double kTol = 2e-6;

// The gradient of step t (different every step, some entries negative, one tiny).
Tensor grad_at(int t) {
  Tensor g = normal({kN}, 0.0f, 1.0f, 100 + static_cast<unsigned>(t));
  g.f32()[0] = 1e-6f;
  return g;
}

std::vector<double> start() { return as_double(normal({kN}, 0.0f, 1.0f, 99)); }

TEST(SgdUpdate, PlainStepIsWMinusLrG) {
  std::vector<double> ref = start();
  Tensor w = make({kN}, std::vector<float>(ref.begin(), ref.end()));
  for (int t = 1; t <= kSteps; ++t) {
    const Tensor g = grad_at(t);
    ops::sgd_update(w, w, g, 0.1f, 0.0f, 0.0f, 0.0f, false, t == 1);  // no momentum: buf is never read
    for (std::int64_t i = 0; i < kN; ++i) ref[static_cast<std::size_t>(i)] -= 0.1 * g.f32()[i];
  }
  EXPECT_TRUE(close(w, ref, kTol));
}

TEST(SgdUpdate, KerasMomentumAndNesterovFollowTheVelocityFormulation) {
  for (bool nesterov : {false, true}) {
    SCOPED_TRACE(nesterov);
    const double lr = 0.05, mom = 0.9;
    std::vector<double> ref = start(), velocity(kN, 0.0);
    Tensor w = make({kN}, std::vector<float>(ref.begin(), ref.end())), buf = Tensor::zeros({kN});
    for (int t = 1; t <= kSteps; ++t) {
      const Tensor g = grad_at(t);
      ops::sgd_update(w, buf, g, static_cast<float>(lr), static_cast<float>(mom), 0.0f, 0.0f, nesterov, t == 1);
      for (std::size_t i = 0; i < kN; ++i) {  // Keras: v = m v - lr g; w += v (nesterov: w += m v - lr g)
        velocity[i] = mom * velocity[i] - lr * g.f32()[i];
        ref[i] += nesterov ? mom * velocity[i] - lr * g.f32()[i] : velocity[i];
      }
    }
    EXPECT_TRUE(close(w, ref, kTol));
  }
}

TEST(SgdUpdate, PyTorchDampeningWeightDecayNesterov) {
  struct Case {
    double mom, damp, wd;
    bool nesterov;
  };
  for (Case c : {Case{0.9, 0.1, 0.01, false}, Case{0.8, 0.0, 0.05, true}, Case{0.0, 0.0, 0.1, false}}) {
    SCOPED_TRACE(::testing::Message() << c.mom << " " << c.damp << " " << c.wd << " " << c.nesterov);
    const double lr = 0.1;
    std::vector<double> ref = start(), buf(kN, 0.0);
    Tensor w = make({kN}, std::vector<float>(ref.begin(), ref.end())), b = Tensor::zeros({kN});
    for (int t = 1; t <= kSteps; ++t) {
      const Tensor g = grad_at(t);
      ops::sgd_update(w, b, g, static_cast<float>(lr), static_cast<float>(c.mom), static_cast<float>(c.damp),
                      static_cast<float>(c.wd), c.nesterov, t == 1);
      for (std::size_t i = 0; i < kN; ++i) {  // torch.optim.SGD
        double d = g.f32()[i] + c.wd * ref[i];
        if (c.mom != 0.0) {
          buf[i] = t == 1 ? d : c.mom * buf[i] + (1.0 - c.damp) * d;
          d = c.nesterov ? d + c.mom * buf[i] : buf[i];
        }
        ref[i] -= lr * d;
      }
    }
    EXPECT_TRUE(close(w, ref, kTol));
  }
}

TEST(AdamUpdate, KerasFoldsTheBiasCorrectionIntoTheLearningRate) {
  for (bool amsgrad : {false, true}) {
    SCOPED_TRACE(amsgrad);
    const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-7;
    std::vector<double> ref = start(), m(kN, 0.0), v(kN, 0.0), vhat(kN, 0.0);
    Tensor w = make({kN}, std::vector<float>(ref.begin(), ref.end()));
    Tensor tm = Tensor::zeros({kN}), tv = Tensor::zeros({kN}), tvmax = Tensor::zeros({kN});
    for (int t = 1; t <= kSteps; ++t) {
      const Tensor g = grad_at(t);
      ops::adam_update(w, tm, tv, amsgrad ? &tvmax : nullptr, g, static_cast<float>(lr), b1, b2,
                       static_cast<float>(eps), t, true, 0.0f);
      const double alpha = lr * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t));
      for (std::size_t i = 0; i < kN; ++i) {  // keras.optimizers.Adam.update_step
        const double gi = g.f32()[i];
        m[i] += (gi - m[i]) * (1.0 - b1);
        v[i] += (gi * gi - v[i]) * (1.0 - b2);
        vhat[i] = std::max(vhat[i], v[i]);
        ref[i] -= m[i] * alpha / (std::sqrt(amsgrad ? vhat[i] : v[i]) + eps);
      }
    }
    EXPECT_TRUE(close(w, ref, kTol));
    EXPECT_TRUE(close(tm, m, kTol));
    EXPECT_TRUE(close(tv, v, kTol));
  }
}

TEST(AdamUpdate, PyTorchAddsEpsToTheCorrectedRootWithWeightDecayAndAmsgrad) {
  for (bool amsgrad : {false, true}) {
    SCOPED_TRACE(amsgrad);
    const double lr = 1e-2, b1 = 0.8, b2 = 0.99, eps = 1e-8, wd = 0.05;
    std::vector<double> ref = start(), m(kN, 0.0), v(kN, 0.0), vmax(kN, 0.0);
    Tensor w = make({kN}, std::vector<float>(ref.begin(), ref.end()));
    Tensor tm = Tensor::zeros({kN}), tv = Tensor::zeros({kN}), tvmax = Tensor::zeros({kN});
    for (int t = 1; t <= kSteps; ++t) {
      const Tensor g = grad_at(t);
      ops::adam_update(w, tm, tv, amsgrad ? &tvmax : nullptr, g, static_cast<float>(lr), static_cast<float>(b1),
                       static_cast<float>(b2), static_cast<float>(eps), t, false, static_cast<float>(wd));
      const double c1 = 1.0 - std::pow(b1, t), c2 = 1.0 - std::pow(b2, t);
      for (std::size_t i = 0; i < kN; ++i) {  // torch.optim.Adam (single-tensor path)
        const double gi = g.f32()[i] + wd * ref[i];
        m[i] = b1 * m[i] + (1.0 - b1) * gi;
        v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
        vmax[i] = std::max(vmax[i], v[i]);
        const double denom = std::sqrt(amsgrad ? vmax[i] : v[i]) / std::sqrt(c2) + eps;
        ref[i] -= lr / c1 * m[i] / denom;
      }
    }
    EXPECT_TRUE(close(w, ref, kTol));
  }
}

TEST(RmspropUpdate, KerasPlainCenteredAndMomentum) {
  for (int variant = 0; variant < 4; ++variant) {
    const bool centered = variant & 1, with_momentum = variant & 2;
    SCOPED_TRACE(::testing::Message() << "centered=" << centered << " momentum=" << with_momentum);
    const double lr = 1e-2, rho = 0.9, mom = with_momentum ? 0.5 : 0.0, eps = 1e-7;
    std::vector<double> ref = start(), v(kN, 0.0), avg(kN, 0.0), mbuf(kN, 0.0);
    Tensor w = make({kN}, std::vector<float>(ref.begin(), ref.end()));
    Tensor tv = Tensor::zeros({kN}), tavg = Tensor::zeros({kN}), tmom = Tensor::zeros({kN});
    for (int t = 1; t <= kSteps; ++t) {
      const Tensor g = grad_at(t);
      ops::rmsprop_update(w, tv, centered ? &tavg : nullptr, with_momentum ? &tmom : nullptr, g, static_cast<float>(lr),
                          static_cast<float>(rho), static_cast<float>(mom), static_cast<float>(eps));
      for (std::size_t i = 0; i < kN; ++i) {  // keras.optimizers.RMSprop.update_step
        const double gi = g.f32()[i];
        v[i] = rho * v[i] + (1.0 - rho) * gi * gi;
        double denom = v[i] + eps;
        if (centered) {
          avg[i] = rho * avg[i] + (1.0 - rho) * gi;
          denom -= avg[i] * avg[i];
        }
        const double inc = lr * gi / std::sqrt(denom);
        if (with_momentum) {
          mbuf[i] = mom * mbuf[i] + inc;
          ref[i] -= mbuf[i];
        } else {
          ref[i] -= inc;
        }
      }
    }
    EXPECT_TRUE(close(w, ref, kTol));
  }
}

}  // namespace
}  // namespace bnlab::test
