// test_residual.cpp — the Residual block (nn/residual.hpp): its forward against the two branches run on their
// own plus a sum, and its input and parameter gradients against central finite differences (test_helpers.hpp:
// h = 1e-3 here, small enough that no ReLU input of these seeded values crosses its kink, and the rounding term
// ~sqrt(32) 6e-8 / 2e-3 ~ 2e-4 stays 10x below the tolerance).
#include <gtest/gtest.h>

#include <memory>

#include "nn/chain.hpp"
#include "nn/residual.hpp"
#include "test_helpers.hpp"

namespace bnlab::test {
using namespace nn;

namespace {
std::vector<LayerPtr> main_branch() {
  return {std::make_shared<Dense>(4, true, Act::Linear), std::make_shared<BatchNorm>(0, 0.99f, 1e-3f, true, true),
          std::make_shared<Activation>(Act::Relu), std::make_shared<Dense>(4, true, Act::Linear)};
}

struct Block {
  std::shared_ptr<Residual> layer;
  Tensor x = normal({8, 4}, 0.5f, 1.0f, 3), w = normal({8, 4}, 0.0f, 1.0f, 4);
  explicit Block(bool projection) {
    std::vector<LayerPtr> shortcut;
    if (projection) shortcut.push_back(std::make_shared<Dense>(4, false, Act::Linear));
    layer = std::make_shared<Residual>(main_branch(), shortcut);
    layer->build({4}, Device::CPU);
  }
  double loss() { return weighted_sum(layer->forward(x, true), w); }
};
}  // namespace

TEST(Residual, ForwardIsTheSumOfTheBranches) {
  for (bool projection : {false, true}) {
    Block b(projection);
    const std::vector<double> got = as_double(b.layer->forward(b.x, true));
    std::vector<char> pairs = bn_relu_pairs(b.layer->main);
    std::vector<double> want = as_double(chain_forward(b.layer->main, pairs, false, b.x, true));
    const std::vector<double> shortcut =
        projection ? as_double(b.layer->shortcut[0]->forward(b.x, true)) : as_double(b.x);
    for (std::size_t i = 0; i < want.size(); ++i) want[i] += shortcut[i];
    EXPECT_TRUE(close(got, want, 1e-6)) << "projection " << projection;
  }
}

TEST(Residual, GradientsMatchFiniteDifferences) {
  for (bool projection : {false, true}) {
    Block b(projection);
    b.loss();
    b.layer->begin_step();
    const std::vector<double> dx = as_double(b.layer->backward(b.w, false, true));
    std::vector<std::vector<double>> dparams;
    for (const Param& p : b.layer->params()) dparams.push_back(as_double(*p.grad));
    EXPECT_TRUE(close(dx,
                      central_diff(
                          b.x, [&] { return b.loss(); }, 1e-3),
                      2e-3))
        << "dx, projection " << projection;
    std::size_t k = 0;
    for (const Param& p : b.layer->params())
      EXPECT_TRUE(close(dparams[k++],
                        central_diff(
                            *p.value, [&] { return b.loss(); }, 1e-3),
                        2e-3))
          << p.name << ", projection " << projection;
    // main: Dense (kernel, bias), BN (gamma, beta), Dense (kernel, bias); the projection's kernel last
    EXPECT_EQ(b.layer->params().size(), projection ? 7u : 6u);
    EXPECT_EQ(b.layer->buffers().size(), 2u);  // the BN's moving mean and variance
  }
}

TEST(Residual, FusedAndUnfusedBatchNormReluAgree) {
  Block fused(true), plain(true);
  plain.layer->fuse_bn_relu = false;
  // the same weights in both
  auto pf = fused.layer->params(), pp = plain.layer->params();
  for (std::size_t i = 0; i < pf.size(); ++i) pp[i].value->copy_from_host(pf[i].value->f32(), pf[i].value->numel());
  EXPECT_TRUE(close(fused.layer->forward(fused.x, true), as_double(plain.layer->forward(plain.x, true)), 1e-6));
  fused.layer->begin_step();
  plain.layer->begin_step();
  EXPECT_TRUE(
      close(fused.layer->backward(fused.w, false, true), as_double(plain.layer->backward(plain.w, false, true)), 1e-6));
}

TEST(Residual, BranchesOfDifferentShapesAreRefused) {
  std::vector<LayerPtr> shortcut{std::make_shared<Dense>(3, false, Act::Linear)};
  Residual block(main_branch(), shortcut);
  EXPECT_THROW(block.build({4}, Device::CPU), std::invalid_argument);
  EXPECT_THROW(Residual({}, {}), std::invalid_argument);
}

}  // namespace bnlab::test
