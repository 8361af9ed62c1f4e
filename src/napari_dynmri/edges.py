"""Sobel edge magnitude of real images: the one implementation of "edges" in the package.

``sobel_magnitude`` is shared by the Sobel edge loss (``losses.edges``: torch tensors, differentiable)
and the napari Compare widget (numpy magnitude cines, shown as edge layers). It lives on the ground
floor (docs/architecture.md), beside ``validation``, so the plugin draws edges without importing the
training losses. Numpy input goes through the same torch convolution, so both see identical edges.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

Image = TypeVar("Image", np.ndarray, torch.Tensor)

# Horizontal derivative [-1, 0, 1] smoothed vertically by [1, 2, 1]; the vertical kernel is its transpose.
_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


def sobel_magnitude(x: Image, eps: float = 0.0) -> Image:
    """Sobel edge magnitude ``sqrt(Gx^2 + Gy^2 + eps)`` of real images, per image over the last two axes.

    x: real array or tensor (..., H, W), e.g. a magnitude cine (T, H, W); integer input is converted
    to float32. Gx, Gy are cross-correlations with the standard 3x3 Sobel kernels
    ([1, 2, 1]^T x [-1, 0, 1] and its transpose) after replicate padding, so the output has the input's
    shape: a vertical step of height s gives 4*s on the two columns beside the step, a constant image 0.
    Units are those of x (per pixel). ``eps`` > 0 makes the result differentiable at flat regions.
    Returns the same kind as the input: numpy in -> numpy out (float64 for float64, else float32),
    torch in -> torch out on the same device, differentiable.
    """
    if isinstance(x, np.ndarray):
        dtype = np.float64 if x.dtype == np.float64 else np.float32
        if np.iscomplexobj(x):
            raise ValueError("sobel_magnitude needs a real image; take the magnitude (np.abs) first.")
        return sobel_magnitude(torch.from_numpy(np.ascontiguousarray(x, dtype=dtype)), eps).numpy()
    if x.ndim < 2:
        raise ValueError(f"sobel_magnitude needs images of shape (..., H, W), got shape {tuple(x.shape)}.")
    if x.is_complex():
        raise ValueError("sobel_magnitude needs a real image; take the magnitude (abs) first.")
    if not x.is_floating_point():
        x = x.float()
    height, width = x.shape[-2:]
    images = x.reshape(-1, 1, height, width)
    # Replicate padding by concatenation: F.pad(mode="replicate") has no deterministic CUDA backward.
    images = torch.cat([images[..., :1, :], images, images[..., -1:, :]], dim=-2)
    images = torch.cat([images[..., :1], images, images[..., -1:]], dim=-1)
    sobel_x = torch.tensor(_SOBEL_X, dtype=x.dtype, device=x.device)
    kernels = torch.stack([sobel_x, sobel_x.T]).unsqueeze(1)  # (2, 1, 3, 3): Gx, Gy
    gradients = F.conv2d(images, kernels)  # (N, 2, H, W)
    return torch.sqrt(gradients.square().sum(dim=1) + eps).reshape(x.shape)
