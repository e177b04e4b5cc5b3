// model.hpp — the Sequential model and its training loop, entirely in C++.
//
// train_epoch runs a whole epoch: shuffle (a counter-based permutation from (seed, epoch)), gather each
// batch into preallocated buffers, forward, loss, backward, optimizer update, and the running metrics.
// Every buffer is sized on the first step (and when a batch grows), so steady state allocates nothing.
// The optional callback runs after each batch; the bindings release the GIL around the whole epoch and
// re-acquire it only inside the callback.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "nn/layers.hpp"
#include "nn/optimizer.hpp"

namespace bnlab::nn {

struct LossSpec {
  enum class Kind { Xent, MSE } kind = Kind::Xent;
  XentForm form = XentForm::SparseProbs;
  float epsilon = 1e-7f;  // Keras's backend epsilon, the clip of probabilities
};

// Running per-sample means over the batches seen so far.
struct Metrics {
  double loss_sum = 0.0, correct = 0.0;
  std::int64_t samples = 0, batches = 0;
  bool stopped = false;  // the callback asked to stop
  double loss() const { return samples ? loss_sum / static_cast<double>(samples) : 0.0; }
  double accuracy() const { return samples ? correct / static_cast<double>(samples) : 0.0; }
};

// Called after each batch with (batch index, metrics so far); returns true to stop the loop.
using BatchCallback = std::function<bool(std::int64_t, const Metrics&)>;

class Sequential {
 public:
  void add(LayerPtr layer);
  Shape build(const Shape& input_shape, Device device);
  bool built() const { return built_; }
  const Shape& input_shape() const { return input_shape_; }
  Device device() const { return device_; }

  void compile(std::shared_ptr<Optimizer> optimizer, LossSpec loss);
  const Tensor& forward(const Tensor& x, bool training);
  // One training step on a batch; updates `m`.
  void train_step(const Tensor& xb, const Tensor& yb, Metrics& m);
  // Loss and accuracy of a batch in inference mode; updates `m`.
  void test_step(const Tensor& xb, const Tensor& yb, Metrics& m);

  // x (n, input_shape...) float32; y (n) int32 labels or (n, K) float32 targets, on the model's device.
  // drop_last skips the final partial batch (tf.data's drop_remainder); otherwise it is kept, as Keras does.
  Metrics train_epoch(const Tensor& x, const Tensor& y, std::int64_t batch_size, bool shuffle, std::uint64_t seed,
                      std::uint64_t epoch, const BatchCallback& callback, bool drop_last = false);
  Metrics evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size, const BatchCallback& callback);
  // out (n, output...) = inference-mode outputs, batch by batch.
  void predict(Tensor& out, const Tensor& x, std::int64_t batch_size);

  std::vector<Param> trainable_params();
  std::vector<LayerPtr> layers;

 private:
  void check_data(const Tensor& x, const Tensor& y, std::int64_t batch_size) const;
  void loss_and_grad(const Tensor& out, const Tensor& yb, Metrics& m, bool with_grad);

  bool built_ = false;
  Shape input_shape_, output_shape_;
  Device device_ = Device::CPU;
  std::shared_ptr<Optimizer> optimizer_;
  LossSpec loss_;
  std::vector<Param> params_;          // cached by compile()
  std::vector<std::int64_t> order_;    // (n) sample order of the current epoch
  Tensor xb_, yb_;                     // (B, input...), (B) or (B, K): the current batch
  Tensor loss_rows_, correct_, grad_;  // (B), (B), (B, K)
  bool fused_softmax_ = false;         // the loss gradient is taken w.r.t. the final softmax's input
};

}  // namespace bnlab::nn
