"""Multi-coil acquisitions of a cine, for tests and training: smooth coil maps and correlated noise.

:func:`simulate_multicoil` multiplies each frame by birdcage sensitivities (root-sum-of-squares 1, so the
SENSE combination with the true maps gives the cine back), takes each coil image to k-space, keeps the
lines of a seeded mask (fully sampled by default; optionally a partial-Fourier cut of the first rows) and
adds complex Gaussian noise whose coil covariance is ``sigma^2 * correlation^d`` (``d`` the distance of two
coils around the ring), with noise-only samples of the same statistics as an ISMRMRD scanner records
them. The readout can be stored ``readout_oversampling`` times oversampled (the object padded with zeros
in image space), as scanners do. :meth:`MultiCoilSimulation.write_ismrmrd` writes it with the
``ismrmrd`` package; :func:`napari_dynmri.io.raw.read_raw` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_dynmri import validation
from napari_dynmri.physics import Acquisition, actual_acceleration
from napari_dynmri.physics.coils import birdcage_maps, correlated_noise_covariance
from napari_dynmri.physics.fft import fft2c

NOISE_CORRELATION = 0.3
NOISE_SAMPLES = 2048


@dataclass
class MultiCoilSimulation:
    """A simulated multi-coil acquisition.

    ``kspace`` complex64 ``(T, C, H, W * readout_oversampling)`` (unmeasured lines 0, noise on measured
    ones), ``mask`` bool ``(T, H, W)``, ``maps`` complex64 ``(C, H, W)``, ``target`` complex64 ``(T, H, W)``,
    ``noise_covariance`` ``(C, C)``, ``noise`` complex64 ``(C, N)`` noise-only samples or None, ``meta``.
    """

    kspace: np.ndarray
    mask: np.ndarray
    maps: np.ndarray
    target: np.ndarray
    noise_covariance: np.ndarray
    noise: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def write_ismrmrd(self, path, overwrite: bool = False, one_by_one: bool = False) -> Path:
        """Write the measured lines (and noise scans) as an ISMRMRD file (:func:`~napari_dynmri.io.raw.
        ismrmrd_file.write_ismrmrd`), with the field of view of the pixel spacing in ``meta``."""
        from napari_dynmri.io.raw.ismrmrd_file import write_ismrmrd

        h, w = self.target.shape[-2:]
        spacing = self.meta.get("pixel_spacing_mm") or (1.0, 1.0)
        return write_ismrmrd(path, self.kspace, self.mask, recon_width=w, fov_mm=(h * spacing[0], w * spacing[1]),
                             noise=self.noise, overwrite=overwrite, one_by_one=one_by_one)


def simulate_multicoil(target: np.ndarray, n_coils: int = 8, *, acquisition: Acquisition | None = None,
                       noise_sigma: float = 0.0, correlation: float = NOISE_CORRELATION, seed: int = 0,
                       readout_oversampling: int = 1, partial_fourier: float = 1.0,
                       noise_samples: int = NOISE_SAMPLES, maps: np.ndarray | None = None,
                       pixel_spacing_mm=None, source: str = "") -> MultiCoilSimulation:
    """Multi-coil k-space of ``target`` (complex ``(T, H, W)``); see the module docstring.

    Args:
        n_coils: number of birdcage coils (ignored when ``maps`` ``(C, H, W)`` are given).
        acquisition: the mask (kind, acceleration, centre lines, seed); None: every line. Its noise is not
            used: ``noise_sigma`` is.
        noise_sigma: per-coil noise standard deviation (complex, ``E|n|^2 = sigma^2``), units of ``target``.
        correlation: noise correlation of neighbouring coils, in ``[0, 1)``.
        readout_oversampling: integer factor of the stored readout (1: none, 2: as scanners).
        partial_fourier: share of the rows kept from the end of k-space (e.g. 0.75: the first quarter of
            the lines is not measured); at least the upper half plus the centre is kept.
        noise_samples: noise-only samples per coil recorded when ``noise_sigma > 0``.
    """
    where = source or "the target"
    target = validation.cast_finite(target, np.complex64, where, "the target")
    validation.check_image_shape(target.shape, where, "the target")
    n_frames, h, w = target.shape
    if not (np.isfinite(noise_sigma) and noise_sigma >= 0):
        raise validation.fail(where, f"the noise sigma must be a finite number >= 0, got {noise_sigma!r}")
    if not isinstance(readout_oversampling, (int, np.integer)) or not 1 <= readout_oversampling <= 8:
        raise validation.fail(where, f"the readout oversampling must be an integer from 1 to 8, got {readout_oversampling!r}")
    if not 0.5 < partial_fourier <= 1:
        raise validation.fail(where, f"the partial Fourier share must be in (0.5, 1], got {partial_fourier!r}")
    given_maps = maps is not None
    if maps is None:
        if not 1 <= int(n_coils) <= 128:
            raise validation.fail(where, f"the number of coils must be between 1 and 128, got {n_coils!r}")
        maps = birdcage_maps(int(n_coils), (h, w))
    maps = np.asarray(maps, dtype=np.complex64)
    if maps.shape[1:] != (h, w):
        raise validation.fail(where, f"coil maps {maps.shape} do not match the target's {h} x {w} pixels")
    n_coils = maps.shape[0]
    if acquisition is None:
        rows = np.ones((n_frames, h), bool)
    else:
        acquisition.check_rows(h, where)
        rows = acquisition.mask(target.shape)[..., 0]
    first_row = h - int(round(partial_fourier * h))
    first_row = min(first_row, h // 2 - 1) if partial_fourier < 1 else 0
    rows[:, :first_row] = False
    pad = (readout_oversampling - 1) * w
    left = (w * readout_oversampling) // 2 - w // 2
    coil_images = target[:, None] * maps[None]  # (T, C, H, W)
    if pad:
        coil_images = np.pad(coil_images, ((0, 0), (0, 0), (0, 0), (left, pad - left)))
    kspace = fft2c(coil_images) * rows[:, None, :, None]
    covariance = correlated_noise_covariance(n_coils, noise_sigma, correlation)
    noise = None
    if noise_sigma > 0:
        rng = np.random.default_rng(seed)
        factor = np.linalg.cholesky(covariance)

        def draw(shape):
            white = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
            return np.einsum("dc,c...->d...", factor, white)

        kspace = kspace + np.moveaxis(draw((n_coils, n_frames, h, kspace.shape[-1])), 0, 1) * rows[:, None, :, None]
        noise = draw((n_coils, int(noise_samples))).astype(np.complex64)
    kspace = validation.cast_finite(kspace, np.complex64, where, "the noisy k-space (noise sigma too large?)")
    mask = np.repeat(rows[:, :, None], w, axis=2)
    meta = {
        "coils": int(n_coils),
        "maps": "given" if given_maps else "birdcage (radius 1.5, root-sum-of-squares 1)",
        "noise_sigma": float(noise_sigma),
        "noise_correlation": float(correlation),
        "seed": int(seed),
        "readout_oversampling": int(readout_oversampling),
        "partial_fourier": float(partial_fourier),
        "mask": None if acquisition is None else acquisition.kind,
        "acceleration": None if acquisition is None else acquisition.acceleration,
        "actual_acceleration": float(actual_acceleration(mask)),
        "center_lines": None if acquisition is None else acquisition.center_lines,
        "source": source,
        "shape": [n_frames, h, w],
        "pixel_spacing_mm": None if pixel_spacing_mm is None else list(validation.check_spacing(pixel_spacing_mm, where)),
    }
    return MultiCoilSimulation(kspace=kspace, mask=mask, maps=maps, target=target, noise_covariance=covariance,
                               noise=noise, meta=meta)
