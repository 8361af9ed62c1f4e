"""Recognise centred k-space in input files and combine multi-coil k-space into one complex image.

Both follow the package FFT convention (:mod:`napari_dynmri.physics.fft`): DC at ``(H//2, W//2)``,
phase encoding along rows ``H``.
"""

from __future__ import annotations

import numpy as np

from napari_dynmri.physics.fft import ifft2c
from napari_dynmri.physics.masks import center_rows

# looks_like_kspace inspects at most this many frames (one FFT each), so it stays cheap on big files.
_HEURISTIC_FRAMES = 4


def _centre_energy_share(x: np.ndarray) -> float:
    """Fraction of the energy of ``x`` (..., H, W) inside the central box of about H/8 x W/8 pixels."""
    h, w = x.shape[-2:]
    dh, dw = max(1, h // 16), max(1, w // 16)
    energy = np.abs(x) ** 2
    total = float(energy.sum())
    if total == 0:
        return 0.0
    centre = energy[..., h // 2 - dh : h // 2 + dh + 1, w // 2 - dw : w // 2 + dw + 1]
    return float(centre.sum()) / total


def looks_like_kspace(x: np.ndarray, *, min_share: float = 0.5, min_ratio: float = 4.0) -> bool:
    """Guess whether a complex array ``(..., H, W)`` is centred k-space rather than an image.

    Heuristic: the k-space of an MR image keeps most of its energy near DC, which the centred
    convention puts at ``(H//2, W//2)``; an image spreads its energy over the object. So ``x`` is
    taken as k-space when the central box of about ``H/8 x W/8`` pixels (1/64 of the area) holds at
    least ``min_share`` of the energy of ``x`` *and* ``min_ratio`` times the share that the same box
    holds in ``ifft2c(x)`` (the other domain). Only the first few frames are transformed.

    Real arrays are never k-space (returns False). Known blind spots: un-centred k-space (DC in a
    corner) is not recognised, and an image whose only content is a small spot at the exact centre
    would be taken for k-space.
    """
    if not np.iscomplexobj(x) or x.ndim < 2 or x.size == 0:
        return False
    frames = x.reshape(-1, *x.shape[-2:])[:_HEURISTIC_FRAMES]
    share = _centre_energy_share(frames)
    return share >= min_share and share >= min_ratio * _centre_energy_share(ifft2c(frames))


def combine_coils(kspace: np.ndarray, acs_lines: int = 24) -> np.ndarray:
    """Combine multi-coil cine k-space into one complex image per frame (SENSE-1 with low-res maps).

    Root-sum-of-squares would discard the phase, so the coils are combined as
    ``x = sum_c conj(S_c) x_c / sum_c |S_c|^2`` with ``x_c = ifft2c(k_c)`` and sensitivities
    ``S_c = L_c / sqrt(sum_c |L_c|^2)`` estimated from the low-resolution coil images ``L_c``: the
    time-averaged k-space restricted to its central ``acs_lines`` rows (Hann-tapered to limit
    ringing). The result carries the phase of the object relative to the low-resolution phase, and,
    like root-sum-of-squares, its intensity is weighted by the coils' combined sensitivity.
    Pixels where every low-resolution coil image is zero come out as 0.

    Args:
        kspace: complex ``(..., T, C, H, W)`` centred k-space (e.g. ``(T, C, H, W)`` or
            ``(Z, T, C, H, W)``), phase encoding along ``H``.
        acs_lines: number of central rows used for the sensitivities (all rows when ``H`` is smaller).

    Returns:
        complex64 ``(..., T, H, W)``.
    """
    if kspace.ndim < 4 or not np.iscomplexobj(kspace):
        raise ValueError(f"combine_coils needs complex k-space (..., T, C, H, W), got {kspace.dtype} {kspace.shape}")
    n_rows = kspace.shape[-2]
    rows = center_rows(n_rows, min(acs_lines, n_rows))
    taper = np.hanning(rows.stop - rows.start + 2)[1:-1, None]  # no zero weight on the outer ACS rows
    lowres_k = np.zeros(kspace.shape[:-4] + kspace.shape[-3:], dtype=np.complex64)
    lowres_k[..., rows, :] = kspace[..., rows, :].mean(axis=-4) * taper
    lowres = ifft2c(lowres_k)[..., None, :, :, :]  # (..., 1, C, H, W): broadcast over T
    rss = np.sqrt(np.sum(np.abs(lowres) ** 2, axis=-3, keepdims=True))
    valid = rss > 1e-6 * float(rss.max())
    sens = np.where(valid, lowres / np.where(valid, rss, 1), 0)
    weight = np.sum(np.abs(sens) ** 2, axis=-3)
    image = np.sum(np.conj(sens) * ifft2c(kspace), axis=-3)
    return np.where(weight > 0, image / np.where(weight > 0, weight, 1), 0).astype(np.complex64)
