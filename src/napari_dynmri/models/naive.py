"""The plain residual CNN of Schlemper et al.'s deep cascade: ``depth`` convolutions at full resolution.

Layers: conv 2->C, (depth - 2) convs C->C, conv C->2 (no activation after it), and the residual
``output = input + net(input)``. ``depth=4`` (the default) is the "naive" network of the report;
``depth=5`` is the CNN of Schlemper's D5-C5 cascade.
"""

from __future__ import annotations

import torch
from torch import nn

from napari_dynmri.models.base import BlockNet
from napari_dynmri.models.layers import ConvUnit


class NaiveBlock(nn.Module):
    """Residual full-resolution CNN on the 2-channel view: float ``(B, 2, T, H, W)`` -> same shape."""

    DEFAULTS = {
        "channels": 32,
        "depth": 4,
        "kernel": "3d",
        "activation": "relu",
        "batchnorm": False,
        "dropout": 0.0,
    }

    def __init__(self, channels, depth, kernel, activation, batchnorm, dropout):
        super().__init__()
        if depth < 2:
            raise ValueError(f"a naive block needs depth >= 2 (input and output convs), got {depth}")
        hidden = dict(kernel=kernel, activation=activation, batchnorm=batchnorm, dropout=dropout)
        layers = [ConvUnit(2, channels, **hidden)]
        layers += [ConvUnit(channels, channels, **hidden) for _ in range(depth - 2)]
        layers.append(ConvUnit(channels, 2, kernel=kernel, activation=activation, final=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class NaiveNet(BlockNet):
    """Registry model ``"naive"``: one :class:`NaiveBlock`, no data consistency."""

    architecture = "naive"
    block_class = NaiveBlock
