// test_optimizer_state.cpp — Optimizer::state_of, what a loader uses to restore saved optimizer state: a
// parameter's slots written into a fresh optimizer, with the step count, continue exactly where the original
// optimizer was (Adam with amsgrad: three slots and the bias-correction step; RMSprop centered with momentum;
// SGD with momentum, whose first step differs from the later ones).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "nn/optimizer.hpp"
#include "test_helpers.hpp"

namespace bnlab::test {
namespace {

using nn::Optimizer;

void copy_into(Tensor& dst, const Tensor& src) {
  if (src.defined()) dst.copy_from_host(src.raw(), src.numel());
}

// Four updates by `original`; its state copied into `restored` after two; the last two updates must agree.
void expect_restored_state_continues(Optimizer& original, Optimizer& restored) {
  Tensor w = normal({7}, 0.0f, 1.0f, 1);
  Tensor w2 = Tensor::zeros({7});
  std::vector<nn::Param> p{{"w", &w, nullptr}}, p2{{"w", &w2, nullptr}};
  for (int t = 0; t < 4; ++t) {
    Tensor g = normal({7}, 0.0f, 1.0f, 10 + static_cast<unsigned>(t));
    p[0].grad = p2[0].grad = &g;
    if (t == 2) {  // what saving and loading do: the weights, then each slot and the step count
      w2.copy_from_host(w.raw(), w.numel());
      const Optimizer::Slots* saved = original.slots_of(w);
      ASSERT_NE(saved, nullptr);
      Optimizer::Slots& fresh = restored.state_of(w2);
      EXPECT_EQ(fresh.step, 0);
      copy_into(fresh.a, saved->a);
      copy_into(fresh.b, saved->b);
      copy_into(fresh.c, saved->c);
      fresh.step = saved->step;
    }
    original.step(p);
    if (t >= 2) restored.step(p2);
  }
  EXPECT_EQ(std::memcmp(w.raw(), w2.raw(), sizeof(float) * 7), 0);
  EXPECT_EQ(restored.slots_of(w2)->step, 4);
}

TEST(OptimizerState, AdamAmsgradContinuesFromRestoredSlots) {
  nn::Adam a(1e-2f, 0.9, 0.999, 1e-7f, true, true, 0.0f), b(1e-2f, 0.9, 0.999, 1e-7f, true, true, 0.0f);
  expect_restored_state_continues(a, b);
}

TEST(OptimizerState, RmspropCenteredMomentumContinuesFromRestoredSlots) {
  nn::RMSprop a(1e-2f, 0.9f, 0.5f, 1e-7f, true), b(1e-2f, 0.9f, 0.5f, 1e-7f, true);
  expect_restored_state_continues(a, b);
}

TEST(OptimizerState, SgdMomentumContinuesFromRestoredSlots) {
  nn::SGD a(1e-2f, 0.9f, true, 0.0f, 0.0f), b(1e-2f, 0.9f, true, 0.0f, 0.0f);
  expect_restored_state_continues(a, b);
}

}  // namespace
}  // namespace bnlab::test
