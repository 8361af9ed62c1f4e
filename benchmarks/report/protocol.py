"""The protocol of the report's reproduction: its constants, the experiments and tables, the run configurations,
and which runs count as trained and scored (their ``eval.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from napari_dynmri.data.sequences import DEFAULT_SPLIT_SEED

ROOT = Path(__file__).resolve().parents[2]


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


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def finished(folder: Path, iterations: int) -> dict | None:
    """The stored scores of a run trained and scored at ``iterations`` iterations, else None."""
    result = read_json(folder / EVAL_FILE)
    if result is None or result.get("iterations") != iterations:
        return None
    return result


def scored(folder: Path, step: int, max_iterations: int) -> dict | None:
    """The stored scores of a run at one of its budgets (``step``, ``2 step``, ... ``max_iterations``)."""
    result = read_json(folder / EVAL_FILE)
    done = result.get("iterations") if result else None
    if not isinstance(done, int) or done < step or done > max_iterations or done % step:
        return None
    return result
