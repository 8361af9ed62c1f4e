"""Write cines to ``.npy``, ``.npz``, NIfTI and TIFF so that :func:`~napari_dynmri.io.read_cine` reads them back.

Round trips: ``.npy``/``.npz`` keep the array (complex included) and its shape; NIfTI and TIFF store
the magnitude as float32 with the axes inverse to the reader's, so ``read_cine`` returns the same
``(T, H, W)`` / ``(Z, T, H, W)`` array (a single slice ``(1, T, H, W)`` comes back as ``(T, H, W)``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from napari_dynmri.io.atomic import atomic_output
from napari_dynmri.io.readers import META_KEYS, file_suffix
from napari_dynmri.validation import cast_finite, check_spacing

WRITE_SUFFIXES = (".npy", ".npz", ".nii", ".nii.gz", ".tif", ".tiff")


def write_cine(
    path: str | os.PathLike,
    data: np.ndarray,
    pixel_spacing_mm: tuple[float, float] | None = None,
    *,
    key: str = "image",
    overwrite: bool = False,
    slice_thickness_mm: float | None = None,
    trigger_times_ms: np.ndarray | None = None,
    notes: dict[str, str] | None = None,
) -> Path:
    """Write a cine ``data`` ``(T, H, W)`` or ``(Z, T, H, W)`` (real or complex) to ``path``.

    The format follows the extension:

    * ``.npy``: the array as given (no spacing is stored).
    * ``.npz``: the array under ``key``, plus ``pixel_spacing_mm``, ``slice_thickness_mm`` and
      ``trigger_times_ms`` when given, and each of ``notes`` as a string array (e.g. ``"settings"``).
    * ``.nii`` / ``.nii.gz``: magnitude float32 as ``(x, y, z, t)`` (``(x, y, 1, t)`` for one slice),
      voxel size ``(col, row, thickness)`` mm (thickness 1 when not given), t step the mean frame
      interval in ms (units mm and msec, so the reader gets the frame times back).
    * ``.tif`` / ``.tiff``: magnitude float32 ImageJ hyperstack (``TYX`` or ``TZYX``), resolution
      in pixels per mm when the spacing is given, ImageJ ``spacing`` (mm) and ``finterval`` (s).

    The file is written atomically (:func:`~napari_dynmri.io.atomic.atomic_output`): a failed write
    leaves nothing behind and the old file, if any, untouched. NaN or infinite values are refused.

    Args:
        path: destination; its extension picks the format.
        data: real or complex array, 3D or 4D.
        pixel_spacing_mm: ``(row, col)`` spacing in mm (see :func:`~napari_dynmri.validation.check_spacing`), or None.
        key: array name inside ``.npz`` files (must not be a metadata name).
        overwrite: replace an existing file instead of raising ``FileExistsError``.
        slice_thickness_mm: slice thickness (z spacing) in mm, or None.
        trigger_times_ms: frame times in ms, ``(T,)`` or ``(Z, T)``, or None.
        notes: name -> text stored beside the array in ``.npz`` files (other formats have no place
            for them and refuse them); names must not clash with ``key`` or a metadata name.

    Returns:
        The path written.
    """
    path = Path(path)
    data = np.asarray(data)
    if data.ndim not in (3, 4) or data.dtype.kind not in "biufc":
        raise ValueError(f"a cine must be a numeric (T, H, W) or (Z, T, H, W) array, got {data.dtype} {data.shape}")
    if data.dtype.kind in "fc":  # integers are always finite; the check casts nothing
        cast_finite(data, data.dtype, path, "the cine to write")
    pixel_spacing_mm = check_spacing(pixel_spacing_mm, path)
    if slice_thickness_mm is not None:
        slice_thickness_mm = float(cast_finite(np.asarray(slice_thickness_mm), np.float64, path, "the slice thickness"))
        if slice_thickness_mm <= 0:
            raise ValueError(f"{path}: the slice thickness must be positive, got {slice_thickness_mm}")
    if trigger_times_ms is not None:
        trigger_times_ms = cast_finite(np.asarray(trigger_times_ms), np.float64, path, "the trigger times")
        if trigger_times_ms.shape[-1:] != data.shape[-3:-2]:
            raise ValueError(f"{path}: {trigger_times_ms.shape[-1:]} trigger times for {data.shape[-3]} frames")
    interval_ms = (float(np.mean(np.diff(trigger_times_ms, axis=-1)))
                   if trigger_times_ms is not None and trigger_times_ms.shape[-1] > 1 else None)
    if key in META_KEYS:
        raise ValueError(f"key {key!r} is reserved for metadata; choose another name such as 'image'")
    suffix = file_suffix(path)
    if suffix not in WRITE_SUFFIXES:
        raise ValueError(f"cannot write '{path.name}': unknown extension; use one of {', '.join(WRITE_SUFFIXES)}")
    notes = dict(notes or {})
    if notes and suffix != ".npz":
        raise ValueError(f"cannot write '{path.name}': only .npz files hold notes ({', '.join(notes)})")
    if {key, *META_KEYS} & set(notes):
        raise ValueError(f"notes may not be named {key!r} or a metadata name ({', '.join(META_KEYS)})")
    with atomic_output(path, overwrite) as partial:
        if suffix == ".npy":
            with open(partial, "wb") as f:
                np.save(f, data, allow_pickle=False)
        elif suffix == ".npz":
            arrays = {key: data}
            if pixel_spacing_mm is not None:
                arrays["pixel_spacing_mm"] = np.asarray(pixel_spacing_mm, dtype=np.float64)
            if slice_thickness_mm is not None:
                arrays["slice_thickness_mm"] = np.float64(slice_thickness_mm)
            if trigger_times_ms is not None:
                arrays["trigger_times_ms"] = trigger_times_ms
            arrays.update({name: np.array(text) for name, text in notes.items()})
            with open(partial, "wb") as f:
                np.savez(f, **arrays)
        elif suffix in (".nii", ".nii.gz"):
            _write_nifti(partial, np.abs(data).astype(np.float32), pixel_spacing_mm, slice_thickness_mm, interval_ms)
        else:
            _write_tiff(partial, np.abs(data).astype(np.float32), pixel_spacing_mm, slice_thickness_mm, interval_ms)
    return path


def _write_nifti(path: Path, magnitude: np.ndarray, pixel_spacing_mm, thickness_mm, interval_ms) -> None:
    import nibabel

    volume = magnitude if magnitude.ndim == 4 else magnitude[None]  # (Z, T, H, W)
    row, col = pixel_spacing_mm if pixel_spacing_mm is not None else (1.0, 1.0)
    thickness = thickness_mm or 1.0
    image = nibabel.Nifti1Image(volume.transpose(3, 2, 0, 1), np.diag([col, row, thickness, 1.0]))  # (x, y, z, t)
    if interval_ms is not None:
        image.header.set_zooms((col, row, thickness, interval_ms))
        image.header.set_xyzt_units("mm", "msec")
    else:
        image.header.set_xyzt_units("mm")
    nibabel.save(image, path)


def _write_tiff(path: Path, magnitude: np.ndarray, pixel_spacing_mm, thickness_mm, interval_ms) -> None:
    import tifffile

    if magnitude.ndim == 4:  # ImageJ orders hyperstacks T, Z, Y, X
        stack, axes = magnitude.swapaxes(0, 1), "TZYX"
    else:
        stack, axes = magnitude, "TYX"
    metadata = {"axes": axes}
    resolution = None
    if pixel_spacing_mm is not None:
        row, col = pixel_spacing_mm
        resolution = (1.0 / col, 1.0 / row)
        metadata["unit"] = "mm"
    if thickness_mm is not None:
        metadata["spacing"] = thickness_mm
    if interval_ms is not None:
        metadata["finterval"] = interval_ms / 1000.0  # ImageJ's frame interval is in seconds
    tifffile.imwrite(path, np.ascontiguousarray(stack), imagej=True, resolution=resolution, metadata=metadata)
