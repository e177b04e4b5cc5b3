// cpu_backend.cpp — the CPU Backend table: host memory (host_memory.cpp) plus the kernels of backend/cpu/.
// Registers itself at static-initialisation time; nothing else refers to this file.
#include <cstdlib>
#include <cstring>
#include <new>

#include "backend/cpu/host_memory.hpp"
#include "backend/cpu/kernels_cpu.hpp"

namespace bnlab::cpu {
// Shapes: kernel::Alloc (backend/kernels.hpp).
void* alloc(std::size_t bytes) { return host_alloc(bytes); }
void release(void* p) { host_release(p); }
void copy(void* dst, const void* src, std::size_t bytes) { std::memmove(dst, src, bytes); }
void copy_from_host(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes); }
void copy_to_host(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes); }
void fill(float* dst, float value, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = value;
}
void synchronize() {}

namespace {
const Backend kCpu = {.name = "cpu", BNLAB_KERNEL_TABLE};

struct Registrar {
  Registrar() { register_backend(Device::CPU, &kCpu); }
} registrar;
}  // namespace
}  // namespace bnlab::cpu
