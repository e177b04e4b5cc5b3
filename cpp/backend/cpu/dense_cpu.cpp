// dense_cpu.cpp — the dense (fully connected) op on the CPU: cblas_sgemm on caller-owned buffers.
//
// Forward  out = inp @ W + b.       With W (IN, OUT): C(B,OUT) = A(B,IN) B(IN,OUT).
// Backward dinp = dout @ W^T,        dW += inp^T @ dout  (W as (IN, OUT)),  db += sum_rows(dout).
// PyTorch stores W as (OUT, IN); the same products with the transposition flags swapped.
//
// Threads: a GEMM of at most kSerialGemmMacs multiply-adds runs on one thread. OpenBLAS splits every GEMM above
// 2^18 MACs over its threads; below ~2^22 (about 50 us on one core here) the split cannot save more than the
// fork/join costs, and on a loaded machine waiting for the second thread costs milliseconds: in
// benchmarks/bench_gemm_threads.py the best of 80 calls on 2 threads was at most 1.11x faster than on one
// for these sizes, and up to 2x slower (784x128x32 TN: 70 us on 1 thread, 140 us on 2). The choice depends only
// on the shape and the thread count, so results stay deterministic for a given thread count.
//
// Narrow products: a product whose shape narrow_gemm_suits() (at most 1152 output columns with AVX-512; 128, or 512
// for a short batch side, with AVX2)
// goes to the backend's own GEMM (AVX-512 or AVX2) (narrow_gemm_cpu.hpp) instead, which starts the forward from the
// bias (no bias pass). B must be row-major (P, N) as stored: where the layout has it transposed (the Keras dinput's
// W^T, the PyTorch forward's W^T) it is copied once per step into a grow-only buffer, and only when it has at most 2^18
// floats (beyond, the copy costs about what the faster product saves).
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "backend/cpu/kernels_cpu.hpp"
#include "backend/cpu/narrow_gemm_cpu.hpp"
#include "backend/cpu/scratch.hpp"
#include "backend/cpu/threads.hpp"
#include "backend/cpu/transpose_cpu.hpp"
#include "core/profile.hpp"

namespace bnlab::cpu {
namespace {
constexpr double kSerialGemmMacs = 4194304.0;  // 2^22

// Row-major C(m, n) = op(A) op(B) + beta C with op(A) (m, k): cblas_sgemm, timed under `phase` when profiling.
void gemm(const char* phase, bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
          float beta, float* c, int ldc) {
  const SerialBlas one_thread(static_cast<double>(m) * n * k <= kSerialGemmMacs);
  const profile::Scope timer({phase, m, n, k, ta ? 'T' : 'N', tb ? 'T' : 'N', 0, 0.0, 2.0 * m * n * k});
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b,
              ldb, beta, c, ldc);
}
constexpr std::int64_t kCopiedB = 1 << 18;  // the most floats of B copied per step to lay it out row-major

// Whether C (M, N) with an inner dimension P goes to the narrow GEMM; `copied`: B must be transposed first.
bool narrow_fits(std::int64_t M, std::int64_t N, std::int64_t P, bool copied) {
  return narrow_gemm_available() && narrow_gemm_suits(M, N, P) && (!copied || N * P <= kCopiedB);
}

// C (M, N) = init + op(A) B through the narrow GEMM, timed under `phase` like gemm(); the profile shows the
// transposition flags of the product as the layout states it (tb: B is a transposed weight), as for sgemm.
void narrow(const char* phase, bool ta, bool tb, std::int64_t M, std::int64_t N, std::int64_t P, const float* a,
            std::int64_t lda, const float* b, float* c, const float* bias, bool accumulate) {
  const profile::Scope timer({phase, M, N, P, ta ? 'T' : 'N', tb ? 'T' : 'N', 0, 0.0, 2.0 * M * N * P});
  narrow_gemm_matrix(c, N, a, lda, ta, b, N, M, N, P, bias, accumulate);
}

// w (R, S) row-major, transposed into a grow-only buffer: (S, R) (transpose_cpu.hpp).
const float* transposed(const float* w, std::int64_t R, std::int64_t S) {
  float* t = thread_scratch<float, struct TransposedWeight>(R * S);
  transpose_matrix(t, R, w, S, R, S);
  return t;
}
// The profiled phase of a weight transposition (it is part of the product it serves, but shows on its own).
const float* transposed_timed(const float* w, std::int64_t R, std::int64_t S) {
  const profile::Scope timer({"dense.transpose", R, S, 0, '-', '-', 0, 0.0, 0.0, 8.0 * R * S});
  return transposed(w, R, S);
}
}  // namespace

// Shapes: kernel::DenseForward (backend/kernels.hpp).
void dense_forward(float* out, const float* inp, const float* weight, const float* bias, std::int64_t B,
                   std::int64_t IN, std::int64_t OUT, bool weight_out_in) {
  if (B == 0) return;
  if (narrow_fits(B, OUT, IN, weight_out_in)) {  // out (B, OUT) = bias + inp (B, IN) W (IN, OUT)
    const float* w = weight_out_in ? transposed_timed(weight, OUT, IN) : weight;
    narrow("gemm.forward", false, weight_out_in, B, OUT, IN, inp, IN, w, out, bias, false);
    return;
  }
  float beta = 0.0f;
  if (bias) {  // start C from the broadcast bias so that sgemm adds the product to it (beta = 1)
    const profile::Scope timer({"dense.bias", B, OUT, 0, '-', '-', 0, 0.0, 0.0, 8.0 * B * OUT});
    for (std::int64_t b = 0; b < B; ++b) std::copy(bias, bias + OUT, out + b * OUT);
    beta = 1.0f;
  }
  const int b = static_cast<int>(B), in = static_cast<int>(IN), o = static_cast<int>(OUT);
  if (weight_out_in)
    gemm("gemm.forward", false, true, b, o, in, inp, in, weight, in, beta, out, o);
  else
    gemm("gemm.forward", false, false, b, o, in, inp, in, weight, o, beta, out, o);
}

// Shapes: kernel::DenseBackward (backend/kernels.hpp).
void dense_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                    std::int64_t B, std::int64_t IN, std::int64_t OUT, bool weight_out_in, bool accumulate) {
  if (!accumulate && dbias) std::fill(dbias, dbias + OUT, 0.0f);
  if (B == 0) {  // sgemm with beta = 0 assigns dweight below; only an empty batch must zero it here
    if (!accumulate) std::fill(dweight, dweight + IN * OUT, 0.0f);
    return;
  }
  const float keep = accumulate ? 1.0f : 0.0f;
  const int b = static_cast<int>(B), in = static_cast<int>(IN), o = static_cast<int>(OUT);
  if (dinp && narrow_fits(B, IN, OUT, !weight_out_in)) {  // dinp (B, IN) = dout (B, OUT) W^T (OUT, IN)
    const float* wt = weight_out_in ? weight : transposed_timed(weight, IN, OUT);
    narrow("gemm.dinput", false, !weight_out_in, B, IN, OUT, dout, OUT, wt, dinp, nullptr, false);
  } else if (dinp) {
    if (weight_out_in)
      gemm("gemm.dinput", false, false, b, in, o, dout, o, weight, in, 0.0f, dinp, in);
    else
      gemm("gemm.dinput", false, true, b, in, o, dout, o, weight, o, 0.0f, dinp, in);
  }
  if (weight_out_in && narrow_fits(OUT, IN, B, false))  // dW (OUT, IN) (+)= dout^T (OUT, B) inp (B, IN)
    narrow("gemm.dweight", true, false, OUT, IN, B, dout, OUT, inp, dweight, nullptr, accumulate);
  else if (!weight_out_in && narrow_fits(IN, OUT, B, false))  // dW (IN, OUT) (+)= inp^T (IN, B) dout (B, OUT)
    narrow("gemm.dweight", true, false, IN, OUT, B, inp, IN, dout, dweight, nullptr, accumulate);
  else if (weight_out_in)
    gemm("gemm.dweight", true, false, o, in, b, dout, o, inp, in, keep, dweight, in);
  else
    gemm("gemm.dweight", true, false, in, o, b, inp, in, dout, o, keep, dweight, o);
  if (dbias) {
    const profile::Scope timer({"dense.dbias", B, OUT, 0, '-', '-', 0, 0.0, 0.0, 4.0 * B * OUT});
    for (std::int64_t r = 0; r < B; ++r) {
      const float* row = dout + r * OUT;
      for (std::int64_t j = 0; j < OUT; ++j) dbias[j] += row[j];
    }
  }
}

}  // namespace bnlab::cpu
