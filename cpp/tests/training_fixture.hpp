// training_fixture.hpp — a small Keras-style model and data set for the tests of the C++ training loop
// (test_training.cpp, test_no_allocation.cpp): Flatten -> Dense(16, relu) -> BatchNorm -> [Dropout] ->
// Dense(K, softmax), Adam, sparse cross-entropy on probabilities (the fused softmax path).
#pragma once

#include <cmath>
#include <memory>
#include <random>

#include "nn/model.hpp"
#include "test_helpers.hpp"

namespace bnlab::test {

constexpr int kClasses = 4;
inline const Shape kSampleShape{3, 4};

// Kernels drawn from glorot_uniform with a fixed seed (build() leaves them at zero; the Python layer
// initialises them), biases zero. `norm` replaces the BatchNorm layer when given.
inline std::shared_ptr<nn::Sequential> make_mlp(bool dropout, unsigned seed = 5, nn::LayerPtr norm = nullptr) {
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<nn::Flatten>());
  m->add(std::make_shared<nn::Dense>(16, true, Act::Relu));
  m->add(norm ? norm : std::make_shared<nn::BatchNorm>(0, 0.99f, 1e-3f, true, true));
  if (dropout) m->add(std::make_shared<nn::Dropout>(0.25f, 7));
  m->add(std::make_shared<nn::Dense>(kClasses, true, Act::Softmax));
  m->build(kSampleShape, Device::CPU);
  std::mt19937 gen(seed);
  for (const nn::Param& p : m->trainable_params()) {
    if (p.name != "kernel") continue;
    const float limit = std::sqrt(6.0f / static_cast<float>(p.value->dim(0) + p.value->dim(1)));
    std::uniform_real_distribution<float> dist(-limit, limit);
    for (std::int64_t i = 0; i < p.value->numel(); ++i) p.value->f32()[i] = dist(gen);
  }
  m->compile(std::make_shared<nn::Adam>(1e-2f, 0.9f, 0.999f, 1e-7f, false, true, 0.0f),
             nn::LossSpec{nn::LossSpec::Kind::Xent, XentForm::SparseProbs, 1e-7f});
  return m;
}

// n samples of shape kSampleShape whose label is the argmax of four fixed projections (learnable).
struct Data {
  Tensor x, y;
};
inline Data make_data(std::int64_t n, unsigned seed) {
  Data d{normal({n, kSampleShape[0], kSampleShape[1]}, 0.0f, 1.0f, seed), Tensor({n}, Device::CPU, DType::I32)};
  const std::int64_t per = shape_numel(kSampleShape);
  for (std::int64_t i = 0; i < n; ++i) {
    const float* s = d.x.f32() + i * per;
    int best = 0;
    float best_v = -1e30f;
    for (int k = 0; k < kClasses; ++k) {
      float v = 0.0f;
      for (std::int64_t j = 0; j < per; ++j) v += s[j] * static_cast<float>(((j * 7 + k * 3) % 5) - 2);
      if (v > best_v) best_v = v, best = k;
    }
    d.y.i32()[i] = best;
  }
  return d;
}

}  // namespace bnlab::test
