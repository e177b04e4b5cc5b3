// narrow_gemm_cpu.hpp — the CPU backend's own GEMM (AVX-512 or AVX2 + FMA), for products whose output rows are at most
// a few hundred columns: a convolution's output channels, and the dense layers of networks the seeds' size.
//
// The channels-last convolution's products have one narrow side (conv_narrow_cpu.cpp):
//   forward  out (P, K)  = A (P, R) W (R, K)             narrow N = K, tall M = P, short inner R
//   dinput   dcols (P, R) = dout (P, K) W^T (K, R)        N = R (a few hundred), tall M = P, inner K
//   dweight  dW (R, K)   = A^T (R, P) dout (P, K)        narrow N = K, short M = R, long inner P
// and the dense layers' (dense_cpu.cpp) have at most 1152 output columns. OpenBLAS packs both operands into
// panels sized for large square products and, in Debian's build on this machine's AMD Zen 5, runs its Haswell
// (AVX2) kernel: about 210 GFLOP/s on 2 cores at 1024^3, against 330-390 for this kernel at the seeds' shapes.
// Here B is read in place (a chunk of kChunk rows of it stays in L1/L2 while the tiles use it), and the register
// tile MR x (NV * 16) is chosen for the width. On an AVX2 core (this build without AVX-512) the same
// tile in 8-wide vectors replaces OpenBLAS's packed path for the same reason. Without AVX2 + FMA either,
// narrow_gemm_available() is false and the callers keep cblas_sgemm.
//
// One kernel does all the products because A is read through two offset tables, a(i, p) = A[row_off[i] +
// col_off[p]]: a plain row-major A has row_off[i] = i * lda and col_off[p] = p, its transpose the other way
// round, and an implicit im2col reads a padded input directly: row_off = each output pixel's corner, col_off =
// each kernel tap's (kh, kw, c) displacement. The inner dimension is walked in fixed chunks, and every C element
// is summed by one thread in p order: the bits do not depend on the thread count.
#pragma once

#include <cstdint>

namespace bnlab::cpu {

// True when this build has the kernel (AVX-512 or AVX2 + FMA) and it is switched on (it is by default).
bool narrow_gemm_available();
// The widest product (columns of C) of plain row-major operands for which the kernel beats cblas_sgemm at any
// batch size (narrow_gemm_suits() widens it for short products), as cblas packs its operands: 1152 with AVX-512 (every
// dense layer of the seeds); 128 with AVX2, whose 16 registers hold a 6 x 16 tile only (measured on a 2-core AMD EPYC,
// AVX2 build, 4096 rows: N = 128 173 against 161 GFLOP/s, N = 256 153 against 162, N = 512 130 against 175). The
// convolutions' implicit products use the kernel at any width either way: it saves their im2col and col2im passes.
std::int64_t narrow_gemm_matrix_columns();
// Whether a plain row-major product C (M, N) = A (M, P) B (P, N) goes to the kernel: N <= narrow_gemm_matrix_columns(),
// or, with AVX2, N <= 512 when the batch side is short (M or P at most 32, a batch of 32 rows). OpenBLAS packs
// both operands whatever their size, and at 32 rows the packing dominates: measured on the 2-core AMD EPYC (AVX2
// build, 2 threads, GFLOP/s, kernel against cblas), C(32, 512) P 3072 119 / 104, C(3072, 512) P 32 100 / 45,
// C(512, 256) P 32 113 / 54; at 64 rows cblas wins again (C(64, 512) P 3072 126 / 156, C(3072, 512) P 64
// 110 / 137), and at N = 1024 too (C(32, 1024) P 1024 46 / 131: B's chunk no longer fits L2).
bool narrow_gemm_suits(std::int64_t M, std::int64_t N, std::int64_t P);
// Switches the kernel off (the convolutions then call cblas_sgemm) or back on; for tests and benchmarks that
// compare the two. Returns the previous setting.
bool set_narrow_gemm_enabled(bool on);

// The environment variable BNLAB_GEMM sets the initial value of that switch, once at load: "cblas" turns it off,
// unset / "" / "auto" leave it on. Throws std::invalid_argument naming the variable if it held anything else.
void check_gemm_env();

// C (M, N), row-major with leading dimension ldc, gets init + sum_p a(i, p) B[p, j], where a(i, p) =
// A[row_off[i] + col_off[p]] (row_off has M entries, col_off P), B is row-major (P, N) with leading dimension ldb, and
// init is C itself when `accumulate`, else the row vector bias (N) broadcast over the rows, or zero when bias is
// nullptr. Threads split the rows of C. Requires narrow_gemm_available().
void narrow_gemm(float* C, std::int64_t ldc, const float* A, const std::int32_t* row_off, const std::int32_t* col_off,
                 const float* B, std::int64_t ldb, std::int64_t M, std::int64_t N, std::int64_t P, const float* bias,
                 bool accumulate);

// The same for a plain row-major A (M, P) with leading dimension lda, or with trans_a its transpose: A is then
// (P, M) and a(i, p) = A[p * lda + i]. The offset tables are formed here.
void narrow_gemm_matrix(float* C, std::int64_t ldc, const float* A, std::int64_t lda, bool trans_a, const float* B,
                        std::int64_t ldb, std::int64_t M, std::int64_t N, std::int64_t P, const float* bias,
                        bool accumulate);

}  // namespace bnlab::cpu
