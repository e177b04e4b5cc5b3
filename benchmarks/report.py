"""What every benchmark script shares: writing its Markdown report to --out atomically, with
bnlab._files.write_atomic (a temporary file in the same folder, then a rename), so that an interrupted run
never leaves a half-written report behind. The report gets the mode a plain open() would give it (0666 less
the umask), not the temporary file's 0600."""

from bnlab._files import write_atomic


def write_report(path, text):
    write_atomic(path, text)
