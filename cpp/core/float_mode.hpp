// float_mode.hpp — how the engine's CPU threads treat denormal (subnormal) floats: flushed to zero (the default)
// or kept, IEEE-exact.
//
// A float32 below 2^-126 ~ 1.18e-38 is denormal. x86 cores handle an operation on one, or one whose result is one,
// in microcode: ~100 cycles instead of ~4, and a vector instruction with one such lane pays it too. Training makes
// them: Adam's moments of a unit whose gradient went to zero decay by beta per step (m *= 0.9, v *= 0.999) until they
// fall below 1.2e-38, and every later step works on them at the slow rate (seed 002's Adam pass went 0.39 -> 3.05 s
// per epoch over three epochs). Two bits of the SSE control register MXCSR (per thread) avoid it:
//   FTZ (flush to zero, bit 15): a result that would be denormal is written as +-0;
//   DAZ (denormals are zero, bit 6): a denormal input is read as +-0.
// Both change only values below 1.18e-38 in magnitude; every normal result keeps its bits. TensorFlow runs its
// kernels with both set; PyTorch keeps denormals unless torch.set_flush_denormal(True).
//
// The setting is process-wide. Every engine worker thread applies it when it takes a job, and the calling thread
// applies it for the duration of an engine call (FloatModeScope) and gets its own MXCSR back afterwards, so NumPy
// code between engine calls is not affected. OpenBLAS's own threads keep the mode they were created with.
// On CPUs other than x86-64 nothing is changed and flush_denormals_supported() is false.
#pragma once

namespace bnlab {

// True where the engine can flush denormals (x86-64: SSE's FTZ and DAZ bits).
bool flush_denormals_supported();
// Turns flushing on (the default) or off for every engine call from now on; returns the previous setting.
bool set_flush_denormals(bool on);
bool flush_denormals();

// Applies the setting to the calling thread for its lifetime and restores the thread's previous mode after.
class FloatModeScope {
 public:
  FloatModeScope();
  ~FloatModeScope();
  FloatModeScope(const FloatModeScope&) = delete;
  FloatModeScope& operator=(const FloatModeScope&) = delete;

 private:
  unsigned saved_ = 0;  // the thread's MXCSR before the scope
};

// Sets the calling thread's mode to the setting, with no restore: for the engine's own worker threads.
void apply_float_mode();

}  // namespace bnlab
