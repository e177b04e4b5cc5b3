// cpu_settings.hpp — the CPU backend's engine-wide settings and counters, as the Python API exposes them:
// the thread count, the GEMM path (the engine's narrow GEMM, AVX-512 or AVX2, or cblas_sgemm) and the convolutions'
// GEMM tally. The bindings reach backend/cpu only through here, so the layers' arrows keep pointing down.
#pragma once

#include <cstdint>

namespace bnlab::ops {

void set_num_threads(int n);  // threads of OpenBLAS, which the engine's worker pool reads too (n < 1: 1)
int get_num_threads();

// Applies BNLAB_GEMM ("cblas" turns the narrow GEMM off); throws std::invalid_argument naming the variable
// when it holds anything else.
void check_gemm_env();
bool narrow_gemm_available();   // false without AVX-512 or AVX2+FMA: cblas_sgemm everywhere
bool set_narrow_gemm(bool on);  // returns the previous setting
// the widest dense product that takes the narrow GEMM (1152 AVX-512, 128 AVX2, 0 without it)
std::int64_t narrow_gemm_matrix_columns();
struct GemmTally {  // the convolutions' products since the last reset
  double seconds = 0.0, flops = 0.0;
  std::int64_t calls = 0;
};
GemmTally conv_gemm_tally();
void reset_conv_gemm_tally();

}  // namespace bnlab::ops
