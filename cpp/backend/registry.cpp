// registry.cpp — the table of registered backends, filled by each backend's static initialiser.
#include <array>
#include <stdexcept>

#include "backend/backend.hpp"

namespace bnlab {
namespace {
std::array<const Backend*, kNumDevices>& table() {
  static std::array<const Backend*, kNumDevices> t{};  // function-local: safe during static init
  return t;
}
}  // namespace

void register_backend(Device device, const Backend* b) { table()[static_cast<int>(device)] = b; }

bool backend_available(Device device) { return table()[static_cast<int>(device)] != nullptr; }

const Backend& backend(Device device) {
  const Backend* b = table()[static_cast<int>(device)];
  if (!b)
    throw std::runtime_error("no backend for device '" + device_name(device) +
                             "': bnlab was built without it (BNLAB_CUDA), or no such device is present");
  return *b;
}

}  // namespace bnlab
