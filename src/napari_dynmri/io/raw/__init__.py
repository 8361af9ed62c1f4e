"""Raw multi-coil k-space: readers for scanner and challenge formats into one :class:`RawScan`.

:func:`read_raw` reads ISMRMRD ``.h5`` (:mod:`.ismrmrd_file`), fastMRI / CMRxRecon-style ``.h5`` and
MATLAB v5 / v7.3 ``.mat`` (:mod:`.arrays`), BART ``.cfl`` / ``.hdr`` (:mod:`.cfl`) and Siemens twix ``.dat``
(:mod:`.twix`, with ``twixtools``) into complex64
``(T, C, H, W)`` k-space with its bool ``(T, H, W)`` line mask and a ``meta`` dict. Every failure is one
line (a :class:`~napari_dynmri.validation.InputError` naming the file), never a traceback, and sizes are
checked before anything large is decoded. :func:`coil_combine` turns a scan into the single-coil
``(T, H, W)`` k-space the existing pipeline reconstructs. See docs/raw-data.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from napari_dynmri import validation
from napari_dynmri.io.raw.arrays import HDF5_SUFFIXES, MAT_SUFFIXES, apply_mask, line_mask, load_mask_array
from napari_dynmri.io.raw.scan import RawReadError, RawScan, fail, sampling_summary

CFL_SUFFIXES = (".cfl", ".hdr")
TWIX_SUFFIXES = (".dat",)
RAW_SUFFIXES = (*HDF5_SUFFIXES, *MAT_SUFFIXES, *CFL_SUFFIXES, *TWIX_SUFFIXES)

__all__ = [
    "RAW_SUFFIXES",
    "RawReadError",
    "RawScan",
    "coil_combine",
    "is_raw_kspace",
    "read_raw",
    "sampling_summary",
]


def _guard(source, what: str, read):
    """Run ``read``; library errors become one :class:`RawReadError` line naming ``source``."""
    from napari_dynmri.io.readers import _quiet_libraries

    try:
        with _quiet_libraries():
            return read()
    except validation.InputError as err:
        raise RawReadError(str(err)) from None
    except MemoryError:
        raise fail(source, f"is too large to read as {what} in the memory available") from None
    except Exception as err:  # h5py, scipy, ismrmrd and twixtools raise anything from OSError to KeyError on bad files
        raise fail(source, f"cannot read as {what}: {type(err).__name__}: {err}") from err


def read_raw(path: str | os.PathLike, layout: str | None = None, variable: str | None = None, *,
             mask=None, mask_variable: str | None = None, slice_index: int | None = None,
             oversampling: int | None = None) -> RawScan:
    """Read raw Cartesian k-space of one slice into a :class:`RawScan`.

    Args:
        path: ISMRMRD ``.h5``, fastMRI/CMRxRecon ``.h5``, MATLAB ``.mat`` (v5 or v7.3), BART ``.cfl``/``.hdr`` or
            Siemens twix ``.dat`` (VD/VE, VB).
        layout: the stored array's axis order, e.g. ``"kx,ky,coil,slice,frame"`` (MATLAB order for ``.mat``,
            numpy order for ``.h5``); inferred when None (``meta['layout']``, ``meta['layout_reason']``).
            Not for ISMRMRD, BART or twix files, whose headers give the order.
        variable: the k-space variable of a ``.mat`` / ``.h5`` array file (default: the largest complex one).
        mask: a mask file (``.mat``, ``.h5``, ``.npy``) or array applied to fully sampled k-space (CMRxRecon
            ships masks apart): only its lines are kept; a line it measures that the k-space lacks is refused.
        mask_variable: the mask's variable name (default ``mask``, or the only real array).
        slice_index: the slice of multi-slice data (default: the middle one).
        oversampling: readout oversampling factor to remove from array and BART files (None: detect;
            ISMRMRD, twix and fastMRI headers say it themselves).

    Returns:
        :class:`RawScan`: ``kspace`` complex64 ``(T, C, H, W)``, ``mask`` bool ``(T, H, W)``, ``meta``.
    """
    path = Path(path)
    if not path.exists() and path.suffix.lower() not in CFL_SUFFIXES:
        raise fail(path, "does not exist")
    suffix = path.suffix.lower()
    if suffix in CFL_SUFFIXES or (not path.exists() and path.with_suffix(".cfl").exists()):
        from napari_dynmri.io.raw.cfl import read_cfl

        if layout is not None or variable is not None:
            raise fail(path, "BART files have fixed dimensions; layout and variable do not apply")
        scan = _guard(path, "BART .cfl/.hdr", lambda: read_cfl(path, slice_index=slice_index, oversampling=oversampling))
        order = "matlab"
    elif suffix in TWIX_SUFFIXES:
        from napari_dynmri.io.raw.twix import read_twix

        if layout is not None or variable is not None or oversampling is not None:
            raise fail(path, "is a Siemens twix file, whose protocol gives the order and the oversampling; layout, "
                       "variable and oversampling do not apply")
        scan = _guard(path, "Siemens twix", lambda: read_twix(path, slice_index))
        order = "matlab"
    elif suffix in HDF5_SUFFIXES + MAT_SUFFIXES:
        validation.check_input_file(path)
        from napari_dynmri.io.raw.ismrmrd_file import is_ismrmrd, read_ismrmrd

        if suffix in HDF5_SUFFIXES and is_ismrmrd(path):
            if layout is not None or variable is not None:
                raise fail(path, "is an ISMRMRD file, whose header gives the order; layout and variable do not apply")
            scan = _guard(path, "ISMRMRD", lambda: read_ismrmrd(path, slice_index))
            order = "matlab"
        else:
            from napari_dynmri.io.raw.arrays import container, read_array_kspace

            scan = _guard(path, "MATLAB" if suffix in MAT_SUFFIXES else "HDF5", lambda: read_array_kspace(
                path, layout, variable, slice_index=slice_index, oversampling=oversampling))
            order = "c" if container(path) == "hdf5" else "matlab"
    else:
        raise fail(path, f"has an unknown raw k-space file type '{suffix or path.name}'; supported: "
                   f"{', '.join(RAW_SUFFIXES)}")
    if mask is not None:
        scan = _guard(mask if not isinstance(mask, np.ndarray) else path, "a mask",
                      lambda: _with_mask(scan, mask, mask_variable, order))
    scan.meta["sampling"] = sampling_summary(scan.mask)
    return scan


def _with_mask(scan: RawScan, mask, variable, order) -> RawScan:
    if isinstance(mask, np.ndarray):
        array, source, kind = mask, "the mask", order
    else:
        array, kind = load_mask_array(mask, variable)
        source, kind = mask, ("c" if kind in ("hdf5", "npy") else "matlab")
    rows = line_mask(array, scan.n_frames, scan.matrix[0], source, kind, n_columns=scan.matrix[1])
    return apply_mask(scan, rows, source)


def is_raw_kspace(path) -> bool:
    """True when ``path`` holds raw k-space for :func:`read_raw` rather than a cine for ``read_cine``.

    BART files and ISMRMRD files always; ``.dat`` files that start as Siemens twix files do
    (:func:`~napari_dynmri.io.raw.twix.is_twix`, truncated ones too); ``.mat`` / ``.h5`` files when a
    variable's name says k-space (``kspace*``, ``kdata*``, ``ksp*``, ``raw*``) and it has 2 dimensions or 4
    and more (a ``(T, H, W)`` ``kspace`` stays a single-coil cine). Judged from headers only; a file that cannot be opened is not.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in CFL_SUFFIXES:
        return True
    if suffix in TWIX_SUFFIXES:
        from napari_dynmri.io.raw.twix import is_twix

        return is_twix(path)
    if suffix not in HDF5_SUFFIXES + MAT_SUFFIXES:
        return False
    try:
        validation.check_input_file(path)
        from napari_dynmri.io.raw.arrays import looks_like_kspace_name, variables
        from napari_dynmri.io.raw.ismrmrd_file import is_ismrmrd

        if suffix in HDF5_SUFFIXES and is_ismrmrd(path):
            return True
        return any(looks_like_kspace_name(name) and len(shape) != 3 and len(shape) >= 2
                   for name, (shape, _) in variables(path).items())
    except Exception:  # unreadable here: the cine reader opens it and says why
        return False


def coil_combine(raw: RawScan, maps: np.ndarray | None = None, *, allow_undersampled: bool = False,
                 return_maps: bool = False):
    """Single-coil-equivalent k-space of a multi-coil scan, for the single-coil reconstruction pipeline.

    The zero-filled coil images of each frame are combined with SENSE-1 (:func:`~napari_dynmri.physics.coils.
    sense_combine`) using ``maps`` (default: ESPIRiT maps from the scan's calibrated centre, time-averaged
    when no frame is fully sampled there); the k-space of that image is returned with the scan's mask.

    Exact for fully sampled data (the combined image's k-space). For undersampled data it is only an
    approximation: combining aliased coil images mixes the aliasing of every coil, so the returned lines
    are not the measured data of one coil; a true multi-coil reconstruction needs coil maps inside the
    solver's data consistency. Such data are refused unless ``allow_undersampled`` (then the k-space is
    masked to the measured lines, and ``kspace * mask`` is what it returns).

    Returns ``(kspace complex64 (T, H, W), mask bool (T, H, W))``, plus the maps with ``return_maps``.
    """
    from napari_dynmri.physics.coils import espirit_maps, sense_combine
    from napari_dynmri.physics.fft import fft2c, ifft2c

    undersampled = not raw.mask.all()
    if undersampled and not allow_undersampled:
        summary = sampling_summary(raw.mask)
        raise fail(raw.source or "the scan", f"is undersampled (R = {summary['acceleration']:.2f}); combining its "
                   "coils before reconstruction is only an approximation (pass allow_undersampled=True to accept it)")
    if maps is None:
        maps = espirit_maps(raw.kspace, raw.mask)
    maps = np.asarray(maps, dtype=np.complex64)
    if maps.shape != raw.kspace.shape[1:]:
        raise fail(raw.source or "the scan", f"coil maps {maps.shape} do not match the k-space (C, H, W) "
                   f"{raw.kspace.shape[1:]}")
    image = sense_combine(ifft2c(raw.kspace), maps)
    kspace = fft2c(image)
    if undersampled:
        kspace = kspace * raw.mask
    result = (kspace.astype(np.complex64), raw.mask.copy())
    return (*result, maps) if return_maps else result
