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
const Backend kCuda = {.name = "cuda", BNLAB_KERNEL_TABLE};

struct Registrar {
  Registrar() {
    // No driver, no device, or a driver too old for this runtime: stay unregistered, and keep the runtime's
    // reason for the error a user sees on asking for the device. cudaGetDeviceCount does not create a
    // context; the error it leaves behind is cleared so that nothing later sees it.
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaSuccess && count > 0) {
      register_backend(Device::CUDA, &kCuda);
      return;
    }
    (void)cudaGetLastError();
    const std::string why = e == cudaSuccess ? std::string("the CUDA runtime sees no GPU")
                                             : std::string("no usable GPU: ") + cudaGetErrorString(e);
    note_backend_unavailable(Device::CUDA, why.c_str());
  }
} registrar;
}  // namespace

}  // namespace bnlab::cuda
