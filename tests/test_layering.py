"""The arrows of docs/ARCHITECTURE.md point down: a static scan of every import statement in bnlab/.

Each rule names a package and the packages above it that it must not import. bnlab.keras reaches the TF core
only through the handler the TF core registers in bnlab/keras/_eager.py (which loads it by module name, not by
an import statement); bnlab.data and bnlab.datasets use NumPy and the standard library only.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "bnlab"

RULES = {
    "bnlab.keras": ("bnlab.tf", "bnlab.torch", "bnlab.lab"),
    "bnlab.torch": ("bnlab.tf", "bnlab.keras", "bnlab.lab"),
    "bnlab.torchvision": ("bnlab.tf", "bnlab.keras", "bnlab.lab"),
    "bnlab.data": ("bnlab.tf", "bnlab.keras", "bnlab.torch", "bnlab._core", "bnlab.lab"),
    "bnlab.datasets": ("bnlab.tf", "bnlab.keras", "bnlab.torch", "bnlab._core", "bnlab.lab"),
    "bnlab.teaching": ("bnlab.tf", "bnlab.keras", "bnlab.torch", "bnlab.lab"),
}


def _module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """The absolute names of the modules a file imports (relative imports resolved against its package)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)  # `from bnlab import tf`


@pytest.mark.parametrize("package", sorted(RULES))
def test_no_import_points_up(package):
    files = sorted((ROOT / package.split(".", 1)[1]).rglob("*.py"))
    assert files, package
    bad = [
        f"{path.relative_to(ROOT.parent)} imports {target}"
        for path in files
        for target in _imports(path)
        if any(target == up or target.startswith(up + ".") for up in RULES[package])
    ]
    assert not bad, "\n".join(bad)
