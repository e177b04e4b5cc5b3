// transpose_cpu.hpp — the CPU backend's out-of-place matrix transpose, shared by the dense layers (a PyTorch
// weight (OUT, IN) read as (IN, OUT) by the narrow GEMM) and the channels-first convolution (each sample's
// (C, H*W) planes read channels-last).
#pragma once

#include <cstdint>

namespace bnlab::cpu {

// t[j * ldt + i] = a[i * lda + j] for i < rows, j < cols: a (rows, cols), leading dimension lda, into t (cols,
// rows), leading dimension ldt. The buffers must not overlap.
void transpose_matrix(float* t, std::int64_t ldt, const float* a, std::int64_t lda, std::int64_t rows,
                      std::int64_t cols);

}  // namespace bnlab::cpu
