"""A CNN block designed for reconstruction quality per CPU-second: most work at a quarter of the voxels.

Layers (C = ``channels``):

1. strided conv 2->C, stride (1, 2, 2) over (T, H, W), activation;
2. ``depth`` (default 5) convs C->C at half H and W ((2+1)D by default);
3. transposed conv C->2, stride (1, 2, 2), back to full size;
4. residual: ``output = input + half_resolution_path(input)``.

With C=32, depth=5, "2+1d" the block costs about 16 k multiply-adds per voxel, against 86 k for
the 5-layer 3x3x3 C=32 CNN of a D5-C5 cascade. Odd H or W are zero-padded to even and cropped back.
No full-resolution conv is used: on PyTorch's CPU backend a thin full-resolution path (3x3x3 convs
2->8->2) took 2-3 times as long as the whole half-resolution path, convs with few channels being
far from peak speed there.
"""

from __future__ import annotations

import torch
from torch import nn

from napari_dynmri.models.base import BlockNet
from napari_dynmri.models.layers import (
    ConvUnit,
    crop_to,
    downsample,
    make_activation,
    pad_even,
    upsample,
)


class FastBlock(nn.Module):
    """See the module docstring. Float ``(B, 2, T, H, W)`` -> same shape."""

    DEFAULTS = {
        "channels": 32,
        "depth": 5,
        "kernel": "2+1d",
        "activation": "relu",
        "batchnorm": False,
        "dropout": 0.0,
    }

    def __init__(self, channels, depth, kernel, activation, batchnorm, dropout):
        super().__init__()
        hidden = dict(kernel=kernel, activation=activation, batchnorm=batchnorm, dropout=dropout)
        self.coarse = nn.Sequential(
            downsample(2, channels, kernel),
            make_activation(activation),
            *(ConvUnit(channels, channels, **hidden) for _ in range(depth)),
            upsample(channels, 2, kernel),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        return x + crop_to(self.coarse(pad_even(x)), height, width)


class FastNet(BlockNet):
    """Registry model ``"fast"``: one :class:`FastBlock`, no data consistency."""

    architecture = "fast"
    block_class = FastBlock
