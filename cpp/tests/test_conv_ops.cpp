// test_conv_ops.cpp — the 2-D window ops in C++: conv2d against a direct loop in both layouts (with strides and
// asymmetric padding), max pooling's argmax cache, and the argument checks' exceptions.
#include <gtest/gtest.h>

#include <stdexcept>

#include "ops/pool.hpp"
#include "test_helpers.hpp"

namespace bnlab::test {
namespace {

// out[n, oh, ow, k] by the definition, channels_last x (N, H, W, C) and w (KH, KW, C, K).
std::vector<double> direct_conv_nhwc(const Tensor& x, const Tensor& w, const ops::Window2d& win, std::int64_t OH,
                                     std::int64_t OW) {
  const std::int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  const std::int64_t KH = w.dim(0), KW = w.dim(1), K = w.dim(3);
  std::vector<double> out(static_cast<std::size_t>(N * OH * OW * K), 0.0);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t oh = 0; oh < OH; ++oh)
      for (std::int64_t ow = 0; ow < OW; ++ow)
        for (std::int64_t k = 0; k < K; ++k) {
          double acc = 0.0;
          for (std::int64_t a = 0; a < KH; ++a)
            for (std::int64_t b = 0; b < KW; ++b) {
              const std::int64_t ih = oh * win.stride_h - win.pad_top + a, iw = ow * win.stride_w - win.pad_left + b;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              for (std::int64_t c = 0; c < C; ++c)
                acc += static_cast<double>(x.f32()[((n * H + ih) * W + iw) * C + c]) *
                       w.f32()[((a * KW + b) * C + c) * K + k];
            }
          out[static_cast<std::size_t>(((n * OH + oh) * OW + ow) * K + k)] = acc;
        }
  return out;
}

TEST(ConvOps, ForwardMatchesTheDefinitionInBothLayouts) {
  const Tensor x = normal({2, 7, 6, 3}, 0.0f, 1.0f, 1), w = normal({3, 2, 3, 4}, 0.0f, 0.5f, 2);
  const ops::Window2d win{2, 1, 1, 2, 0, 1, true};  // strides (2, 1), padding (1, 2, 0, 1)
  Tensor out;
  ops::ConvCache cache;
  ops::conv2d_forward(out, cache, x, w, nullptr, win);
  ASSERT_EQ(out.shape(), (Shape{2, 4, 6, 4}));  // (7 + 3 - 3) / 2 + 1 = 4, (6 + 1 - 2) / 1 + 1 = 6
  EXPECT_TRUE(close(out, direct_conv_nhwc(x, w, win, 4, 6), 1e-5));

  // The same convolution channels-first: transpose x to (N, C, H, W) and w to (K, C, KH, KW).
  Tensor xc({2, 3, 7, 6}), wc({4, 3, 3, 2});
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t h = 0; h < 7; ++h)
      for (std::int64_t v = 0; v < 6; ++v)
        for (std::int64_t c = 0; c < 3; ++c)
          xc.f32()[((n * 3 + c) * 7 + h) * 6 + v] = x.f32()[((n * 7 + h) * 6 + v) * 3 + c];
  for (std::int64_t a = 0; a < 3; ++a)
    for (std::int64_t b = 0; b < 2; ++b)
      for (std::int64_t c = 0; c < 3; ++c)
        for (std::int64_t k = 0; k < 4; ++k)
          wc.f32()[((k * 3 + c) * 3 + a) * 2 + b] = w.f32()[((a * 2 + b) * 3 + c) * 4 + k];
  ops::Window2d first = win;
  first.channels_last = false;
  Tensor outc;
  ops::conv2d_forward(outc, cache, xc, wc, nullptr, first);
  ASSERT_EQ(outc.shape(), (Shape{2, 4, 4, 6}));
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t k = 0; k < 4; ++k)
      for (std::int64_t q = 0; q < 24; ++q)
        EXPECT_NEAR(outc.f32()[(n * 4 + k) * 24 + q], out.f32()[(n * 24 + q) * 4 + k], 1e-5);
}

TEST(ConvOps, MaxPoolRecordsTheWinnersIndexInItsPlane) {
  const Tensor x = make({1, 2, 2, 1}, {1.0f, 4.0f, 3.0f, 2.0f});
  Tensor out;
  ops::PoolCache cache;
  ops::max_pool2d_forward(out, cache, x, 2, 2, ops::Window2d{2, 2, 0, 0, 0, 0, true});
  EXPECT_EQ(out.f32()[0], 4.0f);
  EXPECT_EQ(cache.argmax.i32()[0], 1);
}

TEST(ConvOps, BadArgumentsThrowInvalidArgument) {
  const Tensor x = normal({1, 4, 4, 2}, 0.0f, 1.0f, 3), w = normal({3, 3, 2, 2}, 0.0f, 1.0f, 4);
  Tensor out;
  ops::ConvCache cache;
  EXPECT_THROW(ops::conv2d_forward(out, cache, x, w, nullptr, ops::Window2d{0, 1, 0, 0, 0, 0, true}),
               std::invalid_argument);
  EXPECT_THROW(ops::conv2d_forward(out, cache, x, w, nullptr, ops::Window2d{1, 1, -1, 0, 0, 0, true}),
               std::invalid_argument);
  EXPECT_THROW(ops::conv2d_forward(out, cache, normal({1, 4, 4, 3}, 0.0f, 1.0f, 5), w, nullptr, ops::Window2d{}),
               std::invalid_argument);
  EXPECT_THROW(ops::conv2d_forward(out, cache, normal({1, 2, 2, 2}, 0.0f, 1.0f, 6), w, nullptr, ops::Window2d{}),
               std::invalid_argument);
  ops::PoolCache pool;
  EXPECT_THROW(ops::max_pool2d_forward(out, pool, x, 2, 2, ops::Window2d{1, 1, 2, 0, 0, 0, true}),
               std::invalid_argument);
}

}  // namespace
}  // namespace bnlab::test
