"""The pieces of d2l's PyTorch library (d2l/torch.py) that its chapters' training cells use, on bnlab.torch with only
the imports changed; and the harness that runs a chapter's cells on bnlab.torch and on PyTorch alike, for
test_torch_port_d2l_batchnorm.py.

Source: "Dive into Deep Learning", https://github.com/d2l-ai/d2l-en/blob/master/d2l/torch.py (MIT-0). ``D2L_LIBRARY``
holds ``HyperParameters``, ``ProgressBoard``, ``Module``, ``DataModule``, ``Trainer``, ``FashionMNIST``,
``Classifier`` (with ``layer_summary``), ``init_cnn``, the device helpers and the ``d2l.reshape``-style aliases as
d2l has them, without the definitions that d2l's generated file overrides further down (its first
``Trainer.__init__``, ``fit_epoch`` and ``prepare_batch``), and with ``ProgressBoard.draw`` recording its points
without drawing the figure.

The harness (``run_chapter``): the cells run in one namespace after ``BNLAB_IMPORTS`` or ``TORCH_IMPORTS``, with
``d2l`` from ``load_d2l``. The bnlab run records what comes from a random generator, and the PyTorch run replays it
(bnlab's generators are not PyTorch's): the batches of each data loader (d2l shuffles the training set), and the
initial weights, copied into the PyTorch model at the end of ``apply_init`` (after both libraries have made the lazy
shapes and run the initialization). Each training step's loss and each cell's printout are recorded in both runs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import types

import numpy as np
import pytest

import bnlab.torch as bt

HAVE_TORCH = importlib.util.find_spec("torch") is not None

BNLAB_IMPORTS = """
import bnlab.torch as torch
import bnlab.torchvision as torchvision
from bnlab.torch import nn
from bnlab.torch.nn import functional as F
from bnlab.torchvision import transforms
"""
TORCH_IMPORTS = """
import torch
from torch import nn
from torch.nn import functional as F
torchvision = transforms = None  # not needed: d2l.FashionMNIST replays the bnlab run's batches
"""

# d2l/torch.py (the pieces the chapters use)
D2L_LIBRARY = """
import collections
import inspect

d2l = __import__("types").SimpleNamespace()
nn_Module = nn.Module

def add_to_class(Class):
    def wrapper(obj):
        setattr(Class, obj.__name__, obj)
    return wrapper

class HyperParameters:
    def save_hyperparameters(self, ignore=[]):
        frame = inspect.currentframe().f_back
        _, _, _, local_vars = inspect.getargvalues(frame)
        self.hparams = {k:v for k, v in local_vars.items()
                        if k not in set(ignore+['self']) and not k.startswith('_')}
        for k, v in self.hparams.items():
            setattr(self, k, v)

class ProgressBoard(HyperParameters):
    def __init__(self, xlabel=None, ylabel=None, xlim=None,
                 ylim=None, xscale='linear', yscale='linear',
                 ls=['-', '--', '-.', ':'], colors=['C0', 'C1', 'C2', 'C3'],
                 fig=None, axes=None, figsize=(3.5, 2.5), display=True):
        self.save_hyperparameters()

    def draw(self, x, y, label, every_n=1):
        Point = collections.namedtuple('Point', ['x', 'y'])
        if not hasattr(self, 'raw_points'):
            self.raw_points = collections.OrderedDict()
            self.data = collections.OrderedDict()
        if label not in self.raw_points:
            self.raw_points[label] = []
            self.data[label] = []
        points = self.raw_points[label]
        line = self.data[label]
        points.append(Point(x, y))
        if len(points) != every_n:
            return
        mean = lambda x: sum(x) / len(x)
        line.append(Point(mean([p.x for p in points]),
                          mean([p.y for p in points])))
        points.clear()
        return  # (d2l draws the figure from here on)

class Module(nn_Module, HyperParameters):
    def __init__(self, plot_train_per_epoch=2, plot_valid_per_epoch=1):
        super().__init__()
        self.save_hyperparameters()
        self.board = ProgressBoard()

    def loss(self, y_hat, y):
        raise NotImplementedError

    def forward(self, X):
        assert hasattr(self, 'net'), 'Neural network is defined'
        return self.net(X)

    def plot(self, key, value, train):
        assert hasattr(self, 'trainer'), 'Trainer is not inited'
        self.board.xlabel = 'epoch'
        if train:
            x = self.trainer.train_batch_idx / \\
                self.trainer.num_train_batches
            n = self.trainer.num_train_batches / \\
                self.plot_train_per_epoch
        else:
            x = self.trainer.epoch + 1
            n = self.trainer.num_val_batches / \\
                self.plot_valid_per_epoch
        self.board.draw(x, d2l.numpy(d2l.to(value, d2l.cpu())),
                        ('train_' if train else 'val_') + key,
                        every_n=int(n))

    def training_step(self, batch):
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot('loss', l, train=True)
        return l

    def validation_step(self, batch):
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot('loss', l, train=False)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def apply_init(self, inputs, init=None):
        self.forward(*inputs)
        if init is not None:
            self.net.apply(init)

class DataModule(HyperParameters):
    def __init__(self, root='../data', num_workers=4):
        self.save_hyperparameters()

    def get_dataloader(self, train):
        raise NotImplementedError

    def train_dataloader(self):
        return self.get_dataloader(train=True)

    def val_dataloader(self):
        return self.get_dataloader(train=False)

class Trainer(HyperParameters):
    def __init__(self, max_epochs, num_gpus=0, gradient_clip_val=0):
        self.save_hyperparameters()
        self.gpus = [d2l.gpu(i) for i in range(min(num_gpus, d2l.num_gpus()))]

    def prepare_data(self, data):
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = (len(self.val_dataloader)
                                if self.val_dataloader is not None else 0)

    def prepare_model(self, model):
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        if self.gpus:
            model.to(self.gpus[0])
        self.model = model

    def fit(self, model, data):
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.epoch = 0
        self.train_batch_idx = 0
        self.val_batch_idx = 0
        for self.epoch in range(self.max_epochs):
            self.fit_epoch()

    def prepare_batch(self, batch):
        if self.gpus:
            batch = [d2l.to(a, self.gpus[0]) for a in batch]
        return batch

    def fit_epoch(self):
        self.model.train()
        for batch in self.train_dataloader:
            loss = self.model.training_step(self.prepare_batch(batch))
            self.optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                if self.gradient_clip_val > 0:  # To be discussed later
                    self.clip_gradients(self.gradient_clip_val, self.model)
                self.optim.step()
            self.train_batch_idx += 1
        if self.val_dataloader is None:
            return
        self.model.eval()
        for batch in self.val_dataloader:
            with torch.no_grad():
                self.model.validation_step(self.prepare_batch(batch))
            self.val_batch_idx += 1

class FashionMNIST(DataModule):
    def __init__(self, batch_size=64, resize=(28, 28)):
        super().__init__()
        self.save_hyperparameters()
        trans = transforms.Compose([transforms.Resize(resize),
                                    transforms.ToTensor()])
        self.train = torchvision.datasets.FashionMNIST(
            root=self.root, train=True, transform=trans, download=True)
        self.val = torchvision.datasets.FashionMNIST(
            root=self.root, train=False, transform=trans, download=True)

    def get_dataloader(self, train):
        data = self.train if train else self.val
        return torch.utils.data.DataLoader(data, self.batch_size, shuffle=train,
                                           num_workers=self.num_workers)

class Classifier(Module):
    def validation_step(self, batch):
        Y_hat = self(*batch[:-1])
        self.plot('loss', self.loss(Y_hat, batch[-1]), train=False)
        self.plot('acc', self.accuracy(Y_hat, batch[-1]), train=False)

    def accuracy(self, Y_hat, Y, averaged=True):
        Y_hat = d2l.reshape(Y_hat, (-1, Y_hat.shape[-1]))
        preds = d2l.astype(d2l.argmax(Y_hat, axis=1), Y.dtype)
        compare = d2l.astype(preds == d2l.reshape(Y, -1), d2l.float32)
        return d2l.reduce_mean(compare) if averaged else compare

    def loss(self, Y_hat, Y, averaged=True):
        Y_hat = d2l.reshape(Y_hat, (-1, Y_hat.shape[-1]))
        Y = d2l.reshape(Y, (-1,))
        return F.cross_entropy(
            Y_hat, Y, reduction='mean' if averaged else 'none')

    def layer_summary(self, X_shape):
        X = d2l.randn(*X_shape)
        for layer in self.net:
            X = layer(X)
            print(layer.__class__.__name__, 'output shape:\t', X.shape)

def cpu():
    return torch.device('cpu')

def gpu(i=0):
    return torch.device(f'cuda:{i}')

def num_gpus():
    return torch.cuda.device_count()

def init_cnn(module):
    if type(module) == nn.Linear or type(module) == nn.Conv2d:
        nn.init.xavier_uniform_(module.weight)

float32 = torch.float32
randn = torch.randn
numpy = lambda x, *args, **kwargs: x.detach().numpy(*args, **kwargs)
reshape = lambda x, *args, **kwargs: x.reshape(*args, **kwargs)
to = lambda x, *args, **kwargs: x.to(*args, **kwargs)
argmax = lambda x, *args, **kwargs: x.argmax(*args, **kwargs)
astype = lambda x, *args, **kwargs: x.type(*args, **kwargs)
reduce_mean = lambda x, *args, **kwargs: x.mean(*args, **kwargs)
d2l.__dict__.update({k: v for k, v in globals().items() if not k.startswith('__')})
"""


def load_d2l(imports: str) -> types.SimpleNamespace:
    """d2l's library on the library that ``imports`` imports."""
    ns: dict = {}
    exec(imports, ns)
    exec(compile(D2L_LIBRARY, "<d2l/torch.py>", "exec"), ns)
    return ns["d2l"]


def state_of(model) -> dict[str, np.ndarray]:
    """Parameters, buffers and the chapter's plain-tensor moving statistics, by name, as NumPy copies."""
    state = {name: np.array(t.detach().numpy(), copy=True) for name, t in model.named_parameters()}
    state.update({name: np.array(t.detach().numpy(), copy=True) for name, t in model.named_buffers()})
    for prefix, module in model.named_modules():
        for attr in ("moving_mean", "moving_var"):
            if hasattr(module, attr):
                state[f"{prefix}.{attr}"] = np.array(getattr(module, attr).numpy(), copy=True)
    return state


def load_state(model, state, lib) -> None:
    with lib.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            t.copy_(lib.tensor(state[name]))
        for prefix, module in model.named_modules():
            for attr in ("moving_mean", "moving_var"):
                if hasattr(module, attr):
                    setattr(module, attr, lib.tensor(state[f"{prefix}.{attr}"]))


class Tape:
    """What the bnlab run drew (data loaders' batches, initial weights), for the PyTorch run to replay."""

    def __init__(self) -> None:
        self.loaders: list[tuple[bool, list[list[tuple[np.ndarray, ...]]]]] = []
        self.inits: list[dict[str, np.ndarray]] = []


class RecordingLoader:
    def __init__(self, loader, iterations) -> None:
        self.loader, self.iterations = loader, iterations

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        seen: list = []
        self.iterations.append(seen)
        for batch in self.loader:
            seen.append(tuple(np.array(t.numpy(), copy=True) for t in batch))
            yield batch


class ReplayLoader:
    def __init__(self, lib, iterations) -> None:
        self.lib, self.iterations, self.count = lib, iterations, 0

    def __len__(self) -> int:
        return max(len(it) for it in self.iterations)

    def __iter__(self):
        self.count += 1
        for batch in self.iterations[self.count - 1]:
            yield [self.lib.from_numpy(a.copy()) for a in batch]


def install(d2l, lib, tape: Tape, record: bool, results: dict, mp) -> None:
    """Record (bnlab) or replay (PyTorch) the data and initial weights; record the losses in both runs."""
    calls = {"loader": 0, "init": 0}
    if record:
        get_dataloader = d2l.FashionMNIST.get_dataloader

        def recording(self, train):
            tape.loaders.append((train, []))
            return RecordingLoader(get_dataloader(self, train), tape.loaders[-1][1])

        mp.setattr(d2l.FashionMNIST, "get_dataloader", recording)
    else:

        class ReplayFashionMNIST(d2l.DataModule):
            def __init__(self, batch_size=64, resize=(28, 28)):
                super().__init__()
                self.save_hyperparameters()

            def get_dataloader(self, train):
                want, iterations = tape.loaders[calls["loader"]]
                assert want == train, "the two runs ask for their data loaders in a different order"
                calls["loader"] += 1
                return ReplayLoader(lib, iterations)

        mp.setattr(d2l, "FashionMNIST", ReplayFashionMNIST)
    apply_init, training_step = d2l.Module.apply_init, d2l.Module.training_step

    def init(self, inputs, init=None):
        apply_init(self, inputs, init)
        if record:
            tape.inits.append(state_of(self))
            results["init"] = tape.inits[-1]
        else:
            load_state(self, tape.inits[calls["init"]], lib)
            calls["init"] += 1

    def step(self, batch):
        loss = training_step(self, batch)
        results.setdefault("losses", []).append(float(loss.item()))
        return loss

    mp.setattr(d2l.Module, "apply_init", init)
    mp.setattr(d2l.Module, "training_step", step)


def run_chapter(lib, imports, cells, tape, record, keep):
    """Run ``cells`` ({name: source}); returns {cell name: keep[name](namespace)} and each training's losses."""
    ns: dict = {}
    exec(imports, ns)
    ns["d2l"] = d2l = load_d2l(imports)
    kept: dict = {}
    results: dict = {}
    with pytest.MonkeyPatch.context() as mp:
        install(d2l, lib, tape, record, results, mp)
        for name, source in cells.items():
            results.clear()
            with contextlib.redirect_stdout(printed := io.StringIO()):
                exec(compile(source, f"<cell {name}>", "exec"), ns)
            results["printed"] = printed.getvalue()
            if name in keep:
                kept[name] = keep[name](ns) | results
    return kept


def both_runs(cells, keep):
    """The bnlab run and, where PyTorch is installed, the PyTorch run replaying its draws (None otherwise)."""
    tape = Tape()
    ours = run_chapter(bt, BNLAB_IMPORTS, cells, tape, True, keep)
    if not HAVE_TORCH:
        return ours, None
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small products: one thread is fastest on a loaded machine
    try:
        return ours, run_chapter(torch, TORCH_IMPORTS, cells, tape, False, keep)
    finally:
        torch.set_num_threads(threads)


# --------------------------------------------------------------------- the library's own tests
def test_save_hyperparameters_and_the_board():
    d2l = load_d2l(BNLAB_IMPORTS)

    class Model(d2l.Classifier):
        def __init__(self, lr=0.1, num_classes=10, _hidden=3):
            super().__init__()
            self.save_hyperparameters()

    model = Model(lr=0.5)
    assert model.hparams == {"lr": 0.5, "num_classes": 10} and model.lr == 0.5 and model.plot_train_per_epoch == 2
    assert isinstance(model, bt.nn.Module) and model.training
    board = d2l.ProgressBoard()
    for i in range(1, 7):
        board.draw(i, d2l.numpy(bt.tensor(float(i))), "train_loss", every_n=3)
    assert [(p.x, float(p.y)) for p in board.data["train_loss"]] == [(2.0, 2.0), (5.0, 5.0)]  # means of 3 points
    assert d2l.num_gpus() == bt.cuda.device_count() and d2l.cpu().type == "cpu"


def test_classifier_loss_and_accuracy():
    d2l = load_d2l(BNLAB_IMPORTS)
    Y_hat = bt.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [1.0, 0.0, 4.0], [0.0, 1.0, 0.0]])
    Y = bt.tensor([0, 1, 0, 2])
    model = d2l.Classifier()
    assert float(model.accuracy(Y_hat, Y)) == 0.5
    assert model.accuracy(Y_hat, Y, averaged=False).dtype == bt.float32
    want = np.mean([-np.log(np.exp(r[y]) / np.exp(r).sum()) for r, y in zip(Y_hat.numpy(), Y.numpy(), strict=True)])
    np.testing.assert_allclose(float(model.loss(Y_hat, Y)), want, rtol=1e-6)
    assert model.loss(Y_hat, Y, averaged=False).shape == (4,)
