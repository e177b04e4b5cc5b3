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

// Running per-sample means over the batches seen so far. The sums are kept on the model's device while an
// epoch runs (no host sync per step); a Metrics value holds them once read back.
struct Metrics {
  double loss_sum = 0.0, correct = 0.0;
  std::int64_t samples = 0, batches = 0;
  bool stopped = false;  // the callback asked to stop
  double loss() const { return samples ? loss_sum / static_cast<double>(samples) : 0.0; }
  double accuracy() const { return samples ? correct / static_cast<double>(samples) : 0.0; }
};

class Sequential;
// What a batch callback gets: the batch counters, and read() for the loss and accuracy so far. read() copies
// the device's running sums back to the host, which on a GPU waits for every queued step: call it only when
// the numbers are shown (a progress bar redraws a few times a second), not after every batch.
class MetricsProbe {
 public:
  MetricsProbe(const Sequential& model, const Metrics& counts) : model_(model), counts_(counts) {}
  std::int64_t batches() const { return counts_.batches; }
  Metrics read() const;

 private:
  const Sequential& model_;
  const Metrics& counts_;
};

// Called after each batch with (batch index, probe); returns true to stop the loop.
using BatchCallback = std::function<bool(std::int64_t, const MetricsProbe&)>;

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
  // Run each BatchNormalization that is directly followed by Activation('relu') as one fused layer (the same
  // results; one pass less over the activations each way). On by default; off shows the unfused cost.
  bool fuse_bn_relu = true;
  // The indices of the BatchNorm layers that run fused with the ReLU after them (empty when fuse_bn_relu is off).
  std::vector<std::int64_t> fused_bn_relu_layers() const;
  // `counts` completed with the loss and correct-prediction sums read from the device.
  Metrics read_metrics(const Metrics& counts) const;

 private:
  void check_data(const Tensor& x, const Tensor& y, std::int64_t batch_size) const;
  void loss_and_grad(const Tensor& out, const Tensor& yb, Metrics& m, bool with_grad);

  bool built_ = false;
  Shape input_shape_, output_shape_;
  Device device_ = Device::CPU;
  std::shared_ptr<Optimizer> optimizer_;
  LossSpec loss_;
  std::vector<Param> params_;         // cached by compile(), and again when a layer's params() changes
  std::uint64_t params_version_ = 0;  // the sum of the layers' params_version() that params_ reflects
  std::uint64_t layers_params_version() const;
  void refresh_params();  // params_, params_version_ and first_trained_layer_ from the layers as they are now
  std::size_t first_trained_layer_ = 0;  // the backward runs layers [first_trained_layer_, end); set by compile()
  // Rewrites order_ for (shuffle, seed, epoch) and uploads it to order_dev_.
  void set_order(std::int64_t n, bool shuffle, std::uint64_t seed, std::uint64_t epoch);
  // Runs `step` over the batches of order_dev_ [0, n) with running sums reset; the shared epoch loop.
  template <typename Step>
  Metrics run_batches(const Tensor& x, const Tensor& y, std::int64_t n, std::int64_t batch_size,
                      const BatchCallback& callback, Step step);

  std::vector<std::int32_t> order_;    // (n) sample order of the current epoch, on the host
  Tensor order_dev_;                   // (n) int32, the same on the model's device
  ops::DeviceSums sums_;               // (2) running loss and correct sums on the model's device
  Tensor xb_, yb_;                     // (B, input...), (B) or (B, K): the current batch
  Tensor loss_rows_, correct_, grad_;  // (B), (B), (B, K)
  bool fused_softmax_ = false;         // the loss gradient is taken w.r.t. the final softmax's input
  std::vector<char> bn_relu_;          // (layers) 1 where layer i is BatchNorm and layer i+1 a ReLU Activation
  bool fusing_ = false;                // the last forward fused those pairs (the backward follows it)
};

}  // namespace bnlab::nn
