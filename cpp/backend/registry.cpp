// registry.cpp — the table of registered backends, filled by each backend's static initialiser.
#include <array>
#include <stdexcept>
#include <string>

#include "backend/backend.hpp"

namespace bnlab {
namespace {
std::array<const Backend*, kNumDevices>& table() {
  static std::array<const Backend*, kNumDevices> t{};  // function-local: safe during static init
  return t;
}
std::array<std::string, kNumDevices>& reasons() {
  static std::array<std::string, kNumDevices> r{};
  return r;
}
}  // namespace

void register_backend(Device device, const Backend* b) { table()[static_cast<int>(device)] = b; }

void note_backend_unavailable(Device device, const char* why) { reasons()[static_cast<int>(device)] = why; }

std::string backend_unavailable_reason(Device device) { return reasons()[static_cast<int>(device)]; }

bool backend_available(Device device) { return table()[static_cast<int>(device)] != nullptr; }

const Backend& backend(Device device) {
  const Backend* b = table()[static_cast<int>(device)];
  if (!b) {
    const std::string& why = reasons()[static_cast<int>(device)];
    throw std::runtime_error("no backend for device '" + device_name(device) +
                             "': " + (why.empty() ? "bnlab was built without it (BNLAB_CUDA)" : why));
  }
  return *b;
}

}  // namespace bnlab
