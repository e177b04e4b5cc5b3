// threads.cpp — sets and reads OpenBLAS's thread count; SerialBlas switches it to one thread around a call.
#include "backend/cpu/threads.hpp"

extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}

namespace bnlab::cpu {
void set_num_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int get_num_threads() { return openblas_get_num_threads(); }

SerialBlas::SerialBlas(bool serial) {
  if (!serial) return;
  const int threads = openblas_get_num_threads();
  if (threads <= 1) return;
  restore_ = threads;
  openblas_set_num_threads(1);  // a store in OpenBLAS's server; its workers stay up for the next large GEMM
}

SerialBlas::~SerialBlas() {
  if (restore_) openblas_set_num_threads(restore_);
}
}  // namespace bnlab::cpu
