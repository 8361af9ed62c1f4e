"""The resumable state of a training run: the ``checkpoint/`` folder of its output folder.

``checkpoint/`` is written every ``checkpoint_every`` iterations and at the end, without pickle:
``weights.safetensors`` + ``model.json`` (current weights), ``optimizer.safetensors`` (optimizer
state tensors, flattened as ``state.<param>.<name>``, and the torch RNG states), ``best.safetensors``
(the best weights so far, if any) and ``trainer.json`` (iteration, non-tensor optimizer state, best
metric, metrics rows, seconds, configuration, split). It is written beside the old one and then
replaces it whole, so an interrupted write leaves the previous checkpoint as it was.

A checkpoint is checked before it is used: a damaged or mismatched file (truncated weights, a
``trainer.json`` with missing keys or wrong types, an optimizer file without its RNG state, another
architecture) raises one ``ValueError`` naming the file.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from napari_dynmri.io.atomic import write_text
from napari_dynmri.models import save_model
from napari_dynmri.models.checkpoint import WEIGHTS_FILE, load_tensors, state_mismatch
from napari_dynmri.validation import (
    OBJECT,
    Rule,
    check_fields,
    fail,
    integer,
    is_number,
    nullable,
    number,
    one_of,
    read_json,
)

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "trainer.json"
OPTIMIZER_FILE = "optimizer.safetensors"
BEST_FILE = "best.safetensors"
STATE_FORMAT = "napari-dynmri-training-checkpoint"


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


def check_output(output: Path, resume, overwrite: bool) -> None:
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


# ----------------------------------------------------------------------------- trainer.json


# trainer.json key -> what its value must be ("format" is checked first, to name a file that is no checkpoint)
_STATE_RULES = {
    "format": one_of([STATE_FORMAT]),
    "format_version": integer(1),
    "iteration": integer(0),
    "seconds": number(0),
    "optimizer_state": OBJECT,
    # the best PSNR is -inf until the first validation
    "best": Rule(lambda v: isinstance(v, dict) and is_number(v.get("psnr"), finite=False),
                 'an object with a number "psnr"'),
    "last_val": nullable(OBJECT),
    "rows": Rule(lambda v: isinstance(v, list) and all(isinstance(r, dict) and is_number(r.get("iteration"))
                                                       for r in v), 'a list of objects with an "iteration"'),
    "split": OBJECT,
    "config": OBJECT,
}


def read_state(checkpoint: Path) -> dict:
    """The checked ``trainer.json`` of a checkpoint folder; a damaged one raises a ``ValueError`` naming it."""
    path = checkpoint / STATE_FILE
    state = read_json(path, "training checkpoint", allow_nan=True)
    if state.get("format") != STATE_FORMAT:
        raise fail(path, "is not a napari-dynmri training checkpoint")
    return check_fields(state, _STATE_RULES, f"{path}: the training checkpoint is damaged", kind="entry",
                        required=True)


def read_checkpoint_config(folder) -> dict:
    """The configuration (nested dict) a checkpoint was trained with, to resume with changes."""
    return read_state(find_checkpoint(folder))["config"]


# ----------------------------------------------------------------------------- optimizer and RNG


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


def _rng_tensors(device) -> dict[str, torch.Tensor]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    return tensors


def _check_optimizer_state(model, optimizer, path: Path) -> None:
    """Each restored optimizer tensor has the shape of its parameter (torch does not check)."""
    for index, parameter in enumerate(model.parameters()):
        for name, value in optimizer.state.get(parameter, {}).items():
            if isinstance(value, torch.Tensor) and value.ndim and value.shape != parameter.shape:
                raise ValueError(f"cannot resume from {path}: optimizer state {name!r} of parameter {index} has "
                                 f"shape {tuple(value.shape)}, the parameter {tuple(parameter.shape)}")


# ----------------------------------------------------------------------------- write and restore


def write_checkpoint(output: Path, model, card: dict, optimizer, device, *, iteration: int, seconds: float,
                    best: dict, last_val: dict | None, rows: list[dict], split: dict, config: dict,
                    best_state: dict | None) -> None:
    """Write ``output/checkpoint`` (beside the old one, then replacing it whole)."""
    final = output / CHECKPOINT_DIR
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(model, tmp, card)
    tensors, other = _flatten_optimizer(optimizer.state_dict())
    save_file({**tensors, **_rng_tensors(device)}, str(tmp / OPTIMIZER_FILE))
    state = {
        "format": STATE_FORMAT,
        "format_version": 1,
        "iteration": iteration,
        "seconds": seconds,
        "optimizer_state": other,
        "best": best,
        "last_val": last_val,
        "rows": rows,
        "split": split,
        "config": config,
    }
    write_text(tmp / STATE_FILE, json.dumps(state, indent=1, allow_nan=True) + "\n")
    if best_state is not None:
        save_file(best_state, str(tmp / BEST_FILE))
    _replace_folder(tmp, final)


def restore_checkpoint(folder: Path, model, optimizer, config, dist, device) -> dict:
    """Load the checkpoint in ``folder`` into ``model``, ``optimizer`` and the torch RNG.

    Returns the checked ``trainer.json`` (``iteration``, ``seconds``, ``rows``, ``best``,
    ``last_val``, ...) with ``best_state``: the best weights, or None. Anything damaged or
    mismatched raises one ``ValueError`` naming the file.
    """
    state = read_state(folder)
    if state["iteration"] > config.iterations:
        raise ValueError(
            f"the checkpoint is at iteration {state['iteration']}, past iterations = {config.iterations}"
        )
    weights_path = folder / WEIGHTS_FILE
    weights = load_tensors(weights_path, "cannot resume from")
    mismatch = state_mismatch(model, weights)
    if mismatch:
        raise ValueError(f"cannot resume from {weights_path}: the weights do not fit model "
                         f"{config.model} ({mismatch})")
    optimizer_path = folder / OPTIMIZER_FILE
    tensors = load_tensors(optimizer_path, "cannot resume from")
    if "rng.torch" not in tensors or tensors["rng.torch"].dtype != torch.uint8:
        raise ValueError(f"cannot resume from {optimizer_path}: the random number generator state is missing")
    try:
        optimizer_state = _unflatten_optimizer(tensors, state["optimizer_state"])
        model.load_state_dict(weights)
        optimizer.load_state_dict(
            {"state": optimizer_state, "param_groups": optimizer.state_dict()["param_groups"]}
        )
        if dist.is_main:
            torch.set_rng_state(tensors["rng.torch"])
            if "rng.cuda" in tensors and device.type == "cuda":
                torch.cuda.set_rng_state(tensors["rng.cuda"], device)
        else:
            torch.manual_seed(config.seed + 1_000_003 * dist.rank + state["iteration"])
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"cannot resume from {optimizer_path}: the optimizer state does not fit model "
                         f"{config.model} ({' '.join(str(err).split())})") from None
    _check_optimizer_state(model, optimizer, optimizer_path)
    best_state = None
    if (folder / BEST_FILE).exists():
        best_state = load_tensors(folder / BEST_FILE, "cannot resume from")
        mismatch = state_mismatch(model, best_state)
        if mismatch:
            raise ValueError(f"cannot resume from {folder / BEST_FILE}: the weights do not fit the model ({mismatch})")
    return {**state, "best_state": best_state}


def _replace_folder(tmp: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)
