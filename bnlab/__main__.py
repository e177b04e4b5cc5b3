"""``python -m bnlab`` and the ``bnlab`` console script: the command line lives in bnlab.lab.cli."""

import sys


def main(argv=None):
    """Run ``bnlab`` with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    from bnlab.lab.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
