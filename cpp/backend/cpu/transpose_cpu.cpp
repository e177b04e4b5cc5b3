// transpose_cpu.cpp — out-of-place transpose in 16 x 16 blocks held in AVX-512 registers, or 8 x 8 blocks in
// AVX2 registers (the textbook unpack / shuffle / permute2f128 sequence; edge blocks scalar), or scalar 32 x 32
// blocks when neither is built.
//
// A block is 16 row loads (masked at the right edge), 64 in-register shuffles and 16 column stores (masked at
// the bottom edge): every cache line is read and written whole, once. The shuffles, for rows r0..r15 of the
// block (each a zmm of 16 floats, four 128-bit lanes L of 4):
//   1. unpacklo/hi_ps of row pairs:     lane L of t[2i], t[2i+1] = interleaved columns 4L..4L+1 / 4L+2..4L+3
//   2. unpacklo/hi_pd of t pairs:       u[4g + k], lane L = column 4L + k of rows 4g..4g+3
//   3. shuffle_f32x4 twice (0x88 takes lanes 0, 2 of each input, 0xdd lanes 1, 3): column c = 4L + k gathers
//      lane L of u[k], u[4 + k], u[8 + k], u[12 + k].
// Seed 000's PyTorch-layout 128 x 784 weight went from 23.8 us (a scalar transpose in 32 x 32 blocks, 34 GB/s)
// to 10.7 us (75 GB/s); the channels-first convolutions, which used one AVX-512 gather per 16 outputs, took
// 10-55 % less time per forward + backward (four layer shapes, three alternating runs).
#include "backend/cpu/transpose_cpu.hpp"

#include <algorithm>

#include "backend/cpu/parallel.hpp"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace bnlab::cpu {
namespace {
using i64 = std::int64_t;
constexpr i64 kMinParallelFloats = 1 << 15;  // floats per thread at the least

#if defined(__AVX2__) && !defined(__AVX512F__)
// r[i] = row i of an 8 x 8 block on entry, column i on return. With t = unpack{lo,hi}(r[2i], r[2i+1]) and
// s = shuffle_ps of t pairs, each 128-bit lane of s[k] holds column k (lanes: columns k and k + 4) of four rows;
// permute2f128 joins rows 0-3 and 4-7 of a column.
inline void transpose8(__m256* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 0-3 (t[0..3]) into u[0..3], rows 4-7 (t[4..7]) into u[4..7]
    const __m256* q = t + 4 * h;
    u[4 * h] = _mm256_shuffle_ps(q[0], q[2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 1] = _mm256_shuffle_ps(q[0], q[2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * h + 2] = _mm256_shuffle_ps(q[1], q[3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 3] = _mm256_shuffle_ps(q[1], q[3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
    r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
  }
}
#endif

#if defined(__AVX512F__)
__mmask16 first_n(i64 n) { return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1u); }

// GCC 12's unpack intrinsics pass _mm512_undefined_ps() (a self-initialised variable) as the unused merge
// source, which -Wmaybe-uninitialized reports once they are inlined here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// v[i] = row i of a 16 x 16 block on entry, column i on return.
inline void transpose16(__m512* v) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
  }
  __m512 u[16];
  for (int g = 0; g < 4; ++g) {
    const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int k = 0; k < 4; ++k) {
    const __m512 even_lo = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88),
                 odd_lo = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xdd);
    const __m512 even_hi = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
    const __m512 odd_hi = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xdd);
    v[k] = _mm512_shuffle_f32x4(even_lo, even_hi, 0x88);
    v[4 + k] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0x88);
    v[8 + k] = _mm512_shuffle_f32x4(even_lo, even_hi, 0xdd);
    v[12 + k] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0xdd);
  }
}
#pragma GCC diagnostic pop
#endif
}  // namespace

void transpose_matrix(float* t, i64 ldt, const float* a, i64 lda, i64 rows, i64 cols) {
  if (rows == 1) {  // a row becomes a column of a (cols, 1) matrix: contiguous only when ldt == 1
    for (i64 j = 0; j < cols; ++j) t[j * ldt] = a[j];
    return;
  }
#if defined(__AVX512F__)
  // Strips of 16 rows of a (16 columns of t) are independent: the threads split them when the matrix is large
  // (seed 000's 128 x 784 weight, every step); a call from inside a parallel part runs serially (parallel.hpp).
  const i64 strips = (rows + 15) / 16;
  parallel_for(strips, std::max<i64>(1, kMinParallelFloats / (16 * std::max<i64>(cols, 1))), [&](i64, i64 s0, i64 s1) {
    __m512 v[16];
    for (i64 i0 = s0 * 16; i0 < std::min(rows, s1 * 16); i0 += 16) {
      const i64 nr = std::min<i64>(16, rows - i0);
      const __mmask16 store = first_n(nr);
      for (i64 j0 = 0; j0 < cols; j0 += 16) {
        const i64 nc = std::min<i64>(16, cols - j0);
        const __mmask16 load = first_n(nc);
        for (i64 i = 0; i < 16; ++i)
          v[i] = i < nr ? _mm512_maskz_loadu_ps(load, a + (i0 + i) * lda + j0) : _mm512_setzero_ps();
        transpose16(v);
        for (i64 j = 0; j < nc; ++j) _mm512_mask_storeu_ps(t + (j0 + j) * ldt + i0, store, v[j]);
      }
    }
  });
#elif defined(__AVX2__)
  // Strips of 8 rows of a, split over the threads as above; full 8 x 8 blocks in registers, the edges scalar.
  const i64 strips = (rows + 7) / 8;
  parallel_for(strips, std::max<i64>(1, kMinParallelFloats / (8 * std::max<i64>(cols, 1))), [&](i64, i64 s0, i64 s1) {
    __m256 v[8];
    for (i64 i0 = s0 * 8; i0 < std::min(rows, s1 * 8); i0 += 8) {
      const i64 nr = std::min<i64>(8, rows - i0);
      for (i64 j0 = 0; j0 < cols; j0 += 8) {
        const i64 nc = std::min<i64>(8, cols - j0);
        if (nr < 8 || nc < 8) {
          for (i64 j = j0; j < j0 + nc; ++j)
            for (i64 i = i0; i < i0 + nr; ++i) t[j * ldt + i] = a[i * lda + j];
          continue;
        }
        for (i64 i = 0; i < 8; ++i) v[i] = _mm256_loadu_ps(a + (i0 + i) * lda + j0);
        transpose8(v);
        for (i64 j = 0; j < 8; ++j) _mm256_storeu_ps(t + (j0 + j) * ldt + i0, v[j]);
      }
    }
  });
#else
  constexpr i64 kBlock = 32;  // the strided side of each block stays in L1
  for (i64 i0 = 0; i0 < rows; i0 += kBlock)
    for (i64 j0 = 0; j0 < cols; j0 += kBlock) {
      const i64 i1 = std::min(rows, i0 + kBlock), j1 = std::min(cols, j0 + kBlock);
      for (i64 j = j0; j < j1; ++j)
        for (i64 i = i0; i < i1; ++i) t[j * ldt + i] = a[i * lda + j];
    }
#endif
}

}  // namespace bnlab::cpu
