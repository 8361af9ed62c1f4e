"""U-Net-like residual CNN over space and time with one level of spatial down-sampling.

Layers (C = ``channels``):

1. down-sampling: strided conv 2->C, stride (1, 2, 2) over (T, H, W), activation;
2. ``depth`` (default 8) convs C->C at half resolution in H and W;
3. up-sampling: transposed conv C->C, stride (1, 2, 2), activation;
4. skip connection: the up-sampled features are concatenated with the block input (full resolution)
   and a conv (C + 2)->2 fuses them; with ``kernel="2+1d"`` its frame-wise part has
   ``fuse_channels`` outputs (0: C + 2). This full-resolution layer dominates the block's cost, so a
   small ``fuse_channels`` (such as 4) makes the block several times cheaper;
5. residual: ``output = input + fused``.

Odd H or W are zero-padded to even before step 1 and cropped back after step 3.
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


class DownUpBlock(nn.Module):
    """See the module docstring. Float ``(B, 2, T, H, W)`` -> same shape."""

    DEFAULTS = {
        "channels": 32,
        "depth": 8,
        "kernel": "3d",
        "activation": "relu",
        "batchnorm": False,
        "dropout": 0.0,
        "fuse_channels": 0,
    }

    def __init__(self, channels, depth, kernel, activation, batchnorm, dropout, fuse_channels):
        super().__init__()
        hidden = dict(kernel=kernel, activation=activation, batchnorm=batchnorm, dropout=dropout)
        self.down = nn.Sequential(downsample(2, channels, kernel), make_activation(activation))
        self.body = nn.Sequential(*(ConvUnit(channels, channels, **hidden) for _ in range(depth)))
        self.up = nn.Sequential(upsample(channels, channels, kernel), make_activation(activation))
        self.fuse = ConvUnit(channels + 2, 2, kernel=kernel, activation=activation, final=True,
                             middle_channels=fuse_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        features = crop_to(self.up(self.body(self.down(pad_even(x)))), height, width)
        return x + self.fuse(torch.cat((features, x), dim=1))


class DownUpNet(BlockNet):
    """Registry model ``"complex"``: one :class:`DownUpBlock`, no data consistency."""

    architecture = "complex"
    block_class = DownUpBlock
