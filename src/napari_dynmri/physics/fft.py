"""Centred, orthonormal 2D Fourier transforms over the last two axes.

Convention (used everywhere in napari-dynmri)::

    k = fftshift(fft2(ifftshift(x), norm="ortho"))    over axes (-2, -1)
    x = fftshift(ifft2(ifftshift(k), norm="ortho"))

so the DC component of k-space sits at index ``(H // 2, W // 2)`` and both transforms
preserve the l2 norm (Parseval). The functions accept numpy arrays and torch tensors alike
(complex dtype, any leading axes, e.g. a cine ``(T, H, W)`` or a batch ``(B, T, H, W)``).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from napari_dynmri.physics._arrays import is_torch

Array = TypeVar("Array")

_AXES = (-2, -1)


def fft2c(x: Array) -> Array:
    """Image -> k-space. ``x``: complex (..., H, W); returns complex (..., H, W), DC at (H//2, W//2)."""
    if x.ndim < 2:
        raise ValueError(f"fft2c needs at least 2 axes (..., H, W), got shape {tuple(x.shape)}")
    if is_torch(x):
        import torch

        x = torch.fft.ifftshift(x, dim=_AXES)
        return torch.fft.fftshift(torch.fft.fft2(x, dim=_AXES, norm="ortho"), dim=_AXES)
    x = np.fft.ifftshift(x, axes=_AXES)
    k = np.fft.fftshift(np.fft.fft2(x, axes=_AXES, norm="ortho"), axes=_AXES)
    return k.astype(np.result_type(x.dtype, np.complex64), copy=False)


def ifft2c(k: Array) -> Array:
    """k-space -> image. ``k``: complex (..., H, W) with DC at (H//2, W//2); returns complex (..., H, W)."""
    if k.ndim < 2:
        raise ValueError(f"ifft2c needs at least 2 axes (..., H, W), got shape {tuple(k.shape)}")
    if is_torch(k):
        import torch

        k = torch.fft.ifftshift(k, dim=_AXES)
        return torch.fft.fftshift(torch.fft.ifft2(k, dim=_AXES, norm="ortho"), dim=_AXES)
    k = np.fft.ifftshift(k, axes=_AXES)
    x = np.fft.fftshift(np.fft.ifft2(k, axes=_AXES, norm="ortho"), axes=_AXES)
    return x.astype(np.result_type(k.dtype, np.complex64), copy=False)
