// device.hpp — the devices a tensor can live on and the element types it can hold.
// Owns nothing else: every device-specific behaviour sits behind backend/backend.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace bnlab {

enum class Device : int { CPU = 0, CUDA = 1 };
constexpr int kNumDevices = 2;

enum class DType : int { F32 = 0, I32 = 1 };

inline std::size_t dtype_size(DType) { return 4; }  // both element types are 32-bit

inline std::string device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

}  // namespace bnlab
