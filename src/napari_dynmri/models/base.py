"""Common interface of the reconstruction networks: intensity normalisation and option checking.

Every network is a :class:`ReconNet`: ``model(zero_filled, kspace, mask)`` with complex64
``(B, T, H, W)`` zero-filled images and measured k-space and a bool ``(B, T, H, W)`` or
``(1, T, H, W)`` sampling mask returns the complex64 ``(B, T, H, W)`` reconstruction.
Inputs may have any intensity scale: each sample is divided by ``max |zero_filled|`` before the
network and the output multiplied back, so weights trained on max-1 data work at any scale.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from napari_dynmri.models.layers import (
    ACTIVATIONS,
    KERNELS,
    channels_to_complex,
    complex_to_channels,
)
from napari_dynmri.validation import BOOLEAN, check_value, integer, number, one_of

# starting images of networks with data consistency: the zero-filled image, view sharing or x-f CS
INITS = ("zero-filled", "view-sharing", "cs-xf", "given")

# Size options are bounded, so that a crafted model card cannot make the network builder allocate
# gigabytes before any weight is read; the bounds are far above any trained configuration.
MAX_CHANNELS = 256
MAX_DEPTH = 16
MAX_STAGES = 32
MAX_INIT_ITERATIONS = 10_000

# option name -> what a valid value is
_RULES = {
    "channels": integer(1, MAX_CHANNELS),
    "depth": integer(1, MAX_DEPTH),
    "n_stages": integer(1, MAX_STAGES),
    "batchnorm": BOOLEAN,
    "dc_learnable": BOOLEAN,
    "identity_start": BOOLEAN,
    "dropout": number(0, 1, high_open=True),
    "dc_noise_level": number(0, low_open=True),
    "activation": one_of(ACTIVATIONS),
    "kernel": one_of(KERNELS),
    "init": one_of(INITS),
    "share_frames": integer(0, MAX_CHANNELS),
    "fuse_channels": integer(0, MAX_CHANNELS),
    "init_lam": number(0),
    "init_iterations": integer(0, MAX_INIT_ITERATIONS),
}
_FLOAT_OPTIONS = ("dropout", "dc_noise_level", "init_lam")


def resolve_options(
    architecture: str, defaults: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    """``defaults`` updated with ``options``, checked; unknown names or bad values raise ``ValueError``."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for model {architecture!r}; "
            f"allowed options are {', '.join(defaults)}"
        )
    config = {**defaults, **options}
    for name, value in config.items():
        if name in _RULES:
            check_value(value, _RULES[name], f"option {name!r} of model {architecture!r}")
        if name in _FLOAT_OPTIONS:
            config[name] = float(value)
    return config


class ReconNet(nn.Module):
    """Base class: checks inputs, normalises intensity, calls :meth:`_forward` on max-1 data.

    Subclasses set ``architecture`` (the registry name) and pass their resolved options to
    ``__init__``; they are stored as ``self.config`` (JSON-serialisable), from which
    ``build_model(model.architecture, model.config)`` rebuilds the same network (a network that
    the registry builds, not a :class:`~napari_dynmri.models.cascade.CascadeNet` of modules of
    your own).
    """

    architecture: str = ""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.config = dict(config)

    def forward(
        self, zero_filled: torch.Tensor, kspace: torch.Tensor, mask: torch.Tensor, maps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Reconstruct a batch of cines.

        zero_filled, kspace: complex ``(B, T, H, W)`` (complex128 is cast to complex64), any scale;
            for a cascade with ``init="given"`` the first image is the start it refines (a classical
            reconstruction) instead of the zero-filled image.
        mask: bool ``(B, T, H, W)`` or ``(1, T, H, W)``.
        maps: coil sensitivities ``(C, H, W)`` of multi-coil ``kspace`` ``(B, T, C, H, W)``; the images
            stay coil-combined and data consistency is the SENSE step
            (:func:`napari_dynmri.physics.sense_data_consistency`). Returns complex64 ``(B, T, H, W)``.
        """
        if not torch.is_complex(zero_filled) or zero_filled.ndim != 4:
            raise ValueError(
                f"zero_filled must be a complex (B, T, H, W) tensor, got {zero_filled.dtype} "
                f"{tuple(zero_filled.shape)}"
            )
        expected = tuple(zero_filled.shape) if maps is None else (*zero_filled.shape[:2], maps.shape[0],
                                                                   *zero_filled.shape[2:])
        if not torch.is_complex(kspace) or tuple(kspace.shape) != expected:
            raise ValueError(
                f"kspace must be complex of shape {expected} for images {tuple(zero_filled.shape)}"
                f"{'' if maps is None else f' and {maps.shape[0]} coils'}, got {kspace.dtype} {tuple(kspace.shape)}"
            )
        if mask.ndim != 4 or mask.shape[1:] != zero_filled.shape[1:] or mask.shape[0] not in (
            1,
            zero_filled.shape[0],
        ):
            raise ValueError(
                f"mask must be (B, T, H, W) or (1, T, H, W) for images {tuple(zero_filled.shape)}, "
                f"got {tuple(mask.shape)}"
            )
        zero_filled = zero_filled.to(torch.complex64)
        kspace = kspace.to(torch.complex64)
        scale = zero_filled.abs().amax(dim=(1, 2, 3), keepdim=True)
        scale = scale.clamp_min(torch.finfo(scale.dtype).tiny)
        if maps is not None:
            maps = maps.to(torch.complex64)
        k_scale = scale if maps is None else scale.unsqueeze(-1)  # (B, 1, 1, 1[, 1]) for the coil axis
        return self._forward(zero_filled / scale, kspace / k_scale, mask.to(torch.bool), maps) * scale

    def _forward(self, x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor, maps: torch.Tensor | None
                 ) -> torch.Tensor:
        """The network on normalised data: same arguments as :meth:`forward`, max |x| = 1 per sample."""
        raise NotImplementedError


class BlockNet(ReconNet):
    """A single CNN block on the 2-channel view, without data consistency (ignores k-space and mask).

    Subclasses set ``architecture`` and ``block_class`` (whose ``DEFAULTS`` are the options).
    """

    block_class: type[nn.Module]

    def __init__(self, **options):
        super().__init__(resolve_options(self.architecture, self.block_class.DEFAULTS, options))
        self.block = self.block_class(**self.config)

    def _forward(self, x, k0, mask, maps):
        return channels_to_complex(self.block(complex_to_channels(x)))
