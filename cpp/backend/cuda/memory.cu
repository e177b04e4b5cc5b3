// memory.cu — device memory for the CUDA backend: allocation (stream-ordered), host and device copies, fill,
// synchronize, the per-thread scratch buffers, gather_rows (device indices), the sum in double and the
// training loop's running sums (accumulated on the device, read by the host only when shown).
#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {

// ---- allocation ----
// cudaMallocAsync / cudaFreeAsync on the backend's stream: a freed block is reused only after the work
// enqueued before the free has run, so a tensor may be dropped while kernels that read it are in flight.
void* alloc(std::size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = context().async_alloc ? cudaMallocAsync(&p, bytes, stream()) : cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // out of memory is not sticky: clear it so that later calls do not report it
    throw std::runtime_error("CUDA could not allocate " + std::to_string(bytes) + " bytes: " + cudaGetErrorString(e));
  }
  return p;
}

// Called from destructors, so it must not throw. Errors are ignored on purpose: at interpreter shutdown the
// runtime may already be unloading (cudaErrorCudartUnloading), and a real fault (a sticky error from an
// earlier kernel) is reported by the next checked call anyway.
void release(void* p) {
  if (context().async_alloc)
    (void)cudaFreeAsync(p, stream());
  else
    (void)cudaFree(p);
}

// ---- copies ----
void copy_from_host(void* dst, const void* host_src, std::size_t bytes) {
  BNLAB_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream()));
  // From pageable memory (every host buffer bnlab makes) the call returns once the source has been staged,
  // so the caller may reuse it at once. From pinned memory the copy is truly asynchronous: wait for it, so
  // that this function has the same contract as the CPU's memmove whatever memory the caller passes.
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, host_src) != cudaSuccess)
    (void)cudaGetLastError();  // not a pointer CUDA knows: pageable; clear the error the query left behind
  else if (attr.type == cudaMemoryTypeHost)
    BNLAB_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_to_host(void* host_dst, const void* src, std::size_t bytes) {
  BNLAB_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
  BNLAB_CUDA_CHECK(cudaStreamSynchronize(stream()));  // the host reads the data next
}

// Shapes: kernel::Copy (backend/kernels.hpp).
void copy(void* dst, const void* src, std::size_t bytes) {
  BNLAB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}
namespace {
__global__ void fill_kernel(float* dst, float value, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    dst[i] = value;
}
}  // namespace

// Shapes: kernel::Fill (backend/kernels.hpp).
void fill(float* dst, float value, std::int64_t n) {
  if (n <= 0) return;
  fill_kernel<<<grid_1d(n), kThreads, 0, stream()>>>(dst, value, n);
  BNLAB_CUDA_CHECK_LAUNCH();
}

void synchronize() { BNLAB_CUDA_CHECK(cudaStreamSynchronize(stream())); }

// ---- scratch ----
namespace {
struct ScratchSet {
  void* ptr[kNumScratch] = {};
  std::size_t bytes[kNumScratch] = {};
  std::int64_t ones = 0;  // how many leading floats of the Ones slot hold 1.0f
  ~ScratchSet() {
    for (void* p : ptr)
      if (p) release(p);
  }
};
thread_local ScratchSet tls_scratch;
}  // namespace

void* scratch(Scratch slot, std::size_t bytes) {
  ScratchSet& s = tls_scratch;
  const int i = static_cast<int>(slot);
  if (s.bytes[i] < bytes) {
    // Grow geometrically so that a slowly growing request reallocates O(log) times. The old block is freed
    // in stream order: kernels enqueued earlier still read it safely.
    const std::size_t grown = bytes > 2 * s.bytes[i] ? bytes : 2 * s.bytes[i];
    void* fresh = alloc(grown);
    if (s.ptr[i]) release(s.ptr[i]);
    s.ptr[i] = fresh;
    s.bytes[i] = grown;
    if (slot == Scratch::Ones) s.ones = 0;
  }
  return s.ptr[i];
}

const float* ones(std::int64_t n) {
  auto* p = static_cast<float*>(scratch(Scratch::Ones, static_cast<std::size_t>(n) * sizeof(float)));
  ScratchSet& s = tls_scratch;
  if (s.ones < n) {
    const std::int64_t cap = static_cast<std::int64_t>(s.bytes[static_cast<int>(Scratch::Ones)] / sizeof(float));
    fill(p, 1.0f, cap);
    s.ones = cap;
  }
  return p;
}

// ---- gather_rows ----
namespace {
// out row r = src row idx[r]; rows are `words` elements of W. Columns across threads: coalesced.
template <typename W>
__global__ void gather_kernel(W* out,                   // (B, words)
                              const W* src,             // (n, words)
                              const std::int32_t* idx,  // (B) device
                              std::int64_t B, std::int64_t words) {
  const std::int64_t w = blockIdx.x * std::int64_t(kColTile) + threadIdx.x;
  if (w >= words) return;
  for (std::int64_t r = blockIdx.y * std::int64_t(kRowTile) + threadIdx.y; r < B;
       r += std::int64_t(gridDim.y) * kRowTile)
    out[r * words + w] = src[std::int64_t(idx[r]) * words + w];
}

template <typename W>
void launch_gather(void* out, const void* src, const std::int32_t* idx, std::int64_t B, std::int64_t row_bytes) {
  const std::int64_t words = row_bytes / static_cast<std::int64_t>(sizeof(W));
  gather_kernel<W><<<grid_2d(B, words), dim3(kColTile, kRowTile), 0, stream()>>>(
      static_cast<W*>(out), static_cast<const W*>(src), idx, B, words);
  BNLAB_CUDA_CHECK_LAUNCH();
}

bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }
}  // namespace

// The widest word that divides the row and both base addresses: 16-byte rows (every float row of a multiple
// of 4 features) move as uint4, one 128-bit load per thread.
// Shapes: kernel::GatherRows (backend/kernels.hpp).
void gather_rows(void* out, const void* src, const std::int32_t* idx, std::int64_t B, std::int64_t row_bytes) {
  if (B <= 0 || row_bytes <= 0) return;
  if (row_bytes % 16 == 0 && aligned(out, 16) && aligned(src, 16))
    launch_gather<uint4>(out, src, idx, B, row_bytes);
  else if (row_bytes % 4 == 0 && aligned(out, 4) && aligned(src, 4))
    launch_gather<unsigned>(out, src, idx, B, row_bytes);
  else
    launch_gather<unsigned char>(out, src, idx, B, row_bytes);
}

// ---- sum in double: per-block partial sums, then one block adds the partials (a fixed order: the result
// does not change from run to run). ----
namespace {
// Sum of v over the block (blockDim.x == kThreads); the result is valid in thread 0.
__device__ double block_sum(double v) {
  __shared__ double warp_totals[kThreads / 32];
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0) warp_totals[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x < kThreads / 32 ? warp_totals[threadIdx.x] : 0.0;
  if (threadIdx.x < 32) v = warp_sum(v);
  return v;
}

__global__ void sum_partials(double* part,    // (gridDim.x)
                             const float* x,  // (n)
                             std::int64_t n) {
  double acc = 0.0;
  for (std::int64_t i = blockIdx.x * std::int64_t(kThreads) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * kThreads)
    acc += x[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

__global__ void sum_final(double* result,      // (1)
                          const double* part,  // (G)
                          int G) {
  double acc = 0.0;
  for (int i = threadIdx.x; i < G; i += kThreads) acc += part[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) *result = acc;
}

// acc[0] += sum(a), acc[1] += sum(b): one block, a fixed order, no host wait. The training loop calls it once
// per batch with n = the batch size, so one block of 256 threads is plenty.
__global__ void accumulate_sums_kernel(double* acc,     // (2)
                                       const float* a,  // (n)
                                       const float* b,  // (n)
                                       std::int64_t n) {
  double sa = 0.0, sb = 0.0;
  for (std::int64_t i = threadIdx.x; i < n; i += kThreads) {
    sa += a[i];
    sb += b[i];
  }
  sa = block_sum(sa);
  __syncthreads();  // block_sum's shared totals are reused by the second reduction
  sb = block_sum(sb);
  if (threadIdx.x == 0) {
    acc[0] += sa;
    acc[1] += sb;
  }
}
}  // namespace

// Shapes: kernel::AccumulateSums (backend/kernels.hpp).
void accumulate_sums(double* acc, const float* a, const float* b, std::int64_t n) {
  if (n <= 0) return;
  accumulate_sums_kernel<<<1, kThreads, 0, stream()>>>(acc, a, b, n);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::Sum (backend/kernels.hpp).
double sum(const float* x, std::int64_t n) {
  if (n <= 0) return 0.0;
  const unsigned G = grid_1d(n);
  auto* part = static_cast<double*>(scratch(Scratch::Reduce, (G + 1) * sizeof(double)));
  sum_partials<<<G, kThreads, 0, stream()>>>(part, x, n);
  BNLAB_CUDA_CHECK_LAUNCH();
  sum_final<<<1, kThreads, 0, stream()>>>(part + G, part, static_cast<int>(G));
  BNLAB_CUDA_CHECK_LAUNCH();
  double result = 0.0;
  copy_to_host(&result, part + G, sizeof(double));  // waits for the stream
  return result;
}

}  // namespace bnlab::cuda
