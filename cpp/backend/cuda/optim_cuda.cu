// optim_cuda.cu — in-place optimizer updates on the GPU: one thread per element, grid-stride loops.
// The update rules, with the Keras and PyTorch conventions, are written out in backend/kernels.hpp; each kernel
// body is the loop body of optim_cpu.cpp, and the scalars the CPU hoists out of its loop are computed on the
// host here too, in the same float arithmetic.
#include <cmath>

#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {
namespace {
__global__ void sgd_kernel(float* w, float* buf, const float* g, std::int64_t n, float lr, float momentum,
                           float dampening, float weight_decay, bool nesterov, bool first_step) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    float d = g[i] + weight_decay * w[i];
    if (momentum != 0.0f) {
      buf[i] = first_step ? d : momentum * buf[i] + (1.0f - dampening) * d;
      d = nesterov ? d + momentum * buf[i] : buf[i];
    }
    w[i] -= lr * d;
  }
}

__global__ void adam_kernel(float* w, float* m, float* v, float* vmax, const float* g, std::int64_t n, float omb1,
                            float omb2, float eps, float sc2, float step, bool keras_eps, float weight_decay) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i] + weight_decay * w[i];
    const float mi = m[i] + (gi - m[i]) * omb1;
    float vi = v[i] + (gi * gi - v[i]) * omb2;
    m[i] = mi;
    v[i] = vi;
    if (vmax) {
      vi = vmax[i] > vi ? vmax[i] : vi;
      vmax[i] = vi;
    }
    const float denom = keras_eps ? sqrtf(vi) + eps : sqrtf(vi) / sc2 + eps;
    w[i] -= step * mi / denom;
  }
}

__global__ void rmsprop_kernel(float* w, float* v, float* avg, float* mom, const float* g, std::int64_t n, float lr,
                               float rho, float momentum, float eps) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float vi = rho * v[i] + (1.0f - rho) * gi * gi;
    v[i] = vi;
    float denom = vi;
    if (avg) {
      const float ai = rho * avg[i] + (1.0f - rho) * gi;
      avg[i] = ai;
      denom -= ai * ai;
    }
    const float inc = lr * gi / sqrtf(denom + eps);
    if (mom) {
      const float mo = momentum * mom[i] + inc;
      mom[i] = mo;
      w[i] -= mo;
    } else {
      w[i] -= inc;
    }
  }
}
}  // namespace

// Shapes: kernel::SgdUpdate (backend/kernels.hpp).
void sgd_update(float* w, float* buf, const float* g, std::int64_t n, float lr, float momentum, float dampening,
                float weight_decay, bool nesterov, bool first_step) {
  if (n <= 0) return;
  sgd_kernel<<<grid_1d(n), kThreads, 0, stream()>>>(w, buf, g, n, lr, momentum, dampening, weight_decay, nesterov,
                                                    first_step);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::AdamUpdate (backend/kernels.hpp).
void adam_update(float* w, float* m, float* v, float* vmax, const float* g, std::int64_t n, float lr, float omb1,
                 float omb2, float eps, float c1, float c2, bool keras_eps, float weight_decay) {
  if (n <= 0) return;
  const float sc2 = std::sqrt(c2);
  const float step = keras_eps ? lr * sc2 / c1 : lr / c1;
  adam_kernel<<<grid_1d(n), kThreads, 0, stream()>>>(w, m, v, vmax, g, n, omb1, omb2, eps, sc2, step, keras_eps,
                                                     weight_decay);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::RmspropUpdate (backend/kernels.hpp).
void rmsprop_update(float* w, float* v, float* avg, float* mom, const float* g, std::int64_t n, float lr, float rho,
                    float momentum, float eps) {
  if (n <= 0) return;
  rmsprop_kernel<<<grid_1d(n), kThreads, 0, stream()>>>(w, v, avg, mom, g, n, lr, rho, momentum, eps);
  BNLAB_CUDA_CHECK_LAUNCH();
}

}  // namespace bnlab::cuda
