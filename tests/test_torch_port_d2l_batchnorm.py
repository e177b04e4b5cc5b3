"""d2l's batch-normalization chapter, PyTorch version, runs on bnlab.torch with only the imports changed, and gives
PyTorch's numbers.

Source: "Dive into Deep Learning", https://github.com/d2l-ai/d2l-en/blob/master/chapter_convolutional-modern/
batch-norm.md (the PyTorch tab; d2l's sample code is MIT-0 licensed). ``CHAPTER`` holds its PyTorch cells as the
chapter has them: ``batch_norm`` from scratch (``torch.is_grad_enabled()``, ``.mean(dim=(0, 2, 3), keepdim=True)``),
the ``BatchNorm`` module (``nn.Parameter`` for gamma and beta, plain tensors for the moving statistics), the LeNet
of ``nn.LazyConv2d``/``BatchNorm``/``nn.Sigmoid``/``nn.AvgPool2d``/``nn.Flatten``/``nn.LazyLinear``, its training,
the printed ``gamma``/``beta`` and the concise LeNet with ``nn.LazyBatchNorm2d``/``nn.LazyBatchNorm1d``.
``D2L_LIBRARY`` holds the pieces of d2l/torch.py the cells use (``HyperParameters``, ``ProgressBoard``, ``Module``,
``DataModule``, ``Trainer``, ``FashionMNIST``, ``Classifier``, ``init_cnn``, the device helpers and the
``d2l.reshape``-style aliases), as d2l has them, with the definitions that d2l's generated file overrides left out,
and with ``ProgressBoard.draw`` recording its points without drawing the figure.

Changes: ``tab.selected('pytorch')`` conditions are dropped (their PyTorch branch kept); training runs 2 epochs, not
10; the data are the first 2,048 training and 256 test images of Debian's Fashion-MNIST (``FashionMNIST`` is cut by
the ``runs`` fixture), read by ``bnlab.torchvision``, resized 28 -> 28 as d2l does. The d2l library pieces, and the
harness that runs the cells on both libraries (replaying bnlab's shuffled batches and initial weights in the PyTorch
run, as bnlab's generators are not PyTorch's), are in test_torch_port_d2l_library.py.

Tolerances. float32, u = 2**-24 ~ 6e-8. The first BN's statistics are means over 128 * 24 * 24 = 73,728 values per
channel, with a relative rounding of about log2(73728) * u ~ 1e-6 in blocked sums; the convolutions are sums of 25
and 150 products. So a step's loss agrees to ~1e-6 relative. SGD at lr 0.1 through sigmoids is well conditioned:
measured over the 32 steps, the losses stay within 1.2e-6 relative (1e-7 at the first step), the weights and the
moving statistics within 2e-6 of their magnitude. Compared: every step's loss and the board's averaged points to
1e-5 relative (accuracies to one image), the weights, the moving statistics and the printed gamma and beta to 2e-5
of their magnitude.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_torch_port_d2l_library import HAVE_TORCH, both_runs, state_of

import bnlab.torch as bt
import bnlab.torchvision

N_TRAIN, N_TEST = 2048, 256

CHAPTER = {  # the chapter's PyTorch cells, in order (the first, its imports, is BNLAB_IMPORTS / TORCH_IMPORTS)
    "batch_norm": """
def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    # Use is_grad_enabled to determine whether we are in training mode
    if not torch.is_grad_enabled():
        # In prediction mode, use mean and variance obtained by moving average
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
    else:
        assert len(X.shape) in (2, 4)
        if len(X.shape) == 2:
            # When using a fully connected layer, calculate the mean and
            # variance on the feature dimension
            mean = X.mean(dim=0)
            var = ((X - mean) ** 2).mean(dim=0)
        else:
            # When using a two-dimensional convolutional layer, calculate the
            # mean and variance on the channel dimension (axis=1). Here we
            # need to maintain the shape of X, so that the broadcasting
            # operation can be carried out later
            mean = X.mean(dim=(0, 2, 3), keepdim=True)
            var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        # In training mode, the current mean and variance are used
        X_hat = (X - mean) / torch.sqrt(var + eps)
        # Update the mean and variance using moving average
        moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
        moving_var = (1.0 - momentum) * moving_var + momentum * var
    Y = gamma * X_hat + beta  # Scale and shift
    return Y, moving_mean.data, moving_var.data
""",
    "BatchNorm": """
class BatchNorm(nn.Module):
    # num_features: the number of outputs for a fully connected layer or the
    # number of output channels for a convolutional layer. num_dims: 2 for a
    # fully connected layer and 4 for a convolutional layer
    def __init__(self, num_features, num_dims):
        super().__init__()
        if num_dims == 2:
            shape = (1, num_features)
        else:
            shape = (1, num_features, 1, 1)
        # The scale parameter and the shift parameter (model parameters) are
        # initialized to 1 and 0, respectively
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        # The variables that are not model parameters are initialized to 0 and
        # 1
        self.moving_mean = torch.zeros(shape)
        self.moving_var = torch.ones(shape)

    def forward(self, X):
        # If X is not on the main memory, copy moving_mean and moving_var to
        # the device where X is located
        if self.moving_mean.device != X.device:
            self.moving_mean = self.moving_mean.to(X.device)
            self.moving_var = self.moving_var.to(X.device)
        # Save the updated moving_mean and moving_var
        Y, self.moving_mean, self.moving_var = batch_norm(
            X, self.gamma, self.beta, self.moving_mean,
            self.moving_var, eps=1e-5, momentum=0.1)
        return Y
""",
    "BNLeNetScratch": """
class BNLeNetScratch(d2l.Classifier):
    def __init__(self, lr=0.1, num_classes=10):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5), BatchNorm(6, num_dims=4),
            nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(16, kernel_size=5), BatchNorm(16, num_dims=4),
            nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.LazyLinear(120),
            BatchNorm(120, num_dims=2), nn.Sigmoid(), nn.LazyLinear(84),
            BatchNorm(84, num_dims=2), nn.Sigmoid(),
            nn.LazyLinear(num_classes))
""",
    "train_scratch": """
trainer = d2l.Trainer(max_epochs=2, num_gpus=1)
data = d2l.FashionMNIST(batch_size=128)
model = BNLeNetScratch(lr=0.1)
model.apply_init([next(iter(data.get_dataloader(True)))[0]], d2l.init_cnn)
trainer.fit(model, data)
""",
    "gamma_beta": """
model.net[1].gamma.reshape((-1,)), model.net[1].beta.reshape((-1,))
""",
    "BNLeNet": """
class BNLeNet(d2l.Classifier):
    def __init__(self, lr=0.1, num_classes=10):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(),
            nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(),
            nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.LazyLinear(120), nn.LazyBatchNorm1d(),
            nn.Sigmoid(), nn.LazyLinear(84), nn.LazyBatchNorm1d(),
            nn.Sigmoid(), nn.LazyLinear(num_classes))
""",
    "train_concise": """
trainer = d2l.Trainer(max_epochs=2, num_gpus=1)
data = d2l.FashionMNIST(batch_size=128)
model = BNLeNet(lr=0.1)
model.apply_init([next(iter(data.get_dataloader(True)))[0]], d2l.init_cnn)
trainer.fit(model, data)
""",
}


def keep_training(ns):
    model = ns["model"]
    board = {label: [(p.x, float(p.y)) for p in points] for label, points in model.board.data.items()}
    return {
        "state": state_of(model),
        "board": board,
        "model": model,
        "num_train_batches": ns["trainer"].num_train_batches,
    }


def keep_gamma_beta(ns):
    return {"values": [np.array(t.detach().numpy(), copy=True) for t in eval(CHAPTER["gamma_beta"], ns)]}


KEEP = {"train_scratch": keep_training, "gamma_beta": keep_gamma_beta, "train_concise": keep_training}


@pytest.fixture(scope="module")
def runs(fashion, tmp_path_factory):
    """Both runs on the first N_TRAIN / N_TEST images: bnlab.torchvision's FashionMNIST (which reads Debian's files, as
    the ``fashion`` fixture that skips without them), cut to them."""
    full = bnlab.torchvision.datasets.FashionMNIST

    class SmallFashionMNIST(full):
        def __init__(self, root, train=True, **kwargs):
            super().__init__(root, train, **kwargs)
            n = N_TRAIN if train else N_TEST
            self.data, self.targets = self.data[:n], self.targets[:n]

    work = tmp_path_factory.mktemp("d2l") / "chapter"  # d2l's root='../data' is then an empty folder
    work.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bnlab.torchvision.datasets, "FashionMNIST", SmallFashionMNIST)
        mp.chdir(work)
        return both_runs(CHAPTER, KEEP)


needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")


# --------------------------------------------------------------------- the tests
def test_the_chapter_runs(runs):
    ours, _ = runs
    for name in ("train_scratch", "train_concise"):
        kept = ours[name]
        assert kept["num_train_batches"] == N_TRAIN // 128 and len(kept["losses"]) == 2 * N_TRAIN // 128
        board = kept["board"]
        assert sorted(board) == ["train_loss", "val_acc", "val_loss"]
        assert len(board["train_loss"]) == 4 and len(board["val_loss"]) == len(board["val_acc"]) == 2
        losses = kept["losses"]
        assert losses[-1] < losses[0] and board["val_loss"][1][1] < board["val_loss"][0][1]
        assert board["val_acc"][1][1] > 0.4  # chance is 0.1
        net = kept["model"].net
        assert [type(m).__name__ for m in net[::4]] == ["Conv2d", "Conv2d", "Flatten", "Linear"]  # lazy ones became
        for key, fan_in, fan_out in (("net.0.weight", 25, 6 * 25), ("net.9.weight", 16 * 4 * 4, 120)):
            bound = (6 / (fan_in + fan_out)) ** 0.5  # init_cnn's Xavier-uniform bound
            assert bound * 0.95 < np.abs(kept["init"][key]).max() <= bound
    scratch = ours["train_scratch"]["model"].net[1]
    assert isinstance(scratch.gamma, bt.nn.Parameter) and not isinstance(scratch.moving_mean, bt.nn.Parameter)
    assert [name for name, _ in scratch.named_parameters()] == ["gamma", "beta"]
    gamma, beta = ours["gamma_beta"]["values"]
    assert gamma.shape == beta.shape == (6,) and np.abs(gamma - 1).max() > 1e-4 and np.abs(beta).max() > 1e-4
    assert type(ours["train_concise"]["model"].net[1]).__name__ == "BatchNorm2d"


@needs_torch
def test_losses_and_board_match_pytorch(runs):
    ours, theirs = runs
    for name in ("train_scratch", "train_concise"):
        np.testing.assert_allclose(ours[name]["losses"], theirs[name]["losses"], rtol=1e-5)
        for label, points in ours[name]["board"].items():
            got, want = np.array(points), np.array(theirs[name]["board"][label])
            np.testing.assert_array_equal(got[:, 0], want[:, 0])
            np.testing.assert_allclose(got[:, 1], want[:, 1], rtol=1e-5, atol=1.01 / N_TEST if "acc" in label else 0)


@needs_torch
def test_weights_and_moving_statistics_match_pytorch(runs):
    ours, theirs = runs
    for name in ("train_scratch", "train_concise"):
        got, want = ours[name]["state"], theirs[name]["state"]
        assert sorted(got) == sorted(want)
        for key, value in want.items():
            atol = 2e-5 * max(1.0, float(np.abs(value).max()))
            np.testing.assert_allclose(got[key], value, rtol=0, atol=atol, err_msg=f"{name}: {key}")
    for got, want in zip(ours["gamma_beta"]["values"], theirs["gamma_beta"]["values"], strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)


def test_the_scratch_batch_norm_is_nn_batchnorms_arithmetic():
    """The chapter's ``BatchNorm`` and ``nn.BatchNorm2d``/``1d`` (momentum 0.1, eps 1e-5) on the same batch: the same
    outputs in training; the moving mean the same, the moving variance biased in the chapter (mean of squares) and
    unbiased in nn's (times n / (n - 1)); in prediction mode (``torch.no_grad()``, which the chapter's ``batch_norm``
    tests) both normalize with the moving statistics."""
    ns = {"torch": bt, "nn": bt.nn}
    exec(CHAPTER["batch_norm"] + CHAPTER["BatchNorm"], ns)
    rng = np.random.default_rng(0)
    for shape, builtin in (((8, 3, 5, 4), bt.nn.BatchNorm2d(3)), ((16, 5), bt.nn.BatchNorm1d(5))):
        x = bt.tensor((rng.standard_normal(shape) * 3 + 1).astype(np.float32))
        scratch = ns["BatchNorm"](shape[1], num_dims=len(shape))
        np.testing.assert_allclose(scratch(x).detach().numpy(), builtin(x).detach().numpy(), rtol=1e-5, atol=1e-5)
        n = x.numel() // shape[1]
        np.testing.assert_allclose(scratch.moving_mean.reshape((-1,)).numpy(), builtin.running_mean.numpy(), atol=1e-6)
        var = (scratch.moving_var.reshape((-1,)).numpy() - 0.9) * n / (n - 1) + 0.9
        np.testing.assert_allclose(var, builtin.running_var.numpy(), rtol=1e-5)
        builtin.eval()
        with bt.no_grad():
            y = scratch(x).numpy()
        mm, mv = (t.numpy() for t in (scratch.moving_mean, scratch.moving_var))
        np.testing.assert_allclose(y, (x.numpy() - mm) / np.sqrt(mv + 1e-5), rtol=1e-5, atol=1e-5)
