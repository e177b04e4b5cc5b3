"""Reverse-mode automatic differentiation: the tape, gradient mode, and ``backward()``.

How it works (micrograd's idea, with tensors):

* Every differentiable op that runs while gradient mode is on and has an input with ``requires_grad``
  gives its output a ``grad_fn``: a :class:`Node` holding the op's inputs (``parents``) and a backward
  closure. The closure captures what the backward needs (the forward's cache, explicit, as the engine's
  op pairs want it). The nodes form the tape: a graph from the output back to the leaves.
* ``loss.backward()`` sorts the nodes reachable from ``loss`` so that each runs after every node that
  consumes its output, seeds ``d loss / d loss = 1`` and runs the closures in that order. A closure
  receives ``dL/d(output)`` and returns ``dL/d(input)`` for each parent (None where not needed).
* Gradients that reach a leaf (a tensor made by the user, such as a ``Parameter``) ACCUMULATE into its
  ``.grad``: ``.grad`` is set the first time, then added to, until ``zero_grad()``. Several paths into one
  interior tensor are summed before its node runs.
* A node keeps the nodes of its inputs as they were when it ran (``edges``), so an in-place op that later
  gives an input a new ``grad_fn`` (``x += y``: x's history now ends in the add) does not reroute gradients
  that flowed through x's old value. It also keeps the versions of the inputs (and, for the ops whose
  backward reads their output, of the output) whose values its backward reads; ``backward()`` raises
  PyTorch's "modified by an inplace operation" error when one changed since (_versions.py).
* After ``backward()`` the closures are released (the forward's caches are freed); a second
  ``backward()`` through the same graph raises, as in PyTorch, unless ``retain_graph=True``.

Gradients inside the tape are engine tensors (``_core.Tensor``); the arithmetic on them (sums of
gradients, accumulation) runs in the engine. A closure may return the gradient it was given (or a view of
it) for at most one parent, so every gradient handed on is owned by exactly one receiver.

``no_grad()`` (a context manager and a decorator) turns the recording off: nothing is taped, outputs do not
require grad. It does NOT change a module's train/eval mode.

Also here, from their own modules: ``Function`` (an op with a hand-written backward, _function.py; a Function
with several differentiable outputs hands its node ``PENDING`` from one small node per output) and
``gradcheck`` (_gradcheck.py), reachable as PyTorch names them (``torch.autograd.function``,
``torch.autograd.gradcheck``). Double backward (``create_graph=True``, gradgradcheck): _double_backward.py.
"""

from __future__ import annotations

import functools
import sys
import weakref

from .. import _core
from . import _hooks, _versions

__all__ = [
    "Function",
    "GradcheckError",
    "Node",
    "enable_grad",
    "function",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "set_grad_enabled",
]

_T = _core.tensor_ops
_ADD = _T.BinaryOp.Add


class _GradMode:
    """Process-wide gradient mode (``enabled``), switched by ``no_grad`` and friends; ``capturing`` while
    ``grad()`` sweeps (the ops whose kernels write a parameter's ``.grad`` directly hand it back instead)."""

    enabled = True
    capturing = False


def is_grad_enabled() -> bool:
    """Whether ops are being recorded for ``backward()``."""
    return _GradMode.enabled


class set_grad_enabled:  # noqa: N801 - PyTorch's name
    """Set gradient mode: a function call, or a context manager that restores the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        self.prev = _GradMode.enabled
        self.mode = bool(mode)
        _GradMode.enabled = self.mode

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        _GradMode.enabled = self.prev

    def __call__(self, fn):
        mode = self.mode
        _GradMode.enabled = self.prev

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad:  # noqa: N801 - PyTorch's name
    """``with torch.no_grad():`` — run ops without recording them (for evaluation and manual updates).

    Also a decorator (``@torch.no_grad()``). Train/eval mode is untouched: a ``BatchNorm1d`` in training
    mode still normalizes with batch statistics and updates its running statistics (call ``model.eval()``).
    """

    mode = False

    def __enter__(self) -> None:
        self.prev = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __exit__(self, *exc) -> None:
        _GradMode.enabled = self.prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):  # noqa: N801 - PyTorch's name
    """``with torch.enable_grad():`` — record ops again inside a ``no_grad`` block."""

    mode = True


# Ops whose backward reads none of their inputs' values (only shapes): an in-place write to an input afterwards
# does not change their gradient, as in PyTorch. Every other op is taken to read all its inputs.
_READS_NO_INPUT = frozenset({"Add", "Sub", "Neg", "View", "Permute", "Cat", "Clone", "ToCopy", "Sum", "Mean", "Index"})
# Ops whose backward reads their own output (y' from y): exp, sqrt, the activations, softmax, a fused BN + ReLU.
_READS_OUTPUT = frozenset(
    {"Exp", "Sqrt", "Tan", "Expm1", "Relu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "NativeBatchNormRelu", "Div"}
)


class Node:
    """One taped op: its ``parents`` (input tensors), their nodes when it ran (``edges``) and its ``backward``
    closure; a tensor's ``grad_fn``.

    ``backward(g)`` maps ``dL/d(output)`` (a ``_core.Tensor``) to a tuple with one entry per parent: its
    gradient (a ``_core.Tensor`` of the parent's shape) or None.
    """

    __slots__ = ("backward", "edges", "hooks", "name", "output", "parents", "retained", "versions", "wrap")

    def __init__(self, name: str, parents: tuple, backward, reads=None) -> None:
        self.name = name
        self.parents = parents
        # a parent's node, None for a leaf that requires grad, False for a parent that did not require grad
        self.edges = tuple(p.grad_fn if p._rg else False for p in parents)
        self.backward = backward
        # the versions of the parents whose values the backward reads (None: it reads none), and a weak
        # reference to the output with its version, for the ops that read their output (else None)
        if reads is None:
            reads = () if name in _READS_NO_INPUT else (True,) * len(parents)
        self.versions = (
            tuple(_versions.current(p) if r else None for p, r in zip(parents, reads, strict=False))
            if any(reads)
            else None
        )
        self.output = None
        # The output tensor's gradient hooks (id -> fn) and, after retain_grad(), the tensor that keeps its
        # gradient; wrap(c) makes a Tensor on the output's device (bnlab/torch/_hooks.py). None until asked.
        self.hooks = self.retained = self.wrap = None

    @property
    def next_functions(self) -> tuple:
        """The nodes of the parents (None for leaves), as in PyTorch."""
        return tuple((fn or None, 0) for fn in self.edges)

    def check_saved(self) -> None:
        """Raise PyTorch's error when a tensor whose values the backward reads was written in place since."""
        if self.versions is not None:
            for p, v in zip(self.parents, self.versions, strict=True):
                if v is not None and _versions.current(p) != v:
                    raise _versions.modified_error(p, v)
        if self.output is not None:
            ref, v = self.output
            out = ref()
            if out is not None and _versions.current(out) != v:
                raise _versions.modified_error(out, v, producer=self.name)

    def __repr__(self) -> str:
        return f"<{self.name}Backward0 object at {id(self):#x}>"


def record(name: str, out, parents: tuple, backward, reads=None, reads_output=None) -> None:
    """Tape ``out = op(*parents)`` when gradient mode is on and some parent requires grad. ``reads`` (one bool
    per parent) and ``reads_output`` say whose values the backward reads, for the version check; by default
    the op's name decides (_READS_NO_INPUT, _READS_OUTPUT)."""
    if _GradMode.enabled:
        for p in parents:
            if p._rg:
                out._rg = True  # out is a float tensor the op just made: the requires_grad setter's checks hold
                node = out.grad_fn = Node(name, parents, backward, reads)
                if (name in _READS_OUTPUT) if reads_output is None else reads_output:
                    node.output = (weakref.ref(out), _versions.current(out))
                return


def accumulate_leaf(leaf, g) -> None:
    """``leaf.grad += g`` (``leaf.grad = g`` the first time), after the leaf's hooks; g, a ``_core.Tensor``,
    is handed over."""
    hooks = getattr(leaf, "_hooks", None)
    if hooks:
        g = _hooks.run_tensor_hooks(hooks, g, leaf._wrap_grad)
    if leaf.grad is None:
        leaf.grad = leaf._wrap_grad(g)
    else:
        _T.binary(leaf.grad._c, leaf.grad._c, g, _ADD)


def clear_leaf_grad(leaf, set_to_none: bool) -> None:
    """What ``zero_grad`` does to one parameter: drop its gradient (PyTorch 2's default) or zero it in place."""
    if leaf.grad is None:
        return
    if set_to_none:
        leaf.grad = None
    else:
        leaf.grad.grad_fn = None
        leaf.grad.requires_grad_(False).zero_()


def _topological(root: Node) -> list[Node]:
    """Nodes reachable from ``root``, each after every node that consumes its output (root first). Nodes are
    keyed by themselves (identity hash), not by id(): one builtin call less per edge, several times a step."""
    order: list[Node] = []
    seen = {root}
    stack = [(root, iter(root.edges))]
    push, pop, add, append = stack.append, stack.pop, seen.add, order.append
    while stack:
        node, edges = stack[-1]
        for fn in edges:
            if fn and fn not in seen:  # a node (None and False are leaves)
                add(fn)
                push((fn, iter(fn.edges)))
                break
        else:
            pop()
            append(node)
    order.reverse()
    return order


def _through_output_hooks(node: Node, g):
    """The gradient of ``node``'s output after its tensor hooks, kept in the output's ``.grad`` (a copy,
    accumulated) when it retains its gradient."""
    if node.hooks:
        g = _hooks.run_tensor_hooks(node.hooks, g, node.wrap)
    kept = node.retained() if node.retained is not None else None
    if kept is not None:
        if kept.grad is None:
            kept.grad = kept._wrap_grad(g.to(g.device))  # a copy: g itself flows on to the inputs
        else:
            _T.binary(kept.grad._c, kept.grad._c, g, _ADD)
    return g


class _Capture:
    """Where ``grad()`` collects gradients instead of accumulating them into leaves' ``.grad``: ``slots[i]``
    receives the gradient of ``inputs[i]`` (None until one arrives). A leaf input is found by identity when
    a gradient reaches it; an interior input by its node, whose output gradient is copied (the node's
    backward may hand that very tensor on to a parent)."""

    __slots__ = ("by_leaf", "by_node", "slots")

    def __init__(self, inputs) -> None:
        self.slots = [None] * len(inputs)
        self.by_leaf: dict[int, list[int]] = {}
        self.by_node: dict[Node, list[int]] = {}
        for i, t in enumerate(inputs):
            if t.grad_fn is None:
                self.by_leaf.setdefault(id(t), []).append(i)
            else:
                self.by_node.setdefault(t.grad_fn, []).append(i)

    def add(self, where: list[int], g) -> None:
        for i in where:
            prev = self.slots[i]
            if prev is None:
                self.slots[i] = g.to(g.device)
            else:
                _T.binary(prev, prev, g, _ADD)

    def leaf(self, leaf, g) -> None:
        where = self.by_leaf.get(id(leaf))
        if where is not None:
            self.add(where, g)


FREED_GRAPH = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
    "if you need to access saved tensors after calling backward."
)
# What the per-output nodes of a Function with several differentiable outputs hand to the Function's node: its
# gradients wait in the node's buffer (bnlab/torch/_function.py); summing two deliveries keeps one.
PENDING = object()


def run_backward(root, grad, retain_graph: bool = False, capture: _Capture | None = None) -> None:
    """Backpropagate ``grad`` (a ``_core.Tensor`` shaped like ``root``) from ``root`` to the leaves; with
    ``capture``, into the capture's slots instead of any ``.grad``."""
    if capture is not None and not _GradMode.capturing:
        _GradMode.capturing = True
        try:
            return run_backward(root, grad, retain_graph, capture)
        finally:
            _GradMode.capturing = False
    if root.grad_fn is None:  # a leaf: its gradient is the seed itself
        if capture is None:
            accumulate_leaf(root, grad)
        else:
            capture.leaf(root, grad)
        return
    pending = {root.grad_fn: grad}
    for node in _topological(root.grad_fn):
        g = pending.pop(node, None)
        if g is None:
            continue
        if node.hooks is not None or node.retained is not None:
            g = _through_output_hooks(node, g)
        if capture is not None and node in capture.by_node:
            capture.add(capture.by_node[node], g)
        backward = node.backward
        if backward is None:
            raise RuntimeError(FREED_GRAPH)
        node.check_saved()
        grads = backward(g)
        if not retain_graph:
            node.backward = None
        for parent, fn, pg in zip(node.parents, node.edges, grads, strict=True):
            if pg is None or fn is False:
                continue
            if fn is None:
                if capture is None:
                    accumulate_leaf(parent, pg)
                else:
                    capture.leaf(parent, pg)
            else:
                prev = pending.get(fn)
                if prev is None:
                    pending[fn] = pg
                elif prev is not pg:  # (PENDING, a Function's outputs' signal, is delivered once)
                    total = _core.Tensor()
                    _T.binary(total, prev, pg, _ADD)
                    pending[fn] = total


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """``torch.autograd.grad``: d(sum of outputs)/d(each input), as a tuple, WITHOUT touching any ``.grad``.

    For outputs y_k with seeds v_k (``grad_outputs``; 1 for scalar outputs), entry i is sum_k v_k . dy_k/dx_i:
    backward()'s sweep, the gradients that reach the inputs collected, not accumulated. ``inputs`` may be leaves
    or interior tensors; one the outputs do not depend on raises unless ``allow_unused=True`` (its entry is then
    None, or zeros with ``materialize_grads=True``). The graph is freed unless ``retain_graph``, which defaults
    to ``create_graph``: gradients that are tensors of the graph, for double backward (_double_backward.py)."""
    from .tensor import Tensor, wrap

    if is_grads_batched:
        raise NotImplementedError("bnlab.torch.autograd.grad does not support is_grads_batched=True")
    del only_inputs  # deprecated in PyTorch, and ignored there too
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if not inputs:
        raise RuntimeError("grad requires at least one input (inputs is empty)")
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grad_outputs)} for {len(outputs)}")
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"grad(): inputs must be Tensors, got {type(t).__name__}")
        if not t._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    if materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True")
    retain = bool(create_graph if retain_graph is None else retain_graph)
    for k, (out, seed) in enumerate(zip(outputs, grad_outputs, strict=True)):
        if not isinstance(out, Tensor) or not out._rg:
            raise RuntimeError(f"element {k} of tensors does not require grad and does not have a grad_fn")
        if seed is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
        elif not isinstance(seed, Tensor) or seed.shape != out.shape:
            shape = seed.shape if isinstance(seed, Tensor) else type(seed).__name__
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{k}] has a shape of {shape} and output[{k}] has a shape "
                f"of {out.shape}."
            )
    if create_graph:
        from . import _double_backward

        slots = _double_backward.grad(outputs, inputs, grad_outputs, retain)
    else:
        capture = _Capture(inputs)
        for k, (out, seed) in enumerate(zip(outputs, grad_outputs, strict=True)):
            if seed is None:
                g = _T.empty(list(out._c.shape), out._c.device)
                g.fill(1.0)
            else:
                g = seed._c.to(seed._c.device)  # the sweep owns its gradients: copy the caller's
            # Every output but the last keeps the graph: later outputs may share nodes with it.
            run_backward(out, g, retain_graph=retain or k < len(outputs) - 1, capture=capture)
        slots = [None if g is None else wrap(g, t.device) for t, g in zip(inputs, capture.slots, strict=True)]
    result = []
    for t, g in zip(inputs, slots, strict=True):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the graph. Set "
                    "allow_unused=True if this is the desired behavior."
                )
            if materialize_grads:
                g = wrap(_core.Tensor(list(t._c.shape), t._c.device), t.device)  # zeros
        result.append(g)
    return tuple(result)


# torch.autograd.Function and torch.autograd.gradcheck live in their own modules; PyTorch's module paths
# (torch.autograd.function, torch.autograd.gradcheck) name them too. autograd.py is a module, not a package,
# so those paths are entries in sys.modules.
from . import _function as function  # noqa: E402
from . import _gradcheck  # noqa: E402
from ._function import Function, once_differentiable  # noqa: E402
from ._gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402

sys.modules[__name__ + ".function"] = function
sys.modules[__name__ + ".gradcheck"] = _gradcheck
