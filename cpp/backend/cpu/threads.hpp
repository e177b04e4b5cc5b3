// threads.hpp — the CPU backend's thread count: OpenBLAS holds it; the worker pool (parallel.hpp) reads it.
#pragma once

namespace bnlab::cpu {
void set_num_threads(int n);
int get_num_threads();

// For its lifetime, runs OpenBLAS on one thread when `serial` and more are configured; restores the count after.
// For GEMMs too small to repay a fork/join of OpenBLAS's threads (see dense_cpu.cpp).
class SerialBlas {
 public:
  explicit SerialBlas(bool serial);
  ~SerialBlas();
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;

 private:
  int restore_ = 0;  // the thread count to restore, 0 when nothing was changed
};
}  // namespace bnlab::cpu
