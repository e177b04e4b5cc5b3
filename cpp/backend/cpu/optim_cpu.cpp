// optim_cpu.cpp — in-place optimizer updates and dropout on the CPU (elementwise kernels over n values), and the
// gather of a batch's rows. The update rules, with the Keras and PyTorch conventions, are written out in
// backend/kernels.hpp.
//
// Adam, RMSprop and the gather are memory-bound and split over the threads (parallel.hpp): the updates above
// kMinParallel values, the gather in parts of at least kGatherPartBytes. Every element is written by one thread
// with the same arithmetic, so the bits do not depend on the thread count. One thread moved Adam's 28 bytes per
// parameter at 44-64 GB/s; seed 002's first layer (1.57 M weights) took 0.14-0.29 s of its epoch in Adam.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/kernels_cpu.hpp"
#include "backend/cpu/parallel.hpp"
#include "core/profile.hpp"
#include "core/rng.hpp"

namespace bnlab::cpu {
namespace {
constexpr std::int64_t kMinParallel = 1 << 16;  // elements (or gathered floats) per part at the least

// The gather's rows are scattered over a dataset larger than the caches, and the hardware prefetcher only
// follows a row once it has missed on it: each row start waited for DRAM. Asking for the row kGatherAhead places
// ahead while the current one is copied keeps that many rows in flight: a batch of 100 rows of 3136 bytes from
// a 188 MB dataset went from 32 to 18 us on one thread. A part is at least kGatherPartBytes: the second thread
// took a 100-row batch from 18 to 15 us.
constexpr std::int64_t kGatherAhead = 4;
constexpr std::int64_t kGatherPartBytes = 1 << 17;
void prefetch_row(const char* row, std::size_t bytes) {
  for (std::size_t b = 0; b < bytes; b += 64) __builtin_prefetch(row + b, 0, 3);
}
}  // namespace

void sgd_update(float* w, float* buf, const float* g, std::int64_t n, float lr, float momentum, float dampening,
                float weight_decay, bool nesterov, bool first_step) {
  const profile::Scope timer({"sgd", n, 0, 0, '-', '-', 0, 0.0, 0.0, (momentum != 0.0f ? 20.0 : 12.0) * n});
  for (std::int64_t i = 0; i < n; ++i) {
    float d = g[i] + weight_decay * w[i];
    if (momentum != 0.0f) {
      buf[i] = first_step ? d : momentum * buf[i] + (1.0f - dampening) * d;
      d = nesterov ? d + momentum * buf[i] : buf[i];
    }
    w[i] -= lr * d;
  }
}

void adam_update(float* w, float* m, float* v, float* vmax, const float* g, std::int64_t n, float lr, float omb1,
                 float omb2, float eps, float c1, float c2, bool keras_eps, float weight_decay) {
  const profile::Scope timer({"adam", n, 0, 0, '-', '-', 0, 0.0, 0.0, (vmax ? 36.0 : 28.0) * n});
  const float sc2 = std::sqrt(c2);
  const float step = keras_eps ? lr * sc2 / c1 : lr / c1;
  // The part's pointers as __restrict locals: through the lambda's captured references the compiler must
  // assume that the stores may change the pointers themselves, and does not vectorise (3x slower).
  parallel_for(n, kMinParallel, [=](std::int64_t, std::int64_t i0, std::int64_t i1) {
    float* __restrict wp = w;
    float* __restrict mp = m;
    float* __restrict vp = v;
    float* __restrict vmaxp = vmax;
    const float* __restrict gp = g;
    for (std::int64_t i = i0; i < i1; ++i) {
      const float gi = gp[i] + weight_decay * wp[i];
      mp[i] += (gi - mp[i]) * omb1;
      vp[i] += (gi * gi - vp[i]) * omb2;
      float vi = vp[i];
      if (vmaxp) {
        vmaxp[i] = vmaxp[i] > vi ? vmaxp[i] : vi;
        vi = vmaxp[i];
      }
      const float denom = keras_eps ? std::sqrt(vi) + eps : std::sqrt(vi) / sc2 + eps;
      wp[i] -= step * mp[i] / denom;
    }
  });
}

void rmsprop_update(float* w, float* v, float* avg, float* mom, const float* g, std::int64_t n, float lr, float rho,
                    float momentum, float eps) {
  const profile::Scope timer(
      {"rmsprop", n, 0, 0, '-', '-', 0, 0.0, 0.0, (20.0 + (avg ? 8.0 : 0.0) + (mom ? 8.0 : 0.0)) * n});
  parallel_for(n, kMinParallel, [=](std::int64_t, std::int64_t i0, std::int64_t i1) {  // __restrict: see adam
    float* __restrict wp = w;
    float* __restrict vp = v;
    float* __restrict avgp = avg;
    float* __restrict momp = mom;
    const float* __restrict gp = g;
    for (std::int64_t i = i0; i < i1; ++i) {
      vp[i] = rho * vp[i] + (1.0f - rho) * gp[i] * gp[i];
      float denom = vp[i];
      if (avgp) {
        avgp[i] = rho * avgp[i] + (1.0f - rho) * gp[i];
        denom -= avgp[i] * avgp[i];
      }
      const float inc = lr * gp[i] / std::sqrt(denom + eps);
      if (momp) {
        momp[i] = momentum * momp[i] + inc;
        wp[i] -= momp[i];
      } else {
        wp[i] -= inc;
      }
    }
  });
}

void dropout_forward(float* out, float* mask, const float* inp, std::int64_t n, float rate, std::uint64_t seed,
                     std::uint64_t counter) {
  const float keep_scale = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
  for (std::int64_t i = 0; i < n; ++i) {
    mask[i] = random_uniform(seed, counter, static_cast<std::uint64_t>(i)) >= rate ? keep_scale : 0.0f;
    out[i] = inp[i] * mask[i];
  }
}

void dropout_backward(float* dinp, const float* dout, const float* mask, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dinp[i] = dout[i] * mask[i];
}

void gather_rows(void* out, const void* src, const std::int32_t* idx, std::int64_t B, std::int64_t row_bytes) {
  const profile::Scope timer({"gather", B, row_bytes, 0, '-', '-', 0, 0.0, 0.0, 2.0 * B * row_bytes});
  auto* o = static_cast<char*>(out);
  const auto* s = static_cast<const char*>(src);
  const auto rb = static_cast<std::size_t>(row_bytes);
  const std::int64_t min_rows = std::max<std::int64_t>(1, kGatherPartBytes / std::max<std::int64_t>(row_bytes, 1));
  parallel_for(B, min_rows, [&](std::int64_t, std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      if (r + kGatherAhead < r1) prefetch_row(s + idx[r + kGatherAhead] * row_bytes, rb);
      std::memcpy(o + r * rb, s + idx[r] * row_bytes, rb);
    }
  });
}

}  // namespace bnlab::cpu
