"""NumPy ``.npz`` / ``.npy`` files read safely: headers checked before any array is decompressed.

:func:`npz_arrays` lists an archive's arrays (shape and dtype from each member's ``.npy`` header,
nothing decompressed) and refuses pickled (object) arrays, sizes over the decoded-size limit
(:mod:`napari_dynmri.validation`) and members whose declared size disagrees with their header.
:func:`load_npz` then loads chosen arrays; :func:`npy_header` and :func:`load_npy` do the same for one
``.npy`` file.
Nothing is ever unpickled (``allow_pickle=False``). Failures raise :class:`InputError` naming the file.
:func:`save_npz` writes the compressed npz files of the package (a simulation, a reconstruction), atomically.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from napari_dynmri.io.atomic import atomic_output
from napari_dynmri.validation import (
    InputError,
    check_decoded_size,
    check_input_file,
    fail,
)

PICKLE_REFUSED = "napari-dynmri never unpickles files; save plain numeric arrays (allow_pickle=False)"
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, RuntimeError)


def _header(stream, source, what: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, header bytes)`` from a ``.npy`` stream positioned at its start; ``what`` starts messages."""
    try:
        version = npy_format.read_magic(stream)
        read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, _fortran, dtype = read(stream)
    except _READ_ERRORS as err:
        raise fail(source, f"{what} has no valid .npy header ({err})") from None
    if dtype.hasobject:
        raise fail(source, f"{what} holds Python objects (pickled data); {PICKLE_REFUSED}")
    return tuple(shape), dtype, stream.tell()


def npz_arrays(path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``{name: (shape, dtype)}`` of the arrays of an npz archive, read from headers only."""
    path = check_input_file(path)
    if not zipfile.is_zipfile(path):
        raise fail(path, "cannot read as NumPy .npz: not a zip archive (a pickle, or a truncated download?)")
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                with archive.open(info) as member:
                    shape, dtype, offset = _header(member, path, f"cannot read as NumPy .npz: array {name!r}")
                n_bytes = check_decoded_size(shape, dtype, path, f"array {name!r}")
                if info.file_size < offset + n_bytes:
                    raise fail(path, f"cannot read as NumPy .npz: array {name!r} is truncated (its header promises "
                               f"{n_bytes} bytes, the archive holds {info.file_size - offset})")
                arrays[name] = (shape, dtype)
    except InputError:
        raise
    except _READ_ERRORS as err:
        raise fail(path, f"cannot read as NumPy .npz: {type(err).__name__}: {err}") from None
    return arrays


def load_npz(path, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays ``names`` (default: all) of a checked npz archive, as numpy arrays."""
    available = npz_arrays(path)
    names = list(available) if names is None else list(names)
    missing = [name for name in names if name not in available]
    if missing:
        raise fail(path, f"has no array {missing[0]!r} (it holds {', '.join(available) or 'none'})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in names}
    except _READ_ERRORS as err:
        raise fail(path, f"cannot read as NumPy .npz: {type(err).__name__}: {err}") from None


def npy_header(path) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of a ``.npy`` file, from its header only (pickled data refused)."""
    path = check_input_file(path)
    with open(path, "rb") as stream:
        shape, dtype, _offset = _header(stream, path, "cannot read as NumPy .npy: the file")
    return shape, dtype


def load_npy(path) -> np.ndarray:
    """The array of a checked ``.npy`` file (header, pickle and size checked before loading)."""
    path = check_input_file(path)
    with open(path, "rb") as stream:
        shape, dtype, offset = _header(stream, path, "cannot read as NumPy .npy: the file")
    n_bytes = check_decoded_size(shape, dtype, path)
    if path.stat().st_size < offset + n_bytes:
        raise fail(path, f"cannot read as NumPy .npy: the file is truncated (its header promises {n_bytes} bytes of data)")
    try:
        return np.load(path, allow_pickle=False)
    except _READ_ERRORS as err:
        raise fail(path, f"cannot read as NumPy .npy: {type(err).__name__}: {err}") from None


def save_npz(path, arrays: dict[str, np.ndarray], overwrite: bool = False) -> Path:
    """Write ``arrays`` (name -> numeric array; a JSON text as a 0-d string array) as a compressed npz at
    ``path``, atomically (:func:`napari_dynmri.io.atomic.atomic_output`: never replaced unless ``overwrite``)."""
    with atomic_output(path, overwrite) as partial, open(partial, "wb") as f:
        np.savez_compressed(f, **arrays)
    return Path(path)
