// narrow_gemm_cpu.cpp — the AVX-512 register-tile GEMM for narrow products (narrow_gemm_cpu.hpp says which).
//
// The register tile is MR rows x NV vectors of 16 columns: MR * NV accumulators, NV vectors of B and one broadcast
// of a(i, p) per row and step p. MR * NV = 24 for every width (MR 24, 12, 8, 6 for NV 1-4), which leaves the
// 32 zmm registers room for B and the broadcast, and gives each step 24 independent FMAs: enough to cover the
// FMA latency on two pipes, for NV + MR loads. The columns are cut into blocks of at most 4 vectors of as even a
// width as possible (9 vectors: 3 + 3 + 3, not 4 + 4 + 1); the last vector of a block is masked when N is not a
// multiple of 16. Every accumulator sums its p in order with one FMA per p, so a C element's value does not depend
// on the tile it lands in, on the chunking of p (C is stored and reloaded between chunks, exactly), or on the
// thread that computes it. Threads take contiguous runs of work items (24 rows by one column block); a product
// of fewer than 2 x 2^21 multiply-adds stays on one thread (the fork/join cost more than the split saved on the
// seeds' small layers: 64x256x128 ran at 65 GFLOP/s split, 190 on one thread).
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

#if defined(__AVX512F__)
#include <immintrin.h>
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

#if defined(__AVX512F__)

namespace {
constexpr i64 kChunk = 512;        // steps of p per pass over the tiles: A's slice stays in L2 between tiles
constexpr i64 kRowUnit = 24;       // rows per work item: a multiple of every MR
constexpr i64 kMinMacs = 1 << 21;  // multiply-adds per part below which a thread costs more than it saves
constexpr int kMaxNV = 4;

constexpr int rows_for(int nv) { return 24 / nv; }

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

// One MR x NV tile at rows [i0, i0 + MR), columns [j0, j0 + 16 NV) (the last vector masked by `last`), steps
// [p0, p1); the accumulators start from C (from_c), else from the bias or zero.
template <int MR, int NV>
void tile(const Operands& o, i64 i0, i64 j0, i64 p0, i64 p1, __mmask16 last, bool from_c) {
  __m512 acc[MR][NV];
  auto mask = [&](int v) { return v == NV - 1 ? last : static_cast<__mmask16>(0xFFFF); };
#pragma GCC unroll 24
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (from_c)
        acc[r][v] = _mm512_maskz_loadu_ps(mask(v), o.C + (i0 + r) * o.ldc + j0 + 16 * v);
      else if (o.bias)
        acc[r][v] = _mm512_maskz_loadu_ps(mask(v), o.bias + j0 + 16 * v);
      else
        acc[r][v] = _mm512_setzero_ps();
    }
  const float* rows[MR];  // row r of A: a(i0 + r, p) = rows[r][col_off[p]]
#pragma GCC unroll 24
  for (int r = 0; r < MR; ++r) rows[r] = o.A + o.row_off[i0 + r];
  const float* b = o.B + p0 * o.ldb + j0;
  for (i64 p = p0; p < p1; ++p, b += o.ldb) {
    const i64 at = o.col_off[p];
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_maskz_loadu_ps(mask(v), b + 16 * v);
#pragma GCC unroll 24
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(rows[r][at]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 24
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(o.C + (i0 + r) * o.ldc + j0 + 16 * v, mask(v), acc[r][v]);
}

using TileFn = void (*)(const Operands&, i64, i64, i64, i64, __mmask16, bool);

// tiles<NV>()[mr - 1] is the tile of mr rows: the full MR and every shorter tail.
template <int NV, std::size_t... R>
constexpr std::array<TileFn, sizeof...(R)> make_tiles(std::index_sequence<R...>) {
  return {&tile<static_cast<int>(R) + 1, NV>...};
}
template <int NV>
const std::array<TileFn, rows_for(NV)>& tiles() {
  static constexpr auto table = make_tiles<NV>(std::make_index_sequence<rows_for(NV)>{});
  return table;
}
TileFn tile_fn(int nv, i64 mr) {
  switch (nv) {
    case 1:
      return tiles<1>()[mr - 1];
    case 2:
      return tiles<2>()[mr - 1];
    case 3:
      return tiles<3>()[mr - 1];
    default:
      return tiles<4>()[mr - 1];
  }
}

// A column block: columns [j0, j0 + 16 nv), the last vector's mask.
struct ColumnBlock {
  i64 j0;
  int nv;
  __mmask16 last;
};
// N's vectors in blocks of at most kMaxNV, as evenly as possible. At most 64 blocks (N <= 4096).
int column_blocks(i64 N, std::array<ColumnBlock, 64>& out) {
  const i64 vectors = (N + 15) / 16;
  const i64 blocks = (vectors + kMaxNV - 1) / kMaxNV;
  i64 j = 0;
  for (i64 b = 0; b < blocks; ++b) {
    const int nv = static_cast<int>(vectors * (b + 1) / blocks - vectors * b / blocks);
    const i64 tail = std::min<i64>(16, N - (j + 16 * (nv - 1)));
    out[static_cast<std::size_t>(b)] = {j, nv, static_cast<__mmask16>((1u << tail) - 1u)};
    j += 16 * nv;
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
        tile_fn(block.nv, std::min(mr, r1 - i))(o, i, block.j0, p0, p1, block.last, from_c);
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

#else  // no AVX-512: the convolutions keep cblas_sgemm

bool narrow_gemm_available() { return false; }

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
