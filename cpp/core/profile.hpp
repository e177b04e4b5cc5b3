// profile.hpp — opt-in timers for the engine's kernels: time, calls and work per phase (and per GEMM shape).
//
// Off by default; on with the environment variable BNLAB_PROFILE=1 at load time or profile::set_enabled(true).
// When off, a timed scope costs one load and one branch (no clock read, no allocation). When on, each scope
// reads the steady clock twice and adds into a fixed table of entries keyed by (phase, m, n, k, transposes):
// the table never allocates, so the engine's "no allocation per step" holds while profiling too.
// Timing is per calling thread's wall clock: a GEMM's entry includes the time OpenBLAS's threads took.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace bnlab::profile {

struct Entry {
  const char* phase = nullptr;  // a string literal naming the kernel, e.g. "gemm.forward"
  std::int64_t m = 0, n = 0, k = 0;
  char trans_a = '-', trans_b = '-';  // 'N' / 'T' for GEMMs as cblas sees them (row-major), '-' otherwise
  std::int64_t calls = 0;
  double seconds = 0.0;
  double flops = 0.0;  // floating-point operations done (2mnk for a GEMM), 0 where not counted
  double bytes = 0.0;  // bytes read and written (element-wise kernels), 0 where not counted
};

namespace detail {
extern bool g_enabled;
void add(const Entry& key, double seconds);
}  // namespace detail

inline bool enabled() { return detail::g_enabled; }
void set_enabled(bool on);
void reset();
std::vector<Entry> snapshot();

// Times the enclosing scope into the entry `key` (key.calls and key.seconds are ignored).
class Scope {
 public:
  explicit Scope(const Entry& key) : on_(enabled()) {
    if (!on_) return;
    key_ = key;  // a copy: `key` is usually a temporary
    start_ = std::chrono::steady_clock::now();
  }
  ~Scope() {
    if (on_) detail::add(key_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool on_;
  Entry key_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace bnlab::profile
