// conv_cpu.cpp — 2-D convolution on the CPU: im2col into the caller's cols buffer, then cblas_sgemm; a layer
// with narrow products (either layout) goes to the cache-resident implicit GEMM instead (conv_narrow_cpu.cpp).
//
// A convolution is a matrix product once every output pixel's receptive field is laid out as a row (or column)
// of a matrix: out[p, k] = sum_r cols[p, r] * W[r, k] with r = (kh, kw, c) ranging over R = KH*KW*C values.
//
// channels_last (Keras: x (N, H, W, C), W (KH, KW, C, K)): cols is (P = N*OH*OW, R), rows (n, oh, ow),
//   columns (kh, kw, c): the kernel flattened row-major is already W (R, K), and out (P, K) = cols @ W is the
//   (N, OH, OW, K) output. One GEMM for the whole batch.
//   Backward: dW (R, K) = cols^T @ dout,  db = sum_p dout[p, :],  dcols (P, R) = dout @ W^T, and dx is col2im of
//   dcols: every cols entry was a copy of one x value (or padding), so its gradient adds back to that value.
// channels_first (PyTorch: x (N, C, H, W), W (K, C, KH, KW)): cols[n] is (R, OH*OW), rows (c, kh, kw), and the
//   weight flattened row-major is W (K, R): out[n] (K, OH*OW) = W @ cols[n], one GEMM per sample.
//   Backward: dW (K, R) += dout[n] @ cols[n]^T,  dcols (R, OH*OW) = W^T @ dout[n],  dx[n] = col2im(dcols).
// Neither layout copies or transposes the weight; the transposes are the GEMM's flags.
#include <cblas.h>

#include <algorithm>
#include <chrono>

#include "backend/cpu/conv_narrow.hpp"
#include "backend/cpu/im2col_nhwc.hpp"
#include "backend/cpu/kernels_cpu.hpp"
#include "core/profile.hpp"

namespace bnlab::cpu {

GemmTally& conv_gemm_tally() {
  static GemmTally tally;
  return tally;
}

namespace {
using i64 = std::int64_t;

// Runs one of the convolution's products under the profiler and counts it in the tally.
template <class F>
void tallied(const char* phase, bool ta, bool tb, i64 m, i64 n, i64 k, F&& run) {
  if (m == 0 || n == 0) return;
  const profile::Scope timer({phase, m, n, k, ta ? 'T' : 'N', tb ? 'T' : 'N', 0, 0.0, 2.0 * m * n * k});
  const auto start = std::chrono::steady_clock::now();
  run();
  GemmTally& t = conv_gemm_tally();
  t.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  t.flops += 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  t.calls += 1;
}

// Row-major C (m, n) = alpha op(A) op(B) + beta C, counted in the tally.
void gemm(const char* phase, bool ta, bool tb, i64 m, i64 n, i64 k, const float* a, i64 lda, const float* b, i64 ldb,
          float beta, float* c, i64 ldc) {
  tallied(phase, ta, tb, m, n, k, [&] {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), 1.0f, a, static_cast<int>(lda), b, static_cast<int>(ldb),
                beta, c, static_cast<int>(ldc));
  });
}

// The outputs o in [0, count) whose input index o*stride + offset lies in [0, len): the range [lo, hi).
struct Range {
  i64 lo, hi;
};
Range inside(i64 offset, i64 stride, i64 len, i64 count) {
  const i64 lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const i64 hi = len - offset <= 0 ? 0 : std::min(count, (len - offset - 1) / stride + 1);
  return {std::min(lo, hi), hi};
}

void im2col_nhwc(float* cols, const float* x, const Conv2dShape& s) {
  const i64 rows = s.OH * s.OW * s.KH * s.KW * s.C;  // one sample's cols values
  for_each_sample(s, [&](i64 n) { im2col_nhwc_sample(cols + n * rows, x, s, n); });
}

void col2im_nhwc(float* dx, const float* dcols, const Conv2dShape& s) {
  const i64 rows = s.OH * s.OW * s.KH * s.KW * s.C;
  for_each_sample(s, [&](i64 n) { col2im_nhwc_sample(dx, dcols + n * rows, s, n); });
}

// ---- channels_first, one sample: cols (R, OH*OW), row (c, kh, kw) holds x[c, oh*SH - pt + kh, ow*SW - pl + kw]
// over (oh, ow); the ow range that lands inside the input is computed once per (kw). ----
template <bool kToCols>
void im2col_nchw_sample(float* cols, float* dx, const float* x, const float* dcols, const Conv2dShape& s) {
  for (i64 c = 0; c < s.C; ++c)
    for (i64 kh = 0; kh < s.KH; ++kh)
      for (i64 kw = 0; kw < s.KW; ++kw) {
        const i64 r = (c * s.KH + kh) * s.KW + kw;
        const Range w = inside(kw - s.pad_left, s.SW, s.W, s.OW);
        for (i64 oh = 0; oh < s.OH; ++oh) {
          const i64 ih = oh * s.SH - s.pad_top + kh;
          const i64 at = r * s.OH * s.OW + oh * s.OW;
          const bool row_inside = ih >= 0 && ih < s.H;
          const i64 base = (c * s.H + ih) * s.W - s.pad_left + kw;  // x index of (c, ih, ow*SW - pl + kw) at ow 0
          if constexpr (kToCols) {
            float* out = cols + at;
            if (!row_inside) {
              std::fill(out, out + s.OW, 0.0f);
              continue;
            }
            std::fill(out, out + w.lo, 0.0f);
            for (i64 ow = w.lo; ow < w.hi; ++ow) out[ow] = x[base + ow * s.SW];
            std::fill(out + w.hi, out + s.OW, 0.0f);
          } else {
            if (!row_inside) continue;
            const float* g = dcols + at;
            for (i64 ow = w.lo; ow < w.hi; ++ow) dx[base + ow * s.SW] += g[ow];
          }
        }
      }
}

i64 rows_per_pixel(const Conv2dShape& s) { return s.KH * s.KW * s.C; }
}  // namespace

// Shapes: kernel::Conv2dForward (backend/kernels.hpp).
void conv2d_forward(float* out, float* cols, const float* inp, const float* weight, const float* bias,
                    const Conv2dShape& s) {
  const i64 R = rows_per_pixel(s), K = s.K, pix = s.OH * s.OW, P = s.N * pix;
  const float beta = bias ? 1.0f : 0.0f;  // sgemm adds the product to the broadcast bias
  if (use_cache_resident(s)) {  // conv_narrow_cpu.cpp, either layout; the tally's time includes the padding copy
    tallied("conv.gemm.forward", false, false, P, K, R,
            [&] { conv2d_forward_resident(out, cols, inp, weight, bias, s); });
    return;
  }
  if (s.channels_last) {
    {
      const profile::Scope timer({"conv.im2col", P, R, 0, '-', '-', 0, 0.0, 0.0, 8.0 * P * R});
      im2col_nhwc(cols, inp, s);
    }
    if (bias) {
      const profile::Scope timer({"conv.bias", P, K, 0, '-', '-', 0, 0.0, 0.0, 4.0 * P * K});
      for (i64 p = 0; p < P; ++p) std::copy(bias, bias + K, out + p * K);
    }
    gemm("conv.gemm.forward", false, false, P, K, R, cols, R, weight, K, beta, out, K);
    return;
  }
  for (i64 n = 0; n < s.N; ++n) {
    float* cn = cols + n * R * pix;
    float* on = out + n * K * pix;
    {
      const profile::Scope timer({"conv.im2col", R, pix, 0, '-', '-', 0, 0.0, 0.0, 8.0 * R * pix});
      im2col_nchw_sample<true>(cn, nullptr, inp + n * s.C * s.H * s.W, nullptr, s);
    }
    if (bias) {
      const profile::Scope timer({"conv.bias", K, pix, 0, '-', '-', 0, 0.0, 0.0, 4.0 * K * pix});
      for (i64 k = 0; k < K; ++k) std::fill(on + k * pix, on + (k + 1) * pix, bias[k]);
    }
    gemm("conv.gemm.forward", false, false, K, pix, R, weight, R, cn, pix, beta, on, pix);
  }
}

// Shapes: kernel::Conv2dBackward (backend/kernels.hpp).
void conv2d_backward(float* dinp, float* dcols, float* dweight, float* dbias, const float* dout, const float* cols,
                     const float* weight, const Conv2dShape& s, bool accumulate) {
  const i64 R = rows_per_pixel(s), K = s.K, pix = s.OH * s.OW, P = s.N * pix;
  if (!accumulate) {
    std::fill(dweight, dweight + R * K, 0.0f);  // matters only for an empty batch: the first sgemm assigns
    if (dbias) std::fill(dbias, dbias + K, 0.0f);
  }
  const float keep = accumulate ? 1.0f : 0.0f;
  if (use_cache_resident(s)) {  // cols holds the forward's padded input; the dinput tally includes the col2im
    tallied("conv.gemm.dweight", true, false, R, K, P,
            [&] { conv2d_dweight_resident(dweight, dbias, dout, cols, s, accumulate); });
    if (dinp) tallied("conv.gemm.dinput", false, true, P, R, K, [&] { conv2d_dinput_resident(dinp, dout, weight, s); });
    return;
  }
  if (s.channels_last) {
    if (P > 0) gemm("conv.gemm.dweight", true, false, R, K, P, cols, R, dout, K, keep, dweight, K);  // dW = cols^T dout
    if (dbias) {
      const profile::Scope timer({"conv.dbias", P, K, 0, '-', '-', 0, 0.0, 0.0, 4.0 * P * K});
      for (i64 p = 0; p < P; ++p)
        for (i64 k = 0; k < K; ++k) dbias[k] += dout[p * K + k];
    }
    if (dinp) {
      gemm("conv.gemm.dinput", false, true, P, R, K, dout, K, weight, K, 0.0f, dcols, R);  // dcols = dout W^T
      const profile::Scope timer({"conv.col2im", P, R, 0, '-', '-', 0, 0.0, 0.0, 12.0 * P * R});
      col2im_nhwc(dinp, dcols, s);
    }
    return;
  }
  if (dinp) std::fill(dinp, dinp + s.N * s.C * s.H * s.W, 0.0f);
  for (i64 n = 0; n < s.N; ++n) {
    const float* dn = dout + n * K * pix;
    const float* cn = cols + n * R * pix;
    gemm("conv.gemm.dweight", false, true, K, R, pix, dn, pix, cn, pix, n == 0 ? keep : 1.0f, dweight,
         R);  // dW += dout[n] cols[n]^T
    if (dbias) {
      const profile::Scope timer({"conv.dbias", K, pix, 0, '-', '-', 0, 0.0, 0.0, 4.0 * K * pix});
      for (i64 k = 0; k < K; ++k) {
        float t = 0.0f;
        for (i64 q = 0; q < pix; ++q) t += dn[k * pix + q];
        dbias[k] += t;
      }
    }
    if (dinp) {
      gemm("conv.gemm.dinput", true, false, R, pix, K, weight, R, dn, pix, 0.0f, dcols, pix);  // dcols = W^T dout[n]
      const profile::Scope timer({"conv.col2im", R, pix, 0, '-', '-', 0, 0.0, 0.0, 12.0 * R * pix});
      im2col_nchw_sample<false>(nullptr, dinp + n * s.C * s.H * s.W, nullptr, dcols, s);
    }
  }
}

}  // namespace bnlab::cpu
