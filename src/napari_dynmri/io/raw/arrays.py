"""k-space stored as one array: fastMRI / CMRxRecon-style HDF5 and MATLAB v5 / v7.3 ``.mat`` files.

The k-space variable is named (``variable``) or found: the largest complex array of the file. Its
dimension order is given as a layout (see :mod:`napari_dynmri.io.raw.scan`) or inferred with
:func:`~napari_dynmri.io.raw.scan.infer_layout`: MATLAB files in MATLAB's order (CMRxRecon: ``kx, ky,
coil, slice, frame``; h5py shows v7.3 arrays reversed, and they are reversed back first), HDF5 files in
numpy's order (``slice, frame, coil, ky, kx``; fastMRI: ``slice, coil, kx, ky``). A fastMRI file's
``ismrmrd_header`` gives the encoded and recon readout sizes; otherwise the readout oversampling is
detected (:func:`~napari_dynmri.io.raw.scan.auto_oversampling`) unless ``oversampling`` says.

Masks (:func:`read_mask`): a real 0/1 array in its own file (CMRxRecon ships them so), whose
phase-encoding axis is the one as long as the k-space's ``H`` (MATLAB order ``kx, ky[, frame]``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from napari_dynmri import validation
from napari_dynmri.io.mat5 import mat5_variables
from napari_dynmri.io.raw.scan import (
    RawScan,
    arrange,
    auto_oversampling,
    check_scan,
    check_size,
    fail,
    infer_layout,
    layout_text,
    measured_rows,
    parse_layout,
    remove_oversampling,
)
from napari_dynmri.io.readers import _h5_array, _h5_datasets, _is_numeric_h5

MAT_SUFFIXES = (".mat",)
HDF5_SUFFIXES = (".h5", ".hdf5")


def container(path) -> str:
    """``"mat-v5"``, ``"mat-v7.3"`` or ``"hdf5"`` from the suffix and the HDF5 signature."""
    import h5py

    path = Path(path)
    if path.suffix.lower() in MAT_SUFFIXES:
        return "mat-v7.3" if h5py.is_hdf5(path) else "mat-v5"
    return "hdf5"


def _v5_arrays(path: Path) -> dict[str, np.ndarray]:
    """The numeric variables of a v5 file (total decoded size checked from the headers first)."""
    from scipy.io import loadmat

    variables = mat5_variables(path)
    listing = ", ".join(f"{name} {shape}" for name, shape, _ in variables)
    validation.check_decoded_bytes(sum(math.prod(shape) * itemsize for _, shape, itemsize in variables), path,
                                   f"the variables [{listing}]")
    return {name: value for name, value in loadmat(path).items()
            if not name.startswith("__") and isinstance(value, np.ndarray) and value.dtype.kind in "biufc"}


def _is_complex_h5(dataset) -> bool:
    names = dataset.dtype.names
    return dataset.dtype.kind == "c" or (names is not None and {"real", "imag"} <= set(names))


def variables(path) -> dict[str, tuple[tuple[int, ...], bool | None]]:
    """``{name: (shape in the file's own order, complex or None when unknown)}`` from headers only."""
    import h5py

    path = Path(path)
    kind = container(path)
    if kind == "mat-v5":
        return {name: (tuple(shape), None) for name, shape, _ in mat5_variables(path)}
    with h5py.File(path, "r") as f:
        found = {}
        for name, d in _h5_datasets(f, path).items():
            if _is_numeric_h5(d) and d.attrs.get("MATLAB_class") != b"char":
                found[name] = (d.shape[::-1] if kind == "mat-v7.3" else d.shape, _is_complex_h5(d))
        return found


def looks_like_kspace_name(name: str) -> bool:
    """True for names such as ``kspace``, ``kspace_full``, ``kspace_sub08``, ``kdata``, ``ksp``, ``raw``."""
    lowered = name.lower()
    return lowered.startswith(("kspace", "k_space", "kdata", "ksp", "raw"))


def _load(path: Path, kind: str, variable: str | None) -> tuple[str, np.ndarray, dict]:
    """``(name, array in the file's own order, extras)`` of the k-space variable."""
    import h5py

    if kind == "mat-v5":
        arrays = _v5_arrays(path)
        name = _choose(path, {k: (v.shape, np.iscomplexobj(v), v.nbytes) for k, v in arrays.items()}, variable)
        return name, arrays[name], {}
    with h5py.File(path, "r") as f:
        datasets = {k: d for k, d in _h5_datasets(f, path).items() if _is_numeric_h5(d)}
        name = _choose(path, {k: (d.shape[::-1] if kind == "mat-v7.3" else d.shape, _is_complex_h5(d),
                                  d.size * d.dtype.itemsize) for k, d in datasets.items()}, variable)
        data = _h5_array(datasets[name])
        extras = {}
        if "ismrmrd_header" in f and isinstance(f["ismrmrd_header"], h5py.Dataset):
            extras["ismrmrd_header"] = f["ismrmrd_header"][()]
        for key in ("acquisition", "max", "norm", "padding_left", "padding_right"):
            if key in f.attrs:
                extras[key] = f.attrs[key]
    if kind == "mat-v7.3":
        data = data.T  # h5py shows MATLAB's column-major arrays with reversed axes
    return name, data, extras


def _choose(path, candidates: dict[str, tuple[tuple[int, ...], bool, int]], variable: str | None) -> str:
    listing = ", ".join(f"{k} {tuple(s)}{' complex' if c else ''}" for k, (s, c, _) in candidates.items()) or "none"
    if variable is not None:
        if variable not in candidates:
            raise fail(path, f"has no numeric variable {variable!r} (it holds {listing})")
        if not candidates[variable][1]:
            raise fail(path, f"variable {variable!r} is real-valued; k-space must be complex")
        return variable
    complex_ones = {k: v for k, v in candidates.items() if v[1]}
    if not complex_ones:
        hint = "; a mask goes with the k-space file (--mask / mask=)" if any("mask" in k.lower() for k in candidates) else ""
        raise fail(path, f"holds no complex array to read as k-space ({listing}){hint}")
    return max(complex_ones, key=lambda k: complex_ones[k][2])


def _header_readout(extras: dict) -> tuple[int | None, int | None]:
    """``(encoded readout length, recon readout length)`` from a fastMRI ``ismrmrd_header``, or Nones."""
    text = extras.get("ismrmrd_header")
    if text is None:
        return None, None
    try:
        import ismrmrd.xsd

        if isinstance(text, np.ndarray):
            text = text.item()
        header = ismrmrd.xsd.CreateFromDocument(text.decode() if isinstance(text, bytes) else str(text))
        encoding = header.encoding[0]
        encoded, recon = encoding.encodedSpace, encoding.reconSpace
        width = int(encoded.matrixSize.x)
        if encoded.fieldOfView_mm.x > 0 and recon.fieldOfView_mm.x > 0:
            return width, int(round(width * recon.fieldOfView_mm.x / encoded.fieldOfView_mm.x))
        return width, int(recon.matrixSize.x)
    except Exception:  # an unreadable optional header is ignored: the data still say everything needed
        return None, None


def read_array_kspace(path, layout: str | None = None, variable: str | None = None, *,
                      slice_index: int | None = None, oversampling: int | None = None) -> RawScan:
    """Read a MATLAB / HDF5 k-space array into a :class:`RawScan` (module docstring)."""
    path = validation.check_input_file(path)
    kind = container(path)
    name, data, extras = _load(path, kind, variable)
    if data.size == 0:
        raise fail(path, f"variable {name!r} is empty (shape {data.shape})")
    order = "c" if kind == "hdf5" else "matlab"
    encoded_width, recon_width = _header_readout(extras)
    if layout is not None:
        names, inferred, reason = parse_layout(layout, data.ndim, path), False, "given"
    else:
        try:
            names, reason = infer_layout(data, order, encoded_width)
        except ValueError as err:
            raise fail(path, f"{err} (variable {name!r})") from None
        inferred = True
    arranged, slices = arrange(data, names, path, slice_index)
    check_size(arranged.shape, path)
    kspace = validation.cast_finite(arranged, np.complex64, path, f"variable {name!r}")
    kspace = np.ascontiguousarray(kspace)
    width = kspace.shape[-1]
    if recon_width is not None and encoded_width == width and recon_width < width:
        factor_text, new_width = "header", recon_width
    else:
        factor = auto_oversampling(kspace) if oversampling is None else int(oversampling)
        if factor < 1 or width % factor:
            raise fail(path, f"cannot remove a readout oversampling of {factor} from {width} columns")
        factor_text, new_width = ("detected" if oversampling is None else "given"), width // factor
    if new_width < width:
        kspace = remove_oversampling(kspace, new_width)
    rows = measured_rows(kspace)
    mask = np.repeat(rows[:, :, None], kspace.shape[-1], axis=2)
    text = layout_text(names)
    meta = {
        "format": kind,
        "variable": name,
        "stored_shape": list(data.shape),
        "layout": text,
        "layout_inferred": inferred,
        "layout_reason": reason,
        "matrix": list(kspace.shape[-2:]),
        "coils": int(kspace.shape[1]),
        "frames": int(kspace.shape[0]),
        **slices,
        "oversampling_removed": round(width / new_width, 3) if new_width < width else 1,
        "oversampling_source": factor_text,
        "partial_fourier": {"rows_zero_padded": int(kspace.shape[2] - _span(rows.any(axis=0)))},
        "noise_scans": 0,
        **{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in extras.items()
           if k in ("padding_left", "padding_right")},
    }
    kspace, mask = check_scan(kspace, mask, path, text)
    return RawScan(kspace=kspace, mask=mask, meta=meta, source=str(path))


def _span(present: np.ndarray) -> int:
    idx = np.flatnonzero(present)
    return int(idx[-1] - idx[0] + 1) if idx.size else 0


# --- masks -------------------------------------------------------------------------------------------


def load_mask_array(path, variable: str | None = None) -> tuple[np.ndarray, str]:
    """A real 0/1 array from a ``.mat`` / ``.h5`` / ``.npy`` file (MATLAB order for ``.mat``) and its kind."""
    from napari_dynmri.io.npz import load_npy

    path = validation.check_input_file(path)
    if path.suffix.lower() == ".npy":
        return load_npy(path), "npy"
    kind = container(path)
    if kind == "mat-v5":
        arrays = _v5_arrays(path)
    else:
        import h5py

        with h5py.File(path, "r") as f:
            datasets = {k: d for k, d in _h5_datasets(f, path).items() if _is_numeric_h5(d) and not _is_complex_h5(d)}
            if variable is not None and variable not in datasets:
                raise fail(path, f"has no real variable {variable!r} (it holds {', '.join(datasets) or 'none'})")
            pick = variable or ("mask" if "mask" in datasets else (next(iter(datasets)) if len(datasets) == 1 else None))
            if pick is None:
                raise fail(path, f"holds {len(datasets)} real arrays ({', '.join(datasets) or 'none'}); name the mask one")
            array = _h5_array(datasets[pick])
        return (array.T if kind == "mat-v7.3" else array), kind
    arrays = {k: v for k, v in arrays.items() if not np.iscomplexobj(v)}
    if variable is not None and variable not in arrays:
        raise fail(path, f"has no real variable {variable!r} (it holds {', '.join(arrays) or 'none'})")
    pick = variable or ("mask" if "mask" in arrays else (next(iter(arrays)) if len(arrays) == 1 else None))
    if pick is None:
        raise fail(path, f"holds {len(arrays)} real arrays ({', '.join(arrays) or 'none'}); name the mask one")
    return arrays[pick], kind


def line_mask(array: np.ndarray, n_frames: int, n_rows: int, source, order: str = "matlab",
              n_columns: int | None = None) -> np.ndarray:
    """bool ``(T, H)`` measured lines from a mask array: its phase-encoding axis is the one of length
    ``H`` (the second of two such, in MATLAB order, as ``kx, ky``), a frame axis has length ``T``, any
    other axis is the readout and is reduced (a line is measured when any of its samples is). With
    ``n_columns`` (the k-space's ``W``) the readout must be ``W`` long or a multiple (an oversampled
    readout, removed from the k-space but not from the mask); any other axis is a mismatch, such as a
    mask of another number of frames."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
        raise fail(source, f"the mask must hold only 0/1 or true/false (dtype {array.dtype})")
    array = np.squeeze(array.astype(bool))
    if array.ndim == 0 or array.ndim > 3:
        raise fail(source, f"a mask of shape {array.shape} is not (ky), (kx, ky) or (kx, ky, frame)")
    candidates = [a for a in range(array.ndim) if array.shape[a] == n_rows]
    if not candidates:
        raise fail(source, f"the mask {array.shape} has no axis of {n_rows} phase-encoding lines: it does not "
                   "match the k-space")
    preferred = 1 if order == "matlab" else array.ndim - 2  # ky's place in (kx, ky, ...) / (..., ky, kx)
    ky = preferred if preferred in candidates else candidates[0]
    rest = [a for a in range(array.ndim) if a != ky]
    frame = next((a for a in reversed(rest) if array.shape[a] == n_frames and n_frames > 1), None)
    reduce_axes = tuple(a for a in rest if a != frame)
    for axis in reduce_axes:
        if n_columns is not None and array.shape[axis] % n_columns:
            raise fail(source, f"the mask {array.shape} has an axis of {array.shape[axis]}, neither the "
                       f"{n_frames} frame(s) nor the readout of {n_columns} columns (or a multiple): it does "
                       "not match the k-space")
    rows = array.any(axis=reduce_axes) if reduce_axes else array
    axes_left = [a for a in range(array.ndim) if a not in reduce_axes]
    if frame is None:
        return np.broadcast_to(rows, (n_frames, n_rows)).copy()
    return np.moveaxis(rows, axes_left.index(ky), 1) if rows.ndim == 2 else rows


def apply_mask(scan: RawScan, rows: np.ndarray, source) -> RawScan:
    """The scan with only the lines ``rows`` (bool ``(T, H)``) kept; a line in the mask that the k-space
    does not hold is a mismatch and is refused."""
    have = scan.mask.any(axis=-1)
    missing = rows & ~have
    if missing.any():
        t, line = np.argwhere(missing)[0]
        raise fail(source, f"the mask does not match the k-space: line {int(line)} of frame {int(t)} is in the mask "
                   "but holds no data")
    if not rows.any():
        raise fail(source, "the mask measures no line")
    kspace = scan.kspace * rows[:, None, :, None]
    mask = np.repeat(rows[:, :, None], scan.kspace.shape[-1], axis=2)
    meta = {**scan.meta, "mask_source": str(source)}
    return RawScan(kspace=kspace.astype(np.complex64), mask=mask, meta=meta, noise=scan.noise,
                   calibration=scan.calibration, source=scan.source)
