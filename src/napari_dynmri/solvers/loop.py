"""The one iteration loop of every solver: iterations, progress, cancel and timing."""

from __future__ import annotations

import time
from typing import Callable, Protocol


class ReconCancelled(Exception):
    """A reconstruction stopped early because its ``should_stop()`` callback returned True."""


class Algorithm(Protocol):
    """What :func:`run` drives: ``step()`` advances one iteration, ``result()`` returns the current estimate."""

    def step(self) -> None: ...

    def result(self): ...


def run(
    algorithm: Algorithm,
    iterations: int,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
):
    """Run ``iterations`` steps of ``algorithm`` and return ``(result, seconds)``.

    ``should_stop()`` is polled before each step (True raises :class:`ReconCancelled`, so a cancel
    waits at most one iteration); ``progress(done, iterations)`` is called after each.
    """
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    start = time.perf_counter()
    for done in range(iterations):
        if should_stop is not None and should_stop():
            raise ReconCancelled("the reconstruction was cancelled")
        algorithm.step()
        if progress is not None:
            progress(done + 1, iterations)
    return algorithm.result(), time.perf_counter() - start
