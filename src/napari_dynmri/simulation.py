"""Simulated undersampled acquisitions of a cine: one function shared by the CLI, widgets and benchmarks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from napari_dynmri import validation
from napari_dynmri.io.cine import Cine
from napari_dynmri.physics import actual_acceleration, make_mask, undersample


@dataclass
class Simulation:
    """An undersampled acquisition of a fully sampled target.

    ``target``, ``kspace`` and ``zero_filled`` are complex64 ``(T, H, W)``, ``mask`` bool
    ``(T, H, W)``; ``meta`` records how it was made (mask type, acceleration asked and reached,
    seed, centre lines, noise, source).
    """

    target: np.ndarray
    mask: np.ndarray
    kspace: np.ndarray
    zero_filled: np.ndarray
    meta: dict = field(default_factory=dict)

    def to_npz_dict(self) -> dict:
        """The arrays under the ``dynmri simulate`` npz keys, with ``meta`` as a JSON string."""
        return {
            "target": self.target,
            "mask": self.mask,
            "kspace": self.kspace,
            "zero_filled": self.zero_filled,
            "meta": np.array(json.dumps(self.meta)),
        }


def cine_target(cine: Cine, slice_index: int | None = None) -> np.ndarray:
    """One slice of a cine as complex64 ``(T, H, W)`` scaled so that ``max |target| = 1``.

    ``slice_index`` picks a slice of a multi-slice ``(Z, T, H, W)`` cine (default: the middle
    one); it must be None or 0 for a single-slice cine.
    """
    data = cine.data
    if data.ndim == 4:
        index = data.shape[0] // 2 if slice_index is None else slice_index
        if not -data.shape[0] <= index < data.shape[0]:
            raise ValueError(f"slice {index} does not exist: {cine.source} has {data.shape[0]} slices")
        data = data[index]
    elif data.ndim == 3:
        if slice_index not in (None, 0):
            raise ValueError(f"{cine.source} has a single slice; --slice {slice_index} does not exist")
    else:
        raise ValueError(f"{cine.source}: a cine needs 3 or 4 axes ((Z,) T, H, W), got shape {data.shape}")
    data = validation.cast_finite(data, np.complex64, cine.source)
    validation.check_image_shape(data.shape, cine.source)
    peak = float(np.abs(data).max())
    if peak == 0:
        raise ValueError(f"{cine.source} is all zeros")
    return (data / peak).astype(np.complex64)


def simulate(
    target: np.ndarray,
    mask_kind: str = "vd-random",
    acceleration: float = 8.0,
    center_lines: int = 8,
    seed: int = 0,
    noise_sigma: float = 0.0,
    source: str = "",
    pixel_spacing_mm: tuple[float, float] | None = None,
) -> Simulation:
    """Undersample ``target`` (complex ``(T, H, W)``) with a seeded mask; see :mod:`physics.masks`.

    ``source`` and ``pixel_spacing_mm`` (row, col) are only recorded in ``meta``. Everything is
    checked first (:mod:`napari_dynmri.validation`): a finite target of at least 8 x 8 pixels, an
    acceleration and centre lines that leave a non-empty mask, a finite ``noise_sigma >= 0`` and a
    seed >= 0; a ``ValueError`` names what is wrong.
    """
    where = source or "the target"
    target = validation.cast_finite(target, np.complex64, where, "the target")
    validation.check_image_shape(target.shape, where, "the target")
    validation.check_sampling(acceleration, center_lines, target.shape[1], where)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise validation.fail(where, f"the seed must be an integer >= 0, got {seed!r}")
    if not (np.isfinite(noise_sigma) and noise_sigma >= 0):
        raise validation.fail(where, f"the noise sigma must be a finite number >= 0, got {noise_sigma!r}")
    mask = validation.check_mask(
        make_mask(mask_kind, target.shape, acceleration, center_lines=center_lines, seed=seed), target.shape, where
    )
    with np.errstate(over="ignore", invalid="ignore"):
        kspace, zero_filled = undersample(target, mask, noise_sigma=noise_sigma, seed=seed)
    kspace, zero_filled = (validation.cast_finite(x, np.complex64, where, "the noisy k-space (noise sigma too large?)")
                           for x in (kspace, zero_filled))
    meta = {
        "mask": mask_kind,
        "acceleration": float(acceleration),
        "actual_acceleration": float(actual_acceleration(mask)),
        "center_lines": int(center_lines),
        "seed": int(seed),
        "noise_sigma": float(noise_sigma),
        "source": source,
        "shape": list(target.shape),
        "pixel_spacing_mm": None if pixel_spacing_mm is None else list(validation.check_spacing(pixel_spacing_mm, where)),
    }
    return Simulation(target, mask, kspace, zero_filled, meta)
