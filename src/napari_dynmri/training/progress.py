"""What a training run reports as it goes: the progress bar and messages on stderr, ``metrics.csv`` and its curves.

``metrics.csv``
    One row per logged iteration: ``iteration``, mean training loss terms since the previous row
    (``loss_total``, ``loss_mse``, ...), on validation rows ``val_psnr`` / ``val_ssim`` (mean over
    validation sequences and accelerations), per-acceleration columns ``val_psnr_R4`` ...,
    the zero-filled reference ``val_psnr_zero_filled`` ..., ``lr`` and ``seconds`` (training time).
``loss.png``, ``val_metrics.png``
    Curves of the same (:mod:`~napari_dynmri.training.curves`).
"""

from __future__ import annotations

import csv
import math
import re
import sys
import time
from pathlib import Path

from napari_dynmri.io.atomic import atomic_output
from napari_dynmri.training.curves import plot_loss, plot_validation

METRICS_FILE = "metrics.csv"
LOSS_PLOT = "loss.png"
VAL_PLOT = "val_metrics.png"


class Progress:
    """A one-line progress bar on stderr (``\\r`` updates): iteration, loss, speed and ETA."""

    def __init__(self, total: int, start: int, enabled: bool, stream=None):
        self.total, self.start = total, start
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.began = time.perf_counter()
        self.shown = 0.0
        self.note = ""

    def update(self, done: int, loss: float) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.shown < 0.2 and done < self.total):
            return
        self.shown = now
        rate = (done - self.start) / max(now - self.began, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        width = 24
        filled = int(width * done / self.total)
        bar = "#" * filled + "." * (width - filled)
        line = (
            f"\r[{bar}] {done}/{self.total} loss {loss:.4g} {self.note} "
            f"{rate:.2f} it/s ETA {_duration(eta)}"
        )
        self.stream.write(line.ljust(100))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def log(message: str, progress: Progress | None = None) -> None:
    """Print ``message`` on stderr, first clearing the progress bar's line if it is shown."""
    if progress is not None and progress.enabled:
        sys.stderr.write("\r" + " " * 100 + "\r")
    print(message, file=sys.stderr, flush=True)


def val_columns(result: dict, reference: dict | None) -> dict:
    """The ``metrics.csv`` columns of a validation result (and its zero-filled ``reference``)."""
    row = {"val_psnr": result["psnr"], "val_ssim": result["ssim"]}
    if len(result["per_acceleration"]) > 1:
        for key, value in result["per_acceleration"].items():
            row[f"val_psnr_{key}"], row[f"val_ssim_{key}"] = value["psnr"], value["ssim"]
    if reference is not None:
        row["val_psnr_zero_filled"], row["val_ssim_zero_filled"] = reference["psnr"], reference["ssim"]
    return row


def write_metrics(rows: list[dict], folder: Path, plots: bool = True) -> None:
    """``metrics.csv`` (columns: union of the rows' keys, in a fixed order) and, with ``plots``, the curve PNGs."""
    def order(key: str):
        groups = ("iteration", "loss_total", "loss_", "val_psnr", "val_ssim", "val_psnr_R", "val_ssim_R",
                  "val_psnr_", "val_ssim_", "lr", "seconds")
        exact = [i for i, g in enumerate(groups) if key == g]
        prefix = [i for i, g in enumerate(groups) if g.endswith(("_", "_R")) and key.startswith(g)]
        group = exact[0] if exact else prefix[0] if prefix else len(groups)
        acceleration = re.fullmatch(r"val_(psnr|ssim)_R([\d.]+)", key)
        return (group, float(acceleration[2]) if acceleration else 0.0, key)

    columns = sorted({k for row in rows for k in row}, key=order)
    with atomic_output(folder / METRICS_FILE, overwrite=True) as partial, \
            open(partial, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    if plots:
        for name, plot in ((LOSS_PLOT, plot_loss), (VAL_PLOT, plot_validation)):
            with atomic_output(folder / name, overwrite=True) as partial:
                plot(rows, partial)
