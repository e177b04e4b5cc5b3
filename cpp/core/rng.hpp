// rng.hpp — a counter-based random number generator (SplitMix64 finaliser over (seed, counter)).
// Stateless: value i of stream (seed, counter) is a pure function, so CPU and CUDA can produce the same
// dropout masks and shuffles without sharing state, and runs are reproducible bit for bit.
#pragma once

#include <cstdint>

namespace bnlab {

#if defined(__CUDACC__)
#define BNLAB_HD __host__ __device__
#else
#define BNLAB_HD
#endif

BNLAB_HD inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// 64 random bits for element i of stream (seed, counter).
BNLAB_HD inline std::uint64_t random_bits(std::uint64_t seed, std::uint64_t counter, std::uint64_t i) {
  return mix64(mix64(seed ^ mix64(counter)) + i);
}

// Uniform float in [0, 1) with 24 random bits.
BNLAB_HD inline float random_uniform(std::uint64_t seed, std::uint64_t counter, std::uint64_t i) {
  return static_cast<float>(random_bits(seed, counter, i) >> 40) * (1.0f / 16777216.0f);
}

}  // namespace bnlab
