// cuda_backend.cu — the CUDA Backend table and its registration, plus the backend's context (stream, cuBLAS
// handle, device properties). Registers itself at static-initialisation time only when a CUDA device is
// present; on a machine without one (or without a driver) it does nothing, silently, and bnlab runs on the CPU.
#include <cstdint>

#include "backend/cuda/cuda_common.cuh"

namespace bnlab::cuda {

const Context& context() {
  // Created on first use by a thread-safe magic static. Context is trivially destructible, so nothing runs at
  // exit: the stream and the handle stay valid for tensors freed during interpreter shutdown.
  static const Context ctx = [] {
    Context c{};
    int device = 0;
    BNLAB_CUDA_CHECK(cudaGetDevice(&device));
    BNLAB_CUDA_CHECK(cudaDeviceGetAttribute(&c.sm_count, cudaDevAttrMultiProcessorCount, device));
    int pools = 0;
    BNLAB_CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device));
    c.async_alloc = pools != 0;
    if (c.async_alloc) {
      // Keep freed blocks in the pool across synchronisations (the default threshold of 0 hands them back to
      // the driver at every cudaStreamSynchronize, and the next allocation maps them again).
      cudaMemPool_t pool;
      BNLAB_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
      std::uint64_t keep = UINT64_MAX;
      BNLAB_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    }
    // Non-blocking: the stream does not wait for the legacy default stream (nothing of ours runs there).
    BNLAB_CUDA_CHECK(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
    BNLAB_CUDA_CHECK(cublasCreate(&c.cublas));
    BNLAB_CUDA_CHECK(cublasSetStream(c.cublas, c.stream));
    // Plain FP32 GEMMs (no TF32), so that results agree with the CPU's sgemm to float rounding.
    BNLAB_CUDA_CHECK(cublasSetMathMode(c.cublas, CUBLAS_DEFAULT_MATH));
    return c;
  }();
  return ctx;
}

namespace {
const Backend kCuda = {
    .name = "cuda",
    .alloc = alloc,
    .release = release,
    .copy_from_host = copy_from_host,
    .copy_to_host = copy_to_host,
    .copy = copy,
    .fill = fill,
    .synchronize = synchronize,
    .dense_forward = dense_forward,
    .dense_backward = dense_backward,
    .batchnorm_forward_train = batchnorm_forward_train,
    .batchnorm_forward_infer = batchnorm_forward_infer,
    .batchnorm_backward = batchnorm_backward,
    .blend = blend,
    .groupnorm_forward = groupnorm_forward,
    .groupnorm_backward = groupnorm_backward,
    .batchrenorm_correct = batchrenorm_correct,
    .batchrenorm_param_grads = batchrenorm_param_grads,
    .activation_forward = activation_forward,
    .activation_backward = activation_backward,
    .dropout_forward = dropout_forward,
    .dropout_backward = dropout_backward,
    .xent = xent,
    .mse = mse,
    .accuracy = accuracy,
    .argmax_rows = argmax_rows,
    .sum = sum,
    .accumulate_sums = accumulate_sums,
    .gather_rows = gather_rows,
    .sgd_update = sgd_update,
    .adam_update = adam_update,
    .rmsprop_update = rmsprop_update,
};

struct Registrar {
  Registrar() {
    // No driver, no device, or a driver too old for this runtime: stay unregistered. cudaGetDeviceCount
    // does not create a context; the error it leaves behind is cleared so that nothing later sees it.
    int count = 0;
    if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0)
      register_backend(Device::CUDA, &kCuda);
    else
      (void)cudaGetLastError();
  }
} registrar;
}  // namespace

}  // namespace bnlab::cuda
