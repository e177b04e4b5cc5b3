// conv_narrow_cpu.cpp — the channels-last convolution with narrow products as implicit GEMMs, sample by sample.
//
// The im2col matrix of a small layer is 9x its input (a 3x3 kernel): for the lab CNN's second layer at batch 256,
// 29 MB, written by the forward and read twice by the backward, from DRAM; and for a grey-scale first layer its
// rows are 3-value copies, slower than the product itself. Here there is no im2col in the forward or in dW:
// the forward pads each sample once (xp, (HP, WP, C) with HP = H + pt + pb, WP = W + pl + pr) and narrow_gemm
// reads xp through two offset tables, so that a(pixel, tap) = xp[pixel_off[pixel] + tap_off[tap]] with
//   pixel_off[(oh, ow)] = ((oh*SH) * WP + ow*SW) * C      (the window's corner)
//   tap_off[(kh, kw, c)] = (kh * WP + kw) * C + c        (the tap's displacement from it)
//   forward   out_n = bias + A_n W          A_n (pixels, taps):  row table pixel_off, column table tap_off
//   dweight   dW_g += A_n^T dout_n           A_n^T (taps, pixels): row table tap_off, column table pixel_off
//             db_g += sum_p dout_n[p, :]
//   dinput    dcols_n = dout_n W^T (a per-thread block in L2), dx_n = col2im(dcols_n)
// The padded samples are the cache the backward reads: they take the place of the cols buffer, which is at
// least as large whenever use_cache_resident() holds.
//
// dW and db are sums over the batch. The samples are cut into groups of a fixed size (a function of the shape
// only), each group's partial sums are formed by one thread in sample order, and the partials are added in
// group order: the result is the same at every thread count.
#include <algorithm>
#include <vector>

#include "backend/cpu/conv_narrow.hpp"
#include "backend/cpu/im2col_nhwc.hpp"
#include "backend/cpu/narrow_gemm_cpu.hpp"
#include "backend/cpu/parallel.hpp"

namespace bnlab::cpu {
namespace {
using i64 = std::int64_t;
constexpr i64 kMinParallelValues = 1 << 16;  // cols values below which the batch stays on one thread
constexpr i64 kGroupRows = 2048;             // output pixels per partial-sum group of dW and db

// A grow-only per-thread buffer: after the first step of a shape, nothing is allocated.
float* thread_scratch(i64 n) {
  thread_local std::vector<float> buf;
  if (static_cast<i64>(buf.size()) < n) buf.resize(static_cast<std::size_t>(n));
  return buf.data();
}

// f(n, scratch) for every sample, the threads splitting the samples, each with its own scratch of `floats`.
template <class F>
void per_sample(const Conv2dShape& s, i64 floats, F f) {
  const i64 work = std::max<i64>(1, s.OH * s.OW * s.KH * s.KW * s.C);  // one sample's cols values
  parallel_for(s.N, std::max<i64>(1, kMinParallelValues / work), [&](i64, i64 n0, i64 n1) {
    float* scratch = floats > 0 ? thread_scratch(floats) : nullptr;
    for (i64 n = n0; n < n1; ++n) f(n, scratch);
  });
}

// The padded input's geometry: the rows and columns the windows reach, from the top-left padding on (the
// bottom/right padding, and input rows or columns a stride skips past the last window, are not needed).
i64 padded_h(const Conv2dShape& s) { return (s.OH - 1) * s.SH + s.KH; }
i64 padded_w(const Conv2dShape& s) { return (s.OW - 1) * s.SW + s.KW; }
i64 padded_plane(const Conv2dShape& s) { return padded_h(s) * padded_w(s) * s.C; }

// The offset tables of the implicit im2col (see the header), formed on the calling thread; grow-only.
struct Tables {
  const std::int32_t* pixel;  // (OH*OW)
  const std::int32_t* tap;    // (R)
};
Tables implicit_tables(const Conv2dShape& s) {
  thread_local std::vector<std::int32_t> buf;
  const i64 pix = s.OH * s.OW, R = s.KH * s.KW * s.C, WP = padded_w(s);
  if (static_cast<i64>(buf.size()) < pix + R) buf.resize(static_cast<std::size_t>(pix + R));
  std::int32_t* pixel = buf.data();
  std::int32_t* tap = buf.data() + pix;
  for (i64 oh = 0; oh < s.OH; ++oh)
    for (i64 ow = 0; ow < s.OW; ++ow)
      pixel[oh * s.OW + ow] = static_cast<std::int32_t>((oh * s.SH * WP + ow * s.SW) * s.C);
  for (i64 kh = 0; kh < s.KH; ++kh)
    for (i64 kw = 0; kw < s.KW; ++kw)
      for (i64 c = 0; c < s.C; ++c)
        tap[(kh * s.KW + kw) * s.C + c] = static_cast<std::int32_t>((kh * WP + kw) * s.C + c);
  return {pixel, tap};
}

// Sample n of x (N, H, W, C) into xp (HP, WP, C): xp[hp, wp] = x[n, hp - pt, wp - pl], zero outside x.
void pad_sample(float* xp, const float* x, const Conv2dShape& s, i64 n) {
  const i64 HP = padded_h(s), WP = padded_w(s), C = s.C;
  const i64 w_in = std::clamp<i64>(WP - s.pad_left, 0, s.W);  // input columns inside xp
  for (i64 hp = 0; hp < HP; ++hp) {
    float* d = xp + hp * WP * C;
    const i64 h = hp - s.pad_top;
    if (h < 0 || h >= s.H) {
      std::fill(d, d + WP * C, 0.0f);
      continue;
    }
    const float* src = x + ((n * s.H + h) * s.W) * C;
    std::fill(d, d + s.pad_left * C, 0.0f);
    std::copy(src, src + w_in * C, d + s.pad_left * C);
    std::fill(d + (s.pad_left + w_in) * C, d + WP * C, 0.0f);
  }
}
}  // namespace

bool use_cache_resident(const Conv2dShape& s) {
  const i64 R = s.KH * s.KW * s.C, pix = s.OH * s.OW;
  return s.channels_last && narrow_gemm_available() && s.K <= 128 && R <= 1152 &&
         padded_plane(s) <= pix * R &&             // the padded input fits in the cols buffer it replaces
         pix * std::max(R, s.K) < (i64{1} << 31);  // the offset tables are int32
}

void conv2d_forward_resident(float* out, float* saved_x, const float* inp, const float* weight, const float* bias,
                             const Conv2dShape& s) {
  const i64 R = s.KH * s.KW * s.C, K = s.K, pix = s.OH * s.OW, plane = padded_plane(s);
  const Tables t = implicit_tables(s);
  per_sample(s, 0, [&](i64 n, float*) {
    float* xp = saved_x + n * plane;
    pad_sample(xp, inp, s, n);
    narrow_gemm(out + n * pix * K, K, xp, t.pixel, t.tap, weight, K, pix, K, R, bias, false);
  });
}

void conv2d_dweight_resident(float* dweight, float* dbias, const float* dout, const float* saved_x,
                             const Conv2dShape& s, bool accumulate) {
  const i64 R = s.KH * s.KW * s.C, K = s.K, pix = s.OH * s.OW, plane = padded_plane(s);
  const Tables t = implicit_tables(s);
  const i64 group = std::max<i64>(1, kGroupRows / std::max<i64>(pix, 1));  // samples per group
  const i64 groups = (s.N + group - 1) / group;
  const i64 part = R * K + K;  // one group's dW (R, K) then db (K)
  thread_local std::vector<float> partials;
  if (static_cast<i64>(partials.size()) < groups * part) partials.resize(static_cast<std::size_t>(groups * part));
  float* sums = partials.data();  // named here: inside the parts, `partials` would be the worker's own
  parallel_for(groups, 1, [&](i64, i64 g0, i64 g1) {
    for (i64 g = g0; g < g1; ++g) {
      float* dw = sums + g * part;
      float* db = dw + R * K;
      std::fill(db, db + K, 0.0f);
      for (i64 n = g * group; n < std::min(s.N, (g + 1) * group); ++n) {
        const float* dn = dout + n * pix * K;
        narrow_gemm(dw, K, saved_x + n * plane, t.tap, t.pixel, dn, K, R, K, pix, nullptr, n > g * group);
        for (i64 p = 0; p < pix; ++p)
          for (i64 k = 0; k < K; ++k) db[k] += dn[p * K + k];
      }
    }
  });
  if (!accumulate) {
    std::fill(dweight, dweight + R * K, 0.0f);
    if (dbias) std::fill(dbias, dbias + K, 0.0f);
  }
  for (i64 g = 0; g < groups; ++g) {
    const float* dw = sums + g * part;
    for (i64 i = 0; i < R * K; ++i) dweight[i] += dw[i];
    if (dbias)
      for (i64 k = 0; k < K; ++k) dbias[k] += dw[R * K + k];
  }
}

void conv2d_dinput_resident(float* dinp, const float* dout, const float* weight, const Conv2dShape& s) {
  const i64 R = s.KH * s.KW * s.C, K = s.K, pix = s.OH * s.OW;
  // W^T (K, R) row-major as the product's B, and the tables of a plain row-major dout_n (pix, K); grow-only,
  // formed on the calling thread before the parts start.
  thread_local std::vector<float> wt;
  thread_local std::vector<std::int32_t> offs;
  if (static_cast<i64>(wt.size()) < R * K) wt.resize(static_cast<std::size_t>(R * K));
  if (static_cast<i64>(offs.size()) < pix + K) offs.resize(static_cast<std::size_t>(pix + K));
  for (i64 r = 0; r < R; ++r)
    for (i64 k = 0; k < K; ++k) wt[static_cast<std::size_t>(k * R + r)] = weight[r * K + k];
  for (i64 i = 0; i < pix; ++i) offs[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i * K);
  for (i64 k = 0; k < K; ++k) offs[static_cast<std::size_t>(pix + k)] = static_cast<std::int32_t>(k);
  const float* wtp = wt.data();
  const std::int32_t* rows = offs.data();
  const std::int32_t* cols = offs.data() + pix;
  per_sample(s, pix * R, [&](i64 n, float* dcols) {
    narrow_gemm(dcols, R, dout + n * pix * K, rows, cols, wtp, R, pix, R, K, nullptr, false);
    col2im_nhwc_sample(dinp, dcols, s, n);
  });
}

}  // namespace bnlab::cpu
