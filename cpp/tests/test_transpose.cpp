// test_transpose.cpp — the CPU backend's transpose_matrix (transpose_cpu.hpp) against the definition
// t[j * ldt + i] = a[i * lda + j], over shapes that exercise the full 16 x 16 blocks, both masked edges, one row,
// one column, and leading dimensions wider than the matrix (whose padding must stay untouched).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "backend/cpu/transpose_cpu.hpp"

namespace bnlab::test {
namespace {

struct Case {
  std::int64_t rows, cols, lda_pad, ldt_pad;
};

TEST(TransposeMatrix, MatchesTheDefinitionOnEveryShapeAndLeavesPaddingAlone) {
  const std::vector<Case> cases = {{1, 1, 0, 0},     {1, 37, 0, 0},  {1, 5, 3, 2},    {37, 1, 0, 0},  {16, 16, 0, 0},
                                   {17, 15, 0, 0},   {15, 17, 4, 1}, {3, 32, 0, 0},   {32, 3, 1, 5},  {128, 784, 0, 0},
                                   {784, 128, 0, 0}, {33, 47, 7, 9}, {64, 196, 0, 0}, {196, 32, 0, 0}};
  constexpr float kUnset = -12345.0f;
  for (const Case& c : cases) {
    const std::int64_t lda = c.cols + c.lda_pad, ldt = c.rows + c.ldt_pad;
    std::vector<float> a(static_cast<std::size_t>(c.rows * lda));
    for (std::size_t k = 0; k < a.size(); ++k) a[k] = static_cast<float>(k) * 0.5f - 7.0f;
    std::vector<float> t(static_cast<std::size_t>(c.cols * ldt), kUnset);
    cpu::transpose_matrix(t.data(), ldt, a.data(), lda, c.rows, c.cols);
    for (std::int64_t j = 0; j < c.cols; ++j)
      for (std::int64_t i = 0; i < ldt; ++i) {
        const float got = t[static_cast<std::size_t>(j * ldt + i)];
        const float want = i < c.rows ? a[static_cast<std::size_t>(i * lda + j)] : kUnset;
        ASSERT_EQ(got, want) << c.rows << "x" << c.cols << " lda " << lda << " ldt " << ldt << " at (" << j << ", " << i
                             << ")";
      }
  }
}

}  // namespace
}  // namespace bnlab::test
