// test_no_allocation.cpp — once warm, the training loop allocates nothing: after the first epoch of a
// Sequential (Flatten -> Dense relu -> BatchNorm -> [Dropout] -> Dense softmax, Adam, sparse cross-entropy),
// further epochs with the same batch size and data perform ZERO heap allocations, also when the last batch is
// partial, and also when evaluation passes alternate with training (Keras's fit with validation data).
//
// Two counters: this file replaces the global operator new/delete of the test executable (every form,
// counting with an atomic; the replacement is the standard mechanism, [replacement.functions]), and the
// fixture swaps the CPU backend's table for a copy whose `alloc` counts tensor storage allocations, which go
// through std::aligned_alloc, not operator new.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "backend/backend.hpp"
#include "nn/norm_layers.hpp"
#include "training_fixture.hpp"

namespace {
std::atomic<long> g_new_calls{0};

void* counted_alloc(std::size_t n, std::size_t align) {
  g_new_calls.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(n);
  return std::aligned_alloc(align, (n + align - 1) / align * align);
}
void* counted_or_throw(std::size_t n, std::size_t align) {
  if (void* p = counted_alloc(n, align)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted_or_throw(n, 0); }
void* operator new[](std::size_t n) { return counted_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace bnlab::test {
namespace {

std::atomic<long> g_storage_allocs{0};
const Backend* g_cpu = nullptr;

void* counting_storage_alloc(std::size_t bytes) {
  g_storage_allocs.fetch_add(1, std::memory_order_relaxed);
  return g_cpu->alloc(bytes);
}

struct Allocations {
  long news, storages;
};
Allocations now() { return {g_new_calls.load(), g_storage_allocs.load()}; }

class NoAllocation : public ::testing::Test {
 protected:
  void SetUp() override {
    g_cpu = &backend(Device::CPU);
    counting_ = *g_cpu;
    counting_.alloc = counting_storage_alloc;
    register_backend(Device::CPU, &counting_);
  }
  void TearDown() override { register_backend(Device::CPU, g_cpu); }

  // Allocations made by `epochs` training epochs (each followed by an evaluation when `val` is given).
  static Allocations during(nn::Sequential& m, const Data& train, const Data* val, std::int64_t batch,
                            std::uint64_t first_epoch, int epochs) {
    const nn::BatchCallback none;
    const Allocations before = now();
    for (int e = 0; e < epochs; ++e) {
      m.train_epoch(train.x, train.y, batch, true, 42, first_epoch + static_cast<std::uint64_t>(e), none);
      if (val) m.evaluate(val->x, val->y, batch, none);
    }
    const Allocations after = now();
    return {after.news - before.news, after.storages - before.storages};
  }

  Backend counting_{};
};

TEST_F(NoAllocation, CountersSeeAllocations) {  // the instrument itself: both counters move when they must
  const Allocations before = now();
  const Tensor t = Tensor::zeros({10});
  const Allocations after = now();
  EXPECT_GE(after.news - before.news, 1);  // the shared Storage
  EXPECT_EQ(after.storages - before.storages, 1);
}

TEST_F(NoAllocation, SteadyStateEpochsAllocateNothing) {
  for (bool dropout : {false, true}) {
    SCOPED_TRACE(dropout);
    auto m = make_mlp(dropout);
    const Data d = make_data(8 * 16, 1);
    const Allocations warm = during(*m, d, nullptr, 16, 0, 1);
    EXPECT_GT(warm.news + warm.storages, 0);  // the first epoch sizes the buffers and the optimizer slots
    const Allocations steady = during(*m, d, nullptr, 16, 1, 3);
    EXPECT_EQ(steady.news, 0) << "operator new calls in 3 warm epochs";
    EXPECT_EQ(steady.storages, 0) << "tensor storage allocations in 3 warm epochs";
  }
}

TEST_F(NoAllocation, APartialLastBatchAllocatesNothing) {
  for (bool dropout : {false, true}) {
    SCOPED_TRACE(dropout);
    auto m = make_mlp(dropout);
    const Data d = make_data(8 * 16 + 5, 2);  // eight batches of 16, then one of 5
    during(*m, d, nullptr, 16, 0, 1);
    const Allocations steady = during(*m, d, nullptr, 16, 1, 3);
    EXPECT_EQ(steady.news, 0);
    EXPECT_EQ(steady.storages, 0);
  }
}

TEST_F(NoAllocation, TrainingAlternatingWithEvaluationAllocatesNothing) {
  auto m = make_mlp(true);
  const Data train = make_data(6 * 16 + 3, 3), val = make_data(40, 4);
  during(*m, train, &val, 16, 0, 1);
  const Allocations steady = during(*m, train, &val, 16, 1, 2);
  EXPECT_EQ(steady.news, 0);
  EXPECT_EQ(steady.storages, 0);
}

TEST_F(NoAllocation, TheOtherNormalizationLayersAllocateNothingOnceWarm) {
  const std::vector<std::pair<const char*, nn::LayerPtr>> norms = {
      {"LayerNorm", std::make_shared<nn::LayerNorm>(0, 1e-3f, true, true)},
      {"GroupNorm", std::make_shared<nn::GroupNorm>(4, 0, 1e-3f, true, true)},
      {"BatchRenorm",
       std::make_shared<nn::BatchRenorm>(0, 0.99f, 1e-3f, true, true, ops::RenormClip{0.5f, 2.0f, 1.0f}, 0.9f)},
      {"GhostBatchNorm", std::make_shared<nn::GhostBatchNorm>(0, 0.99f, 1e-3f, true, true, 4)},
  };
  for (const auto& [name, norm] : norms) {
    SCOPED_TRACE(name);
    auto m = make_mlp(true, 5, norm);
    const Data train = make_data(8 * 16, 1), val = make_data(32, 4);
    during(*m, train, &val, 16, 0, 1);
    const Allocations steady = during(*m, train, &val, 16, 1, 2);
    EXPECT_EQ(steady.news, 0);
    EXPECT_EQ(steady.storages, 0);
  }
}

}  // namespace
}  // namespace bnlab::test
