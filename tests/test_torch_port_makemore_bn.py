"""Karpathy's "Building makemore Part 3: Activations & Gradients, BatchNorm" runs on bnlab.torch with only the imports
changed, and gives PyTorch's numbers.

Source: https://github.com/karpathy/nn-zero-to-hero/blob/master/lectures/makemore/makemore_part3_bn.ipynb (MIT).
The cells below are the notebook's, written as it has them (trailing blanks stripped), keyed by their index in the
notebook; this file runs the first half (the data, the MLP with the hand-written batch norm, its calibration, the
split losses) and the bonus cells on the statistics of Linear and Linear+BN; test_torch_port_makemore_bn_layers.py
runs the second half (the ``Linear``/``BatchNorm1d``/``Tanh`` classes, the diagnostics and the sampling).
Changes, besides ``import torch`` -> ``import bnlab.torch as torch`` (and ``torch.nn.functional``):

* names.txt (32,033 names) is not available offline: ``make_names`` writes 2,000 name-like words from a fixed
  syllable grammar with ``random.Random(0)`` into a names.txt, which cell 2 reads as the notebook does;
* cell 7 trains 1,000 steps instead of 200,000 (``max_steps``); ``%matplotlib inline`` is dropped and matplotlib
  draws with its Agg backend.

Comparison with PyTorch. ``torch.Generator().manual_seed(2147483647)`` does not give PyTorch's numbers in bnlab:
bnlab's generators are NumPy PCG64 streams, PyTorch's a Mersenne Twister. So the PyTorch run replays bnlab's draws:
each ``torch.randn``/``torch.randint`` call of the bnlab run is recorded and the same call in the PyTorch run returns
the recorded array (the calls are checked to come in the same order with the same shapes). Everything else, every
forward, backward and update, is computed by each library on its own.

Tolerances. float32's unit roundoff is u = 2**-24 ~ 6e-8. A step's loss is a mean over 32 rows of log-softmaxes of
sums of at most 200 products, so the two libraries' different reduction orders give losses that differ by about
log2(200) * u ~ 5e-7 relative at most. SGD at lr 0.1 through the normalized tanh layer hardly amplifies that (units
in tanh's flat tails, which the lecture counts as saturated, pass almost no gradient): measured, the relative
difference of the losses grows from 1.4e-7 at step 0 to 5e-7 at step 1,000. So: 1e-6 relative for the first 10
losses, 1e-5 for all 1,000, for the running statistics and the split losses, and 1e-5 of their magnitude for the
trained weights.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import random
import re
import warnings

import numpy as np
import pytest

import bnlab.torch as bt

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HAVE_TORCH = importlib.util.find_spec("torch") is not None
BNLAB_IMPORTS = "import bnlab.torch as torch\nimport bnlab.torch.nn.functional as F\nimport matplotlib.pyplot as plt"
TORCH_IMPORTS = "import torch\nimport torch.nn.functional as F\nimport matplotlib.pyplot as plt"


def make_names(n: int = 2000, seed: int = 0) -> list[str]:
    """``n`` name-like lowercase words (1-3 syllables of onset, vowel, coda), the same ones every run."""
    rng = random.Random(seed)
    onsets = ("", "b", "br", "c", "ch", "d", "f", "g", "h", "j", "k", "kr", "l", "m", "n", "p", "qu", "r", "s")
    onsets += ("sh", "st", "t", "th", "v", "w", "x", "y", "z")
    vowels = ("a", "e", "i", "o", "u", "ay", "ee", "ia", "ie", "oa", "y")
    codas = ("", "", "", "n", "l", "r", "s", "th", "x", "nd", "ck", "m")
    words = []
    while len(words) < n:
        syllables = rng.choice([1, 2, 2, 3])
        word = "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(syllables))
        if 2 <= len(word) <= 12:
            words.append(word)
    return words


CELLS = {  # the notebook's code cells by index (cell 1, the imports, is BNLAB_IMPORTS / TORCH_IMPORTS)
    2: r"""
# read in all the words
words = open('names.txt', 'r').read().splitlines()
words[:8]
""",
    4: r"""
# build the vocabulary of characters and mappings to/from integers
chars = sorted(list(set(''.join(words))))
stoi = {s:i+1 for i,s in enumerate(chars)}
stoi['.'] = 0
itos = {i:s for s,i in stoi.items()}
vocab_size = len(itos)
print(itos)
print(vocab_size)
""",
    5: r"""
# build the dataset
block_size = 3 # context length: how many characters do we take to predict the next one?

def build_dataset(words):
  X, Y = [], []

  for w in words:
    context = [0] * block_size
    for ch in w + '.':
      ix = stoi[ch]
      X.append(context)
      Y.append(ix)
      context = context[1:] + [ix] # crop and append

  X = torch.tensor(X)
  Y = torch.tensor(Y)
  print(X.shape, Y.shape)
  return X, Y

import random
random.seed(42)
random.shuffle(words)
n1 = int(0.8*len(words))
n2 = int(0.9*len(words))

Xtr,  Ytr  = build_dataset(words[:n1])     # 80%
Xdev, Ydev = build_dataset(words[n1:n2])   # 10%
Xte,  Yte  = build_dataset(words[n2:])     # 10%
""",
    6: r"""
# MLP revisited
n_embd = 10 # the dimensionality of the character embedding vectors
n_hidden = 200 # the number of neurons in the hidden layer of the MLP

g = torch.Generator().manual_seed(2147483647) # for reproducibility
C  = torch.randn((vocab_size, n_embd),            generator=g)
W1 = torch.randn((n_embd * block_size, n_hidden), generator=g) * (5/3)/((n_embd * block_size)**0.5) #* 0.2
#b1 = torch.randn(n_hidden,                        generator=g) * 0.01
W2 = torch.randn((n_hidden, vocab_size),          generator=g) * 0.01
b2 = torch.randn(vocab_size,                      generator=g) * 0

# BatchNorm parameters
bngain = torch.ones((1, n_hidden))
bnbias = torch.zeros((1, n_hidden))
bnmean_running = torch.zeros((1, n_hidden))
bnstd_running = torch.ones((1, n_hidden))

parameters = [C, W1, W2, b2, bngain, bnbias]
print(sum(p.nelement() for p in parameters)) # number of parameters in total
for p in parameters:
  p.requires_grad = True
""",
    7: r"""
# same optimization as last time
max_steps = 200000
batch_size = 32
lossi = []

for i in range(max_steps):

  # minibatch construct
  ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)
  Xb, Yb = Xtr[ix], Ytr[ix] # batch X,Y

  # forward pass
  emb = C[Xb] # embed the characters into vectors
  embcat = emb.view(emb.shape[0], -1) # concatenate the vectors
  # Linear layer
  hpreact = embcat @ W1 #+ b1 # hidden layer pre-activation
  # BatchNorm layer
  # -------------------------------------------------------------
  bnmeani = hpreact.mean(0, keepdim=True)
  bnstdi = hpreact.std(0, keepdim=True)
  hpreact = bngain * (hpreact - bnmeani) / bnstdi + bnbias
  with torch.no_grad():
    bnmean_running = 0.999 * bnmean_running + 0.001 * bnmeani
    bnstd_running = 0.999 * bnstd_running + 0.001 * bnstdi
  # -------------------------------------------------------------
  # Non-linearity
  h = torch.tanh(hpreact) # hidden layer
  logits = h @ W2 + b2 # output layer
  loss = F.cross_entropy(logits, Yb) # loss function

  # backward pass
  for p in parameters:
    p.grad = None
  loss.backward()

  # update
  lr = 0.1 if i < 100000 else 0.01 # step learning rate decay
  for p in parameters:
    p.data += -lr * p.grad

  # track stats
  if i % 10000 == 0: # print every once in a while
    print(f'{i:7d}/{max_steps:7d}: {loss.item():.4f}')
  lossi.append(loss.log10().item())
""",
    9: r"""
# calibrate the batch norm at the end of training

with torch.no_grad():
  # pass the training set through
  emb = C[Xtr]
  embcat = emb.view(emb.shape[0], -1)
  hpreact = embcat @ W1 # + b1
  # measure the mean/std over the entire training set
  bnmean = hpreact.mean(0, keepdim=True)
  bnstd = hpreact.std(0, keepdim=True)
""",
    10: r"""
@torch.no_grad() # this decorator disables gradient tracking
def split_loss(split):
  x,y = {
    'train': (Xtr, Ytr),
    'val': (Xdev, Ydev),
    'test': (Xte, Yte),
  }[split]
  emb = C[x] # (N, block_size, n_embd)
  embcat = emb.view(emb.shape[0], -1) # concat into (N, block_size * n_embd)
  hpreact = embcat @ W1 # + b1
  #hpreact = bngain * (hpreact - hpreact.mean(0, keepdim=True)) / hpreact.std(0, keepdim=True) + bnbias
  hpreact = bngain * (hpreact - bnmean_running) / bnstd_running + bnbias
  h = torch.tanh(hpreact) # (N, n_hidden)
  logits = h @ W2 + b2 # (N, vocab_size)
  loss = F.cross_entropy(logits, y)
  print(split, loss.item())

split_loss('train')
split_loss('val')
""",
    23: r"""
# Linear: activation statistics of forward and backward pass

g = torch.Generator().manual_seed(2147483647)

a = torch.randn((1000,1), requires_grad=True, generator=g)          # a.grad = b.T @ c.grad
b = torch.randn((1000,1000), requires_grad=True, generator=g)       # b.grad = c.grad @ a.T
c = b @ a
loss = torch.randn(1000, generator=g) @ c
a.retain_grad()
b.retain_grad()
c.retain_grad()
loss.backward()
print('a std:', a.std().item())
print('b std:', b.std().item())
print('c std:', c.std().item())
print('-----')
print('c grad std:', c.grad.std().item())
print('a grad std:', a.grad.std().item())
print('b grad std:', b.grad.std().item())
""",
    24: r"""
# Linear + BatchNorm: activation statistics of forward and backward pass

g = torch.Generator().manual_seed(2147483647)

n = 1000
# linear layer ---
inp = torch.randn(n, requires_grad=True, generator=g)
w = torch.randn((n, n), requires_grad=True, generator=g) # / n**0.5
x = w @ inp
# bn layer ---
xmean = x.mean()
xvar = x.var()
out = (x - xmean) / torch.sqrt(xvar + 1e-5)
# ----
loss = out @ torch.randn(n, generator=g)
inp.retain_grad()
x.retain_grad()
w.retain_grad()
out.retain_grad()
loss.backward()

print('inp std: ', inp.std().item())
print('w std: ', w.std().item())
print('x std: ', x.std().item())
print('out std: ', out.std().item())
print('------')
print('out grad std: ', out.grad.std().item())
print('x grad std: ', x.grad.std().item())
print('w grad std: ', w.grad.std().item())
print('inp grad std: ', inp.grad.std().item())
""",
}
CELLS[7] = CELLS[7].replace("max_steps = 200000", "max_steps = 1000")


class Draws:
    """Records every ``randn``/``randint`` result of one run, and replays them in another library's run."""

    def __init__(self) -> None:
        self.tape: list[tuple[str, tuple, np.ndarray]] = []
        self.replayed = 0

    def install(self, lib, monkeypatch, record: bool) -> None:
        for name in ("randn", "randint"):
            original = getattr(lib, name)

            def draw(*args, _name=name, _original=original, **kwargs):
                if record:
                    out = _original(*args, **kwargs)
                    self.tape.append((_name, tuple(out.shape), out.detach().numpy().copy()))
                    return out
                want, shape, values = self.tape[self.replayed]
                self.replayed += 1
                out = _original(*args, **kwargs)  # the call itself, for its shape and dtype
                assert (want, shape) == (_name, tuple(out.shape)), "the two runs draw in a different order"
                return lib.tensor(values, requires_grad=kwargs.get("requires_grad", False))

            monkeypatch.setattr(lib, name, draw)


def run_cells(lib, imports, cells, draws, record, workdir, keep=None):
    """Run ``cells`` ({cell number: source}, in order) in one namespace after ``imports``; returns (namespace,
    printout, kept) where ``kept[k]`` is ``keep[k](namespace)`` taken right after cell k (for the values a later
    cell overwrites). ``draws`` records (``record``) or replays this run's random draws."""
    ns, kept, out = {}, {}, io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), warnings.catch_warnings():
        # PyTorch >= 2.4 warns when a tensor that requires grad is %-formatted, as the lecture's cells do
        warnings.filterwarnings("ignore", "Converting a tensor with requires_grad=True to a scalar")
        warnings.simplefilter("ignore", ResourceWarning)  # cell 2 reads names.txt without closing it
        mp.chdir(workdir)
        draws.install(lib, mp, record)
        exec(imports, ns)
        for k, source in cells.items():
            exec(compile(source, f"<cell {k}>", "exec"), ns)
            if keep and k in keep:
                kept[k] = keep[k](ns)
            plt.close("all")
    return ns, out.getvalue(), kept


def both_runs(cells, workdir, keep):
    """The bnlab run (its draws recorded) and, where PyTorch is installed, the PyTorch run (None otherwise)."""
    draws = Draws()
    ours = run_cells(bt, BNLAB_IMPORTS, cells, draws, True, workdir, keep)
    if not HAVE_TORCH:
        return ours, None
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the lecture's small products: one thread is fastest on a loaded machine
    try:
        theirs = run_cells(torch, TORCH_IMPORTS, cells, draws, False, workdir, keep)
    finally:
        torch.set_num_threads(threads)
    assert draws.replayed == len(draws.tape)
    return ours, theirs


def numbers(text: str) -> tuple[list[str], np.ndarray]:
    """The text with each number replaced by '#', and the numbers."""
    pattern = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
    return re.sub(pattern, "#", text).splitlines(), np.array([float(v) for v in re.findall(pattern, text)])


def assert_same_printout(got: str, want: str, rtol: float, atol: float) -> None:
    (got_lines, got_values), (want_lines, want_values) = numbers(got), numbers(want)
    assert got_lines == want_lines
    np.testing.assert_allclose(got_values, want_values, rtol=rtol, atol=atol)


def host(t) -> np.ndarray:
    return np.array(t.detach().numpy(), copy=True)


@pytest.fixture(scope="module")
def names_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("makemore")
    (path / "names.txt").write_text("\n".join(make_names()) + "\n")
    return path


KEEP = {
    7: lambda ns: {
        "lossi": list(ns["lossi"]),
        "params": [host(p) for p in ns["parameters"]],
        "bnmean_running": host(ns["bnmean_running"]),
        "bnstd_running": host(ns["bnstd_running"]),
    },
    9: lambda ns: {"bnmean": host(ns["bnmean"]), "bnstd": host(ns["bnstd"])},
}
FIRST_HALF = [2, 4, 5, 6, 7, 9, 10, 23, 24]


@pytest.fixture(scope="module")
def runs(names_dir):
    return both_runs({k: CELLS[k] for k in FIRST_HALF}, names_dir, KEEP)


needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")


# --------------------------------------------------------------------- the tests
def test_the_first_half_runs(runs):
    (ns, out, kept), _ = runs
    lines = out.splitlines()
    assert lines[0].startswith("{1: 'a', 2: 'b'") and lines[1] == "27"  # itos and vocab_size (26 letters and '.')
    for line, n in zip(lines[2:5], (12903, 1627, 1586), strict=True):
        assert line == f"torch.Size([{n}, 3]) torch.Size([{n}])"  # the three splits' X and Y
    assert lines[5] == "12097"  # the parameters' count (27*10 + 30*200 + 200*27 + 27 + 2*200)
    assert lines[6].startswith("      0/   1000: 3.")  # about ln(27) = 3.30 at the start
    lossi = kept[7]["lossi"]
    assert len(lossi) == 1000 and np.mean(lossi[-100:]) < np.mean(lossi[:100]) - 0.05  # log10 of the loss falls
    train, val = (float(line.split()[1]) for line in lines[7:9])
    assert lines[7].startswith("train ") and lines[8].startswith("val ") and train < 2.5 and val < 2.6
    # the calibration (cell 9) measures what the running estimates approach
    assert kept[9]["bnmean"].shape == (1, 200) and np.all(kept[9]["bnstd"] > 0)
    assert ns["p"].grad is not None and ns["hpreact"].requires_grad is False  # cell 10 ran under no_grad


@needs_torch
def test_losses_and_running_statistics_match_pytorch(runs):
    (_, _, ours), (_, _, theirs) = runs
    got, want = 10 ** np.array(ours[7]["lossi"]), 10 ** np.array(theirs[7]["lossi"])
    np.testing.assert_allclose(got[:10], want[:10], rtol=1e-6)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for key in ("bnmean_running", "bnstd_running"):
        np.testing.assert_allclose(ours[7][key], theirs[7][key], rtol=1e-5, atol=1e-5)
    for got_p, want_p in zip(ours[7]["params"], theirs[7]["params"], strict=True):
        np.testing.assert_allclose(got_p, want_p, rtol=0, atol=1e-5 * max(1.0, float(np.abs(want_p).max())))
    for key in ("bnmean", "bnstd"):
        np.testing.assert_allclose(ours[9][key], theirs[9][key], rtol=1e-5, atol=1e-5)


@needs_torch
def test_printout_matches_pytorch(runs):
    """Every printed line (the vocabulary, the shapes, the parameter count, the losses, the split losses, the bonus
    cells' standard deviations) has the same text, and its numbers agree to 1e-5 relative; the standard deviations
    of the bonus cells are sums over 1e6 products, within sqrt(1e6) * u ~ 1e-4 relative of each other."""
    (_, ours, _), (_, theirs, _) = runs
    split = ours.index("a std:")
    assert_same_printout(ours[:split], theirs[: theirs.index("a std:")], rtol=1e-5, atol=1e-6)
    assert_same_printout(ours[split:], theirs[theirs.index("a std:") :], rtol=1e-4, atol=1e-6)


def test_generator_streams_are_reproducible():
    """The lecture seeds for reproducibility: the same seed gives the same draws, another seed other draws."""
    draws = [bt.randn((3, 4), generator=bt.Generator().manual_seed(s)).numpy() for s in (2147483647, 2147483647, 1)]
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2])
    ix = [bt.randint(0, 100, (32,), generator=bt.Generator().manual_seed(2147483647)).numpy() for _ in range(2)]
    np.testing.assert_array_equal(ix[0], ix[1])
    assert ix[0].dtype == np.int64 and ix[0].min() >= 0 and ix[0].max() < 100
