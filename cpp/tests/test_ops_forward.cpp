// test_ops_forward.cpp — every forward op of bnlab::ops against a plain reference loop in double written here:
// dense (both weight layouts, with and without bias), batch norm (training and inference, L = 1 and L > 1,
// gamma/beta present or not, batch of one), blend, the five activations, dropout (mask statistics and
// determinism), the four cross-entropy forms, mse, accuracy, sum and gather_rows.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ops/ops.hpp"
#include "test_helpers.hpp"

namespace bnlab::test {
namespace {

// ---- dense ----
// out[b][o] = sum_i inp[b][i] W(i, o) + bias[o], with W(i, o) = w[i*OUT + o] (Keras) or w[o*IN + i] (PyTorch).
std::vector<double> ref_dense(const Tensor& inp, const Tensor& w, const Tensor* bias, bool out_in) {
  const std::int64_t B = inp.dim(0), IN = inp.dim(1), OUT = out_in ? w.dim(0) : w.dim(1);
  std::vector<double> out(static_cast<std::size_t>(B * OUT));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t o = 0; o < OUT; ++o) {
      double s = bias ? bias->f32()[o] : 0.0;
      for (std::int64_t i = 0; i < IN; ++i)
        s += static_cast<double>(inp.f32()[b * IN + i]) * w.f32()[out_in ? o * IN + i : i * OUT + o];
      out[static_cast<std::size_t>(b * OUT + o)] = s;
    }
  return out;
}

TEST(DenseForward, MatchesReferenceLoopForBothLayoutsWithAndWithoutBias) {
  struct Case {
    std::int64_t B, IN, OUT;
  };
  for (Case c : {Case{1, 1, 1}, Case{1, 7, 3}, Case{5, 4, 6}, Case{33, 17, 9}}) {
    for (bool out_in : {false, true}) {
      for (bool with_bias : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "B=" << c.B << " IN=" << c.IN << " OUT=" << c.OUT << " out_in=" << out_in
                                          << " bias=" << with_bias);
        const Tensor x = normal({c.B, c.IN}, 0.0f, 1.0f, 1);
        const Tensor w = out_in ? normal({c.OUT, c.IN}, 0.0f, 1.0f, 2) : normal({c.IN, c.OUT}, 0.0f, 1.0f, 2);
        const Tensor b = normal({c.OUT}, 0.0f, 1.0f, 3);
        Tensor out;
        ops::dense_forward(out, x, w, with_bias ? &b : nullptr, out_in);
        EXPECT_EQ(out.shape(), (Shape{c.B, c.OUT}));
        EXPECT_TRUE(close(out, ref_dense(x, w, with_bias ? &b : nullptr, out_in), 1e-5));
      }
    }
  }
}

TEST(DenseForward, ReusesAnOutputBufferThatIsLargeEnough) {
  const Tensor w = normal({4, 3}, 0.0f, 1.0f, 4);
  Tensor out;
  ops::dense_forward(out, normal({8, 4}, 0.0f, 1.0f, 5), w, nullptr, false);
  const void* storage = out.raw();
  const Tensor small = normal({3, 4}, 0.0f, 1.0f, 6);
  ops::dense_forward(out, small, w, nullptr, false);
  EXPECT_EQ(out.raw(), storage);
  EXPECT_EQ(out.shape(), (Shape{3, 3}));
  EXPECT_TRUE(close(out, ref_dense(small, w, nullptr, false), 1e-5));
}

// ---- batch normalisation ----
struct RefBN {
  std::vector<double> out, xhat, mean, var;
};

// x (N, C, L): per feature c over its N*L values, mean, biased variance, xhat and gamma*xhat + beta.
RefBN ref_bn_train(const Tensor& x, const Tensor* gamma, const Tensor* beta, std::int64_t N, std::int64_t C,
                   std::int64_t L, double eps) {
  RefBN r{std::vector<double>(static_cast<std::size_t>(N * C * L)), std::vector<double>(r.out.size()),
          std::vector<double>(static_cast<std::size_t>(C)), std::vector<double>(static_cast<std::size_t>(C))};
  const double M = static_cast<double>(N * L);
  for (std::int64_t c = 0; c < C; ++c) {
    double s = 0.0, ss = 0.0;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t l = 0; l < L; ++l) s += x.f32()[(n * C + c) * L + l];
    const double mu = s / M;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t l = 0; l < L; ++l) ss += std::pow(x.f32()[(n * C + c) * L + l] - mu, 2);
    const double var = ss / M, rstd = 1.0 / std::sqrt(var + eps);
    r.mean[static_cast<std::size_t>(c)] = mu;
    r.var[static_cast<std::size_t>(c)] = var;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t l = 0; l < L; ++l) {
        const auto i = static_cast<std::size_t>((n * C + c) * L + l);
        r.xhat[i] = (x.f32()[i] - mu) * rstd;
        r.out[i] = (gamma ? gamma->f32()[c] : 1.0) * r.xhat[i] + (beta ? beta->f32()[c] : 0.0);
      }
  }
  return r;
}

struct BNCase {
  std::int64_t N, C, L;
};
const BNCase kBNCases[] = {{8, 3, 1}, {2, 4, 1}, {4, 3, 5}, {1, 2, 6}, {3, 1, 2}, {64, 16, 1}};

TEST(BatchNormForwardTrain, MatchesReferenceForAllShapesAndAffineOptions) {
  for (BNCase c : kBNCases) {
    for (int affine = 0; affine < 4; ++affine) {
      const bool with_gamma = affine & 1, with_beta = affine & 2;
      SCOPED_TRACE(::testing::Message() << "N=" << c.N << " C=" << c.C << " L=" << c.L << " gamma=" << with_gamma
                                        << " beta=" << with_beta);
      const Tensor x = normal({c.N, c.C, c.L}, 0.5f, 2.0f, 10);
      const Tensor gamma = uniform({c.C}, 0.5f, 1.5f, 11), beta = normal({c.C}, 0.0f, 1.0f, 12);
      const Tensor* g = with_gamma ? &gamma : nullptr;
      const Tensor* b = with_beta ? &beta : nullptr;
      Tensor out;
      ops::BNCache cache;
      ops::batchnorm_forward_train(out, cache, x, g, b, {c.N, c.C, c.L}, 1e-3f);
      const RefBN r = ref_bn_train(x, g, b, c.N, c.C, c.L, 1e-3);
      EXPECT_TRUE(close(out, r.out, 1e-5));
      EXPECT_TRUE(close(cache.xhat, r.xhat, 1e-5));
      EXPECT_TRUE(close(cache.mean, r.mean, 1e-6));
      EXPECT_TRUE(close(cache.var, r.var, 1e-5));  // the BIASED variance
      std::vector<double> rstd(r.var.size());
      for (std::size_t i = 0; i < rstd.size(); ++i) rstd[i] = 1.0 / std::sqrt(r.var[i] + 1e-3);
      EXPECT_TRUE(close(cache.rstd, rstd, 1e-5));
    }
  }
}

TEST(BatchNormForwardTrain, NormalisedValuesHaveZeroMeanAndUnitVariance) {
  const std::int64_t N = 256, C = 5;
  const Tensor x = normal({N, C}, 3.0f, 4.0f, 13);
  Tensor out;
  ops::BNCache cache;
  ops::batchnorm_forward_train(out, cache, x, nullptr, nullptr, {N, C, 1}, 1e-5f);
  for (std::int64_t c = 0; c < C; ++c) {
    double s = 0.0, ss = 0.0;
    for (std::int64_t n = 0; n < N; ++n) s += out.f32()[n * C + c];
    for (std::int64_t n = 0; n < N; ++n) ss += std::pow(out.f32()[n * C + c] - s / N, 2);
    EXPECT_NEAR(s / N, 0.0, 1e-6);
    EXPECT_NEAR(ss / N, 16.0 / (16.0 + 1e-5), 1e-4);  // var / (var + eps) with var close to 16
  }
}

TEST(BatchNormForwardTrain, BatchOfOneGivesBetaWithoutError) {
  const Tensor x = make({1, 3}, {5.0f, -2.0f, 1e6f});
  const Tensor gamma = make({3}, {2.0f, 3.0f, 4.0f}), beta = make({3}, {0.25f, -1.0f, 7.0f});
  Tensor out;
  ops::BNCache cache;
  ops::batchnorm_forward_train(out, cache, x, &gamma, &beta, {1, 3, 1}, 1e-3f);
  EXPECT_EQ(out.to_vector(), beta.to_vector());
  EXPECT_EQ(cache.var.to_vector(), std::vector<float>(3, 0.0f));
}

TEST(BatchNormForwardTrain, LargeOffsetDoesNotCancel) {
  // mean 1e4, std 1: a naive E[x^2] - E[x]^2 in float would lose every digit of the variance.
  const std::int64_t N = 512;
  const Tensor x = normal({N, 2}, 1e4f, 1.0f, 14);
  Tensor out;
  ops::BNCache cache;
  ops::batchnorm_forward_train(out, cache, x, nullptr, nullptr, {N, 2, 1}, 1e-5f);
  const RefBN r = ref_bn_train(x, nullptr, nullptr, N, 2, 1, 1e-5);
  EXPECT_TRUE(close(cache.var, r.var, 1e-5));
  // xhat: the float subtraction x - mu is exact here (Sterbenz), so only mu's rounding (ulp(1e4) / 2) remains.
  EXPECT_TRUE(close(out, r.out, 1e-3));
}

TEST(BatchNormForwardInfer, MatchesReferenceWithGivenStatistics) {
  for (BNCase c : kBNCases) {
    for (int affine = 0; affine < 4; ++affine) {
      const bool with_gamma = affine & 1, with_beta = affine & 2;
      SCOPED_TRACE(::testing::Message() << "N=" << c.N << " C=" << c.C << " L=" << c.L << " affine=" << affine);
      const Tensor x = normal({c.N, c.C, c.L}, 1.0f, 2.0f, 20);
      const Tensor mean = normal({c.C}, 1.0f, 1.0f, 21), var = uniform({c.C}, 0.1f, 3.0f, 22);
      const Tensor gamma = uniform({c.C}, 0.5f, 1.5f, 23), beta = normal({c.C}, 0.0f, 1.0f, 24);
      const Tensor* g = with_gamma ? &gamma : nullptr;
      const Tensor* b = with_beta ? &beta : nullptr;
      Tensor out;
      ops::batchnorm_forward_infer(out, x, mean, var, g, b, {c.N, c.C, c.L}, 1e-3f);
      std::vector<double> want(static_cast<std::size_t>(x.numel()));
      for (std::int64_t n = 0; n < c.N; ++n)
        for (std::int64_t ch = 0; ch < c.C; ++ch)
          for (std::int64_t l = 0; l < c.L; ++l) {
            const auto i = static_cast<std::size_t>((n * c.C + ch) * c.L + l);
            want[i] = (x.f32()[i] - mean.f32()[ch]) / std::sqrt(var.f32()[ch] + 1e-3) * (g ? g->f32()[ch] : 1.0) +
                      (b ? b->f32()[ch] : 0.0);
          }
      EXPECT_TRUE(close(out, want, 1e-5));
    }
  }
}

TEST(BatchNormForwardInfer, EqualsTrainingWhenGivenTheBatchStatistics) {
  const Tensor x = normal({16, 4, 3}, 200.0f, 0.5f, 25);  // a large mean: folding it into a shift must not cancel
  const Tensor gamma = uniform({4}, 0.5f, 1.5f, 26), beta = normal({4}, 0.0f, 1.0f, 27);
  Tensor train, infer;
  ops::BNCache cache;
  ops::batchnorm_forward_train(train, cache, x, &gamma, &beta, {16, 4, 3}, 1e-3f);
  ops::batchnorm_forward_infer(infer, x, cache.mean, cache.var, &gamma, &beta, {16, 4, 3}, 1e-3f);
  EXPECT_TRUE(close(infer, as_double(train), 2e-6));
}

TEST(Blend, FollowsKerasAndPyTorchConventions) {
  Tensor moving = make({3}, {1.0f, 2.0f, -1.0f});
  const Tensor batch = make({3}, {3.0f, 0.0f, 1.0f});
  ops::blend(moving, batch, 0.9f);  // Keras: momentum 0.9 on the biased statistic
  EXPECT_TRUE(close(moving, {1.2, 1.8, -0.8}, 1e-6));
  ops::blend(moving, batch, 0.9f, 4.0f / 3.0f);  // PyTorch momentum 0.1, unbiased with M = 4
  EXPECT_TRUE(close(moving, {1.2 * 0.9 + 0.4, 1.8 * 0.9, -0.8 * 0.9 + 0.1 / 0.75}, 1e-6));
  ops::blend(moving, batch, 0.0f);  // keep nothing
  EXPECT_EQ(moving.to_vector(), batch.to_vector());
}

// ---- activations ----
double ref_act(double x, Act act) {
  switch (act) {
    case Act::Relu:
      return x > 0 ? x : 0.0;
    case Act::Sigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case Act::Tanh:
      return std::tanh(x);
    default:
      return x;
  }
}

TEST(ActivationForward, ElementwiseActivationsMatchReference) {
  const Tensor x = normal({7, 5}, 0.0f, 3.0f, 30);
  for (Act act : {Act::Linear, Act::Relu, Act::Sigmoid, Act::Tanh}) {
    SCOPED_TRACE(static_cast<int>(act));
    Tensor out;
    ops::activation_forward(out, x, act);
    std::vector<double> want;
    for (float v : x.to_vector()) want.push_back(ref_act(v, act));
    EXPECT_TRUE(close(out, want, 1e-6));
  }
}

TEST(ActivationForward, SigmoidSaturatesWithoutNaN) {
  const Tensor x = make({4}, {-200.0f, -90.0f, 90.0f, 200.0f});
  Tensor out;
  ops::activation_forward(out, x, Act::Sigmoid);
  EXPECT_TRUE(close(out, {0.0, 0.0, 1.0, 1.0}, 1e-7));
}

TEST(ActivationForward, SoftmaxNormalisesEachRowAndIsShiftInvariant) {
  Tensor x = normal({6, 9}, 0.0f, 3.0f, 31);
  x.f32()[0] = 500.0f;  // exp would overflow without the max shift
  Tensor out;
  ops::activation_forward(out, x, Act::Softmax);
  std::vector<double> want(static_cast<std::size_t>(x.numel()));
  for (std::int64_t r = 0; r < 6; ++r) {
    double m = -1e300, s = 0.0;
    for (std::int64_t j = 0; j < 9; ++j) m = std::max(m, static_cast<double>(x.f32()[r * 9 + j]));
    for (std::int64_t j = 0; j < 9; ++j) s += std::exp(x.f32()[r * 9 + j] - m);
    for (std::int64_t j = 0; j < 9; ++j)
      want[static_cast<std::size_t>(r * 9 + j)] = std::exp(x.f32()[r * 9 + j] - m) / s;
  }
  EXPECT_TRUE(close(out, want, 1e-6));
}

TEST(ActivationForward, InPlaceLinearAndRelu) {
  Tensor x = make({2, 2}, {-1.0f, 2.0f, 0.0f, -3.0f});
  ops::activation_forward(x, x, Act::Relu);
  EXPECT_EQ(x.to_vector(), (std::vector<float>{0.0f, 2.0f, 0.0f, 0.0f}));
  ops::activation_forward(x, x, Act::Linear);
  EXPECT_EQ(x.to_vector(), (std::vector<float>{0.0f, 2.0f, 0.0f, 0.0f}));
}

// ---- dropout ----
TEST(DropoutForward, KeepsAboutOneMinusRateAndScalesTheKept) {
  const std::int64_t n = 200000;
  const float rate = 0.3f;
  const Tensor x = uniform({n}, 0.5f, 1.5f, 40);
  Tensor out, mask;
  ops::dropout_forward(out, mask, x, rate, 1234, 0);
  std::int64_t kept = 0;
  double sum_in = 0.0, sum_out = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float m = mask.f32()[i];
    ASSERT_TRUE(m == 0.0f || m == 1.0f / (1.0f - rate)) << "mask value " << m;
    ASSERT_EQ(out.f32()[i], x.f32()[i] * m);
    kept += m != 0.0f;
    sum_in += x.f32()[i];
    sum_out += out.f32()[i];
  }
  // Binomial(n, 0.7): standard deviation sqrt(n 0.21) ~ 205 values; allow 5 of them.
  EXPECT_NEAR(static_cast<double>(kept), 0.7 * n, 5 * std::sqrt(n * 0.21));
  EXPECT_NEAR(sum_out / sum_in, 1.0, 0.01);  // inverted dropout keeps the expectation
}

TEST(DropoutForward, MaskIsAFunctionOfSeedAndCounter) {
  const Tensor x = uniform({1000}, -1.0f, 1.0f, 41);
  Tensor out1, mask1, out2, mask2;
  ops::dropout_forward(out1, mask1, x, 0.5f, 7, 3);
  ops::dropout_forward(out2, mask2, x, 0.5f, 7, 3);
  EXPECT_EQ(mask1.to_vector(), mask2.to_vector());
  EXPECT_EQ(out1.to_vector(), out2.to_vector());
  ops::dropout_forward(out2, mask2, x, 0.5f, 7, 4);
  EXPECT_NE(mask1.to_vector(), mask2.to_vector());
  ops::dropout_forward(out2, mask2, x, 0.5f, 8, 3);
  EXPECT_NE(mask1.to_vector(), mask2.to_vector());
}

TEST(DropoutForward, RateZeroIsTheIdentity) {
  const Tensor x = normal({3, 5}, 0.0f, 1.0f, 42);
  Tensor out, mask;
  ops::dropout_forward(out, mask, x, 0.0f, 1, 1);
  EXPECT_EQ(out.to_vector(), x.to_vector());
  EXPECT_EQ(out.shape(), x.shape());
}

// ---- losses and metrics ----
// Keras: probabilities are renormalised, clipped to [eps, 1 - eps], then -sum y log p; logits go through
// log-softmax. y is the one-hot row for sparse labels.
std::vector<double> ref_xent(const Tensor& pred, const Tensor& target, XentForm form, double eps) {
  const std::int64_t B = pred.dim(0), K = pred.dim(1);
  const bool sparse = form == XentForm::SparseProbs || form == XentForm::SparseLogits;
  const bool logits = form == XentForm::CategoricalLogits || form == XentForm::SparseLogits;
  std::vector<double> loss(static_cast<std::size_t>(B));
  for (std::int64_t r = 0; r < B; ++r) {
    const float* p = pred.f32() + r * K;
    double norm = 0.0, m = -1e300;
    for (std::int64_t j = 0; j < K; ++j) {
      norm += logits ? 0.0 : p[j];
      m = std::max(m, static_cast<double>(p[j]));
    }
    double lse = 0.0;
    for (std::int64_t j = 0; j < K; ++j) lse += std::exp(p[j] - m);
    lse = m + std::log(lse);
    for (std::int64_t j = 0; j < K; ++j) {
      const double y = sparse ? (target.i32()[r] == j ? 1.0 : 0.0) : target.f32()[r * K + j];
      const double logq = logits ? p[j] - lse : std::log(std::clamp(p[j] / norm, eps, 1.0 - eps));
      loss[static_cast<std::size_t>(r)] -= y * logq;
    }
  }
  return loss;
}

TEST(Xent, AllFourFormsMatchKerasReference) {
  const std::int64_t B = 6, K = 5;
  Tensor probs = uniform({B, K}, 0.05f, 1.0f, 50);  // rows deliberately not normalised
  probs.f32()[0] = 1e-12f;                          // clipped from below...
  probs.f32()[K] = 1e4f;                            // ...and from above after renormalising
  const Tensor logits = normal({B, K}, 0.0f, 3.0f, 51);
  Tensor sparse = labels(B, K, 52);
  sparse.i32()[0] = 0;                                  // the label sits on the clipped probability
  const Tensor soft = uniform({B, K}, 0.0f, 1.0f, 53);  // soft, unnormalised targets
  for (XentForm form :
       {XentForm::CategoricalProbs, XentForm::CategoricalLogits, XentForm::SparseProbs, XentForm::SparseLogits}) {
    SCOPED_TRACE(static_cast<int>(form));
    const bool is_sparse = form == XentForm::SparseProbs || form == XentForm::SparseLogits;
    const bool is_logits = form == XentForm::CategoricalLogits || form == XentForm::SparseLogits;
    const Tensor& pred = is_logits ? logits : probs;
    const Tensor& target = is_sparse ? sparse : soft;
    Tensor loss_rows;
    ops::xent(loss_rows, nullptr, pred, target, form, false, 1e-7f, 1.0f);
    EXPECT_TRUE(close(loss_rows, ref_xent(pred, target, form, 1e-7), 1e-6));
  }
}

TEST(Xent, SparseProbsOfAConfidentMistakeIsMinusLogEpsilon) {
  const Tensor pred = make({1, 3}, {1.0f, 0.0f, 0.0f});
  Tensor label({1}, Device::CPU, DType::I32);
  label.i32()[0] = 2;
  Tensor loss_rows;
  ops::xent(loss_rows, nullptr, pred, label, XentForm::SparseProbs, false, 1e-7f, 1.0f);
  EXPECT_NEAR(loss_rows.f32()[0], -std::log(1e-7), 1e-4);
}

TEST(Mse, MatchesReference) {
  const Tensor p = normal({4, 3}, 0.0f, 1.0f, 54), t = normal({4, 3}, 0.0f, 1.0f, 55);
  Tensor loss_rows;
  ops::mse(loss_rows, nullptr, p, t, 1.0f);
  std::vector<double> want(4);
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 3; ++j)
      want[static_cast<std::size_t>(r)] += std::pow(p.f32()[r * 3 + j] - t.f32()[r * 3 + j], 2) / 3.0;
  EXPECT_TRUE(close(loss_rows, want, 1e-6));
}

TEST(Accuracy, SparseAndCategoricalWithFirstMaximumWinningTies) {
  const Tensor pred = make({4, 3}, {0.1f, 0.7f, 0.2f, 0.5f, 0.5f, 0.0f, 0.2f, 0.2f, 0.6f, 0.3f, 0.3f, 0.3f});
  Tensor sparse({4}, Device::CPU, DType::I32);
  const std::int32_t lab[4] = {1, 1, 2, 0};  // right, wrong (tie -> class 0), right, right (tie -> class 0)
  std::copy(lab, lab + 4, sparse.i32());
  Tensor correct;
  ops::accuracy(correct, pred, sparse);
  EXPECT_EQ(correct.to_vector(), (std::vector<float>{1.0f, 0.0f, 1.0f, 1.0f}));
  const Tensor onehot = make({4, 3}, {0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0});
  ops::accuracy(correct, pred, onehot);
  EXPECT_EQ(correct.to_vector(), (std::vector<float>{1.0f, 0.0f, 1.0f, 1.0f}));
}

TEST(Sum, AccumulatesInDouble) {
  Tensor x = Tensor::full({1 << 20}, 0.1f);
  x.f32()[0] = 1e8f;
  // A float accumulator never moves past 1e8 (ulp 8 > 0.1) and misses 104857.5 in all; in double each addition
  // rounds by at most ulp(1e8) / 2 = 7.5e-9, at most 0.008 over the 2^20 terms.
  EXPECT_NEAR(ops::sum(x), 1e8 + (double(1 << 20) - 1) * static_cast<double>(0.1f), 0.01);
}

TEST(GatherRows, PicksRowsOfAnyTrailingShapeAndDtype) {
  const Tensor src = make({4, 2, 2}, {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33});
  const std::int64_t idx[3] = {3, 0, 3};
  Tensor out;
  ops::gather_rows(out, src, idx, 3);
  EXPECT_EQ(out.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(out.to_vector(), (std::vector<float>{30, 31, 32, 33, 0, 1, 2, 3, 30, 31, 32, 33}));
  Tensor lab({4}, Device::CPU, DType::I32);
  for (int i = 0; i < 4; ++i) lab.i32()[i] = 100 + i;
  Tensor got;
  ops::gather_rows(got, lab, idx, 2);
  ASSERT_EQ(got.dtype(), DType::I32);
  EXPECT_EQ(got.i32()[0], 103);
  EXPECT_EQ(got.i32()[1], 100);
}

}  // namespace
}  // namespace bnlab::test
