"""Double backward: ``backward(create_graph=True)`` and ``autograd.grad(..., create_graph=True)``.

With ``create_graph=True`` the gradients are themselves tensors of the graph (``requires_grad``, a ``grad_fn``)
when they depend on something that requires grad, so they can be differentiated again: a gradient penalty
``||dL/dx||^2``, Hessian-vector products, ``gradgradcheck``.

How. The ordinary sweep (autograd.run_backward) runs each node's backward closure, which computes with engine
tensors and records nothing. The sweep here (``sweep``) visits the same nodes in the same order, but with
gradient mode ON and gradients as ``Tensor``s, and computes each node's input gradients with its
DIFFERENTIABLE RULE: a function of the node's inputs (its ``parents``, the tensors of the graph) and of the
output gradient g, written in bnlab.torch's own ops, so that it records. Rules live in ``_second_order``
(the arithmetic, shape and elementwise ops) and ``nn/_second_order`` (the layers' ops), registered in
``RULES`` by the closure they stand for: the module and qualified name of the backward function the forward
taped (``_math._tensor_tensor.<locals>.backward``), so that two ops of one name but different code (an engine
op and a NumPy one) are never confused. A rule reads what the closure captured (a scalar, a shape, the dims)
from the closure's cells (``cells``): the forward saves nothing more, and the ordinary path pays nothing.

Rules of two kinds:
* explicit, the op's derivative written in ops that have rules themselves (closed under differentiation, so
  any order works): ``a * b``: (g b, g a) summed to the inputs' shapes;
* recomputed, for composite engine kernels (batch norm, layer and group norm): the forward is run again in
  primitive ops from the node's inputs, and that sub-graph is differentiated with ``create_graph`` (``subgrad``,
  a sweep that stops at the node's inputs). This gives batch norm's exact higher derivatives, through the
  batch statistics in training mode.

Rules of the sweep (PyTorch's):
* A gradient reaching a leaf goes into ``.grad``: a copy of it the first time (``Clone``, keeping its graph),
  then ``leaf.grad = leaf.grad + g`` (out of place: a new tensor with the sum's graph). Tensor hooks see and may
  replace the gradient tensors; ``retain_grad`` keeps a copy the same way.
* ``retain_graph`` defaults to ``create_graph``: the closures stay (the second backward runs them).
* ``backward(create_graph=True)`` warns once per process, as PyTorch, about the reference cycle between a
  parameter and its gradient; ``autograd.grad`` does not.
* An op without a rule raises NotImplementedError ("double backward through <op> is not supported yet in
  bnlab.torch"), never a gradient that is silently first-order only.
* Nothing is written in place: every sum of gradients is a new tensor.
* ``autograd.grad`` runs only the nodes through which a gradient reaches an input (PyTorch does the same).
* ``Tensor.backward`` (tensor.py) checks its arguments and hands the create_graph case to ``backward`` here;
  the ordinary call never enters this module.

Ops with double backward (any order, unless said):
    + - * / (tensor and number operands, broadcasting), neg, pow (number exponent), exp, log, sqrt, abs,
    sin cos tan sinh cosh log2 log10 log1p expm1, floor ceil trunc round (zero), sum, mean (any dims),
    matmul/mm/@ (1-D and 2-D), view/reshape/flatten/squeeze/unsqueeze, permute/transpose/t, indexing
    (basic and advanced, and x[idx] batches), cat/stack, max/min (values), to/clone/float, relu (also in
    place), sigmoid, tanh, softmax, log_softmax, dropout; F.linear, F.batch_norm / nn.BatchNorm1d/2d (training
    and eval, and the fused BatchNorm -> ReLU), F.layer_norm / nn.LayerNorm, F.group_norm, F.cross_entropy
    (class indices; with weights, ignore_index, label smoothing or probabilities it is composed of ops above),
    F.nll_loss, F.mse_loss; ``autograd.Function`` whose backward is written in differentiable tensor ops (it runs
    with gradient mode on); ``once_differentiable`` gives gradients whose differentiation raises PyTorch's error.
Not yet (NotImplementedError): convolutions and pooling, the host-computed NumPy ops (clamp, where, gather,
the activations of _pointwise_functional such as gelu, the losses of _loss_functional...), module backward
hooks.
"""

from __future__ import annotations

import contextlib
import warnings

from .. import _core
from . import autograd
from ._function import BackwardCFunction, _OutputNode
from .autograd import FREED_GRAPH, PENDING
from .tensor import Tensor, host, wrap

__all__ = [
    "RULES",
    "backward",
    "cells",
    "constant",
    "expand",
    "grad",
    "rule",
    "scaled",
    "subgrad",
    "sum_to",
    "unsupported",
]

_T = _core.tensor_ops

# (module name, qualified name of a backward closure) -> rule(node, g, cells) -> one gradient (or None) per parent
RULES: dict = {}
_loaded = []


def rule(module, *qualnames):
    """Register the decorated function as the differentiable rule of the closures ``module.<qualname>``
    (``module``: a module or its name)."""
    name = module if isinstance(module, str) else module.__name__

    def register(fn):
        for q in qualnames:
            RULES[(name, q)] = fn
        return fn

    return register


def unsupported(node) -> NotImplementedError:
    return NotImplementedError(
        f"double backward through {node.name} ({node.name}Backward) is not supported yet in bnlab.torch "
        "(create_graph=True); see bnlab/torch/_double_backward.py for the ops that support it"
    )


def cells(fn) -> dict:
    """What the closure ``fn`` captured, by name (cells not yet filled are left out)."""
    out = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True):
        with contextlib.suppress(ValueError):  # a cell the forward never filled
            out[name] = cell.cell_contents
    return out


# ---------------------------------------------------------------- differentiable helpers for the rules
def constant(array, like: Tensor) -> Tensor:
    """A float32 tensor (no grad) of ``array``'s values on ``like``'s device."""
    import numpy as np

    return host(np.asarray(array, dtype=np.float32), like.device)


def expand(t: Tensor, shape) -> Tensor:
    """t broadcast to ``shape`` (differentiably: t + zeros)."""
    shape = tuple(shape)
    if tuple(t.shape) == shape:
        return t
    z = _T.empty(list(shape), t._c.device)
    z.fill(0.0)
    return t + wrap(z, t.device)


def sum_to(g: Tensor, shape) -> Tensor:
    """g summed down to ``shape`` (the inverse of broadcasting), differentiably; g itself when it fits."""
    from . import _math

    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.dim() - len(shape)
    if lead > 0:
        g = _math.sum(g, tuple(range(lead)))
    dims = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if dims:
        g = _math.sum(g, dims, keepdim=True)
    return g if tuple(g.shape) == shape else g.view(shape)


def scaled(g: Tensor, factor: Tensor, anchor: Tensor) -> Tensor:
    """g * factor, ``factor`` a constant (a mask, a sign, a constant Jacobian) read from ``anchor``, taped with
    anchor as a second input whose gradient is zero: so the result stays connected to anchor, as PyTorch's
    backward ops (threshold_backward for relu, sgn for abs, nll_loss_backward) are to the tensor they read,
    and a second derivative with respect to it is zeros, not "unused"."""
    from . import _math

    with autograd.no_grad():
        out = g * factor
    if autograd._GradMode.enabled and (g._rg or anchor._rg):
        shape, fc = tuple(g.shape), factor._c

        def backward(gg):
            ga = _math.sum_to(_math._binary_core(gg, fc, _T.BinaryOp.Mul), shape) if g._rg else None
            gz = _core.Tensor(list(anchor._c.shape), anchor._c.device) if anchor._rg else None
            return ga, gz

        autograd.record("ScaledByConstant", out, (g, anchor), backward, reads=(False, False), reads_output=False)
    return out


@rule(__name__, "scaled.<locals>.backward")
def _scaled(node, g, c):
    small, anchor = node.parents
    ga = sum_to(g * wrap(c["fc"], g.device), c["shape"]) if small._rg else None
    gz = wrap(_core.Tensor(list(anchor._c.shape), anchor._c.device), anchor.device) if anchor._rg else None
    return ga, gz


def _clone(g: Tensor) -> Tensor:
    from . import _shape

    return _shape.clone(g)


# ---------------------------------------------------------------- the sweep
class _Targets:
    """Where ``grad()`` (and ``subgrad``) collect the gradients of ``inputs``: leaves by identity, interior
    tensors by their node; ``slots[i]`` is the gradient of ``inputs[i]`` (None until one arrives)."""

    __slots__ = ("by_leaf", "by_node", "slots")

    def __init__(self, inputs) -> None:
        self.slots = [None] * len(inputs)
        self.by_leaf: dict = {}
        self.by_node: dict = {}
        for i, t in enumerate(inputs):
            if t.grad_fn is None:
                self.by_leaf.setdefault(id(t), []).append(i)
            else:
                self.by_node.setdefault(t.grad_fn, []).append(i)

    def add(self, where, g) -> None:
        for i in where:
            prev = self.slots[i]
            self.slots[i] = g if prev is None else prev + g


def _order(roots, stop) -> list:
    """The nodes reachable from ``roots``, each before the nodes it feeds (reversed DFS post-order); the nodes in
    ``stop`` are listed but not entered."""
    order: list = []
    seen = set(roots)
    for root in roots:
        if root in stop:
            order.append(root)
            continue
        stack = [(root, iter(root.edges))]
        while stack:
            node, edges = stack[-1]
            for fn in edges:
                if fn and fn not in seen:
                    seen.add(fn)
                    if fn in stop:
                        order.append(fn)
                        continue
                    stack.append((fn, iter(fn.edges)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _needed(order, targets: _Targets) -> set:
    """The nodes through which a gradient reaches a target (only those run in ``grad()``)."""
    needed = set()
    for node in reversed(order):
        for p, fn in zip(node.parents, node.edges, strict=True):
            if fn is None:
                hit = id(p) in targets.by_leaf
            else:
                hit = fn is not False and (fn in targets.by_node or fn in needed)
            if hit:
                needed.add(node)
                break
    return needed


def _run_hooks(hooks: dict, g: Tensor) -> Tensor:
    for fn in list(hooks.values()):
        out = fn(g)
        if out is None:
            continue
        if not isinstance(out, Tensor) or out._c is None:
            raise TypeError(f"a tensor hook must return None or a float Tensor, got {type(out).__name__}")
        if out.shape != g.shape:
            raise RuntimeError(
                f"hook '{getattr(fn, '__name__', 'hook')}' has changed the size of value: expected "
                f"{list(g.shape)}, got {list(out.shape)}"
            )
        g = out
    return g


def _keep(holder, g: Tensor) -> None:
    """``holder.grad``: a copy of g the first time, then the (out-of-place) sum."""
    holder.grad = _clone(g) if holder.grad is None else holder.grad + g


def _to_leaf(leaf, g, targets) -> None:
    if targets is not None:
        where = targets.by_leaf.get(id(leaf))
        if where is not None:
            targets.add(where, g)
        return
    hooks = getattr(leaf, "_hooks", None)
    if hooks:
        g = _run_hooks(hooks, g)
    _keep(leaf, g)


def _gradients(node, g) -> tuple:
    """The node's input gradients as tensors of the graph (its differentiable rule)."""
    if isinstance(node, _OutputNode):  # one output of a Function: hands g to the Function's node
        return node.backward(g)
    if isinstance(node, BackwardCFunction):
        return node.backward.differentiable(g)
    fn = node.backward
    found = RULES.get((getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)))
    if found is None:
        raise unsupported(node)
    return found(node, g, cells(fn))


def _load_rules() -> None:
    if not _loaded:
        from . import _second_order  # noqa: F401
        from .nn import _second_order as _nn_second_order  # noqa: F401

        _loaded.append(True)


def sweep(pairs, retain: bool, targets: _Targets | None = None, stop: bool = False) -> None:
    """Backpropagate each (tensor, seed Tensor) pair with differentiable rules, gradient mode on: into the
    leaves' ``.grad``, or, with ``targets``, into its slots only (running just the nodes that lead to a target;
    with ``stop`` the targets' own nodes are not run either: a rule's sub-graph ends at the rule's inputs)."""
    _load_rules()
    prev_mode = autograd._GradMode.enabled
    autograd._GradMode.enabled = True
    try:
        pending: dict = {}
        roots = []
        for out, seed in pairs:
            node = out.grad_fn
            if node is None:
                _to_leaf(out, seed, targets)
                continue
            before = pending.get(node)
            pending[node] = seed if before is None else before + seed
            if before is None:
                roots.append(node)
        stop_at = set(targets.by_node) if stop and targets is not None else set()
        order = _order(roots, stop_at)
        needed = _needed(order, targets) if targets is not None else None
        for node in order:
            g = pending.pop(node, None)
            if g is None:
                continue
            if node.hooks is not None or node.retained is not None:
                if node.hooks:
                    g = _run_hooks(node.hooks, g)
                kept = node.retained() if node.retained is not None else None
                if kept is not None:
                    _keep(kept, g)
            if targets is not None:
                where = targets.by_node.get(node)
                if where is not None:
                    targets.add(where, g)
                    if stop:
                        continue
                if node not in needed:
                    continue
            if node.backward is None:
                raise RuntimeError(FREED_GRAPH)
            node.check_saved()
            grads = _gradients(node, g)
            if not retain:
                node.backward = None
            for parent, fn, pg in zip(node.parents, node.edges, grads, strict=True):
                if pg is None or fn is False:
                    continue
                if fn is None:
                    _to_leaf(parent, pg, targets)
                else:
                    before = pending.get(fn)
                    if before is None:
                        pending[fn] = pg
                    elif pg is not PENDING:  # (a Function's outputs signal its node once)
                        pending[fn] = before + pg
    finally:
        autograd._GradMode.enabled = prev_mode


def subgrad(out: Tensor, g: Tensor, inputs) -> tuple:
    """d(out)/d(input) . g for each input (None for one that does not require grad), as tensors of the graph:
    the sub-graph from ``out`` back to ``inputs`` (a rule's recomputed forward) swept with create_graph."""
    wanted = [t for t in inputs if t is not None and t._rg]
    targets = _Targets(wanted)
    sweep([(out, g)], retain=True, targets=targets, stop=True)
    got = dict(zip(map(id, wanted), targets.slots, strict=True))
    return tuple(got.get(id(t)) if t is not None else None for t in inputs)


def grad(outputs, inputs, seeds, retain: bool) -> list:
    """autograd.grad's create_graph case (arguments checked there): per input its gradient Tensor or None.
    ``seeds`` has one Tensor or None (a scalar output: 1) per output."""
    pairs = [(out, _ones_like(out) if s is None else s) for out, s in zip(outputs, seeds, strict=True)]
    targets = _Targets(inputs)
    sweep(pairs, retain=retain, targets=targets)
    return targets.slots


def _ones_like(t: Tensor) -> Tensor:
    c = _T.empty(list(t._c.shape), t._c.device)
    c.fill(1.0)
    return wrap(c, t.device)


# ---------------------------------------------------------------- Tensor.backward(create_graph=True)
_CYCLE_WARNING = (
    "Using backward() with create_graph=True will create a reference cycle between the parameter and its gradient "
    "which can cause a memory leak. We recommend using autograd.grad when creating the graph to avoid this. If you "
    "have to use this function, make sure to reset the .grad fields of your parameters to None after use to break "
    "the cycle and avoid the leak."
)
_warned = []  # PyTorch warns once per process (TORCH_WARN_ONCE); tests may clear this list


def backward(self: Tensor, gradient: Tensor | None, retain_graph) -> None:
    """``t.backward(gradient, retain_graph, create_graph=True)`` (tensor.py checks the arguments and hands the
    create_graph case here): this module's sweep into the leaves' ``.grad``, with PyTorch's warning."""
    seed = _ones_like(self) if gradient is None else gradient
    if not _warned:
        _warned.append(True)
        warnings.warn(_CYCLE_WARNING, UserWarning, stacklevel=3)
    sweep([(self, seed)], retain=True if retain_graph is None else bool(retain_graph))
