// tensor_kernels_cuda.cu — the CUDA kernels of general tensor arithmetic (signatures in backend/kernels.hpp):
// broadcast binary ops, unary ops with a scalar, sums over axes, log-softmax, the negative log-likelihood and
// the eval-mode batch-norm backward, for bnlab.torch on the GPU. cuda_backend.cu puts them into the CUDA table.
//
// The CPU table (cpu/tensor_kernels_cpu.cpp) is the specification, and results follow it step by step:
// * Bit for bit: binary Add/Sub/Mul/Div/First, unary Neg/Abs/Sign/Sqrt and the scalar ops (DivScalar is a true
//   division, PowScalar 2 is x*x and 0.5 is sqrt x), nll forward and backward, batchnorm_backward_eval's dinp.
//   They are single IEEE operations written with the __f*_rn intrinsics, which nvcc never contracts into FMAs.
//   Floor, Ceil, Trunc and Round (half to even) are exact on both.
// * Within one float ulp: Exp, Log, the general PowScalar, the trigonometric and hyperbolic functions, Log2,
//   Log10, Log1p and Expm1 are computed in double and rounded once, which
//   is correctly rounded but for rare ties; the CPU calls expf/logf/powf (glibc: within about half an ulp).
// * Float32 rounding of double sums: sum_to, log-softmax's normaliser, batch norm's dgamma/dbeta add in double,
//   in another (fixed) order than the CPU's left-to-right loops.
// No atomics: every sum is taken in an order fixed by the sizes alone, so results repeat run after run.
#include <cmath>
#include <cstdint>

#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {
namespace {

constexpr std::int64_t kMax32 = 0xFFFFFFFFll;  // the largest element count indexed in 32 bits
constexpr int kWarpsPerBlock = kThreads / 32;

// Index of this thread's warp in the grid, and the number of warps in the grid (for warp-per-item loops).
__device__ inline std::int64_t global_warp() { return (blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x) / 32; }
__device__ inline std::int64_t grid_warps() { return std::int64_t(gridDim.x) * blockDim.x / 32; }

unsigned warp_grid(std::int64_t items) { return grid_1d(items * 32); }  // one warp per item, capped

// ---------------------------------------------------------------- binary
// The walk of tensor_ops.cpp, passed by value: the output shape and the element strides of a and b.
struct Walk {
  int ndim;
  std::int64_t shape[kMaxDims], sa[kMaxDims], sb[kMaxDims];
};

// Ops are template arguments as ints: nvcc's host stubs cannot spell an enum value (or a cast to an enum) there.
__host__ __device__ constexpr int code(BinaryOp op) { return static_cast<int>(op); }
__host__ __device__ constexpr int code(UnaryOp op) { return static_cast<int>(op); }

template <int op>
__device__ inline float apply(float x, float y) {
  if constexpr (op == code(BinaryOp::Add))
    return __fadd_rn(x, y);
  else if constexpr (op == code(BinaryOp::Sub))
    return __fsub_rn(x, y);
  else if constexpr (op == code(BinaryOp::Mul))
    return __fmul_rn(x, y);
  else if constexpr (op == code(BinaryOp::Div))
    return __fdiv_rn(x, y);
  else
    return x;  // First
}

// out[i] = a[ia] op b[ib]: i is split into the output's indices (row-major, the innermost dimension fastest) and
// ia, ib are their dot products with a's and b's strides. I is 32-bit when n fits (every offset is below n: an
// operand has at most as many elements as the broadcast output), as 64-bit division is slow on the GPU.
template <int op, typename I>
__global__ void binary_kernel(float* out,      // (n), contiguous
                              const float* a,  // strided by w.sa
                              const float* b,  // strided by w.sb
                              std::int64_t n, Walk w) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    I rest = static_cast<I>(i), ia = 0, ib = 0;
    for (int d = w.ndim - 1; d > 0; --d) {
      const I size = static_cast<I>(w.shape[d]);
      const I q = rest / size, idx = rest - q * size;
      ia += idx * static_cast<I>(w.sa[d]);
      ib += idx * static_cast<I>(w.sb[d]);
      rest = q;
    }
    ia += rest * static_cast<I>(w.sa[0]);  // ndim 0: rest is 0 and the strides are 0
    ib += rest * static_cast<I>(w.sb[0]);
    out[i] = apply<op>(a[ia], b[ib]);  // each thread reads before it writes: out may alias a contiguous a or b
  }
}

template <BinaryOp op>
void launch_binary(float* out, const float* a, const float* b, std::int64_t n, const Walk& w) {
  if (n <= kMax32)
    binary_kernel<code(op), std::uint32_t><<<grid_1d(n), kThreads, 0, stream()>>>(out, a, b, n, w);
  else
    binary_kernel<code(op), std::int64_t><<<grid_1d(n), kThreads, 0, stream()>>>(out, a, b, n, w);
  BNLAB_CUDA_CHECK_LAUNCH();
}

}  // namespace

// Shapes: kernel::Binary (backend/kernels.hpp).
void binary(float* out, const float* a, const float* b, int ndim, const std::int64_t* shape,
            const std::int64_t* a_strides, const std::int64_t* b_strides, BinaryOp op) {
  Walk w{};
  w.ndim = ndim;
  std::int64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    w.shape[d] = shape[d];
    w.sa[d] = a_strides[d];
    w.sb[d] = b_strides[d];
    n *= shape[d];
  }
  if (n <= 0) return;
  switch (op) {
    case BinaryOp::Add:
      return launch_binary<BinaryOp::Add>(out, a, b, n, w);
    case BinaryOp::Sub:
      return launch_binary<BinaryOp::Sub>(out, a, b, n, w);
    case BinaryOp::Mul:
      return launch_binary<BinaryOp::Mul>(out, a, b, n, w);
    case BinaryOp::Div:
      return launch_binary<BinaryOp::Div>(out, a, b, n, w);
    case BinaryOp::First:
      return launch_binary<BinaryOp::First>(out, a, b, n, w);
  }
}

namespace {

// ---------------------------------------------------------------- unary
constexpr int kSquare = 100;  // PowScalar with s == 2 (x*x, as the CPU and PyTorch)

// Rounded once from double: exp, log and pow of a float are exact in double but for the last bits.
__device__ inline float via_double_exp(float x) { return static_cast<float>(exp(static_cast<double>(x))); }

template <int op>
__device__ inline float unary_at(float x, float s) {
  if constexpr (op == code(UnaryOp::Neg))
    return -x;
  else if constexpr (op == code(UnaryOp::Exp))
    return via_double_exp(x);
  else if constexpr (op == code(UnaryOp::Log))
    return static_cast<float>(log(static_cast<double>(x)));
  else if constexpr (op == code(UnaryOp::Sqrt))
    return __fsqrt_rn(x);
  else if constexpr (op == code(UnaryOp::Abs))
    return fabsf(x);
  else if constexpr (op == code(UnaryOp::Sign))
    return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x;  // 0 and NaN pass through
  else if constexpr (op == code(UnaryOp::AddScalar))
    return __fadd_rn(x, s);
  else if constexpr (op == code(UnaryOp::MulScalar))
    return __fmul_rn(x, s);
  else if constexpr (op == code(UnaryOp::DivScalar))
    return __fdiv_rn(x, s);  // not x * (1/s)
  else if constexpr (op == code(UnaryOp::RSubScalar))
    return __fsub_rn(s, x);
  else if constexpr (op == code(UnaryOp::RDivScalar))
    return __fdiv_rn(s, x);
  else if constexpr (op == kSquare)
    return __fmul_rn(x, x);
  else if constexpr (op == code(UnaryOp::Sin))
    return static_cast<float>(sin(static_cast<double>(x)));
  else if constexpr (op == code(UnaryOp::Cos))
    return static_cast<float>(cos(static_cast<double>(x)));
  else if constexpr (op == code(UnaryOp::Tan))
    return static_cast<float>(tan(static_cast<double>(x)));
  else if constexpr (op == code(UnaryOp::Sinh))
    return static_cast<float>(sinh(static_cast<double>(x)));
  else if constexpr (op == code(UnaryOp::Cosh))
    return static_cast<float>(cosh(static_cast<double>(x)));
  else if constexpr (op == code(UnaryOp::Log2))
    return static_cast<float>(log2(static_cast<double>(x)));
  else if constexpr (op == code(UnaryOp::Log10))
    return static_cast<float>(log10(static_cast<double>(x)));
  else if constexpr (op == code(UnaryOp::Log1p))
    return static_cast<float>(log1p(static_cast<double>(x)));
  else if constexpr (op == code(UnaryOp::Expm1))
    return static_cast<float>(expm1(static_cast<double>(x)));
  else if constexpr (op == code(UnaryOp::Floor))
    return floorf(x);
  else if constexpr (op == code(UnaryOp::Ceil))
    return ceilf(x);
  else if constexpr (op == code(UnaryOp::Trunc))
    return truncf(x);
  else if constexpr (op == code(UnaryOp::Round))
    return rintf(x);  // half to even in the default rounding mode
  else
    return static_cast<float>(pow(static_cast<double>(x), static_cast<double>(s)));  // PowScalar
}

template <int op>
__global__ void unary_kernel(float* out,      // (n)
                             const float* a,  // (n), may alias out
                             std::int64_t n, float s) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[i] = unary_at<op>(a[i], s);
}

template <int op>
void launch_unary(float* out, const float* a, std::int64_t n, float s) {
  unary_kernel<op><<<grid_1d(n), kThreads, 0, stream()>>>(out, a, n, s);
  BNLAB_CUDA_CHECK_LAUNCH();
}

}  // namespace

// Shapes: kernel::Unary (backend/kernels.hpp).
void unary(float* out, const float* a, std::int64_t n, UnaryOp op, float s) {
  if (n <= 0) return;
  switch (op) {
    case UnaryOp::Neg:
      return launch_unary<code(UnaryOp::Neg)>(out, a, n, s);
    case UnaryOp::Exp:
      return launch_unary<code(UnaryOp::Exp)>(out, a, n, s);
    case UnaryOp::Log:
      return launch_unary<code(UnaryOp::Log)>(out, a, n, s);
    case UnaryOp::Sqrt:
      return launch_unary<code(UnaryOp::Sqrt)>(out, a, n, s);
    case UnaryOp::Abs:
      return launch_unary<code(UnaryOp::Abs)>(out, a, n, s);
    case UnaryOp::Sign:
      return launch_unary<code(UnaryOp::Sign)>(out, a, n, s);
    case UnaryOp::AddScalar:
      return launch_unary<code(UnaryOp::AddScalar)>(out, a, n, s);
    case UnaryOp::MulScalar:
      return launch_unary<code(UnaryOp::MulScalar)>(out, a, n, s);
    case UnaryOp::DivScalar:
      return launch_unary<code(UnaryOp::DivScalar)>(out, a, n, s);
    case UnaryOp::RSubScalar:
      return launch_unary<code(UnaryOp::RSubScalar)>(out, a, n, s);
    case UnaryOp::RDivScalar:
      return launch_unary<code(UnaryOp::RDivScalar)>(out, a, n, s);
    case UnaryOp::PowScalar:
      if (s == 2.0f) return launch_unary<kSquare>(out, a, n, s);
      if (s == 0.5f) return launch_unary<code(UnaryOp::Sqrt)>(out, a, n, s);
      return launch_unary<code(UnaryOp::PowScalar)>(out, a, n, s);
    case UnaryOp::Sin:
      return launch_unary<code(UnaryOp::Sin)>(out, a, n, s);
    case UnaryOp::Cos:
      return launch_unary<code(UnaryOp::Cos)>(out, a, n, s);
    case UnaryOp::Tan:
      return launch_unary<code(UnaryOp::Tan)>(out, a, n, s);
    case UnaryOp::Sinh:
      return launch_unary<code(UnaryOp::Sinh)>(out, a, n, s);
    case UnaryOp::Cosh:
      return launch_unary<code(UnaryOp::Cosh)>(out, a, n, s);
    case UnaryOp::Log2:
      return launch_unary<code(UnaryOp::Log2)>(out, a, n, s);
    case UnaryOp::Log10:
      return launch_unary<code(UnaryOp::Log10)>(out, a, n, s);
    case UnaryOp::Log1p:
      return launch_unary<code(UnaryOp::Log1p)>(out, a, n, s);
    case UnaryOp::Expm1:
      return launch_unary<code(UnaryOp::Expm1)>(out, a, n, s);
    case UnaryOp::Floor:
      return launch_unary<code(UnaryOp::Floor)>(out, a, n, s);
    case UnaryOp::Ceil:
      return launch_unary<code(UnaryOp::Ceil)>(out, a, n, s);
    case UnaryOp::Trunc:
      return launch_unary<code(UnaryOp::Trunc)>(out, a, n, s);
    case UnaryOp::Round:
      return launch_unary<code(UnaryOp::Round)>(out, a, n, s);
  }
}

namespace {

// ---------------------------------------------------------------- sum_to
// a (contiguous) splits into KEPT dimensions (out_strides != 0) and REDUCED ones (out_strides == 0). Output o
// (row-major over the kept dimensions) is the sum over the R reduced positions r of a[off_k(o) + off_r(r)].
// Each output's R values are cut into S chunks of `chunk` consecutive r; a task (o, s) sums one chunk in double.
// With S == 1 the task writes out[o]; otherwise it writes part[s * m + o] and sum_finalize adds the S partials
// of each output in order s = 0, 1, ... S depends on m and R only, so the order of additions is fixed.
//
// Two layouts of the work, so that neighbouring threads read neighbouring floats:
// * the innermost dimension is kept (x.sum(0), a bias gradient): one THREAD per task, consecutive threads take
//   consecutive o; each thread walks its chunk of r in order;
// * the innermost dimension is reduced (a full sum, x.sum(-1)): one WARP per task, the 32 lanes take
//   consecutive r and their totals are added by warp_sum's fixed butterfly.
struct SumGeom {
  int nk, nr;                                                 // kept and reduced dimensions
  std::int64_t kshape[kMaxDims], ka[kMaxDims], ko[kMaxDims];  // kept: sizes, strides in a, strides in out
  std::int64_t rshape[kMaxDims], ra[kMaxDims];                // reduced: sizes, strides in a
  std::int64_t m, R, S, chunk;                                // outputs, values per output, chunks, chunk size
};

// Offsets in a and in out of output o.
__device__ inline void kept_offsets(const SumGeom& g, std::int64_t o, std::int64_t& oa, std::int64_t& oo) {
  oa = oo = 0;
  for (int k = g.nk - 1; k >= 0; --k) {
    const std::int64_t q = o / g.kshape[k], idx = o - q * g.kshape[k];
    oa += idx * g.ka[k];
    oo += idx * g.ko[k];
    o = q;
  }
}

// Offset in a of reduced position r.
__device__ inline std::int64_t reduced_offset(const SumGeom& g, std::int64_t r) {
  if (g.nr == 1) return r * g.ra[0];
  std::int64_t off = 0;
  for (int k = g.nr - 1; k >= 0; --k) {
    const std::int64_t q = r / g.rshape[k];
    off += (r - q * g.rshape[k]) * g.ra[k];
    r = q;
  }
  return off;
}

__global__ void sum_by_threads(float* out,      // (m) at the out strides; written when S == 1
                               double* part,    // (S, m); written when S > 1
                               const float* a,  // contiguous
                               SumGeom g) {
  const std::int64_t tasks = g.m * g.S;
  for (std::int64_t t = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; t < tasks;
       t += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t o = t % g.m, s = t / g.m;
    std::int64_t oa, oo;
    kept_offsets(g, o, oa, oo);
    const std::int64_t r0 = s * g.chunk, r1 = r0 + g.chunk < g.R ? r0 + g.chunk : g.R;
    double acc = 0.0;
    for (std::int64_t r = r0; r < r1; ++r) acc += a[oa + reduced_offset(g, r)];
    if (g.S == 1)
      out[oo] = static_cast<float>(acc);
    else
      part[s * g.m + o] = acc;
  }
}

__global__ void sum_by_warps(float* out,      // (m) at the out strides; written when S == 1
                             double* part,    // (S, m); written when S > 1
                             const float* a,  // contiguous
                             SumGeom g) {
  const int lane = threadIdx.x % 32;
  const std::int64_t tasks = g.m * g.S;
  for (std::int64_t t = global_warp(); t < tasks; t += grid_warps()) {  // t is the same in the whole warp
    const std::int64_t o = t % g.m, s = t / g.m;
    std::int64_t oa, oo;
    kept_offsets(g, o, oa, oo);
    const std::int64_t r0 = s * g.chunk, r1 = r0 + g.chunk < g.R ? r0 + g.chunk : g.R;
    double acc = 0.0;
    for (std::int64_t r = r0 + lane; r < r1; r += 32) acc += a[oa + reduced_offset(g, r)];
    acc = warp_sum(acc);
    if (lane != 0) continue;
    if (g.S == 1)
      out[oo] = static_cast<float>(acc);
    else
      part[s * g.m + o] = acc;
  }
}

__global__ void sum_finalize(float* out,          // (m) at the out strides
                             const double* part,  // (S, m)
                             SumGeom g) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < g.m;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    double acc = 0.0;
    for (std::int64_t s = 0; s < g.S; ++s) acc += part[s * g.m + o];
    std::int64_t oa, oo;
    kept_offsets(g, o, oa, oo);
    out[oo] = static_cast<float>(acc);
  }
}

// This file's grow-only device scratch for the partial sums, one per host thread (all threads enqueue on the
// one stream, so a buffer is reused only after the kernels that read it have run; a freed block likewise).
double* partials(std::int64_t count) {
  struct Buffer {
    void* ptr = nullptr;
    std::size_t bytes = 0;
    ~Buffer() {
      if (ptr) release(ptr);
    }
  };
  thread_local Buffer buf;
  const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(double);
  if (buf.bytes < bytes) {
    const std::size_t grown = bytes > 2 * buf.bytes ? bytes : 2 * buf.bytes;
    void* fresh = alloc(grown);
    if (buf.ptr) release(buf.ptr);
    buf.ptr = fresh;
    buf.bytes = grown;
  }
  return static_cast<double*>(buf.ptr);
}

}  // namespace

// Shapes: kernel::SumTo (backend/kernels.hpp).
void sum_to(float* out, std::int64_t m, const float* a, int ndim, const std::int64_t* shape,
            const std::int64_t* out_strides) {
  if (m <= 0) return;
  SumGeom g{};
  std::int64_t stride = 1, sa[kMaxDims] = {};
  for (int d = ndim - 1; d >= 0; --d) {  // a is contiguous: its strides from the innermost dimension outwards
    sa[d] = stride;
    stride *= shape[d];
  }
  g.R = 1;
  for (int d = 0; d < ndim; ++d) {
    if (out_strides[d] != 0) {
      g.kshape[g.nk] = shape[d];
      g.ka[g.nk] = sa[d];
      g.ko[g.nk++] = out_strides[d];
    } else {
      g.rshape[g.nr] = shape[d];
      g.ra[g.nr++] = sa[d];
      g.R *= shape[d];
    }
  }
  g.m = m;
  const bool by_threads = ndim > 0 && out_strides[ndim - 1] != 0;
  // At least 256 values per thread task or 2048 per warp task, at most 1024 chunks, at most 2^20 tasks.
  const std::int64_t per_task = by_threads ? 256 : 2048;
  std::int64_t S = (g.R + per_task - 1) / per_task;
  if (S > 1024) S = 1024;
  if (S > (std::int64_t{1} << 20) / m) S = (std::int64_t{1} << 20) / m;
  g.S = S < 1 ? 1 : S;
  g.chunk = (g.R + g.S - 1) / g.S;
  double* part = g.S > 1 ? partials(g.m * g.S) : nullptr;
  if (by_threads)
    sum_by_threads<<<grid_1d(g.m * g.S), kThreads, 0, stream()>>>(out, part, a, g);
  else
    sum_by_warps<<<warp_grid(g.m * g.S), kThreads, 0, stream()>>>(out, part, a, g);
  BNLAB_CUDA_CHECK_LAUNCH();
  if (g.S > 1) {
    sum_finalize<<<grid_1d(g.m), kThreads, 0, stream()>>>(out, part, g);
    BNLAB_CUDA_CHECK_LAUNCH();
  }
}

namespace {

// ---------------------------------------------------------------- log-softmax, one warp per row
// Forward: y = x - m - lse with m = max(x) and lse = log(sum(exp(x - m))), the sum in double (as the CPU).
// A NaN anywhere in a row makes the whole row NaN on both devices (the CPU's max may or may not be the NaN;
// the sum of exponentials is NaN either way).
__global__ void log_softmax_forward_kernel(float* out,        // (rows, D)
                                           const float* inp,  // (rows, D)
                                           std::int64_t rows, std::int64_t D) {
  const int lane = threadIdx.x % 32;
  for (std::int64_t r = global_warp(); r < rows; r += grid_warps()) {  // whole warps take a row
    const float* x = inp + r * D;
    float* y = out + r * D;
    float m = -INFINITY;
    for (std::int64_t j = lane; j < D; j += 32) m = fmaxf(m, x[j]);
    m = warp_max(m);
    double se = 0.0;
    for (std::int64_t j = lane; j < D; j += 32) se += exp(static_cast<double>(__fsub_rn(x[j], m)));
    const float lse = static_cast<float>(log(warp_sum(se)));
    for (std::int64_t j = lane; j < D; j += 32) y[j] = __fsub_rn(__fsub_rn(x[j], m), lse);
  }
}

// Backward from the forward output y: dx = dy - exp(y) * sum(dy), sum(dy) in double and rounded to float first.
__global__ void log_softmax_backward_kernel(float* dinp,        // (rows, D)
                                            const float* dout,  // (rows, D)
                                            const float* out,   // (rows, D) forward output
                                            std::int64_t rows, std::int64_t D) {
  const int lane = threadIdx.x % 32;
  for (std::int64_t r = global_warp(); r < rows; r += grid_warps()) {
    const float* dy = dout + r * D;
    const float* y = out + r * D;
    double s = 0.0;
    for (std::int64_t j = lane; j < D; j += 32) s += dy[j];
    const float sf = static_cast<float>(warp_sum(s));
    for (std::int64_t j = lane; j < D; j += 32) dinp[r * D + j] = __fsub_rn(dy[j], __fmul_rn(via_double_exp(y[j]), sf));
  }
}

}  // namespace

// Shapes: kernel::LogSoftmaxForward (backend/kernels.hpp).
void log_softmax_forward(float* out, const float* inp, std::int64_t rows, std::int64_t D) {
  if (rows <= 0 || D <= 0) return;
  log_softmax_forward_kernel<<<warp_grid(rows), kThreads, 0, stream()>>>(out, inp, rows, D);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::LogSoftmaxBackward (backend/kernels.hpp).
void log_softmax_backward(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D) {
  if (rows <= 0 || D <= 0) return;
  log_softmax_backward_kernel<<<warp_grid(rows), kThreads, 0, stream()>>>(dinp, dout, out, rows, D);
  BNLAB_CUDA_CHECK_LAUNCH();
}

namespace {

// ---------------------------------------------------------------- negative log-likelihood
// Targets of CUDA tensors are not range-checked by ops (that would need a copy to the host; bnlab.torch checks
// its host labels before the call). A target outside [0, K) that is not ignore_index gives a NaN loss and
// weight row and a zero gradient row here, instead of reading out of bounds.
__global__ void nll_forward_kernel(float* loss_rows,            // (B)
                                   float* weight_rows,          // (B)
                                   const float* logp,           // (B, K)
                                   const std::int32_t* target,  // (B)
                                   const float* weight,         // (K) or nullptr
                                   std::int64_t B, std::int64_t K, std::int64_t ignore_index) {
  for (std::int64_t r = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; r < B;
       r += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int32_t t = target[r];
    if (t == ignore_index) {
      loss_rows[r] = weight_rows[r] = 0.0f;
    } else if (t < 0 || t >= K) {
      loss_rows[r] = weight_rows[r] = NAN;
    } else {
      const float w = weight ? weight[t] : 1.0f;
      weight_rows[r] = w;
      loss_rows[r] = __fmul_rn(-w, logp[r * K + t]);
    }
  }
}

// dlogp[r, j] = -w[t_r] * scale * drows[r] where j == t_r, else 0: every element written once, 32 columns
// across a warp (coalesced), rows strided over the grid.
__global__ void nll_backward_kernel(float* dlogp,                // (B, K)
                                    const float* drows,          // (B) or nullptr (ones)
                                    float scale,                 //
                                    const std::int32_t* target,  // (B)
                                    const float* weight,         // (K) or nullptr
                                    std::int64_t B, std::int64_t K, std::int64_t ignore_index) {
  const std::int64_t j = blockIdx.x * std::int64_t(kColTile) + threadIdx.x;
  if (j >= K) return;
  for (std::int64_t r = blockIdx.y * std::int64_t(kRowTile) + threadIdx.y; r < B;
       r += std::int64_t(gridDim.y) * kRowTile) {
    const std::int32_t t = target[r];
    float v = 0.0f;
    if (t == j && t != ignore_index) {  // an out-of-range t matches no column
      const float w = weight ? weight[t] : 1.0f;
      v = __fmul_rn(__fmul_rn(-w, scale), drows ? drows[r] : 1.0f);  // the CPU's (-w * scale) * drows[r]
    }
    dlogp[r * K + j] = v;
  }
}

}  // namespace

// Shapes: kernel::NllForward (backend/kernels.hpp).
void nll_forward(float* loss_rows, float* weight_rows, const float* logp, const std::int32_t* target,
                 const float* weight, std::int64_t B, std::int64_t K, std::int64_t ignore_index) {
  if (B <= 0) return;
  nll_forward_kernel<<<grid_1d(B), kThreads, 0, stream()>>>(loss_rows, weight_rows, logp, target, weight, B, K,
                                                            ignore_index);
  BNLAB_CUDA_CHECK_LAUNCH();
}

// Shapes: kernel::NllBackward (backend/kernels.hpp).
void nll_backward(float* dlogp, const float* drows, float scale, const std::int32_t* target, const float* weight,
                  std::int64_t B, std::int64_t K, std::int64_t ignore_index) {
  if (B <= 0 || K <= 0) return;
  nll_backward_kernel<<<grid_2d(B, K), dim3(kColTile, kRowTile), 0, stream()>>>(dlogp, drows, scale, target, weight, B,
                                                                                K, ignore_index);
  BNLAB_CUDA_CHECK_LAUNCH();
}

namespace {

// ---------------------------------------------------------------- batch norm backward, eval mode
// With the running statistics as constants, y = gamma * (x - mean) * rstd + beta, rstd = 1/sqrt(var + eps):
//   dx = dy * k with k = gamma * rstd;   dgamma += sum(dy * (x - mean) * rstd);   dbeta += sum(dy).
// One block per channel c (grid-strided over channels) visits the N*L values of c once: it writes dx and sums
// both totals in double (per thread, then warp_sum, then the block's warps in order). rstd and k are formed
// exactly as the CPU forms them, so dx is equal bit for bit.
// Shapes: kernel::BatchnormBackwardEval (backend/kernels.hpp).
__global__ void batchnorm_backward_eval_kernel(float* dinp, float* dgamma, float* dbeta, const float* dout,
                                               const float* inp, const float* mean, const float* var,
                                               const float* gamma, std::int64_t N, std::int64_t C, std::int64_t L,
                                               float eps) {
  __shared__ double warp_dy[kWarpsPerBlock], warp_dyx[kWarpsPerBlock];
  const std::int64_t M = N * L;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (std::int64_t c = blockIdx.x; c < C; c += gridDim.x) {  // c is the same in the whole block
    const float rstd = static_cast<float>(1.0 / sqrt(static_cast<double>(var[c]) + eps));
    const float k = __fmul_rn(gamma ? gamma[c] : 1.0f, rstd), mu = mean[c];
    double sdy = 0.0, sdyx = 0.0;
    for (std::int64_t e = threadIdx.x; e < M; e += blockDim.x) {
      const std::int64_t n = e / L, i = (n * C + c) * L + (e - n * L);
      const float dy = dout[i];
      dinp[i] = __fmul_rn(dy, k);
      sdy += dy;
      sdyx += static_cast<double>(dy) * __fmul_rn(__fsub_rn(inp[i], mu), rstd);
    }
    sdy = warp_sum(sdy);
    sdyx = warp_sum(sdyx);
    if (lane == 0) {
      warp_dy[warp] = sdy;
      warp_dyx[warp] = sdyx;
    }
    __syncthreads();
    if (warp == 0) {
      sdy = lane < kWarpsPerBlock ? warp_dy[lane] : 0.0;
      sdyx = lane < kWarpsPerBlock ? warp_dyx[lane] : 0.0;
      sdy = warp_sum(sdy);
      sdyx = warp_sum(sdyx);
      if (lane == 0) {
        if (dgamma) dgamma[c] += static_cast<float>(sdyx);
        if (dbeta) dbeta[c] += static_cast<float>(sdy);
      }
    }
    __syncthreads();  // the next channel rewrites the warp totals
  }
}

}  // namespace

// Shapes: kernel::BatchnormBackwardEval (backend/kernels.hpp).
void batchnorm_backward_eval(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* inp,
                             const float* mean, const float* var, const float* gamma, std::int64_t N, std::int64_t C,
                             std::int64_t L, float eps) {
  if (C <= 0 || N * L <= 0) return;  // empty sums: dgamma and dbeta gain 0, dinp is empty
  const std::int64_t cap = static_cast<std::int64_t>(context().sm_count) * 8;
  const unsigned blocks = static_cast<unsigned>(C < cap ? C : cap);
  batchnorm_backward_eval_kernel<<<blocks, kThreads, 0, stream()>>>(dinp, dgamma, dbeta, dout, inp, mean, var, gamma, N,
                                                                    C, L, eps);
  BNLAB_CUDA_CHECK_LAUNCH();
}

}  // namespace bnlab::cuda
