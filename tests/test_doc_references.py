"""The docs point at things that exist, and README.md's counts are the tree's.

Scanned: README.md, docs/*.md and the C++ sources' text (cpp/; `#include` lines are the compiler's to check).
A reference is a file name with a source extension, alone (`layers.hpp`) or with folders (`cpp/nn/layers.hpp`,
`nn/layers.hpp`), optionally with a line or a range (`layers.hpp:53`, `conv.cpp:10-20`), or a markdown link
to a local file. It resolves when some file of the repository ends with that path (or the path is relative to
the citing file) and, for a line, has at least that many lines. A path into another project's source
(`keras/src/...`) must exist in that installed package. The figures region of README.md is
tools/doc_figures.py's (see test_readme_figures_are_the_trees).
"""

import importlib.util
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "build", "__pycache__", ".hypothesis", "node_modules", "bnlab-compare", "bnlab-claims"}
EXT = r"(?:py|pyi|md|hpp|cpp|cu|cuh|h|sh|toml|ipynb|cmake)"
# Not preceded by a path or glob character, not followed by more path: `*_cuda.cu` is a pattern, not a name.
TOKEN = re.compile(r"(?<![\w./$~*-])((?:[\w.-]+/)*[\w-][\w.-]*\." + EXT + r")(?::(\d+)(?:-(\d+))?)?(?![\w/*])")
LINK = re.compile(r"\]\(([^)\s]+)\)")
# Files the docs name that are not the repository's: what a run writes, what a worked example would add.
NOT_IN_THE_TREE = {
    "report.md": "bnlab compare / bnlab claims write it into their output folder",
    "DIR/report.md": "bnlab compare --out DIR writes it",
    "bench_cuda.md": ".ci/gpu/run.sh writes it on the GPU machine",
    "cpp/backend/cpu/leaky_relu_cpu.cpp": "docs/ARCHITECTURE.md's worked example of a new op",
    "cpp/backend/cuda/leaky_relu_cuda.cu": "docs/ARCHITECTURE.md's worked example of a new op",
}
# Other projects' sources a comment may cite: the first folder, and the importable package it is in.
EXTERNAL = {"keras": "keras", "torch": "torch", "numpy": "numpy"}


@cache
def repo_files():
    out = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        out += [Path(folder, n).relative_to(ROOT).as_posix() for n in names]
    return tuple(sorted(out))


@cache
def line_count(path):
    with open(ROOT / path, "rb") as f:
        return sum(1 for _ in f)


def scanned():
    files = repo_files()
    docs = ["README.md"] + [f for f in files if re.fullmatch(r"docs/[^/]+\.md", f)]
    cpp = [f for f in files if f.startswith("cpp/") and re.search(r"\.(cpp|hpp|cu|cuh|h)$", f)]
    return docs + cpp


def external_ok(token):
    top = token.split("/", 1)[0]
    if top not in EXTERNAL:
        return None
    spec = importlib.util.find_spec(EXTERNAL[top])
    if spec is None or not spec.submodule_search_locations:
        return True  # not installed here: nothing to check it against
    return any((Path(loc).parent / token).is_file() for loc in spec.submodule_search_locations)


def resolve(src, token):
    """The repository files a reference may mean."""
    rel = os.path.normpath(os.path.join(os.path.dirname(src), token))
    found = [f for f in repo_files() if f == token or f.endswith("/" + token)]
    return found + ([rel] if rel in repo_files() and rel not in found else [])


def problems_in(src):
    out = []
    for number, line in enumerate((ROOT / src).read_text(errors="replace").splitlines(), 1):
        if line.lstrip().startswith("#include"):
            continue
        for m in TOKEN.finditer(line):
            token, first, last = m.group(1), m.group(2), m.group(3)
            if token in NOT_IN_THE_TREE:
                continue
            ext = external_ok(token)
            if ext is not None:
                if not ext:
                    out.append(f"{src}:{number}: `{token}` is not in the installed {token.split('/')[0]}")
                continue
            targets = resolve(src, token)
            if not targets:
                out.append(f"{src}:{number}: `{m.group(0)}` names no file of the repository")
            elif first and not any(line_count(t) >= int(last or first) for t in targets):
                longest = max(targets, key=line_count)
                out.append(f"{src}:{number}: `{m.group(0)}`, but {longest} has {line_count(longest)} lines")
        if src.endswith(".md"):
            for m in LINK.finditer(line):
                target = m.group(1).split("#", 1)[0]
                local = target and "://" not in target and not target.startswith("mailto:")
                if local and not (ROOT / os.path.dirname(src) / target).exists():
                    out.append(f"{src}:{number}: link to `{target}`, which does not exist")
    return out


def test_the_scanner_sees_references():
    """The patterns find what they are for (a scanner that finds nothing would pass everything)."""
    line = "see layers.hpp:53, cpp/nn/model.cpp:1-2, `cpp/backend/cuda/*_cuda.cu` twins and [x](docs/LAB.md)"
    assert [m.group(0) for m in TOKEN.finditer(line)] == ["layers.hpp:53", "cpp/nn/model.cpp:1-2", "docs/LAB.md"]
    assert [m.group(1) for m in LINK.finditer(line)] == ["docs/LAB.md"]
    assert len(scanned()) > 20 and "README.md" in scanned()


@pytest.mark.parametrize("src", ["README.md", "docs", "cpp"])
def test_references_resolve(src):
    files = [f for f in scanned() if f == src or f.startswith(src + "/")]
    assert files, f"nothing to scan under {src}"
    problems = [p for f in files for p in problems_in(f)]
    assert not problems, "stale references (fix the text, or the path it names):\n" + "\n".join(problems)


def test_readme_figures_are_the_trees():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "doc_figures.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, (
        "README.md's test counts are not what the tree gives; rewrite them with `python tools/doc_figures.py`.\n"
        f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
