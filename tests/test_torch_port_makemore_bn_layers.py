"""The second half of Karpathy's makemore part 3 (the "PyTorch-ifying" part) runs on bnlab.torch with only the imports
changed, and gives PyTorch's numbers: the hand-written ``Linear``, ``BatchNorm1d`` and ``Tanh`` classes (tensors with
``requires_grad``, ``@``, ``+=`` on a layer's output, ``.mean(0, keepdim=True)``, ``.var(0, keepdim=True)``, updates
of the buffers under ``torch.no_grad()``), a six-layer MLP trained with ``p.grad = None``, ``loss.backward()`` and
``p.data += -lr * p.grad`` for the lecture's 1,001 steps, ``layer.out.retain_grad()``, the update-to-data ratios,
the activation and gradient statistics with their ``torch.histogram`` plots, the split losses in eval mode and the
sampling with ``torch.multinomial(probs, num_samples=1, generator=g)``.

Source: https://github.com/karpathy/nn-zero-to-hero/blob/master/lectures/makemore/makemore_part3_bn.ipynb (MIT),
cells 13-20 as the notebook has them (trailing blanks stripped), after its data cells 2, 4 and 5, which
test_torch_port_makemore_bn.py holds with the harness (the generated names.txt, the replay of bnlab's random draws
in the PyTorch run, and why: bnlab's generators are not PyTorch's Mersenne Twister). Nothing else is changed: cell
14 stops itself after 1,001 of its 200,000 steps, as the notebook has it.

Tolerances (float32, u = 2**-24): the losses as in the first half (1e-6 relative for the first 10 steps, 1e-5 for
all; measured: 5e-7 at step 1,000). The weights drift apart by a few 1e-6 of their magnitude in 1,001 steps, and
the forward values more the deeper the layer, as each BN divides by a batch's std (measured: 3e-5 of the magnitude
in the last layers' outputs, 1.6e-5 relative in the last BN's running variance): the weights are compared to 1e-5
of their magnitude, the layers' outputs, their gradients, the running statistics and the sampling probabilities to
1e-4. The update-to-data ratios' log10 agree to 3e-6 (compared to 1e-5). The printed gradient statistics (cells
16, 17) to 1e-5 relative and 1e-6 absolute (the zero means); the saturation percentages of cell 15 to 0.07: one
of the 3,200 values within rounding of 0.97 moves the percentage by 1/32, and the print rounds to 0.01.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_torch_port_makemore_bn import CELLS, HAVE_TORCH, assert_same_printout, both_runs, host, names_dir

import bnlab.torch as bt

__all__ = ["names_dir"]  # the fixture, shared with the first half

LAYER_CELLS = {  # the notebook's cells 13-20
    13: r"""
# Let's train a deeper network
# The classes we create here are the same API as nn.Module in PyTorch

class Linear:

  def __init__(self, fan_in, fan_out, bias=True):
    self.weight = torch.randn((fan_in, fan_out), generator=g) / fan_in**0.5
    self.bias = torch.zeros(fan_out) if bias else None

  def __call__(self, x):
    self.out = x @ self.weight
    if self.bias is not None:
      self.out += self.bias
    return self.out

  def parameters(self):
    return [self.weight] + ([] if self.bias is None else [self.bias])


class BatchNorm1d:

  def __init__(self, dim, eps=1e-5, momentum=0.1):
    self.eps = eps
    self.momentum = momentum
    self.training = True
    # parameters (trained with backprop)
    self.gamma = torch.ones(dim)
    self.beta = torch.zeros(dim)
    # buffers (trained with a running 'momentum update')
    self.running_mean = torch.zeros(dim)
    self.running_var = torch.ones(dim)

  def __call__(self, x):
    # calculate the forward pass
    if self.training:
      xmean = x.mean(0, keepdim=True) # batch mean
      xvar = x.var(0, keepdim=True) # batch variance
    else:
      xmean = self.running_mean
      xvar = self.running_var
    xhat = (x - xmean) / torch.sqrt(xvar + self.eps) # normalize to unit variance
    self.out = self.gamma * xhat + self.beta
    # update the buffers
    if self.training:
      with torch.no_grad():
        self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * xmean
        self.running_var = (1 - self.momentum) * self.running_var + self.momentum * xvar
    return self.out

  def parameters(self):
    return [self.gamma, self.beta]

class Tanh:
  def __call__(self, x):
    self.out = torch.tanh(x)
    return self.out
  def parameters(self):
    return []

n_embd = 10 # the dimensionality of the character embedding vectors
n_hidden = 100 # the number of neurons in the hidden layer of the MLP
g = torch.Generator().manual_seed(2147483647) # for reproducibility

C = torch.randn((vocab_size, n_embd),            generator=g)
layers = [
  Linear(n_embd * block_size, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
  Linear(           n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
  Linear(           n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
  Linear(           n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
  Linear(           n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
  Linear(           n_hidden, vocab_size, bias=False), BatchNorm1d(vocab_size),
]
# layers = [
#   Linear(n_embd * block_size, n_hidden), Tanh(),
#   Linear(           n_hidden, n_hidden), Tanh(),
#   Linear(           n_hidden, n_hidden), Tanh(),
#   Linear(           n_hidden, n_hidden), Tanh(),
#   Linear(           n_hidden, n_hidden), Tanh(),
#   Linear(           n_hidden, vocab_size),
# ]

with torch.no_grad():
  # last layer: make less confident
  layers[-1].gamma *= 0.1
  #layers[-1].weight *= 0.1
  # all other layers: apply gain
  for layer in layers[:-1]:
    if isinstance(layer, Linear):
      layer.weight *= 1.0 #5/3

parameters = [C] + [p for layer in layers for p in layer.parameters()]
print(sum(p.nelement() for p in parameters)) # number of parameters in total
for p in parameters:
  p.requires_grad = True
""",
    14: r"""
# same optimization as last time
max_steps = 200000
batch_size = 32
lossi = []
ud = []

for i in range(max_steps):

  # minibatch construct
  ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)
  Xb, Yb = Xtr[ix], Ytr[ix] # batch X,Y

  # forward pass
  emb = C[Xb] # embed the characters into vectors
  x = emb.view(emb.shape[0], -1) # concatenate the vectors
  for layer in layers:
    x = layer(x)
  loss = F.cross_entropy(x, Yb) # loss function

  # backward pass
  for layer in layers:
    layer.out.retain_grad() # AFTER_DEBUG: would take out retain_graph
  for p in parameters:
    p.grad = None
  loss.backward()

  # update
  lr = 0.1 if i < 150000 else 0.01 # step learning rate decay
  for p in parameters:
    p.data += -lr * p.grad

  # track stats
  if i % 10000 == 0: # print every once in a while
    print(f'{i:7d}/{max_steps:7d}: {loss.item():.4f}')
  lossi.append(loss.log10().item())
  with torch.no_grad():
    ud.append([((lr*p.grad).std() / p.data.std()).log10().item() for p in parameters])

  if i >= 1000:
    break # AFTER_DEBUG: would take out obviously to run full optimization
""",
    15: r"""
# visualize histograms
plt.figure(figsize=(20, 4)) # width and height of the plot
legends = []
for i, layer in enumerate(layers[:-1]): # note: exclude the output layer
  if isinstance(layer, Tanh):
    t = layer.out
    print('layer %d (%10s): mean %+.2f, std %.2f, saturated: %.2f%%' % (i, layer.__class__.__name__, t.mean(), t.std(), (t.abs() > 0.97).float().mean()*100))
    hy, hx = torch.histogram(t, density=True)
    plt.plot(hx[:-1].detach(), hy.detach())
    legends.append(f'layer {i} ({layer.__class__.__name__}')
plt.legend(legends);
plt.title('activation distribution')
""",  # noqa: E501
    16: r"""
# visualize histograms
plt.figure(figsize=(20, 4)) # width and height of the plot
legends = []
for i, layer in enumerate(layers[:-1]): # note: exclude the output layer
  if isinstance(layer, Tanh):
    t = layer.out.grad
    print('layer %d (%10s): mean %+f, std %e' % (i, layer.__class__.__name__, t.mean(), t.std()))
    hy, hx = torch.histogram(t, density=True)
    plt.plot(hx[:-1].detach(), hy.detach())
    legends.append(f'layer {i} ({layer.__class__.__name__}')
plt.legend(legends);
plt.title('gradient distribution')
""",
    17: r"""
# visualize histograms
plt.figure(figsize=(20, 4)) # width and height of the plot
legends = []
for i,p in enumerate(parameters):
  t = p.grad
  if p.ndim == 2:
    print('weight %10s | mean %+f | std %e | grad:data ratio %e' % (tuple(p.shape), t.mean(), t.std(), t.std() / p.std()))
    hy, hx = torch.histogram(t, density=True)
    plt.plot(hx[:-1].detach(), hy.detach())
    legends.append(f'{i} {tuple(p.shape)}')
plt.legend(legends)
plt.title('weights gradient distribution');
""",  # noqa: E501
    18: r"""
plt.figure(figsize=(20, 4))
legends = []
for i,p in enumerate(parameters):
  if p.ndim == 2:
    plt.plot([ud[j][i] for j in range(len(ud))])
    legends.append('param %d' % i)
plt.plot([0, len(ud)], [-3, -3], 'k') # these ratios should be ~1e-3, indicate on plot
plt.legend(legends);
""",
    19: r"""
@torch.no_grad() # this decorator disables gradient tracking
def split_loss(split):
  x,y = {
    'train': (Xtr, Ytr),
    'val': (Xdev, Ydev),
    'test': (Xte, Yte),
  }[split]
  emb = C[x] # (N, block_size, n_embd)
  x = emb.view(emb.shape[0], -1) # concat into (N, block_size * n_embd)
  for layer in layers:
    x = layer(x)
  loss = F.cross_entropy(x, y)
  print(split, loss.item())

# put layers into eval mode
for layer in layers:
  layer.training = False
split_loss('train')
split_loss('val')
""",
    20: r"""
# sample from the model
g = torch.Generator().manual_seed(2147483647 + 10)

for _ in range(20):

    out = []
    context = [0] * block_size # initialize with all ...
    while True:
      # forward pass the neural net
      emb = C[torch.tensor([context])] # (1,block_size,n_embd)
      x = emb.view(emb.shape[0], -1) # concatenate the vectors
      for layer in layers:
        x = layer(x)
      logits = x
      probs = F.softmax(logits, dim=1)
      # sample from the distribution
      ix = torch.multinomial(probs, num_samples=1, generator=g).item()
      # shift the context window and track the samples
      context = context[1:] + [ix]
      out.append(ix)
      # if we sample the special '.' token, break
      if ix == 0:
        break

    print(''.join(itos[i] for i in out)) # decode and print the generated word
""",
}

SECOND_HALF = {k: CELLS[k] for k in (2, 4, 5)} | LAYER_CELLS


def keep_layers(ns):
    return {
        "lossi": list(ns["lossi"]),
        "ud": np.array(ns["ud"]),
        "outs": [host(layer.out) for layer in ns["layers"]],
        "out_grads": [host(layer.out.grad) for layer in ns["layers"]],
        "params": [host(p) for p in ns["parameters"]],
        "running": [(host(layer.running_mean), host(layer.running_var)) for layer in ns["layers"][1::3]],
    }


@pytest.fixture(scope="module")
def runs(names_dir):
    return both_runs(SECOND_HALF, names_dir, {14: keep_layers})


needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")


def printed_cells(out: str) -> dict[str, str]:
    """The printout cut into the parts of cells 14-15, 16, 17, 19 and 20."""
    lines = out.splitlines()
    start = lines.index("47024") + 1
    grad = next(i for i, line in enumerate(lines) if line.startswith("layer 2") and "saturated" not in line)
    weight = next(i for i, line in enumerate(lines) if line.startswith("weight"))
    train = next(i for i, line in enumerate(lines) if line.startswith("train "))
    join = "\n".join
    return {
        "train+act": join(lines[start:grad]),
        "grad": join(lines[grad:weight]),
        "weight": join(lines[weight:train]),
        "split": join(lines[train : train + 2]),
        "samples": join(lines[train + 2 :]),
    }


# --------------------------------------------------------------------- the tests
def test_the_second_half_runs(runs):
    (ns, out, kept), _ = runs
    parts = printed_cells(out)
    assert parts["train+act"].splitlines()[0].startswith("      0/ 200000: 3.")
    act = parts["train+act"].splitlines()[1:]
    assert [line.split(":")[0] for line in act] == [f"layer {i} ({'Tanh':>10s})" for i in (2, 5, 8, 11, 14)]
    for line in act:  # the lecture's healthy network: std about 0.65, a few percent saturated
        std, saturated = float(line.split("std ")[1].split(",")[0]), float(line.split(": ")[-1].rstrip("%"))
        assert 0.5 < std < 0.8 and 0.0 < saturated < 10.0
    assert len(parts["weight"].splitlines()) == 7  # the 2-D parameters: C and the six weights
    assert len(kept[14]["lossi"]) == 1001 and kept[14]["ud"].shape == (1001, 1 + 6 + 6 * 2)
    assert np.all(kept[14]["ud"][-100:, 1:7:1] < -1.0)  # update:data ratios well below 1e-1 (the lecture's ~1e-3)
    assert all(g is not None for g in kept[14]["out_grads"])  # retain_grad() kept every layer's output gradient
    assert all(not layer.training for layer in ns["layers"])  # cell 19 put the layers into eval mode
    samples = parts["samples"].splitlines()
    vocab = set(ns["itos"].values())
    assert len(samples) == 20 and all(s.endswith(".") and set(s) <= vocab for s in samples)


def test_sampling_is_reproducible(runs):
    """Cell 20 seeds its own generator: running it again samples the same 20 names."""
    (ns, out, _), _ = runs
    import contextlib
    import io

    again = io.StringIO()
    with contextlib.redirect_stdout(again):
        exec(compile(LAYER_CELLS[20], "<cell 20>", "exec"), ns)
    assert again.getvalue().splitlines() == printed_cells(out)["samples"].splitlines()


@needs_torch
def test_training_matches_pytorch(runs):
    (_, _, ours), (_, _, theirs) = runs
    ours, theirs = ours[14], theirs[14]
    got, want = 10 ** np.array(ours["lossi"]), 10 ** np.array(theirs["lossi"])
    np.testing.assert_allclose(got[:10], want[:10], rtol=1e-6)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(ours["ud"], theirs["ud"], rtol=0, atol=1e-5)
    for got_p, want_p in zip(ours["params"], theirs["params"], strict=True):
        np.testing.assert_allclose(got_p, want_p, rtol=0, atol=1e-5 * max(1.0, float(np.abs(want_p).max())))
    for (got_m, got_v), (want_m, want_v) in zip(ours["running"], theirs["running"], strict=True):
        np.testing.assert_allclose(got_m, want_m, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got_v, want_v, rtol=1e-4)
    for key in ("outs", "out_grads"):
        for got_t, want_t in zip(ours[key], theirs[key], strict=True):
            np.testing.assert_allclose(got_t, want_t, rtol=0, atol=1e-4 * float(np.abs(want_t).max()))


@needs_torch
def test_printed_statistics_match_pytorch(runs):
    (_, ours, _), (_, theirs, _) = runs
    ours, theirs = printed_cells(ours), printed_cells(theirs)
    assert_same_printout(ours["train+act"], theirs["train+act"], rtol=0, atol=0.07)
    for part in ("grad", "weight", "split"):
        assert_same_printout(ours[part], theirs[part], rtol=1e-5, atol=1e-6)


@needs_torch
def test_histograms_match_pytorch(runs):
    """``torch.histogram(t, density=True)`` of cells 15-17 (100 equal bins from min to max) on the same values: the
    same edges, and densities whose counts differ only where a value lies within rounding of an edge."""
    import torch

    (_, _, ours), _ = runs
    for key in ("outs", "out_grads"):
        for t in ours[14][key][2:-1:3]:  # the Tanh layers' outputs and their gradients
            hy, hx = bt.histogram(bt.tensor(t), density=True)
            want_hy, want_hx = torch.histogram(torch.tensor(t), density=True)
            np.testing.assert_allclose(hx.numpy(), want_hx.numpy(), rtol=1e-6, atol=1e-6 * float(np.abs(t).max()))
            counts = hy.numpy() * t.size * np.diff(hx.numpy())
            want_counts = want_hy.numpy() * t.size * np.diff(want_hx.numpy())
            assert np.abs(counts - want_counts).max() <= 1.01 and abs(counts.sum() - t.size) < 1e-2 * t.size


@needs_torch
def test_sampling_probabilities_match_pytorch(runs):
    """The samples themselves come from each library's own generator; the distributions they are drawn from (cell
    20's ``F.softmax(logits, dim=1)`` for the empty context, in eval mode) agree to float32 rounding."""
    import torch

    (ours, _, _), (theirs, _, _) = runs
    probs = []
    for lib, ns in ((bt, ours), (torch, theirs)):
        with lib.no_grad():
            x = ns["C"][lib.tensor([[0, 0, 0]])].view(1, -1)
            for layer in ns["layers"]:
                x = layer(x)
            probs.append(lib.nn.functional.softmax(x, dim=1).numpy())
    np.testing.assert_allclose(probs[0], probs[1], rtol=1e-4, atol=1e-7)
    assert abs(float(probs[0].sum()) - 1.0) < 1e-5
