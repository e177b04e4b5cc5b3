// backend.hpp — the dispatch seam between device-generic ops and per-device kernels.
//
// A Backend is one table of plain function pointers per device: memory management plus every kernel that
// the ops in cpp/ops call, one pointer per entry of BNLAB_KERNELS. The signatures, with the shape of every
// buffer, are declared once, in kernels.hpp.
//
// Adding a backend means adding files: a translation unit that fills a Backend with BNLAB_KERNEL_TABLE and
// calls register_backend() from a static initialiser. No caller is edited. CPU files never include CUDA headers.
#pragma once

#include <string>

#include "backend/kernels.hpp"
#include "core/device.hpp"

namespace bnlab {

struct Backend {
  const char* name;
#define BNLAB_KERNEL_MEMBER(fn, Type) kernel::Type* fn;
  BNLAB_KERNELS(BNLAB_KERNEL_MEMBER)
#undef BNLAB_KERNEL_MEMBER
};

// A backend's kernels, declared in its own namespace (bnlab::cpu, bnlab::cuda) from the signatures:
// `kernel::DenseForward dense_forward;` and so on, one per entry.
#define BNLAB_DECLARE_KERNEL(fn, Type) kernel::Type fn;
#define BNLAB_DECLARE_KERNELS BNLAB_KERNELS(BNLAB_DECLARE_KERNEL)

// The designated initialisers of a table whose kernels are the functions of those names in scope:
//   const Backend kCpu = {.name = "cpu", BNLAB_KERNEL_TABLE};
#define BNLAB_KERNEL_ENTRY(fn, Type) .fn = fn,
#define BNLAB_KERNEL_TABLE BNLAB_KERNELS(BNLAB_KERNEL_ENTRY)

// Registry. A backend registers itself once at static-initialisation time; one that is built but cannot run
// (no driver, no device) says why instead, and backend() puts that reason in its error.
void register_backend(Device device, const Backend* backend);
void note_backend_unavailable(Device device, const char* why);
// The backend for a device; throws std::runtime_error naming the device when none is registered.
const Backend& backend(Device device);
bool backend_available(Device device);
// Why a built backend did not register (empty when it did, or when it was not built).
std::string backend_unavailable_reason(Device device);

}  // namespace bnlab
