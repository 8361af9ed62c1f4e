"""Simulated undersampled acquisitions of a cine: one function shared by the CLI, widgets and benchmarks."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_dynmri import validation
from napari_dynmri.io.cine import Cine
from napari_dynmri.io.npz import load_npz, npz_arrays, save_npz
from napari_dynmri.physics import DEFAULT_ACQUISITION, Acquisition, actual_acceleration, undersample

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
        return save_npz(path, self.to_npz_dict(), overwrite)

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
            target=array_of_shape(arrays.get("target"), kspace.shape, path, "target"),
            mask=mask,
            kspace=kspace,
            zero_filled=array_of_shape(arrays.get("zero_filled"), kspace.shape, path, "zero_filled"),
            meta=read_meta(arrays.get("meta"), path),
        )


def read_meta(value, source) -> dict:
    """The ``meta`` entry of an npz this package writes (a 0-d string array holding a JSON object) as a
    dict, ``{}`` when absent (None); its ``pixel_spacing_mm``, if any, checked (:func:`check_meta_spacing`)."""
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
    return check_meta_spacing(meta, source)


def check_meta_spacing(meta: dict, source) -> dict:
    """``meta`` with its ``pixel_spacing_mm`` (row, col in mm), if any, as a valid list of two floats."""
    if meta.get("pixel_spacing_mm") is not None:
        meta["pixel_spacing_mm"] = list(validation.check_spacing(meta["pixel_spacing_mm"], f"{source} meta"))
    return meta


def array_of_shape(array, shape, source, key: str, dtype=np.complex64):
    """``array`` (or None) of an npz as finite ``dtype`` of ``shape``; another shape or NaN raises naming ``key``."""
    if array is None:
        return None
    if array.shape != tuple(shape):
        raise validation.fail(source, f"{key} has shape {array.shape}, expected {tuple(shape)}")
    return validation.cast_finite(array, dtype, source, key)


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


def simulate(target: np.ndarray, acquisition: Acquisition | None = None, *, source: str = "",
             pixel_spacing_mm: tuple[float, float] | None = None, **fields) -> Simulation:
    """Undersample ``target`` (complex ``(T, H, W)``) with a seeded mask; see :mod:`physics.masks`.

    ``acquisition``: the mask and noise (an :class:`~napari_dynmri.physics.Acquisition`; default
    :data:`~napari_dynmri.physics.DEFAULT_ACQUISITION`); keyword ``fields`` of it (``kind``,
    ``acceleration``, ``center_lines``, ``seed``, ``noise``) replace its own, so
    ``simulate(target, acceleration=8, seed=0)`` is the default acquisition at R = 8. ``source`` and
    ``pixel_spacing_mm`` (row, col) are only recorded in ``meta``. Everything is checked first
    (:mod:`napari_dynmri.validation`): a finite target of at least 8 x 8 pixels and, through the
    acquisition, mask options that leave a non-empty mask on its rows
    (:meth:`~napari_dynmri.physics.Acquisition.check_rows`); a ``ValueError`` names what is wrong, a
    ``TypeError`` an ``acquisition`` that is not an ``Acquisition`` (such as a mask kind given positionally).
    """
    if acquisition is not None and not isinstance(acquisition, Acquisition):
        raise TypeError(f"acquisition must be an Acquisition (or give its fields as keywords), got {acquisition!r}")
    acquisition = acquisition or DEFAULT_ACQUISITION
    if fields:
        acquisition = dataclasses.replace(acquisition, **fields)
    where = source or "the target"
    target = validation.cast_finite(target, np.complex64, where, "the target")
    validation.check_image_shape(target.shape, where, "the target")
    acquisition.check_rows(target.shape[1], where)
    mask = validation.check_mask(acquisition.mask(target.shape), target.shape, where)
    with np.errstate(over="ignore", invalid="ignore"):
        kspace, zero_filled = undersample(target, mask, noise_sigma=acquisition.noise, seed=acquisition.seed)
    kspace, zero_filled = (validation.cast_finite(x, np.complex64, where, "the noisy k-space (noise sigma too large?)")
                           for x in (kspace, zero_filled))
    meta = {
        "mask": acquisition.kind,
        "acceleration": acquisition.acceleration,
        "actual_acceleration": float(actual_acceleration(mask)),
        "center_lines": acquisition.center_lines,
        "seed": acquisition.seed,
        "noise_sigma": acquisition.noise,
        "source": source,
        "shape": list(target.shape),
        "pixel_spacing_mm": None if pixel_spacing_mm is None else list(validation.check_spacing(pixel_spacing_mm, where)),
    }
    return Simulation(target, mask, kspace, zero_filled, meta)
