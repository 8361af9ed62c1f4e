"""Building blocks shared by the reconstruction networks.

Networks see a complex cine batch ``(B, T, H, W)`` as a real tensor ``(B, 2, T, H, W)`` whose two
channels are the real and imaginary parts (:func:`complex_to_channels`,
:func:`channels_to_complex`). Convolutions run over ``(T, H, W)``.

Kernels (the ``kernel`` option of every block):

``"3d"``
    one 3x3x3 ``Conv3d`` per layer.
``"2+1d"``
    a factorised layer: a 1x3x3 spatial conv, activation, then a 3x1x1 temporal conv (Tran et al.,
    CVPR 2018). It has the receptive field of 3x3x3 for 12/27 (44 %) of its multiply-adds when the channel
    count is constant: a lever for CPU speed.

PyTorch's CPU backend runs ``conv3d`` far slower than ``conv2d`` for the same work (forward plus
backward of a 1x3x3 ``conv3d`` on (1, 24, 8, 64, 32): 285 ms, against 61 ms as a frame-wise
``conv2d``), so kernels that are flat in one direction run as 2D convolutions:
:class:`FramewiseConv3d` / :class:`FramewiseConvTranspose3d` (1 x k x k, frames folded into the
batch) and :class:`TemporalConv3d` (k x 1 x 1, a ``conv2d`` over ``(T, H * W)``). Their parameters
and state-dict entries are those of the ``nn.Conv3d`` / ``nn.ConvTranspose3d`` they replace.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ("relu", "leaky_relu", "gelu", "silu")
KERNELS = ("3d", "2+1d")


def complex_to_channels(x: torch.Tensor) -> torch.Tensor:
    """Complex ``(B, T, H, W)`` -> real ``(B, 2, T, H, W)``: channel 0 is the real part, 1 the imaginary."""
    if not torch.is_complex(x) or x.ndim != 4:
        raise ValueError(f"expected a complex (B, T, H, W) tensor, got {x.dtype} {tuple(x.shape)}")
    return torch.stack((x.real, x.imag), dim=1)


def channels_to_complex(y: torch.Tensor) -> torch.Tensor:
    """Real ``(B, 2, T, H, W)`` (real, imaginary channels) -> complex ``(B, T, H, W)``."""
    if torch.is_complex(y) or y.ndim != 5 or y.shape[1] != 2:
        raise ValueError(f"expected a real (B, 2, T, H, W) tensor, got {y.dtype} {tuple(y.shape)}")
    return torch.complex(y[:, 0], y[:, 1])


def make_activation(name: str) -> nn.Module:
    """The activation module called ``name`` (one of ``ACTIVATIONS``)."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "leaky_relu":
        return nn.LeakyReLU(0.01, inplace=True)
    if name == "gelu":
        return nn.GELU()
    if name == "silu":
        return nn.SiLU(inplace=True)
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


class TemporalConv3d(nn.Conv3d):
    """A ``Conv3d`` with kernel ``(k, 1, 1)`` (time only), computed as a ``conv2d`` over ``(T, H * W)``.

    Same parameters and state-dict entries as ``nn.Conv3d(in, out, (k, 1, 1), padding=(k // 2, 0, 0))``.
    Input float ``(B, in, T, H, W)``, output ``(B, out, T, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, size: int = 3):
        super().__init__(in_channels, out_channels, (size, 1, 1), padding=(size // 2, 0, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x.flatten(3), self.weight.squeeze(-1), self.bias, padding=(self.padding[0], 0))
        return y.unflatten(3, x.shape[3:])


def _frames_to_batch(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, T, H, W)`` -> ``(B * T, C, H, W)``."""
    return x.transpose(1, 2).flatten(0, 1)


def _batch_to_frames(y: torch.Tensor, batch: int) -> torch.Tensor:
    """``(B * T, C, H, W)`` -> ``(B, C, T, H, W)``."""
    return y.unflatten(0, (batch, -1)).transpose(1, 2)


class FramewiseConv3d(nn.Conv3d):
    """A ``Conv3d`` whose kernel spans one frame (``(1, kh, kw)``), computed frame by frame as a ``conv2d``.

    Input float ``(B, in, T, H, W)``, output ``(B, out, T, H', W')`` (stride and padding act on H, W).
    """

    def __init__(self, in_channels: int, out_channels: int, size: tuple[int, int], stride: int = 1, padding: int = 0):
        super().__init__(in_channels, out_channels, (1, *size), stride=(1, stride, stride), padding=(0, padding, padding))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(_frames_to_batch(x), self.weight[:, :, 0], self.bias, self.stride[1:], self.padding[1:])
        return _batch_to_frames(y, x.shape[0])


class FramewiseConvTranspose3d(nn.ConvTranspose3d):
    """A ``ConvTranspose3d`` with kernel ``(1, kh, kw)``, computed frame by frame as a ``conv_transpose2d``.

    Input float ``(B, in, T, h, w)``, output ``(B, out, T, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, size: tuple[int, int], stride: int = 1, padding: int = 0):
        super().__init__(in_channels, out_channels, (1, *size), stride=(1, stride, stride), padding=(0, padding, padding))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv_transpose2d(_frames_to_batch(x), self.weight[:, :, 0], self.bias, self.stride[1:], self.padding[1:])
        return _batch_to_frames(y, x.shape[0])


class ConvUnit(nn.Sequential):
    """One convolution layer ``in_channels -> out_channels`` over ``(T, H, W)``, size preserving.

    A hidden layer is conv [-> BatchNorm3d] -> activation [-> Dropout3d]. With ``final=True`` the
    layer is the bare convolution (an output layer: no normalisation, activation or dropout after it).
    With ``kernel="2+1d"`` the convolution is a 1x3x3 conv to ``middle_channels`` channels (0:
    ``max(in, out)``), the activation, then a 3x1x1 conv (see the module docstring).
    Input and output: float ``(B, C, T, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: str = "3d",
        activation: str = "relu",
        batchnorm: bool = False,
        dropout: float = 0.0,
        final: bool = False,
        middle_channels: int = 0,
    ):
        layers: list[nn.Module] = []
        if kernel == "3d":
            layers.append(nn.Conv3d(in_channels, out_channels, 3, padding=1))
        elif kernel == "2+1d":
            middle = middle_channels or max(in_channels, out_channels)
            layers += [
                FramewiseConv3d(in_channels, middle, (3, 3), padding=1),
                make_activation(activation),
                TemporalConv3d(middle, out_channels, 3),
            ]
        else:
            raise ValueError(f"unknown kernel {kernel!r}; choose one of {', '.join(KERNELS)}")
        if not final:
            if batchnorm:
                layers.append(nn.BatchNorm3d(out_channels))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout3d(dropout))
        super().__init__(*layers)


def resample_kernel(kernel: str) -> tuple[int, int, int]:
    """Kernel of the stride-(1, 2, 2) down/up-sampling convs: 4x4 in space (a multiple of the stride,
    so no checkerboard), 3 frames in time for ``"3d"`` and 1 frame for ``"2+1d"``."""
    return (3 if kernel == "3d" else 1, 4, 4)


def downsample(in_channels: int, out_channels: int, kernel: str) -> nn.Conv3d:
    """Strided conv halving H and W (which must be even): ``(B, in, T, H, W) -> (B, out, T, H/2, W/2)``."""
    size = resample_kernel(kernel)
    if size[0] == 1:
        return FramewiseConv3d(in_channels, out_channels, size[1:], stride=2, padding=1)
    return nn.Conv3d(in_channels, out_channels, size, stride=(1, 2, 2), padding=(size[0] // 2, 1, 1))


def upsample(in_channels: int, out_channels: int, kernel: str) -> nn.ConvTranspose3d:
    """Transposed conv doubling H and W: ``(B, in, T, h, w) -> (B, out, T, 2h, 2w)``."""
    size = resample_kernel(kernel)
    if size[0] == 1:
        return FramewiseConvTranspose3d(in_channels, out_channels, size[1:], stride=2, padding=1)
    return nn.ConvTranspose3d(
        in_channels, out_channels, size, stride=(1, 2, 2), padding=(size[0] // 2, 1, 1)
    )


def pad_even(y: torch.Tensor) -> torch.Tensor:
    """Zero-pad H and W of ``(B, C, T, H, W)`` at the far side up to even sizes (for a stride-2 layer)."""
    return F.pad(y, (0, y.shape[-1] % 2, 0, y.shape[-2] % 2))


def crop_to(y: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop ``(..., H', W')`` back to ``(..., height, width)`` (undoes :func:`pad_even`)."""
    return y[..., :height, :width]
