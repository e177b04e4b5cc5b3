"""Functional models: ``keras.Model(inputs, outputs)`` over a graph of layer calls (bnlab/keras/_symbolic.py).

What the engine runs. The engine's model is a chain of layers, so the graph is read as one: each layer with one
input follows the one before, and an ``Add`` of two tensors that fork from one tensor x becomes a Residual
block (cpp/nn/residual.hpp), out = main(x) + shortcut(x), each branch a chain again (so blocks nest and
follow each other, as in a ResNet). A branch may be empty: x + main(x) is the identity shortcut. Graphs of
other shapes (two inputs or outputs, a tensor used outside its block, a layer called twice) are refused with
an error that names the layer; the whole epoch then runs in C++ as for Sequential (training.py).

A graph holding a layer written in Python (bnlab/keras/layers/custom.py) has no engine model: fit, evaluate and
predict run the Python loop of bnlab/tf/_keras_fit.py, and each call evaluates the graph layer by layer
(``_run_graph``: each Add a sum), so any graph of one input and one output is accepted, a tensor used by several
blocks included (a layer called twice still is not).

Keras's conventions kept: ``model.layers`` starts with the InputLayer and lists the layers in Keras 3's order
(deepest first, from the inputs; at equal depth in the order a walk back from the outputs first meets them),
so that ``weights``, ``get_weights`` and ``summary()`` list them as Keras does; ``summary()`` has Keras's
"Connected to" column; ``get_config`` / ``save`` write Keras 3's functional config (each layer with the tensors
it was called on), which real Keras loads, and ``from_config`` / ``load_model`` replay such a config.
"""

import numpy as np

from bnlab import _core
from bnlab.keras._symbolic import KerasTensor
from bnlab.keras.layers import custom
from bnlab.keras.layers.base import unique_name
from bnlab.keras.layers.core import Input, InputLayer
from bnlab.keras.layers.serialization import deserialize, serialize
from bnlab.keras.models import Sequential, _size
from bnlab.keras.saving.model_config import MODEL_CLASSES


def _single(tensors, what):
    if isinstance(tensors, (list, tuple)):
        if len(tensors) != 1:
            raise ValueError(f"{what}: bnlab.keras functional models have one input and one output, got {len(tensors)}")
        tensors = tensors[0]
    if not isinstance(tensors, KerasTensor):
        raise TypeError(
            f"{what}: expected a KerasTensor (from keras.Input and layer calls), got {type(tensors).__name__}"
        )
    return tensors


def keras_order(inputs, outputs):
    """The layers (InputLayer first) in Keras 3's order: by decreasing depth from the output, ties broken by the
    order in which a depth-first walk back from the output first reaches each layer."""
    index, finished, post_order = {}, set(), []

    def visit(t):
        layer = t._layer
        if id(t) in finished:
            return
        index.setdefault(layer, len(index))
        if t is not inputs:
            for parent in t._inputs:
                visit(parent)
        finished.add(id(t))
        post_order.append(t)

    visit(outputs)
    if inputs not in post_order:
        raise ValueError("the outputs do not depend on the inputs: they come from another keras.Input")
    depth = {}
    for t in reversed(post_order):
        d = depth.setdefault(id(t), 0)
        for parent in t._inputs:
            depth[id(parent)] = max(depth.get(id(parent), 0), d + 1)
    layers = sorted(
        {t._layer for t in post_order}, key=lambda layer: (-depth[id(layer._functional_output)], index[layer])
    )
    return layers


def _ancestors(t):
    seen, stack = set(), [t]
    while stack:
        u = stack.pop()
        if id(u) not in seen:
            seen.add(id(u))
            stack.extend(u._inputs)
    return seen


def _fork(a, b):
    """The nearest tensor both a and b derive from (where a residual block's branches split)."""
    of_a = _ancestors(a)
    frontier = [b]
    while frontier:  # breadth-first from b: the first ancestor of a met is the nearest fork
        nxt = []
        for u in frontier:
            if id(u) in of_a:
                return u
            nxt.extend(u._inputs)
        frontier = nxt
    return None


def plan(start, end):
    """The chain from tensor ``start`` to tensor ``end``: [layer or ("residual", main, shortcut)]."""
    steps = []
    t = end
    while t is not start:
        layer = t._layer
        if id(start) not in _ancestors(t):
            raise ValueError(
                f"layer {layer.name!r}: bnlab.keras runs a functional model as a chain of layers and residual "
                "blocks, and this layer's input comes from outside the block it sits in (a tensor used by two "
                "blocks). Give each branch its own path"
            )
        if getattr(layer, "_merges", False):
            if len(t._inputs) != 2:
                raise ValueError(f"layer {layer.name!r} (Add): bnlab.keras runs an Add of exactly 2 tensors")
            a, b = t._inputs
            fork = _fork(a, b)
            if fork is None:
                raise ValueError(f"layer {layer.name!r} (Add): its inputs do not fork from one tensor")
            branches = [plan(fork, a), plan(fork, b)]
            if not branches[0]:  # x + f(x): the identity is the shortcut
                branches.reverse()
            if not branches[0]:
                raise ValueError(f"layer {layer.name!r} (Add): both of its inputs are the same tensor")
            steps.append(("residual", layer, *branches))
            t = fork
        else:
            steps.append(layer)
            t = t._inputs[0]
    steps.reverse()
    return steps


def _engine_of(step):
    if isinstance(step, tuple):
        _, _, main, shortcut = step
        return _core.Residual([_engine_of(s) for s in main], [_engine_of(s) for s in shortcut])
    return step._engine


def _layers_of(steps):
    for step in steps:
        if isinstance(step, tuple):
            yield step[1]
            for branch in step[2:]:
                yield from _layers_of(branch)
        else:
            yield step


class Functional(Sequential):
    """``keras.Model(inputs, outputs)``: a model over a graph of layer calls (see the module docstring)."""

    def __init__(self, inputs, outputs, name=None, trainable=True):
        if "_steps" in self.__dict__:  # keras.Model(...) made it already; Python calls __init__ once more
            return
        inputs, outputs = _single(inputs, "inputs"), _single(outputs, "outputs")
        if not isinstance(inputs._layer, InputLayer):
            raise ValueError("inputs: a functional model's input must come from keras.Input(shape=...)")
        super().__init__(name=name or unique_name("functional"), trainable=trainable)
        order = keras_order(inputs, outputs)
        self._input_layer = order[0]
        self._layers = [layer for layer in order if not isinstance(layer, InputLayer)]
        python = any(layer._is_python_layer for layer in self._layers)
        self._steps = [] if python else plan(inputs, outputs)  # Python layers: no engine model, any graph
        used = self._layers if python else list(_layers_of(self._steps))
        missing = [layer.name for layer in self._layers if layer not in used]
        if missing or len(used) != len(self._layers):
            raise ValueError(
                f"bnlab.keras runs a functional model as a chain of layers and residual blocks; the graph's layers "
                f"{missing or [layer.name for layer in used]} feed more than one block. Give each branch its own layers"
            )
        self._inputs, self._outputs = inputs, outputs
        self._input_shape = inputs.shape
        self.build()

    @property
    def inputs(self):
        return [self._inputs]

    @property
    def outputs(self):
        return [self._outputs]

    @property
    def layers(self):
        return [self._input_layer, *self._layers]

    def add(self, layer):
        raise TypeError("a functional model has no add(): build the graph with layer calls, then keras.Model")

    def pop(self):
        raise TypeError("a functional model has no pop()")

    def build(self, input_shape=None):
        if self._engine is not None:
            return
        if self._runs_in_python():  # fit, evaluate and predict run the graph in Python (bnlab/tf/_keras_fit.py)
            self._engine = custom.PythonChain(self)
            return
        engine = _core.Sequential()
        for step in self._steps:
            engine.add(_engine_of(step))
        engine.build(list(self._input_shape[1:]), self._layers[0]._engine_device)
        self._engine = engine

    def _run_graph(self, x, run_layer):
        """The output for input x, each layer applied by ``run_layer(layer, value)`` in graph order and each Add
        as the sum of its inputs' values (the GradientTape path, bnlab/tf/_keras_bridge.py)."""
        values = {id(self._inputs): x}
        for layer in self._layers:
            out = layer._functional_output
            ins = [values[id(t)] for t in out._inputs]
            values[id(out)] = sum(ins[1:], ins[0]) if getattr(layer, "_merges", False) else run_layer(layer, ins[0])
        return values[id(self._outputs)]

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        return super().get_layer(name=name)

    def summary(self, print_fn=None):
        """Keras's table of a functional model: output shape, parameters and the inputs of each layer."""
        print_fn = print_fn or print
        rows = [(f"{self._input_layer.name} (InputLayer)", str(self._input_shape), "0", "-")]
        for layer in self._layers:
            parents = layer._functional_output._inputs
            connected = ", ".join(f"{p._layer.name}[0][0]" for p in parents)
            rows.append(
                (
                    f"{layer.name} ({type(layer).__name__})",
                    str(layer.output_shape),
                    f"{layer.count_params():,}",
                    connected,
                )
            )
        w = [
            max(21, *(len(r[0]) + 2 for r in rows)),
            max(19, *(len(r[1]) + 2 for r in rows)),
            12,
            max(19, *(len(r[3]) + 2 for r in rows)),
        ]

        def line(left, mid, right, fill):
            return left + mid.join(fill * n for n in w) + right

        head = ("Layer (type)", "Output Shape", "Param #", "Connected to")
        out = [f'Model: "{self.name}"', line("┏", "┳", "┓", "━")]
        out.append(
            "┃"
            + "┃".join(
                (" " + h).ljust(n) if i != 2 else (h + " ").rjust(n)
                for i, (h, n) in enumerate(zip(head, w, strict=True))
            )
            + "┃"
        )
        out.append(line("┡", "╇", "┩", "━"))
        for k, row in enumerate(rows):
            out.append(
                "│"
                + "│".join(
                    (" " + c).ljust(n) if i != 2 else (c + " ").rjust(n)
                    for i, (c, n) in enumerate(zip(row, w, strict=True))
                )
                + "│"
            )
            if k < len(rows) - 1:
                out.append(line("├", "┼", "┤", "─"))
        out.append(line("└", "┴", "┘", "─"))
        total = self.count_params()
        train = sum(int(np.prod(v.shape)) for v in self.trainable_weights)
        out += [
            f" Total params: {total:,} ({_size(total)})",
            f" Trainable params: {train:,} ({_size(train)})",
            f" Non-trainable params: {total - train:,} ({_size(total - train)})",
        ]
        print_fn("\n".join(out))

    # ---- configuration and saving: Keras 3's functional config (layers with their inbound nodes) ----
    def get_config(self):
        """Keras 3's config of a functional model: each layer's entry with the tensors it was called on."""

        def tensor_entry(t):
            history = [t._layer.name, 0, 0]
            return {"class_name": "__keras_tensor__", "config": {"shape": list(t.shape), "dtype": "float32",
                                                                 "keras_history": history}}  # fmt: skip

        entries = [serialize(self._input_layer) | {"name": self._input_layer.name, "inbound_nodes": []}]
        for layer in self._layers:
            entry = serialize(layer)
            parents = layer._functional_output._inputs
            if getattr(layer, "_merges", False):
                args = [[tensor_entry(t) for t in parents]]
                entry["build_config"] = {"input_shape": [list(t.shape) for t in parents]}
            else:
                args = [tensor_entry(parents[0])]
            entries.append(entry | {"name": layer.name, "inbound_nodes": [{"args": args, "kwargs": {}}]})
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": entries,
            "input_layers": [self._input_layer.name, 0, 0],
            "output_layers": [self._outputs._layer.name, 0, 0],
        }

    @classmethod
    def from_config(cls, config, custom_objects=None, where="config"):
        """The functional model a config describes (get_config's or Keras 3's), rebuilt by replaying its calls."""
        if custom_objects:
            raise ValueError("custom_objects: bnlab finds layer classes by name; custom objects are not supported")
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"{where}: a functional config must be a dict with a 'layers' list")
        tensors = {}

        def tensor(ref):
            history = ref.get("config", {}).get("keras_history") if isinstance(ref, dict) else None
            if not history or history[0] not in tensors:
                raise ValueError(f"{where}: a layer is called on {ref!r:.200}, which no earlier layer produced")
            return tensors[history[0]]

        for entry in config["layers"]:
            layer = deserialize(entry, where)
            if isinstance(layer, InputLayer):
                tensors[layer.name] = Input(shape=layer.shape[1:], batch_size=layer.shape[0], name=layer.name)
                continue
            nodes = entry.get("inbound_nodes")
            if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], dict):
                raise ValueError(f"{where}: layer {layer.name!r} must be called exactly once (one inbound node)")
            args = nodes[0].get("args") or [None]
            arg = args[0]
            tensors[layer.name] = layer([tensor(r) for r in arg] if isinstance(arg, list) else tensor(arg))

        def endpoint(spec, what):
            while isinstance(spec, list) and spec and isinstance(spec[0], list):  # [[name, 0, 0]]: one tensor
                if len(spec) != 1:
                    raise ValueError(f"{where}: bnlab.keras functional models have one {what}, got {len(spec)}")
                spec = spec[0]
            if not isinstance(spec, list) or not spec or spec[0] not in tensors:
                raise ValueError(f"{where}: {what}_layers names no layer of the config: {spec!r:.100}")
            return tensors[spec[0]]

        inputs, outputs = endpoint(config.get("input_layers"), "input"), endpoint(config.get("output_layers"), "output")
        return cls(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))

    _saved_as = ("keras.src.models.functional", "Functional", "Functional")  # config.json's module, class, name

    def __repr__(self):
        return f"<Functional name={self.name}, built={self.built}>"


MODEL_CLASSES["Functional"] = Functional  # what a .keras file's config.json names
