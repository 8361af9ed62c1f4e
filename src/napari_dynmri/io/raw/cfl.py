"""BART ``.cfl`` / ``.hdr`` k-space: complex64 in Fortran order, dimensions in the text header.

BART's dimensions are fixed: 0 READ (kx), 1 PHS1 (ky), 3 COIL, 10 TIME (frames), 13 SLICE; every other
dimension must be 1 (PHS2 > 1 is 3D and refused). BART's centred FFT puts DC at ``N // 2`` as this
package does. Readout oversampling is detected as for arrays unless ``oversampling`` says.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from napari_dynmri import validation
from napari_dynmri.io.raw.scan import (
    RawScan,
    arrange,
    auto_oversampling,
    check_scan,
    check_size,
    fail,
    layout_text,
    measured_rows,
    remove_oversampling,
)

BART_DIMS = ("READ", "PHS1", "PHS2", "COIL", "MAPS", "TE", "COEFF", "COEFF2", "ITER", "CSHIFT", "TIME", "TIME2",
             "LEVEL", "SLICE", "AVG", "BATCH")
_NAMES = {0: "kx", 1: "ky", 3: "coil", 10: "frame", 13: "slice"}
_MAX_HEADER_BYTES = 64 * 1024


def cfl_paths(path) -> tuple[Path, Path]:
    """``(header, data)`` paths of a BART file given as ``name``, ``name.cfl`` or ``name.hdr``."""
    path = Path(path)
    base = path.with_suffix("") if path.suffix.lower() in (".cfl", ".hdr") else path
    return base.with_suffix(".hdr"), base.with_suffix(".cfl")


def read_dims(header_path) -> tuple[int, ...]:
    """The dimensions in a BART ``.hdr`` (the line after ``# Dimensions``)."""
    header_path = validation.check_input_file(header_path, _MAX_HEADER_BYTES)
    try:
        lines = header_path.read_text(encoding="ascii").splitlines()
    except (UnicodeDecodeError, OSError) as err:
        raise fail(header_path, f"is not a BART header ({err})") from None
    for i, line in enumerate(lines[:-1]):
        if line.strip().lower().startswith("# dimensions"):
            try:
                dims = tuple(int(v) for v in lines[i + 1].split())
            except ValueError:
                break
            if dims and all(d >= 1 for d in dims):
                return dims
            break
    raise fail(header_path, "is not a BART header: no '# Dimensions' line followed by positive integers")


def read_cfl_array(path) -> np.ndarray:
    """The complex64 array of a BART file, in BART's dimension order (size checked before reading)."""
    header, data = cfl_paths(path)
    dims = read_dims(header)
    check_size(dims, data)
    data = validation.check_input_file(data)
    expected = math.prod(dims) * 8
    if data.stat().st_size != expected:
        raise fail(data, f"holds {data.stat().st_size} bytes; its header {header.name} promises {expected} "
                   f"(dimensions {list(dims)}): truncated or not its data")
    return np.fromfile(data, dtype="<c8", count=math.prod(dims)).reshape(dims, order="F")


def write_cfl(path, array: np.ndarray, overwrite: bool = False) -> Path:
    """Write ``array`` (complex, BART dimension order) as ``path.hdr`` / ``path.cfl``, each atomically."""
    from napari_dynmri.io.atomic import atomic_output

    header, data = cfl_paths(path)
    array = np.asarray(array, dtype=np.complex64)
    dims = list(array.shape) + [1] * max(0, 16 - array.ndim)
    with atomic_output(data, overwrite) as partial:
        np.asfortranarray(array).reshape(-1, order="F").astype("<c8").tofile(partial)
    with atomic_output(header, overwrite) as partial:
        partial.write_text("# Dimensions\n" + " ".join(str(d) for d in dims) + "\n", encoding="ascii")
    return data


def read_cfl(path, *, slice_index: int | None = None, oversampling: int | None = None) -> RawScan:
    """A BART k-space file as a :class:`RawScan` (module docstring)."""
    array = read_cfl_array(path)
    if array.ndim < 2:
        array = array.reshape(array.shape + (1,) * (2 - array.ndim))
    source = cfl_paths(path)[1]
    names = []
    for axis, size in enumerate(array.shape):
        name = _NAMES.get(axis, "_")
        if name == "_" and size > 1:
            what = BART_DIMS[axis] if axis < len(BART_DIMS) else f"dimension {axis}"
            raise fail(source, f"has {size} entries along BART {what} (dimension {axis}); only READ, PHS1, COIL, TIME "
                       "and SLICE may exceed 1")
        names.append(name)
    arranged, slices = arrange(array, names, source, slice_index)
    kspace = validation.cast_finite(np.ascontiguousarray(arranged), np.complex64, source, "the k-space")
    width = kspace.shape[-1]
    factor = auto_oversampling(kspace) if oversampling is None else int(oversampling)
    if factor < 1 or width % factor:
        raise fail(source, f"cannot remove a readout oversampling of {factor} from {width} columns")
    if factor > 1:
        kspace = remove_oversampling(kspace, width // factor)
    rows = measured_rows(kspace)
    mask = np.repeat(rows[:, :, None], kspace.shape[-1], axis=2)
    layout = layout_text(n for n in names if n != "_")
    meta = {
        "format": "bart-cfl",
        "stored_shape": list(array.shape),
        "layout": f"BART dims ({layout})",
        "layout_inferred": False,
        "matrix": list(kspace.shape[-2:]),
        "coils": int(kspace.shape[1]),
        "frames": int(kspace.shape[0]),
        **slices,
        "oversampling_removed": factor,
        "oversampling_source": "detected" if oversampling is None else "given",
        "noise_scans": 0,
    }
    kspace, mask = check_scan(kspace, mask, source)
    return RawScan(kspace=kspace, mask=mask, meta=meta, source=str(source))
