"""The judge's commands.

``python -m autograder.run.judge freeze`` rewrites ``autograder/run/judge/frozen.json``, the references of every fixed
case (run it after changing a reference, an exercise's cases or Keras; a test says when it is stale).
"""
from __future__ import annotations

import argparse
import json
import sys

from autograder.run.judge.verdict import FROZEN, compute_frozen


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and rewrite ``frozen.json``."""
    parser = argparse.ArgumentParser(prog="python -m autograder.run.judge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("freeze", help="rewrite frozen.json from the reference builders")
    parser.parse_args(argv)
    frozen = compute_frozen()
    FROZEN.write_text(json.dumps(frozen, sort_keys=True, indent=0) + "\n")
    print(f"{len(frozen)} references written to {FROZEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
