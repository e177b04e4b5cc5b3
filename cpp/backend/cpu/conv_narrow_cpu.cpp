// conv_narrow_cpu.cpp — the convolution with narrow products as implicit GEMMs, sample by sample, in either layout.
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
// A 1x1 layer with a stride keeps only the pixels it reads (compacted()).
// The padded samples are the cache the backward reads: they take the place of the cols buffer, which is at
// least as large whenever use_cache_resident() holds.
// Channels-first (PyTorch) layers compute in the same channels-last form: the padding copy transposes each
// sample, the weight (K, C, KH, KW) is permuted to (KH*KW*C, K) once per call, and each sample's output, dout and
// dx are transposed between (K, OH*OW) and (OH*OW, K) in a per-thread block (cache-resident, a few tens of KB).
//
// dW and db are sums over the batch. The samples are cut into groups of a fixed size (a function of the shape
// only), each group's partial sums are formed by one thread in sample order, and the partials are added in
// group order: the result is the same at every thread count.
#include <algorithm>
#include <optional>
#include <vector>

#include "backend/cpu/conv_narrow.hpp"
#include "backend/cpu/im2col_nhwc.hpp"
#include "backend/cpu/narrow_gemm_cpu.hpp"
#include "backend/cpu/parallel.hpp"
#include "backend/cpu/scratch.hpp"
#include "backend/cpu/transpose_cpu.hpp"

namespace bnlab::cpu {
namespace {
using i64 = std::int64_t;
constexpr i64 kGroupRows = 2048;  // output pixels per partial-sum group of dW and db

// The tags of this file's per-thread scratch buffers (scratch.hpp).
struct SampleWork;     // one sample's padded copy or transposed gradient
struct OffsetTables;   // the implicit im2col's offsets
struct WeightCopy;     // the weight in the form a product reads
struct GroupPartials;  // the dW and db partials of the sample groups

// f(n, scratch) for every sample (for_each_sample's split), with the running thread's scratch of `floats`.
template <class F>
void per_sample(const Conv2dShape& s, i64 floats, F f) {
  for_each_sample(s, [&](i64 n) { f(n, floats > 0 ? thread_scratch<float, SampleWork>(floats) : nullptr); });
}

// A 1x1 convolution with a stride and no padding (a ResNet's downsampling shortcut) reads only every SH-th row
// and SW-th column: its copy keeps just those, (OH, OW, C), and is then read as a stride-1 layer's would be.
bool compacted(const Conv2dShape& s) {
  return s.KH == 1 && s.KW == 1 && (s.SH > 1 || s.SW > 1) && s.pad_top == 0 && s.pad_left == 0 &&
         (s.OH - 1) * s.SH < s.H && (s.OW - 1) * s.SW < s.W;  // no window lands in bottom or right padding
}

// The padded input's geometry: the rows and columns the windows reach, from the top-left padding on (the
// bottom/right padding, and input rows or columns a stride skips past the last window, are not needed).
i64 padded_h(const Conv2dShape& s) { return compacted(s) ? s.OH : (s.OH - 1) * s.SH + s.KH; }
i64 padded_w(const Conv2dShape& s) { return compacted(s) ? s.OW : (s.OW - 1) * s.SW + s.KW; }
i64 padded_plane(const Conv2dShape& s) { return padded_h(s) * padded_w(s) * s.C; }

// The offset tables of the implicit im2col (see the header), formed on the calling thread; grow-only.
struct Tables {
  const std::int32_t* pixel;  // (OH*OW)
  const std::int32_t* tap;    // (R)
};
Tables implicit_tables(const Conv2dShape& s) {
  const i64 pix = s.OH * s.OW, R = s.KH * s.KW * s.C, WP = padded_w(s);
  const i64 SH = compacted(s) ? 1 : s.SH, SW = compacted(s) ? 1 : s.SW;  // strides within the copy
  std::int32_t* pixel = thread_scratch<std::int32_t, OffsetTables>(pix + R);
  std::int32_t* tap = pixel + pix;
  for (i64 oh = 0; oh < s.OH; ++oh)
    for (i64 ow = 0; ow < s.OW; ++ow) pixel[oh * s.OW + ow] = static_cast<std::int32_t>((oh * SH * WP + ow * SW) * s.C);
  for (i64 kh = 0; kh < s.KH; ++kh)
    for (i64 kw = 0; kw < s.KW; ++kw)
      for (i64 c = 0; c < s.C; ++c)
        tap[(kh * s.KW + kw) * s.C + c] = static_cast<std::int32_t>((kh * WP + kw) * s.C + c);
  return {pixel, tap};
}

// Sample n of x into xp (HP, WP, C): xp[hp, wp, c] = x[n, hp - pt, wp - pl, c] (channels-last x (N, H, W, C)) or
// x[n, c, hp - pt, wp - pl] (channels-first x (N, C, H, W), transposed on the way), zero outside x.
void pad_sample(float* xp, const float* x, const Conv2dShape& s, i64 n) {
  const i64 HP = padded_h(s), WP = padded_w(s), C = s.C;
  if (compacted(s)) {  // xp[oh, ow, c] = x[n, oh*SH, ow*SW, c] (or x[n, c, oh*SH, ow*SW])
    if (s.channels_last) {
      for (i64 oh = 0; oh < HP; ++oh)
        for (i64 ow = 0; ow < WP; ++ow) {
          const float* src = x + ((n * s.H + oh * s.SH) * s.W + ow * s.SW) * C;
          std::copy(src, src + C, xp + (oh * WP + ow) * C);
        }
    } else {  // plane by plane, so that each read walks along one input row
      for (i64 c = 0; c < C; ++c)
        for (i64 oh = 0; oh < HP; ++oh) {
          const float* src = x + ((n * C + c) * s.H + oh * s.SH) * s.W;
          for (i64 ow = 0; ow < WP; ++ow) xp[(oh * WP + ow) * C + c] = src[ow * s.SW];
        }
    }
    return;
  }
  const i64 w_in = std::clamp<i64>(WP - s.pad_left, 0, s.W);  // input columns inside xp
  for (i64 hp = 0; hp < HP; ++hp) {
    float* d = xp + hp * WP * C;
    const i64 h = hp - s.pad_top;
    if (h < 0 || h >= s.H) {
      std::fill(d, d + WP * C, 0.0f);
      continue;
    }
    std::fill(d, d + s.pad_left * C, 0.0f);
    if (s.channels_last) {
      const float* src = x + ((n * s.H + h) * s.W) * C;
      std::copy(src, src + w_in * C, d + s.pad_left * C);
    } else {
      // the (C, w_in) block of row h, plane stride H*W, transposed into (w_in, C)
      transpose_matrix(d + s.pad_left * C, C, x + (n * C * s.H + h) * s.W, s.H * s.W, C, w_in);
    }
    std::fill(d + (s.pad_left + w_in) * C, d + WP * C, 0.0f);
  }
}

// The weight as the products read it, in a grow-only buffer of the calling thread (a channels-last kernel
// (KH, KW, C, K) is already kRK and is returned as it is):
//   kRK       W (R, K), r = (kh, kw, c): the forward's B;
//   kKR       W^T (K, R): the B of dcols = dout W^T;
//   kFlipped  Wf (KH*KW*K, C), Wf[(kh, kw, k), c] = W[KH-1-kh, KW-1-kw, c, k]: the B of the transposed
//             convolution that gives dx directly (conv2d_dinput_resident).
// A PyTorch weight (K, C, KH, KW) is read in its own order.
enum class WeightForm { kRK, kKR, kFlipped };
const float* weight_as(const float* weight, const Conv2dShape& s, WeightForm form) {
  if (s.channels_last && form == WeightForm::kRK) return weight;
  const i64 R = s.KH * s.KW * s.C, K = s.K, C = s.C;
  float* out = thread_scratch<float, WeightCopy>(R * K);
  auto put = [&](i64 k, i64 c, i64 kh, i64 kw, float v) {
    if (form == WeightForm::kFlipped) {
      out[(((s.KH - 1 - kh) * s.KW + (s.KW - 1 - kw)) * K + k) * C + c] = v;
      return;
    }
    const i64 r = (kh * s.KW + kw) * C + c;
    out[form == WeightForm::kKR ? k * R + r : r * K + k] = v;
  };
  if (s.channels_last) {
    for (i64 kh = 0; kh < s.KH; ++kh)
      for (i64 kw = 0; kw < s.KW; ++kw)
        for (i64 c = 0; c < C; ++c)
          for (i64 k = 0; k < K; ++k) put(k, c, kh, kw, weight[((kh * s.KW + kw) * C + c) * K + k]);
    return out;
  }
  const float* w = weight;
  for (i64 k = 0; k < K; ++k)
    for (i64 c = 0; c < C; ++c)
      for (i64 kh = 0; kh < s.KH; ++kh)
        for (i64 kw = 0; kw < s.KW; ++kw) put(k, c, kh, kw, *w++);
  return out;
}

// dx of a stride-1 layer as a convolution of dout: dx[ih, iw, c] = sum over (kh, kw, k) of
// dout[ih + pt - kh, iw + pl - kw, k] W[kh, kw, c, k] (dout outside its extent is 0). With kh' = KH-1-kh this is
// the forward's form, dout padded by pt' = KH-1-pt on top (pl' = KW-1-pl on the left, zeros past the bottom and
// right edges as far as the windows reach) and read with the flipped weight Wf: an implicit GEMM with a long
// inner dimension (KH*KW*K) and C narrow outputs, in place of dcols = dout W^T (inner dimension K only) and the
// col2im. The shape of that convolution, or std::nullopt where the layer keeps the dcols route (a stride, a
// padding as large as the kernel, fewer than 8 input channels, or products outside the narrow GEMM's range).
constexpr i64 kMinTransposedChannels = 8;
std::optional<Conv2dShape> transposed_shape(const Conv2dShape& s) {
  if (s.SH != 1 || s.SW != 1 || s.pad_top > s.KH - 1 || s.pad_left > s.KW - 1 || s.C < kMinTransposedChannels)
    return std::nullopt;
  Conv2dShape t = s;
  t.C = s.K, t.K = s.C, t.H = s.OH, t.W = s.OW, t.OH = s.H, t.OW = s.W;
  t.pad_top = s.KH - 1 - s.pad_top, t.pad_left = s.KW - 1 - s.pad_left;
  if (t.K > 128 || t.KH * t.KW * t.C > 1152 || t.OH * t.OW * std::max(t.KH * t.KW * t.C, t.K) >= (i64{1} << 31))
    return std::nullopt;
  return t;
}

}  // namespace

bool use_cache_resident(const Conv2dShape& s) {
  const i64 R = s.KH * s.KW * s.C, pix = s.OH * s.OW;
  return narrow_gemm_available() && s.K <= 128 && R <= 1152 &&
         padded_plane(s) <= pix * R &&             // the padded input fits in the cols buffer it replaces
         pix * std::max(R, s.K) < (i64{1} << 31);  // the offset tables are int32
}

void conv2d_forward_resident(float* out, float* saved_x, const float* inp, const float* weight, const float* bias,
                             const Conv2dShape& s) {
  const i64 R = s.KH * s.KW * s.C, K = s.K, pix = s.OH * s.OW, plane = padded_plane(s);
  const Tables t = implicit_tables(s);
  const float* w = weight_as(weight, s, WeightForm::kRK);
  per_sample(s, s.channels_last ? 0 : pix * K, [&](i64 n, float* scratch) {
    float* xp = saved_x + n * plane;
    pad_sample(xp, inp, s, n);
    float* on = s.channels_last ? out + n * pix * K : scratch;  // (pix, K)
    narrow_gemm(on, K, xp, t.pixel, t.tap, w, K, pix, K, R, bias, false);
    if (!s.channels_last) transpose_matrix(out + n * K * pix, pix, on, K, pix, K);  // (K, OH*OW)
  });
}

void conv2d_dweight_resident(float* dweight, float* dbias, const float* dout, const float* saved_x,
                             const Conv2dShape& s, bool accumulate) {
  const i64 R = s.KH * s.KW * s.C, K = s.K, pix = s.OH * s.OW, plane = padded_plane(s);
  const Tables t = implicit_tables(s);
  const i64 group = std::max<i64>(1, kGroupRows / std::max<i64>(pix, 1));  // samples per group
  const i64 groups = (s.N + group - 1) / group;
  const i64 part = R * K + K;                                         // one group's dW (R, K) then db (K)
  float* sums = thread_scratch<float, GroupPartials>(groups * part);  // the calling thread's, shared by the workers
  parallel_for(groups, 1, [&](i64, i64 g0, i64 g1) {
    float* dout_t = s.channels_last ? nullptr : thread_scratch<float, SampleWork>(pix * K);
    for (i64 g = g0; g < g1; ++g) {
      float* dw = sums + g * part;
      float* db = dw + R * K;
      std::fill(db, db + K, 0.0f);
      for (i64 n = g * group; n < std::min(s.N, (g + 1) * group); ++n) {
        const float* dn = dout + n * pix * K;  // (pix, K), or (K, pix) channels-first: transposed first
        if (!s.channels_last) {
          transpose_matrix(dout_t, K, dn, pix, K, pix);
          dn = dout_t;
        }
        narrow_gemm(dw, K, saved_x + n * plane, t.tap, t.pixel, dn, K, R, K, pix, nullptr, n > g * group);
        for (i64 p = 0; p < pix; ++p)
          for (i64 k = 0; k < K; ++k) db[k] += dn[p * K + k];
      }
    }
  });
  // The groups' partials summed in group order into group 0's, then added to dW and db once: for a channels-first
  // weight that one add is also the permutation from (R, K) to (K, C, KH, KW), run in its own index order.
  float* total = sums;
  for (i64 g = 1; g < groups; ++g) {
    const float* p = sums + g * part;
    for (i64 i = 0; i < part; ++i) total[i] += p[i];
  }
  if (!accumulate) {
    std::fill(dweight, dweight + R * K, 0.0f);
    if (dbias) std::fill(dbias, dbias + K, 0.0f);
  }
  if (groups == 0) return;  // an empty batch: nothing to add
  if (s.channels_last) {
    for (i64 i = 0; i < R * K; ++i) dweight[i] += total[i];
  } else {
    for (i64 k = 0; k < K; ++k)
      for (i64 c = 0; c < s.C; ++c)
        for (i64 kh = 0; kh < s.KH; ++kh)
          for (i64 kw = 0; kw < s.KW; ++kw)
            dweight[((k * s.C + c) * s.KH + kh) * s.KW + kw] += total[((kh * s.KW + kw) * s.C + c) * K + k];
  }
  if (dbias)
    for (i64 k = 0; k < K; ++k) dbias[k] += total[R * K + k];
}

void conv2d_dinput_resident(float* dinp, const float* dout, const float* weight, const Conv2dShape& s) {
  const i64 R = s.KH * s.KW * s.C, K = s.K, pix = s.OH * s.OW, plane = s.H * s.W * s.C;
  if (const std::optional<Conv2dShape> t = transposed_shape(s)) {  // see transposed_shape
    const i64 Rt = t->KH * t->KW * t->C, in_pix = s.H * s.W, padded = padded_plane(*t);
    const Tables tt = implicit_tables(*t);
    const float* wf = weight_as(weight, s, WeightForm::kFlipped);  // (KH*KW*K, C), formed before the parts start
    // Per thread: the padded dout (HP', WP', K), and channels-first also dx_n (H*W, C) before its transpose.
    per_sample(*t, padded + (s.channels_last ? 0 : in_pix * s.C), [&](i64 n, float* scratch) {
      pad_sample(scratch, dout, *t, n);  // channels-first dout (K, OH, OW) is transposed on the way
      float* dx = s.channels_last ? dinp + n * plane : scratch + padded;  // (H*W, C)
      narrow_gemm(dx, s.C, scratch, tt.pixel, tt.tap, wf, s.C, in_pix, s.C, Rt, nullptr, false);
      if (!s.channels_last) transpose_matrix(dinp + n * plane, in_pix, dx, s.C, in_pix, s.C);  // (C, H, W)
    });
    return;
  }
  const float* wt = weight_as(weight, s, WeightForm::kKR);  // W^T (K, R), the product's B, formed before the parts
  // Per thread: dcols (pix, R), and channels-first also dout_n^T (pix, K) and dx_n (H, W, C) before its transpose.
  const i64 extra = s.channels_last ? 0 : pix * K + plane;
  per_sample(s, pix * R + extra, [&](i64 n, float* scratch) {
    float* dcols = scratch;
    if (s.channels_last) {
      narrow_gemm_matrix(dcols, R, dout + n * pix * K, K, false, wt, R, pix, R, K, nullptr, false);
      col2im_nhwc_sample(dinp, dcols, s, n);
      return;
    }
    float* dout_t = scratch + pix * R;
    float* dx = dout_t + pix * K;
    transpose_matrix(dout_t, K, dout + n * K * pix, pix, K, pix);
    narrow_gemm_matrix(dcols, R, dout_t, K, false, wt, R, pix, R, K, nullptr, false);
    col2im_nhwc_sample(dx, dcols, s, 0);                                     // offsets of a one-sample batch
    transpose_matrix(dinp + n * plane, s.H * s.W, dx, s.C, s.H * s.W, s.C);  // (C, H, W)
  });
}

}  // namespace bnlab::cpu
