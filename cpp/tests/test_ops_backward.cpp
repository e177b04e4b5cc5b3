// test_ops_backward.cpp — every backward op of bnlab::ops against central finite differences of its own
// forward (double over float32; step sizes and tolerances are justified in test_helpers.hpp), plus the
// accumulate/assign conventions of the parameter gradients: dense, batch norm (dx, dgamma, dbeta), the five
// activations, dropout, the four cross-entropy forms with and without the fused softmax, and mse.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ops/ops.hpp"
#include "test_helpers.hpp"

namespace bnlab::test {
namespace {

constexpr double kTol = 2e-3;

std::vector<double> minus(const Tensor& t, double c) {
  std::vector<double> v = as_double(t);
  for (double& x : v) x -= c;
  return v;
}

// ---- dense ----
TEST(DenseBackward, GradientsMatchCentralDifferences) {
  struct Case {
    std::int64_t B, IN, OUT;
  };
  for (Case c : {Case{1, 3, 2}, Case{4, 5, 3}, Case{7, 2, 6}}) {
    for (bool out_in : {false, true}) {
      for (bool with_bias : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "B=" << c.B << " IN=" << c.IN << " OUT=" << c.OUT << " out_in=" << out_in
                                          << " bias=" << with_bias);
        Tensor x = normal({c.B, c.IN}, 0.0f, 1.0f, 1);
        Tensor w = out_in ? normal({c.OUT, c.IN}, 0.0f, 1.0f, 2) : normal({c.IN, c.OUT}, 0.0f, 1.0f, 2);
        Tensor b = normal({c.OUT}, 0.0f, 1.0f, 3);
        const Tensor dout = normal({c.B, c.OUT}, 0.0f, 1.0f, 4);
        Tensor out;
        auto loss = [&] {
          ops::dense_forward(out, x, w, with_bias ? &b : nullptr, out_in);
          return weighted_sum(out, dout);
        };
        // Accumulate into gradients that already hold 0.5: the result must be 0.5 + the gradient.
        Tensor dx, dw = Tensor::full(w.shape(), 0.5f), db = Tensor::full({c.OUT}, 0.5f);
        ops::dense_backward(&dx, dw, with_bias ? &db : nullptr, dout, x, w, out_in, true);
        EXPECT_TRUE(close(dx, central_diff(x, loss), kTol));
        EXPECT_TRUE(close(minus(dw, 0.5), central_diff(w, loss), kTol));
        if (with_bias) EXPECT_TRUE(close(minus(db, 0.5), central_diff(b, loss), kTol));
        // Assign: the old contents are overwritten, and dinp may be skipped.
        Tensor dw2 = Tensor::full(w.shape(), 9.0f), db2 = Tensor::full({c.OUT}, 9.0f);
        ops::dense_backward(nullptr, dw2, with_bias ? &db2 : nullptr, dout, x, w, out_in, false);
        EXPECT_TRUE(close(dw2, minus(dw, 0.5), 1e-6));
        if (with_bias) EXPECT_TRUE(close(db2, minus(db, 0.5), 1e-6));
      }
    }
  }
}

// ---- batch normalisation ----
TEST(BatchNormBackward, DxDgammaDbetaMatchCentralDifferences) {
  struct Case {
    std::int64_t N, C, L;
  };
  for (Case c : {Case{6, 3, 1}, Case{2, 2, 1}, Case{3, 2, 4}, Case{1, 2, 5}, Case{1, 3, 1}}) {
    for (bool with_gamma : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "N=" << c.N << " C=" << c.C << " L=" << c.L << " gamma=" << with_gamma);
      const ops::BNShape s{c.N, c.C, c.L};
      Tensor x = normal({c.N, c.C, c.L}, 0.5f, 2.0f, 10);
      Tensor gamma = uniform({c.C}, 0.5f, 1.5f, 11), beta = normal({c.C}, 0.0f, 1.0f, 12);
      const Tensor dout = normal({c.N, c.C, c.L}, 0.0f, 1.0f, 13);
      const Tensor* g = with_gamma ? &gamma : nullptr;
      Tensor out, fd_out;
      ops::BNCache cache, fd_cache;
      auto loss = [&] {
        ops::batchnorm_forward_train(fd_out, fd_cache, x, g, &beta, s, 1e-3f);
        return weighted_sum(fd_out, dout);
      };
      ops::batchnorm_forward_train(out, cache, x, g, &beta, s, 1e-3f);
      Tensor dx, dgamma = Tensor::full({c.C}, 0.25f), dbeta = Tensor::full({c.C}, 0.25f);
      ops::batchnorm_backward(dx, with_gamma ? &dgamma : nullptr, &dbeta, dout, cache, g, s);
      EXPECT_TRUE(close(dx, central_diff(x, loss), kTol));
      EXPECT_TRUE(close(minus(dbeta, 0.25), central_diff(beta, loss), kTol));  // accumulated onto 0.25
      if (with_gamma) EXPECT_TRUE(close(minus(dgamma, 0.25), central_diff(gamma, loss), kTol));
    }
  }
}

TEST(BatchNormBackward, GammaNullMeansOnesAndParameterGradientsMayBeSkipped) {
  const ops::BNShape s{5, 2, 3};
  const Tensor x = normal({5, 2, 3}, 0.0f, 1.0f, 14), dout = normal({5, 2, 3}, 0.0f, 1.0f, 15);
  const Tensor ones = Tensor::full({2}, 1.0f);
  Tensor out;
  ops::BNCache cache;
  ops::batchnorm_forward_train(out, cache, x, nullptr, nullptr, s, 1e-5f);
  Tensor dx_null, dx_ones;
  ops::batchnorm_backward(dx_null, nullptr, nullptr, dout, cache, nullptr, s);
  ops::batchnorm_backward(dx_ones, nullptr, nullptr, dout, cache, &ones, s);
  EXPECT_EQ(dx_null.to_vector(), dx_ones.to_vector());
}

TEST(BatchNormBackward, DxSumsToZeroPerFeature) {
  // dx = k (M dy - sum dy - xhat sum(dy xhat)): sums to 0 because sum(xhat) = 0 (a shift of x changes nothing).
  const ops::BNShape s{32, 4, 2};
  const Tensor x = normal({32, 4, 2}, 3.0f, 2.0f, 16), dout = normal({32, 4, 2}, 1.0f, 1.0f, 17);
  Tensor out, dx;
  ops::BNCache cache;
  ops::batchnorm_forward_train(out, cache, x, nullptr, nullptr, s, 1e-3f);
  ops::batchnorm_backward(dx, nullptr, nullptr, dout, cache, nullptr, s);
  for (std::int64_t c = 0; c < 4; ++c) {
    double acc = 0.0;
    for (std::int64_t n = 0; n < 32; ++n)
      for (std::int64_t l = 0; l < 2; ++l) acc += dx.f32()[(n * 4 + c) * 2 + l];
    EXPECT_NEAR(acc, 0.0, 1e-5);
  }
}

// ---- activations ----
TEST(ActivationBackward, AllFiveMatchCentralDifferences) {
  for (Act act : {Act::Linear, Act::Relu, Act::Sigmoid, Act::Tanh, Act::Softmax}) {
    SCOPED_TRACE(static_cast<int>(act));
    Tensor x = normal({5, 6}, 0.0f, 1.5f, 20);
    for (std::int64_t i = 0; i < x.numel(); ++i)  // keep relu's kink out of reach of the finite difference
      if (std::abs(x.f32()[i]) < 0.05f) x.f32()[i] += 0.1f;
    const Tensor dout = normal({5, 6}, 0.0f, 1.0f, 21);
    Tensor out, fd_out, dx;
    auto loss = [&] {
      ops::activation_forward(fd_out, x, act);
      return weighted_sum(fd_out, dout);
    };
    ops::activation_forward(out, x, act);
    ops::activation_backward(dx, dout, out, act);
    EXPECT_TRUE(close(dx, central_diff(x, loss), kTol));
    Tensor in_place = make(dout.shape(), dout.to_vector());  // dinp may alias dout
    ops::activation_backward(in_place, in_place, out, act);
    EXPECT_EQ(in_place.to_vector(), dx.to_vector());
  }
}

// ---- dropout ----
TEST(DropoutBackward, MatchesCentralDifferencesWithTheSameMask) {
  Tensor x = normal({4, 25}, 0.0f, 1.0f, 30);
  const Tensor dout = normal({4, 25}, 0.0f, 1.0f, 31);
  Tensor out, mask, dx, fd_out, fd_mask;
  auto loss = [&] {
    ops::dropout_forward(fd_out, fd_mask, x, 0.4f, 99, 5);  // equal (seed, counter): the same mask
    return weighted_sum(fd_out, dout);
  };
  ops::dropout_forward(out, mask, x, 0.4f, 99, 5);
  ops::dropout_backward(dx, dout, mask);
  EXPECT_TRUE(close(dx, central_diff(x, loss), kTol));
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(dx.f32()[i], dout.f32()[i] * mask.f32()[i]);
}

// ---- losses ----
struct XentSetup {
  XentForm form;
  bool sparse, logits;
};
const XentSetup kForms[] = {{XentForm::CategoricalProbs, false, false},
                            {XentForm::CategoricalLogits, false, true},
                            {XentForm::SparseProbs, true, false},
                            {XentForm::SparseLogits, true, true}};

TEST(XentBackward, GradientWrtPredictionMatchesCentralDifferences) {
  const std::int64_t B = 4, K = 5;
  const float scale = 1.0f / B;
  const Tensor sparse = labels(B, K, 40), soft = uniform({B, K}, 0.0f, 1.0f, 41);
  for (XentSetup f : kForms) {
    SCOPED_TRACE(static_cast<int>(f.form));
    // Unnormalised probabilities in [0.1, 1]: renormalised they stay >= 0.018, far inside the clip range.
    // -log p is steep there (third derivative 2/p^3), so the step is 1e-3: truncation h^2/6 * 2/p^3 < 1e-3 of
    // the gradient scale, rounding of the float loss rows (ulp(4) / 2e-3 ~ 2e-4) likewise.
    Tensor pred = f.logits ? normal({B, K}, 0.0f, 2.0f, 42) : uniform({B, K}, 0.1f, 1.0f, 42);
    const double h = f.logits ? 1e-2 : 1e-3;
    const Tensor& target = f.sparse ? sparse : soft;
    Tensor rows, fd_rows, grad;
    auto loss = [&] {
      ops::xent(fd_rows, nullptr, pred, target, f.form, false, 1e-7f, scale);
      return total(fd_rows) * scale;
    };
    ops::xent(rows, &grad, pred, target, f.form, false, 1e-7f, scale);
    EXPECT_TRUE(close(grad, central_diff(pred, loss, h), kTol));
    if (f.logits) {  // logits forms differentiate w.r.t. the logits whatever grad_wrt_logits says
      Tensor grad2;
      ops::xent(rows, &grad2, pred, target, f.form, true, 1e-7f, scale);
      EXPECT_EQ(grad2.to_vector(), grad.to_vector());
    }
  }
}

TEST(XentBackward, FusedSoftmaxGradientMatchesCentralDifferencesThroughTheSoftmax) {
  const std::int64_t B = 5, K = 4;
  const float scale = 1.0f / B;
  const Tensor sparse = labels(B, K, 43), soft = uniform({B, K}, 0.0f, 1.0f, 44);
  for (XentSetup f : kForms) {
    if (f.logits) continue;
    SCOPED_TRACE(static_cast<int>(f.form));
    Tensor z = normal({B, K}, 0.0f, 1.0f, 45);
    const Tensor& target = f.sparse ? sparse : soft;
    Tensor p, fd_p, rows, fd_rows, grad_z, grad_p, composed;
    auto loss = [&] {
      ops::activation_forward(fd_p, z, Act::Softmax);
      ops::xent(fd_rows, nullptr, fd_p, target, f.form, false, 1e-7f, scale);
      return total(fd_rows) * scale;
    };
    ops::activation_forward(p, z, Act::Softmax);
    ops::xent(rows, &grad_z, p, target, f.form, true, 1e-7f, scale);
    EXPECT_TRUE(close(grad_z, central_diff(z, loss), kTol));
    // The fused gradient equals the composed one: d/dp, then back through the softmax.
    ops::xent(rows, &grad_p, p, target, f.form, false, 1e-7f, scale);
    ops::activation_backward(composed, grad_p, p, Act::Softmax);
    EXPECT_TRUE(close(grad_z, as_double(composed), 1e-5));
    if (f.sparse) {  // with one-hot targets and a softmax input this is the familiar (p - y) / B
      std::vector<double> want = as_double(p);
      for (std::int64_t r = 0; r < B; ++r) want[static_cast<std::size_t>(r * K + target.i32()[r])] -= 1.0;
      for (double& v : want) v *= scale;
      EXPECT_TRUE(close(grad_z, want, 1e-6));
    }
  }
}

TEST(XentBackward, ClippedProbabilityPassesNoGradient) {
  // The label's probability is below eps, so the loss is -log(eps) for every nearby prediction (Keras clips
  // with clip_by_value, whose gradient is zero outside the range).
  const Tensor pred = make({1, 3}, {1e-9f, 0.5f, 0.5f});
  Tensor label({1}, Device::CPU, DType::I32);
  label.i32()[0] = 0;
  Tensor rows, grad;
  ops::xent(rows, &grad, pred, label, XentForm::SparseProbs, false, 1e-7f, 1.0f);
  EXPECT_NEAR(rows.f32()[0], -std::log(1e-7), 1e-4);
  EXPECT_EQ(grad.to_vector(), std::vector<float>(3, 0.0f));
}

TEST(MseBackward, MatchesCentralDifferences) {
  Tensor p = normal({3, 4}, 0.0f, 1.0f, 50);
  const Tensor t = normal({3, 4}, 0.0f, 1.0f, 51);
  Tensor rows, fd_rows, grad;
  auto loss = [&] {
    ops::mse(fd_rows, nullptr, p, t, 1.0f / 3);
    return total(fd_rows) / 3;
  };
  ops::mse(rows, &grad, p, t, 1.0f / 3);
  EXPECT_TRUE(close(grad, central_diff(p, loss), kTol));
}

}  // namespace
}  // namespace bnlab::test
