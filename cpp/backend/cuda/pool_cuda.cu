// pool_cuda.cu — 2-D max and average pooling on the GPU, both layouts (the CPU's pool_cpu.cpp is the
// specification: windows clipped to the input, padding never a maximum, the divisor KH*KW or the clipped size).
//
// Forwards: one thread per output value. Backwards are gathers, one thread per INPUT value, summing the outputs
// whose windows contain it (rows oh with oh*SH - pt <= ih < oh*SH - pt + KH, columns alike): no atomics, a
// deterministic order, and no zeroing pass. Max pooling's input gets dy only from outputs whose argmax it is.
#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {
namespace {
using i64 = std::int64_t;

#define BNLAB_GRID_STRIDE(i, n) \
  for (i64 i = blockIdx.x * i64(blockDim.x) + threadIdx.x; i < (n); i += i64(gridDim.x) * blockDim.x)

// Element e of a (N, A, B, C) channels_last or (N, C, A, B) channels_first tensor: its (n, c, a, b).
struct Pos {
  i64 n, c, a, b;
};
__device__ Pos position(i64 e, i64 C, i64 A, i64 B, bool last) {
  if (last) return {e / (C * A * B), e % C, (e / (C * B)) % A, (e / C) % B};
  return {e / (C * A * B), (e / (A * B)) % C, (e / B) % A, e % B};
}
__device__ i64 plane_base(const Pos& p, const Conv2dShape& s) {  // input index of (n, c, 0, 0)
  return s.channels_last ? p.n * s.H * s.W * s.C + p.c : (p.n * s.C + p.c) * s.H * s.W;
}
__device__ i64 pixel_stride(const Conv2dShape& s) { return s.channels_last ? s.C : 1; }

struct Window {
  i64 h0, h1, w0, w1;
};
__device__ Window window(const Conv2dShape& s, i64 oh, i64 ow) {
  const i64 h = oh * s.SH - s.pad_top, w = ow * s.SW - s.pad_left;
  return {h > 0 ? h : 0, h + s.KH < s.H ? h + s.KH : s.H, w > 0 ? w : 0, w + s.KW < s.W ? w + s.KW : s.W};
}
__device__ float divisor(const Conv2dShape& s, const Window& win, bool count_include_pad) {
  return static_cast<float>(count_include_pad ? s.KH * s.KW : (win.h1 - win.h0) * (win.w1 - win.w0));
}
// The outputs along one axis whose windows contain input index i: [lo, hi).
__device__ void covering(i64 i, i64 pad, i64 kernel, i64 stride, i64 count, i64& lo, i64& hi) {
  const i64 t = i + pad;  // o*stride <= t < o*stride + kernel
  lo = t - kernel + 1 <= 0 ? 0 : (t - kernel + 1 + stride - 1) / stride;
  hi = t / stride + 1;
  if (hi > count) hi = count;
}

__global__ void max_forward_kernel(float* out, std::int32_t* argmax, const float* inp, i64 total, const Conv2dShape s) {
  BNLAB_GRID_STRIDE(e, total) {
    const Pos p = position(e, s.C, s.OH, s.OW, s.channels_last);
    const Window win = window(s, p.a, p.b);
    const float* x = inp + plane_base(p, s);
    const i64 ps = pixel_stride(s);
    float best = x[(win.h0 * s.W + win.w0) * ps];
    i64 at = win.h0 * s.W + win.w0;
    for (i64 h = win.h0; h < win.h1; ++h)
      for (i64 w = win.w0; w < win.w1; ++w) {
        const float v = x[(h * s.W + w) * ps];
        if (v > best || (isnan(v) && !isnan(best))) {
          best = v;
          at = h * s.W + w;
        }
      }
    out[e] = best;
    argmax[e] = static_cast<std::int32_t>(at);
  }
}

__global__ void avg_forward_kernel(float* out, const float* inp, i64 total, const Conv2dShape s,
                                   bool count_include_pad) {
  BNLAB_GRID_STRIDE(e, total) {
    const Pos p = position(e, s.C, s.OH, s.OW, s.channels_last);
    const Window win = window(s, p.a, p.b);
    const float* x = inp + plane_base(p, s);
    const i64 ps = pixel_stride(s);
    float acc = 0.0f;
    for (i64 h = win.h0; h < win.h1; ++h)
      for (i64 w = win.w0; w < win.w1; ++w) acc += x[(h * s.W + w) * ps];
    out[e] = acc / divisor(s, win, count_include_pad);
  }
}

// kMax: sum dy over covering outputs whose argmax is this input; otherwise dy / divisor over all covering ones.
template <bool kMax>
__global__ void pool_backward_kernel(float* dinp, const float* dout, const std::int32_t* argmax, i64 total,
                                     const Conv2dShape s, bool count_include_pad) {
  BNLAB_GRID_STRIDE(i, total) {
    const Pos p = position(i, s.C, s.H, s.W, s.channels_last);
    i64 oh0, oh1, ow0, ow1;
    covering(p.a, s.pad_top, s.KH, s.SH, s.OH, oh0, oh1);
    covering(p.b, s.pad_left, s.KW, s.SW, s.OW, ow0, ow1);
    const i64 me = p.a * s.W + p.b;
    float acc = 0.0f;
    for (i64 oh = oh0; oh < oh1; ++oh)
      for (i64 ow = ow0; ow < ow1; ++ow) {
        const i64 o =
            s.channels_last ? ((p.n * s.OH + oh) * s.OW + ow) * s.C + p.c : ((p.n * s.C + p.c) * s.OH + oh) * s.OW + ow;
        if constexpr (kMax) {
          if (argmax[o] == me) acc += dout[o];
        } else {
          acc += dout[o] / divisor(s, window(s, oh, ow), count_include_pad);
        }
      }
    dinp[i] = acc;
  }
}

i64 outputs(const Conv2dShape& s) { return s.N * s.C * s.OH * s.OW; }
i64 inputs(const Conv2dShape& s) { return s.N * s.C * s.H * s.W; }
}  // namespace

void max_pool2d_forward(float* out, std::int32_t* argmax, const float* inp, const Conv2dShape& s) {
  if (outputs(s) == 0) return;
  max_forward_kernel<<<grid_1d(outputs(s)), kThreads, 0, stream()>>>(out, argmax, inp, outputs(s), s);
  BNLAB_CUDA_CHECK_LAUNCH();
}

void max_pool2d_backward(float* dinp, const float* dout, const std::int32_t* argmax, const Conv2dShape& s) {
  if (inputs(s) == 0) return;
  pool_backward_kernel<true><<<grid_1d(inputs(s)), kThreads, 0, stream()>>>(dinp, dout, argmax, inputs(s), s, true);
  BNLAB_CUDA_CHECK_LAUNCH();
}

void avg_pool2d_forward(float* out, const float* inp, const Conv2dShape& s, bool count_include_pad) {
  if (outputs(s) == 0) return;
  avg_forward_kernel<<<grid_1d(outputs(s)), kThreads, 0, stream()>>>(out, inp, outputs(s), s, count_include_pad);
  BNLAB_CUDA_CHECK_LAUNCH();
}

void avg_pool2d_backward(float* dinp, const float* dout, const Conv2dShape& s, bool count_include_pad) {
  if (inputs(s) == 0) return;
  pool_backward_kernel<false>
      <<<grid_1d(inputs(s)), kThreads, 0, stream()>>>(dinp, dout, nullptr, inputs(s), s, count_include_pad);
  BNLAB_CUDA_CHECK_LAUNCH();
}

}  // namespace bnlab::cuda
