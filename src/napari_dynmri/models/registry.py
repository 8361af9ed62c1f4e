"""Architectures by name, so that a checkpoint's ``model.json`` rebuilds its own network."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from napari_dynmri.models.cascade import CascadeNet
from napari_dynmri.models.down_up import DownUpNet
from napari_dynmri.models.fast import FastNet
from napari_dynmri.models.naive import NaiveNet

MODEL_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "naive": NaiveNet,
    "complex": DownUpNet,
    "fast": FastNet,
    "cascade": CascadeNet,
}


def build_model(name: str, config: dict[str, Any] | None = None) -> nn.Module:
    """A new (randomly initialised) model of architecture ``name`` with options ``config``.

    Missing options take the architecture's defaults; the result's ``.config`` holds all of them.
    An unknown name or option, or a bad value, raises ``ValueError`` naming it and the allowed ones.
    """
    if name not in MODEL_REGISTRY:
        raise ValueError(f"unknown model architecture {name!r}; choose one of {', '.join(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name](**(config or {}))
