// model.cpp — Sequential: building, the forward/backward chain, loss and metrics, and the epoch loops.
#include "nn/model.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/rng.hpp"

namespace bnlab::nn {

void Sequential::add(LayerPtr layer) {
  ops::require(!built_, "cannot add a layer to a model that is already built");
  layers.push_back(std::move(layer));
}

Shape Sequential::build(const Shape& input_shape, Device device) {
  ops::require(!layers.empty(), "the model has no layers");
  Shape shape = input_shape;
  for (auto& layer : layers) {
    if (!layer->built()) {
      shape = layer->build(shape, device);
      continue;
    }
    // A layer built on its own (the Python API initialises weights first) keeps its weights.
    ops::require(layer->input_shape() == shape, layer->kind() + " was built for input " +
                                                    shape_str(layer->input_shape()) + " but receives " +
                                                    shape_str(shape));
    shape = layer->output_shape();
  }
  input_shape_ = input_shape;
  output_shape_ = shape;
  device_ = device;
  built_ = true;
  return shape;
}

std::vector<Param> Sequential::trainable_params() {
  std::vector<Param> out;
  for (auto& layer : layers)
    if (layer->trainable)
      for (const Param& p : layer->params()) out.push_back(p);
  return out;
}

void Sequential::compile(std::shared_ptr<Optimizer> optimizer, LossSpec loss) {
  ops::require(built_, "build the model before compiling it");
  optimizer_ = std::move(optimizer);
  loss_ = loss;
  params_ = trainable_params();
  // Softmax + cross-entropy on probabilities: take the gradient w.r.t. the softmax's input in one step.
  const bool probs = loss.kind == LossSpec::Kind::Xent &&
                     (loss.form == XentForm::SparseProbs || loss.form == XentForm::CategoricalProbs);
  fused_softmax_ = probs && layers.back()->output_activation() == Act::Softmax;
}

const Tensor& Sequential::forward(const Tensor& x, bool training) {
  ops::require(built_, "the model is not built");
  const Tensor* h = &x;
  for (auto& layer : layers) h = &layer->forward(*h, training);
  return *h;
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
  m.loss_sum += ops::sum(loss_rows_);
  m.correct += ops::sum(correct_);
  m.samples += B;
  m.batches += 1;
}

void Sequential::train_step(const Tensor& xb, const Tensor& yb, Metrics& m) {
  ops::require(optimizer_ != nullptr, "compile the model before training it");
  for (auto& layer : layers) layer->begin_step();
  const Tensor& out = forward(xb, true);
  loss_and_grad(out, yb, m, true);
  const Tensor* g = &grad_;
  for (std::size_t i = layers.size(); i-- > 0;)
    g = &layers[i]->backward(*g, fused_softmax_ && i + 1 == layers.size(), i > 0);
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
void permutation(std::vector<std::int64_t>& order, std::int64_t n, bool shuffle, std::uint64_t seed,
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

Metrics Sequential::train_epoch(const Tensor& x, const Tensor& y, std::int64_t batch_size, bool shuffle,
                                std::uint64_t seed, std::uint64_t epoch, const BatchCallback& callback,
                                bool drop_last) {
  check_data(x, y, batch_size);
  const std::int64_t n = drop_last ? x.dim(0) / batch_size * batch_size : x.dim(0);
  permutation(order_, x.dim(0), shuffle, seed, epoch);  // drop_last drops the tail of the permutation
  Metrics m;
  for (std::int64_t start = 0; start < n; start += batch_size) {  // the last partial batch is kept
    const std::int64_t B = std::min(batch_size, n - start);
    ops::gather_rows(xb_, x, order_.data() + start, B);
    ops::gather_rows(yb_, y, order_.data() + start, B);
    train_step(xb_, yb_, m);
    if (callback && callback(m.batches - 1, m)) {
      m.stopped = true;
      break;
    }
  }
  return m;
}

Metrics Sequential::evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size, const BatchCallback& callback) {
  check_data(x, y, batch_size);
  const std::int64_t n = x.dim(0);
  permutation(order_, n, false, 0, 0);
  Metrics m;
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t B = std::min(batch_size, n - start);
    ops::gather_rows(xb_, x, order_.data() + start, B);
    ops::gather_rows(yb_, y, order_.data() + start, B);
    test_step(xb_, yb_, m);
    if (callback && callback(m.batches - 1, m)) {
      m.stopped = true;
      break;
    }
  }
  return m;
}

void Sequential::predict(Tensor& out, const Tensor& x, std::int64_t batch_size) {
  ops::require(built_, "the model is not built");
  ops::require(batch_size >= 1, [&] { return "batch_size must be >= 1, got " + std::to_string(batch_size); });
  const std::int64_t n = x.ndim() ? x.dim(0) : 0;
  out.ensure_rows(
      n,
      [&] {
        Shape s = output_shape_;
        s.insert(s.begin(), n);
        return s;
      }(),
      device_, DType::F32);
  permutation(order_, n, false, 0, 0);
  const std::int64_t row = shape_numel(output_shape_);
  const Backend& be = backend(device_);
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t B = std::min(batch_size, n - start);
    ops::gather_rows(xb_, x, order_.data() + start, B);
    const Tensor& o = forward(xb_, false);
    be.copy(out.f32() + start * row, o.f32(), static_cast<std::size_t>(B * row) * sizeof(float));
  }
}

}  // namespace bnlab::nn
