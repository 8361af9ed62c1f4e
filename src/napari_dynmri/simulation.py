"""Simulated undersampled acquisitions of a cine: one function shared by the CLI, widgets and benchmarks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_dynmri import validation
from napari_dynmri.io.atomic import atomic_output
from napari_dynmri.io.cine import Cine
from napari_dynmri.io.npz import load_npz, npz_arrays
from napari_dynmri.physics import (
    DEFAULT_ACQUISITION,
    Acquisition,
    actual_acceleration,
    check_acquisition,
    make_mask,
    undersample,
)

NPZ_SUFFIX = ".npz"
SIMULATION_KEYS = ("kspace", "mask")  # the keys that make an npz a simulate npz


@dataclass
class Simulation:
    """An undersampled acquisition of a fully sampled target.

    ``target``, ``kspace`` and ``zero_filled`` are complex64 ``(T, H, W)``, ``mask`` bool
    ``(T, H, W)``; ``meta`` records how it was made (mask type, acceleration asked and reached,
    seed, centre lines, noise, source). :meth:`save` and :meth:`load` write and read the
    ``dynmri simulate`` npz (keys ``target``, ``mask``, ``kspace``, ``zero_filled``, ``meta``); a
    loaded one may lack ``target`` and ``zero_filled`` (None).
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

    def save(self, path, overwrite: bool = False) -> Path:
        """Write the ``dynmri simulate`` npz (:meth:`to_npz_dict`) to ``path`` atomically; returns ``path``."""
        with atomic_output(path, overwrite) as partial, open(partial, "wb") as f:
            np.savez_compressed(f, **self.to_npz_dict())
        return Path(path)

    @staticmethod
    def is_simulation(path) -> bool:
        """True when ``path`` is an npz written by ``dynmri simulate`` (it holds kspace and mask)."""
        if not str(path).lower().endswith(NPZ_SUFFIX) or not Path(path).is_file():
            return False
        return all(key in npz_arrays(path) for key in SIMULATION_KEYS)

    @classmethod
    def load(cls, path) -> Simulation:
        """A ``dynmri simulate`` npz as saved, every array checked (:mod:`napari_dynmri.validation`).

        Complex finite k-space and a non-empty 0/1 mask of its shape (as ``recon.base.check_recon_inputs``),
        ``zero_filled`` and ``target`` of that shape or None when absent, ``meta`` a JSON object whose
        ``pixel_spacing_mm``, if any, is valid (``{}`` when absent).
        """
        present = npz_arrays(path)
        keys = [key for key in ("kspace", "mask", "zero_filled", "target", "meta") if key in present]
        arrays = load_npz(path, keys)
        kspace = validation.check_kspace(arrays["kspace"], path)
        mask = validation.check_mask(arrays["mask"], kspace.shape, path)
        return cls(
            target=_same_shape(arrays.get("target"), kspace.shape, path, "target"),
            mask=mask,
            kspace=kspace,
            zero_filled=_same_shape(arrays.get("zero_filled"), kspace.shape, path, "zero_filled"),
            meta=_read_meta(arrays.get("meta"), path),
        )


def _read_meta(value, source) -> dict:
    """The ``meta`` of a simulate npz: a JSON object whose ``pixel_spacing_mm``, if any, is valid."""
    if value is None:
        return {}
    if value.shape != () or value.dtype.kind != "U":
        raise validation.fail(source, f"meta must be a JSON string, got a {value.dtype} array of shape {value.shape}")
    try:
        meta = json.loads(str(value))
    except ValueError as err:
        raise validation.fail(source, f"meta is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise validation.fail(source, f"meta must be a JSON object, got {type(meta).__name__}")
    if meta.get("pixel_spacing_mm") is not None:
        meta["pixel_spacing_mm"] = list(validation.check_spacing(meta["pixel_spacing_mm"], f"{source} meta"))
    return meta


def _same_shape(array, shape, source, key: str):
    """``array`` (or None) as finite complex64 of ``shape``."""
    if array is None:
        return None
    if array.shape != tuple(shape):
        raise validation.fail(source, f"{key} has shape {array.shape}, not the k-space shape {tuple(shape)}")
    return validation.cast_finite(array, np.complex64, source, key)


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
    kind: str = DEFAULT_ACQUISITION.kind,
    acceleration: float = DEFAULT_ACQUISITION.acceleration,
    center_lines: int = DEFAULT_ACQUISITION.center_lines,
    seed: int = DEFAULT_ACQUISITION.seed,
    noise_sigma: float = DEFAULT_ACQUISITION.noise,
    source: str = "",
    pixel_spacing_mm: tuple[float, float] | None = None,
    *,
    acquisition: Acquisition | None = None,
) -> Simulation:
    """Undersample ``target`` (complex ``(T, H, W)``) with a seeded mask; see :mod:`physics.masks`.

    The mask and noise are the five arguments after ``target`` (defaults: :data:`DEFAULT_ACQUISITION`),
    or an :class:`~napari_dynmri.physics.Acquisition` given as ``acquisition``, which replaces them.
    ``source`` and ``pixel_spacing_mm`` (row, col) are only recorded in ``meta``. Everything is
    checked first (:mod:`napari_dynmri.validation`): a finite target of at least 8 x 8 pixels, an
    acceleration and centre lines that leave a non-empty mask, a finite ``noise_sigma >= 0`` and a
    seed >= 0; a ``ValueError`` names what is wrong.
    """
    if acquisition is not None:
        kind, acceleration, center_lines, seed, noise_sigma = (
            acquisition.kind, acquisition.acceleration, acquisition.center_lines, acquisition.seed, acquisition.noise)
    where = source or "the target"
    target = validation.cast_finite(target, np.complex64, where, "the target")
    validation.check_image_shape(target.shape, where, "the target")
    check_acquisition(kind, acceleration, center_lines, seed, noise_sigma, target.shape[1], where)
    mask = validation.check_mask(
        make_mask(kind, target.shape, acceleration, center_lines=center_lines, seed=seed), target.shape, where
    )
    with np.errstate(over="ignore", invalid="ignore"):
        kspace, zero_filled = undersample(target, mask, noise_sigma=noise_sigma, seed=seed)
    kspace, zero_filled = (validation.cast_finite(x, np.complex64, where, "the noisy k-space (noise sigma too large?)")
                           for x in (kspace, zero_filled))
    meta = {
        "mask": kind,
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
