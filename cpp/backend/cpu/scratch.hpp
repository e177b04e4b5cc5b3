// scratch.hpp — grow-only per-thread scratch buffers for the CPU kernels.
//
// A kernel that needs working memory asks for it here instead of allocating: each thread keeps one buffer per
// (element type, tag) that grows to the largest size asked for and never shrinks, so after the first step of
// a shape nothing is allocated. The tag is a type of the calling file's own (declared in its anonymous
// namespace), which gives each use its own buffer: two buffers a kernel holds at once never alias.
//
//   struct WeightCopy;                                    // the tag
//   float* w = thread_scratch<float, WeightCopy>(R * K);  // (R, K), valid until this thread asks again
#pragma once

#include <cstdint>
#include <vector>

namespace bnlab::cpu {

template <class T, class Tag>
T* thread_scratch(std::int64_t n) {
  thread_local std::vector<T> buf;
  if (static_cast<std::int64_t>(buf.size()) < n) buf.resize(static_cast<std::size_t>(n));
  return buf.data();
}

}  // namespace bnlab::cpu
