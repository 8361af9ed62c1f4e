"""Train a reconstruction network: :func:`train` (what ``dynmri train`` runs).

Output folder
-------------
``weights.safetensors`` + ``model.json``
    The kept weights (``keep = "best"``: best validation PSNR, the default; ``"last"``: final),
    loadable with :func:`napari_dynmri.models.load_model`. The card records the training data and
    split, masks and accelerations, validation (and test) metrics, iterations, seconds, the full
    configuration and which weights were kept (``training.weights``, ``training.weights_iteration``).
``metrics.csv``, ``loss.png``, ``val_metrics.png``
    One row per logged iteration (loss terms, validation metrics, learning rate, seconds) and its
    curves: :mod:`~napari_dynmri.training.progress`.
``checkpoint/``
    The resumable state, written every ``checkpoint_every`` iterations and at the end, without
    pickle: :mod:`~napari_dynmri.training.checkpoint`.

A new run refuses an output folder that already holds files (pass ``overwrite``); a resumed run
writes into the run folder of its checkpoint (``RUN/checkpoint``), or into the given output folder.
Every file is written atomically.

Resume (``train(config, resume=FOLDER)``, ``dynmri train --resume FOLDER``)
---------------------------------------------------------------------------
Restores weights, optimizer state, torch RNG, the metrics history and the best score, and
continues from the saved iteration (to ``iterations``, which may be raised). Training samples are
a pure function of (seed, sample index) and the learning rate a pure function of the iteration,
so a resumed single-process CPU run gives *exactly* the weights of an uninterrupted one. With
several processes, ranks other than 0 re-seed their torch RNG on resume: exact unless the model
uses dropout. A damaged or mismatched checkpoint raises one ``ValueError`` naming the file.

Interrupts
----------
SIGINT (Ctrl-C) and SIGTERM only set a flag: the current step finishes, a checkpoint of exactly
that step is written, and ``KeyboardInterrupt`` is raised. A second signal stops at once without
writing (the last checkpoint stays as it was: checkpoints are replaced whole).

"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

from napari_dynmri.data.sequences import load_sequences, split_sequences
from napari_dynmri.models import resolve_model, save_model, select_device
from napari_dynmri.models.checkpoint import build_bounded_model, state_mismatch
from napari_dynmri.training import distributed
from napari_dynmri.training.checkpoint import (
    check_output,
    find_checkpoint,
    restore_checkpoint,
    write_checkpoint,
)
from napari_dynmri.training.config import TrainConfig, config_from_dict, load_config
from napari_dynmri.training.datasets import CineSamples
from napari_dynmri.training.optim import build_optimizer, build_training_loss, learning_rate
from napari_dynmri.training.progress import Progress, log, val_columns, write_metrics
from napari_dynmri.training.scoring import evaluate_model

# ----------------------------------------------------------------------------- small helpers


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parents[1],
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


# ----------------------------------------------------------------------------- interrupts


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


# ----------------------------------------------------------------------------- the run


class _Run:
    """State of one training run (one process); :func:`train` drives it."""

    def __init__(self, config: TrainConfig, dist, device, resume, quiet: bool, overwrite: bool):
        self.config = config
        self.output = Path(config.output)
        self.dist, self.device = dist, device
        self.quiet = quiet or not self.dist.is_main
        check_output(self.output, resume, overwrite)
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
        self.loss = build_training_loss(config.loss)
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
            state = restore_checkpoint(find_checkpoint(resume), self.model, self.optimizer, config, dist, device)
            self.iteration = self.saved_iteration = int(state["iteration"])
            self.seconds = float(state["seconds"])
            self.rows = [r for r in state["rows"] if r["iteration"] <= self.iteration]
            self.best, self.last_val, self.best_state = state["best"], state["last_val"], state["best_state"]

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
            crop=data.crop, frames=data.frames, acquisition=mask.acquisition(), kinds=mask.kinds,
            accelerations=mask.accelerations, fixed_masks=mask.fixed, seed=self.config.seed,
            flips=data.flips, time_reversal=data.time_reversal, transpose=data.transpose,
            intensity=data.intensity, random_phase=data.random_phase, variety=data.variety,
            start=data.start or None,
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
        write_checkpoint(
            self.output, self.model, self.card("last", self.iteration, self.last_val), self.optimizer, self.device,
            iteration=self.iteration, seconds=self.seconds, best=self.best, last_val=self.last_val, rows=self.rows,
            split=self.split, config=self.config.to_dict(), best_state=self.best_state,
        )
        self.saved_iteration = self.iteration

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
        return val_columns(result, self.reference)

    def step(self, iteration: int) -> dict[str, float]:
        """One optimizer step on this process's batch of ``iteration``; returns the loss terms."""
        batch = self.samples.batch(self.batch_indices(iteration))
        batch = {k: v.to(self.device) for k, v in batch.items()}
        out = self.net(batch.get("start", batch["zero_filled"]), batch["kspace"], batch["mask"])
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
        if not self.quiet:
            log(message, progress)


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
