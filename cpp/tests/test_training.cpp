// test_training.cpp — the C++ training loop end to end: identically seeded runs give bit-identical weights
// and moving statistics (shuffle, dropout masks and updates are pure functions of their seeds), a different
// shuffle seed gives different weights, and training lowers the loss of a learnable problem.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "training_fixture.hpp"

namespace bnlab::test {
namespace {

// Every trainable parameter and every buffer (moving statistics), in model order.
std::vector<const Tensor*> state_of(nn::Sequential& m) {
  std::vector<const Tensor*> out;
  for (auto& layer : m.layers) {
    for (const nn::Param& p : layer->params()) out.push_back(p.value);
    for (auto& [name, t] : layer->buffers()) out.push_back(t);
  }
  return out;
}

bool bit_identical(nn::Sequential& a, nn::Sequential& b) {
  const auto sa = state_of(a), sb = state_of(b);
  if (sa.size() != sb.size()) return false;
  for (std::size_t i = 0; i < sa.size(); ++i)
    if (sa[i]->shape() != sb[i]->shape() ||
        std::memcmp(sa[i]->raw(), sb[i]->raw(), static_cast<std::size_t>(sa[i]->numel()) * 4) != 0)
      return false;
  return true;
}

void train(nn::Sequential& m, const Data& d, std::uint64_t shuffle_seed, int epochs) {
  for (int e = 0; e < epochs; ++e) m.train_epoch(d.x, d.y, 16, true, shuffle_seed, static_cast<std::uint64_t>(e), {});
}

TEST(Training, IdenticallySeededRunsAreBitIdentical) {
  for (bool dropout : {false, true}) {
    SCOPED_TRACE(dropout);
    const Data d = make_data(100, 1);  // 6 full batches and a partial one of 4
    auto a = make_mlp(dropout), b = make_mlp(dropout), c = make_mlp(dropout);
    train(*a, d, 3, 3);
    train(*b, d, 3, 3);
    train(*c, d, 4, 3);
    EXPECT_TRUE(bit_identical(*a, *b));
    EXPECT_FALSE(bit_identical(*a, *c)) << "a different shuffle seed must change the result";
  }
}

TEST(Training, LowersTheLossAndTracksMetrics) {
  const Data d = make_data(256, 2);
  auto m = make_mlp(false);
  const nn::Metrics first = m->train_epoch(d.x, d.y, 32, true, 1, 0, {});
  EXPECT_EQ(first.samples, 256);
  EXPECT_EQ(first.batches, 8);
  nn::Metrics last = first;
  for (std::uint64_t e = 1; e < 30; ++e) last = m->train_epoch(d.x, d.y, 32, true, 1, e, {});
  EXPECT_LT(last.loss(), 0.5 * first.loss());
  EXPECT_GT(last.accuracy(), 0.85);
  const nn::Metrics eval = m->evaluate(d.x, d.y, 50, {});  // inference mode: moving statistics
  EXPECT_EQ(eval.samples, 256);
  EXPECT_EQ(eval.batches, 6);
  EXPECT_GT(eval.accuracy(), 0.8);
}

TEST(Training, CallbackSeesEveryBatchAndCanStop) {
  const Data d = make_data(50, 3);
  auto m = make_mlp(true);
  std::vector<std::int64_t> seen;
  std::vector<nn::Metrics> reads;
  const nn::Metrics all = m->train_epoch(d.x, d.y, 16, false, 0, 0, [&](std::int64_t i, const nn::MetricsProbe& p) {
    seen.push_back(i);
    EXPECT_EQ(p.batches(), i + 1);
    reads.push_back(p.read());  // the running sums, read back on request
    return false;
  });
  EXPECT_EQ(seen, (std::vector<std::int64_t>{0, 1, 2, 3}));  // the partial batch of 2 is kept
  EXPECT_EQ(all.samples, 50);
  ASSERT_EQ(reads.size(), 4u);
  EXPECT_EQ(reads[1].samples, 32);
  EXPECT_EQ(reads.back().loss(), all.loss());
  EXPECT_EQ(reads.back().accuracy(), all.accuracy());
  EXPECT_NE(reads[0].loss(), reads[1].loss());
  const nn::Metrics stopped =
      m->train_epoch(d.x, d.y, 16, false, 0, 1, [](std::int64_t i, const nn::MetricsProbe&) { return i == 1; });
  EXPECT_TRUE(stopped.stopped);
  EXPECT_EQ(stopped.samples, 32);
}

}  // namespace
}  // namespace bnlab::test
