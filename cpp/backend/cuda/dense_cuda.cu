// dense_cuda.cu — the dense (fully connected) op on the GPU: cuBLAS sgemm / sgemv on the backend's stream.
//
// cuBLAS is column-major. A row-major (R, C) matrix X with leading dimension C is, read column-major, the
// (C, R) matrix X^T with the same leading dimension. So every row-major product C = A B is computed as the
// column-major product C^T = B^T A^T, handing cuBLAS the same pointers with the operands swapped.
//
// Forward  out = inp @ W + b:       out^T (OUT, B) = W^T (OUT, IN) inp^T (IN, B).
// Backward dinp = dout @ W^T:       dinp^T (IN, B) = W (IN, OUT) dout^T (OUT, B).
//          dW = inp^T @ dout:       dW^T (OUT, IN) = dout^T (OUT, B) inp (B, IN).
//          db = sum_rows(dout):     db (OUT) = dout^T (OUT, B) ones (B)   (sgemv).
// With W stored (OUT, IN) (PyTorch), the same products with the transposition flags swapped.
#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {
namespace {
// out (B, OUT) = bias broadcast over rows: the starting C of the forward sgemm (beta = 1 adds the product).
__global__ void broadcast_rows_kernel(float* out,         // (B, OUT)
                                      const float* bias,  // (OUT)
                                      std::int64_t B, std::int64_t OUT) {
  const std::int64_t j = blockIdx.x * std::int64_t(kColTile) + threadIdx.x;
  if (j >= OUT) return;
  const float b = bias[j];
  for (std::int64_t r = blockIdx.y * std::int64_t(kRowTile) + threadIdx.y; r < B;
       r += std::int64_t(gridDim.y) * kRowTile)
    out[r * OUT + j] = b;
}

constexpr cublasOperation_t N = CUBLAS_OP_N, T = CUBLAS_OP_T;
}  // namespace

// Shapes: kernel::DenseForward (backend/kernels.hpp).
void dense_forward(float* out, const float* inp, const float* weight, const float* bias, std::int64_t B,
                   std::int64_t IN, std::int64_t OUT, bool weight_out_in) {
  if (B == 0 || OUT == 0) return;
  cublasHandle_t h = context().cublas;
  const float one = 1.0f;
  float beta = 0.0f;
  if (bias) {
    broadcast_rows_kernel<<<grid_2d(B, OUT), dim3(kColTile, kRowTile), 0, stream()>>>(out, bias, B, OUT);
    BNLAB_CUDA_CHECK_LAUNCH();
    beta = 1.0f;
  }
  if (IN == 0) {  // an empty product: out is the bias (or zeros), as sgemm with k = 0 would leave it
    if (!bias) BNLAB_CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(float) * B * OUT, stream()));
    return;
  }
  const int b = blas_int(B, "batch rows"), in = blas_int(IN, "input features"), o = blas_int(OUT, "output features");
  // out^T (OUT, B) = W^T (OUT, IN) inp^T (IN, B). W (IN, OUT) row-major is W^T column-major (ld OUT): no
  // transposition; W (OUT, IN) row-major is W'^T column-major (ld IN), so transpose it to get W' = W^T.
  if (weight_out_in)
    BNLAB_CUDA_CHECK(cublasSgemm(h, T, N, o, b, in, &one, weight, in, inp, in, &beta, out, o));
  else
    BNLAB_CUDA_CHECK(cublasSgemm(h, N, N, o, b, in, &one, weight, o, inp, in, &beta, out, o));
}

// Shapes: kernel::DenseBackward (backend/kernels.hpp).
void dense_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                    std::int64_t B, std::int64_t IN, std::int64_t OUT, bool weight_out_in, bool accumulate) {
  if (B == 0) {  // an empty batch: assigned gradients are zero, accumulated ones unchanged
    if (!accumulate) {
      if (IN * OUT > 0) BNLAB_CUDA_CHECK(cudaMemsetAsync(dweight, 0, sizeof(float) * IN * OUT, stream()));
      if (dbias && OUT > 0) BNLAB_CUDA_CHECK(cudaMemsetAsync(dbias, 0, sizeof(float) * OUT, stream()));
    }
    return;
  }
  cublasHandle_t h = context().cublas;
  const float one = 1.0f, zero = 0.0f;
  const float keep = accumulate ? 1.0f : 0.0f;  // beta = 0: cuBLAS does not read C, so no zeroing pass
  const int b = blas_int(B, "batch rows"), in = blas_int(IN, "input features"), o = blas_int(OUT, "output features");
  if (dinp && IN > 0) {
    // dinp^T (IN, B) = W (IN, OUT) dout^T (OUT, B); dout (B, OUT) row-major is dout^T column-major (ld OUT).
    if (OUT == 0)  // an empty product (cuBLAS rejects a leading dimension of 0)
      BNLAB_CUDA_CHECK(cudaMemsetAsync(dinp, 0, sizeof(float) * B * IN, stream()));
    else if (weight_out_in)  // W' (OUT, IN) row-major = W'^T = W column-major (ld IN)
      BNLAB_CUDA_CHECK(cublasSgemm(h, N, N, in, b, o, &one, weight, in, dout, o, &zero, dinp, in));
    else  // W (IN, OUT) row-major = W^T column-major (ld OUT): transpose
      BNLAB_CUDA_CHECK(cublasSgemm(h, T, N, in, b, o, &one, weight, o, dout, o, &zero, dinp, in));
  }
  if (IN > 0 && OUT > 0) {
    if (weight_out_in)  // dW' (OUT, IN) = dout^T inp;  column-major dW'^T (IN, OUT) = inp^T (IN, B) dout (B, OUT)
      BNLAB_CUDA_CHECK(cublasSgemm(h, N, T, in, o, b, &one, inp, in, dout, o, &keep, dweight, in));
    else  // dW (IN, OUT) = inp^T dout;  column-major dW^T (OUT, IN) = dout^T (OUT, B) inp (B, IN)
      BNLAB_CUDA_CHECK(cublasSgemm(h, N, T, o, in, b, &one, dout, o, inp, in, &keep, dweight, o));
  }
  if (dbias && OUT > 0)  // db (OUT) = dout^T (OUT, B) ones (B), column-major dout^T with ld OUT
    BNLAB_CUDA_CHECK(cublasSgemv(h, N, o, b, &one, dout, o, ones(B), 1, &keep, dbias, 1));
}

}  // namespace bnlab::cuda
