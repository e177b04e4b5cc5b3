// model.cpp — Sequential: building, the forward/backward chain, loss and metrics, and the epoch loops.
#include "nn/model.hpp"

#include <algorithm>
#include <climits>
#include <numeric>
#include <string>

#include "core/profile.hpp"
#include "core/rng.hpp"
#include "nn/chain.hpp"

namespace bnlab::nn {

void Sequential::add(LayerPtr layer) {
  ops::require(!built_, "cannot add a layer to a model that is already built");
  layers.push_back(std::move(layer));
}

Shape Sequential::build(const Shape& input_shape, Device device) {
  ops::require(!layers.empty(), "the model has no layers");
  const Shape shape = build_chain(layers, input_shape, device);
  bn_relu_ = bn_relu_pairs(layers);
  input_shape_ = input_shape;
  output_shape_ = shape;
  device_ = device;
  built_ = true;
  return shape;
}

std::vector<std::int64_t> Sequential::fused_bn_relu_layers() const {
  std::vector<std::int64_t> out;
  if (fuse_bn_relu)
    for (std::size_t i = 0; i < bn_relu_.size(); ++i)
      if (bn_relu_[i]) out.push_back(static_cast<std::int64_t>(i));
  return out;
}

std::vector<Param> Sequential::trainable_params() {
  std::vector<Param> out;
  for (auto& layer : layers)
    if (layer->trainable)
      for (const Param& p : layer->params()) out.push_back(p);
  return out;
}

std::uint64_t Sequential::layers_params_version() const {
  std::uint64_t sum = 0;  // each version only grows, so the sum changes exactly when one of them does
  for (const auto& layer : layers) sum += layer->params_version();
  return sum;
}

void Sequential::refresh_params() {
  params_ = trainable_params();
  params_version_ = layers_params_version();
  // The backward stops at the first layer with a trainable parameter: the layers before it (Flatten, say) and
  // that layer's own input gradient (dx of the first Dense, a GEMM as large as its forward) feed nothing.
  first_trained_layer_ = layers.size();
  for (std::size_t i = 0; i < layers.size() && first_trained_layer_ == layers.size(); ++i)
    if (layers[i]->trainable && !layers[i]->params().empty()) first_trained_layer_ = i;
}

void Sequential::compile(std::shared_ptr<Optimizer> optimizer, LossSpec loss) {
  ops::require(built_, "build the model before compiling it");
  optimizer_ = std::move(optimizer);
  loss_ = loss;
  refresh_params();
  // Softmax + cross-entropy on probabilities: take the gradient w.r.t. the softmax's input in one step.
  const bool probs = loss.kind == LossSpec::Kind::Xent &&
                     (loss.form == XentForm::SparseProbs || loss.form == XentForm::CategoricalProbs);
  fused_softmax_ = probs && layers.back()->output_activation() == Act::Softmax;
}

const Tensor& Sequential::forward(const Tensor& x, bool training) {
  ops::require(built_, "the model is not built");
  fusing_ = fuse_bn_relu;
  return chain_forward(layers, bn_relu_, fusing_, x, training);
}

void Sequential::loss_and_grad(const Tensor& out, const Tensor& yb, Metrics& m, bool with_grad) {
  ops::require(out.ndim() == 2, [&] {
    return "the model output must be 2-D (batch, classes) for this loss, got " + shape_str(out.shape());
  });
  const std::int64_t B = out.dim(0);
  const float scale = 1.0f / static_cast<float>(B);  // the loss is the batch mean
  if (loss_.kind == LossSpec::Kind::MSE)
    ops::mse(loss_rows_, with_grad ? &grad_ : nullptr, out, yb, scale);
  else
    ops::xent(loss_rows_, with_grad ? &grad_ : nullptr, out, yb, loss_.form, fused_softmax_, loss_.epsilon, scale);
  ops::accuracy(correct_, out, yb);
  ops::accumulate_sums(sums_, loss_rows_, correct_);  // stays on the device: no host sync per step
  m.samples += B;
  m.batches += 1;
}

void Sequential::train_step(const Tensor& xb, const Tensor& yb, Metrics& m) {
  ops::require(optimizer_ != nullptr, "compile the model before training it");
  const profile::Scope timer({"train_step", xb.ndim() ? xb.dim(0) : 0, 0, 0});
  if (layers_params_version() != params_version_) refresh_params();  // center or scale set during a fit
  for (auto& layer : layers) layer->begin_step();
  const Tensor& out = forward(xb, true);
  loss_and_grad(out, yb, m, true);
  chain_backward(layers, bn_relu_, fusing_, grad_, first_trained_layer_, fused_softmax_, false);
  optimizer_->step(params_);
}

void Sequential::test_step(const Tensor& xb, const Tensor& yb, Metrics& m) {
  loss_and_grad(forward(xb, false), yb, m, false);
}

void Sequential::check_data(const Tensor& x, const Tensor& y, std::int64_t batch_size) const {
  ops::require(built_, "the model is not built");
  ops::require(batch_size >= 1, [&] { return "batch_size must be >= 1, got " + std::to_string(batch_size); });
  ops::require(x.ndim() >= 1 && y.ndim() >= 1 && x.dim(0) == y.dim(0), "x and y must have the same number of samples");
  ops::require(x.dim(0) >= 1, "x is empty: there is nothing to train on");
  ops::require(x.device() == device_ && y.device() == device_, "the data is not on the model's device");
}

namespace {
// Fisher-Yates with the counter-based generator: the permutation is a pure function of (seed, epoch).
void permutation(std::vector<std::int32_t>& order, std::int64_t n, bool shuffle, std::uint64_t seed,
                 std::uint64_t epoch) {
  order.resize(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle) return;
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto bits = random_bits(seed, epoch, static_cast<std::uint64_t>(i));
    const auto j = static_cast<std::int64_t>((static_cast<unsigned __int128>(bits) * (i + 1)) >> 64);
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
}
}  // namespace

void Sequential::set_order(std::int64_t n, bool shuffle, std::uint64_t seed, std::uint64_t epoch) {
  ops::require(n <= INT32_MAX, "x has more than 2^31 - 1 samples");  // the order is int32
  permutation(order_, n, shuffle, seed, epoch);
  order_dev_.ensure({n}, device_, DType::I32);             // grows only: no allocation once the largest n was seen
  if (n > 0) order_dev_.copy_from_host(order_.data(), n);  // the epoch's one host-to-device transfer
}

Metrics Sequential::read_metrics(const Metrics& counts) const {
  Metrics m = counts;
  double sums[2];
  ops::read_sums(sums, sums_);
  m.loss_sum = sums[0];
  m.correct = sums[1];
  return m;
}

Metrics MetricsProbe::read() const { return model_.read_metrics(counts_); }

template <typename Step>
Metrics Sequential::run_batches(const Tensor& x, const Tensor& y, std::int64_t n, std::int64_t batch_size,
                                const BatchCallback& callback, Step step) {
  ops::reset_sums(sums_, device_);
  Metrics m;
  const MetricsProbe probe(*this, m);
  for (std::int64_t start = 0; start < n; start += batch_size) {  // the last partial batch is kept
    const std::int64_t B = std::min(batch_size, n - start);
    ops::gather_rows(xb_, x, order_dev_, start, B);
    ops::gather_rows(yb_, y, order_dev_, start, B);
    step(m);
    if (callback && callback(m.batches - 1, probe)) {
      m.stopped = true;
      break;
    }
  }
  return read_metrics(m);  // the epoch's one device-to-host read (plus those the callback asked for)
}

Metrics Sequential::train_epoch(const Tensor& x, const Tensor& y, std::int64_t batch_size, bool shuffle,
                                std::uint64_t seed, std::uint64_t epoch, const BatchCallback& callback,
                                bool drop_last) {
  check_data(x, y, batch_size);
  const std::int64_t n = drop_last ? x.dim(0) / batch_size * batch_size : x.dim(0);
  set_order(x.dim(0), shuffle, seed, epoch);  // drop_last drops the tail of the permutation
  return run_batches(x, y, n, batch_size, callback, [&](Metrics& m) { train_step(xb_, yb_, m); });
}

Metrics Sequential::evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size, const BatchCallback& callback) {
  check_data(x, y, batch_size);
  set_order(x.dim(0), false, 0, 0);
  return run_batches(x, y, x.dim(0), batch_size, callback, [&](Metrics& m) { test_step(xb_, yb_, m); });
}

void Sequential::predict(Tensor& out, const Tensor& x, std::int64_t batch_size) {
  ops::require(built_, "the model is not built");
  ops::require(batch_size >= 1, [&] { return "batch_size must be >= 1, got " + std::to_string(batch_size); });
  ops::require(x.device() == device_, "the data is not on the model's device");
  const std::int64_t n = x.ndim() ? x.dim(0) : 0;
  set_order(n, false, 0, 0);
  out.ensure_rows(
      n,
      [&] {
        Shape s = output_shape_;
        s.insert(s.begin(), n);
        return s;
      }(),
      device_, DType::F32);
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t B = std::min(batch_size, n - start);
    ops::gather_rows(xb_, x, order_dev_, start, B);
    const Tensor& o = forward(xb_, false);
    ops::put_rows(out, start, o);
  }
}

}  // namespace bnlab::nn
