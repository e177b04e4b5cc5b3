// cuda_common.cuh — what every file of the CUDA backend shares: error checks, the backend's one stream and
// cuBLAS handle, grow-only device scratch buffers, launch-size helpers, warp reductions, and the declarations
// of the CUDA kernels that cuda_backend.cu puts into the Backend table (signatures and shapes are documented
// once, in backend/backend.hpp).
//
// Execution model: every launch and copy goes on ONE stream, in the order the host issues it, so kernels
// never race with each other and a buffer may be reused as soon as the next launch is enqueued. The host
// waits only in sum (it returns a value), copy_to_host (the host reads the data) and synchronize; the
// training loop therefore runs a whole epoch without a host sync (see nn/model.cpp).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "backend/backend.hpp"

namespace bnlab::cuda {

[[noreturn]] inline void fail(const std::string& what, const char* expr, const char* file, int line) {
  throw std::runtime_error(what + " in `" + expr + "` at " + file + ":" + std::to_string(line));
}
inline void check(cudaError_t e, const char* expr, const char* file, int line) {
  if (e != cudaSuccess) fail(std::string("CUDA error: ") + cudaGetErrorString(e), expr, file, line);
}
inline void check(cublasStatus_t s, const char* expr, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(std::string("cuBLAS error: ") + cublasGetStatusString(s), expr, file, line);
}

// Throws std::runtime_error naming the CUDA (or cuBLAS) error, the expression, the file and the line.
#define BNLAB_CUDA_CHECK(expr) ::bnlab::cuda::check((expr), #expr, __FILE__, __LINE__)
// After a <<<...>>> launch: reports a bad launch configuration at once (errors inside the kernel surface at
// the next synchronising call, as always with asynchronous execution).
#define BNLAB_CUDA_CHECK_LAUNCH() BNLAB_CUDA_CHECK(cudaGetLastError())

// The backend's state, created on first use (never at load time) and deliberately never destroyed: tensors
// may be freed during interpreter shutdown, after static destructors have run.
struct Context {
  cudaStream_t stream;
  cublasHandle_t cublas;
  int sm_count;      // streaming multiprocessors: sizes the grids of the reductions
  bool async_alloc;  // the device supports stream-ordered allocation (cudaMallocAsync)
};
const Context& context();
inline cudaStream_t stream() { return context().stream; }

// Grow-only device scratch, one set per host thread (threads may drive different models at once; all of them
// enqueue on the same stream, so a buffer is reused only after the kernels that read it have run).
enum class Scratch : int { Reduce = 0, Coef = 1, Ones = 2 };
constexpr int kNumScratch = 3;
// A device buffer of at least `bytes` for `slot`; contents are unspecified after growing.
void* scratch(Scratch slot, std::size_t bytes);
// A device vector of n floats equal to 1 (for row sums through cuBLAS gemv).
const float* ones(std::int64_t n);

// ---- launch sizes ----
constexpr int kThreads = 256;  // threads per block of the 1-D kernels
// Blocks for a grid-stride loop over n elements: enough to fill the GPU, never more than needed.
inline unsigned grid_1d(std::int64_t n) {
  const std::int64_t want = (n + kThreads - 1) / kThreads;
  const std::int64_t cap = static_cast<std::int64_t>(context().sm_count) * 8;  // 8 blocks of 256 = 2048 threads/SM
  return static_cast<unsigned>(want < cap ? (want > 0 ? want : 1) : cap);
}

// The (rows, cols) kernels: x (N, J) row-major with a per-column parameter; blocks of 32 columns x 8 rows,
// so that each warp reads 32 consecutive floats of one row. grid.x covers the columns, grid.y strides rows.
constexpr int kColTile = 32, kRowTile = 8;
inline dim3 grid_2d(std::int64_t N, std::int64_t J) {
  const std::int64_t gx = J > 0 ? (J + kColTile - 1) / kColTile : 1;  // J = 0: one idle block, not a division by 0
  const std::int64_t target = static_cast<std::int64_t>(context().sm_count) * 8;
  std::int64_t gy = (target + gx - 1) / gx;
  const std::int64_t rows = (N + kRowTile - 1) / kRowTile;
  if (gy > rows) gy = rows;
  if (gy > 65535) gy = 65535;
  if (gy < 1) gy = 1;
  return dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
}

// ---- warp reductions (all 32 lanes take part and receive the result) ----
template <typename T>
__device__ inline T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// ---- the kernels of the Backend table ----
void* alloc(std::size_t bytes);
void release(void* ptr);
void copy_from_host(void* dst, const void* host_src, std::size_t bytes);
void copy_to_host(void* host_dst, const void* src, std::size_t bytes);
void copy(void* dst, const void* src, std::size_t bytes);
void fill(float* dst, float value, std::int64_t n);
void synchronize();
double sum(const float* x, std::int64_t n);
void accumulate_sums(double* acc, const float* a, const float* b, std::int64_t n);
void gather_rows(void* out, const void* src, const std::int32_t* idx, std::int64_t B, std::int64_t row_bytes);

void dense_forward(float* out, const float* inp, const float* weight, const float* bias, std::int64_t B,
                   std::int64_t IN, std::int64_t OUT, bool weight_out_in);
void dense_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                    std::int64_t B, std::int64_t IN, std::int64_t OUT, bool weight_out_in, bool accumulate);

void conv2d_forward(float* out, float* cols, const float* inp, const float* weight, const float* bias,
                    const Conv2dShape& s);
void conv2d_backward(float* dinp, float* dcols, float* dweight, float* dbias, const float* dout, const float* cols,
                     const float* weight, const Conv2dShape& s, bool accumulate);
void max_pool2d_forward(float* out, std::int32_t* argmax, const float* inp, const Conv2dShape& s);
void max_pool2d_backward(float* dinp, const float* dout, const std::int32_t* argmax, const Conv2dShape& s);
void avg_pool2d_forward(float* out, const float* inp, const Conv2dShape& s, bool count_include_pad);
void avg_pool2d_backward(float* dinp, const float* dout, const Conv2dShape& s, bool count_include_pad);

void batchnorm_forward_train(float* out, float* xhat, float* mean, float* var, float* rstd, const float* inp,
                             const float* gamma, const float* beta, std::int64_t N, std::int64_t C, std::int64_t L,
                             float eps, bool fuse_relu);
void batchnorm_forward_infer(float* out, const float* inp, const float* mean, const float* var, const float* gamma,
                             const float* beta, std::int64_t N, std::int64_t C, std::int64_t L, float eps,
                             bool fuse_relu);
void batchnorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                        const float* rstd, const float* gamma, const float* relu_out, std::int64_t N, std::int64_t C,
                        std::int64_t L);
void blend(float* moving, const float* batch, float keep, float batch_scale, std::int64_t C);
void groupnorm_forward(float* out, float* xhat, float* mean, float* rstd, const float* inp, const float* gamma,
                       const float* beta, std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K,
                       std::int64_t L, float eps);
void groupnorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                        const float* rstd, const float* gamma, std::int64_t N, std::int64_t A, std::int64_t G,
                        std::int64_t K, std::int64_t L);
void batchrenorm_correct(float* gamma_eff, float* beta_eff, float* r, float* d, float* renorm_mean,
                         float* renorm_stddev, float* moving_mean, float* moving_stddev, float* moving_var,
                         const float* mean, const float* var, const float* gamma, const float* beta, std::int64_t C,
                         float eps, float rmin, float rmax, float dmax, float momentum, float renorm_momentum);
void batchrenorm_param_grads(float* dgamma, float* dbeta, const float* sum_dy_xhat, const float* sum_dy, const float* r,
                             const float* d, std::int64_t C);

void activation_forward(float* out, const float* inp, std::int64_t rows, std::int64_t D, Act act);
void activation_backward(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D, Act act);
void dropout_forward(float* out, float* mask, const float* inp, std::int64_t n, float rate, std::uint64_t seed,
                     std::uint64_t counter);
void dropout_backward(float* dinp, const float* dout, const float* mask, std::int64_t n);

void xent(float* loss_rows, float* grad, const float* pred, const void* target, std::int64_t B, std::int64_t K,
          XentForm form, bool grad_wrt_logits, float eps, float scale);
void mse(float* loss_rows, float* grad, const float* pred, const float* target, std::int64_t B, std::int64_t K,
         float scale);
void accuracy(float* correct, const float* pred, const void* target, std::int64_t B, std::int64_t K, bool sparse);
void argmax_rows(std::int32_t* out, const float* x, std::int64_t B, std::int64_t K);

void sgd_update(float* w, float* buf, const float* g, std::int64_t n, float lr, float momentum, float dampening,
                float weight_decay, bool nesterov, bool first_step);
void adam_update(float* w, float* m, float* v, float* vmax, const float* g, std::int64_t n, float lr, float omb1,
                 float omb2, float eps, float c1, float c2, bool keras_eps, float weight_decay);
void rmsprop_update(float* w, float* v, float* avg, float* mom, const float* g, std::int64_t n, float lr, float rho,
                    float momentum, float eps);

}  // namespace bnlab::cuda
