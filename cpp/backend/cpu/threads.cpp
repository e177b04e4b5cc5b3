// threads.cpp — sets and reads OpenBLAS's thread count.
#include "backend/cpu/threads.hpp"

extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}

namespace bnlab::cpu {
void set_num_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int get_num_threads() { return openblas_get_num_threads(); }
}  // namespace bnlab::cpu
