// cuda_common.cuh — what every file of the CUDA backend shares: error checks, the backend's one stream and
// cuBLAS handle, grow-only device scratch buffers, launch-size helpers, warp reductions, and the declarations
// of the CUDA kernels that cuda_backend.cu puts into the Backend table (signatures and shapes are declared
// once, in backend/kernels.hpp).
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

// A size or leading dimension passed to cuBLAS, which takes 32-bit ints: throws std::length_error naming the
// argument when v does not fit (a silent narrowing would multiply the wrong memory).
inline int blas_int(std::int64_t v, const char* what) {
  if (v < 0 || v > 0x7fffffffll)
    throw std::length_error(std::string("CUDA backend: ") + what + " = " + std::to_string(v) +
                            " does not fit cuBLAS's 32-bit sizes; split the batch or the layer");
  return static_cast<int>(v);
}

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

// ---- the kernels of the Backend table (signatures in backend/kernels.hpp) ----
BNLAB_DECLARE_KERNELS

}  // namespace bnlab::cuda
