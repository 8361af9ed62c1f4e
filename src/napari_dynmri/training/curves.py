"""Training curves as PNG files (matplotlib's Agg canvas; pyplot and the global backend are left alone)."""

from __future__ import annotations

import math
import re
from pathlib import Path


def _column(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [
        (int(row["iteration"]), float(row[key]))
        for row in rows
        if row.get(key) not in (None, "") and math.isfinite(float(row[key]))
    ]
    return [p[0] for p in points], [p[1] for p in points]


def _figure(n_axes: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 2.6 * n_axes), dpi=100)
    figure.subplots_adjust(left=0.13, right=0.97, top=0.97, bottom=0.17 / n_axes, hspace=0.25)
    FigureCanvasAgg(figure)
    return figure, [figure.add_subplot(n_axes, 1, i + 1) for i in range(n_axes)]


def plot_loss(rows: list[dict], path) -> Path:
    """Plot every ``loss_*`` column of metrics rows (dicts with ``iteration``) against iteration, log scale.

    Returns the written PNG path.
    """
    figure, (axes,) = _figure(1)
    keys = sorted({k for row in rows for k in row if k.startswith("loss_")}, key=lambda k: (k != "loss_total", k))
    for key in keys:
        x, y = _column(rows, key)
        if x:
            axes.plot(x, y, label=key[len("loss_") :], linewidth=1.2 if key == "loss_total" else 0.8)
    if any(axes.get_lines()):
        if all(v > 0 for line in axes.get_lines() for v in line.get_ydata()):
            axes.set_yscale("log")
        axes.legend(loc="upper right", fontsize="small")
    axes.set_xlabel("iteration")
    axes.set_ylabel("training loss")
    axes.grid(alpha=0.3)
    figure.savefig(path)
    return Path(path)


def plot_validation(rows: list[dict], path) -> Path:
    """Plot validation PSNR (dB) and SSIM (columns ``val_psnr``, ``val_ssim``) against iteration.

    Per-acceleration columns (``val_psnr_R4``, ...) are drawn as thin lines. The zero-filled reference (``val_psnr_zero_filled``, ``val_ssim_zero_filled``), when present, is drawn
    dashed. Returns the written PNG path.
    """
    figure, axes = _figure(2)
    for ax, key, label in zip(axes, ("val_psnr", "val_ssim"), ("PSNR (dB)", "SSIM")):
        x, y = _column(rows, key)
        if x:
            ax.plot(x, y, marker="o", markersize=3, label="model (mean)")
        per_acceleration = sorted({k for row in rows for k in row if re.fullmatch(rf"{key}_R[\d.]+", k)})
        for column in per_acceleration:
            xr, yr = _column(rows, column)
            ax.plot(xr, yr, linewidth=0.8, alpha=0.8, label=column[len(key) + 1 :])
        xz, yz = _column(rows, f"{key}_zero_filled")
        if xz:
            ax.axhline(yz[-1], linestyle="--", color="grey", label="zero-filled")
        if x or xz:
            ax.legend(loc="lower right", fontsize="small")
        ax.set_ylabel(f"validation {label}")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("iteration")
    figure.savefig(path)
    return Path(path)
