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
#include <cblas.h>

#include <algorithm>

#include "backend/cpu/kernels_cpu.hpp"
#include "backend/cpu/threads.hpp"
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
}  // namespace

void dense_forward(float* out,           // (B, OUT)
                   const float* inp,     // (B, IN)
                   const float* weight,  // (IN, OUT) or (OUT, IN)
                   const float* bias,    // (OUT) or nullptr
                   std::int64_t B, std::int64_t IN, std::int64_t OUT, bool weight_out_in) {
  if (B == 0) return;
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

void dense_backward(float* dinp,          // (B, IN) or nullptr
                    float* dweight,       // (IN, OUT) or (OUT, IN), accumulates or assigns
                    float* dbias,         // (OUT) or nullptr, accumulates or assigns
                    const float* dout,    // (B, OUT)
                    const float* inp,     // (B, IN)
                    const float* weight,  // (IN, OUT) or (OUT, IN)
                    std::int64_t B, std::int64_t IN, std::int64_t OUT, bool weight_out_in, bool accumulate) {
  if (!accumulate && dbias) std::fill(dbias, dbias + OUT, 0.0f);
  if (B == 0) {  // sgemm with beta = 0 assigns dweight below; only an empty batch must zero it here
    if (!accumulate) std::fill(dweight, dweight + IN * OUT, 0.0f);
    return;
  }
  const float keep = accumulate ? 1.0f : 0.0f;
  const int b = static_cast<int>(B), in = static_cast<int>(IN), o = static_cast<int>(OUT);
  if (dinp) {
    if (weight_out_in)
      gemm("gemm.dinput", false, false, b, in, o, dout, o, weight, in, 0.0f, dinp, in);
    else
      gemm("gemm.dinput", false, true, b, in, o, dout, o, weight, o, 0.0f, dinp, in);
  }
  if (weight_out_in)
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
