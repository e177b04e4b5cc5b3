// threads.hpp — the CPU backend's thread count (OpenBLAS's pool; every other CPU kernel is single-threaded).
#pragma once

namespace bnlab::cpu {
void set_num_threads(int n);
int get_num_threads();
}  // namespace bnlab::cpu
