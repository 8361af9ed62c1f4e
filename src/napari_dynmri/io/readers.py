"""Read cine MRI files of any supported format into a :class:`~napari_dynmri.io.cine.Cine`.

Every reader returns ``(T, H, W)`` for one slice or ``(Z, T, H, W)`` for several, float32 or
complex64, values as stored. Per format:

* **DICOM** (folder, list of files, ``.dcm``/``.ima``): see :mod:`napari_dynmri.io.dicom`.
* **NIfTI** (``.nii``, ``.nii.gz``): nibabel's array is ``(x, y, z, t)``; it is transposed to
  ``(z, t, y, x)`` so an image shows rows = y and columns = x (a single z is dropped, giving
  ``(t, y, x)``). A 3D volume is read as ``(x, y, t)``, a single-slice cine. No reorientation by the
  affine is done. ``pixel_spacing_mm = (zoom_y, zoom_x)``; trigger times are ``arange(T) * dt`` from
  the time zoom, only when the header's time unit is set (s, ms or us).
* **NumPy** ``.npy``: the array as stored, cine axis order. ``.npz``: the first of the keys
  ``recon`` (a ``dynmri recon`` output), ``target``, ``image``, ``cine``, ``kspace`` that exists,
  else the only array in the file. Headers are checked before anything is decompressed
  (:mod:`napari_dynmri.io.npz`); pickled arrays are refused.
* **MATLAB** ``.mat`` v5 (scipy) and v7.3 (HDF5, h5py): the first of the same variable names, else
  the only numeric array with at least 3 dimensions. The MATLAB array is taken as ``(H, W, T)`` or
  ``(H, W, Z, T)`` (MATLAB's own index order) and moved to ``(T, H, W)`` / ``(Z, T, H, W)``. h5py sees
  v7.3 arrays with their axes reversed; they are reversed back first, so both versions agree.
  Complex v7.3 data (a compound of ``real`` / ``imag``) is supported. Because MATLAB stores colour
  images as ``(H, W, 3)``, a MATLAB cine with 3 or 4 frames is refused as RGB.
* **HDF5** ``.h5``/``.hdf5`` (and MATLAB v7.3): external links, external storage and virtual
  datasets are refused (they would read other files), soft links are not followed. A ``kspace``
  dataset (fastMRI-style), ``(T, H, W)`` single coil,
  ``(T, C, H, W)`` or ``(Z, T, C, H, W)`` multi-coil (combined with
  :func:`~napari_dynmri.io.kspace.combine_coils`); otherwise the first of the datasets
  ``reconstruction_rss``, ``target``, ``image``, ``cine``, else the only dataset with >= 3 dims.
* **TIFF** ``.tif``/``.tiff`` (tifffile): pages are frames, ``(T, H, W)``; a 4D series is
  ``(Z, T, H, W)`` (ImageJ hyperstacks, stored ``TZYX``, are swapped to ``ZTYX``). Spacing is read
  from ImageJ resolution tags when the unit is a length.

Containers (npz, mat, HDF5) may hold ``pixel_spacing_mm`` (2 values, row then column) and
``trigger_times_ms`` (``(T,)`` or ``(Z, T)``) next to the data. Every input is a regular file (or a
DICOM folder) and is checked against the decoded-size limit of :mod:`napari_dynmri.validation`
from its header, before it is decompressed, counting what the reader makes of it (the decoded
array plus its float32 / complex64 copy, :func:`~napari_dynmri.validation.check_cine_size`). Data named ``kspace`` must be complex
and is brought to image space with :func:`~napari_dynmri.physics.fft.ifft2c`; any other complex
array is checked with :func:`~napari_dynmri.io.kspace.looks_like_kspace`. In both cases
``meta['kspace_input']`` is True.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from napari_dynmri.io.cine import Cine, CineReadError, build_cine, check_array, fail
from napari_dynmri.io.dicom import (
    DICOM_SUFFIXES,
    folder_has_dicom,
    has_dicom_magic,
    read_dicom_series,
)
from napari_dynmri.io.kspace import combine_coils
from napari_dynmri.io.mat5 import mat5_variables
from napari_dynmri.io.npz import load_npy, load_npz, npy_header, npz_arrays
from napari_dynmri.validation import (
    InputError,
    cast_finite,
    check_cine_size,
    check_decoded_bytes,
    check_decoded_size,
    check_input_file,
    working_dtype,
)

# Names looked up, in this order, for the cine in npz / mat files ("recon": a `dynmri recon` output).
IMAGE_KEYS = ("recon", "target", "image", "cine", "kspace")
# Image datasets looked up, in this order, in HDF5 files without a ``kspace`` dataset.
HDF5_IMAGE_KEYS = ("reconstruction_rss", "target", "image", "cine")
# Metadata stored next to the data in container formats (never taken as the cine itself).
META_KEYS = ("pixel_spacing_mm", "trigger_times_ms")

_LIBRARY_LOGGERS = ("tifffile", "nibabel", "pydicom", "h5py", "scipy")

_COIL_COMBINATION = "SENSE-1 with sensitivities from the central 24 rows of the time-averaged k-space"


def read_cine(path: str | os.PathLike | Sequence[str | os.PathLike]) -> Cine:
    """Read a cine from a file, a DICOM folder or a list of DICOM files (formats: module docstring).

    Returns:
        :class:`Cine` with ``data`` float32/complex64 ``(T, H, W)`` or ``(Z, T, H, W)``.

    Raises:
        CineReadError: the input does not exist, has an unknown extension, is not a valid cine
            (fewer than 3 dims, RGB, NaN/Inf, empty, ambiguous content) or the underlying library
            fails; the message names the file and the reason.
    """
    if not isinstance(path, (str, os.PathLike)):
        paths = [Path(p) for p in path]
        if not paths:
            raise CineReadError("read_cine: got an empty list of files")
        if len(paths) == 1:
            return read_cine(paths[0])
        for p in paths:
            _guarded(p, "a file", lambda p=p: check_input_file(p))
        source = f"{paths[0].parent} ({len(paths)} files)"
        return _guarded(source, "a DICOM series", lambda: read_dicom_series(paths, source))
    path = Path(path)
    if not path.exists():
        raise fail(path, "does not exist")
    if path.is_dir():
        return _guarded(path, "a DICOM folder", lambda: read_dicom_series(path, path))
    _guarded(path, "a file", lambda: check_input_file(path))
    suffix = file_suffix(path)
    if suffix in _READERS:
        what, reader = _READERS[suffix]
        return _guarded(path, what, lambda: reader(path))
    if has_dicom_magic(path):
        return _guarded(path, "DICOM", lambda: read_dicom_series([path], path))
    known = ", ".join(sorted(_READERS))
    raise fail(path, f"has an unknown file type '{suffix or path.name}'; supported: {known} or a DICOM folder")


def can_read(path) -> bool:
    """Cheap check (extension, or a folder directly holding DICOM files) for the napari reader hook.

    ``path`` may be a path or a list of paths (all must be readable; several paths must be DICOM
    files). No data is loaded.
    """
    if not isinstance(path, (str, os.PathLike)):
        paths = [Path(p) for p in path]
        if len(paths) == 1:
            return can_read(paths[0])
        return bool(paths) and all(p.is_file() and (file_suffix(p) in DICOM_SUFFIXES or has_dicom_magic(p)) for p in paths)
    path = Path(path)
    if path.is_dir():
        return folder_has_dicom(path)
    return file_suffix(path) in _READERS


def file_suffix(path) -> str:
    """The lower-case file type of ``path``: ``.nii.gz`` for gzipped NIfTI, else its last suffix."""
    path = Path(path)
    return ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix.lower()


def file_stem(path) -> str:
    """The name of ``path`` without its :func:`file_suffix` (``c`` for ``c.nii.gz``)."""
    name = Path(path).name
    return name[: len(name) - len(file_suffix(path))]


@contextlib.contextmanager
def _quiet_libraries():
    """Silence the readers' own logging and warnings about damaged files: they would print lines
    of their own, while the error (or the cine) says what matters."""
    loggers = [logging.getLogger(name) for name in _LIBRARY_LOGGERS]
    disabled = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, was in zip(loggers, disabled):
            logger.disabled = was


def _guarded(source, what: str, read: Callable[[], Cine]) -> Cine:
    """Run ``read``; any library exception becomes a one-line :class:`CineReadError` naming ``source``."""
    try:
        with _quiet_libraries():
            return read()
    except CineReadError:
        raise
    except InputError as err:
        raise CineReadError(str(err)) from None
    except MemoryError:
        raise fail(source, f"is too large to read as {what} in the memory available") from None
    except Exception as err:  # libraries raise anything from OSError to struct.error on bad files
        raise fail(source, f"cannot read as {what}: {type(err).__name__}: {err}") from err


def _pick(shapes: dict[str, tuple[int, ...]], order: Sequence[str], min_ndim: int, source, what: str) -> str:
    """Name of the cine among ``shapes``: first of ``order`` present, else the only array with >= ``min_ndim`` dims."""
    for key in order:
        if key in shapes:
            return key
    candidates = [k for k, shape in shapes.items() if k not in META_KEYS and len(shape) >= min_ndim]
    if len(candidates) == 1:
        return candidates[0]
    listing = ", ".join(f"{k} {tuple(s)}" for k, s in shapes.items()) or "none"
    raise fail(
        source,
        f"holds {what} [{listing}], so the cine is ambiguous; name it one of {', '.join(order)}",
    )


# --- NumPy -----------------------------------------------------------------------------------------


def _read_npy(path: Path) -> Cine:
    check_cine_size(*npy_header(path), path)
    return build_cine(load_npy(path), path, fmt="npy")


def _read_npz(path: Path) -> Cine:
    arrays = npz_arrays(path)
    shapes = {name: shape for name, (shape, _dtype) in arrays.items()}
    key = _pick(shapes, IMAGE_KEYS, 0, path, "the arrays")
    check_cine_size(*arrays[key], path, f"array {key!r}")
    arrays = load_npz(path, [key, *(k for k in META_KEYS if k in shapes)])
    data, meta = arrays.pop(key), arrays
    return build_cine(
        data,
        path,
        fmt="npz",
        kspace=True if key == "kspace" else None,
        pixel_spacing_mm=meta.get("pixel_spacing_mm"),
        trigger_times_ms=meta.get("trigger_times_ms"),
        meta={"key": key},
    )


# --- NIfTI -----------------------------------------------------------------------------------------

_LENGTH_TO_MM = {"mm": 1.0, "unknown": 1.0, "meter": 1000.0, "micron": 1e-3}
_TIME_TO_MS = {"sec": 1000.0, "msec": 1.0, "usec": 1e-3}


def _read_nifti(path: Path) -> Cine:
    import nibabel

    image = nibabel.load(path)
    scaled = image.dataobj.slope != 1 or image.dataobj.inter != 0
    check_cine_size(image.shape, np.float64 if scaled else image.get_data_dtype(), path)
    data = np.asanyarray(image.dataobj)
    zooms = image.header.get_zooms()
    while data.ndim > 4 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 3:  # (x, y, t): one slice
        data, time_axis = data.transpose(2, 1, 0), 2
    elif data.ndim == 4:  # (x, y, z, t)
        data, time_axis = data.transpose(2, 3, 1, 0), 3
        if data.shape[0] == 1:
            data = data[0]
    else:
        return build_cine(data, path, fmt="nifti")  # reports the wrong number of dimensions
    length_unit, time_unit = image.header.get_xyzt_units()
    to_mm = _LENGTH_TO_MM.get(length_unit, 1.0)
    spacing = (float(zooms[1]) * to_mm, float(zooms[0]) * to_mm)
    times = None
    frame_time = float(zooms[time_axis]) if len(zooms) > time_axis else 0.0
    if time_unit in _TIME_TO_MS and frame_time > 0:
        times = np.arange(data.shape[-3]) * frame_time * _TIME_TO_MS[time_unit]
    return build_cine(data, path, fmt="nifti", pixel_spacing_mm=spacing, trigger_times_ms=times)


# --- MATLAB ----------------------------------------------------------------------------------------


def _read_mat(path: Path) -> Cine:
    import h5py

    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            datasets = {
                name: obj
                for name, obj in _h5_datasets(f, path).items()
                if _is_numeric_h5(obj) and obj.attrs.get("MATLAB_class") != b"char"
            }
            # h5py sees MATLAB's column-major arrays with reversed axes: .T restores MATLAB order.
            shapes = {name: d.shape[::-1] for name, d in datasets.items()}

            def load(name: str) -> np.ndarray:
                check_cine_size(datasets[name].shape, datasets[name].dtype, path, f"variable {name!r}")
                return _h5_array(datasets[name]).T

            return _matlab_cine(shapes, load, path, "mat-v7.3")
    from scipy.io import loadmat

    variables = mat5_variables(path)
    listing = ", ".join(f"{name} {shape}" for name, shape, _ in variables)
    # every variable is decoded, then the cine gets a float32 working copy (the largest, at least)
    working = max((math.prod(shape) * working_dtype(np.float32).itemsize for _, shape, _ in variables), default=0)
    check_decoded_bytes(sum(math.prod(shape) * itemsize for _, shape, itemsize in variables) + working, path,
                        f"the variables [{listing}] and a float32 copy of the cine")
    variables = {
        name: value
        for name, value in loadmat(path).items()
        if not name.startswith("__") and isinstance(value, np.ndarray) and value.dtype.kind in "biufc"
    }
    return _matlab_cine({k: v.shape for k, v in variables.items()}, variables.__getitem__, path, "mat-v5")


def _matlab_cine(shapes: dict[str, tuple[int, ...]], load: Callable[[str], np.ndarray], path: Path, fmt: str) -> Cine:
    """Cine from MATLAB variables; ``shapes`` and ``load(name)`` use MATLAB index order ``(H, W, [Z,] T)``."""
    name = _pick(shapes, IMAGE_KEYS, 3, path, "the numeric variables")
    matlab = load(name)
    check_array(matlab, path)  # RGB is judged on MATLAB's (H, W, 3) layout
    spacing = load("pixel_spacing_mm") if "pixel_spacing_mm" in shapes else None
    times = load("trigger_times_ms") if "trigger_times_ms" in shapes else None
    if times is not None and 1 in times.shape:
        times = times.ravel()
    return build_cine(
        np.moveaxis(matlab, (0, 1), (-2, -1)),
        path,
        fmt=fmt,
        kspace=True if name == "kspace" else None,
        pixel_spacing_mm=spacing,
        trigger_times_ms=times,
        meta={"variable": name},
    )


# --- HDF5 ------------------------------------------------------------------------------------------


def _is_numeric_h5(dataset) -> bool:
    names = dataset.dtype.names
    return dataset.dtype.kind in "biufc" or (names is not None and {"real", "imag"} <= set(names))


def _h5_datasets(f, path: Path) -> dict:
    """The datasets at the root of an open HDF5 file, refusing any that would read another file.

    External links, external raw storage and virtual datasets are refused with a line naming the
    dataset; soft links are not followed (they are left out). No data is read.
    """
    import h5py

    datasets = {}
    for name in f:
        link = f.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise fail(path, f"has an external link {name!r} to {link.filename!r}; links to other files are "
                       "not followed")
        if not isinstance(link, h5py.HardLink):
            continue
        obj = f[name]
        if not isinstance(obj, h5py.Dataset):
            continue
        if obj.external or obj.is_virtual:
            raise fail(path, f"dataset {name!r} stores its data in other files (external or virtual storage), "
                       "which is not read")
        datasets[name] = obj
    return datasets


def _h5_array(dataset) -> np.ndarray:
    """Dataset as an array (size checked first); a compound of ``real`` / ``imag`` fields (MATLAB v7.3) becomes complex."""
    check_decoded_size(dataset.shape, dataset.dtype, dataset.file.filename, f"dataset {dataset.name!r}")
    data = dataset[()]
    if data.dtype.names is not None:
        real, imag = data["real"], data["imag"]
        dtype = np.complex64 if np.result_type(real, imag).itemsize <= 4 else np.complex128
        combined = np.empty(data.shape, dtype=dtype)
        combined.real, combined.imag = real, imag
        return combined
    return np.asarray(data)


def _read_hdf5(path: Path) -> Cine:
    import h5py

    with h5py.File(path, "r") as f:
        datasets = {name: obj for name, obj in _h5_datasets(f, path).items() if _is_numeric_h5(obj)}
        meta_values = {
            key: _h5_array(datasets[key]) if key in datasets else f.attrs.get(key) for key in META_KEYS
        }
        if "kspace" in datasets:
            name = "kspace"
        else:
            name = _pick({k: d.shape for k, d in datasets.items()}, HDF5_IMAGE_KEYS, 3, path, "the datasets")
        check_cine_size(datasets[name].shape, datasets[name].dtype, path, f"dataset {name!r}")
        data = _h5_array(datasets[name])
    common = {
        "fmt": "hdf5",
        "pixel_spacing_mm": meta_values["pixel_spacing_mm"],
        "trigger_times_ms": meta_values["trigger_times_ms"],
    }
    if name != "kspace" or data.ndim == 3:
        return build_cine(data, path, kspace=True if name == "kspace" else None, meta={"dataset": name}, **common)
    if data.ndim not in (4, 5):
        raise fail(path, f"has a kspace dataset of shape {data.shape}; expected (T, H, W), (T, C, H, W) or (Z, T, C, H, W)")
    if not np.iscomplexobj(data):
        raise fail(path, f"has a real-valued kspace dataset (dtype {data.dtype}); k-space must be complex")
    if data.size == 0:
        raise fail(path, f"is empty (kspace shape {data.shape})")
    meta = {
        "dataset": name,
        "kspace_input": True,
        "original_dtype": str(data.dtype),
        "n_coils": int(data.shape[-3]),
        "coil_combination": _COIL_COMBINATION,
    }
    data = cast_finite(data, np.complex64, path, "the kspace dataset")  # one NaN would blank every coil map
    return build_cine(combine_coils(data), path, kspace=False, meta=meta, **common)


# --- TIFF ------------------------------------------------------------------------------------------

_TIFF_UNIT_TO_MM = {"mm": 1.0, "millimeter": 1.0, "cm": 10.0, "micron": 1e-3, "um": 1e-3, "\u00b5m": 1e-3}


def _read_tiff(path: Path) -> Cine:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise fail(path, "holds no image series")
        series = tif.series[0]
        check_cine_size(series.shape, series.dtype, path)
        data, axes = series.asarray(), series.axes
        spacing = _imagej_spacing(tif)
    if "S" in axes:  # samples per pixel: RGB(A), also when stored as separate planes
        raise fail(path, f"looks like an RGB(A) colour image (axes {axes}, shape {data.shape}); a cine must be greyscale")
    if data.ndim == 4 and axes.startswith("TZ"):
        data = data.swapaxes(0, 1)
    return build_cine(data, path, fmt="tiff", pixel_spacing_mm=spacing, meta={"tiff_axes": axes})


def _imagej_spacing(tif) -> tuple[float, float] | None:
    """(row, col) spacing in mm from ImageJ resolution tags, or None when the unit is not a length."""
    unit = (tif.imagej_metadata or {}).get("unit")
    tags = tif.pages.first.tags
    if unit not in _TIFF_UNIT_TO_MM or "XResolution" not in tags or "YResolution" not in tags:
        return None
    (x_num, x_den), (y_num, y_den) = tags["XResolution"].value, tags["YResolution"].value
    if x_num == 0 or y_num == 0:
        return None
    scale = _TIFF_UNIT_TO_MM[unit]
    return (y_den / y_num * scale, x_den / x_num * scale)


_READERS: dict[str, tuple[str, Callable[[Path], Cine]]] = {
    ".npy": ("NumPy .npy", _read_npy),
    ".npz": ("NumPy .npz", _read_npz),
    ".nii": ("NIfTI", _read_nifti),
    ".nii.gz": ("NIfTI", _read_nifti),
    ".mat": ("MATLAB .mat", _read_mat),
    ".h5": ("HDF5", _read_hdf5),
    ".hdf5": ("HDF5", _read_hdf5),
    ".tif": ("TIFF", _read_tiff),
    ".tiff": ("TIFF", _read_tiff),
    **{suffix: ("DICOM", lambda path: read_dicom_series([path], path)) for suffix in DICOM_SUFFIXES},
}
