"""Model checkpoints as a folder: ``weights.safetensors`` (tensors only, never pickle) + ``model.json``.

``model.json`` holds ``{"format": "napari-dynmri-model", "format_version": 1, "architecture": name,
"config": {...}, "code_version": ..., **card}``, where the card is whatever the trainer records
(data, masks, metrics, description). :func:`load_model` rebuilds the architecture from it, after
checking the card (a JSON object of bounded size, options within the bounds of
:mod:`napari_dynmri.models.base`, at most ``MAX_PARAMETERS`` parameters counted on torch's meta
device, so nothing is allocated) and before loading weights, which must fit and be finite.
Both files are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from napari_dynmri._version import __version__
from napari_dynmri.io.atomic import atomic_output
from napari_dynmri.models.registry import build_model
from napari_dynmri.validation import InputError, check_input_file, read_json

WEIGHTS_FILE = "weights.safetensors"
CARD_FILE = "model.json"
FORMAT = "napari-dynmri-model"
FORMAT_VERSION = 1
_RESERVED = ("format", "format_version", "architecture", "config", "code_version")
# The largest network a card may describe (200 MB of float32 weights; the shipped one has 44k).
MAX_PARAMETERS = 50_000_000


class ModelLoadError(ValueError):
    """A checkpoint could not be loaded; the message names the path and the reason."""


def save_model(model: nn.Module, folder: str | Path, card: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (a registry model, with ``architecture`` and ``config``) to ``folder``.

    ``card``: extra JSON-serialisable entries for ``model.json`` (may not use the reserved keys
    format, format_version, architecture, config, code_version). Creates the folder if needed;
    returns it as a ``Path``.
    """
    card = dict(card or {})
    clash = [key for key in _RESERVED if key in card]
    if clash:
        raise ValueError(f"the model card may not set the reserved key(s) {', '.join(clash)}")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": model.architecture,
        "config": model.config,
        "code_version": __version__,
        **card,
    }
    try:
        text = json.dumps(meta, indent=2)
    except TypeError as err:
        raise ValueError(f"the model card is not JSON-serialisable: {err}") from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    with atomic_output(folder / WEIGHTS_FILE, overwrite=True) as partial:
        save_file(tensors, str(partial))
    with atomic_output(folder / CARD_FILE, overwrite=True) as partial:
        partial.write_text(text + "\n", encoding="utf-8")
    return folder


def build_bounded_model(architecture: str, config: dict[str, Any]) -> nn.Module:
    """``build_model(architecture, config)``, refusing (``ValueError``) more than ``MAX_PARAMETERS``
    parameters: they are counted on a network built on the meta device, which allocates nothing."""
    with torch.device("meta"):
        probe = build_model(architecture, config)
    count = sum(p.numel() for p in probe.parameters())
    if count > MAX_PARAMETERS:
        raise ValueError(f"model {architecture!r} with this config has {count:,} parameters, more than the "
                         f"{MAX_PARAMETERS:,} allowed")
    return build_model(architecture, config)


def _folder_of(path: Path) -> Path:
    if path.is_dir():
        return path
    if path.name in (WEIGHTS_FILE, CARD_FILE):
        return path.parent
    if not path.exists():
        raise ModelLoadError(f"cannot load model {path}: no such file or folder")
    raise ModelLoadError(
        f"cannot load model {path}: expected a folder holding {CARD_FILE} and {WEIGHTS_FILE}"
    )


def read_card(path: str | Path) -> dict[str, Any]:
    """The checked ``model.json`` of a checkpoint (``path``: its folder or a file in it), no torch work."""
    folder = _folder_of(Path(path))
    card_path = folder / CARD_FILE
    if not card_path.exists():
        raise ModelLoadError(f"cannot load model {folder}: {CARD_FILE} is missing")
    try:
        card = read_json(card_path, "model card")
    except InputError as err:
        raise ModelLoadError(f"cannot load model {err}") from None
    if card.get("format") != FORMAT:
        raise ModelLoadError(f"cannot load model {card_path}: not a {FORMAT} card")
    version = card.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelLoadError(
            f"cannot load model {card_path}: format_version {version!r} is not supported "
            f"(this napari-dynmri reads up to {FORMAT_VERSION})"
        )
    if not isinstance(card.get("architecture"), str) or not isinstance(card.get("config"), dict):
        raise ModelLoadError(f"cannot load model {card_path}: 'architecture' or 'config' is missing")
    return card


def state_mismatch(model: nn.Module, tensors: dict[str, torch.Tensor]) -> str:
    """What keeps ``tensors`` from loading into ``model`` (missing, unexpected, mis-shaped names); "" if nothing."""
    expected = model.state_dict()
    missing = [name for name in expected if name not in tensors]
    unexpected = [name for name in tensors if name not in expected]
    shapes = [
        f"{name} file {tuple(tensors[name].shape)} vs model {tuple(value.shape)}"
        for name, value in expected.items()
        if name in tensors and tensors[name].shape != value.shape
    ]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
        if items:
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            parts.append(f"{label}: {', '.join(items[:3])}{more}")
    return "; ".join(parts)


def load_tensors(path: Path, doing: str) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file on the CPU, each finite; else :class:`ModelLoadError` naming
    the file (``doing`` starts the message, e.g. "cannot load model")."""
    try:
        check_input_file(path)
        tensors = load_file(str(path), device="cpu")
    except InputError as err:
        raise ModelLoadError(f"{doing} {err}") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise ModelLoadError(f"{doing} {path}: not a readable safetensors file ({err})") from None
    for name, tensor in tensors.items():
        if (tensor.is_floating_point() or tensor.is_complex()) and not bool(torch.isfinite(tensor).all()):
            raise ModelLoadError(f"{doing} {path}: tensor {name!r} holds NaN or infinite values")
    return tensors


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_model`.

    ``path``: the checkpoint folder, or its ``model.json`` or ``weights.safetensors``.
    Returns ``(model, card)``: the model on ``device`` in eval mode and the parsed ``model.json``.
    Raises :class:`ModelLoadError` (a ``ValueError``) for a missing or corrupt file, an unknown
    architecture or weights that do not fit the architecture.
    """
    card = read_card(path)
    folder = _folder_of(Path(path))
    try:
        model = build_bounded_model(card["architecture"], card["config"])
    except ValueError as err:
        raise ModelLoadError(f"cannot load model {folder / CARD_FILE}: {err}") from None
    weights_path = folder / WEIGHTS_FILE
    if not weights_path.exists():
        raise ModelLoadError(f"cannot load model {folder}: {WEIGHTS_FILE} is missing")
    tensors = load_tensors(weights_path, "cannot load model")
    mismatch = state_mismatch(model, tensors)
    if mismatch:
        raise ModelLoadError(
            f"cannot load model {weights_path}: the weights do not fit architecture "
            f"{card['architecture']!r} with its config ({mismatch})"
        )
    model.load_state_dict(tensors)
    return model.to(device).eval(), card
