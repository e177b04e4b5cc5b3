"""What every benchmark script shares: writing its Markdown report to --out atomically (a temporary file in
the same folder, then a rename), so that an interrupted run never leaves a half-written report behind."""

import os
import tempfile


def write_report(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp") as f:
        f.write(text)
    os.replace(f.name, path)
