"""Cine sequences for training and evaluation: load them from a source spec, split them train/val/test.

Sources (``load_sequences`` specs)
----------------------------------
``PATH.npz:sax`` / ``PATH.npz:lax``
    A key of the pig cine archive (int16 ``(slices, frames, 256, 256)``); each slice is a sequence,
    named ``sax-00``, ``sax-01``, ... Any npz key holding ``(S, T, H, W)`` or ``(T, H, W)`` works.
    ``PATH.npz`` alone means ``:sax`` when the archive has a ``sax`` key (the pig file), else the
    npz is read as one cine with :func:`napari_dynmri.io.read_cine`. The long-axis ``lax`` key is a
    cross-view test set: it is only used when named.
``phantom:N`` / ``phantom:N:TxHxW``
    ``N`` procedural cardiac phantoms (:func:`napari_dynmri.data.phantom.cardiac_phantom`, seeds
    ``0..N-1``), 20x128x128 unless a size is given; named ``phantom-00``, ...
a cine file or folder
    Anything :func:`napari_dynmri.io.read_cine` reads; a folder is read as one DICOM series when it
    holds DICOM files, else every readable cine file (or DICOM sub-folder) in it is read, sorted by
    name, other files ignored. Each slice of a multi-slice cine is a sequence (``NAME-00``, ...),
    a single-slice cine is named after its file.

Every sequence is complex64 ``(T, H, W)`` scaled to ``max |x| = 1``.

Split
-----
:func:`split_sequences` splits by sequence 5:1:2 with a seeded permutation: ``n_test =
round(n * 2 / 8)``, ``n_val = round(n / 8)`` (halves round up, each at least 1 when ``n >= 3``),
``n_train`` the rest. For the 20 short-axis slices of the pig archive: 12 train, 3 val, 5 test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from napari_dynmri import validation

PHANTOM_SHAPE = (20, 128, 128)
# the phantom's smooth texture fields are drawn on a 9 x 9 block of spatial frequencies
PHANTOM_MIN_SIZE = 9
SPLIT_RATIOS = (5, 1, 2)
# the seed of the train/val/test split unless one is given (training's data.split_seed, dynmri eval)
DEFAULT_SPLIT_SEED = 0

_NPZ = re.compile(r"^(?P<path>.+\.npz)(?::(?P<key>\w+))?$", re.IGNORECASE)
_PHANTOM = re.compile(r"^phantom:(?P<n>\d+)(?::(?P<t>\d+)x(?P<h>\d+)x(?P<w>\d+))?$")


def normalize(cine: np.ndarray, name: str = "sequence") -> np.ndarray:
    """Complex64 ``(T, H, W)`` copy of a real or complex cine, scaled to ``max |x| = 1``.

    The cine must be finite (after the cast) and at least 8 x 8 pixels (:mod:`napari_dynmri.validation`).
    """
    cine = np.asarray(cine)
    if cine.ndim != 3:
        raise ValueError(f"{name}: a sequence must be a cine (T, H, W), got shape {cine.shape}")
    validation.check_image_shape(cine.shape, name, "the sequence")
    cine = validation.cast_finite(cine, np.complex64, name, "the sequence")
    peak = float(np.abs(cine).max())
    if not peak > 0:
        raise ValueError(f"{name}: the sequence is all zeros")
    return (cine.astype(np.complex64) / np.float32(peak)).astype(np.complex64)


def _slices(data: np.ndarray, prefix: str) -> list[tuple[str, np.ndarray]]:
    if data.ndim == 3:
        return [(prefix, normalize(data, prefix))]
    if data.ndim == 4:
        return [(f"{prefix}-{z:02d}", normalize(data[z], f"{prefix}-{z:02d}")) for z in range(len(data))]
    raise ValueError(f"{prefix}: expected (T, H, W) or (slices, T, H, W), got shape {data.shape}")


def _load_npz(path: Path, key: str | None) -> list[tuple[str, np.ndarray]] | None:
    from napari_dynmri.io.npz import load_npz, npz_arrays

    names = npz_arrays(path)
    if key is None:
        if "sax" not in names:
            return None
        key = "sax"
    return _slices(load_npz(path, [key])[key], key)


def _load_phantoms(match: re.Match) -> list[tuple[str, np.ndarray]]:
    from napari_dynmri.data.phantom import cardiac_phantom

    n = int(match["n"])
    shape = tuple(int(match[k]) for k in "thw") if match["t"] else PHANTOM_SHAPE
    spec = match.group(0)
    if n < 1:
        raise ValueError(f"phantom:{n}: the number of phantoms must be at least 1")
    validation.check_image_shape(shape, spec, "each phantom", PHANTOM_MIN_SIZE)
    validation.check_decoded_size((n, *shape), np.complex64, spec, "the phantoms")
    return [(f"phantom-{i:02d}", normalize(cardiac_phantom(*shape, seed=i), f"phantom-{i:02d}")) for i in range(n)]


def _load_path(path: Path) -> list[tuple[str, np.ndarray]]:
    from napari_dynmri.io import can_read, read_cine
    from napari_dynmri.io.dicom import folder_has_dicom
    from napari_dynmri.io.readers import file_stem

    if not path.exists():
        raise ValueError(f"{path}: no such file or folder (a data source is PATH.npz[:key], phantom:N, a cine file or folder)")
    if path.is_dir() and not folder_has_dicom(path):
        entries = [p for p in sorted(path.iterdir()) if not p.name.startswith(".") and can_read(p)]
        if not entries:
            raise ValueError(f"{path}: the folder holds no readable cine file")
        return [seq for entry in entries for seq in _load_path(entry)]
    return _slices(read_cine(path).data, file_stem(path))


def load_sequences(spec) -> list[tuple[str, np.ndarray]]:
    """Load training / evaluation sequences from a source spec (see the module docstring).

    Args:
        spec: ``"PATH.npz:sax"``, ``"phantom:20"``, a cine file or folder, or a list of these.

    Returns:
        ``[(name, cine), ...]`` with ``cine`` complex64 ``(T, H, W)``, ``max |cine| = 1``.

    Raises:
        ValueError: unknown source, missing key, wrong shapes, or duplicate sequence names.
    """
    if isinstance(spec, (list, tuple)):
        sequences = [seq for item in spec for seq in load_sequences(item)]
    else:
        text = str(spec)
        phantom, npz = _PHANTOM.match(text), _NPZ.match(text)
        if phantom:
            sequences = _load_phantoms(phantom)
        elif text.startswith("phantom:"):
            raise ValueError(f"{text!r}: write phantom:N or phantom:N:TxHxW, e.g. phantom:20:20x128x128")
        elif npz and Path(npz["path"]).is_file():
            sequences = _load_npz(Path(npz["path"]), npz["key"]) or _load_path(Path(text))
        else:
            sequences = _load_path(Path(text))
    names = [name for name, _ in sequences]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate sequence names {duplicates}: each source must give distinct names")
    return sequences


def split_counts(n: int) -> tuple[int, int, int]:
    """Sizes ``(train, val, test)`` of the 5:1:2 split of ``n`` sequences (rule: module docstring)."""
    if n < 1:
        raise ValueError("cannot split an empty list of sequences")
    total = sum(SPLIT_RATIOS)
    n_val = int(np.floor(n * SPLIT_RATIOS[1] / total + 0.5))
    n_test = int(np.floor(n * SPLIT_RATIOS[2] / total + 0.5))
    if n >= 3:
        n_val, n_test = max(n_val, 1), max(n_test, 1)
    return n - n_val - n_test, n_val, n_test


def split_sequences(names, seed: int = DEFAULT_SPLIT_SEED) -> dict[str, list[str]]:
    """Split sequence names 5:1:2 into ``{"train": [...], "val": [...], "test": [...]}``.

    The names are sorted, permuted with ``numpy.random.default_rng(seed)`` and cut into
    consecutive parts of :func:`split_counts` sizes; each part is returned sorted. The same names
    and seed always give the same split. For 20 sequences (the pig SAX slices): 12 / 3 / 5.
    """
    names = sorted(names)
    if len(set(names)) != len(names):
        raise ValueError("sequence names must be unique to be split")
    n_train, n_val, _ = split_counts(len(names))
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    return {
        "train": sorted(order[:n_train]),
        "val": sorted(order[n_train : n_train + n_val]),
        "test": sorted(order[n_train + n_val :]),
    }
