"""Sobel edge magnitude and the edge distance used by the edge-aware loss.

``sobel_magnitude`` is shared by training (torch tensors, differentiable) and the napari Compare
widget (numpy magnitude cines, to show edge layers): one implementation, numpy goes through torch.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

Image = TypeVar("Image", np.ndarray, torch.Tensor)

# Horizontal derivative [-1, 0, 1] smoothed vertically by [1, 2, 1]; the vertical kernel is its transpose.
_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))

# Keeps the gradient of the square root finite where both images are flat (units: intensity^2).
EDGE_EPS = 1e-12


def require_same_shape(out: torch.Tensor, target: torch.Tensor) -> None:
    """Raise ValueError unless ``out`` and ``target`` have the same shape."""
    if out.shape != target.shape:
        raise ValueError(
            f"out and target must have the same shape, got {tuple(out.shape)} and {tuple(target.shape)}."
        )


def require_cine_batch(out: torch.Tensor, target: torch.Tensor) -> None:
    """Raise ValueError unless ``out`` and ``target`` are both batches of cines of shape (B, T, H, W)."""
    require_same_shape(out, target)
    if out.ndim != 4:
        raise ValueError(f"Expected tensors of shape (B, T, H, W), got shape {tuple(out.shape)}.")


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


def edge_distance(out: torch.Tensor, target: torch.Tensor, eps: float = EDGE_EPS) -> torch.Tensor:
    """Mean squared difference of the Sobel magnitudes of ``|out|`` and ``|target|``.

    out, target: complex (or real) tensors of the same shape (..., H, W). Returns a real scalar
    ``mean(|Sobel(|out|) - Sobel(|target|)|^2)``, exactly 0 for identical inputs.
    """
    require_same_shape(out, target)
    return (sobel_magnitude(out.abs(), eps) - sobel_magnitude(target.abs(), eps)).square().mean()
