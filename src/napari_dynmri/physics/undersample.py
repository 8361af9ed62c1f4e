"""Cartesian cine acquisition: forward model, simulated undersampling, data consistency.

Shapes: images and k-space are complex ``(..., T, H, W)``; masks are bool (or 0/1 float)
``(T, H, W)`` and broadcast over leading axes. Multi-coil k-space is ``(..., T, C, H, W)`` with coil
sensitivities ``(C, H, W)`` (:func:`sense_data_consistency`). The functions accept numpy arrays or torch tensors
(all arguments of one call from the same library).
"""

from __future__ import annotations

import numpy as np

from napari_dynmri.physics._arrays import is_torch
from napari_dynmri.physics.fft import fft2c, ifft2c


def _check_pair(a, b, what: str) -> None:
    if tuple(a.shape[-3:]) != tuple(b.shape[-3:]):
        raise ValueError(
            f"{what}: shapes {tuple(a.shape)} and {tuple(b.shape)} disagree on (T, H, W)"
        )


def forward(x, mask):
    """Acquisition operator ``A x = M F x``: image ``(..., T, H, W)`` -> masked k-space, same shape."""
    _check_pair(x, mask, "forward")
    return fft2c(x) * mask


def adjoint(k, mask):
    """Adjoint ``A^H k = F^H M k``: k-space ``(..., T, H, W)`` -> image, same shape."""
    _check_pair(k, mask, "adjoint")
    return ifft2c(k * mask)


def undersample(
    target: np.ndarray, mask: np.ndarray, noise_sigma: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate an undersampled acquisition of a fully sampled cine.

    Args:
        target: complex (T, H, W) image (numpy).
        mask: bool (T, H, W) sampling pattern.
        noise_sigma: standard deviation of complex white Gaussian noise added to each sampled k-space
            value (real and imaginary parts each ``noise_sigma / sqrt(2)``), in the units of ``target``
            (the FFT is orthonormal, so image-domain noise has the same standard deviation).
        seed: seed of the noise draw.

    Returns:
        kspace: complex64 (T, H, W), ``fft2c(target) * mask`` plus noise on sampled positions.
        zero_filled: complex64 (T, H, W), ``ifft2c(kspace)``.
    """
    target = np.asarray(target)
    mask = np.asarray(mask, dtype=bool)
    if target.ndim != 3:
        raise ValueError(f"target must be a cine (T, H, W), got shape {target.shape}")
    _check_pair(target, mask, "undersample")
    if noise_sigma < 0:
        raise ValueError(f"noise_sigma must be >= 0, got {noise_sigma}")
    kspace = fft2c(target.astype(np.complex64))
    if noise_sigma > 0:
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape)
        kspace = kspace + (noise_sigma / np.sqrt(2.0) * noise).astype(np.complex64)
    kspace = (kspace * mask).astype(np.complex64)
    return kspace, ifft2c(kspace).astype(np.complex64)


def data_consistency(x, k0, mask, noise_level=None):
    """Data-consistency step of Schlemper et al. (IEEE TMI 2018) in image space.

    ``x``: current image estimate, complex ``(..., T, H, W)``; ``k0``: measured k-space (zero where
    not sampled), same shape; ``mask``: bool ``(T, H, W)`` (or broadcastable).
    With ``noise_level=None`` sampled k-space values are replaced by ``k0`` exactly (noiseless
    case). Otherwise, with ``v = noise_level`` (a float or a tensor, learnable in networks),
    ``k = (1 - m) k + m (k + v k0) / (1 + v)``. Returns the image ``ifft2c(k)``.
    """
    _check_pair(x, k0, "data_consistency")
    k = fft2c(x)
    if is_torch(x):
        import torch

        sampled = mask.to(torch.bool) if mask.dtype != torch.bool else mask
        measured = k0 if noise_level is None else (k + noise_level * k0) / (1 + noise_level)
        return ifft2c(torch.where(sampled, measured, k))
    sampled = np.asarray(mask, dtype=bool)
    measured = k0 if noise_level is None else (k + noise_level * k0) / (1 + noise_level)
    return ifft2c(np.where(sampled, measured, k))


def sense_data_consistency(x, k0, mask, maps, noise_level=None):
    """The data-consistency step of coil data: ``x - g S^H F^H M (F S x - k0)``.

    ``x``: image estimate, complex ``(..., T, H, W)``; ``k0``: measured coil k-space ``(..., T, C, H, W)``
    (zero where not sampled); ``mask``: bool ``(..., T, H, W)``; ``maps``: coil sensitivities
    ``(C, H, W)`` with ``sum_c |S_c|^2 <= 1`` (as ESPIRiT's), so the step descends on ``||M F S x - k0||``.
    ``g`` is 1 with ``noise_level=None`` and ``v / (1 + v)`` otherwise, as :func:`data_consistency`, to
    which it reduces for one coil of ones (a unit gradient step is exact DC there). With several coils
    it is the gradient (proximal) SENSE step of MoDL / VarNet: no image makes every coil consistent.
    """
    _check_pair(x, mask, "sense_data_consistency")
    if tuple(k0.shape[-4:]) != (x.shape[-3], maps.shape[0], *x.shape[-2:]) or tuple(maps.shape[1:]) != tuple(
            x.shape[-2:]):
        raise ValueError(f"sense_data_consistency: coil k-space {tuple(k0.shape)} and maps {tuple(maps.shape)} "
                         f"do not match the images {tuple(x.shape)} as (..., T, C, H, W) and (C, H, W)")
    residual = (fft2c(x[..., None, :, :] * maps) - k0) * mask[..., None, :, :]
    step = (ifft2c(residual) * maps.conj()).sum(-3)
    return x - (step if noise_level is None else noise_level / (1 + noise_level) * step)
