"""Train a reconstruction network: :func:`train` (what ``dynmri train`` runs).

Output folder
-------------
``weights.safetensors`` + ``model.json``
    The kept weights (``keep = "best"``: best validation PSNR, the default; ``"last"``: final),
    loadable with :func:`napari_dynmri.models.load_model`. The card records the training data and
    split, masks and accelerations, validation (and test) metrics, iterations, seconds, the full
    configuration and which weights were kept (``training.weights``, ``training.weights_iteration``).
``metrics.csv``
    One row per logged iteration: ``iteration``, mean training loss terms since the previous row
    (``loss_total``, ``loss_mse``, ...), on validation rows ``val_psnr`` / ``val_ssim`` (mean over
    validation sequences and accelerations), per-acceleration columns ``val_psnr_R4`` ...,
    the zero-filled reference ``val_psnr_zero_filled`` ..., ``lr`` and ``seconds`` (training time).
``loss.png``, ``val_metrics.png``
    Curves of the same.
``checkpoint/``
    The resumable state, written every ``checkpoint_every`` iterations and at the end, without
    pickle: ``weights.safetensors`` + ``model.json`` (current weights), ``optimizer.safetensors``
    (optimizer state tensors, flattened as ``state.<param>.<name>``, and the torch RNG states) and
    ``trainer.json`` (iteration, non-tensor optimizer state, best metric, metrics rows, seconds,
    configuration, split).

Resume (``train(config, resume=FOLDER)``, ``dynmri train --resume FOLDER``)
---------------------------------------------------------------------------
Restores weights, optimizer state, torch RNG, the metrics history and the best score, and
continues from the saved iteration (to ``iterations``, which may be raised). Training samples are
a pure function of (seed, sample index) and the learning rate a pure function of the iteration,
so a resumed single-process CPU run gives *exactly* the weights of an uninterrupted one. With
several processes, ranks other than 0 re-seed their torch RNG on resume: exact unless the model
uses dropout. A checkpoint is checked before it is used: a damaged or mismatched file (truncated
weights, a ``trainer.json`` with missing keys or wrong types, an optimizer file without its RNG
state, another architecture) raises one ``ValueError`` naming the file.

Interrupts
----------
SIGINT (Ctrl-C) and SIGTERM only set a flag: the current step finishes, a checkpoint of exactly
that step is written, and ``KeyboardInterrupt`` is raised. A second signal stops at once without
writing (the last checkpoint stays as it was: checkpoints are replaced whole).

Output folder
-------------
A new run refuses an output folder that already holds files (pass ``overwrite``); a resumed run
writes into the run folder of its checkpoint (``RUN/checkpoint``), or into the given output folder.
Every file is written atomically.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

import napari_dynmri
from napari_dynmri import metrics
from napari_dynmri.io.atomic import atomic_output, write_text
from napari_dynmri.losses import build_loss
from napari_dynmri.models import resolve_model, save_model, select_device
from napari_dynmri.models.checkpoint import (
    WEIGHTS_FILE,
    build_bounded_model,
    load_tensors,
    state_mismatch,
)
from napari_dynmri.training import distributed
from napari_dynmri.training.config import TrainConfig, config_from_dict, load_config
from napari_dynmri.training.curves import plot_loss, plot_validation
from napari_dynmri.training.datasets import (
    CineSamples,
    fixed_case,
    load_sequences,
    split_sequences,
)
from napari_dynmri.validation import read_json

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "trainer.json"
OPTIMIZER_FILE = "optimizer.safetensors"
BEST_FILE = "best.safetensors"
METRICS_FILE = "metrics.csv"
LOSS_PLOT = "loss.png"
VAL_PLOT = "val_metrics.png"
STATE_FORMAT = "napari-dynmri-training-checkpoint"


# ----------------------------------------------------------------------------- small helpers


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


def learning_rate(config: TrainConfig, iteration: int) -> float:
    """Learning rate of step ``iteration`` (0-based) under ``config.schedule``."""
    base, schedule = config.optimizer.lr, config.schedule
    if schedule.name == "cosine":
        progress = min(iteration / config.iterations, 1.0)
        return schedule.min_lr + (base - schedule.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule.name == "step":
        return base * schedule.gamma ** (iteration // schedule.step_size)
    return base


def build_optimizer(config: TrainConfig, parameters) -> torch.optim.Optimizer:
    """Adam or SGD (with momentum) from ``config.optimizer``."""
    opt = config.optimizer
    if opt.name == "sgd":
        return torch.optim.SGD(parameters, lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay)
    return torch.optim.Adam(parameters, lr=opt.lr, betas=opt.betas, weight_decay=opt.weight_decay)


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(napari_dynmri.__file__).parent,
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


# ----------------------------------------------------------------------------- validation


def evaluate_model(model, sequences, config: TrainConfig, device, zero_filled: bool = False) -> dict:
    """Metrics of ``model`` on full-size sequences with fixed masks (seed ``mask.seed + index``).

    Args:
        sequences: ``[(name, cine), ...]``, complex ``(T, H, W)``.
        zero_filled: score the zero-filled images instead of the model.

    Returns:
        ``{"psnr", "ssim"}`` means over sequences and accelerations and ``"per_acceleration"``:
        ``{"R4": {"psnr", "ssim"}, ...}``.
    """
    scores: dict[str, list] = {}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for index, (_, cine) in enumerate(sequences):
            for acceleration in config.mask.accelerations:
                case = fixed_case(cine, config.mask.kind, acceleration, config.mask.center_lines,
                                  config.mask.seed + index)
                if zero_filled:
                    recon = case["zero_filled"]
                else:
                    inputs = [torch.from_numpy(case[k])[None].to(device) for k in ("zero_filled", "kspace", "mask")]
                    recon = model(*inputs)[0].cpu().numpy()
                key = f"R{acceleration:g}"
                scores.setdefault(key, []).append(
                    (metrics.psnr(recon, case["target"]), metrics.ssim(recon, case["target"]))
                )
    model.train(was_training)
    per = {k: {"psnr": float(np.mean([s[0] for s in v])), "ssim": float(np.mean([s[1] for s in v]))}
           for k, v in scores.items()}
    every = [s for v in scores.values() for s in v]
    return {
        "psnr": float(np.mean([s[0] for s in every])),
        "ssim": float(np.mean([s[1] for s in every])),
        "per_acceleration": per,
    }


def _val_columns(result: dict, reference: dict | None) -> dict:
    row = {"val_psnr": result["psnr"], "val_ssim": result["ssim"]}
    if len(result["per_acceleration"]) > 1:
        for key, value in result["per_acceleration"].items():
            row[f"val_psnr_{key}"], row[f"val_ssim_{key}"] = value["psnr"], value["ssim"]
    if reference is not None:
        row["val_psnr_zero_filled"], row["val_ssim_zero_filled"] = reference["psnr"], reference["ssim"]
    return row


# ----------------------------------------------------------------------------- files


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


def _flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, other = {}, {}
    for param, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{param}.{name}"] = value.detach().cpu().contiguous()
            else:
                other.setdefault(str(param), {})[name] = value
    return tensors, other


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], other: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("state."):
            _, param, name = key.split(".", 2)
            state.setdefault(int(param), {})[name] = value
    for param, values in other.items():
        state.setdefault(int(param), {}).update(values)
    return state


def find_checkpoint(folder) -> Path:
    """The checkpoint folder of a run: ``FOLDER/checkpoint`` or ``FOLDER`` itself."""
    folder = Path(folder)
    for candidate in (folder / CHECKPOINT_DIR, folder):
        if (candidate / STATE_FILE).is_file():
            return candidate
    raise ValueError(f"{folder}: no training checkpoint here (expected {CHECKPOINT_DIR}/{STATE_FILE})")


def run_folder_of(checkpoint: Path) -> Path | None:
    """The run folder a checkpoint belongs to (``RUN`` of ``RUN/checkpoint``), or None for a loose copy."""
    return checkpoint.parent if checkpoint.name == CHECKPOINT_DIR else None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# trainer.json key -> (test, what it must be)
_STATE_KEYS = {
    "iteration": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0"),
    "seconds": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "optimizer_state": (lambda v: isinstance(v, dict), "an object"),
    "best": (lambda v: isinstance(v, dict) and _is_number(v.get("psnr")), 'an object with a number "psnr"'),
    "last_val": (lambda v: v is None or isinstance(v, dict), "an object or null"),
    "rows": (lambda v: isinstance(v, list) and all(isinstance(r, dict) and _is_number(r.get("iteration"))
                                                   for r in v), 'a list of objects with an "iteration"'),
    "split": (lambda v: isinstance(v, dict), "an object"),
    "config": (lambda v: isinstance(v, dict), "an object"),
}


def read_state(checkpoint: Path) -> dict:
    """The checked ``trainer.json`` of a checkpoint folder; a damaged one raises a ``ValueError`` naming it."""
    path = checkpoint / STATE_FILE
    state = read_json(path, "training checkpoint", allow_nan=True)
    if state.get("format") != STATE_FORMAT:
        raise ValueError(f"{path}: is not a napari-dynmri training checkpoint")
    for key, (test, what) in _STATE_KEYS.items():
        if key not in state:
            raise ValueError(f"{path}: the training checkpoint is damaged: {key!r} is missing")
        if not test(state[key]):
            raise ValueError(f"{path}: the training checkpoint is damaged: {key!r} must be {what}")
    return state


def read_checkpoint_config(folder) -> dict:
    """The configuration (nested dict) a checkpoint was trained with, to resume with changes."""
    return read_state(find_checkpoint(folder))["config"]


def _rng_tensors(device) -> dict[str, torch.Tensor]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    return tensors


def _check_output(output: Path, resume, overwrite: bool) -> None:
    """Refuse to write a run where it would replace files the user did not ask to replace.

    A new run needs an absent or empty folder (or ``overwrite``); a resumed run may also write into
    the run folder of its own checkpoint.
    """
    if output.exists() and not output.is_dir():
        raise ValueError(f"{output} is a file, not an output folder")
    if overwrite or not output.is_dir() or not any(output.iterdir()):
        return
    own_run = run_folder_of(find_checkpoint(resume)) if resume is not None else None
    if own_run is not None and own_run.resolve() == output.resolve():
        return
    if (output / CHECKPOINT_DIR).exists() or (output / "model.json").exists():
        raise ValueError(
            f"{output} already holds a training run; continue it with --resume {output}, "
            "choose another output folder, or pass --overwrite"
        )
    raise ValueError(f"{output} already holds files; choose an empty or new output folder, or pass --overwrite")


class _StopSignals:
    """While active (main thread only), SIGINT and SIGTERM set ``requested`` instead of interrupting;
    a second signal raises ``KeyboardInterrupt`` at once."""

    def __init__(self):
        self.requested = False
        self.previous: dict = {}

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False


def _build_loss(table: dict):
    """``build_loss(table)``; weights files it cannot read (a pickle, random bytes: torch's unpickler
    then raises anything from UnpicklingError to IndexError, with warnings) raise one ``ValueError``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build_loss(table)
    except (ValueError, OSError):
        raise
    except Exception as err:
        first = " ".join(str(err).split()).split(". ")[0]
        raise ValueError(f"loss {table}: cannot read its weights ({type(err).__name__}: {first}); give a "
                         ".safetensors file or a .pth file holding a plain state dict") from err


def _replace_folder(tmp: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)


# ----------------------------------------------------------------------------- the run


class _Run:
    """State of one training run (one process); :func:`train` drives it."""

    def __init__(self, config: TrainConfig, dist, device, resume, quiet: bool, overwrite: bool):
        self.config = config
        self.output = Path(config.output)
        self.dist, self.device = dist, device
        self.quiet = quiet or not self.dist.is_main
        _check_output(self.output, resume, overwrite)
        distributed.barrier(self.dist)

        torch.manual_seed(config.seed)
        self.model = build_bounded_model(config.model["name"], {k: v for k, v in config.model.items() if k != "name"})
        if config.init_weights and resume is None:
            self._load_init_weights(config.init_weights)
        self._load_data()
        self.model.to(self.device).train()
        torch.manual_seed(config.seed + 1_000_003 * self.dist.rank)  # distinct dropout streams per rank
        self.net = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = build_optimizer(config, self.model.parameters())
        self.loss = _build_loss(config.loss)
        if isinstance(self.loss, torch.nn.Module):
            self.loss.to(self.device)

        self.iteration = 0
        self.saved_iteration = 0
        self.seconds = 0.0
        self.rows: list[dict] = []
        self.best = {"psnr": -math.inf, "iteration": None, "val": None}
        self.best_state: dict | None = None
        self.last_val: dict | None = None
        if resume is not None:
            self._restore(find_checkpoint(resume))

    def _load_init_weights(self, spec: str) -> None:
        """Start from the weights of a shipped model or checkpoint; options that change no
        parameter (such as the cascade's ``init``) may differ, the parameters must match."""
        source, _ = resolve_model(spec)
        mismatch = state_mismatch(self.model, source.state_dict())
        if mismatch:
            raise ValueError(f"init_weights {spec!r} does not fit model {self.config.model}: {mismatch}")
        self.model.load_state_dict(source.state_dict())

    # data -------------------------------------------------------------------------------------

    def _load_data(self) -> None:
        data = self.config.data
        sequences = load_sequences(data.train)
        if data.val:
            val = load_sequences(data.val)
            self.split = {"train": [n for n, _ in sequences], "val": [n for n, _ in val], "test": []}
            train, self.test = sequences, []
        else:
            self.split = split_sequences([n for n, _ in sequences], data.split_seed)
            by_name = dict(sequences)
            train = [(n, by_name[n]) for n in self.split["train"]]
            val = [(n, by_name[n]) for n in self.split["val"]]
            self.test = [(n, by_name[n]) for n in self.split["test"]]
        if not train:
            raise ValueError(f"no training sequences left after the split of {len(sequences)} sequence(s); "
                             "give more data or a separate data.val")
        self.val = val[: data.max_val_sequences] if data.max_val_sequences else val
        mask = self.config.mask
        self.samples = CineSamples(
            [cine for _, cine in train],
            crop=data.crop, frames=data.frames, mask_kind=mask.kind, accelerations=mask.accelerations,
            center_lines=mask.center_lines, fixed_masks=mask.fixed, mask_seed=mask.seed, seed=self.config.seed,
            flips=data.flips, time_reversal=data.time_reversal, transpose=data.transpose,
            intensity=data.intensity, random_phase=data.random_phase,
        )

    def batch_indices(self, iteration: int) -> list[int]:
        """Sample indices of this process at ``iteration`` (see :mod:`~napari_dynmri.training.distributed`)."""
        size, world, rank = self.config.batch_size, self.dist.world_size, self.dist.rank
        first = (iteration * world + rank) * size
        return list(range(first, first + size))

    # checkpoints ------------------------------------------------------------------------------

    def card(self, weights: str, weights_iteration: int, val: dict | None, test: dict | None = None) -> dict:
        cfg = self.config
        found = {"val": val, "test": test}
        return {
            "description": f"{cfg.model['name']} network trained with dynmri train on {', '.join(cfg.data.train)}",
            "accelerations": cfg.mask.accelerations,
            "mask": {"kind": cfg.mask.kind, "center_lines": cfg.mask.center_lines,
                     "fixed": cfg.mask.fixed, "seed": cfg.mask.seed},
            "metrics": {k: v for k, v in found.items() if v is not None},
            "training": {
                "data": {"train": cfg.data.train, "val": cfg.data.val, "split_seed": cfg.data.split_seed,
                         "sequences": self.split},
                "iterations": self.iteration,
                "seconds": round(self.seconds, 3),
                "weights": weights,
                "weights_iteration": weights_iteration,
                "seed": cfg.seed,
                "world_size": self.dist.world_size,
                "device": str(self.device),
                "torch_version": torch.__version__,
                "git_commit": _git_commit(),
                "config": cfg.to_dict(),
            },
        }

    def save_checkpoint(self) -> None:
        final = self.output / CHECKPOINT_DIR
        tmp = final.with_name(final.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        save_model(self.model, tmp, self.card("last", self.iteration, self.last_val))
        tensors, other = _flatten_optimizer(self.optimizer.state_dict())
        save_file({**tensors, **_rng_tensors(self.device)}, str(tmp / OPTIMIZER_FILE))
        state = {
            "format": STATE_FORMAT,
            "format_version": 1,
            "iteration": self.iteration,
            "seconds": self.seconds,
            "optimizer_state": other,
            "best": self.best,
            "last_val": self.last_val,
            "rows": self.rows,
            "split": self.split,
            "config": self.config.to_dict(),
        }
        write_text(tmp / STATE_FILE, json.dumps(state, indent=1, allow_nan=True) + "\n")
        if self.best_state is not None:
            save_file(self.best_state, str(tmp / BEST_FILE))
        _replace_folder(tmp, final)
        self.saved_iteration = self.iteration

    def _restore(self, folder: Path) -> None:
        """Load the checkpoint in ``folder``; anything damaged or mismatched raises one ``ValueError`` naming the file."""
        state = read_state(folder)
        if state["iteration"] > self.config.iterations:
            raise ValueError(
                f"the checkpoint is at iteration {state['iteration']}, past iterations = {self.config.iterations}"
            )
        weights_path = folder / WEIGHTS_FILE
        weights = load_tensors(weights_path, "cannot resume from")
        mismatch = state_mismatch(self.model, weights)
        if mismatch:
            raise ValueError(f"cannot resume from {weights_path}: the weights do not fit model "
                             f"{self.config.model} ({mismatch})")
        optimizer_path = folder / OPTIMIZER_FILE
        tensors = load_tensors(optimizer_path, "cannot resume from")
        if "rng.torch" not in tensors or tensors["rng.torch"].dtype != torch.uint8:
            raise ValueError(f"cannot resume from {optimizer_path}: the random number generator state is missing")
        try:
            optimizer_state = _unflatten_optimizer(tensors, state["optimizer_state"])
            self.model.load_state_dict(weights)
            self.optimizer.load_state_dict(
                {"state": optimizer_state, "param_groups": self.optimizer.state_dict()["param_groups"]}
            )
            if self.dist.is_main:
                torch.set_rng_state(tensors["rng.torch"])
                if "rng.cuda" in tensors and self.device.type == "cuda":
                    torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
            else:
                torch.manual_seed(self.config.seed + 1_000_003 * self.dist.rank + state["iteration"])
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            raise ValueError(f"cannot resume from {optimizer_path}: the optimizer state does not fit model "
                             f"{self.config.model} ({' '.join(str(err).split())})") from None
        self._check_optimizer_state(optimizer_path)
        if (folder / BEST_FILE).exists():
            self.best_state = load_tensors(folder / BEST_FILE, "cannot resume from")
            mismatch = state_mismatch(self.model, self.best_state)
            if mismatch:
                raise ValueError(f"cannot resume from {folder / BEST_FILE}: the weights do not fit the model ({mismatch})")
        self.iteration = self.saved_iteration = int(state["iteration"])
        self.seconds = float(state["seconds"])
        self.rows = [r for r in state["rows"] if r["iteration"] <= self.iteration]
        self.best = state["best"]
        self.last_val = state["last_val"]

    def _check_optimizer_state(self, path: Path) -> None:
        """Each restored optimizer tensor has the shape of its parameter (torch does not check)."""
        for index, parameter in enumerate(self.model.parameters()):
            for name, value in self.optimizer.state.get(parameter, {}).items():
                if isinstance(value, torch.Tensor) and value.ndim and value.shape != parameter.shape:
                    raise ValueError(f"cannot resume from {path}: optimizer state {name!r} of parameter {index} has "
                                     f"shape {tuple(value.shape)}, the parameter {tuple(parameter.shape)}")

    # training -------------------------------------------------------------------------------

    def validate(self) -> dict | None:
        if not self.val:
            return None
        if not hasattr(self, "reference"):
            self.reference = evaluate_model(self.model, self.val, self.config, self.device, zero_filled=True)
        result = evaluate_model(self.model, self.val, self.config, self.device)
        self.last_val = {**result, "iteration": self.iteration,
                         "psnr_zero_filled": self.reference["psnr"], "ssim_zero_filled": self.reference["ssim"]}
        if result["psnr"] > self.best["psnr"]:
            self.best = {"psnr": result["psnr"], "iteration": self.iteration, "val": self.last_val}
            self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
            if self.config.keep == "best":
                save_model(self.model, self.output, self.card("best", self.iteration, self.last_val))
        return _val_columns(result, self.reference)

    def step(self, iteration: int) -> dict[str, float]:
        """One optimizer step on this process's batch of ``iteration``; returns the loss terms."""
        batch = self.samples.batch(self.batch_indices(iteration))
        batch = {k: v.to(self.device) for k, v in batch.items()}
        out = self.net(batch["zero_filled"], batch["kspace"], batch["mask"])
        terms = self.loss.terms(out, batch["target"], iteration)
        total = terms["total"]
        if not torch.isfinite(total):
            raise ValueError(f"training diverged at iteration {iteration} (loss {float(total)}); lower optimizer.lr")
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.config.optimizer.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optimizer.grad_clip)
        self.optimizer.step()
        return {name: float(value.detach()) for name, value in terms.items()}

    def run(self) -> Path:
        cfg = self.config
        progress = Progress(cfg.iterations, self.iteration, not self.quiet and sys.stderr.isatty())
        if self.dist.is_main:
            self.output.mkdir(parents=True, exist_ok=True)
            self._log(f"training {cfg.model['name']} on {len(self.samples.sequences)} sequence(s), "
                      f"validating on {len(self.val)}; device {self.device}, {self.dist.world_size} process(es)")
        self.net.train()
        with _StopSignals() as signals:
            self._loop(progress, signals)
        progress.close()
        if self.dist.is_main:
            self._finish()
        distributed.barrier(self.dist)
        return self.output

    def _loop(self, progress: Progress, signals: _StopSignals) -> None:
        """The training steps; a signal stops them between two steps, after an exact checkpoint."""
        cfg = self.config
        sums: dict[str, float] = {}
        count = 0
        while self.iteration < cfg.iterations:
            if signals.requested:
                progress.close()
                if self.dist.is_main and self.iteration > self.saved_iteration:
                    self.save_checkpoint()
                    self._log(f"interrupted: checkpoint of iteration {self.iteration} saved; continue with "
                              f"dynmri train --resume {self.output}")
                raise KeyboardInterrupt
            started = time.perf_counter()
            lr = learning_rate(cfg, self.iteration)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            terms = self.step(self.iteration)
            self.iteration += 1
            self.seconds += time.perf_counter() - started
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value
            count += 1
            done = self.iteration
            progress.update(done, terms["total"])

            val_now = done == cfg.iterations or (cfg.val_every > 0 and done % cfg.val_every == 0)
            checkpoint_now = done == cfg.iterations or (cfg.checkpoint_every > 0 and done % cfg.checkpoint_every == 0)
            if not (val_now or done % cfg.log_every == 0):
                continue
            means = distributed.average({k: v / count for k, v in sums.items()}, self.dist, self.device)
            sums, count = {}, 0
            if not self.dist.is_main:
                continue
            row = {"iteration": done, **{f"loss_{k}": v for k, v in means.items()}}
            val = self.validate() if val_now else None
            if val:
                row.update(val)
                progress.note = f"val {val['val_psnr']:.2f} dB"
                self._log(f"iteration {done}: loss {row['loss_total']:.4g}, validation PSNR "
                          f"{val['val_psnr']:.2f} dB, SSIM {val['val_ssim']:.4f}", progress)
            row.update({"lr": lr, "seconds": round(self.seconds, 3)})
            self.rows.append(row)
            write_metrics(self.rows, self.output, plots=val_now or checkpoint_now)
            if checkpoint_now:
                self.save_checkpoint()

    def _finish(self) -> None:
        cfg = self.config
        keep = cfg.keep if self.best_state is not None else "last"
        if keep == "best":
            self.model.load_state_dict(self.best_state)
            weights_iteration, val = self.best["iteration"], self.best["val"]
        else:
            weights_iteration, val = self.iteration, self.last_val
        test = None
        if self.test and cfg.evaluate_test:
            test = evaluate_model(self.model, self.test, cfg, self.device)
            reference = evaluate_model(self.model, self.test, cfg, self.device, zero_filled=True)
            test.update(psnr_zero_filled=reference["psnr"], ssim_zero_filled=reference["ssim"])
            self._log(f"test ({len(self.test)} sequence(s), {keep} weights): PSNR {test['psnr']:.2f} dB, "
                      f"SSIM {test['ssim']:.4f} (zero-filled {reference['psnr']:.2f} dB)")
        save_model(self.model, self.output, self.card(keep, weights_iteration, val, test))
        self._log(f"wrote {self.output} ({keep} weights from iteration {weights_iteration})")

    def _log(self, message: str, progress: Progress | None = None) -> None:
        if self.quiet:
            return
        if progress is not None and progress.enabled:
            sys.stderr.write("\r" + " " * 100 + "\r")
        print(message, file=sys.stderr, flush=True)


def train(config, *, resume=None, quiet: bool = False, overwrite: bool = False) -> Path:
    """Train a network; returns the output folder (see the module docstring for its files).

    Args:
        config: a :class:`~napari_dynmri.training.config.TrainConfig`, a nested dict, or a TOML path.
        resume: a run's output folder (or its ``checkpoint/``) to continue from.
        quiet: no progress bar or messages on stderr.
        overwrite: allow writing into a folder that already holds a run (without resuming it).

    Under ``torchrun`` the processes train together with DistributedDataParallel
    (:mod:`napari_dynmri.training.distributed`); only rank 0 writes files.
    """
    if isinstance(config, (str, Path)):
        config = load_config(config)
    elif isinstance(config, dict):
        config = config_from_dict(config)
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    dist, device = distributed.setup(select_device(config.device))
    try:
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        if config.deterministic and device.type == "cpu":
            torch.use_deterministic_algorithms(True)
        return _Run(config, dist, device, resume, quiet, overwrite).run()
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        distributed.teardown(dist)
