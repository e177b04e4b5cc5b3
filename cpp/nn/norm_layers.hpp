// norm_layers.hpp — the normalisation layers beside BatchNorm: GroupNorm and LayerNorm (per-sample statistics,
// nn/groupnorm.cpp) and BatchNorm's two training-mode variants, batch renormalisation and ghost batch norm
// (nn/batchnorm_variants.cpp). Each owns its parameters, gradients and the caches of its ops, and exposes
// them (as BatchNorm does) for teaching.
#pragma once

#include "nn/layers.hpp"
#include "ops/batchrenorm.hpp"
#include "ops/ghostbatchnorm.hpp"
#include "ops/groupnorm.hpp"

namespace bnlab::nn {

// Group normalisation over one axis of the per-sample shape (Keras's GroupNormalization): the C channels of
// that axis form `groups` groups of C/groups; each sample's group is normalised over its channels and every
// other per-sample position. gamma, beta (C). The same transform in training and inference: no moving
// statistics. groups = C is instance norm, groups = 1 normalises each sample over everything.
class GroupNorm : public NormLayer {
 public:
  GroupNorm(std::int64_t groups, int axis, float epsilon, bool center, bool scale)
      : NormLayer(epsilon, center, scale), groups_(groups), axis_(axis) {}
  std::string kind() const override { return "GroupNormalization"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dout, bool dout_is_preactivation, bool need_dinp) override;
  std::vector<Param> params() override;
  ops::GNShape view_of(const Tensor& x) const;

  Tensor gamma, beta, dgamma, dbeta, dx;  // parameters (C or the normalised dims), their gradients; input shape
  ops::NormCache cache;                   // xhat (input shape), mean and rstd (batch, groups)

 protected:
  // The per-sample view (A, G, K, L) and the parameters' shape, set by build_impl.
  Shape make_params(const Shape& param_shape, Device device);
  std::int64_t groups_;
  int axis_;
  ops::GNShape per_sample_{1, 1, 1, 1, 1};  // N = 1
  Tensor out_;
};

// Layer normalisation (Keras's LayerNormalization, PyTorch's LayerNorm): each sample normalised over the
// per-sample axes [first_axis, rank), with gamma and beta of those axes' shape. Group norm with one group.
class LayerNorm : public GroupNorm {
 public:
  LayerNorm(int first_axis, float epsilon, bool center, bool scale)
      : GroupNorm(1, first_axis, epsilon, center, scale) {}
  std::string kind() const override { return "LayerNormalization"; }
  Shape build_impl(const Shape& input_shape, Device device) override;
};

// Batch renormalisation (Ioffe 2017, Keras's BatchNormalization(renorm=True)); the equations are in
// backend/cpu/batchrenorm_cpu.cpp. Inference is BatchNorm's, with moving_mean and moving_variance.
class BatchRenorm : public BatchNorm {
 public:
  BatchRenorm(int axis, float momentum, float epsilon, bool center, bool scale, ops::RenormClip clip,
              float renorm_momentum)
      : BatchNorm(axis, momentum, epsilon, center, scale), clip(clip), renorm_momentum(renorm_momentum) {}
  Shape build_impl(const Shape& input_shape, Device device) override;
  std::vector<std::pair<std::string, Tensor*>> buffers() override;

  ops::RenormState state;      // renorm_mean/stddev, moving_mean/stddev; moving_variance is BatchNorm's
  ops::RenormCorrection corr;  // r, d, gamma_eff, beta_eff of the last training step
  ops::RenormClip clip;        // read at every training step
  float renorm_momentum;       // read at every training step

 protected:
  void train_forward(const Tensor& x, bool fuse_relu) override;
  void train_backward(const Tensor& dout) override;
};

// Ghost batch norm (Keras 2's BatchNormalization(virtual_batch_size=k)): the batch B is reshaped to
// (k, B/k, ...) and each of the B/k virtual batches, samples {j, j + B/k, j + 2B/k, ...}, is normalised with
// its own statistics; the moving statistics blend the mean over virtual batches of their means and biased
// variances. Needs the feature axis right after the batch axis ((B, C) or (B, C, ...)). Inference is BatchNorm's.
class GhostBatchNorm : public BatchNorm {
 public:
  GhostBatchNorm(int axis, float momentum, float epsilon, bool center, bool scale, std::int64_t virtual_batch_size)
      : BatchNorm(axis, momentum, epsilon, center, scale), virtual_batch_size(virtual_batch_size) {}
  Shape build_impl(const Shape& input_shape, Device device) override;

  const std::int64_t virtual_batch_size;
  ops::GhostCache ghost;  // per virtual batch statistics (ghost.bn, (B/k)*C) and their means (ghost.mean, .var)

 protected:
  void train_forward(const Tensor& x, bool fuse_relu) override;
  void train_backward(const Tensor& dout) override;
};

}  // namespace bnlab::nn
