// host_memory.hpp — the CPU backend's memory: 64-byte aligned blocks, with the large ones kept for reuse.
//
// An eager face (bnlab.torch) makes new output and cache tensors at every step, a few MB each for a CNN. From
// the C library, a block that large is a fresh mapping each time: the kernel zeroes and faults in every page on
// the first write, which cost the NCHW forward convolution a quarter of its time. So a released block of at
// least kMinCachedBytes goes into a small table instead (at most kSlots blocks, kMaxCachedBytes in all), and an
// allocation of the same rounded size takes it back: after the first step of a shape, nothing is mapped anew.
// Builds with AddressSanitizer keep nothing, so that a use after release is still caught.
#pragma once

#include <cstddef>

namespace bnlab::cpu {

void* host_alloc(std::size_t bytes);  // throws std::bad_alloc
void host_release(void* p);           // nullptr is ignored
std::size_t host_cached_bytes();      // held for reuse now
void host_release_cached();           // hands every kept block back to the C library
bool host_keeps_blocks();             // false in an AddressSanitizer build

}  // namespace bnlab::cpu
