// cpu_settings.cpp — forwards the settings of cpu_settings.hpp to the CPU backend's own functions.
#include "ops/cpu_settings.hpp"

#include "backend/cpu/kernels_cpu.hpp"
#include "backend/cpu/narrow_gemm_cpu.hpp"
#include "backend/cpu/threads.hpp"

namespace bnlab::ops {

void set_num_threads(int n) { cpu::set_num_threads(n); }
int get_num_threads() { return cpu::get_num_threads(); }

void check_gemm_env() { cpu::check_gemm_env(); }
bool narrow_gemm_available() { return cpu::narrow_gemm_available(); }
bool set_narrow_gemm(bool on) { return cpu::set_narrow_gemm_enabled(on); }
std::int64_t narrow_gemm_matrix_columns() { return cpu::narrow_gemm_matrix_columns(); }

GemmTally conv_gemm_tally() {
  const cpu::GemmTally& t = cpu::conv_gemm_tally();
  return {t.seconds, t.flops, t.calls};
}
void reset_conv_gemm_tally() { cpu::conv_gemm_tally() = cpu::GemmTally{}; }

}  // namespace bnlab::ops
