// pool_cpu.cpp — 2-D max and average pooling on the CPU, both layouts (K == C in the Conv2dShape).
//
// Output pixel (oh, ow) of channel c pools the window rows [oh*SH - pt, +KH) x columns [ow*SW - pl, +KW),
// clipped to the input: padding never enters a max, and enters an average only through its divisor.
// Max:     y = x[argmax];  dx[argmax] += dy (every other input of the window gets nothing from this output).
// Average: y = sum(window) / d with d = KH*KW (count_include_pad) or the clipped window's size;
//          dx[i] += dy / d for every input i of the window.
// Windows overlap when the stride is below the kernel, so the backward passes zero dx and accumulate.
// channels_last walks the C channels of a pixel as one contiguous, vectorisable run.
#include <algorithm>
#include <cmath>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "backend/cpu/kernels_cpu.hpp"
#include "backend/cpu/parallel.hpp"
#include "core/profile.hpp"

namespace bnlab::cpu {
namespace {
using i64 = std::int64_t;
constexpr i64 kMinParallelValues = 1 << 16;  // below this a pass is faster on one thread

struct Window {
  i64 h0, h1, w0, w1;  // clipped to the input
  i64 count() const { return (h1 - h0) * (w1 - w0); }
};
Window window(const Conv2dShape& s, i64 oh, i64 ow) {
  const i64 h = oh * s.SH - s.pad_top, w = ow * s.SW - s.pad_left;
  return {std::max<i64>(h, 0), std::min(h + s.KH, s.H), std::max<i64>(w, 0), std::min(w + s.KW, s.W)};
}

// Calls f(plane_offset, channel_stride, channels, out_offset, window) once per output pixel and plane group:
// channels_last: one call per (n, oh, ow) covering all C channels (element (h, w, c) at plane_offset +
// (h*W + w)*C + c); channels_first: one call per (n, c, oh, ow) with a single channel.
template <class F>
void for_each_window(const Conv2dShape& s, F f) {
  const i64 HW = s.H * s.W, OHW = s.OH * s.OW;
  if (s.channels_last) {
    for (i64 n = 0; n < s.N; ++n)
      for (i64 oh = 0; oh < s.OH; ++oh)
        for (i64 ow = 0; ow < s.OW; ++ow)
          f(n * HW * s.C, s.C, s.C, ((n * s.OH + oh) * s.OW + ow) * s.C, window(s, oh, ow));
    return;
  }
  for (i64 plane = 0; plane < s.N * s.C; ++plane)
    for (i64 oh = 0; oh < s.OH; ++oh)
      for (i64 ow = 0; ow < s.OW; ++ow) f(plane * HW, 1, 1, plane * OHW + oh * s.OW + ow, window(s, oh, ow));
}

float divisor(const Conv2dShape& s, const Window& win, bool count_include_pad) {
  return static_cast<float>(count_include_pad ? s.KH * s.KW : win.count());
}
// max_pool2d's "v beats best": larger, or a NaN over a number (NaN propagates, the first NaN wins); written
// without isnan so that it is one compare-and-select per lane: !(v <= best) holds for v > best and for a NaN on
// either side, and best == best excludes the case where best is already NaN.
inline bool beats(float v, float best) { return !(v <= best) && best == best; }

// channels_last: the C channels of one output pixel in chunks of kChunk lanes kept in registers over the window.
constexpr i64 kChunk = 8;

// One output pixel's channels [c0, c0 + nc) (nc == kChunk when kFull, a fixed-width loop that vectorises);
// xc points at channel c0 of the sample's pixel 0.
template <bool kFull>
void max_chunk(float* out, std::int32_t* argmax, const float* xc, const Conv2dShape& s, const Window& win, i64 nc) {
  const i64 width = kFull ? kChunk : nc;
  float best[kChunk];
  std::int32_t at[kChunk];
  const auto first = static_cast<std::int32_t>(win.h0 * s.W + win.w0);
  for (i64 c = 0; c < width; ++c) {
    best[c] = xc[first * s.C + c];
    at[c] = first;
  }
  for (i64 h = win.h0; h < win.h1; ++h)
    for (i64 w = win.w0; w < win.w1; ++w) {
      const auto idx = static_cast<std::int32_t>(h * s.W + w);
      const float* px = xc + idx * s.C;
      for (i64 c = 0; c < width; ++c) {
        const float v = px[c];
        const bool take = beats(v, best[c]);
        best[c] = take ? v : best[c];
        at[c] = take ? idx : at[c];
      }
    }
  for (i64 c = 0; c < width; ++c) {
    out[c] = best[c];
    argmax[c] = at[c];
  }
}

#if defined(__AVX512F__)
// 16 channels of one output pixel in one zmm register: the same "beats" rule as one mask per compare,
// !(v <= best) as NLE_UQ (true for v > best and for a NaN on either side) and best == best as EQ_OQ.
void max_chunk16(float* out, std::int32_t* argmax, const float* xc, const Conv2dShape& s, const Window& win) {
  const auto first = static_cast<std::int32_t>(win.h0 * s.W + win.w0);
  __m512 best = _mm512_loadu_ps(xc + first * s.C);
  __m512i at = _mm512_set1_epi32(first);
  for (i64 h = win.h0; h < win.h1; ++h)
    for (i64 w = win.w0; w < win.w1; ++w) {
      const auto idx = static_cast<std::int32_t>(h * s.W + w);
      const __m512 v = _mm512_loadu_ps(xc + idx * s.C);
      const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_NLE_UQ) & _mm512_cmp_ps_mask(best, best, _CMP_EQ_OQ);
      best = _mm512_mask_mov_ps(best, take, v);
      at = _mm512_mask_mov_epi32(at, take, _mm512_set1_epi32(idx));
    }
  _mm512_storeu_ps(out, best);
  _mm512_storeu_si512(argmax, at);
}
#elif defined(__AVX2__)
// 8 channels of one output pixel in one ymm register, by the same rule: take = !(v <= best) && best == best.
void max_chunk8(float* out, std::int32_t* argmax, const float* xc, const Conv2dShape& s, const Window& win) {
  const auto first = static_cast<std::int32_t>(win.h0 * s.W + win.w0);
  __m256 best = _mm256_loadu_ps(xc + first * s.C);
  __m256 at = _mm256_castsi256_ps(_mm256_set1_epi32(first));  // int32 lanes, blended as floats (bits unchanged)
  for (i64 h = win.h0; h < win.h1; ++h)
    for (i64 w = win.w0; w < win.w1; ++w) {
      const auto idx = static_cast<std::int32_t>(h * s.W + w);
      const __m256 v = _mm256_loadu_ps(xc + idx * s.C);
      const __m256 take = _mm256_and_ps(_mm256_cmp_ps(v, best, _CMP_NLE_UQ), _mm256_cmp_ps(best, best, _CMP_EQ_OQ));
      best = _mm256_blendv_ps(best, v, take);
      at = _mm256_blendv_ps(at, _mm256_castsi256_ps(_mm256_set1_epi32(idx)), take);
    }
  _mm256_storeu_ps(out, best);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(argmax), _mm256_castps_si256(at));
}
#endif

// One output pixel's C channels: 16 (AVX-512) or 8 (AVX2) at a time where built, then kChunk at a time, then the
// rest.
void max_pixel(float* out, std::int32_t* argmax, const float* xn, const Conv2dShape& s, const Window& win) {
  i64 c0 = 0;
#if defined(__AVX512F__)
  for (; c0 + 16 <= s.C; c0 += 16) max_chunk16(out + c0, argmax + c0, xn + c0, s, win);
#elif defined(__AVX2__)
  for (; c0 + 8 <= s.C; c0 += 8) max_chunk8(out + c0, argmax + c0, xn + c0, s, win);
#endif
  for (; c0 + kChunk <= s.C; c0 += kChunk) max_chunk<true>(out + c0, argmax + c0, xn + c0, s, win, kChunk);
  if (c0 < s.C) max_chunk<false>(out + c0, argmax + c0, xn + c0, s, win, s.C - c0);
}

// channels_first: output row oh of one plane xp (H, W). The outputs whose window's columns all lie inside the
// input, ow in [lo, hi), are computed tap by tap across the row (kh, kw outer, ow inner: a loop that vectorises,
// with a strided load when SW > 1); each output still sees its taps in row-major window order, so the max, the
// argmax, ties (the first wins) and NaN (the first NaN wins) are those of the one-window loop used at the edges.
void max_row_nchw(float* __restrict out, std::int32_t* __restrict argmax, const float* __restrict xp,
                  const Conv2dShape& s, i64 oh) {
  const i64 lo = std::min(s.OW, (s.pad_left + s.SW - 1) / s.SW);  // the first ow with ow*SW - pl >= 0
  const i64 room = s.W + s.pad_left - s.KW;                       // ow*SW - pl + KW <= W  <=>  ow*SW <= room
  const i64 hi = room < 0 ? lo : std::max(lo, std::min(s.OW, room / s.SW + 1));
  auto one_window = [&](i64 ow) {
    const Window win = window(s, oh, ow);
    auto at = static_cast<std::int32_t>(win.h0 * s.W + win.w0);
    float best = xp[at];
    for (i64 h = win.h0; h < win.h1; ++h)
      for (i64 w = win.w0; w < win.w1; ++w) {
        const float v = xp[h * s.W + w];
        const bool take = beats(v, best);
        best = take ? v : best;
        at = take ? static_cast<std::int32_t>(h * s.W + w) : at;
      }
    out[ow] = best;
    argmax[ow] = at;
  };
  for (i64 ow = 0; ow < lo; ++ow) one_window(ow);
  for (i64 ow = hi; ow < s.OW; ++ow) one_window(ow);
  if (lo >= hi) return;
  const Window rows = window(s, oh, lo);                    // the clipped rows are the same for every ow of the row
  const i64 SW = s.SW, start = rows.h0 * s.W - s.pad_left;  // x index of tap (h0, 0) is start + ow*SW
  for (i64 ow = lo; ow < hi; ++ow) {
    out[ow] = xp[start + ow * SW];
    argmax[ow] = static_cast<std::int32_t>(start + ow * SW);
  }
  for (i64 h = rows.h0; h < rows.h1; ++h)
    for (i64 kw = 0; kw < s.KW; ++kw) {
      const i64 base = h * s.W - s.pad_left + kw;  // x index of this tap at ow 0
      for (i64 ow = lo; ow < hi; ++ow) {
        const float v = xp[base + ow * SW];
        const bool take = beats(v, out[ow]);
        out[ow] = take ? v : out[ow];
        argmax[ow] = take ? static_cast<std::int32_t>(base + ow * SW) : argmax[ow];
      }
    }
}

}  // namespace

// Shapes: kernel::MaxPool2dForward (backend/kernels.hpp).
void max_pool2d_forward(float* __restrict out, std::int32_t* __restrict argmax, const float* __restrict inp,
                        const Conv2dShape& s) {
  const profile::Scope timer({"maxpool.forward", s.N * s.C, s.OH * s.OW, 0, '-', '-', 0, 0.0, 0.0,
                              12.0 * s.N * s.C * s.OH * s.OW + 4.0 * s.N * s.C * s.H * s.W});
  const i64 HW = s.H * s.W, OHW = s.OH * s.OW;
  if (!s.channels_last) {  // one plane at a time, one output row at a time; threads split the planes
    parallel_for(s.N * s.C, std::max<i64>(1, kMinParallelValues / std::max<i64>(HW, 1)), [&](i64, i64 p0, i64 p1) {
      for (i64 plane = p0; plane < p1; ++plane)
        for (i64 oh = 0; oh < s.OH; ++oh)
          max_row_nchw(out + plane * OHW + oh * s.OW, argmax + plane * OHW + oh * s.OW, inp + plane * HW, s, oh);
    });
    return;
  }
  parallel_for(s.N, std::max<i64>(1, kMinParallelValues / std::max<i64>(HW * s.C, 1)), [&](i64, i64 n0, i64 n1) {
    for (i64 n = n0; n < n1; ++n)
      for (i64 oh = 0; oh < s.OH; ++oh)
        for (i64 ow = 0; ow < s.OW; ++ow) {
          const Window win = window(s, oh, ow);
          const float* xn = inp + n * HW * s.C;
          const i64 o = ((n * s.OH + oh) * s.OW + ow) * s.C;
          max_pixel(out + o, argmax + o, xn, s, win);
        }
  });
}

// Shapes: kernel::MaxPool2dBackward (backend/kernels.hpp).
void max_pool2d_backward(float* __restrict dinp, const float* __restrict dout, const std::int32_t* __restrict argmax,
                         const Conv2dShape& s) {
  const profile::Scope timer({"maxpool.backward", s.N * s.C, s.OH * s.OW, 0, '-', '-', 0, 0.0, 0.0,
                              12.0 * s.N * s.C * s.OH * s.OW + 4.0 * s.N * s.C * s.H * s.W});
  const i64 HW = s.H * s.W, OHW = s.OH * s.OW;
  // Threads split the planes (channels_first) or the samples (channels_last): each one's dinp is its own.
  if (!s.channels_last) {
    parallel_for(s.N * s.C, std::max<i64>(1, kMinParallelValues / std::max<i64>(HW, 1)), [&](i64, i64 p0, i64 p1) {
      for (i64 plane = p0; plane < p1; ++plane) {
        float* dp = dinp + plane * HW;
        const float* g = dout + plane * OHW;
        const std::int32_t* at = argmax + plane * OHW;
        std::fill(dp, dp + HW, 0.0f);
        for (i64 o = 0; o < OHW; ++o) dp[at[o]] += g[o];
      }
    });
    return;
  }
  parallel_for(s.N, std::max<i64>(1, kMinParallelValues / std::max<i64>(HW * s.C, 1)), [&](i64, i64 n0, i64 n1) {
    for (i64 n = n0; n < n1; ++n) {
      float* dn = dinp + n * HW * s.C;
      std::fill(dn, dn + HW * s.C, 0.0f);
      const i64 o0 = n * OHW * s.C;
      for (i64 o = o0; o < o0 + OHW * s.C; o += s.C)
        for (i64 c = 0; c < s.C; ++c) dn[argmax[o + c] * s.C + c] += dout[o + c];
    }
  });
}

// Shapes: kernel::AvgPool2dForward (backend/kernels.hpp).
void avg_pool2d_forward(float* out, const float* inp, const Conv2dShape& s, bool count_include_pad) {
  const profile::Scope timer({"avgpool.forward", s.N * s.C, s.OH * s.OW, 0, '-', '-', 0, 0.0, 0.0,
                              4.0 * s.N * s.C * (s.OH * s.OW + s.H * s.W)});
  for_each_window(s, [&](i64 base, i64 cs, i64 nc, i64 o, const Window& win) {
    float* acc = out + o;
    std::fill(acc, acc + nc, 0.0f);
    for (i64 h = win.h0; h < win.h1; ++h)
      for (i64 w = win.w0; w < win.w1; ++w) {
        const float* px = inp + base + (h * s.W + w) * cs;
        for (i64 c = 0; c < nc; ++c) acc[c] += px[c];
      }
    const float d = divisor(s, win, count_include_pad);
    for (i64 c = 0; c < nc; ++c) acc[c] /= d;
  });
}

// Shapes: kernel::AvgPool2dBackward (backend/kernels.hpp).
void avg_pool2d_backward(float* dinp, const float* dout, const Conv2dShape& s, bool count_include_pad) {
  const profile::Scope timer({"avgpool.backward", s.N * s.C, s.OH * s.OW, 0, '-', '-', 0, 0.0, 0.0,
                              4.0 * s.N * s.C * (s.OH * s.OW + s.H * s.W)});
  std::fill(dinp, dinp + s.N * s.C * s.H * s.W, 0.0f);
  for_each_window(s, [&](i64 base, i64 cs, i64 nc, i64 o, const Window& win) {
    const float d = divisor(s, win, count_include_pad);
    for (i64 h = win.h0; h < win.h1; ++h)
      for (i64 w = win.w0; w < win.w1; ++w) {
        float* px = dinp + base + (h * s.W + w) * cs;
        for (i64 c = 0; c < nc; ++c) px[c] += dout[o + c] / d;
      }
  });
}

}  // namespace bnlab::cpu
