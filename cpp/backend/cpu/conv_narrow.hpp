// conv_narrow.hpp — the cache-resident convolution (conv_narrow_cpu.cpp): no batch-sized im2col
// matrix: the products are implicit GEMMs (the backend's narrow GEMM reading a padded input), sample by sample.
// conv_cpu.cpp calls these when use_cache_resident(shape) holds; buffer shapes as in backend/kernels.hpp.
#pragma once

#include "backend/backend.hpp"

namespace bnlab::cpu {

// True for a layer (either layout) whose products suit narrow_gemm (at most 128 output channels, a receptive
// field of at most 1152 values) and whose cols buffer can hold the padded input.
bool use_cache_resident(const Conv2dShape& s);

// out (N, OH, OW, K) or (N, K, OH, OW) = bias + conv(inp, weight); saved_x (N, HP, WP, C) gets the padded,
// channels-last input for the backward.
void conv2d_forward_resident(float* out, float* saved_x, const float* inp, const float* weight, const float* bias,
                             const Conv2dShape& s);
// dweight (KH, KW, C, K) or (K, C, KH, KW) and dbias (K, or nullptr) accumulate (assigned unless accumulate) the
// batch's sums.
void conv2d_dweight_resident(float* dweight, float* dbias, const float* dout, const float* saved_x,
                             const Conv2dShape& s, bool accumulate);
// dinp (N, H, W, C) or (N, C, H, W) assigned.
void conv2d_dinput_resident(float* dinp, const float* dout, const float* weight, const Conv2dShape& s);

}  // namespace bnlab::cpu
