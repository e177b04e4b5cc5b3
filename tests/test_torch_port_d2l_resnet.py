"""d2l's ResNet chapter, PyTorch version, runs on bnlab.torch with only the imports changed, and gives PyTorch's
numbers: the ``Residual`` block (``nn.LazyConv2d``, ``nn.LazyBatchNorm2d``, ``F.relu``, the in-place shortcut
``Y += X``, the 1x1 convolution that halves the size), the ``ResNet`` classifier assembled with ``d2l.add_to_class``,
``nn.Sequential.add_module`` and ``self.net.apply(d2l.init_cnn)``, ``ResNet18().layer_summary((1, 1, 96, 96))``, and
its training with d2l's ``Trainer`` on Fashion-MNIST.

Source: "Dive into Deep Learning", https://github.com/d2l-ai/d2l-en/blob/master/chapter_convolutional-modern/
resnet.md (the PyTorch tab, MIT-0); the d2l library pieces and the two-library harness are in
test_torch_port_d2l_library.py. Changes: ``tab.selected`` conditions dropped (their PyTorch branch kept); the
training cell trains ``ResNet(((1, 64), (1, 128)), lr=0.01)`` (the chapter's ``ResNet`` class with two one-block
stages instead of ResNet-18) for 1 epoch instead of 10, on 512 training and 256 test images resized to 48x48
instead of 96x96 (bnlab.torchvision's ``Resize``, bilinear with antialiasing as torchvision's).

Tolerances (float32, u = 2**-24): the first step's loss, from equal weights, is a forward through BNs over up to
128 * 24 * 24 = 73,728 values per channel and convolutions of up to 576 products: ~1e-6 relative (measured 2e-7).
Training this ReLU ResNet from Xavier-initialized convolutions is sensitive: PyTorch against itself, with its initial
weights perturbed by 1e-7 relative (float32 rounding), differs by 3e-6, 7e-5 and 7e-5 in the losses of steps 2-4,
and bnlab against PyTorch by 0 to 6e-6, 6e-6 to 1e-4 and 8e-5 to 4e-4 there; the weights and running statistics after
the 4 steps by up to 5.5e-4 of their magnitude. Compared: step 1 to 1e-6, step 2 to 5e-5, the 4 steps, the board's
points and the trained state to 2e-3 (the accuracies to two images); the printed shapes exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_torch_port_d2l_library import HAVE_TORCH, both_runs, state_of

import bnlab.torchvision

N_TRAIN, N_TEST = 512, 256

CHAPTER = {  # the chapter's PyTorch cells, in order (the first, its imports, is the harness's)
    "Residual": """
class Residual(nn.Module):  #@save
    \"\"\"The Residual block of ResNet models.\"\"\"
    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1,
                                   stride=strides)
        self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1,
                                       stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.LazyBatchNorm2d()
        self.bn2 = nn.LazyBatchNorm2d()

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)
""",
    "same_shape": """
blk = Residual(3)
X = d2l.randn(4, 3, 6, 6)
blk(X).shape
""",
    "halved": """
blk = Residual(6, use_1x1conv=True, strides=2)
blk(X).shape
""",
    "ResNet": """
class ResNet(d2l.Classifier):
    def b1(self):
        return nn.Sequential(
            nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3),
            nn.LazyBatchNorm2d(), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
""",
    "block": """
@d2l.add_to_class(ResNet)
def block(self, num_residuals, num_channels, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels))
    return nn.Sequential(*blk)
""",
    "__init__": """
@d2l.add_to_class(ResNet)
def __init__(self, arch, lr=0.1, num_classes=10):
    super(ResNet, self).__init__()
    self.save_hyperparameters()
    self.net = nn.Sequential(self.b1())
    for i, b in enumerate(arch):
        self.net.add_module(f'b{i+2}', self.block(*b, first_block=(i==0)))
    self.net.add_module('last', nn.Sequential(
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
        nn.LazyLinear(num_classes)))
    self.net.apply(d2l.init_cnn)
""",
    "ResNet18": """
class ResNet18(ResNet):
    def __init__(self, lr=0.1, num_classes=10):
        super().__init__(((2, 64), (2, 128), (2, 256), (2, 512)),
                       lr, num_classes)
""",
    "layer_summary": """
ResNet18().layer_summary((1, 1, 96, 96))
""",
    "train": """
model = ResNet(((1, 64), (1, 128)), lr=0.01)
trainer = d2l.Trainer(max_epochs=1, num_gpus=1)
data = d2l.FashionMNIST(batch_size=128, resize=(48, 48))
model.apply_init([next(iter(data.get_dataloader(True)))[0]], d2l.init_cnn)
trainer.fit(model, data)
""",
}


def keep_shape(ns):
    return {"shape": tuple(ns["blk"](ns["X"]).shape)}


def keep_training(ns):
    model = ns["model"]
    board = {label: [(p.x, float(p.y)) for p in points] for label, points in model.board.data.items()}
    return {"state": state_of(model), "board": board, "model": model}


KEEP = {
    "same_shape": keep_shape,
    "halved": keep_shape,
    "layer_summary": lambda ns: {},
    "train": keep_training,
}


@pytest.fixture(scope="module")
def runs(fashion, tmp_path_factory):
    """Both runs on the first N_TRAIN / N_TEST images of bnlab.torchvision's FashionMNIST (Debian's files)."""
    full = bnlab.torchvision.datasets.FashionMNIST

    class SmallFashionMNIST(full):
        def __init__(self, root, train=True, **kwargs):
            super().__init__(root, train, **kwargs)
            n = N_TRAIN if train else N_TEST
            self.data, self.targets = self.data[:n], self.targets[:n]

    work = tmp_path_factory.mktemp("d2l_resnet") / "chapter"
    work.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bnlab.torchvision.datasets, "FashionMNIST", SmallFashionMNIST)
        mp.chdir(work)
        return both_runs(CHAPTER, KEEP)


needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")


# --------------------------------------------------------------------- the tests
def test_the_chapter_runs(runs):
    ours, _ = runs
    assert ours["same_shape"]["shape"] == (4, 3, 6, 6) and ours["halved"]["shape"] == (4, 6, 3, 3)
    summary = ours["layer_summary"]["printed"].splitlines()
    assert summary[0] == "Sequential output shape:\t torch.Size([1, 64, 24, 24])"
    assert summary[-1] == "Sequential output shape:\t torch.Size([1, 10])" and len(summary) == 6
    kept = ours["train"]
    assert len(kept["losses"]) == N_TRAIN // 128 and kept["losses"][-1] < kept["losses"][0]
    net = kept["model"].net
    assert [name for name, _ in net.named_children()] == ["0", "b2", "b3", "last"]
    assert type(net.b3[0].conv3).__name__ == "Conv2d" and net.b2[0].conv3 is None
    assert type(net.b3[0].bn1).__name__ == "BatchNorm2d" and int(net.b3[0].bn1.num_batches_tracked) == 1 + 4
    assert sorted(kept["board"]) == ["train_loss", "val_acc", "val_loss"]


@needs_torch
def test_shapes_and_summary_match_pytorch(runs):
    ours, theirs = runs
    for name in ("same_shape", "halved"):
        assert ours[name]["shape"] == theirs[name]["shape"]
    assert ours["layer_summary"]["printed"] == theirs["layer_summary"]["printed"]


@needs_torch
def test_training_matches_pytorch(runs):
    ours, theirs = runs
    ours, theirs = ours["train"], theirs["train"]
    got, want = np.array(ours["losses"]), np.array(theirs["losses"])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)  # from equal weights
    np.testing.assert_allclose(got[1], want[1], rtol=5e-5)
    np.testing.assert_allclose(got, want, rtol=2e-3)
    for label, points in ours["board"].items():
        got, want = np.array(points), np.array(theirs["board"][label])
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2.01 / N_TEST if "acc" in label else 0)
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for key, want in theirs["state"].items():
        atol = 2e-3 * max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(ours["state"][key], want, rtol=0, atol=atol, err_msg=key)
