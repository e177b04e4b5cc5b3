"""Runs a seed's code with only its import lines changed, as the line-for-line promise says.

``tensorflow`` becomes ``bnlab`` (so ``import tensorflow as tf`` gives ``import bnlab as tf``), ``torch``
becomes ``bnlab.torch`` and ``torchvision`` becomes ``bnlab.torchvision``. Nothing but import lines changes.
"""

import contextlib
import io
import re

_IMPORT = re.compile(r"^(\s*)(import|from)\s+(tensorflow|torchvision|torch)\b(.*)$", re.M)


def port_imports(code):
    """The seed's code with its framework imports pointed at bnlab."""

    def repl(m):
        indent, kw, pkg, rest = m.groups()
        target = {"tensorflow": "bnlab", "torch": "bnlab.torch", "torchvision": "bnlab.torchvision"}[pkg]
        if kw == "import" and pkg != "tensorflow" and not rest.lstrip().startswith(("as", ".")) and rest.strip() == "":
            return f"{indent}import {target} as {pkg}"  # `import torch` keeps the name torch
        if kw == "import" and rest.startswith(".") and " as " not in rest:
            return f"{indent}import {target}{rest} as {pkg}{rest}"
        return f"{indent}{kw} {target}{rest}"

    return _IMPORT.sub(repl, code)


def cell(text, start_marker, end_marker=None):
    """The code between a marker line (e.g. 'In [3]:') and the next blank-line-separated output or marker."""
    start = text.index(start_marker) + len(start_marker)
    end = text.index(end_marker, start) if end_marker else len(text)
    return text[start:end]


def run(code, namespace=None):
    """Executes ported code, returning (stdout, namespace)."""
    ns = {"__name__": "__seed__"} if namespace is None else namespace
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(port_imports(code), "<seed>", "exec"), ns)
    return out.getvalue(), ns
