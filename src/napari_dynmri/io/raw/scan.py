"""The :class:`RawScan` every raw k-space reader returns, and the steps the readers share.

Layouts name the axes of a stored array: a comma-separated list of ``kx`` (readout), ``ky`` (phase
encoding), ``coil``, ``slice``, ``frame`` and ``_`` (an axis of size 1 to drop), one name per axis, in
the order the file's own program shows them (MATLAB's ``size()`` for ``.mat`` files, also v7.3, numpy's
for HDF5). Aliases: ``x``/``readout``/``ro`` for ``kx``, ``y``/``pe``/``phase``/``line`` for ``ky``,
``c``/``coils``/``channel`` for ``coil``, ``z``/``s`` for ``slice``, ``t``/``time``/``frames`` for
``frame``.

Shared steps: :func:`arrange` (any layout to ``(T, C, H, W)`` for one slice), :func:`remove_oversampling`
(crop the readout in image space), :func:`measured_rows` (which phase-encoding lines hold data),
:func:`sampling_summary` (lines, acceleration, whether already undersampled) and
:func:`check_scan` (the limits every scan must meet: finite complex64, a sane number of coils and
frames, a measured centre).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from napari_dynmri import validation
from napari_dynmri.physics.fft import fft2c, ifft2c

AXES = ("kx", "ky", "coil", "slice", "frame")
_ALIASES = {
    "kx": "kx", "x": "kx", "readout": "kx", "ro": "kx", "read": "kx",
    "ky": "ky", "y": "ky", "pe": "ky", "phase": "ky", "line": "ky", "lines": "ky",
    "coil": "coil", "c": "coil", "coils": "coil", "channel": "coil", "channels": "coil", "cha": "coil",
    "slice": "slice", "z": "slice", "s": "slice", "slices": "slice", "sl": "slice",
    "frame": "frame", "t": "frame", "time": "frame", "frames": "frame", "cardiac": "frame",
    "_": "_", "1": "_",
}
# More coils than this is a wrong layout guess, not a coil array (the largest arrays have 128 elements).
MAX_COILS = 128
MAX_FRAMES = 10_000
MIN_SIZE = validation.MIN_IMAGE_SIZE


class RawReadError(validation.InputError):
    """A raw k-space file cannot be read; the message names the file and the reason in one line."""


def fail(source, reason: str) -> RawReadError:
    """A :class:`RawReadError` ``"<source>: <reason>"`` on one line."""
    return validation.fail(source, reason, RawReadError)


@dataclass
class RawScan:
    """Multi-coil Cartesian k-space of one slice as read from a raw file.

    Attributes:
        kspace: complex64 ``(T, C, H, W)``: frames, coils, phase-encoding rows, readout columns;
            centred (DC at ``(H//2, W//2)``), unmeasured samples 0, readout oversampling removed
            when ``meta['oversampling_removed']`` says so.
        mask: bool ``(T, H, W)``: True on the phase-encoding lines measured in each frame (whole rows).
        meta: ``format``, ``layout`` (and ``layout_inferred``), ``matrix`` (H, W), ``coils``, ``frames``,
            ``slices`` / ``slice``, ``oversampling_removed`` (the readout factor, 1 when none),
            ``partial_fourier`` (rows and columns zero-padded), ``noise_scans``, ``field_of_view_mm``,
            ``pixel_spacing_mm``, ``encoding_limits`` when the file says, and format specifics.
        noise: complex64 ``(C, N)`` noise-scan samples, or None.
        calibration: complex64 ``(C, H, W)`` k-space of separate calibration (reference) lines, or None.
        source: the file.
    """

    kspace: np.ndarray
    mask: np.ndarray
    meta: dict = field(default_factory=dict)
    noise: np.ndarray | None = None
    calibration: np.ndarray | None = None
    source: str = ""

    @property
    def n_frames(self) -> int:
        return int(self.kspace.shape[0])

    @property
    def n_coils(self) -> int:
        return int(self.kspace.shape[1])

    @property
    def matrix(self) -> tuple[int, int]:
        """``(H, W)``: phase-encoding rows, readout columns."""
        return int(self.kspace.shape[2]), int(self.kspace.shape[3])


# --- layouts -----------------------------------------------------------------------------------------


def parse_layout(text: str, ndim: int, source) -> tuple[str, ...]:
    """The axis names of a layout string (module docstring) for an array of ``ndim`` dimensions."""
    names = [part.strip().lower() for part in str(text).replace(";", ",").split(",") if part.strip()]
    unknown = [n for n in names if n not in _ALIASES]
    if unknown:
        raise fail(source, f"layout {text!r} names an unknown axis {unknown[0]!r}; use kx, ky, coil, slice, frame or _")
    names = [_ALIASES[n] for n in names]
    if len(names) != ndim:
        raise fail(source, f"layout {text!r} names {len(names)} axes but the k-space has {ndim}")
    for name in set(names) - {"_"}:
        if names.count(name) > 1:
            raise fail(source, f"layout {text!r} names {name} twice")
    if "kx" not in names or "ky" not in names:
        raise fail(source, f"layout {text!r} must name both kx (readout) and ky (phase encoding)")
    return tuple(names)


def layout_text(names) -> str:
    return ",".join(names)


def _gaps(present: np.ndarray) -> bool:
    """True when the measured indices of a 1D bool array are not one contiguous run."""
    idx = np.flatnonzero(present)
    return idx.size > 0 and idx[-1] - idx[0] + 1 != idx.size


def _in_plane_present(data: np.ndarray, axis: int, other: int) -> np.ndarray:
    """Which indices along ``axis`` hold any non-zero sample (looking at index 0 of every extra axis)."""
    index = [0] * data.ndim
    index[axis], index[other] = slice(None), slice(None)
    plane = np.asarray(data[tuple(index)])
    if axis > other:
        plane = plane.T
    return np.abs(plane).sum(axis=1) > 0


def _coherence(data: np.ndarray, axis: int, plane: tuple[int, int]) -> float:
    """Mean normalised inner product of the k-space centres (16 x 16, i.e. low-resolution images) of
    neighbouring indices along ``axis``: near 1 for cine frames, lower for coils."""
    index: list = [0] * data.ndim
    index[axis] = slice(None)
    for a in plane:
        n = data.shape[a]
        index[a] = slice(max(0, n // 2 - 8), n // 2 + 8)
    block = np.asarray(data[tuple(index)])  # the kept axes, in their original order
    block = np.moveaxis(block, sorted([axis, *plane]).index(axis), 0)
    vectors = block.reshape(block.shape[0], -1)
    values = []
    for i in range(min(vectors.shape[0] - 1, 8)):
        a, b = vectors[i], vectors[i + 1]
        norm = float(np.linalg.norm(a) * np.linalg.norm(b))
        if norm > 0:
            values.append(abs(np.vdot(a, b)) / norm)
    return float(np.mean(values)) if values else 1.0


# Frames of a cine are this coherent at low resolution; coil images are less so (see _coherence).
FRAME_COHERENCE = 0.99


def infer_layout(data: np.ndarray, order: str, readout_length: int | None = None) -> tuple[tuple[str, ...], str]:
    """Guess the layout of a k-space array; returns ``(names, reason)``.

    ``order`` is ``"matlab"`` (in-plane axes first: ``kx, ky, coil, slice, frame``, as CMRxRecon) or
    ``"c"`` (in-plane axes last: ``slice, frame, coil, ky, kx``, as this package's ``(Z, T, C, H, W)``).
    Of the two in-plane axes, ``ky`` is the one with gaps between measured lines (already undersampled
    data); else the one not of ``readout_length`` (a header's encoded readout size) when given; else the
    shorter when one is at least 1.5 times the other (the readout is oversampled); else the order's
    convention. Of the other axes of size > 1, one alone is a frame axis when its neighbouring indices
    are as coherent as cine frames (:data:`FRAME_COHERENCE`), else a coil axis; of two, the more coherent
    is the frame axis and the other the coil axis; three follow the order's convention; size-1 axes are
    ``_``.
    """
    ndim = data.ndim
    if ndim < 2:
        raise ValueError(f"k-space needs at least 2 dimensions, got shape {data.shape}")
    plane = (0, 1) if order == "matlab" else (ndim - 2, ndim - 1)
    first, second = plane
    gaps = [_gaps(_in_plane_present(data, a, b)) for a, b in ((first, second), (second, first))]
    n1, n2 = data.shape[first], data.shape[second]
    if gaps[0] != gaps[1]:
        ky = first if gaps[0] else second
        reason = "ky is the in-plane axis with unmeasured lines"
    elif readout_length is not None and (n1 == readout_length) != (n2 == readout_length):
        ky = second if n1 == readout_length else first
        reason = f"kx has the header's readout length {readout_length}"
    elif max(n1, n2) >= 1.5 * min(n1, n2):
        ky = first if n1 < n2 else second
        reason = "kx is the longer in-plane axis (oversampled readout)"
    else:
        ky = second if order == "matlab" else first
        reason = "kx, ky by the " + ("MATLAB (kx, ky, ...)" if order == "matlab" else "numpy (..., ky, kx)") + " convention"
    names: list[str] = ["_"] * ndim
    names[ky] = "ky"
    names[first if ky == second else second] = "kx"
    extra = [a for a in range(ndim) if a not in plane and data.shape[a] > 1]
    convention = ["coil", "slice", "frame"] if order == "matlab" else ["slice", "frame", "coil"]
    if len(extra) == 1:
        coherence = _coherence(data, extra[0], plane)
        names[extra[0]] = "frame" if coherence >= FRAME_COHERENCE else "coil"
        reason += f"; axis {extra[0]} is a {names[extra[0]]} axis (neighbour coherence {coherence:.3f})"
    elif len(extra) == 2:
        coherence = [_coherence(data, a, plane) for a in extra]
        frame = extra[int(np.argmax(coherence))]
        for a in extra:
            names[a] = "frame" if a == frame else "coil"
        reason += f"; of axes {extra[0]} and {extra[1]}, the more coherent ({frame}) is the frame axis"
    elif len(extra) == 3:
        for a, name in zip(extra, convention):
            names[a] = name
        reason += "; coil, slice and frame axes by convention"
    elif len(extra) > 3:
        raise ValueError(f"k-space of shape {data.shape} has {len(extra)} axes besides kx and ky; give the layout")
    return tuple(names), reason


def arrange(data: np.ndarray, names, source, slice_index: int | None = None) -> tuple[np.ndarray, dict]:
    """``data`` in layout ``names`` as ``(T, C, H, W)`` = (frame, coil, ky, kx) of one slice.

    Axes named ``_`` must have size 1. ``slice_index`` picks a slice (default: the middle one).
    Returns ``(array, info)`` with ``info``: ``slices`` and ``slice``. No copy is made here.
    """
    names = list(names)
    for axis, name in enumerate(names):
        if name == "_" and data.shape[axis] != 1:
            raise fail(source, f"axis {axis} (size {data.shape[axis]}) is named _ in layout {layout_text(names)}, "
                       "but only axes of size 1 may be dropped")
    n_slices = data.shape[names.index("slice")] if "slice" in names else 1
    if slice_index is None:
        slice_index = n_slices // 2
    if not -n_slices <= slice_index < n_slices:
        raise fail(source, f"slice {slice_index} does not exist: the k-space has {n_slices} slice(s)")
    for axis in sorted((i for i, n in enumerate(names) if n in ("slice", "_")), reverse=True):
        data = np.take(data, slice_index if names[axis] == "slice" else 0, axis=axis)
        del names[axis]
    for name in ("frame", "coil"):
        if name not in names:
            data, names = data[None], [name, *names]
    order = [names.index(n) for n in ("frame", "coil", "ky", "kx")]
    return np.transpose(data, order), {"slices": int(n_slices), "slice": int(slice_index % n_slices)}


# --- sampling ----------------------------------------------------------------------------------------


def measured_rows(kspace: np.ndarray) -> np.ndarray:
    """bool ``(T, H)``: the rows of ``kspace`` ``(T, C, H, W)`` holding any non-zero sample."""
    return np.any(kspace != 0, axis=(1, 3))


def _ranges(indices) -> str:
    """``0, 8, 16, 115-130`` for sorted integers."""
    parts, start, prev = [], None, None
    for i in [int(v) for v in indices]:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = i
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def sampling_summary(mask: np.ndarray) -> dict:
    """What a row mask ``(T, H, W)`` (or ``(T, H)``) measures: lines per frame, the lines of the first
    frame, the central run common to every frame, the acceleration ``T H / measured rows`` and whether
    the data are already undersampled (some frame misses a line)."""
    rows = np.asarray(mask, dtype=bool)
    if rows.ndim == 3:
        rows = rows.any(axis=-1)
    n_frames, h = rows.shape
    per_frame = rows.sum(axis=1)
    common = rows.all(axis=0)
    centre = h // 2
    start = stop = centre
    if common[centre]:
        while start > 0 and common[start - 1]:
            start -= 1
        stop = centre + 1
        while stop < h and common[stop]:
            stop += 1
    same = bool((rows == rows[:1]).all())
    return {
        "rows": int(h),
        "lines_per_frame": (int(per_frame.min()), int(per_frame.max())),
        "lines_first_frame": _ranges(np.flatnonzero(rows[0])),
        "same_lines_every_frame": same,
        "central_lines": int(stop - start),
        "acceleration": float(rows.size / max(1, rows.sum())),
        "undersampled": bool(not rows.all()),
    }


# --- oversampling, partial Fourier -------------------------------------------------------------------


def remove_oversampling(kspace: np.ndarray, width: int) -> np.ndarray:
    """Crop the readout (last axis) of ``kspace`` ``(..., H, W_os)`` to the central ``width`` pixels in image
    space (the oversampled field of view's centre) and return its k-space ``(..., H, width)``, complex64.
    Exact for an object inside the central ``width`` pixels; zero rows stay zero (the row transform is undone)."""
    full = kspace.shape[-1]
    if width >= full:
        return kspace
    start = full // 2 - width // 2
    image = ifft2c(kspace)[..., start : start + width]
    cropped = fft2c(image)
    rows = np.any(kspace != 0, axis=-1, keepdims=True)
    return np.where(rows, cropped, 0).astype(np.complex64)


def outer_readout_energy(kspace: np.ndarray) -> float:
    """Share of the image energy in the outer half of the readout field of view (the first and last
    quarters of the columns): near 0 when the readout is 2x oversampled (nothing there but noise)."""
    frames = kspace.reshape(-1, *kspace.shape[-2:])[:4]
    profile = (np.abs(ifft2c(frames)) ** 2).sum(axis=tuple(range(frames.ndim - 1)))
    total = float(profile.sum())
    w = profile.size
    return float(profile[: w // 4].sum() + profile[w - w // 4 :].sum()) / total if total > 0 else 0.0


def auto_oversampling(kspace: np.ndarray, threshold: float = 0.05) -> int:
    """2 when the readout of ``(..., H, W)`` k-space looks 2x oversampled, else 1.

    Rule (documented in docs/raw-data.md): ``W`` even, at least 1.5 times ``H`` and at least ``2 *
    MIN_SIZE``, and the outer half of the readout field of view holds under ``threshold`` of the
    image energy (:func:`outer_readout_energy`).
    """
    h, w = kspace.shape[-2:]
    if w % 2 or w < 1.5 * h or w < 2 * MIN_SIZE:
        return 1
    return 2 if outer_readout_energy(kspace) < threshold else 1


# --- the checks every scan meets ---------------------------------------------------------------------


def check_scan(kspace: np.ndarray, mask: np.ndarray, source, layout: str = "") -> tuple[np.ndarray, np.ndarray]:
    """``(kspace complex64 (T, C, H, W), mask bool (T, H, W))`` once they meet every limit, else one line."""
    hint = f" (layout {layout}; give another with --layout / layout=)" if layout else ""
    if kspace.ndim != 4:
        raise fail(source, f"k-space must be (T, C, H, W), got shape {kspace.shape}")
    n_frames, n_coils, h, w = kspace.shape
    if n_coils > MAX_COILS:
        raise fail(source, f"has {n_coils} coils, more than {MAX_COILS}: probably not a coil axis{hint}")
    if n_frames > MAX_FRAMES:
        raise fail(source, f"has {n_frames} frames, more than {MAX_FRAMES}: probably not a frame axis{hint}")
    if min(h, w) < MIN_SIZE or min(n_frames, n_coils) < 1:
        raise fail(source, f"k-space (T, C, H, W) = {kspace.shape} is too small: it needs at least {MIN_SIZE} x "
                   f"{MIN_SIZE} samples{hint}")
    if tuple(mask.shape) != (n_frames, h, w):
        raise fail(source, f"the mask {tuple(mask.shape)} does not match the k-space frames and matrix {(n_frames, h, w)}")
    if not mask.any():
        raise fail(source, "no phase-encoding line is measured: there is no data")
    columns = np.any(kspace != 0, axis=(0, 1, 2))
    if _gaps(columns):
        raise fail(source, f"the readout axis has unmeasured columns between measured ones, so it is not the readout{hint}")
    kspace = validation.cast_finite(kspace, np.complex64, source, "the k-space")
    return kspace, mask.astype(bool)


def check_size(shape, source, what: str = "the k-space") -> None:
    """Refuse k-space that would decode to more than the limit (complex64), from its shape alone."""
    validation.check_decoded_bytes(math.prod(int(s) for s in shape) * 8, source, f"{what} {tuple(int(s) for s in shape)} complex64")
