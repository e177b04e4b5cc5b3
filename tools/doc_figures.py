"""The figures of README.md that the tree itself can give: how many tests there are, counted, not typed.

    python tools/doc_figures.py            # rewrite the region between the figures markers in README.md
    python tools/doc_figures.py --check    # exit 1 when the region is not what the tree gives now
    python tools/doc_figures.py --print    # print the counts

The counts: GoogleTests (each TEST/TEST_F/TEST_P of cpp/tests, which gtest_discover_tests turns into one ctest
test each: `ctest -N` says the same), and pytest's collection (`pytest --collect-only` on tests/, in-process):
all of it, the GPU cases (marker `gpu`), the fuzz suite (tests/fuzz), and the selections of .ci/sanitize.sh
and .ci/portable.sh (their `default_tests`). Measured figures (times, speeds, memory) are not here: they are
in benchmarks/RESULTS.md, with the date and the machine of each measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN = "<!-- figures:begin (written by tools/doc_figures.py; do not edit by hand) -->"
END = "<!-- figures:end -->"
REGENERATE = "python tools/doc_figures.py"
GTEST = re.compile(r"^\s*(?:TEST|TEST_F|TEST_P|TYPED_TEST)\s*\(", re.MULTILINE)


def gtest_count() -> int:
    return sum(len(GTEST.findall(p.read_text())) for p in sorted((ROOT / "cpp" / "tests").rglob("*.cpp")))


def ci_selection(script: str) -> list[str]:
    """The pytest paths of a .ci script's `default_tests="..."`."""
    text = (ROOT / ".ci" / script).read_text()
    match = re.search(r'default_tests="([^"]*)"', text)
    if match is None:
        raise SystemExit(f'.ci/{script} has no default_tests="..." any more: update tools/doc_figures.py')
    return match.group(1).split()


class _Collector:
    def __init__(self) -> None:
        self.items: list[tuple[str, bool]] = []

    def pytest_collection_finish(self, session) -> None:
        self.items = [(item.nodeid, item.get_closest_marker("gpu") is not None) for item in session.items]


def collected() -> list[tuple[str, bool]]:
    """(node id, is a GPU case) of every pytest test under tests/."""
    import pytest

    collector = _Collector()
    args = ["--collect-only", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT), str(ROOT / "tests")]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = pytest.main(args, plugins=[collector])
    if code != 0:
        raise SystemExit(f"pytest could not collect the tests ({code}):\n{out.getvalue()[-4000:]}")
    return collector.items


def counts() -> dict[str, int]:
    items = collected()

    def under(paths: list[str]) -> int:
        prefixes = [p.rstrip("/") for p in paths]
        return sum(1 for node, _ in items if any(node == p or node.startswith((p + "::", p + "/")) for p in prefixes))

    return {
        "gtest": gtest_count(),
        "pytest": len(items),
        "gpu": sum(1 for _, gpu in items if gpu),
        "fuzz": under(["tests/fuzz"]),
        "sanitize": under(ci_selection("sanitize.sh")),
        "portable": under(ci_selection("portable.sh")),
    }


def region(c: dict[str, int]) -> str:
    text = (
        f"The tests, counted from the tree: **{c['gtest']:,} GoogleTests** (`cpp/tests`, one ctest test each) and "
        f"**{c['pytest']:,} pytest tests** (`tests/`), {c['gpu']:,} of them GPU cases (marker `gpu`: they skip "
        f"themselves without a CUDA device). The fuzz suite (`tests/fuzz`) is {c['fuzz']:,} of them; `make "
        f"sanitize` runs {c['sanitize']:,} under the sanitizers and `make portable` the {c['portable']:,} parity "
        f"tests."
    )
    return f"{BEGIN}\n{textwrap.fill(text, width=115, break_on_hyphens=False)}\n{END}"


def rewritten(text: str, new_region: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise SystemExit(f"README.md must hold exactly one region between {BEGIN!r} and {END!r}")
    return pattern.sub(lambda _: new_region, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare README.md's region, write nothing")
    mode.add_argument("--print", action="store_true", help="print the counts")
    args = parser.parse_args(argv)
    c = counts()
    if args.print:
        for key, value in c.items():
            print(f"{key}: {value}")
        return 0
    text = README.read_text()
    new = rewritten(text, region(c))
    if args.check:
        if new == text:
            return 0
        print(f"README.md's figures are not the tree's any more; rewrite them: {REGENERATE}\nnow:\n{region(c)}")
        return 1
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
