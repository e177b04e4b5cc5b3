"""``nn.BatchNorm1d`` (and ``BatchNorm2d``): batch normalization with PyTorch's exact semantics.

    y = weight * (x - mean) / sqrt(var + eps) + bias        per channel C of x (N, C) or (N, C, L)

``BatchNorm2d`` is the same on (N, C, H, W): the engine sees it as (N, C, L) with L = H*W, so each channel's
statistics are over its N*H*W values (the "spatial batch normalization" of CNNs).

Training mode (``model.train()``, the default): mean and the BIASED var come from the batch (over the N*L
values of each channel), and the running statistics are updated in place:

    running_mean = (1 - momentum) * running_mean + momentum * mean
    running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)    (UNBIASED, n = N*L)

``num_batches_tracked`` (int64) counts the training batches; with ``momentum=None`` the factor is
1 / num_batches_tracked, a cumulative average. PyTorch's momentum 0.1 is Keras's momentum 0.9.

Eval mode (``model.eval()``): running_mean and running_var replace the batch statistics, so one sample
works. With ``track_running_stats=False`` there are no buffers (None) and batch statistics are used in both
modes. ``torch.no_grad()`` does not switch the mode: a BatchNorm in training mode inside ``no_grad()`` still
uses (and updates with) batch statistics — bnlab says so once with a :class:`BatchNormTrainingModeWarning`
(bnlab/teaching.py holds the warning and its explanation).

Parameters: weight (gamma, ones) and bias (beta, zeros) when ``affine``. Buffers: running_mean (zeros),
running_var (ones), num_batches_tracked (0). Errors (messages as PyTorch's): a training batch with one value
per channel ("Expected more than 1 value per channel when training, got input size torch.Size([1, C])"),
and inputs of the wrong rank ("expected 2D or 3D input (got 4D input)"; BatchNorm2d: "expected 4D input
(got 2D input)").

Reading the internals: on the CPU, ``bn.running_mean.numpy()`` is a view of the engine's memory. On a GPU
(``model.to('cuda')``) the buffers live on the device and ``.numpy()`` raises, as in PyTorch;
``bn.running_mean.cpu().numpy()`` returns a NumPy COPY taken at that moment (later training steps do not
show in it). The last training step's batch statistics, x_hat and gradients: ``bn.batch_mean``,
``bn.batch_variance``, ``bn.inv_std``, ``bn.x_hat``, ``bn.dx``, ``bn.dgamma``, ``bn.dbeta``, ``bn.dx_hat``,
``bn.dbatch_mean``, ``bn.dbatch_variance`` (_bn_internals.py), as on the Keras face.
"""

from __future__ import annotations

import numpy as np

from ....teaching import BatchNormTrainingModeWarning, warn_train_mode_under_no_grad
from ... import _factory, autograd
from ...tensor import host
from .. import functional as F
from ._bn_internals import BatchNormInternals, StepRecord
from ._parameters import affine_parameters
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNormTrainingModeWarning"]


def affine_and_running_stats(
    layer, num_features: int, affine: bool, track_running_stats: bool, bias: bool = True, device=None
) -> None:
    """The parameters and buffers BatchNorm and InstanceNorm (``_norm_dropout_layers``) share: weight (ones) and
    bias (zeros; None when ``bias`` is False) of (num_features,) when ``affine``, otherwise both None; the buffers
    running_mean (zeros), running_var (ones) and num_batches_tracked (int64 0) when ``track_running_stats``,
    otherwise all three None. Then the layer moves to ``device`` when one is given."""
    affine_parameters(layer, (num_features,), affine, bias)
    if track_running_stats:
        layer.register_buffer("running_mean", _factory.zeros(num_features))
        layer.register_buffer("running_var", _factory.ones(num_features))
        layer.register_buffer("num_batches_tracked", host(np.zeros((), dtype=np.int64)))
    else:
        layer.register_buffer("running_mean", None)
        layer.register_buffer("running_var", None)
        layer.register_buffer("num_batches_tracked", None)
    if device is not None:
        layer.to(device)


class _BatchNorm(BatchNormInternals, Module):
    """What BatchNorm1d and BatchNorm2d share; they differ only in the input ranks they accept."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(num_features, int) or isinstance(num_features, bool) or num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self._warned_no_grad = False
        affine_and_running_stats(self, num_features, affine, track_running_stats, bias, device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with autograd.no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            with autograd.no_grad():
                self.weight.fill_(1)
                if self.bias is not None:
                    self.bias.zero_()

    def _check_input_dim(self, input) -> None:
        raise NotImplementedError

    def forward(self, input):
        return self._forward(input, relu=False)

    def _forward(self, input, relu: bool):
        """forward, and with relu=True relu(forward(input)) in the same engine passes (nn.Sequential)."""
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._a += 1  # counted before the batch-size check, as PyTorch does
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._a)
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        if self.training and self.track_running_stats and not autograd.is_grad_enabled() and not self._warned_no_grad:
            self._warned_no_grad = True
            warn_train_mode_under_no_grad(f"{type(self).__name__}({self.num_features})", stacklevel=3)
        track = not self.training or self.track_running_stats
        return F._batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            bn_training,
            factor,
            self.eps,
            relu=relu,
            record_step=self._record_step,
        )

    def _record_step(self, cache, shape) -> StepRecord:
        self._last_step = StepRecord(cache, shape)
        return self._last_step

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs; see the module docstring for the exact rules."""

    def _check_input_dim(self, input) -> None:
        if input.dim() != 2 and input.dim() != 3:
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs, per channel C (statistics over N*H*W values)."""

    def _check_input_dim(self, input) -> None:
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")
