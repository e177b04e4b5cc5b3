// im2col_nhwc.hpp — one sample's im2col and col2im for the channels-last convolution (conv_cpu.cpp, and the
// cache-resident path of conv_narrow_cpu.cpp).
//
// A sample's cols block is (OH*OW, R) with R = KH*KW*C: row (oh, ow) holds x[n, oh*SH - pt + kh, ow*SW - pl + kw, :]
// for each (kh, kw) in row-major order, zero where the window hangs over the padding. When a kernel row lies
// inside the input, its KW*C values are one contiguous run of x; otherwise it is cut per kw. col2im is the
// adjoint: every cols entry was a copy of one x value (or padding), so its gradient adds back to that value.
// Segments of at most 16 values (KW*C = 3 for a grey-scale first layer) are one masked AVX-512 load and store
// where AVX-512 is built: a scalar loop of 3 is what made that layer's im2col slow.
#pragma once

#include <algorithm>
#include <cstdint>

#include "backend/backend.hpp"
#include "backend/cpu/parallel.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace bnlab::cpu {

// f(n) for every sample n, the threads splitting the samples (each sample's cols rows, x values and output rows
// are touched by one thread only); the batch stays on one thread below 2^16 cols values per part.
template <class F>
void for_each_sample(const Conv2dShape& s, F&& f) {
  const std::int64_t per_sample = std::max<std::int64_t>(1, s.OH * s.OW * s.KH * s.KW * s.C);
  parallel_for(s.N, std::max<std::int64_t>(1, (std::int64_t{1} << 16) / per_sample),
               [&](std::int64_t, std::int64_t n0, std::int64_t n1) {
                 for (std::int64_t n = n0; n < n1; ++n) f(n);
               });
}

// Visits every kernel-row segment of sample n's cols block: f(seg, src, len) with seg the offset in the
// sample's block, src the offset of the matching x values in the whole batch (-1 for padding), len values.
template <class F>
void walk_nhwc_sample(const Conv2dShape& s, std::int64_t n, F& f) {
  using i64 = std::int64_t;
  const i64 C = s.C, R = s.KH * s.KW * C;
  for (i64 oh = 0; oh < s.OH; ++oh)
    for (i64 ow = 0; ow < s.OW; ++ow) {
      const i64 p = oh * s.OW + ow;
      const i64 iw0 = ow * s.SW - s.pad_left;
      for (i64 kh = 0; kh < s.KH; ++kh) {
        const i64 ih = oh * s.SH - s.pad_top + kh;
        const i64 seg = p * R + kh * s.KW * C;  // offset of (kh, kw = 0) in the sample's cols
        if (ih < 0 || ih >= s.H) {
          f(seg, static_cast<i64>(-1), s.KW * C);
          continue;
        }
        const i64 row = (n * s.H + ih) * s.W;  // x offset of (n, ih, 0) in pixels
        if (iw0 >= 0 && iw0 + s.KW <= s.W) {   // the whole kernel row is inside: one contiguous run
          f(seg, (row + iw0) * C, s.KW * C);
          continue;
        }
        for (i64 kw = 0; kw < s.KW; ++kw) {
          const i64 iw = iw0 + kw;
          f(seg + kw * C, iw < 0 || iw >= s.W ? static_cast<i64>(-1) : (row + iw) * C, C);
        }
      }
    }
}

// d[0, len) = src[0, len), or zeros when src is nullptr.
inline void copy_segment(float* d, const float* src, std::int64_t len) {
#if defined(__AVX512F__)
  if (len <= 16) {
    const auto m = static_cast<__mmask16>((1u << len) - 1u);
    _mm512_mask_storeu_ps(d, m, src ? _mm512_maskz_loadu_ps(m, src) : _mm512_setzero_ps());
    return;
  }
#endif
  if (!src)
    for (std::int64_t i = 0; i < len; ++i) d[i] = 0.0f;
  else
    for (std::int64_t i = 0; i < len; ++i) d[i] = src[i];
}

// d[0, len) += g[0, len).
inline void add_segment(float* d, const float* g, std::int64_t len) {
#if defined(__AVX512F__)
  if (len <= 16) {
    const auto m = static_cast<__mmask16>((1u << len) - 1u);
    _mm512_mask_storeu_ps(d, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d), _mm512_maskz_loadu_ps(m, g)));
    return;
  }
#endif
  for (std::int64_t i = 0; i < len; ++i) d[i] += g[i];
}

// Sample n's cols block (OH*OW, R) from the batch x.
inline void im2col_nhwc_sample(float* cols, const float* x, const Conv2dShape& s, std::int64_t n) {
  auto copy = [&](std::int64_t seg, std::int64_t src, std::int64_t len) {
    copy_segment(cols + seg, src < 0 ? nullptr : x + src, len);
  };
  walk_nhwc_sample(s, n, copy);
}

// Sample n's part of the batch dx, zeroed, then every entry of its dcols block (OH*OW, R) added back.
inline void col2im_nhwc_sample(float* dx, const float* dcols, const Conv2dShape& s, std::int64_t n) {
  const std::int64_t plane = s.H * s.W * s.C;
  std::fill(dx + n * plane, dx + (n + 1) * plane, 0.0f);
  auto add = [&](std::int64_t seg, std::int64_t src, std::int64_t len) {
    if (src >= 0) add_segment(dx + src, dcols + seg, len);  // padding has no gradient
  };
  walk_nhwc_sample(s, n, add);
}

}  // namespace bnlab::cpu
