// optim_cpu.cpp — in-place optimizer updates and dropout on the CPU (elementwise kernels over n values).
// The update rules, with the Keras and PyTorch conventions, are written out in backend/backend.hpp.
#include <cmath>
#include <cstring>

#include "backend/cpu/kernels_cpu.hpp"
#include "core/profile.hpp"
#include "core/rng.hpp"

namespace bnlab::cpu {

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
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i] + weight_decay * w[i];
    m[i] += (gi - m[i]) * omb1;
    v[i] += (gi * gi - v[i]) * omb2;
    float vi = v[i];
    if (vmax) {
      vmax[i] = vmax[i] > vi ? vmax[i] : vi;
      vi = vmax[i];
    }
    const float denom = keras_eps ? std::sqrt(vi) + eps : std::sqrt(vi) / sc2 + eps;
    w[i] -= step * m[i] / denom;
  }
}

void rmsprop_update(float* w, float* v, float* avg, float* mom, const float* g, std::int64_t n, float lr, float rho,
                    float momentum, float eps) {
  const profile::Scope timer(
      {"rmsprop", n, 0, 0, '-', '-', 0, 0.0, 0.0, (20.0 + (avg ? 8.0 : 0.0) + (mom ? 8.0 : 0.0)) * n});
  for (std::int64_t i = 0; i < n; ++i) {
    v[i] = rho * v[i] + (1.0f - rho) * g[i] * g[i];
    float denom = v[i];
    if (avg) {
      avg[i] = rho * avg[i] + (1.0f - rho) * g[i];
      denom -= avg[i] * avg[i];
    }
    const float inc = lr * g[i] / std::sqrt(denom + eps);
    if (mom) {
      mom[i] = momentum * mom[i] + inc;
      w[i] -= mom[i];
    } else {
      w[i] -= inc;
    }
  }
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
  for (std::int64_t r = 0; r < B; ++r) std::memcpy(o + r * rb, s + idx[r] * row_bytes, rb);
}

}  // namespace bnlab::cpu
