"""The judge's commands.

``python -m autograder.judge freeze`` rewrites ``autograder/judge/frozen.json``, the references of every fixed
case (run it after changing a reference, an exercise's cases or Keras; a test says when it is stale).
``python -m autograder.judge prepare --seed S --cache DIR NOTEBOOK...`` builds a run's remaining references
ahead of time into ``DIR``.
"""
from __future__ import annotations

import argparse
import sys

import json

from autograder.judge.verdict import FROZEN, compute_frozen, prepare


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and fill the cache."""
    parser = argparse.ArgumentParser(prog="python -m autograder.judge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="compute the references of a grading run")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("notebooks", nargs="+")
    sub.add_parser("freeze", help="rewrite frozen.json from the reference builders")
    args = parser.parse_args(argv)
    if args.command == "freeze":
        frozen = compute_frozen()
        FROZEN.write_text(json.dumps(frozen, sort_keys=True, indent=0) + "\n")
        print(f"{len(frozen)} references written to {FROZEN}")
        return 0
    count = prepare(args.notebooks, args.seed, args.cache)
    print(f"{count} references ready in {args.cache}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
