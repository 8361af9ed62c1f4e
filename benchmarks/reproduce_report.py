"""Reproduce the founding report's six experiment tables on the pig short-axis cines, scaled to a small CPU.

One command trains every distinct configuration once (with one iteration budget for all of them),
scores each on the full-size test sequences of the trainer's 5:1:2 split, and writes
``docs/results.md`` with the six tables and one curve image per table (``docs/images/results_*.png``)::

    python benchmarks/reproduce_report.py --data ../shared/data/pig_cine/pig_cine_cc0.npz --jobs 2

Protocol (the same for every row): 20 pig short-axis slices split 5:1:2 by sequence (split seed 0:
12 train, 3 validation, 5 test); single-coil Cartesian undersampling with a vd-random mask,
R = 8, 8 centre lines, one fixed mask from a constant seed (``mask.fixed = true``); random 256x16
strips of 8 frames (the whole phase-encoding height, so that the training mask is drawn like the
test mask), batch 1, networks with 16 channels, the edge loss switched on at the report's iteration
100; 1000 iterations per run, continued 1000 at a time (to at most 3000) while the validation PSNR
still rises (least-squares slope over the last 30 % of the run above 0.25 dB per 100 iterations); evaluation on the full 20x256x256 test sequences (sequence ``i`` with
mask seed ``i``), PSNR and SSIM on magnitudes (``napari_dynmri.metrics``), mean ± population std over
the 5 test sequences and paired differences with 95 % intervals (Student t over sequences).

Runs are resumable: ``OUT/<run>/eval.json`` marks a trained and scored budget and is reused (or
continued, when the run had not plateaued); an interrupted training continues from its checkpoint. The default ``--out`` is tracked in git (the
finished run folders are small: weights, model card, metrics, scores) so that a later session on
another machine resumes rather than retrains (a run still to be continued also needs its
``checkpoint/``, which is ignored by default: add it with ``git add -f``). ``--only`` trains a subset, ``--tables-only`` rewrites
the results page from what is finished, ``--jobs N`` trains N runs side by side, one CPU thread each.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from scipy import stats

from napari_dynmri.data.sequences import DEFAULT_SPLIT_SEED, load_sequences, split_sequences
from napari_dynmri.evaluation import evaluate_methods, summarize_scores
from napari_dynmri.models import build_model, save_model
from napari_dynmri.recon import get_method
from napari_dynmri.training import train
from napari_dynmri.training.config import config_from_dict

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ITERATIONS = 1000  # the first budget of every run, and the step by which a rising run is continued
MAX_ITERATIONS = 3000
PLATEAU_SLOPE = 0.25  # dB per 100 iterations: a run rising faster than this over its last 30 % is continued
PLATEAU_FRACTION = 0.3  # the end of the run the plateau slope is fitted over (4 validation points at 1000)
ACCELERATION = 8.0
MASK_KIND = "vd-random"
CENTER_LINES = 8
MASK_SEED = 0
CHANNELS = 16
CROP = [256, 16]  # full phase-encoding height: the training mask is drawn like the test mask
WIDE_CROP = [256, 32]  # SqueezeNet's fire9 features need frames of at least 31 x 31 pixels
FRAMES = 8
ADAM_LR = 1e-3
SGD_LR = 0.01
EDGE_ALPHA = 0.2
PERCEPTUAL_ALPHA = 1e-6  # napari_dynmri.losses.PerceptualLoss's default: MSE and feature terms of similar size
EDGE_SWITCH = 100  # the report's iteration at which the edge term switches on
VALIDATIONS = 10  # validation points per budget step (the curves and the plateau slope)
ZERO_FILLED = "zero-filled"
CS_XF = "cs-xf"  # x-f sparsity CS with its automatic weight: the classical reference of Table 6
CLASSICAL = (ZERO_FILLED, CS_XF)  # methods scored without training
UNTRAINED = "complex-untrained"  # the complex CNN's seed-0 initial weights: what every complex run starts from
EVAL_FILE = "eval.json"
DEFAULT_OUT = ROOT / "benchmarks" / "report_runs"
VALIDATION_COLUMNS = 15  # most iterations shown in the page's validation table
SMOOTH_POINTS = 5  # metrics.csv rows averaged in the loss curves (batch-1 losses are noisy)



def _cascade(stages: int) -> tuple[str, dict]:
    return (f"cascade of {stages} complex block(s), each followed by hard data consistency",
            {"model.name": "cascade", "model.block": "complex", "model.n_stages": stages, "model.dc": "hard"})


def experiments() -> dict[str, tuple[str, dict]]:
    """``{run name: (description, configuration overrides as dotted keys)}``, in training order.

    The order finishes whole tables first (the cheap networks, then the longer cascades), so that a
    session that ends early leaves complete tables and the next one resumes the rest.
    """
    return {
        "naive": ("naive CNN (4 conv layers, residual), MSE, Adam", {"model.name": "naive"}),
        "complex": ("complex CNN (down-sampling, 8 convs, up-sampling, residual), MSE, Adam", {}),
        "complex-sgd": (
            f"complex, SGD lr {SGD_LR:g} (no momentum, no weight decay)",
            {"optimizer.name": "sgd", "optimizer.lr": SGD_LR, "optimizer.weight_decay": 0.0},
        ),
        "cascade-1": _cascade(1),
        "complex-edge": (
            f"complex, MSE then (1 - {EDGE_ALPHA}) MSE + {EDGE_ALPHA} Sobel edge from iteration {EDGE_SWITCH}",
            {"loss.edge": {"weight": EDGE_ALPHA, "start_iteration": EDGE_SWITCH}},
        ),
        "naive-wide": (
            f"naive, MSE, on {WIDE_CROP[0]}x{WIDE_CROP[1]} strips (Table 1 without the narrow-strip confound)",
            {"model.name": "naive", "data.crop": WIDE_CROP},
        ),
        "complex-wide": (
            f"complex, MSE, on {WIDE_CROP[0]}x{WIDE_CROP[1]} strips (the perceptual run's baseline)",
            {"data.crop": WIDE_CROP},
        ),
        "complex-perceptual": (
            f"complex, (1 - {PERCEPTUAL_ALPHA:g}) MSE + {PERCEPTUAL_ALPHA:g} SqueezeNet 1.1 feature distance, on "
            f"{WIDE_CROP[0]}x{WIDE_CROP[1]} strips",
            {"loss.perceptual": {"weight": PERCEPTUAL_ALPHA, "backbone": "squeezenet"}, "data.crop": WIDE_CROP},
        ),
        "naive-dropout": ("naive, dropout 0.4", {"model.name": "naive", "model.dropout": 0.4}),
        "complex-dropout": ("complex, dropout 0.4", {"model.dropout": 0.4}),
        "naive-bn": ("naive, BatchNorm", {"model.name": "naive", "model.batchnorm": True}),
        "complex-bn": ("complex, BatchNorm", {"model.batchnorm": True}),
        **{f"cascade-{n}": _cascade(n) for n in (2, 3, 5)},
        "cascade-3-xf": (
            "cascade of 3 complex blocks with hard data consistency, starting from the x-f sparsity CS "
            "image (cs-xf, 100 FISTA iterations) instead of the zero-filled one",
            {"model.name": "cascade", "model.block": "complex", "model.n_stages": 3, "model.dc": "hard",
             "model.init": "cs-xf"},
        ),
    }


class Claim(NamedTuple):
    """A comparison of two runs: ``second`` minus ``first`` on the same test sequences and masks.

    ``sign`` is the report's direction (+1: ``second`` is better; None: the report's finding is not
    recorded in this project, so the comparison is only measured); ``size`` the report's gain in dB
    where it is known.
    """

    label: str
    first: str
    second: str
    sign: int | None
    size: float | None = None


class Table(NamedTuple):
    title: str
    description: str
    rows: list[tuple[str, str]]  # (row label, run name)
    claims: list[Claim]  # a row that is a claim's second run shows its paired difference
    speed_claims: tuple[Claim, ...] = ()  # claims about the speed of convergence (validation curves)


TABLES = [
    Table("Table 1: network architecture",
          "The zero-filled input (inverse FFT of the undersampled k-space), the naive CNN (4 full-resolution "
          "3x3x3 convolutions 2 -> 16 -> 16 -> 16 -> 2 channels and a residual connection) and the complex CNN "
          "(a strided convolution halving H and W, 8 convolutions at half resolution, a transposed convolution "
          "back, a skip concatenation with the input, a fusing convolution and the residual), both trained with "
          "MSE and Adam. For reference, the complex CNN's initial weights (seed 0, as every complex run "
          f"starts) are scored untrained. Both networks are also trained on {WIDE_CROP[0]}x{WIDE_CROP[1]} "
          "strips, on which the complex CNN's half-resolution body is less dominated by the strip borders.",
          [("zero-filled", ZERO_FILLED), ("complex, initial weights (0 iterations)", UNTRAINED), ("naive", "naive"),
           ("complex", "complex"), (f"naive, {WIDE_CROP[1]}-column strips", "naive-wide"),
           (f"complex, {WIDE_CROP[1]}-column strips", "complex-wide")],
          [Claim("complex beats naive (report: about +2.5 dB)", "naive", "complex", +1, 2.5),
           Claim("complex beats zero filling", ZERO_FILLED, "complex", +1),
           Claim(f"complex beats naive, both on {WIDE_CROP[1]}-column strips", "naive-wide", "complex-wide", +1, 2.5)]),
    Table("Table 2: loss function",
          f"The complex CNN trained with MSE, with MSE + the Sobel edge loss (switched on at iteration "
          f"{EDGE_SWITCH}, as in the report), and with MSE + the perceptual loss (ImageNet SqueezeNet 1.1 "
          "features of the magnitude frames, weights bundled with the package). SqueezeNet's deepest layer "
          f"needs frames of at least 31 x 31 pixels, so the perceptual run trains on {WIDE_CROP[0]}x"
          f"{WIDE_CROP[1]} strips and is compared with an MSE run on the same strips.",
          [("zero-filled", ZERO_FILLED), ("complex, MSE", "complex"), ("complex, MSE + edge", "complex-edge"),
           (f"complex, MSE, {WIDE_CROP[1]}-column strips", "complex-wide"),
           (f"complex, MSE + perceptual, {WIDE_CROP[1]}-column strips", "complex-perceptual")],
          [Claim("the edge loss helps", "complex", "complex-edge", +1),
           Claim("the perceptual loss helps (both on the wider strips)", "complex-wide", "complex-perceptual", +1)]),
    Table("Table 3: dropout 0.4",
          "The naive and the complex CNN with channel dropout (Dropout3d) of rate 0.4 after every hidden "
          "convolution, next to the same networks without dropout (dropout is off at evaluation).",
          [("zero-filled", ZERO_FILLED), ("naive", "naive"), ("naive, dropout 0.4", "naive-dropout"),
           ("complex", "complex"), ("complex, dropout 0.4", "complex-dropout")],
          [Claim("dropout 0.4 vs none, naive", "naive", "naive-dropout", None),
           Claim("dropout 0.4 vs none, complex", "complex", "complex-dropout", None)]),
    Table("Table 4: optimizer",
          f"The complex CNN trained with plain SGD (constant lr {SGD_LR:g}, no momentum, no weight decay) and "
          f"with Adam (lr {ADAM_LR:g}, weight decay 1e-8).",
          [("zero-filled", ZERO_FILLED), ("complex, initial weights (0 iterations)", UNTRAINED),
           ("complex, SGD", "complex-sgd"), ("complex, Adam", "complex")],
          [Claim("Adam beats SGD", "complex-sgd", "complex", +1)]),
    Table("Table 5: BatchNorm",
          "The naive and the complex CNN with BatchNorm3d after every hidden convolution (before the ReLU), "
          "next to the same networks without it (running statistics at evaluation; batch 1 during training). "
          "The report's claim is about the speed of convergence: the validation curves and the iteration "
          "column below speak to it; the test PSNR is that of the last weights.",
          [("zero-filled", ZERO_FILLED), ("naive", "naive"), ("naive, BatchNorm", "naive-bn"),
           ("complex", "complex"), ("complex, BatchNorm", "complex-bn")],
          [Claim("BatchNorm vs none, naive (test PSNR of the last weights)", "naive", "naive-bn", None),
           Claim("BatchNorm vs none, complex (test PSNR of the last weights)", "complex", "complex-bn", None)],
          (Claim("BatchNorm speeds convergence, naive", "naive", "naive-bn", +1),
           Claim("BatchNorm speeds convergence, complex", "complex", "complex-bn", +1))),
    Table("Table 6: cascade with data consistency",
          "Deep cascades (Schlemper et al.) of 1, 2, 3 and 5 stages, each stage a complex block (own weights) "
          "followed by hard data consistency (the sampled k-space rows are put back), next to the complex CNN "
          "without data consistency, and a 3-stage cascade whose first image is the x-f sparsity "
          "compressed-sensing reconstruction (`init = \"cs-xf\"`) instead of the zero-filled one.",
          [("zero-filled", ZERO_FILLED), ("complex (no DC)", "complex"), ("cascade, 1 stage", "cascade-1"),
           ("cascade, 2 stages", "cascade-2"), ("cascade, 3 stages", "cascade-3"), ("cascade, 5 stages", "cascade-5"),
           ("cascade, 3 stages, cs-xf start", "cascade-3-xf"), ("cs-xf alone (automatic weight)", CS_XF)],
          [Claim("data consistency helps (1-stage cascade vs complex)", "complex", "cascade-1", +1),
           Claim("2 stages beat 1", "cascade-1", "cascade-2", +1),
           Claim("3 stages beat 2", "cascade-2", "cascade-3", +1),
           Claim("5 stages beat 3", "cascade-3", "cascade-5", +1),
           Claim("a cs-xf start beats a zero-filled start (3 stages)", "cascade-3", "cascade-3-xf", None),
           Claim("the cascade from cs-xf beats cs-xf alone", CS_XF, "cascade-3-xf", None)]),
]


def base_config(data: str, iterations: int, step: int) -> dict:
    """The configuration shared by every run (overridden per experiment).

    ``step`` is the first budget: validation, checkpoints and logs keep its spacing when a run is
    continued to ``iterations`` beyond it, so that the curves of every run have the same points.
    """
    return {
        "iterations": iterations,
        "batch_size": 1,
        "seed": 0,
        "device": "cpu",
        "val_every": max(1, step // VALIDATIONS),
        "checkpoint_every": max(1, step // VALIDATIONS),
        "log_every": max(1, step // 30),
        "keep": "last",
        "num_threads": 1,
        "evaluate_test": False,  # scored here, per sequence, to report mean ± std
        "model": {"name": "complex", "channels": CHANNELS},
        "loss": {"mse": 1.0},
        "data": {
            "train": f"{data}:sax",
            "split_seed": DEFAULT_SPLIT_SEED,
            "crop": CROP,
            "frames": FRAMES,
            "flips": True,
            "time_reversal": True,
            "intensity": [1.0, 1.0],
            "random_phase": False,
            "max_val_sequences": 1,
        },
        "mask": {"kind": MASK_KIND, "accelerations": [ACCELERATION], "center_lines": CENTER_LINES,
                 "fixed": True, "seed": MASK_SEED},
        "optimizer": {"name": "adam", "lr": ADAM_LR, "weight_decay": 1e-8},
        "schedule": {"name": "none"},
    }


def run_config(data: str, iterations: int, step: int, out: Path, name: str, overrides: dict) -> dict:
    """Nested configuration of run ``name``: the base with the dotted ``overrides`` applied."""
    values = base_config(data, iterations, step)
    for key, value in overrides.items():
        table, field = key.split(".")
        values[table][field] = value  # "data.crop" included: a run may train on other strips
    values["output"] = str(out / name)
    return values


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def train_run(config: dict, log) -> None:
    """Train ``config`` into its output folder, continuing an interrupted run from its checkpoint."""
    folder = Path(config["output"])
    state = _read_json(folder / "checkpoint" / "trainer.json")
    if state is not None:
        done = state["iteration"]
        if done > config["iterations"]:
            raise ValueError(f"{folder} holds a run of {done} iterations, more than its budget of "
                             f"{config['iterations']}; use another --out")
        log(f"resuming {folder.name} from iteration {done}")
        train(config_from_dict(config), resume=folder)
    else:
        train(config_from_dict(config), overwrite=folder.exists())


def score(spec: str, sequences, log) -> dict:
    """Per-sequence and summary scores of one method on the test sequences."""
    method = get_method(spec, device="cpu")
    start = time.perf_counter()
    rows = evaluate_methods([method], sequences, MASK_KIND, ACCELERATION, CENTER_LINES, MASK_SEED,
                            log=log)[method.name]
    summary = summarize_scores({method.name: rows})[method.name]
    return {
        "psnr": summary["psnr"], "ssim": summary["ssim"], "nmse": summary["nmse"],
        "per_sequence": [{k: row[k] for k in ("sequence", "psnr", "ssim", "nmse", "seconds")} for row in rows],
        "eval_seconds": time.perf_counter() - start,
    }


def score_untrained(folder: Path, sequences, log) -> dict:
    """Save and score the complex CNN as every run builds it before its first step (seed 0)."""
    torch.manual_seed(0)  # as the trainer does before building the model (config seed 0)
    model = build_model("complex", {"channels": CHANNELS})
    save_model(model, folder, {"description": "complex CNN, initial weights of seed 0, not trained"})
    result = score(str(folder), sequences, log)
    result.update(name=UNTRAINED, iterations=0)
    (folder / EVAL_FILE).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def finished(folder: Path, iterations: int) -> dict | None:
    """The stored scores of a run trained and scored at ``iterations`` iterations, else None."""
    result = _read_json(folder / EVAL_FILE)
    if result is None or result.get("iterations") != iterations:
        return None
    return result


def scored(folder: Path, step: int, max_iterations: int) -> dict | None:
    """The stored scores of a run at one of its budgets (``step``, ``2 step``, ... ``max_iterations``)."""
    result = _read_json(folder / EVAL_FILE)
    done = result.get("iterations") if result else None
    if not isinstance(done, int) or done < step or done > max_iterations or done % step:
        return None
    return result


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


# ----------------------------------------------------------------------------- results page


def _metrics_rows(folder: Path) -> list[dict]:
    """The rows of a run's metrics.csv as dicts of strings (empty when there is none)."""
    path = folder / "metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _column(rows, key):
    points = [(int(r["iteration"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
    points = [p for p in points if math.isfinite(p[1])]
    return [p[0] for p in points], [p[1] for p in points]


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
        rows = _metrics_rows(out / name)
        x, y = _column(rows, "loss_mse")
        if x:
            loss_axes.plot(x, _smooth(y, SMOOTH_POINTS), linewidth=1.1, label=label)
        xv, yv = _column(rows, "val_psnr")
        if xv:
            val_axes.plot(xv, yv, marker="o", markersize=3, linewidth=1.1, label=label)
        _, zf = _column(rows, "val_psnr_zero_filled")
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


def _interval(paired: Paired) -> str:
    return f"{paired.mean:+.2f} [{paired.low:+.2f}, {paired.high:+.2f}]"


def verdict(claim: Claim, results: dict, out: Path) -> str:
    """One sentence: whether the report's claim is reproduced, contradicted or not resolved here
    (and which of its runs was still rising when it stopped)."""
    paired = paired_difference(results, claim.first, claim.second)
    sentence = _measured_verdict(claim, paired)
    if paired is None:
        return sentence
    matched = matched_difference(results, claim.first, claim.second)
    if matched:
        budget, paired = matched
        sentence += (f" Their budgets differ ({results[claim.first]['iterations']} and "
                     f"{results[claim.second]['iterations']} iterations); at {budget} iterations each: "
                     f"{_interval(paired)} dB.")
    rising = [f"{name} at {results[name]['iterations']} iterations" for name in (claim.first, claim.second)
              if still_rising(results, name, out)]
    if rising:
        sentence += f" Still rising when scored: {', '.join(rising)}; the difference may change with training."
    return sentence


def _measured_verdict(claim: Claim, paired: Paired | None) -> str:
    if paired is None:
        return f"- {claim.label}: **missing** (a run has not finished)."
    measured = f"{_interval(paired)} dB (95 % interval; better on {paired.wins} of {paired.count} sequences)"
    if claim.sign is None:
        if paired.low > 0 or paired.high < 0:
            found = "better" if paired.low > 0 else "worse"
            return f"- {claim.label}: {measured}: **{found}**, resolved at this size (the report's finding is not recorded here)."
        return f"- {claim.label}: {measured}: **no difference resolved** at this size (the report's finding is not recorded here)."
    low, high = sorted((claim.sign * paired.low, claim.sign * paired.high))  # > 0: the report's side
    if low > 0:
        word = "**reproduced**"
        if claim.size is not None:
            inside = paired.low <= claim.size <= paired.high
            word += (f" in direction; the report's {claim.size:+.1f} dB is {'inside' if inside else 'outside'} "
                     "the interval")
    elif high < 0:
        word = "**contradicted**"
    else:
        word = "**not resolved** at this size (the interval includes 0)"
    return f"- {claim.label}: {measured}: {word}."


def validation_points(folder: Path) -> tuple[list[int], list[float]]:
    """Iterations and validation PSNR (dB) of a run's metrics.csv."""
    return _column(_metrics_rows(folder), "val_psnr")


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


def speed_verdict(claim: Claim, results: dict, out: Path) -> str:
    """One sentence comparing how early two finished runs come within 0.5 dB of their best validation PSNR."""
    first, second = iteration_near_best(out / claim.first), iteration_near_best(out / claim.second)
    if not (results.get(claim.first) and results.get(claim.second)) or first is None or second is None:
        return f"- {claim.label}: **missing** (a run has not finished)."
    word = ("**reproduced**" if second < first else "**contradicted**" if second > first
            else "**not resolved** (the same validation point)")
    return (f"- {claim.label}: within 0.5 dB of its best validation PSNR at iteration {second}, against "
            f"{first} without: {word} (one validation sequence, validated every "
            f"{_validation_step(out / claim.first)} iterations; no interval).")


def _validation_step(folder: Path) -> int:
    x, _ = validation_points(folder)
    return x[1] - x[0] if len(x) > 1 else x[0]


def _cell(result: dict | None) -> tuple[str, str]:
    if result is None:
        return "not run", "not run"
    (p, ps), (s, ss) = result["psnr"], result["ssim"]
    return f"{p:.2f} ± {ps:.2f}", f"{s:.4f} ± {ss:.4f}"


HEADER = """# Reproducing the founding report's experiments (pig cine, CPU-scaled)

This page is written by `benchmarks/reproduce_report.py`; do not edit it by hand, rerun the script:

```bash
{command}
# as it was run here, in the background at low priority beside other work:
nohup nice -n 10 {command} > runs/report.log 2>&1 &
```

The script trains every configuration below with `napari_dynmri.training.train` into `{out}/<run>/`
(`weights.safetensors`, `model.json`, `metrics.csv`), scores it on the test sequences
(`{out}/<run>/eval.json`, per sequence) and rewrites this page after every run. It is resumable: a
run with an `eval.json` of the same budget is reused, an interrupted training continues from its
checkpoint; `--tables-only` rewrites the page from what is finished. The finished run folders are
small and tracked in git, so a later session (on another machine) resumes rather than retrains.

## What was run

The founding report compared, on its own data set, network architectures (Table 1), loss functions
(Table 2), dropout (Table 3), optimizers (Table 4), BatchNorm (Table 5) and deep cascades with data
consistency (Table 6). Every experiment is rerun here on the pig short-axis cines
(`{data}:sax`), scaled down to a 2-core CPU: small crops, 16-channel networks, single-sample
iterations. **Every run trains {iterations} iterations, and is continued {iterations} at a time (to at
most {max_iterations}) while its validation PSNR still rises**: while the least-squares slope of the
validation PSNR over the last 30 % of the run ("slope, last 30 %", in dB per 100 iterations; four
validation points at {iterations} iterations, seven at {twice}) is above {plateau:g}. The column "slope, last
10 %" is the same over the last two points only, more sensitive to the noise of one validation sequence
and of batch-1 steps. A run that stops at the cap still rising is flagged in its table and in the
verdicts that use it. Where the two runs of a comparison have different budgets, the verdict also gives
their difference at the smaller one; a run may be trained past its plateau on request
(`--only RUN --min-iterations N`) to compare it at a matched budget.

| setting | value |
| --- | --- |
| data | 20 pig short-axis slices (20 frames, 256x256), each scaled to max 1 |
| split | 5:1:2 by sequence, split seed 0 (the trainer's): train {train}; validation {val} (only the first, sax-05, is used, for the curves); test {test} |
| undersampling | single coil, vd-random Cartesian mask (whole phase-encoding rows, a new pattern per frame), **R = {R:g}**, {center} centre lines, one fixed mask per shape from seed {mask_seed} (`mask.fixed = true`, the report's fixed-mask protocol). The report's own R is not recorded in this project; R = 8 leaves the zero-filled images far enough from the ceiling for the networks to show differences |
| training samples | random {crop[0]}x{crop[1]} strips (the whole phase-encoding height: on a cropped height the same R and centre lines make another mask; at 48 rows R = 8 keeps only the 8 centre lines) of {frames} consecutive frames (wrapping around the cycle), random flips and time reversal, no intensity or phase augmentation; batch 1; the fixed mask is that of the cropped shape |
| networks | {channels} channels, ReLU, 3x3x3 kernels over (t, y, x); naive, complex and cascade as described with each table |
| budget | **{iterations} iterations, continued by {iterations} while the last-30 % slope is above {plateau:g} dB / 100 it., at most {max_iterations}** (column "iterations"); runs trained {jobs} side by side, one thread each |
| optimizer | Adam, lr {adam_lr:g}, weight decay 1e-8, constant lr (Table 4's SGD: lr {sgd_lr:g}, no momentum); seed 0 for every run |
| losses | MSE on the complex image. Edge: (1 - {edge_alpha}) MSE + {edge_alpha} MSE of Sobel gradient magnitudes, switched on at iteration **{switch}**, as in the report. Perceptual: (1 - {perc:g}) MSE + {perc:g} SqueezeNet 1.1 feature distance (fire3/5/9), the package default that gives the two terms similar sizes |
| weights scored | the last iteration's (`keep = "last"`); validation on sax-05 every {val_every} iterations draws the curves, the slopes and the "near best" column |
| evaluation | the 5 full-size test sequences (20 frames, 256x256, whole cines through the network), sequence i of the test list with mask seed i; PSNR (data range = target max) and SSIM (per frame, averaged) on magnitudes, `napari_dynmri.metrics`; **mean ± std (population) over the 5 test sequences**; paired differences against each table's baseline row on the same sequences and masks, with a 95 % interval (Student t, 4 degrees of freedom) |
| machine | {machine} |

Every distinct configuration is trained once and reused where tables share it: the complex / MSE / Adam
model is the "complex" row of Tables 1 to 6, the naive / MSE / Adam model the "naive" row of Tables 1,
3 and 5, and the zero-filled row is the same in all tables.

**Caveats.** Five test sequences of one animal make wide intervals: a difference whose interval
includes 0 is not evidence either way, whatever its mean. Batch-1 training losses are noisy (the
curves are moving means), and the validation curve is one sequence. The networks are tiny next to
the report's; what is resolved here is the direction of each effect at this size, not its size at
the report's.
The training strips are {crop[1]} columns wide so that they keep the whole phase-encoding height
(the mask's axis) on this CPU: the complex CNN works at half resolution, so its body sees {half}
columns, most of them within one kernel of a zero-padded border, while the naive CNN works at full
resolution. This may handicap the complex CNN (and the complex blocks of the cascades) at this size,
and is a confound of Tables 1 and 6; Table 1 therefore also compares the two networks on
{wide[0]}x{wide[1]} strips.

## Results

Page written {date}: {n_done} of {n_total} trainings scored, {n_rising} of them still rising
(at the cap, or to be continued by rerunning the command); {train_minutes:.0f} min of training steps
(validation excluded, summed over the runs, which trained side by side and across sessions) and
{eval_minutes:.1f} min of test scoring.
"""

TABLE_HEADER = ("| method | PSNR (dB) | SSIM | paired Δ PSNR (dB) [95 % interval] | iterations "
                "| slope, last 10 % (dB / 100 it.) | slope, last 30 % | within 0.5 dB of its best at it. "
                "| training s / it. |\n"
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def still_rising(results: dict, name: str, out: Path) -> bool:
    """Whether trained run ``name`` stopped (at the cap, or before being continued) above the plateau slope."""
    result = results.get(name)
    return bool(result) and "train_seconds" in result and rising_at(out / name, result["iterations"])


def table_markdown(table: Table, results: dict, out: Path) -> str:
    """A table's Markdown: one row per (label, run name), "not run" where the run is missing."""
    labels = dict((name, label) for label, name in table.rows)
    baselines = {}
    for claim in table.claims:
        baselines.setdefault(claim.second, claim.first)
    lines = [TABLE_HEADER]
    for label, name in table.rows:
        result = results.get(name)
        psnr, ssim = _cell(result)
        first = baselines.get(name)
        paired = paired_difference(results, first, name) if first else None
        trained = bool(result) and "train_seconds" in result
        slopes = [plateau_slope(out / name, result["iterations"], f) if trained else None
                  for f in (0.1, PLATEAU_FRACTION)]
        near = iteration_near_best(out / name) if trained else None
        rising = " (still rising)" if still_rising(results, name, out) else ""
        cells = [
            f"{_interval(paired)} vs {labels[first]}" if paired else "",
            f"{result['iterations']}{rising}" if trained else "",
            *(f"{slope:+.2f}" if slope is not None else "" for slope in slopes),
            str(near) if near is not None else "",
            f"{result['train_seconds'] / result['iterations']:.2f}" if trained else "",
        ]
        lines.append(f"| {label} | {psnr} | {ssim} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


REPORT_SECTION = """## Compared with the founding report

The report's numbers come from another data set and much larger networks; of them this project
records only Table 1's complex model: PSNR 20.75 dB (zero-filled) -> 31.12 dB, SSIM 0.695 -> 0.934,
a gain of +10.37 dB / +0.239. Here the same comparison gives {zf_psnr} -> {cx_psnr} dB and SSIM
{zf_ssim} -> {cx_ssim} after {iterations} iterations.

Each claim below is the paired PSNR difference on the 5 test sequences (same sequence, same mask)
with its 95 % interval: **reproduced** when the interval lies on the report's side of 0,
**contradicted** when it lies on the other side, **not resolved** when it includes 0. Where the
report's finding is not recorded in this project, the difference is only measured.

{claims}
"""


def budget_markdown(names, results: dict, out: Path) -> str:
    """Test PSNR of every run trained past its first budget, at each budget it was scored at, with the
    plateau slope (last 30 %) the rule read there; empty when no run was continued."""
    runs = {name: [*results[name].get("earlier", []), results[name]] for name in names
            if results.get(name) and results[name].get("earlier")}
    if not runs:
        return ""
    budgets = sorted({entry["iterations"] for entries in runs.values() for entry in entries})
    lines = ["| run | " + " | ".join(f"{b} iterations" for b in budgets) + " | change from the first budget (dB) |",
             "| --- |" + " --- |" * (len(budgets) + 1)]
    for name, entries in runs.items():
        by_budget = {entry["iterations"]: entry for entry in entries}
        cells = []
        for budget in budgets:
            entry = by_budget.get(budget)
            slope = plateau_slope(out / name, budget, PLATEAU_FRACTION) if entry else None
            cells.append("" if entry is None else f"{entry['psnr'][0]:.2f}"
                         + (f" (slope {slope:+.2f}: {'rising' if rising_at(out / name, budget) else 'flat'})"
                            if slope is not None else ""))
        change = entries[-1]["psnr"][0] - entries[0]["psnr"][0]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {change:+.2f} |")
    return "\n".join(lines)


def validation_markdown(names, out: Path, columns: int = VALIDATION_COLUMNS) -> str:
    """Validation PSNR (sax-05) of every run as a Markdown table: at most ``columns`` iterations, evenly
    spaced (the curves in the images show every point)."""
    runs = {name: [r for r in _metrics_rows(out / name) if r.get("val_psnr")] for name in names}
    runs = {name: rows for name, rows in runs.items() if rows}
    if not runs:
        return ""
    iterations = sorted({int(r["iteration"]) for rows in runs.values() for r in rows})
    iterations = iterations[math.ceil(len(iterations) / columns) - 1::math.ceil(len(iterations) / columns)]
    reference = next(rows[-1] for rows in runs.values())
    lines = [
        "| run | " + " | ".join(str(i) for i in iterations) + " |",
        "| --- |" + " --- |" * len(iterations),
        f"| zero-filled | {float(reference['val_psnr_zero_filled']):.2f} |" + " |" * (len(iterations) - 1),
    ]
    for name, rows in runs.items():
        by_iteration = {int(r["iteration"]): r for r in rows}
        cells = [f"{float(by_iteration[i]['val_psnr']):.2f}" if i in by_iteration else "" for i in iterations]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(args, results: dict, exps: dict, split: dict, images: Path, results_path: Path) -> None:
    out = Path(args.out)
    trained = {k: v for k, v in results.items() if k not in (*CLASSICAL, UNTRAINED) and v}
    iterations = args.iterations
    command = (f".venv/bin/python benchmarks/reproduce_report.py --data {args.data} --jobs {args.jobs}"
               + (f" --out {args.out}" if Path(args.out).resolve() != DEFAULT_OUT else "")
               + (f" --iterations {iterations}" if iterations != DEFAULT_ITERATIONS else "")
               + (f" --max-iterations {args.max_iterations}" if args.max_iterations != MAX_ITERATIONS else ""))
    text = HEADER.format(
        command=command, out=Path(args.out).resolve().relative_to(ROOT) if Path(args.out).resolve().is_relative_to(ROOT) else args.out,
        data=args.data, train=", ".join(split["train"]), val=", ".join(split["val"]),
        test=", ".join(split["test"]), R=ACCELERATION, center=CENTER_LINES, half=CROP[1] // 2, wide=WIDE_CROP, mask_seed=MASK_SEED, crop=CROP,
        frames=FRAMES, channels=CHANNELS, iterations=iterations, max_iterations=args.max_iterations,
        twice=2 * iterations, plateau=PLATEAU_SLOPE, jobs=args.jobs, adam_lr=ADAM_LR, sgd_lr=SGD_LR,
        edge_alpha=EDGE_ALPHA, switch=EDGE_SWITCH, perc=PERCEPTUAL_ALPHA, val_every=max(1, iterations // VALIDATIONS),
        machine=args.machine, date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        n_done=len(trained), n_total=len(exps), n_rising=sum(still_rising(results, name, out) for name in trained),
        train_minutes=sum(v.get("train_seconds", 0) for v in trained.values()) / 60,
        eval_minutes=sum(v.get("eval_seconds", 0) for v in results.values() if v) / 60,
    )
    parts = [text]
    for index, table in enumerate(TABLES, start=1):
        parts.append(f"### {table.title}\n\n{table.description}\n")
        parts.append(table_markdown(table, results, out) + "\n")
        missing = [label for label, name in table.rows if not results.get(name)]
        if missing:
            parts.append(f"Missing rows: {', '.join(missing)} (the run had not finished when this page was "
                         "written; rerun the command to complete it).\n")
        sentences = [verdict(c, results, out) for c in table.claims]
        sentences += [speed_verdict(c, results, out) for c in table.speed_claims]
        parts.append("\n".join(sentences) + "\n")
        image = images / f"results_table{index}.png"
        if plot_table(index, table.title, table.rows, out, image):
            parts.append(f"![{table.title}: training MSE and validation PSNR](images/{image.name})\n")
    budgets = budget_markdown(list(exps), results, out)
    if budgets:
        parts.append("### Runs trained past their first budget\n\nTest PSNR (dB, mean over the 5 test sequences) "
                     "of each continued run at every budget it was scored at, with the validation slope (dB / 100 "
                     f"it., last 30 %) the plateau rule read there: above {PLATEAU_SLOPE:g} the rule continues a run "
                     "(\"rising\"); a \"flat\" run continued anyway was trained on request (`--min-iterations`), "
                     "which tests the rule: what it gained after the rule would have stopped it is what the rule, "
                     "reading one validation sequence, misses.\n")
        parts.append(budgets + "\n")
    validation = validation_markdown(list(exps), out)
    if validation:
        parts.append("### Validation during training\n\nPSNR (dB) of each run on the validation sequence "
                     f"sax-05 (full size, R = {ACCELERATION:g}, mask seed 0; the zero-filled value is constant), "
                     f"at up to {VALIDATION_COLUMNS} evenly spaced validation iterations (the curves above draw every one). The tables "
                     "score the weights of the last iteration.\n")
        parts.append(validation + "\n")
    zf, cx = results.get(ZERO_FILLED), results.get("complex")

    def fmt(result, key, spec):
        return spec.format(result[key][0]) if result else "n/a"

    claims = [c for table in TABLES for c in table.claims]
    unique = list({(c.first, c.second): c for c in claims}.values())
    forest = images / "results_claims.png"
    parts.append(REPORT_SECTION.format(
        zf_psnr=fmt(zf, "psnr", "{:.2f}"), cx_psnr=fmt(cx, "psnr", "{:.2f}"), zf_ssim=fmt(zf, "ssim", "{:.3f}"),
        cx_ssim=fmt(cx, "ssim", "{:.3f}"), iterations=cx["iterations"] if cx else "n/a",
        claims="\n".join([*(verdict(c, results, out) for c in unique),
                           *(speed_verdict(c, results, out) for table in TABLES for c in table.speed_claims)]),
    ))
    if plot_claims(unique, results, forest):
        parts.append(f"![Every claim's paired PSNR difference with its 95 % interval](images/{forest.name})\n")
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")



# ----------------------------------------------------------------------------- main


def _machine() -> str:
    """One line describing the CPU, cores and library versions (the page's "machine" row)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count()
    model = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = f"{line.split(':', 1)[1].strip()} ({platform.machine()})"
                break
    except OSError:
        pass
    return (f"{model}, {cpus or '?'} CPU core(s) shared with other jobs, 1 torch thread, no GPU; "
            f"torch {torch.__version__}, Python {platform.python_version()}")


def _log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def test_sequences(data: str) -> list:
    """The test sequences of the split, as ``[(name, cine), ...]``."""
    sequences = load_sequences(f"{data}:sax")
    split = split_sequences([n for n, _ in sequences])
    return [(n, cine) for n, cine in sequences if n in split["test"]]


def run_experiment(data: str, step: int, out: Path, name: str, iterations: int) -> dict:
    """Train run ``name`` to ``iterations`` (resuming it), score it on the test sequences and write its
    ``eval.json``, keeping the scores of the budgets it had reached before."""
    torch.set_num_threads(1)
    description, overrides = experiments()[name]
    folder = out / name

    def log(message: str) -> None:
        _log(f"{name}: {message}")

    before = _read_json(folder / EVAL_FILE)
    earlier = [*before.get("earlier", []), _summary(before)] if before and before.get("iterations") else []
    config = run_config(data, iterations, step, out, name, overrides)
    log(f"training {iterations} iterations ({description})")
    wall = time.perf_counter()
    train_run(config, log)
    card = _read_json(folder / "model.json")
    test = test_sequences(data)
    log(f"scoring on {len(test)} test sequences")
    result = score(str(folder), test, log)
    result.update(
        name=name, description=description, iterations=iterations, config=config, earlier=earlier,
        train_seconds=card["training"]["seconds"],
        wall_seconds=time.perf_counter() - wall,
    )
    (folder / EVAL_FILE).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    log(f"PSNR {result['psnr'][0]:.2f} ± {result['psnr'][1]:.2f} dB, SSIM {result['ssim'][0]:.4f} at "
        f"{iterations} iterations; {result['wall_seconds']:.0f} s")
    return result


def _summary(result: dict) -> dict:
    """What an earlier budget's scores keep once a run is continued past it (the per-sequence scores
    too, for comparisons at matched budgets)."""
    return {k: result[k] for k in ("iterations", "psnr", "ssim", "per_sequence") if k in result}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the pig archive pig_cine_cc0.npz")
    parser.add_argument("--out", default=str(DEFAULT_OUT.relative_to(ROOT)),
                        help=f"folder of the runs (default: {DEFAULT_OUT.relative_to(ROOT)}, tracked in git)")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                        help="first budget of every run, and the step by which a run whose validation PSNR "
                             f"still rises is continued (default: {DEFAULT_ITERATIONS})")
    parser.add_argument("--max-iterations", type=int, default=MAX_ITERATIONS,
                        help=f"most iterations of any run (default: {MAX_ITERATIONS})")
    parser.add_argument("--min-iterations", type=int, default=0,
                        help="train the chosen runs to at least this many iterations, plateau or not (to "
                             "compare runs at a matched budget; default: the plateau rule alone)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained side by side, one thread each (default: 1)")
    parser.add_argument("--results", default=str(ROOT / "docs" / "results.md"), help="results page to write")
    parser.add_argument("--images", default=str(ROOT / "docs" / "images"), help="folder of the curve images")
    parser.add_argument("--only", help="comma-separated run names to train (default: all)")
    parser.add_argument("--tables-only", action="store_true", help="only rewrite the page from finished runs")
    args = parser.parse_args(argv)
    args.machine = _machine()
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    if args.max_iterations < args.iterations:
        parser.error("--max-iterations must be at least --iterations")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    exps = experiments()
    chosen = list(exps) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(chosen) - set(exps))
    if unknown:
        parser.error(f"unknown run(s) {', '.join(unknown)}; known: {', '.join(exps)}")

    split = split_sequences([n for n, _ in load_sequences(f"{args.data}:sax")])
    results: dict[str, dict | None] = {}
    for name in CLASSICAL:
        path = out / name / EVAL_FILE
        results[name] = _read_json(path)
        if results[name] is None and not args.tables_only:
            results[name] = score(name, test_sequences(args.data), _log)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results[name], indent=1) + "\n", encoding="utf-8")
    results[UNTRAINED] = finished(out / UNTRAINED, 0)
    if results[UNTRAINED] is None and not args.tables_only:
        results[UNTRAINED] = score_untrained(out / UNTRAINED, test_sequences(args.data), _log)
    for name in exps:
        results[name] = scored(out / name, args.iterations, args.max_iterations)
    write_results(args, results, exps, split, Path(args.images), Path(args.results))
    if args.tables_only:
        return 0

    budgets = {name: next_budget(results[name], out / name, args.iterations, args.max_iterations,
                                 args.min_iterations) for name in chosen}
    for name, budget in budgets.items():
        if budget is None:
            _log(f"{name}: finished earlier ({results[name]['iterations']} iterations), reused")
    # unscored runs first, then the continuations, the least trained first; a continued run goes back
    # to the end of the queue, so every rising run gets its next step before any gets two
    todo = sorted((n for n, b in budgets.items() if b is not None), key=lambda n: budgets[n])
    # spawn: a fresh interpreter per worker, so no torch thread pool is inherited through fork
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:

        def submit(name: str, budget: int) -> None:
            futures[pool.submit(run_experiment, args.data, args.iterations, out, name, budget)] = name

        futures: dict = {}
        for name in todo:
            submit(name, budgets[name])
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                name = futures.pop(future)
                try:
                    results[name] = future.result()
                except Exception as err:  # one failed run must not stop the others; its row says "not run"
                    _log(f"{name}: FAILED: {type(err).__name__}: {err}")
                    continue
                write_results(args, results, exps, split, Path(args.images), Path(args.results))
                budget = next_budget(results[name], out / name, args.iterations, args.max_iterations,
                                     args.min_iterations)
                if budget is not None:
                    slope = plateau_slope(out / name, results[name]["iterations"], PLATEAU_FRACTION)
                    why = ("below --min-iterations" if results[name]["iterations"] < args.min_iterations
                           else "validation PSNR still rising")
                    _log(f"{name}: {why} at {results[name]['iterations']} iterations ({slope:+.2f} dB / 100 it. "
                         f"over the last {PLATEAU_FRACTION:.0%}): continuing to {budget}")
                    submit(name, budget)
    _log(f"done: {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
