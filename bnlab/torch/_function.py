"""``torch.autograd.Function``: an op whose forward and backward you write yourself ("write your own backward").

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):                 # runs with gradient recording off
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad_output):      # one gradient per output in, one per forward input out
            (x,) = ctx.saved_tensors
            return 2 * x * grad_output

    y = Square.apply(x)                      # y.grad_fn: a SquareBackward node

As in PyTorch (``torch/autograd/function.py``), also: the style with a separate ``setup_context(ctx, inputs,
output)`` and a ``forward`` without ctx; ``ctx.needs_input_grad``, ``mark_non_differentiable``,
``set_materialize_grads``, ``mark_dirty``, any attribute on ctx; several outputs and non-tensor inputs and
outputs; PyTorch's checks of what backward returns (how many gradients, their types and shapes; a gradient of
an input's shape broadcast to a larger one is summed back) and of saved tensors (written in place since, or read
after backward freed them); ``once_differentiable``.

How it sits on the tape (autograd.py). ``apply`` runs ``forward`` with recording off, then, when recording is on
and some tensor input requires grad, gives the outputs one node, an instance of ``<Function>Backward``, whose
parents are the tensor inputs; its backward wraps the output gradients as tensors, calls your ``backward``
with recording off and checks the result. In a double backward (``create_graph=True``, _double_backward.py) it
calls your ``backward`` with recording on instead, on gradients that are tensors of the graph, so a backward
written in tensor ops is differentiated in turn (``once_differentiable`` refuses that, as in PyTorch).
An input returned unchanged comes back as a new tensor sharing its memory (PyTorch's view of it), unless it was
marked dirty: then it is the input itself, whose history now ends in this node. With several differentiable
outputs each output gets a small node of its own that hands its gradient to the Function's node, which runs
once when all have arrived (bnlab's tensors record one node and no output index; PyTorch gives them one node).
The ctx is a ``FunctionCtx`` kept by the node: ``y.grad_fn.saved_tensors`` and ``y.grad_fn.<attr>`` read it.
Saved tensors live with the node's backward and are released with it (after a backward without
``retain_graph``); a saved output is kept without its ``grad_fn`` (no reference cycle) and gets it back when read.
"""

from __future__ import annotations

import functools
import inspect
import warnings
import weakref

import numpy as np

from .. import _core
from . import _versions, autograd
from .autograd import FREED_GRAPH, PENDING, Node

__all__ = ["BackwardCFunction", "Function", "FunctionCtx", "once_differentiable"]

_T = _core.tensor_ops


class FunctionCtx:
    """The ``ctx`` that ``forward`` (or ``setup_context``) and ``backward`` receive. Any attribute may be set on
    it; tensors for backward go through ``save_for_backward`` (version-checked, freed after backward)."""

    def __init__(self) -> None:
        self.to_save = ()
        self.dirty_tensors = ()
        self.non_differentiable = ()
        self.materialize_grads = True
        self.needs_input_grad = ()
        self._saved = None  # the tensors when not recorded; else the node (weakly), whose backward holds them

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (or None) for ``backward``, read back as ``ctx.saved_tensors``. Call it once."""
        self.to_save = tensors

    def save_for_forward(self, *tensors) -> None:
        """Kept for PyTorch's API: bnlab has no forward-mode AD (``jvp``), so nothing reads them."""
        self.saved_for_forward = tensors

    def mark_dirty(self, *tensors) -> None:
        """Say that ``forward`` modified these inputs in place (and returns them)."""
        self.dirty_tensors = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs that get no gradient (indices, masks): they do not require grad; backward still receives a
        gradient for each (zeros, or None after ``set_materialize_grads(False)``)."""
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """True (the default): backward receives zeros for outputs that got no gradient; False: None."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``; RuntimeError once backward freed them, or when one was
        modified in place after forward (PyTorch's messages)."""
        saved = self._saved
        if not isinstance(saved, weakref.ref):
            return tuple(self.to_save) if saved is None else saved
        node = saved()
        if node is None or node.backward is None:
            raise RuntimeError(FREED_GRAPH)
        return node.backward.unpack(node)

    saved_variables = saved_tensors


class BackwardCFunction(Node):
    """The node of one ``Function.apply`` (the outputs' ``grad_fn``); each Function gets a subclass named
    ``<Function>Backward``. Attributes it lacks are read from its ctx (``saved_tensors``, your own)."""

    __slots__ = ("__weakref__", "ctx")
    _forward_cls = None

    def __getattr__(self, name):
        if name == "ctx":
            raise AttributeError(name)
        return getattr(self.ctx, name)

    def __repr__(self) -> str:
        return f"<torch.autograd.function.{type(self).__name__} object at {id(self):#x}>"


class _OutputNode(Node):
    """The node of output ``index`` of a Function with several differentiable outputs: hands its gradient to
    the Function's node (``fn``), whose backward runs once all of them have run."""

    __slots__ = ("__weakref__", "fn", "index")

    def __getattr__(self, name):
        if name in ("fn", "index", "ctx"):
            raise AttributeError(name)
        return getattr(self.fn, name)

    def __repr__(self) -> str:
        return f"<torch.autograd.function.{type(self.fn).__name__} object at {id(self):#x} (output {self.index})>"


def _output_node(fn: BackwardCFunction, index: int) -> _OutputNode:
    node = object.__new__(_OutputNode)
    node.name, node.parents, node.edges, node.fn, node.index = fn.name, (None,), (fn,), fn, index
    node.versions = node.output = node.hooks = node.retained = node.wrap = None

    def deliver(g):
        run = fn.backward
        if run is not None:
            run.grads[index] = g
        return (PENDING,)

    node.backward = deliver
    return node


def _type_name(obj) -> str:
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


class _Backward:
    """The callable a Function's node runs: the gradients of its outputs in, of its tensor inputs out. It holds
    the saved tensors, so they go when the engine releases it."""

    # outputs: per output of forward, None (not a tensor) or (shape, device, engine device or None, NumPy dtype
    # of a host tensor or None); single: the index of the one differentiable output, or None (several: their
    # nodes, weakly, in out_nodes); grads: the gradients their nodes delivered; tensor_at: per forward argument,
    # None (not a tensor) or (index among the tensor inputs, shape, device, requires grad)
    # views: (output index, the input it aliases, that input's version) for inputs returned unchanged
    __slots__ = ("ctx", "fn_cls", "grads", "n_args", "out_nodes", "outputs", "saved", "single", "tensor_at", "views")

    def unpack(self, node) -> tuple:
        """ctx.saved_tensors: each saved tensor after the version check; saved outputs with their grad_fn."""
        result = []
        for t, version, output_index in self.saved:
            if t is None:
                result.append(None)
                continue
            if _versions.current(t) != version:
                raise _versions.modified_error(t, version, producer=node.name if output_index is not None else None)
            if output_index is not None:  # an alias of an output: give it the output's history back
                t = t.detach()
                t.grad_fn = node if self.single is not None else self.out_nodes[output_index]()
                t._rg = t.grad_fn is not None
            result.append(t)
        return tuple(result)

    def __call__(self, g):
        return self.run(g, graph=False)

    def differentiable(self, g):
        """The double backward's call (create_graph=True): the gradients are Tensors of the graph, your
        ``backward`` runs with recording on (PyTorch runs it with grad mode = create_graph), and the input
        gradients it returns are handed on as they are, graph included."""
        return self.run(g, graph=True)

    def run(self, g, graph: bool):
        from .tensor import host, wrap

        for i, base, version in self.views:
            if _versions.current(base) != version:  # PyTorch raises when the view is next used; bnlab here
                raise RuntimeError(
                    f"Output {i} of {self.fn_cls.__name__} is a view and its base or another view of its base has "
                    "been modified inplace. This view was created inside a custom Function (or because an input "
                    "was returned as-is) and the autograd logic to handle view+inplace would override the custom "
                    "backward associated with the custom Function, leading to incorrect gradients. This behavior "
                    "is forbidden. You can fix this by cloning the output of the custom Function."
                )
        grads, self.grads = self.grads, [None] * len(self.outputs)
        if g is not PENDING:  # one differentiable output: g is its gradient
            grads[self.single] = g
        ctx = self.ctx
        materialize = ctx.materialize_grads
        grad_outputs = []
        for gi, meta in zip(grads, self.outputs, strict=True):
            if meta is None:  # not a tensor
                grad_outputs.append(None)
            elif gi is not None:
                grad_outputs.append(gi if graph else wrap(gi, meta[1]))
            elif not materialize:
                grad_outputs.append(None)
            elif meta[2] is not None:  # float32: zeros in the engine, on the output's device
                z = _T.empty(list(meta[0]), meta[2])
                z.fill(0.0)
                grad_outputs.append(wrap(z, meta[1]))
            else:
                grad_outputs.append(host(np.zeros(meta[0], dtype=meta[3]), meta[1]))
        prev = autograd._GradMode.enabled
        autograd._GradMode.enabled = graph  # PyTorch runs backward with grad mode = create_graph
        try:
            result = _user_backward(self.fn_cls)(ctx, *grad_outputs)
        finally:
            autograd._GradMode.enabled = prev
        return self.check(result, graph)

    def check(self, result, graph: bool = False) -> tuple:
        """PyTorch's checks of a backward's result; the gradients of the tensor inputs (engine tensors, each a
        fresh copy: the tape hands every gradient to exactly one receiver; with ``graph``, the Tensors
        themselves, summed down differentiably where they were broadcast)."""
        from ._math import sum_to
        from .tensor import Tensor, host

        name = self.fn_cls._backward_cls.__name__
        if not isinstance(result, tuple):
            result = (result,)
        n = self.n_args
        if len(result) > n and all(r is None for r in result[n:]):
            result = result[:n]
        if len(result) != n:
            raise RuntimeError(
                f"function {name} returned an incorrect number of gradients (expected {n}, got {len(result)})"
            )
        out = []
        for i, r in enumerate(result):
            where = self.tensor_at[i]
            if where is None:
                if r is not None:
                    raise RuntimeError(
                        f"function {name} returned a gradient different than None at position {i + 1}, but the "
                        "corresponding forward input was not a Variable"
                    )
                continue
            if r is None:
                out.append(None)
                continue
            if not isinstance(r, Tensor):
                raise RuntimeError(f"expected Variable or None (got {_type_name(r)})")
            k, shape, device, requires = where
            if not requires:  # the engine drops it: PyTorch checks only gradients that flow on
                out.append(None)
                continue
            if r.device != device:
                raise RuntimeError(
                    f"Function {name} returned an invalid gradient at index {k} - expected device {device} but "
                    f"got {r.device}"
                )
            if r._c is None:
                r = host(np.asarray(r._a, dtype=np.float32), device)
            c = r._c
            got = tuple(c.shape)
            if got != shape and not _expandable(shape, got):
                raise RuntimeError(
                    f"Function {name} returned an invalid gradient at index {k} - got {list(got)} but expected "
                    f"shape compatible with {list(shape)}"
                )
            if graph:
                from ._double_backward import sum_to as sum_to_graph

                out.append(sum_to_graph(r, shape))
            else:
                out.append(sum_to(c, shape) if got != shape else c.to(c.device))
        return tuple(out)


def _expandable(shape: tuple, to: tuple) -> bool:
    """Whether ``shape`` broadcasts to ``to`` (a gradient of shape ``to`` then sums back to ``shape``)."""
    if len(shape) > len(to):
        return False
    return all(s == t or s == 1 for s, t in zip(reversed(shape), reversed(to), strict=False))


def _user_backward(fn_cls):
    backward, vjp = fn_cls.backward, fn_cls.vjp
    if backward is not Function.backward and vjp is not Function.vjp:
        raise RuntimeError(
            "Implementing both 'backward' and 'vjp' for a custom Function is not allowed. You should only "
            "implement one of them."
        )
    return vjp if vjp is not Function.vjp else backward


def _check_tensors(what: str, values, Tensor) -> None:
    for i, t in enumerate(values):
        if not isinstance(t, Tensor):
            if what == "mark_dirty":
                msg = f"mark_dirty can only accept variables, but argument {i} is of type {_type_name(t)}"
            else:
                msg = f"mark_non_differentiable only accepts variable arguments, but got {_type_name(t)}"
            raise RuntimeError(msg)


class Function:
    """Base class of custom autograd functions: subclass it with static ``forward`` and ``backward`` (and
    optionally ``setup_context``) and call ``YourFunction.apply(*args)``."""

    generate_vmap_rule = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._backward_cls = type(
            f"{cls.__name__}Backward", (BackwardCFunction,), {"__slots__": (), "_forward_cls": cls}
        )

    def __init__(self, *args, **kwargs) -> None:
        warnings.warn(
            f"{self.__class__} should not be instantiated. Methods on autograd functions are all static, so you "
            "should invoke them on the class itself. Instantiating an autograd function will raise an error in a "
            "future version of PyTorch.",
            DeprecationWarning,
            stacklevel=2,
        )

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use new-style autograd "
            "function with static forward method. (Example: https://pytorch.org/docs/stable/autograd.html"
            "#torch.autograd.Function)"
        )

    @staticmethod
    def forward(*args, **kwargs):
        """``forward(ctx, *args, **kwargs)``, or ``forward(*args, **kwargs)`` with a ``setup_context``."""
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs: tuple, output) -> None:
        """Optional: fill ``ctx`` from the inputs and the output of a ``forward`` that takes no ctx."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """One gradient per output in; one per forward input out (None for non-tensors and those not needed)."""
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom autograd.Function to use it "
            "with backward mode AD."
        )

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError(
            "You must implement the jvp function for custom autograd.Function to use it with forward mode AD."
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` (recording off) and, when recording is on and a tensor input requires grad, tape the
        outputs with a ``<cls>Backward`` node."""
        from .tensor import Tensor

        own_setup = cls.setup_context is not Function.setup_context
        if own_setup:
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        ctx = FunctionCtx()
        ctx.needs_input_grad = needs = tuple(isinstance(a, Tensor) and a._rg for a in args)
        recording = autograd._GradMode.enabled and any(needs)
        prev = autograd._GradMode.enabled
        autograd._GradMode.enabled = False
        try:
            if own_setup:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        finally:
            autograd._GradMode.enabled = prev
        return _wrap_outputs(cls, ctx, args, output, recording, Tensor)


def _wrap_outputs(cls, ctx, args, output, recording, Tensor):
    """The outputs as ``apply`` returns them (inputs returned unchanged become aliases; the differentiable ones
    get the node as ``grad_fn``); the node is made and the saved tensors are checked and kept."""
    as_tuple = isinstance(output, tuple)
    outs = list(output) if as_tuple else [output]
    inputs = [a for a in args if isinstance(a, Tensor)]
    input_ids = {id(a) for a in inputs}
    dirty, non_diff = ctx.dirty_tensors, ctx.non_differentiable
    _check_tensors("mark_dirty", dirty, Tensor)
    _check_tensors("mark_non_differentiable", non_diff, Tensor)
    dirty_ids, non_diff_ids = {id(t) for t in dirty}, {id(t) for t in non_diff}
    if not dirty_ids <= {id(o) for o in outs}:
        raise RuntimeError(
            "Some elements marked as dirty during the forward method were not returned as output. The inputs "
            "that are modified inplace must all be outputs of the Function."
        )
    node = None
    if recording:
        node = cls._backward_cls.__new__(cls._backward_cls)
        Node.__init__(node, cls.__name__, tuple(inputs), None, reads=(False,) * len(inputs))
        node.ctx = ctx
    differentiable, views = [], []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            continue
        is_input, modified = id(o) in input_ids, id(o) in dirty_ids
        if modified:
            _versions.bump(o)  # PyTorch counts mark_dirty as one more write
        if not (recording and id(o) not in non_diff_ids and o.dtype.is_floating_point):
            if o._rg:  # recorded inside forward (enable_grad): cut it, leaving the inputs untouched
                outs[i] = o.detach() if is_input else o.detach_()
            elif is_input and not modified:
                outs[i] = o.detach()
            continue
        if modified:
            if o.grad_fn is None and o._rg:
                raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
            if not is_input:
                warnings.warn(
                    "ctx.mark_dirty() received a tensor that was not an input. Only input Tensors that have been "
                    "mutated should be passed to ctx.mark_dirty().",
                    UserWarning,
                    stacklevel=3,
                )
        elif is_input:
            views.append((i, o, _versions.current(o)))
            outs[i] = o.detach()
        differentiable.append(i)
    if node is not None:
        _make_node(node, cls, ctx, args, outs, differentiable, Tensor)
        node.backward.views = tuple(views)
    return tuple(outs) if as_tuple else outs[0]


def _make_node(node, cls, ctx, args, outs, differentiable, Tensor) -> None:
    run = _Backward()
    run.ctx, run.fn_cls, run.n_args = ctx, cls, len(args)
    run.outputs = [_output_meta(o) if isinstance(o, Tensor) else None for o in outs]
    run.grads = [None] * len(outs)
    run.tensor_at, k = [], 0
    for a in args:
        if isinstance(a, Tensor):
            run.tensor_at.append((k, tuple(a.shape), a.device, a._rg))
            k += 1
        else:
            run.tensor_at.append(None)
    # the saved tensors, checked as PyTorch does once forward returned; outputs are kept as aliases without their
    # grad_fn (the node would otherwise hold its own output)
    out_index = {id(outs[i]): i for i in differentiable}
    saved = []
    for i, t in enumerate(ctx.to_save):
        if t is None:
            saved.append((None, 0, None))
        elif not isinstance(t, Tensor):
            raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type {_type_name(t)}")
        else:
            saved.append((t.detach() if id(t) in out_index else t, _versions.current(t), out_index.get(id(t))))
    run.saved = tuple(saved)
    ctx.to_save = ()
    node.backward = run
    ctx._saved = weakref.ref(node)
    run.single, run.out_nodes = (differentiable[0], None) if len(differentiable) == 1 else (None, {})
    for i in differentiable:
        o = outs[i]
        if run.single is None:
            o.grad_fn = _output_node(node, i)
            run.out_nodes[i] = weakref.ref(o.grad_fn)
        else:
            o.grad_fn = node
        o._rg = True


def _output_meta(o) -> tuple:
    if o._c is None:
        return (tuple(o.shape), o.device, None, o.dtype.np)
    return (tuple(o.shape), o.device, o._c.device, None)


ONCE_DIFFERENTIABLE = "trying to differentiate twice a function that was marked with @once_differentiable"


def once_differentiable(fn):
    """Mark a backward as not differentiable itself: it runs with recording off. In a double backward
    (create_graph=True, where backward runs with recording on) its gradients, when an output gradient requires
    grad, come out of a ``DelayedError`` node, whose backward raises PyTorch's error: differentiating them again
    is refused, not silently wrong."""

    @functools.wraps(fn)
    def wrapper(ctx, *args, **kwargs):
        with autograd.no_grad():
            outputs = fn(ctx, *args, **kwargs)
        if not autograd._GradMode.enabled:
            return outputs
        from .tensor import Tensor

        if not any(isinstance(a, Tensor) and a._rg for a in args):
            return outputs
        if not isinstance(outputs, tuple):
            return _delayed_error(outputs, Tensor)
        return tuple(_delayed_error(o, Tensor) for o in outputs)

    return wrapper


def _delayed_error(t, Tensor):
    """t (a gradient a once_differentiable backward returned) as the output of a node that raises when a
    gradient reaches it (PyTorch's DelayedError)."""
    if not isinstance(t, Tensor) or t._c is None:
        return t
    from .tensor import wrap

    leaf = t.detach()
    leaf._rg = True
    out = _versions.share(t, wrap(t._c, t.device))

    def backward(g):
        if autograd._GradMode.capturing:  # grad(): nothing asked for lies behind it, and PyTorch does not run it
            return (None,)
        raise RuntimeError(ONCE_DIFFERENTIABLE)

    autograd.record("DelayedError", out, (leaf,), backward, reads=(False,), reads_output=False)
    return out
