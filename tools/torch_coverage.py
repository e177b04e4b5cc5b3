"""How much of PyTorch's public API bnlab.torch has: Tensor methods, torch functions, nn modules and
nn.functional functions, counted against the PyTorch installed beside it, written as docs/TORCH_COVERAGE.md.

    python tools/torch_coverage.py            # rewrite docs/TORCH_COVERAGE.md (needs torch importable)
    python tools/torch_coverage.py --check    # exit 1 when the file is not what the tree gives now
    python tools/torch_coverage.py --print    # print the table

What counts as PyTorch's public name (the same rule for both sides, names not starting with "_"):
  Tensor methods    attributes of torch.Tensor
  torch functions   callables of the torch namespace that are not classes or modules
  nn modules        classes of torch.nn that subclass torch.nn.Module
  nn.functional     callables of torch.nn.functional that are not classes or modules
A name counts as present in bnlab.torch when looking it up there does not raise AttributeError (bnlab.torch's
"does not have it yet" error). Presence is not parity: the parity tests (tests/test_torch_*.py) compare values.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "TORCH_COVERAGE.md"
TARGETS = {"Tensor methods": 250, "torch functions": 150, "nn modules": 60, "nn.functional functions": 60}


def _public(names):
    return sorted(n for n in names if not n.startswith("_"))


def _functions(module) -> list[str]:
    out = []
    for name in _public(dir(module)):
        try:
            value = getattr(module, name)
        except Exception:  # a lazily imported attribute that fails to load is not a function
            continue
        if callable(value) and not inspect.isclass(value) and not isinstance(value, types.ModuleType):
            out.append(name)
    return out


def _has(owner, name) -> bool:
    try:
        getattr(owner, name)
    except AttributeError:
        return False
    return True


def families():
    """(family, PyTorch's names, bnlab.torch's owner) for the four families."""
    import torch

    import bnlab.torch as bt

    modules = [
        n
        for n in _public(dir(torch.nn))
        if inspect.isclass(getattr(torch.nn, n)) and issubclass(getattr(torch.nn, n), torch.nn.Module)
    ]
    return [
        ("Tensor methods", _public(dir(torch.Tensor)), bt.Tensor),
        ("torch functions", _functions(torch), bt),
        ("nn modules", modules, bt.nn),
        ("nn.functional functions", _functions(torch.nn.functional), bt.nn.functional),
    ]


def render() -> str:
    import torch

    rows, lists = [], []
    for family, names, owner in families():
        have = [n for n in names if _has(owner, n)]
        target = TARGETS[family]
        met = "met" if len(have) >= target else f"not met ({target - len(have)} to go)"
        rows.append(f"| {family} | {len(names)} | {len(have)} | {len(have) / len(names):.0%} | {target} | {met} |")
        lists.append(f"**{family}** ({len(have)}): " + ", ".join(f"`{n}`" for n in have))
    return (
        "\n".join(
            [
                "# bnlab.torch against PyTorch's public names",
                "",
                f"Written by `python tools/torch_coverage.py` against PyTorch {torch.__version__} (do not edit by",
                "hand; `make test` checks it when that PyTorch is installed). A name is present when bnlab.torch has",
                "it; the parity tests (tests/test_torch_*.py) compare its values with PyTorch's. A missing name",
                "raises an AttributeError saying bnlab.torch does not have it yet and naming the closest it has.",
                "",
                "| family | PyTorch | bnlab.torch | share | target (issue 27) | |",
                "|---|---:|---:|---:|---:|---|",
                *rows,
                "",
                "## The names bnlab.torch has",
                "",
                *[line + "\n" for line in lists],
            ]
        ).rstrip()
        + "\n"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--print", action="store_true")
    args = parser.parse_args(argv)
    text = render()
    if args.print:
        print(text)
        return 0
    if args.check:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run python tools/torch_coverage.py", file=sys.stderr)
            return 1
        return 0
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(DOC)  # written whole, then renamed into place
    return 0


if __name__ == "__main__":
    sys.exit(main())
