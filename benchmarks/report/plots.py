"""The curve images of the results page: training MSE and validation PSNR per table, and the forest plot of
every claim's paired difference."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.report.protocol import SMOOTH_POINTS, Claim
from benchmarks.report.stats import column, metrics_rows, paired_difference


def _smooth(values: list[float], width: int) -> list[float]:
    """Trailing moving average over ``width`` points (fewer at the start)."""
    sums = np.cumsum([0.0, *values])
    return [(sums[i + 1] - sums[max(0, i + 1 - width)]) / (i + 1 - max(0, i + 1 - width)) for i in range(len(values))]


def plot_table(index: int, title: str, entries, out: Path, path: Path) -> bool:
    """Training MSE and validation PSNR of a table's runs, side by side; False when nothing to draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = [(label, name) for label, name in entries if (out / name / "metrics.csv").is_file()]
    if not runs:
        return False
    figure = Figure(figsize=(9.0, 3.2), dpi=90)
    FigureCanvasAgg(figure)
    loss_axes, val_axes = figure.subplots(1, 2)
    zero_filled = None
    for label, name in runs:
        rows = metrics_rows(out / name)
        x, y = column(rows, "loss_mse")
        if x:
            loss_axes.plot(x, _smooth(y, SMOOTH_POINTS), linewidth=1.1, label=label)
        xv, yv = column(rows, "val_psnr")
        if xv:
            val_axes.plot(xv, yv, marker="o", markersize=3, linewidth=1.1, label=label)
        _, zf = column(rows, "val_psnr_zero_filled")
        zero_filled = zf[-1] if zf else zero_filled
    if zero_filled is not None:
        val_axes.axhline(zero_filled, linestyle="--", color="grey", linewidth=0.9, label="zero-filled")
    loss_axes.set_yscale("log")
    loss_axes.set_xlabel("iteration")
    loss_axes.set_ylabel(f"training MSE (moving mean, {SMOOTH_POINTS} rows)")
    val_axes.set_xlabel("iteration")
    val_axes.set_ylabel("validation PSNR (dB), sax-05")
    for axes in (loss_axes, val_axes):
        axes.grid(alpha=0.3)
        axes.legend(fontsize="x-small")
    figure.suptitle(title, fontsize="medium")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return True


def plot_claims(claims: list[Claim], results: dict, path: Path) -> bool:
    """Every measured claim's paired PSNR difference with its 95 % interval, signed so that the report's
    direction points right (a forest plot); False when no claim can be measured yet."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [(c, paired_difference(results, c.first, c.second)) for c in claims]
    rows = [(c, d) for c, d in rows if d is not None]
    if not rows:
        return False
    figure = Figure(figsize=(9.0, 1.0 + 0.32 * len(rows)), dpi=90)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for y, (claim, d) in enumerate(reversed(rows)):
        sign = claim.sign or 1
        low, high = sorted((sign * d.low, sign * d.high))
        color = "tab:green" if low > 0 else "tab:red" if high < 0 else "tab:grey"
        if claim.sign is None:
            color = "tab:blue"
        axes.errorbar(sign * d.mean, y, xerr=[[sign * d.mean - low], [high - sign * d.mean]], fmt="o",
                      color=color, capsize=3, markersize=4)
        if claim.size is not None:
            axes.plot(claim.size, y, marker="|", color="black", markersize=10)
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_yticks(range(len(rows)), [c.label for c, _ in reversed(rows)], fontsize="x-small")
    axes.set_xlabel("paired Δ PSNR (dB), 95 % interval over the test sequences; > 0: the report's direction\n"
                    "green: reproduced, red: contradicted, grey: not resolved, blue: not in the report; "
                    "|: its size", fontsize="x-small")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return True
