"""Write cines to ``.npy``, ``.npz``, NIfTI and TIFF so that :func:`~napari_dynmri.io.read_cine` reads them back.

Round trips: ``.npy``/``.npz`` keep the array (complex included) and its shape; NIfTI and TIFF store
the magnitude as float32 with the axes inverse to the reader's, so ``read_cine`` returns the same
``(T, H, W)`` / ``(Z, T, H, W)`` array (a single slice ``(1, T, H, W)`` comes back as ``(T, H, W)``).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np

from napari_dynmri.io.readers import META_KEYS

WRITE_SUFFIXES = (".npy", ".npz", ".nii", ".nii.gz", ".tif", ".tiff")


def write_cine(
    path: str | os.PathLike,
    data: np.ndarray,
    pixel_spacing_mm: tuple[float, float] | None = None,
    *,
    key: str = "image",
    overwrite: bool = False,
) -> Path:
    """Write a cine ``data`` ``(T, H, W)`` or ``(Z, T, H, W)`` (real or complex) to ``path``.

    The format follows the extension:

    * ``.npy``: the array as given (no spacing is stored).
    * ``.npz``: the array under ``key``, plus ``pixel_spacing_mm`` when given.
    * ``.nii`` / ``.nii.gz``: magnitude float32 as ``(x, y, z, t)`` (``(x, y, 1, t)`` for one slice),
      voxel size ``(col, row, 1)`` mm.
    * ``.tif`` / ``.tiff``: magnitude float32 ImageJ hyperstack (``TYX`` or ``TZYX``), resolution
      in pixels per mm when the spacing is given.

    The file is written under a temporary name and renamed, so a failed write leaves nothing behind.

    Args:
        path: destination; its extension picks the format.
        data: real or complex array, 3D or 4D.
        pixel_spacing_mm: ``(row, col)`` spacing in mm, or None.
        key: array name inside ``.npz`` files (must not be a metadata name).
        overwrite: replace an existing file instead of raising ``FileExistsError``.

    Returns:
        The path written.
    """
    path = Path(path)
    data = np.asarray(data)
    if data.ndim not in (3, 4) or data.dtype.kind not in "biufc":
        raise ValueError(f"a cine must be a numeric (T, H, W) or (Z, T, H, W) array, got {data.dtype} {data.shape}")
    if pixel_spacing_mm is not None and len(pixel_spacing_mm) != 2:
        raise ValueError(f"pixel_spacing_mm must be (row, col), got {pixel_spacing_mm!r}")
    if key in META_KEYS:
        raise ValueError(f"key {key!r} is reserved for metadata; choose another name such as 'image'")
    suffix = ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise ValueError(f"cannot write '{path.name}': unknown extension; use one of {', '.join(WRITE_SUFFIXES)}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")

    partial = path.with_name(f".partial-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        if suffix == ".npy":
            with open(partial, "wb") as f:
                np.save(f, data, allow_pickle=False)
        elif suffix == ".npz":
            arrays = {key: data}
            if pixel_spacing_mm is not None:
                arrays["pixel_spacing_mm"] = np.asarray(pixel_spacing_mm, dtype=np.float64)
            with open(partial, "wb") as f:
                np.savez(f, **arrays)
        elif suffix in (".nii", ".nii.gz"):
            _write_nifti(partial, np.abs(data).astype(np.float32), pixel_spacing_mm)
        else:
            _write_tiff(partial, np.abs(data).astype(np.float32), pixel_spacing_mm)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _write_nifti(path: Path, magnitude: np.ndarray, pixel_spacing_mm) -> None:
    import nibabel

    volume = magnitude if magnitude.ndim == 4 else magnitude[None]  # (Z, T, H, W)
    row, col = pixel_spacing_mm if pixel_spacing_mm is not None else (1.0, 1.0)
    image = nibabel.Nifti1Image(volume.transpose(3, 2, 0, 1), np.diag([col, row, 1.0, 1.0]))  # (x, y, z, t)
    image.header.set_xyzt_units("mm")
    nibabel.save(image, path)


def _write_tiff(path: Path, magnitude: np.ndarray, pixel_spacing_mm) -> None:
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
    tifffile.imwrite(path, np.ascontiguousarray(stack), imagej=True, resolution=resolution, metadata=metadata)
