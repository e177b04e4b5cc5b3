// cpu_backend.cpp — the CPU Backend table: aligned host memory plus the kernels of backend/cpu/.
// Registers itself at static-initialisation time; nothing else refers to this file.
#include <cstdlib>
#include <cstring>
#include <new>

#include "backend/cpu/host_memory.hpp"
#include "backend/cpu/kernels_cpu.hpp"

namespace bnlab::cpu {
namespace {
void* alloc(std::size_t bytes) { return host_alloc(bytes); }  // host_memory.hpp: large blocks are reused
void release(void* p) { host_release(p); }
void copy(void* dst, const void* src, std::size_t bytes) { std::memmove(dst, src, bytes); }
void fill(float* dst, float value, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = value;
}
void synchronize() {}

const Backend kCpu = {
    .name = "cpu",
    .alloc = alloc,
    .release = release,
    .copy_from_host = copy,
    .copy_to_host = copy,
    .copy = copy,
    .fill = fill,
    .synchronize = synchronize,
    .dense_forward = dense_forward,
    .dense_backward = dense_backward,
    .batchnorm_forward_train = batchnorm_forward_train,
    .batchnorm_forward_infer = batchnorm_forward_infer,
    .batchnorm_backward = batchnorm_backward,
    .blend = blend,
    .conv2d_forward = conv2d_forward,
    .conv2d_backward = conv2d_backward,
    .max_pool2d_forward = max_pool2d_forward,
    .max_pool2d_backward = max_pool2d_backward,
    .avg_pool2d_forward = avg_pool2d_forward,
    .avg_pool2d_backward = avg_pool2d_backward,
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
  Registrar() { register_backend(Device::CPU, &kCpu); }
} registrar;
}  // namespace
}  // namespace bnlab::cpu
