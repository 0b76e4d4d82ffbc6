"""Entry point for ``python -m autograder``."""
import sys

from autograder.cli import main

if __name__ == "__main__":  # the fork server re-imports the main module of the process it serves
    sys.exit(main())
