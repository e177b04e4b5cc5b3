// narrow_gemm_cpu.cpp — the register-tile GEMM for narrow products (narrow_gemm_cpu.hpp says which), in AVX-512
// or AVX2 + FMA, whichever the build targets (the Simd traits below; the tile code is the same for both).
//
// The register tile is MR rows x NV vectors of W columns (W = 16 with AVX-512, 8 with AVX2): MR * NV accumulators,
// NV vectors of B and one broadcast of a(i, p) per row and step p. MR * NV = 24 with AVX-512's 32 registers (MR
// 24, 12, 8, 6 for NV 1-4) and 12 with AVX2's 16 (MR 12, 6 for NV 1-2), which leaves room for B and the
// broadcast and gives each step 24 (12) independent FMAs: enough to cover the FMA latency on two pipes, for NV + MR
// loads. The columns are cut into blocks of at most 4 (2) vectors of as even a width as possible (9 vectors:
// 3 + 3 + 3, not 4 + 4 + 1); the last vector of a block is masked when N is not a multiple of W. Every accumulator
// sums its p in order with one FMA per p, so a C element's value does not depend on the tile it lands in, on the
// chunking of p (C is stored and reloaded between chunks, exactly), on the thread that computes it, or on the
// vector width: AVX-512 and AVX2 builds give the same bits. Threads take contiguous runs of work items (one row
// unit by one column block); a product of fewer than 2 x 2^21 multiply-adds stays on one thread (the fork/join cost
// more than the split saved on the seeds' small layers: 64x256x128 ran at 65 GFLOP/s split, 190 on one thread).
#include "backend/cpu/narrow_gemm_cpu.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backend/cpu/parallel.hpp"
#include "backend/cpu/scratch.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#define BNLAB_HAS_NARROW_GEMM 1
#endif

namespace bnlab::cpu {

namespace {
using i64 = std::int64_t;

// BNLAB_GEMM, read once when the library loads: unset, "" or "auto" keep the narrow GEMM where it is available;
// "cblas" sends every product to cblas_sgemm (a stand-in for a machine without AVX-512, for the test suite).
// Any other value is kept in g_env_error and reported by check_gemm_env() (the module's import raises it).
std::string g_env_error;
bool enabled_from_env() {
  const char* v = std::getenv("BNLAB_GEMM");
  const std::string value = v ? v : "";
  if (value.empty() || value == "auto") return true;
  if (value == "cblas") return false;
  g_env_error = "BNLAB_GEMM='" + value + "' is not a GEMM path: use 'cblas' (cblas_sgemm everywhere) or 'auto' " +
                "(the engine's narrow GEMM where available), or leave it unset";
  return true;
}
bool g_enabled = enabled_from_env();
}  // namespace

#if defined(BNLAB_HAS_NARROW_GEMM)

namespace {
#if defined(__AVX512F__)
// AVX-512: 16 floats per vector, 32 registers: 24 accumulators, up to 4 vectors of B and the broadcast.
struct Simd {
  static constexpr int kWidth = 16;
  static constexpr int kAccumulators = 24;
  static constexpr int kMaxNV = 4;
  static constexpr i64 kMatrixColumns = 1152;
  static constexpr i64 kShortSideColumns = 1152;  // no wider range for short products: kMatrixColumns covers them
  using Vec = __m512;
  using Mask = __mmask16;
  static Mask tail_mask(int n) { return static_cast<Mask>((1u << n) - 1u); }  // the first n of 16 lanes, n in [1, 16]
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec broadcast(float x) { return _mm512_set1_ps(x); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, Mask m, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
};
#else
// AVX2 + FMA: 8 floats per vector, 16 registers: the 6 x 16 tile (12 accumulators, 2 vectors of B, the broadcast).
// Tried: up to 3 vectors (4 x 24 tiles) ran 16384x64x576 at 122 GFLOP/s against 145 for 6 x 16 tiles only.
// A masked load/store (vmaskmovps) only touches the last vector of a block whose width is not a multiple of 8:
// AMD cores run the masked store as a slow microcoded sequence.
struct Simd {
  static constexpr int kWidth = 8;
  static constexpr int kAccumulators = 12;
  static constexpr int kMaxNV = 2;
  static constexpr i64 kMatrixColumns = 128;
  static constexpr i64 kShortSideColumns = 512;
  using Vec = __m256;
  using Mask = __m256i;
  static Mask tail_mask(int n) {  // lanes [0, n) set, n in [1, 8]
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec broadcast(float x) { return _mm256_set1_ps(x); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, Mask m, Vec v) { _mm256_maskstore_ps(p, m, v); }
};
#endif
using Vec = Simd::Vec;
using Mask = Simd::Mask;
constexpr i64 kW = Simd::kWidth;
constexpr int kMaxNV = Simd::kMaxNV;

constexpr i64 kChunk = 512;                    // steps of p per pass over the tiles: A's slice stays in L2
constexpr i64 kRowUnit = Simd::kAccumulators;  // rows per work item: a multiple of every MR
constexpr i64 kShortSide = 32;                 // rows of C or steps of p that make a product "short" (a batch)
constexpr i64 kMinMacs = 1 << 21;              // multiply-adds per part below which a thread costs more
constexpr int rows_for(int nv) { return Simd::kAccumulators / nv; }

// The arguments every tile of one call shares.
struct Operands {
  float* C;
  i64 ldc;
  const float* A;
  const std::int32_t* row_off;  // (M)
  const std::int32_t* col_off;  // (P)
  const float* B;
  i64 ldb;
  const float* bias;
};

// One MR x NV tile at rows [i0, i0 + MR), columns [j0, j0 + kW NV) (with Partial, only the first `tail` lanes of
// the last vector), steps [p0, p1); the accumulators start from C (from_c), else from the bias or zero.
template <int MR, int NV, bool Partial>
void tile(const Operands& o, i64 i0, i64 j0, i64 p0, i64 p1, int tail, bool from_c) {
  const Mask last = Simd::tail_mask(tail);
  auto load = [&](const float* p, int v) { return Partial && v == NV - 1 ? Simd::load(p, last) : Simd::load(p); };
  Vec acc[MR][NV];
#pragma GCC unroll 24
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (from_c)
        acc[r][v] = load(o.C + (i0 + r) * o.ldc + j0 + kW * v, v);
      else if (o.bias)
        acc[r][v] = load(o.bias + j0 + kW * v, v);
      else
        acc[r][v] = Simd::zero();
    }
  const float* rows[MR];  // row r of A: a(i0 + r, p) = rows[r][col_off[p]]
#pragma GCC unroll 24
  for (int r = 0; r < MR; ++r) rows[r] = o.A + o.row_off[i0 + r];
  const float* b = o.B + p0 * o.ldb + j0;
  for (i64 p = p0; p < p1; ++p, b += o.ldb) {
    const i64 at = o.col_off[p];
    Vec bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = load(b + kW * v, v);
#pragma GCC unroll 24
    for (int r = 0; r < MR; ++r) {
      const Vec av = Simd::broadcast(rows[r][at]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = Simd::fma(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 24
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* c = o.C + (i0 + r) * o.ldc + j0 + kW * v;
      if (Partial && v == NV - 1)
        Simd::store(c, last, acc[r][v]);
      else
        Simd::store(c, acc[r][v]);
    }
}

using TileFn = void (*)(const Operands&, i64, i64, i64, i64, int, bool);

// tiles<NV, Partial>()[mr - 1] is the tile of mr rows: the full MR and every shorter tail.
template <int NV, bool Partial, std::size_t... R>
constexpr std::array<TileFn, sizeof...(R)> make_tiles(std::index_sequence<R...>) {
  return {&tile<static_cast<int>(R) + 1, NV, Partial>...};
}
template <int NV, bool Partial>
const std::array<TileFn, rows_for(NV)>& tiles() {
  static constexpr auto table = make_tiles<NV, Partial>(std::make_index_sequence<rows_for(NV)>{});
  return table;
}
template <bool Partial>
TileFn tile_fn(int nv, i64 mr) {
  switch (nv) {
    case 1:
      return tiles<1, Partial>()[mr - 1];
    case 2:
      return tiles<2, Partial>()[mr - 1];
    case 3:
      return tiles<3, Partial>()[mr - 1];
    default:  // 4 (AVX-512 only: kMaxNV is 2 with AVX2)
      return tiles<kMaxNV, Partial>()[mr - 1];
  }
}
TileFn tile_fn(int nv, i64 mr, bool partial) { return partial ? tile_fn<true>(nv, mr) : tile_fn<false>(nv, mr); }

// A column block: columns [j0, j0 + kW nv); `partial` when its last vector has only `tail` columns.
struct ColumnBlock {
  i64 j0;
  int nv;
  bool partial;
  int tail;
};
// N's vectors in blocks of at most kMaxNV, as evenly as possible. At most 64 blocks (N <= 64 * kMaxNV * kW:
// 4096 with AVX-512, 1024 with AVX2; the callers pass N <= 1152, 1024 with AVX2).
int column_blocks(i64 N, std::array<ColumnBlock, 64>& out) {
  const i64 vectors = (N + kW - 1) / kW;
  const i64 blocks = (vectors + kMaxNV - 1) / kMaxNV;
  i64 j = 0;
  for (i64 b = 0; b < blocks; ++b) {
    const int nv = static_cast<int>(vectors * (b + 1) / blocks - vectors * b / blocks);
    const i64 tail = std::min<i64>(kW, N - (j + kW * (nv - 1)));
    out[static_cast<std::size_t>(b)] = {j, nv, tail < kW, static_cast<int>(tail)};
    j += kW * nv;
  }
  return static_cast<int>(blocks);
}

// Work items [t0, t1): item t is the row unit t / blocks (kRowUnit rows) in the column block t % blocks, so that
// consecutive items reuse the unit's rows of A from L1. Every chunk of p is done for all the items before the next.
void items_range(const Operands& o, const std::array<ColumnBlock, 64>& cb, int blocks, i64 M, i64 t0, i64 t1, i64 P,
                 bool accumulate) {
  const i64 chunks = std::max<i64>(1, (P + kChunk - 1) / kChunk);  // one (empty) chunk when P == 0: C gets init
  for (i64 c = 0; c < chunks; ++c) {
    const i64 p0 = c * kChunk, p1 = std::min(P, p0 + kChunk);
    const bool from_c = accumulate || c > 0;
    for (i64 t = t0; t < t1; ++t) {
      const ColumnBlock& block = cb[static_cast<std::size_t>(t % blocks)];
      const i64 r0 = (t / blocks) * kRowUnit, r1 = std::min(M, r0 + kRowUnit);
      const i64 mr = rows_for(block.nv);
      for (i64 i = r0; i < r1; i += mr)
        tile_fn(block.nv, std::min(mr, r1 - i), block.partial)(o, i, block.j0, p0, p1, block.tail, from_c);
    }
  }
}

// The first item of part k of `parts`, so that the parts get equal shares of C's rows (each item is worth its
// unit's rows; only the last unit is short), not equal numbers of items: with items split by count, a product
// of 32 rows (a unit of 24 and one of 8, times the column blocks) gave one thread 75 % of the work. Which thread
// computes an element does not change how it is summed, so the bits stay the same.
i64 part_start(i64 k, i64 parts, i64 M, i64 blocks) {
  const i64 units = (M + kRowUnit - 1) / kRowUnit, items = units * blocks;
  if (k >= parts) return items;
  const i64 full_items = (units - 1) * blocks, tail = M - (units - 1) * kRowUnit;
  const i64 target = M * blocks * k / parts;  // row-block pairs before part k; items before it are worth this
  if (target <= kRowUnit * full_items) return (target + kRowUnit / 2) / kRowUnit;  // the nearest boundary
  return full_items + (target - kRowUnit * full_items + tail / 2) / tail;
}
}  // namespace

bool narrow_gemm_available() { return g_enabled; }
i64 narrow_gemm_matrix_columns() { return Simd::kMatrixColumns; }
bool narrow_gemm_suits(i64 M, i64 N, i64 P) {
  return N <= Simd::kMatrixColumns || (N <= Simd::kShortSideColumns && std::min(M, P) <= kShortSide);
}

void narrow_gemm(float* C, i64 ldc, const float* A, const std::int32_t* row_off, const std::int32_t* col_off,
                 const float* B, i64 ldb, i64 M, i64 N, i64 P, const float* bias, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  std::array<ColumnBlock, 64> cb{};
  const int blocks = column_blocks(N, cb);
  const Operands o{C, ldc, A, row_off, col_off, B, ldb, bias};
  const i64 items = (M + kRowUnit - 1) / kRowUnit * blocks;
  const i64 macs = M * N * std::max<i64>(P, 1);
  if (macs < 2 * kMinMacs) {  // one part: no fork/join
    items_range(o, cb, blocks, M, 0, items, P, accumulate);
    return;
  }
  // parts of at least kMinMacs each: items * kMinMacs / macs items per part (rounded up)
  const i64 per_part = std::max<i64>(1, (items * kMinMacs + macs - 1) / macs);
  const i64 parts = parts_for(items, per_part);
  parallel_for(parts, 1, [&](i64, i64 k0, i64 k1) {
    items_range(o, cb, blocks, M, part_start(k0, parts, M, blocks), part_start(k1, parts, M, blocks), P, accumulate);
  });
}

void narrow_gemm_matrix(float* C, i64 ldc, const float* A, i64 lda, bool trans_a, const float* B, i64 ldb, i64 M, i64 N,
                        i64 P, const float* bias, bool accumulate) {
  std::int32_t* row_off = thread_scratch<std::int32_t, struct MatrixOffsets>(M + P);
  std::int32_t* col_off = row_off + M;
  for (i64 i = 0; i < M; ++i) row_off[i] = static_cast<std::int32_t>(trans_a ? i : i * lda);
  for (i64 p = 0; p < P; ++p) col_off[p] = static_cast<std::int32_t>(trans_a ? p * lda : p);
  narrow_gemm(C, ldc, A, row_off, col_off, B, ldb, M, N, P, bias, accumulate);
}

#else  // neither AVX-512 nor AVX2 + FMA: the convolutions and dense layers keep cblas_sgemm

bool narrow_gemm_available() { return false; }
i64 narrow_gemm_matrix_columns() { return 0; }
bool narrow_gemm_suits(i64, i64, i64) { return false; }

void narrow_gemm(float*, i64, const float*, const std::int32_t*, const std::int32_t*, const float*, i64, i64, i64, i64,
                 const float*, bool) {}
void narrow_gemm_matrix(float*, i64, const float*, i64, bool, const float*, i64, i64, i64, i64, const float*, bool) {}

#endif

void check_gemm_env() {
  if (!g_env_error.empty()) throw std::invalid_argument(g_env_error);
}

bool set_narrow_gemm_enabled(bool on) {
  const bool was = g_enabled;
  g_enabled = on;
  return was;
}

}  // namespace bnlab::cpu
