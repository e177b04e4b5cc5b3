// parallel.hpp — the CPU backend's element-wise thread pool: parallel_for splits [0, n) into contiguous parts
// and runs them on the backend's thread count (the same count as OpenBLAS's, set by set_num_threads).
//
// For the memory-bound kernels (the normalisations' passes) that a single core cannot saturate. The parts are a
// pure function of n and the part count, each part is done by one thread in index order, and a kernel that
// reduces across parts does so in part order: results are deterministic for a given thread count (and a
// kernel that splits over independent outputs gives the same bits at every count).
// Small work stays on the calling thread (min_per_part); a call made while the pool is busy (another Python
// thread, or a kernel nested in a part) runs serially instead of waiting.
#pragma once

#include <algorithm>
#include <cstdint>

#include "backend/cpu/threads.hpp"

namespace bnlab::cpu {

using PartFn = void (*)(void* ctx, std::int64_t part, std::int64_t begin, std::int64_t end);

// Runs fn(ctx, p, begin_p, end_p) for the `parts` parts of [0, n), part 0 on the calling thread; returns when
// all are done. parts <= the thread count. false (and nothing run) when the pool is busy.
bool run_parts(std::int64_t n, std::int64_t parts, PartFn fn, void* ctx);

// How many parts parallel_for would use for n items of at least min_per_part each.
inline std::int64_t parts_for(std::int64_t n, std::int64_t min_per_part) {
  const std::int64_t by_size = min_per_part > 0 ? n / min_per_part : n;
  return std::max<std::int64_t>(1, std::min<std::int64_t>(get_num_threads(), by_size));
}

// f(part, begin, end) over contiguous parts of [0, n), each of at least min_per_part items (one part, on this
// thread, when n is small or one thread is set).
template <class F>
void parallel_for(std::int64_t n, std::int64_t min_per_part, F&& f) {
  const std::int64_t parts = parts_for(n, min_per_part);
  if (parts > 1) {
    auto call = [](void* ctx, std::int64_t p, std::int64_t b, std::int64_t e) { (*static_cast<F*>(ctx))(p, b, e); };
    if (run_parts(n, parts, call, &f)) return;
  }
  for (std::int64_t p = 0; p < parts; ++p) f(p, n * p / parts, n * (p + 1) / parts);  // same parts, in order
}

}  // namespace bnlab::cpu
