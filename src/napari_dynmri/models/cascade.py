"""Deep cascade of CNNs with data-consistency layers (Schlemper et al., IEEE TMI 2018).

``n_stages`` stages, each a CNN block (``block``: ``"naive"``, ``"complex"`` or ``"fast"``, with its
own weights) followed by a data-consistency layer:

``dc="hard"``
    sampled k-space values of the block output are replaced by the measurements (noiseless case).
``dc="soft"``
    ``k = (1 - m) k + m (k + v k0) / (1 + v)`` with ``v > 0`` (``noise_level`` of
    :func:`napari_dynmri.physics.data_consistency`; larger ``v`` trusts the measurements more,
    ``v -> inf`` is hard DC). ``dc_noise_level`` is its value (initial value when
    ``dc_learnable``, then learnt per stage as ``softplus`` of a raw parameter, so it stays > 0).

The first stage starts from the zero-filled image (``init="zero-filled"``), from k-t view sharing
(``init="view-sharing"``: missing lines filled from the ``share_frames`` frames on each side, see
:mod:`napari_dynmri.physics.view_sharing`), a far better start at no learning cost, or from x-f
sparsity compressed sensing (``init="cs-xf"``: ``init_iterations`` FISTA iterations with weight
``init_lam``, see :func:`napari_dynmri.physics.xf_sparsity.xf_fista`), the strongest classical prior on
unseen anatomy; the stages then only refine it.

Since the models normalise inputs to max |zero_filled| = 1, ``v`` is dimensionless.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from napari_dynmri.models.base import ReconNet, resolve_options
from napari_dynmri.models.down_up import DownUpBlock
from napari_dynmri.models.fast import FastBlock
from napari_dynmri.models.layers import channels_to_complex, complex_to_channels
from napari_dynmri.models.naive import NaiveBlock
from napari_dynmri.physics import data_consistency, ifft2c, view_share
from napari_dynmri.physics.xf_sparsity import xf_fista

BLOCKS: dict[str, type[nn.Module]] = {"naive": NaiveBlock, "complex": DownUpBlock, "fast": FastBlock}
DC_MODES = ("hard", "soft")

CASCADE_DEFAULTS = {
    "n_stages": 5,
    "block": "fast",
    "dc": "hard",
    "dc_learnable": True,
    "dc_noise_level": 1.0,
    "init": "zero-filled",
    "share_frames": 2,
    "init_lam": 0.001,  # the defaults of cs-xf (napari_dynmri.recon.sparse)
    "init_iterations": 100,
}


class DataConsistency(nn.Module):
    """Hard or soft data consistency on complex ``(B, T, H, W)`` images; see the module docstring."""

    def __init__(self, mode: str, learnable: bool, noise_level: float):
        super().__init__()
        self.mode = mode
        self.fixed_level = noise_level
        self.raw_level = None
        if mode == "soft" and learnable:
            # inverse of softplus, so that softplus(raw_level) starts at noise_level
            self.raw_level = nn.Parameter(torch.tensor(noise_level + math.log(-math.expm1(-noise_level))))

    def noise_level(self) -> torch.Tensor | float | None:
        """``v`` of the soft update (a tensor when learnable), ``None`` for hard DC."""
        if self.mode == "hard":
            return None
        return F.softplus(self.raw_level) if self.raw_level is not None else self.fixed_level

    def forward(self, x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return data_consistency(x, k0, mask, self.noise_level())


class Stage(nn.Module):
    """One cascade stage: CNN block on the 2-channel view, then data consistency."""

    def __init__(self, block: nn.Module, dc: DataConsistency):
        super().__init__()
        self.block = block
        self.dc = dc

    def forward(self, x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.dc(channels_to_complex(self.block(complex_to_channels(x))), k0, mask)


class CascadeNet(ReconNet):
    """Registry model ``"cascade"``. Options: ``CASCADE_DEFAULTS`` plus the chosen block's options
    (its ``DEFAULTS``: channels, depth, kernel, activation, batchnorm, dropout; ``fuse_channels`` for
    the complex block)."""

    architecture = "cascade"

    def __init__(self, **options):
        block = options.get("block", CASCADE_DEFAULTS["block"])
        if block not in BLOCKS:
            raise ValueError(
                f"unknown block {block!r} for model 'cascade'; choose one of {', '.join(BLOCKS)}"
            )
        dc = options.get("dc", CASCADE_DEFAULTS["dc"])
        if dc not in DC_MODES:
            raise ValueError(f"unknown dc {dc!r} for model 'cascade'; choose one of {', '.join(DC_MODES)}")
        block_class = BLOCKS[block]
        super().__init__(
            resolve_options(self.architecture, {**CASCADE_DEFAULTS, **block_class.DEFAULTS}, options)
        )
        block_options = {name: self.config[name] for name in block_class.DEFAULTS}
        self.stages = nn.ModuleList(
            Stage(
                block_class(**block_options),
                DataConsistency(dc, self.config["dc_learnable"], self.config["dc_noise_level"]),
            )
            for _ in range(self.config["n_stages"])
        )

    def _forward(self, x, k0, mask):
        if self.config["init"] == "view-sharing":
            x = ifft2c(view_share(k0, mask, self.config["share_frames"]))
        elif self.config["init"] == "cs-xf":
            with torch.no_grad():  # a fixed classical start: nothing in it to learn
                x = xf_fista(k0, mask, self.config["init_lam"], self.config["init_iterations"])
        for stage in self.stages:
            x = stage(x, k0, mask)
        return x
