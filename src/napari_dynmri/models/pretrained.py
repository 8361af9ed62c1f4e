"""Models shipped inside the package, in ``napari_dynmri/pretrained/<name>/`` (checkpoint folders).

Card keys read for listings (all optional; written by the trainer): ``description`` (str),
``accelerations`` (list of numbers), ``metrics`` = ``{"test": {"psnr": dB, "ssim": 0..1}}``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from napari_dynmri.models.checkpoint import (
    CARD_FILE,
    WEIGHTS_FILE,
    ModelLoadError,
    load_model,
    read_card,
)

DEFAULT_MODEL = "dynmri-default"


def pretrained_root() -> Path:
    """The folder of shipped models (it may not exist when none is installed)."""
    return Path(str(importlib.resources.files("napari_dynmri"))) / "pretrained"


def list_pretrained() -> list[dict[str, Any]]:
    """Shipped models, sorted by name: dicts with ``name``, ``description``, ``path`` (folder),
    ``size_bytes`` (weights file) and ``card`` (the parsed ``model.json``). Folders whose card
    cannot be read are skipped."""
    root = pretrained_root()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if not (folder / CARD_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
            continue
        try:
            card = read_card(folder)
        except ModelLoadError:
            continue
        found.append(
            {
                "name": folder.name,
                "description": str(card.get("description", "")),
                "path": folder,
                "size_bytes": (folder / WEIGHTS_FILE).stat().st_size,
                "card": card,
            }
        )
    return found


def resolve_model(
    name_or_path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Load a shipped model by name, or a checkpoint by path (folder, model.json or weights file).

    Returns ``(model, card)`` as :func:`load_model`. When ``name_or_path`` is neither a shipped
    name nor an existing path, raises :class:`ModelLoadError` listing the shipped names.
    """
    if not str(name_or_path).strip():
        raise ModelLoadError("no model given: the model name or checkpoint path is empty")
    shipped = {entry["name"]: entry["path"] for entry in list_pretrained()}
    if str(name_or_path) in shipped:
        return load_model(shipped[str(name_or_path)], device=device)
    if Path(name_or_path).exists():
        return load_model(name_or_path, device=device)
    available = ", ".join(shipped) if shipped else "none installed"
    raise ModelLoadError(
        f"no model {str(name_or_path)!r}: it is neither a shipped model (available: {available}) "
        "nor an existing checkpoint path"
    )
