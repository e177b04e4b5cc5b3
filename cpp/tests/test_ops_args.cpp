// test_ops_args.cpp — the device-generic checks of bnlab::ops: every malformed call throws
// std::invalid_argument (the bindings' ValueError) naming the problem, before any kernel runs.
#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>

#include "ops/ops.hpp"
#include "test_helpers.hpp"

namespace bnlab::test {
namespace {

// Runs f and checks that it throws std::invalid_argument whose message contains `part`.
template <typename F>
::testing::AssertionResult throws_invalid(F&& f, const std::string& part) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).find(part) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "message \"" << e.what() << "\" lacks \"" << part << "\"";
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw another exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

Tensor int_tensor(const Shape& shape, std::int32_t value) {
  Tensor t(shape, Device::CPU, DType::I32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.i32()[i] = value;
  return t;
}

TEST(OpsArguments, Require) {
  EXPECT_NO_THROW(ops::require(true, "never built"));
  EXPECT_TRUE(throws_invalid([] { ops::require(false, "plain literal"); }, "plain literal"));
  EXPECT_TRUE(throws_invalid([] { ops::require(false, std::string("a string")); }, "a string"));
  bool built = false;
  ops::require(true, [&] {
    built = true;
    return std::string("lazy");
  });
  EXPECT_FALSE(built) << "a passing check must not build its message";
  EXPECT_TRUE(throws_invalid([] { ops::require(false, [] { return std::string("lazy message"); }); }, "lazy"));
}

TEST(OpsArguments, Dense) {
  const Tensor x = Tensor::zeros({4, 3}), w = Tensor::zeros({3, 2}), b = Tensor::zeros({2});
  Tensor out, dx, dw = Tensor::zeros({3, 2}), db = Tensor::zeros({2});
  const Tensor dout = Tensor::zeros({4, 2});
  EXPECT_TRUE(throws_invalid([&] { ops::dense_forward(out, Tensor::zeros({12}), w, nullptr, false); }, "2-D"));
  EXPECT_TRUE(throws_invalid([&] { ops::dense_forward(out, x, Tensor::zeros({4, 2}), nullptr, false); }, "features"));
  EXPECT_TRUE(throws_invalid([&] { ops::dense_forward(out, x, w, nullptr, true); }, "features"));  // (OUT, IN)
  EXPECT_TRUE(throws_invalid([&] { ops::dense_forward(out, x, w, &dw, false); }, "bias"));
  EXPECT_TRUE(throws_invalid([&] { ops::dense_forward(out, int_tensor({4, 3}, 1), w, &b, false); }, "float32"));
  EXPECT_TRUE(throws_invalid([&] { ops::dense_forward(out, x, Tensor(), &b, false); }, "float32"));
  EXPECT_TRUE(throws_invalid([&] { ops::dense_backward(&dx, dw, &db, Tensor::zeros({4, 3}), x, w, false); }, "dout"));
  EXPECT_TRUE(throws_invalid([&] { ops::dense_backward(&dx, db, &db, dout, x, w, false); }, "dweight"));
  EXPECT_TRUE(throws_invalid([&] { ops::dense_backward(&dx, dw, &dw, dout, x, w, false); }, "dbias"));
  EXPECT_TRUE(throws_invalid([&] { ops::dense_backward(&dx, dw, &db, dout, Tensor::zeros({4}), w, false); }, "2-D"));
  EXPECT_NO_THROW(ops::dense_backward(&dx, dw, &db, dout, x, w, false));
}

TEST(OpsArguments, BatchNorm) {
  const Tensor x = Tensor::zeros({4, 3}), c3 = Tensor::zeros({3}), c2 = Tensor::zeros({2});
  Tensor out, dx, dg = Tensor::zeros({3});
  ops::BNCache cache;
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::batchnorm_forward_train(out, cache, x, nullptr, nullptr, {4, 2, 1}, 1e-3f);
      },
      "(N, C, L)"));
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::batchnorm_forward_train(out, cache, x, &c2, nullptr, {4, 3, 1}, 1e-3f);
      },
      "gamma"));
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::batchnorm_forward_train(out, cache, x, nullptr, &c2, {4, 3, 1}, 1e-3f);
      },
      "beta"));
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::batchnorm_forward_train(out, cache, Tensor::zeros({0, 3}), nullptr, nullptr, {0, 3, 1}, 1e-3f);
      },
      "at least one value"));
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::batchnorm_forward_train(out, cache, x, nullptr, nullptr, {-4, -3, 1}, 1e-3f);
      },
      "(N, C, L)"));
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::batchnorm_forward_infer(out, x, c2, c3, nullptr, nullptr, {4, 3, 1}, 1e-3f);
      },
      "mean"));
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::batchnorm_backward(dx, &dg, nullptr, x, cache, nullptr, {4, 3, 1});
      },
      "cache"));  // no forward has filled the cache
  ops::batchnorm_forward_train(out, cache, x, nullptr, nullptr, {4, 3, 1}, 1e-3f);
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::batchnorm_backward(dx, &dg, nullptr, Tensor::zeros({2, 3}), cache, nullptr, {2, 3, 1});
      },
      "cache"));
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::batchnorm_backward(dx, &dx, nullptr, x, cache, nullptr, {4, 3, 1});
      },
      "dgamma"));
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::batchnorm_backward(dx, nullptr, &dx, x, cache, nullptr, {4, 3, 1});
      },
      "dbeta"));
  EXPECT_NO_THROW(ops::batchnorm_backward(dx, &dg, nullptr, x, cache, nullptr, {4, 3, 1}));
  Tensor moving = Tensor::zeros({3});
  EXPECT_TRUE(throws_invalid([&] { ops::blend(moving, c2, 0.9f); }, "blend"));
}

TEST(OpsArguments, ActivationsAndDropout) {
  Tensor out, mask, dx;
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::activation_backward(dx, Tensor::zeros({2, 3}), Tensor::zeros({3, 2}), Act::Relu);
      },
      "differs"));
  EXPECT_TRUE(throws_invalid([&] { ops::activation_forward(out, int_tensor({2}, 1), Act::Relu); }, "float32"));
  const Tensor x = Tensor::zeros({5});
  for (float rate : {1.0f, -0.1f, std::numeric_limits<float>::quiet_NaN()})
    EXPECT_TRUE(throws_invalid([&] { ops::dropout_forward(out, mask, x, rate, 1, 1); }, "rate")) << rate;
  EXPECT_TRUE(throws_invalid([&] { ops::dropout_backward(dx, x, Tensor::zeros({4})); }, "mask"));
}

TEST(OpsArguments, Losses) {
  const Tensor pred = Tensor::full({2, 3}, 1.0f / 3);
  Tensor rows, grad, correct;
  for (std::int32_t bad : {3, -1, 1 << 30}) {
    Tensor lab = int_tensor({2}, 0);
    lab.i32()[1] = bad;
    EXPECT_TRUE(throws_invalid([&] { ops::xent(rows, &grad, pred, lab, XentForm::SparseProbs, false, 1e-7f, 0.5f); },
                               "out of range"))
        << bad;
    EXPECT_TRUE(throws_invalid([&] { ops::xent(rows, &grad, pred, lab, XentForm::SparseLogits, false, 1e-7f, 0.5f); },
                               "out of range"));
    EXPECT_TRUE(throws_invalid([&] { ops::accuracy(correct, pred, lab); }, "out of range"));
  }
  EXPECT_TRUE(throws_invalid(
      [&] { ops::xent(rows, &grad, pred, Tensor::zeros({2}), XentForm::SparseProbs, false, 1e-7f, 1.0f); }, "int32"));
  EXPECT_TRUE(throws_invalid(
      [&] { ops::xent(rows, &grad, pred, int_tensor({3}, 0), XentForm::SparseProbs, false, 1e-7f, 1.0f); },
      "int32 class indices"));
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::xent(rows, &grad, pred, Tensor::zeros({2, 4}), XentForm::CategoricalProbs, false, 1e-7f, 1.0f);
      },
      "do not match"));
  EXPECT_TRUE(throws_invalid(
      [&] {
        ops::xent(rows, &grad, Tensor::zeros({6}), int_tensor({6}, 0), XentForm::SparseLogits, false, 1e-7f, 1.0f);
      },
      "2-D"));
  EXPECT_TRUE(throws_invalid(
      [&] { ops::xent(rows, &grad, pred, int_tensor({2}, 0), XentForm::SparseProbs, false, 0.5f, 1.0f); }, "epsilon"));
  EXPECT_TRUE(throws_invalid([&] { ops::mse(rows, &grad, pred, Tensor::zeros({3, 2}), 1.0f); }, "do not match"));
  EXPECT_TRUE(throws_invalid([&] { ops::accuracy(correct, pred, int_tensor({5}, 0)); }, "int32"));
  EXPECT_TRUE(throws_invalid([&] { ops::sum(Tensor()); }, "float32"));
  // Sparse labels of shape (B, 1), as Keras datasets ship them, are accepted.
  EXPECT_NO_THROW(ops::xent(rows, &grad, pred, int_tensor({2, 1}, 2), XentForm::SparseProbs, false, 1e-7f, 1.0f));
}

TEST(OpsArguments, OptimizerUpdates) {
  Tensor w = Tensor::zeros({4}), s = Tensor::zeros({4}), s3 = Tensor::zeros({3});
  const Tensor g = Tensor::zeros({4}), g3 = Tensor::zeros({3});
  EXPECT_TRUE(throws_invalid([&] { ops::sgd_update(w, s, g3, 0.1f, 0.9f, 0, 0, false, true); }, "sgd"));
  EXPECT_TRUE(throws_invalid([&] { ops::sgd_update(w, s3, g, 0.1f, 0.9f, 0, 0, false, true); }, "sgd"));
  EXPECT_TRUE(
      throws_invalid([&] { ops::adam_update(w, s, s3, nullptr, g, 1e-3f, 0.9f, 0.999f, 1e-7f, 1, true, 0); }, "adam"));
  EXPECT_TRUE(
      throws_invalid([&] { ops::adam_update(w, s, s, &s3, g, 1e-3f, 0.9f, 0.999f, 1e-7f, 1, true, 0); }, "amsgrad"));
  EXPECT_TRUE(
      throws_invalid([&] { ops::adam_update(w, s, s, nullptr, g, 1e-3f, 0.9f, 0.999f, 1e-7f, 0, true, 0); }, "step"));
  EXPECT_TRUE(throws_invalid([&] { ops::rmsprop_update(w, s, &s3, nullptr, g, 1e-3f, 0.9f, 0, 1e-7f); }, "average"));
  EXPECT_TRUE(
      throws_invalid([&] { ops::rmsprop_update(w, s, nullptr, &s3, g, 1e-3f, 0.9f, 0.5f, 1e-7f); }, "momentum"));
}

TEST(OpsArguments, GatherRows) {
  const Tensor src = Tensor::zeros({4, 2});
  Tensor out;
  const std::int64_t bad[2] = {1, 4}, negative[1] = {-1};
  EXPECT_TRUE(throws_invalid([&] { ops::gather_rows(out, src, bad, 2); }, "out of range"));
  EXPECT_TRUE(throws_invalid([&] { ops::gather_rows(out, src, negative, 1); }, "out of range"));
  EXPECT_TRUE(throws_invalid([&] { ops::gather_rows(out, Tensor(), bad, 1); }, "leading dimension"));
}

}  // namespace
}  // namespace bnlab::test
