// host_memory.cpp — aligned host blocks and the table of large released blocks (see host_memory.hpp).
//
// Every block carries a 64-byte header in front of it that holds its rounded size, so that release knows it
// without a lookup structure (which would allocate). Large sizes are rounded up to whole 4 KB pages, so that
// the same tensor shape always asks for the same size. The table is a fixed array under a mutex: a scan of
// kSlots entries is nothing next to the MB of work a block of that size stands for.
#include "backend/cpu/host_memory.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>

namespace bnlab::cpu {
namespace {
constexpr std::size_t kHeader = 64;  // keeps the payload 64-byte aligned
constexpr std::size_t kPage = 4096;
constexpr std::size_t kMinCachedBytes = std::size_t{256} << 10;
constexpr std::size_t kMaxCachedBytes = std::size_t{1} << 30;
constexpr std::size_t kSlots = 64;
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kKeep = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kKeep = false;
#else
constexpr bool kKeep = true;
#endif
#else
constexpr bool kKeep = true;
#endif

struct Slot {
  std::size_t size = 0;  // 0: empty
  void* block = nullptr;
};
struct Table {
  std::mutex lock;
  std::array<Slot, kSlots> slots{};
  std::size_t held = 0;
};
Table& table() {
  static Table* t = new Table();  // never destroyed: blocks may be released during static destruction
  return *t;
}

std::size_t rounded_size(std::size_t bytes) {
  const std::size_t r = (bytes + 63) / 64 * 64;
  return r >= kMinCachedBytes ? (r + kPage - 1) / kPage * kPage : r;
}
std::size_t& size_of(void* block) { return *static_cast<std::size_t*>(block); }
}  // namespace

void* host_alloc(std::size_t bytes) {
  const std::size_t size = rounded_size(bytes);
  if (kKeep && size >= kMinCachedBytes) {
    Table& t = table();
    const std::lock_guard<std::mutex> guard(t.lock);
    for (Slot& s : t.slots)
      if (s.size == size) {
        void* block = s.block;
        s = Slot{};
        t.held -= size;
        return static_cast<char*>(block) + kHeader;
      }
  }
  void* block = std::aligned_alloc(64, kHeader + size);
  if (!block) throw std::bad_alloc();
  size_of(block) = size;
  return static_cast<char*>(block) + kHeader;
}

void host_release(void* p) {
  if (!p) return;
  void* block = static_cast<char*>(p) - kHeader;
  const std::size_t size = size_of(block);
  if (kKeep && size >= kMinCachedBytes) {
    Table& t = table();
    const std::lock_guard<std::mutex> guard(t.lock);
    if (t.held + size <= kMaxCachedBytes)
      for (Slot& s : t.slots)
        if (s.size == 0) {
          s = Slot{size, block};
          t.held += size;
          return;
        }
  }
  std::free(block);
}

std::size_t host_cached_bytes() {
  Table& t = table();
  const std::lock_guard<std::mutex> guard(t.lock);
  return t.held;
}

bool host_keeps_blocks() { return kKeep; }

void host_release_cached() {
  Table& t = table();
  const std::lock_guard<std::mutex> guard(t.lock);
  for (Slot& s : t.slots)
    if (s.size) {
      std::free(s.block);
      s = Slot{};
    }
  t.held = 0;
}

}  // namespace bnlab::cpu
