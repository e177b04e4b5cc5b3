// test_host_memory.cpp — the CPU backend's blocks: 64-byte aligned, large released blocks reused for the same
// size (no new mapping per step), small ones handed straight back, and the table emptied on request.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/host_memory.hpp"

namespace bnlab::cpu {
namespace {
bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }

TEST(HostMemory, BlocksAreAlignedAndWritable) {
  for (std::size_t bytes : {std::size_t{1}, std::size_t{100}, std::size_t{1} << 20, (std::size_t{3} << 20) + 5}) {
    void* p = host_alloc(bytes);
    EXPECT_TRUE(aligned(p)) << bytes;
    std::memset(p, 0x5a, bytes);
    host_release(p);
  }
  host_release(nullptr);
  host_release_cached();
}

TEST(HostMemory, ALargeReleasedBlockIsReusedForTheSameSize) {
  if (!host_keeps_blocks()) GTEST_SKIP() << "an AddressSanitizer build keeps no blocks";
  host_release_cached();
  void* a = host_alloc(8 << 20);
  host_release(a);
  EXPECT_GE(host_cached_bytes(), std::size_t{8} << 20);
  void* b = host_alloc((8 << 20) - 100);  // rounds to the same pages
  EXPECT_EQ(a, b);
  EXPECT_EQ(host_cached_bytes(), 0u);
  void* c = host_alloc(8 << 20);  // the table is empty now: a new block
  EXPECT_NE(c, b);
  host_release(b);
  host_release(c);
  EXPECT_GE(host_cached_bytes(), std::size_t{16} << 20);
  host_release_cached();
  EXPECT_EQ(host_cached_bytes(), 0u);
}

TEST(HostMemory, SmallBlocksAreNotKept) {
  host_release_cached();
  host_release(host_alloc(1000));
  EXPECT_EQ(host_cached_bytes(), 0u);
}

TEST(HostMemory, TheTableHoldsAtMostItsLimit) {
  host_release_cached();
  void* big[5];
  for (void*& p : big) p = host_alloc(std::size_t{300} << 20);  // 1.5 GB in all: the limit is 1 GiB
  for (void* p : big) host_release(p);
  EXPECT_LE(host_cached_bytes(), std::size_t{1} << 30);
  host_release_cached();
  EXPECT_EQ(host_cached_bytes(), 0u);
}

}  // namespace
}  // namespace bnlab::cpu
