"""Running one function over many frames on every core, with a progress bar and in input order."""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
R = TypeVar("R")

PRELOAD = ["data_fetch.scenes", "data_fetch.convert"]


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def parallel_map(func: Callable[[T], R], items: Sequence[T], *, workers: int | None, desc: str,
                 unit: str = "frame") -> list[R]:
    """``[func(item) for item in items]``, spread over ``workers`` processes (all cores when None).

    ``func`` must be a module-level function. With one worker everything runs in this process. The first
    exception raised by any item is re-raised here after the remaining work is cancelled.
    """
    count = default_workers() if workers is None else max(1, workers)
    count = min(count, len(items))
    bar = dict(total=len(items), desc=desc, unit=unit, disable=None, leave=False)
    if count <= 1:
        return [func(item) for item in tqdm(items, **bar)]
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    results: list[R | None] = [None] * len(items)
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        futures: dict[Future[R], int] = {pool.submit(func, item): k for k, item in enumerate(items)}
        try:
            for future in tqdm(as_completed(futures), **bar):
                results[futures[future]] = future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results  # type: ignore[return-value]
