"""Deep cascade of regularisers with data-consistency layers (Schlemper et al., IEEE TMI 2018).

A :class:`CascadeNet` composes any regulariser modules, one per stage (as fastMRI's
``VarNetBlock(model)`` and deepinv's ``VarNet(denoiser)``): each stage applies its module to the
current image, then a data-consistency layer. A module maps the complex ``(B, T, H, W)`` image to
one of the same shape, or, with ``two_channel=True``, the float ``(B, 2, T, H, W)`` view of
:func:`napari_dynmri.models.layers.complex_to_channels` to one (the blocks of this package); the
cascade converts to and from that view. The registry model ``"cascade"``
(:func:`napari_dynmri.models.registry.build_cascade`) builds the blocks from a model card's flat
options. Data consistency:

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
``init_lam``, see :func:`napari_dynmri.solvers.algorithms.xf_fista`), the strongest classical prior on
unseen anatomy; the stages then only refine it. ``identity_start=True`` zeroes the last convolution of
every (residual) block, so an untrained cascade returns its first image after data consistency and
training departs from it only as far as the loss pays. With ``init="given"`` the first image passed in *is*
the start: the cascade refines whatever classical reconstruction the caller made (in training a
random CS candidate, :func:`napari_dynmri.training.datasets.classical_start`; in use the one that
cs-auto's cross-validation picks, :class:`napari_dynmri.recon.NetworkMethod` with a ``start``).

Since the models normalise inputs to max |zero_filled| = 1, ``v`` is dimensionless.

On coil data (``maps`` given to ``forward``: k-space ``(B, T, C, H, W)``) the images stay coil-combined
and every data-consistency layer is the SENSE gradient step
(:func:`napari_dynmri.physics.sense_data_consistency`), which is hard DC for one coil of ones; only
cascades starting from a given image or the zero-filled one run there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from napari_dynmri.models.base import ReconNet, resolve_options
from napari_dynmri.models.layers import channels_to_complex, complex_to_channels
from napari_dynmri.physics import data_consistency, ifft2c, sense_data_consistency, view_share
from napari_dynmri.solvers.algorithms import XF_DEFAULT_LAM, xf_fista

DC_MODES = ("hard", "soft")

# the cascade's own options (data consistency and the first image), whatever its modules
CASCADE_OPTIONS = {
    "dc": "hard",
    "dc_learnable": True,
    "dc_noise_level": 1.0,
    "init": "zero-filled",
    "share_frames": 2,
    "init_lam": XF_DEFAULT_LAM,
    "init_iterations": 100,
    "identity_start": False,
}


def _zero_last_layer(block: nn.Module) -> None:
    """Zero the weights of ``block``'s last convolution: a residual block (``x + f(x)``) then starts as the identity."""
    convolutions = [m for m in block.modules() if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d))]
    if not convolutions:
        raise ValueError(f"identity_start needs convolutional blocks, got {type(block).__name__}")
    for parameter in convolutions[-1].parameters():
        nn.init.zeros_(parameter)


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

    def forward(self, x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor, maps: torch.Tensor | None = None
                ) -> torch.Tensor:
        if maps is None:
            return data_consistency(x, k0, mask, self.noise_level())
        return sense_data_consistency(x, k0, mask, maps, self.noise_level())


class Stage(nn.Module):
    """One cascade stage: the regulariser ``block`` on the image (or its 2-channel view), then data consistency."""

    def __init__(self, block: nn.Module, dc: DataConsistency, two_channel: bool):
        super().__init__()
        self.block = block
        self.dc = dc
        self.two_channel = two_channel

    def forward(self, x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor, maps: torch.Tensor | None = None
                ) -> torch.Tensor:
        x = channels_to_complex(self.block(complex_to_channels(x))) if self.two_channel else self.block(x)
        return self.dc(x, k0, mask, maps)


class CascadeNet(ReconNet):
    """A cascade of ``regularisers`` (one module per stage, each with its own weights), each followed by
    data consistency; see the module docstring.

    Args:
        regularisers: the modules, in stage order: complex ``(B, T, H, W)`` -> same shape, or with
            ``two_channel`` float ``(B, 2, T, H, W)`` -> same shape.
        two_channel: the modules work on the 2-channel view (as the blocks of this package).
        **options: ``CASCADE_OPTIONS`` (data consistency, first image); they make ``config``, which
            the registry's :func:`~napari_dynmri.models.registry.build_cascade` replaces by the model
            card options it built the modules from (a cascade of other modules has no card).
    """

    architecture = "cascade"

    def __init__(self, regularisers: Iterable[nn.Module], *, two_channel: bool = False, **options):
        dc = options.get("dc", CASCADE_OPTIONS["dc"])
        if dc not in DC_MODES:
            raise ValueError(f"unknown dc {dc!r} for model 'cascade'; choose one of {', '.join(DC_MODES)}")
        super().__init__(resolve_options(self.architecture, CASCADE_OPTIONS, options))
        regularisers = list(regularisers)
        if not regularisers:
            raise ValueError("a cascade needs at least one regulariser module")
        self.stages = nn.ModuleList(
            Stage(
                block,
                DataConsistency(dc, self.config["dc_learnable"], self.config["dc_noise_level"]),
                two_channel,
            )
            for block in regularisers
        )
        if self.config["identity_start"]:
            for block in regularisers:
                _zero_last_layer(block)

    def _forward(self, x, k0, mask, maps):
        if maps is not None and self.config["init"] not in ("given", "zero-filled"):
            raise ValueError(f"a cascade with init {self.config['init']!r} takes single-coil k-space; on coil data "
                             "only cascades that refine a given start (init = 'given') or the zero-filled one run")
        if self.config["init"] == "view-sharing":
            x = ifft2c(view_share(k0, mask, self.config["share_frames"]))
        elif self.config["init"] == "cs-xf":
            with torch.no_grad():  # a fixed classical start: nothing in it to learn
                x = xf_fista(k0, mask, self.config["init_lam"], self.config["init_iterations"])
        for stage in self.stages:
            x = stage(x, k0, mask, maps)
        return x
