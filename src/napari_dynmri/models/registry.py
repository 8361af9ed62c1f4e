"""Architectures by name, so that a checkpoint's ``model.json`` rebuilds its own network."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from napari_dynmri.models.base import resolve_options
from napari_dynmri.models.cascade import CASCADE_OPTIONS, CascadeNet
from napari_dynmri.models.down_up import DownUpNet
from napari_dynmri.models.fast import FastNet
from napari_dynmri.models.naive import NaiveNet

# the blocks a cascade card may name: those of the single-block architectures
CASCADE_BLOCKS: dict[str, type[nn.Module]] = {
    net.architecture: net.block_class for net in (NaiveNet, DownUpNet, FastNet)
}
# a cascade card's own options; the chosen block's DEFAULTS follow them
CASCADE_DEFAULTS = {"n_stages": 5, "block": "fast", **CASCADE_OPTIONS}


def build_cascade(**options) -> CascadeNet:
    """Registry model ``"cascade"`` from a card's flat options: ``CASCADE_DEFAULTS`` plus the chosen
    block's (its ``DEFAULTS``: channels, depth, kernel, activation, batchnorm, dropout; ``fuse_channels``
    for the complex block). Builds ``n_stages`` blocks of kind ``block`` and passes them to
    :class:`CascadeNet`; the result's ``config`` holds every option, so it rebuilds the same network."""
    block = options.get("block", CASCADE_DEFAULTS["block"])
    if block not in CASCADE_BLOCKS:
        raise ValueError(
            f"unknown block {block!r} for model 'cascade'; choose one of {', '.join(CASCADE_BLOCKS)}"
        )
    block_class = CASCADE_BLOCKS[block]
    config = resolve_options(CascadeNet.architecture, {**CASCADE_DEFAULTS, **block_class.DEFAULTS}, options)
    block_options = {name: config[name] for name in block_class.DEFAULTS}
    model = CascadeNet(
        (block_class(**block_options) for _ in range(config["n_stages"])),
        two_channel=True,
        **{name: config[name] for name in CASCADE_OPTIONS},
    )
    model.config = config
    return model


MODEL_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "naive": NaiveNet,
    "complex": DownUpNet,
    "fast": FastNet,
    "cascade": build_cascade,
}


def build_model(name: str, config: dict[str, Any] | None = None) -> nn.Module:
    """A new (randomly initialised) model of architecture ``name`` with options ``config``.

    Missing options take the architecture's defaults; the result's ``.config`` holds all of them.
    An unknown name or option, or a bad value, raises ``ValueError`` naming it and the allowed ones.
    """
    if name not in MODEL_REGISTRY:
        raise ValueError(f"unknown model architecture {name!r}; choose one of {', '.join(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name](**(config or {}))
