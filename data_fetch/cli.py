"""Command line: ``python -m data_fetch {synthetic,kaggle,url,normalize} ...``.

A thin layer: it maps flags onto the keyword-only ``run()`` of one module per command and turns
problems into one line ``Error: <what> — <what to do>`` with a non-zero exit status.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import DataFetchError, is_disk_full

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per way of getting the data."""
    parser = argparse.ArgumentParser(
        prog="python -m data_fetch",
        description="Make, download or normalise CARLA-style segmentation data into DIR/CameraRGB/*.png and "
                    "DIR/CameraMask/*.png (class id 0-12 in the red channel) plus DIR/manifest.json.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--dest", required=True, type=Path, metavar="DIR", help="the dataset folder to write")
        sub.add_argument("--force", action="store_true", help="replace DIR if it exists")
        sub.add_argument("--workers", type=_positive, default=None, metavar="N",
                         help="processes to use (default: every core)")
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    sub = commands.add_parser("synthetic", help="make an offline synthetic CARLA-like dataset",
                              description="Render N deterministic street scenes at 800x600.")
    sub.add_argument("--frames", type=_positive, required=True, metavar="N", help="number of frames")
    sub.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    sub.add_argument("--width", type=int, default=800, help=argparse.SUPPRESS)
    sub.add_argument("--height", type=int, default=600, help=argparse.SUPPRESS)
    common(sub)

    sub = commands.add_parser("kaggle", help="download the Lyft/Udacity CARLA set with your Kaggle credentials",
                              description="Download the Kaggle dataset with kagglehub, then normalise it.")
    sub.add_argument("--handle", default=None, help=argparse.SUPPRESS)
    common(sub)

    sub = commands.add_parser("url", help="download (or take) a zip/tar archive, check its SHA-256, normalise it",
                              description="Fetch an archive with pooch, verify its SHA-256, unpack it safely "
                                          "and normalise it.")
    sub.add_argument("source", metavar="URL_OR_PATH", help="http(s)/ftp URL or a local .zip/.tar[.gz|.bz2|.xz]")
    sub.add_argument("--sha256", required=True, metavar="HEX", help="the archive's expected SHA-256")
    sub.add_argument("--cache", type=Path, default=None, metavar="DIR",
                     help="where downloads are kept (default: DIR's parent/.downloads)")
    common(sub)

    sub = commands.add_parser("normalize", help="turn an unpacked download into one CameraRGB/ + CameraMask/ tree",
                              description="Find every CameraRGB/ with a CameraSeg/ or CameraMask/ beside it under "
                                          "SRC, check every pair and write one dataset.")
    sub.add_argument("source", metavar="SRC", type=Path, help="the unpacked download")
    common(sub)
    return parser


def _run(args: argparse.Namespace) -> Path:
    module = importlib.import_module(f"data_fetch.{'normalize' if args.command == 'normalize' else args.command}")
    options = dict(dest=args.dest, force=args.force, workers=args.workers)
    if args.command == "synthetic":
        options.update(frames=args.frames, seed=args.seed, width=args.width, height=args.height)
    elif args.command == "kaggle":
        if args.handle:
            options.update(handle=args.handle)
    elif args.command == "url":
        options.update(source=args.source, sha256=args.sha256, cache=args.cache)
    else:
        options.update(source=args.source)
    return module.run(**options)


def _one_line(error: BaseException) -> str:
    if isinstance(error, DataFetchError):
        return str(error)
    if is_disk_full(error):
        return f"no space left on the device ({getattr(error, 'filename', None) or 'while writing'}) — free some space"
    if isinstance(error, OSError):
        where = f" ({error.filename})" if getattr(error, "filename", None) else ""
        return f"{error.strerror or error}{where} — check the path and its permissions"
    return f"unexpected {type(error).__name__}: {error} — run again with --debug and report the traceback"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, and return the exit status."""
    args = build_parser().parse_args(argv)

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)  # `kill` cleans up like Ctrl-C does
    try:
        dest = _run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("Error: interrupted — nothing was written; run the command again", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the CLI's job is to turn every failure into one line
        if args.debug:
            raise
        message = " ".join(_one_line(error).split())
        print(f"Error: {message}", file=sys.stderr)
        return EXIT_ERROR
    print(f"Dataset ready: {dest}")
    return 0
