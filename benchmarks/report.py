"""What every benchmark script shares: writing its Markdown report to --out atomically (a temporary file in
the same folder, then a rename), so that an interrupted run never leaves a half-written report behind. The
report gets the mode a plain open() would give it (0666 less the umask), not the temporary file's 0600."""

import os
import tempfile


def write_report(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp") as f:
        f.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(f.name, 0o666 & ~umask)
    os.replace(f.name, path)
