// conv_cuda.cu — 2-D convolution on the GPU: im2col on the device, then cuBLAS sgemm (the CPU's products,
// backend/cpu/conv_cpu.cpp, whose comment derives them).
//
// cuBLAS is column-major; a row-major (r, c) matrix is the column-major (c, r) matrix of its transpose, so the
// row-major product C = op(A) op(B) is issued as the column-major C^T = op(B)^T op(A)^T: the same pointers, the
// operands swapped, the transposition flags kept (see dense_cuda.cu).
// channels_last: one GEMM for the batch, out (P, K) = cols (P, R) W (R, K).
// channels_first: one strided-batched GEMM, out[n] (K, OH*OW) = W (K, R) cols[n] (R, OH*OW) with W shared; the
// backward goes sample by sample (dW sums over the batch; dcols holds one sample, as on the CPU).
// col2im is a gather (each input value sums the cols entries that copied it), so no atomics and the result is
// deterministic; every cols entry is one thread of im2col.
#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {
namespace {
using i64 = std::int64_t;

// Row-major C (m, n) = op(A) op(B) + beta C; `batch` products with the given strides (stride 0: shared).
void gemm(bool ta, bool tb, i64 m, i64 n, i64 k, const float* a, i64 lda, i64 stride_a, const float* b, i64 ldb,
          i64 stride_b, float beta, float* c, i64 ldc, i64 stride_c, i64 batch = 1) {
  if (m == 0 || n == 0 || batch == 0) return;
  const float one = 1.0f;
  const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int M = blas_int(m, "GEMM rows"), N = blas_int(n, "GEMM columns"), K = blas_int(k, "GEMM depth");
  const int LDA = blas_int(lda, "lda"), LDB = blas_int(ldb, "ldb"), LDC = blas_int(ldc, "ldc");
  if (batch == 1)
    BNLAB_CUDA_CHECK(cublasSgemm(context().cublas, opb, opa, N, M, K, &one, b, LDB, a, LDA, &beta, c, LDC));
  else
    BNLAB_CUDA_CHECK(cublasSgemmStridedBatched(context().cublas, opb, opa, N, M, K, &one, b, LDB, stride_b, a, LDA,
                                               stride_a, &beta, c, LDC, stride_c, blas_int(batch, "GEMM batch")));
}

#define BNLAB_GRID_STRIDE(i, n) \
  for (i64 i = blockIdx.x * i64(blockDim.x) + threadIdx.x; i < (n); i += i64(gridDim.x) * blockDim.x)

// cols entry -> the input index it copies, or -1 for padding. channels_last: entry (p, r) with p = (n, oh, ow),
// r = (kh, kw, c); channels_first: entry (n, r, q) with r = (c, kh, kw), q = (oh, ow).
__device__ i64 source_of(i64 e, const Conv2dShape s) {
  const i64 R = s.KH * s.KW * s.C, pix = s.OH * s.OW;
  i64 n, q, c, kh, kw;
  if (s.channels_last) {
    const i64 p = e / R, r = e % R;
    n = p / pix;
    q = p % pix;
    c = r % s.C;
    kw = (r / s.C) % s.KW;
    kh = r / (s.C * s.KW);
  } else {
    n = e / (R * pix);
    const i64 r = (e / pix) % R;
    q = e % pix;
    kw = r % s.KW;
    kh = (r / s.KW) % s.KH;
    c = r / (s.KW * s.KH);
  }
  const i64 ih = (q / s.OW) * s.SH - s.pad_top + kh, iw = (q % s.OW) * s.SW - s.pad_left + kw;
  if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) return -1;
  return s.channels_last ? ((n * s.H + ih) * s.W + iw) * s.C + c : ((n * s.C + c) * s.H + ih) * s.W + iw;
}

__global__ void im2col_kernel(float* cols, const float* x, i64 total, const Conv2dShape s) {
  BNLAB_GRID_STRIDE(e, total) {
    const i64 src = source_of(e, s);
    cols[e] = src < 0 ? 0.0f : x[src];
  }
}

// dx[input i] = sum of dcols over the entries that copied i: for kernel offset kh, the output row oh with
// oh*SH - pt + kh = ih, i.e. oh = (ih + pt - kh) / SH when that divides exactly and 0 <= oh < OH (columns alike).
__global__ void col2im_kernel(float* dx, const float* dcols, i64 total, const Conv2dShape s) {
  const i64 R = s.KH * s.KW * s.C, pix = s.OH * s.OW;
  BNLAB_GRID_STRIDE(i, total) {
    i64 n, c, ih, iw;
    if (s.channels_last) {
      c = i % s.C;
      iw = (i / s.C) % s.W;
      ih = (i / (s.C * s.W)) % s.H;
      n = i / (s.C * s.W * s.H);
    } else {
      iw = i % s.W;
      ih = (i / s.W) % s.H;
      c = (i / (s.W * s.H)) % s.C;
      n = i / (s.W * s.H * s.C);
    }
    float acc = 0.0f;
    for (i64 kh = 0; kh < s.KH; ++kh) {
      const i64 th = ih + s.pad_top - kh;
      if (th < 0 || th % s.SH != 0 || th / s.SH >= s.OH) continue;
      const i64 oh = th / s.SH;
      for (i64 kw = 0; kw < s.KW; ++kw) {
        const i64 tw = iw + s.pad_left - kw;
        if (tw < 0 || tw % s.SW != 0 || tw / s.SW >= s.OW) continue;
        const i64 q = oh * s.OW + tw / s.SW;
        acc += s.channels_last ? dcols[(n * pix + q) * R + (kh * s.KW + kw) * s.C + c]
                               : dcols[(n * R + (c * s.KH + kh) * s.KW + kw) * pix + q];
      }
    }
    dx[i] = acc;
  }
}

// out (G, K, Q) = bias[k] (channels_last is G = N*OH*OW, Q = 1; channels_first G = N, Q = OH*OW).
__global__ void broadcast_bias_kernel(float* out, const float* bias, i64 total, i64 K, i64 Q) {
  BNLAB_GRID_STRIDE(i, total) out[i] = bias[(i / Q) % K];
}

// dbias[k] (+)= sum over g, q of dout (G, K, Q): one block per channel (channels first: G = N, Q = OH*OW).
__global__ void channel_sum_kernel(float* dbias, const float* dout, i64 G, i64 K, i64 Q, bool accumulate) {
  const i64 k = blockIdx.x;
  float s = 0.0f;
  for (i64 j = threadIdx.x; j < G * Q; j += blockDim.x) s += dout[((j / Q) * K + k) * Q + j % Q];
  __shared__ float part[kThreads / 32];
  s = warp_sum(s);
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x < 32) {
    s = threadIdx.x < kThreads / 32 ? part[threadIdx.x] : 0.0f;
    s = warp_sum(s);
    if (threadIdx.x == 0) dbias[k] = accumulate ? dbias[k] + s : s;
  }
}
}  // namespace

// Shapes: kernel::Conv2dForward (backend/kernels.hpp).
void conv2d_forward(float* out, float* cols, const float* inp, const float* weight, const float* bias,
                    const Conv2dShape& s) {
  const i64 R = s.KH * s.KW * s.C, K = s.K, pix = s.OH * s.OW, P = s.N * pix;
  if (P == 0) return;
  im2col_kernel<<<grid_1d(P * R), kThreads, 0, stream()>>>(cols, inp, P * R, s);
  BNLAB_CUDA_CHECK_LAUNCH();
  if (bias) {
    broadcast_bias_kernel<<<grid_1d(P * K), kThreads, 0, stream()>>>(out, bias, P * K, K, s.channels_last ? 1 : pix);
    BNLAB_CUDA_CHECK_LAUNCH();
  }
  const float beta = bias ? 1.0f : 0.0f;
  if (s.channels_last)
    gemm(false, false, P, K, R, cols, R, 0, weight, K, 0, beta, out, K, 0);
  else
    gemm(false, false, K, pix, R, weight, R, 0, cols, pix, R * pix, beta, out, pix, K * pix, s.N);
}

// Shapes: kernel::Conv2dBackward (backend/kernels.hpp).
void conv2d_backward(float* dinp, float* dcols, float* dweight, float* dbias, const float* dout, const float* cols,
                     const float* weight, const Conv2dShape& s, bool accumulate) {
  const i64 R = s.KH * s.KW * s.C, K = s.K, pix = s.OH * s.OW, P = s.N * pix;
  const float keep = accumulate ? 1.0f : 0.0f, unit = 1.0f;
  if (P == 0) {  // an empty batch: assigned gradients are zero, accumulated ones unchanged
    if (!accumulate) {
      BNLAB_CUDA_CHECK(cudaMemsetAsync(dweight, 0, sizeof(float) * R * K, stream()));
      if (dbias) BNLAB_CUDA_CHECK(cudaMemsetAsync(dbias, 0, sizeof(float) * K, stream()));
    }
    return;
  }
  if (dbias && s.channels_last) {
    // db (K) = dout^T (K, P) ones (P): dout (P, K) row-major is column-major (K, P) with ld K, read along its
    // rows by cuBLAS (coalesced), as the dense layer's db. A block per channel would stride by K.
    BNLAB_CUDA_CHECK(cublasSgemv(context().cublas, CUBLAS_OP_N, blas_int(K, "channels"), blas_int(P, "pixels"), &unit,
                                 dout, blas_int(K, "channels"), ones(P), 1, &keep, dbias, 1));
  } else if (dbias) {  // channels first: each (n, k) plane is contiguous, and a block reads its channel's planes
    channel_sum_kernel<<<static_cast<unsigned>(K), kThreads, 0, stream()>>>(dbias, dout, s.N, K, pix, accumulate);
    BNLAB_CUDA_CHECK_LAUNCH();
  }
  if (s.channels_last) {
    gemm(true, false, R, K, P, cols, R, 0, dout, K, 0, keep, dweight, K, 0);  // dW = cols^T dout
    if (!dinp) return;
    gemm(false, true, P, R, K, dout, K, 0, weight, K, 0, 0.0f, dcols, R, 0);  // dcols = dout W^T
    const i64 total = s.N * s.C * s.H * s.W;
    col2im_kernel<<<grid_1d(total), kThreads, 0, stream()>>>(dinp, dcols, total, s);
    BNLAB_CUDA_CHECK_LAUNCH();
    return;
  }
  Conv2dShape one = s;  // channels_first: dcols holds one sample, (R, OH*OW)
  one.N = 1;
  const i64 sample = s.C * s.H * s.W;
  for (i64 n = 0; n < s.N; ++n) {
    const float* dn = dout + n * K * pix;
    // dW += dout[n] cols[n]^T: the batch sums into one matrix
    gemm(false, true, K, R, pix, dn, pix, 0, cols + n * R * pix, pix, 0, n == 0 ? keep : 1.0f, dweight, R, 0);
    if (!dinp) continue;
    gemm(true, false, R, pix, K, weight, R, 0, dn, pix, 0, 0.0f, dcols, pix, 0);  // dcols = W^T dout[n]
    col2im_kernel<<<grid_1d(sample), kThreads, 0, stream()>>>(dinp + n * sample, dcols, sample, one);
    BNLAB_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace bnlab::cuda
