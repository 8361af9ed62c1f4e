"""The statistics behind the verdicts: paired differences with Student-t intervals over test sequences, the
validation-PSNR plateau slope, and the budget rule that continues a run while it still rises."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import stats

from benchmarks.report.protocol import PLATEAU_FRACTION, PLATEAU_SLOPE


def next_budget(result: dict | None, folder: Path, step: int, max_iterations: int, floor: int = 0) -> int | None:
    """The budget a run is to be trained to next: ``step`` when unscored, one step more while it is
    below ``floor`` or its validation PSNR still rises (``PLATEAU_SLOPE``), None when it has plateaued
    or reached the cap."""
    if result is None:
        return step
    done = result["iterations"]
    if done + step > max_iterations:
        return None
    return done + step if done < floor or rising_at(folder, done) else None


def rising_at(folder: Path, iterations: int) -> bool:
    """Whether a run's validation PSNR still rose at ``iterations`` by the plateau rule (``PLATEAU_SLOPE``
    over the last ``PLATEAU_FRACTION``)."""
    slope = plateau_slope(folder, iterations, PLATEAU_FRACTION)
    return slope is not None and slope > PLATEAU_SLOPE


def metrics_rows(folder: Path) -> list[dict]:
    """The rows of a run's metrics.csv as dicts of strings (empty when there is none)."""
    path = folder / "metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def column(rows, key):
    points = [(int(r["iteration"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
    points = [p for p in points if math.isfinite(p[1])]
    return [p[0] for p in points], [p[1] for p in points]


class Paired(NamedTuple):
    """Per-sequence differences ``second - first``: mean, 95 % interval (Student t), wins of ``second``."""

    mean: float
    low: float
    high: float
    wins: int
    count: int


def paired_difference(results: dict, first: str, second: str, key: str = "psnr") -> Paired | None:
    """``key`` of run ``second`` minus run ``first`` on the same test sequences; None if one is missing."""
    if not (results.get(first) and results.get(second)):
        return None
    return _paired(results[first], results[second], key)


def scores_at(result: dict | None, iterations: int) -> dict | None:
    """A trained run's scores at ``iterations`` (its last budget or an earlier one), else None."""
    if not result:
        return None
    if result.get("iterations") == iterations:
        return result
    return next((e for e in result.get("earlier", []) if e["iterations"] == iterations and "per_sequence" in e),
                None)


def matched_difference(results: dict, first: str, second: str) -> tuple[int, Paired] | None:
    """``(budget, paired difference)`` of two trained runs of different budgets, both scored at the
    smaller one; None when their budgets agree or one was not scored there."""
    one, two = results.get(first), results.get(second)
    if not (one and two and "train_seconds" in one and "train_seconds" in two):
        return None
    if one["iterations"] == two["iterations"]:
        return None
    budget = min(one["iterations"], two["iterations"])
    one, two = scores_at(one, budget), scores_at(two, budget)
    return (budget, _paired(one, two)) if one and two else None


def _paired(first: dict, second: dict, key: str = "psnr") -> Paired:
    reference = {r["sequence"]: r[key] for r in first["per_sequence"]}
    diffs = np.array([r[key] - reference[r["sequence"]] for r in second["per_sequence"]])
    half = stats.t.ppf(0.975, diffs.size - 1) * diffs.std(ddof=1) / math.sqrt(diffs.size)
    mean = float(diffs.mean())
    return Paired(mean, mean - half, mean + half, int((diffs > 0).sum()), int(diffs.size))


def interval(paired: Paired) -> str:
    return f"{paired.mean:+.2f} [{paired.low:+.2f}, {paired.high:+.2f}]"


def validation_points(folder: Path) -> tuple[list[int], list[float]]:
    """Iterations and validation PSNR (dB) of a run's metrics.csv."""
    return column(metrics_rows(folder), "val_psnr")


def plateau_slope(folder: Path, iterations: int, fraction: float = 0.1) -> float | None:
    """Validation PSNR change over the last ``fraction`` of the first ``iterations`` of training, in dB
    per 100 iterations (least squares)."""
    x, y = validation_points(folder)
    last = [(i, v) for i, v in zip(x, y) if (1 - fraction) * iterations <= i <= iterations]
    if len(last) < 2:
        return None
    xs, ys = np.array(last, dtype=float).T
    return float(np.polyfit(xs, ys, 1)[0] * 100)


def iteration_near_best(folder: Path, tolerance: float = 0.5) -> int | None:
    """First validation iteration within ``tolerance`` dB of the run's best validation PSNR."""
    x, y = validation_points(folder)
    if not y:
        return None
    best = max(y)
    return next(i for i, v in zip(x, y) if v >= best - tolerance)


def validation_step(folder: Path) -> int:
    x, _ = validation_points(folder)
    return x[1] - x[0] if len(x) > 1 else x[0]
