"""The x-f sparsity solver on torch tensors: the core of ``cs-xf`` and of cascades that start from it.

Solves ``minimise_x 0.5 ||M F x - y||^2 + lam ||F_t x||_1`` for centred k-space ``y`` (complex
``(..., T, H, W)``, zero where not sampled), mask ``M`` and the centred orthonormal per-frame 2D FFT
``F``; ``F_t`` is the orthonormal FFT over time (axis -3). Every leading index is its own problem,
normalised by its own ``max |F^H y|``, so ``lam`` is relative to image brightness. FISTA with unit
steps (``M F`` has norm 1): each gradient step is exact data consistency, then a soft threshold
of the temporal spectrum. The numpy-facing methods are in :mod:`napari_dynmri.recon.sparse`.
"""

from __future__ import annotations

import numpy as np
import torch

_SPATIAL = (-2, -1)


def soft_threshold(x, threshold: float):
    """Complex soft threshold ``x * max(1 - t / |x|, 0)`` (the proximal map of ``t ||x||_1``), torch."""
    return x * torch.clamp(1.0 - threshold / torch.clamp(x.abs(), min=1e-12), min=0.0)


def temporal_fft(x):
    """Orthonormal FFT over time (axis -3) of a complex torch tensor ``(..., T, H, W)``."""
    return torch.fft.fft(x, dim=-3, norm="ortho")


def temporal_ifft(x):
    """Inverse of :func:`temporal_fft`."""
    return torch.fft.ifft(x, dim=-3, norm="ortho")


class NormalisedProblem:
    """Normalised k-space and mask in the uncentred FFT layout, and the operators on them.

    Torch tensors ``(..., T, H, W)``: every leading index is its own problem, normalised by its
    own ``max |zero-filled|``. The thresholds act pixel by pixel (and the Casorati matrix does not
    care about the pixel order), so the solvers work with k-space and image both ifftshifted and
    skip the shifts.
    """

    def __init__(self, kspace, mask):
        mask = torch.fft.ifftshift(mask, dim=_SPATIAL)
        y = torch.fft.ifftshift(kspace, dim=_SPATIAL) * mask
        peak = torch.fft.ifft2(y, norm="ortho").abs().amax(dim=(-3, -2, -1), keepdim=True)
        # an all-zero problem keeps scale 1 and stays at zero
        self.scale = torch.where(peak > 0, peak, torch.ones_like(peak))
        self.y = y / self.scale
        self.mask = mask

    def adjoint(self):
        """The (normalised) zero-filled image ``F^H y``."""
        return torch.fft.ifft2(self.y, norm="ortho")

    def consistent(self, x):
        """``x - F^H (M F x - y)``: the sampled k-space of ``x`` replaced by ``y``."""
        k = torch.fft.fft2(x, norm="ortho")
        return torch.fft.ifft2(torch.where(self.mask, self.y, k), norm="ortho")

    def residual(self, x):
        """``M F x - y`` (a gradient step of size ``a`` is ``x - a F^H residual``)."""
        return torch.fft.fft2(x, norm="ortho") * self.mask - self.y

    def result(self, x):
        """A normalised image back in the centred layout and the units of the input k-space."""
        return torch.fft.fftshift(x * self.scale, dim=_SPATIAL)


def xf_fista(kspace, mask, lam: float, iterations: int, progress=None, before_step=None):
    """The ``cs-xf`` solver on torch tensors: complex ``(..., T, H, W)`` centred k-space, bool mask.

    ``mask`` broadcasts against ``kspace`` (e.g. ``(1, T, H, W)`` for a batch); each leading
    index is solved on its own with weight ``lam`` relative to its own ``max |zero-filled|``.
    Returns the complex ``(..., T, H, W)`` image in the units of ``ifft2c(kspace)``. Differentiable
    (no in-place updates), though networks call it without gradients. ``progress(done, iterations)``
    is called after each iteration, ``before_step()`` before each (it may raise to stop the solver).
    """
    problem = NormalisedProblem(kspace, mask)
    x = problem.adjoint()
    z, t = x, 1.0
    for done in range(iterations):
        if before_step is not None:
            before_step()
        previous = x
        x = temporal_ifft(soft_threshold(temporal_fft(problem.consistent(z)), lam))
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        z = x + ((t - 1.0) / t_next) * (x - previous)
        t = t_next
        if progress is not None:
            progress(done + 1, iterations)
    return problem.result(x)
