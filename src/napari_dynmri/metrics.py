"""Image-quality metrics of cine reconstructions, one convention for CLI, widgets and benchmarks.

Convention (the project's benchmark protocol): every metric compares magnitudes ``|recon|`` and
``|target|`` of cines ``(T, H, W)``; ``data_range = max |target|`` over the whole sequence;
SSIM is scikit-image's ``structural_similarity`` per frame with that data range, averaged over
frames. Sequence PSNR uses the mean squared error over all frames; per-frame PSNR uses the same
sequence data range. Summaries across sequences are mean and (population) standard deviation.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def _magnitudes(recon, target) -> tuple[np.ndarray, np.ndarray, float]:
    recon = np.abs(np.asarray(recon)).astype(np.float64)
    target = np.abs(np.asarray(target)).astype(np.float64)
    if recon.shape != target.shape or target.ndim != 3:
        raise ValueError(
            f"recon and target must both be cines (T, H, W) of one shape, got {recon.shape} and {target.shape}"
        )
    data_range = float(target.max())
    if data_range <= 0:
        raise ValueError("the target is all zeros: PSNR and SSIM are undefined")
    return recon, target, data_range


def _psnr_from_mse(mse, data_range: float):
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / np.asarray(mse))


def psnr(recon, target) -> float:
    """PSNR in dB of a cine ``(T, H, W)`` (complex or real) against its reference."""
    recon, target, data_range = _magnitudes(recon, target)
    return float(_psnr_from_mse(np.mean((recon - target) ** 2), data_range))


def psnr_per_frame(recon, target) -> np.ndarray:
    """PSNR in dB of each frame, ``(T,)``, with the sequence's data range."""
    recon, target, data_range = _magnitudes(recon, target)
    return _psnr_from_mse(np.mean((recon - target) ** 2, axis=(1, 2)), data_range)


def ssim_per_frame(recon, target) -> np.ndarray:
    """SSIM of each frame, ``(T,)`` (scikit-image, default 7x7 window, sequence data range)."""
    recon, target, data_range = _magnitudes(recon, target)
    return np.array(
        [structural_similarity(t, r, data_range=data_range) for r, t in zip(recon, target)]
    )


def ssim(recon, target) -> float:
    """Mean of :func:`ssim_per_frame`."""
    return float(ssim_per_frame(recon, target).mean())


def nmse(recon, target) -> float:
    """Normalised mean squared error ``||r - t||^2 / ||t||^2`` of the magnitudes."""
    recon, target, _ = _magnitudes(recon, target)
    return float(np.sum((recon - target) ** 2) / np.sum(target**2))


def evaluate(recon, target) -> dict:
    """All metrics of one cine: ``psnr``, ``ssim``, ``nmse`` (floats) and ``psnr_per_frame``,
    ``ssim_per_frame`` (``(T,)`` arrays)."""
    per_frame_ssim = ssim_per_frame(recon, target)
    return {
        "psnr": psnr(recon, target),
        "ssim": float(per_frame_ssim.mean()),
        "nmse": nmse(recon, target),
        "psnr_per_frame": psnr_per_frame(recon, target),
        "ssim_per_frame": per_frame_ssim,
    }


def summarize(values) -> tuple[float, float]:
    """Mean and population standard deviation of per-sequence values (a sequence of floats)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("nothing to summarise: no values")
    return float(values.mean()), float(values.std())
