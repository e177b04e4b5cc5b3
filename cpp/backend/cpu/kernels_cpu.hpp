// kernels_cpu.hpp — declarations of the CPU kernels; cpu_backend.cpp puts them into the CPU Backend table.
// Signatures and buffer shapes are declared once, in backend/kernels.hpp.
#pragma once

#include "backend/backend.hpp"

namespace bnlab::cpu {

BNLAB_DECLARE_KERNELS

// Time and floating-point operations spent in the convolution's sgemm calls since the last reset (for the
// benchmarks: the convolutions' GEMM rate against the machine's sgemm rate).
struct GemmTally {
  double seconds = 0.0, flops = 0.0;
  std::int64_t calls = 0;
};
GemmTally& conv_gemm_tally();

}  // namespace bnlab::cpu
