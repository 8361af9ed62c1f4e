"""The edge distance of the edge-aware loss, on the package's one Sobel (``napari_dynmri.edges``)."""

from __future__ import annotations

import torch

from napari_dynmri.edges import sobel_magnitude
from napari_dynmri.validation import check_same_shape

# Keeps the gradient of the square root finite where both images are flat (units: intensity^2).
EDGE_EPS = 1e-12


def edge_distance(out: torch.Tensor, target: torch.Tensor, eps: float = EDGE_EPS) -> torch.Tensor:
    """Mean squared difference of the Sobel magnitudes of ``|out|`` and ``|target|``.

    out, target: complex (or real) tensors of the same shape (..., H, W). Returns a real scalar
    ``mean(|Sobel(|out|) - Sobel(|target|)|^2)``, exactly 0 for identical inputs.
    """
    check_same_shape(out, target, "out and target")
    return (sobel_magnitude(out.abs(), eps) - sobel_magnitude(target.abs(), eps)).square().mean()
