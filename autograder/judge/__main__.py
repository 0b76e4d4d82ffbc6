"""``python -m autograder.judge prepare --seed S --cache DIR NOTEBOOK...``: build a run's references ahead of time.

``grade`` starts it once per run, beside the first workers: by the time a notebook has run, the
references its cells are judged against are waiting in ``DIR`` (workers that get there first wait for it).
"""
from __future__ import annotations

import argparse
import sys

from autograder.judge.verdict import prepare


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and fill the cache."""
    parser = argparse.ArgumentParser(prog="python -m autograder.judge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="compute the references of a grading run")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)
    count = prepare(args.notebooks, args.seed, args.cache)
    print(f"{count} references ready in {args.cache}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
