"""torchvision's ResNet (``BasicBlock`` with ``out += identity`` and ``nn.ReLU(inplace=True)``, ``Bottleneck``, the
``ResNet`` class with its ``_make_layer`` downsampling shortcut and its Kaiming/constant initialization) trained with
the PyTorch ImageNet example's loop, on bnlab.torch with only the import changed, against PyTorch.

Sources: https://github.com/pytorch/vision/blob/main/torchvision/models/resnet.py (BSD-3-Clause; ``RESNET_PY`` is its
text of the torchvision 0.4/0.5 releases, which later ones only annotate with types, without the pretrained-weights
download) and the training step of ``train()`` in https://github.com/pytorch/examples/blob/main/imagenet/main.py
(BSD-3-Clause): ``nn.CrossEntropyLoss()``, ``SGD(lr=0.1, momentum=0.9, weight_decay=1e-4)``, ``optimizer.zero_grad()``,
``loss.backward()``, ``optimizer.step()``.

Runtime: ``ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)`` (a ResNet-10: the 64-512 channels of ResNet-18 with one
block per stage, 4.9M parameters) on 4 batches of 32 Fashion-MNIST images, the gray channel repeated three times for
the 3-channel stem and normalized with Fashion-MNIST's mean and std; 28x28 inputs reach the last stage at 1x1. The
example's defaults (lr 0.1 for batches of 256, momentum 0.9, weight decay 1e-4), the learning rate scaled to 32.

Comparison: the PyTorch model is made by the same code with ``import torch.nn as nn`` and loads the bnlab model's
initial ``state_dict`` (through NumPy); both see the same batches. Tolerances (float32, u = 2**-24): a forward of 11
convolutions and BNs from equal weights agrees to ~1e-6 of the logits' magnitude (sums of up to 4,608 products, BN
statistics over 32-6,272 values; measured 1e-6). Training a ReLU ResNet from scratch with BN over 32 values per
channel in the last stage is chaotic: a rounding difference grows about tenfold per step once ReLUs start to switch
(measured: PyTorch against itself with 1 and 2 threads, bit-identical for 5 steps, then 2e-7, 4e-5, 2e-4, 1e-3 in the
losses of steps 6-9), so 4 steps are compared: measured, the losses agree to 5e-7 relative and the weights and
running statistics to 1.2e-5 of their magnitude; compared to 1e-5 (losses, eval logits) and 1e-4 (the state).
"""

from __future__ import annotations

import importlib.util
import types

import numpy as np
import pytest

import bnlab.torch as bt

HAVE_TORCH = importlib.util.find_spec("torch") is not None
# nn.init.kaiming_normal_ (resnet.py's initialization of every convolution) is not in bnlab.torch.nn.init yet
pytestmark = pytest.mark.skipif(
    not hasattr(bt.nn.init, "kaiming_normal_"), reason="bnlab.torch.nn.init has no kaiming_normal_ yet"
)
STEPS, BATCH = 4, 32

RESNET_PY = r'''
def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution with padding"""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride,
                     padding=dilation, groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution"""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1,
                 base_width=64, dilation=1, norm_layer=None):
        super(BasicBlock, self).__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError('BasicBlock only supports groups=1 and base_width=64')
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        # Both self.conv1 and self.downsample layers downsample the input when stride != 1
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x

        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)
        out = self.bn2(out)

        if self.downsample is not None:
            identity = self.downsample(x)

        out += identity
        out = self.relu(out)

        return out


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1,
                 base_width=64, dilation=1, norm_layer=None):
        super(Bottleneck, self).__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.)) * groups
        # Both self.conv2 and self.downsample layers downsample the input when stride != 1
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x

        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu(out)

        out = self.conv3(out)
        out = self.bn3(out)

        if self.downsample is not None:
            identity = self.downsample(x)

        out += identity
        out = self.relu(out)

        return out


class ResNet(nn.Module):

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False,
                 groups=1, width_per_group=64, replace_stride_with_dilation=None,
                 norm_layer=None):
        super(ResNet, self).__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer

        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            # each element in the tuple indicates if we should replace
            # the 2x2 stride with a dilated convolution instead
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None "
                             "or a 3-element tuple, got {}".format(replace_stride_with_dilation))
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3,
                               bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2,
                                       dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2,
                                       dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2,
                                       dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

        # Zero-initialize the last BN in each residual branch,
        # so that the residual branch starts with zeros, and each residual block behaves like an identity.
        # This improves the model by 0.2~0.3% according to https://arxiv.org/abs/1706.02677
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )

        layers = []
        layers.append(block(self.inplanes, planes, stride, downsample, self.groups,
                            self.base_width, previous_dilation, norm_layer))
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))

        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)

        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)

        x = self.avgpool(x)
        x = x.reshape(x.size(0), -1)
        x = self.fc(x)

        return x
'''

TRAIN_STEP = """
device = torch.device("cpu")
# define loss function (criterion), optimizer
criterion = nn.CrossEntropyLoss().to(device)
optimizer = torch.optim.SGD(model.parameters(), args.lr,
                            momentum=args.momentum,
                            weight_decay=args.weight_decay)
# switch to train mode
model.train()
for i, (images, target) in enumerate(train_loader):
    # move data to the same device as model
    images = images.to(device, non_blocking=True)
    target = target.to(device, non_blocking=True)

    # compute output
    output = model(images)
    loss = criterion(output, target)
    losses.append(loss.item())

    # compute gradient and do SGD step
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""
# the example's defaults (--lr 0.1 for batches of 256), the learning rate scaled to batches of 32 (Goyal et al. 2017)
ARGS = types.SimpleNamespace(lr=0.1 * BATCH / 256, momentum=0.9, weight_decay=1e-4)


def resnet_module(lib_imports: str) -> dict:
    ns: dict = {}
    exec(lib_imports, ns)
    exec(compile(RESNET_PY, "<torchvision/models/resnet.py>", "exec"), ns)
    return ns


BNLAB = "import bnlab.torch as torch\nimport bnlab.torch.nn as nn"
TORCH = "import torch\nimport torch.nn as nn"


@pytest.fixture(scope="module")
def batches(fashion):
    (x, y), _ = fashion
    x = (x[: STEPS * BATCH].astype(np.float32) / 255 - 0.2860) / 0.3530  # Fashion-MNIST's mean and std
    x = np.repeat(x[:, None], 3, axis=1)  # (N, 3, 28, 28)
    y = y[: STEPS * BATCH].astype(np.int64)
    return [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]


def train(lib, imports, batches, state=None):
    """The ResNet-10 made by resnet.py (loading ``state`` when given), trained with the ImageNet example's step."""
    ns = resnet_module(imports)
    lib.manual_seed(0)
    model = ns["ResNet"](ns["BasicBlock"], [1, 1, 1, 1], num_classes=10)
    if state is not None:
        model.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in state.items()})
    initial = {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}
    with lib.no_grad():
        model.eval()
        first_logits = model(lib.from_numpy(batches[0][0].copy())).numpy().copy()
    loader = [(lib.from_numpy(x.copy()), lib.from_numpy(y.copy())) for x, y in batches]
    ns.update(model=model, train_loader=loader, losses=[], args=ARGS)
    exec(compile(TRAIN_STEP, "<imagenet/main.py train()>", "exec"), ns)
    final = {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}
    return {"model": model, "initial": initial, "final": final, "losses": ns["losses"], "eval_logits": first_logits}


@pytest.fixture(scope="module")
def runs(batches):
    ours = train(bt, BNLAB, batches)
    if not HAVE_TORCH:
        return ours, None
    import torch

    return ours, train(torch, TORCH, batches, state=ours["initial"])


needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")


# --------------------------------------------------------------------- the tests
def test_the_resnet_is_built_and_trains(runs):
    ours, _ = runs
    model, initial = ours["model"], ours["initial"]
    names = [n for n, _ in model.named_modules()]
    assert "layer2.0.downsample.0" in names and "layer1.0.downsample" not in names  # the shortcut where shapes change
    assert model.layer1[0].relu.inplace
    w = initial["layer3.0.conv1.weight"]  # Kaiming normal, fan_out = 256 * 3 * 3, gain sqrt(2)
    assert w.shape == (256, 128, 3, 3) and abs(w.std() / (2 / (256 * 9)) ** 0.5 - 1) < 0.02
    assert np.all(initial["layer4.0.bn2.weight"] == 1) and np.all(initial["bn1.bias"] == 0)
    assert initial["layer1.0.bn1.num_batches_tracked"] == 0 and ours["final"]["bn1.num_batches_tracked"] == STEPS
    losses = ours["losses"]
    assert len(losses) == STEPS and np.isfinite(losses).all() and losses[-1] < losses[0]


def test_zero_init_residual_makes_each_block_start_as_identity_plus_relu():
    ns = resnet_module(BNLAB)
    model = ns["ResNet"](ns["BasicBlock"], [1, 1, 1, 1], num_classes=10, zero_init_residual=True)
    block = model.layer1[0]
    assert float(block.bn2.weight.abs().max()) == 0.0 and float(block.bn1.weight.min()) == 1.0
    x = bt.relu(bt.randn(4, 64, 7, 7))
    np.testing.assert_array_equal(block(x).detach().numpy(), x.numpy())  # relu(0 + x) = x for x >= 0


@needs_torch
def test_forward_and_training_match_pytorch(runs):
    ours, theirs = runs
    logits = theirs["eval_logits"]
    np.testing.assert_allclose(ours["eval_logits"], logits, rtol=0, atol=1e-5 * np.abs(logits).max())
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-5)
    for key, want in theirs["final"].items():
        atol = 1e-4 * max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(ours["final"][key], want, rtol=0, atol=atol, err_msg=key)
