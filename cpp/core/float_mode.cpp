// float_mode.cpp — the process-wide denormal setting and the MXCSR writes that apply it (float_mode.hpp).
#include "core/float_mode.hpp"

#include <atomic>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define BNLAB_HAS_MXCSR 1
#else
#define BNLAB_HAS_MXCSR 0
#endif

namespace bnlab {
namespace {
std::atomic<bool> g_flush{true};
constexpr unsigned kFtz = 1u << 15;  // MXCSR.FTZ: denormal results written as zero
constexpr unsigned kDaz = 1u << 6;   // MXCSR.DAZ: denormal inputs read as zero

#if BNLAB_HAS_MXCSR
unsigned with_setting(unsigned csr) {
  return g_flush.load(std::memory_order_relaxed) ? (csr | kFtz | kDaz) : (csr & ~(kFtz | kDaz));
}
void write_if_changed(unsigned before, unsigned after) {
  if (after != before) _mm_setcsr(after);  // ldmxcsr is slower than a read: skip it when nothing changes
}
#endif
}  // namespace

bool flush_denormals_supported() { return BNLAB_HAS_MXCSR != 0; }

bool set_flush_denormals(bool on) { return g_flush.exchange(on); }

bool flush_denormals() { return g_flush.load(); }

FloatModeScope::FloatModeScope() {
#if BNLAB_HAS_MXCSR
  saved_ = _mm_getcsr();
  write_if_changed(saved_, with_setting(saved_));
#endif
}

FloatModeScope::~FloatModeScope() {
#if BNLAB_HAS_MXCSR
  // Only the two mode bits go back: the exception flags raised during the call stay, as they would without us.
  const unsigned now = _mm_getcsr();
  write_if_changed(now, (now & ~(kFtz | kDaz)) | (saved_ & (kFtz | kDaz)));
#endif
}

void apply_float_mode() {
#if BNLAB_HAS_MXCSR
  const unsigned csr = _mm_getcsr();
  write_if_changed(csr, with_setting(csr));
#endif
}

}  // namespace bnlab
