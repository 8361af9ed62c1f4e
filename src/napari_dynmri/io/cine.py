"""The :class:`Cine` container every reader returns, and the checks every reader shares.

A cine is ``(T, H, W)`` (one slice) or ``(Z, T, H, W)`` (several slices): frames over the cardiac
cycle, rows ``H`` (phase encoding) and columns ``W``. Values are kept as stored (after DICOM/NIfTI
rescaling), as float32, or complex64 when the source is complex.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_dynmri import validation
from napari_dynmri.io.kspace import looks_like_kspace
from napari_dynmri.physics.fft import ifft2c


class CineReadError(validation.InputError):
    """A file cannot be read as a cine; the message names the file and the reason in one sentence."""


@dataclass
class Cine:
    """A cine series as read from disk.

    Attributes:
        data: float32 (magnitude / real) or complex64 array, ``(T, H, W)`` or ``(Z, T, H, W)``.
        pixel_spacing_mm: ``(row, col)`` spacing in mm, or None when the file does not say.
        trigger_times_ms: frame times in ms, shape ``(T,)`` or ``(Z, T)``, or None.
        source: the path (or a description) the data came from.
        meta: everything else: ``format``, ``original_dtype``, ``kspace_input`` (True when the file
            held k-space that was brought to image space), slice locations, variable names, ...
    """

    data: np.ndarray
    pixel_spacing_mm: tuple[float, float] | None = None
    trigger_times_ms: np.ndarray | None = None
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def is_complex(self) -> bool:
        """True when ``data`` is complex."""
        return bool(np.iscomplexobj(self.data))

    @property
    def n_frames(self) -> int:
        """Number of frames ``T`` (axis -3 of ``data``)."""
        return int(self.data.shape[-3])


def fail(source, reason: str) -> CineReadError:
    """A :class:`CineReadError` reading ``"<source>: <reason>"`` (one sentence, no newlines)."""
    return validation.fail(source, str(reason), CineReadError)


def check_array(data: np.ndarray, source) -> None:
    """Raise :class:`CineReadError` unless ``data`` is a non-empty, numeric 3D/4D, non-RGB cine.

    RGB(A) is recognised by the last axis having 3 or 4 entries while the two axes before it are
    larger (an image ``(..., H, W, 3)``); a real cine is never 3 or 4 pixels wide. Finiteness is
    checked by :func:`build_cine` after the cast to float32 / complex64.
    """
    if data.dtype.kind not in "biufc":
        raise fail(source, f"holds non-numeric data (dtype {data.dtype}), not an image series")
    if data.size == 0:
        raise fail(source, f"is empty (shape {data.shape})")
    if data.ndim < 3:
        raise fail(
            source,
            f"has {data.ndim} dimension(s) {data.shape}; a cine needs at least 3 (T, H, W)",
        )
    if data.ndim > 4:
        raise fail(source, f"has {data.ndim} dimensions {data.shape}; a cine has 3 (T, H, W) or 4 (Z, T, H, W)")
    if data.shape[-1] in (3, 4) and min(data.shape[-3:-1]) > data.shape[-1]:
        raise fail(source, f"looks like an RGB(A) colour image (shape {data.shape}); a cine must be greyscale")


def build_cine(
    data: np.ndarray,
    source,
    *,
    fmt: str,
    kspace: bool | None = None,
    pixel_spacing_mm=None,
    trigger_times_ms=None,
    meta: dict | None = None,
) -> Cine:
    """Validate ``data`` (3D/4D, see :func:`check_array`), bring k-space to image space, wrap as :class:`Cine`.

    Args:
        data: the array in cine axis order, ``(T, H, W)`` or ``(Z, T, H, W)``.
        source: path or description, used in error messages and ``Cine.source``.
        fmt: format name stored in ``meta['format']``.
        kspace: True when ``data`` is known to be centred k-space (it is passed through
            :func:`~napari_dynmri.physics.fft.ifft2c`), False when known to be an image, None to decide
            with :func:`~napari_dynmri.io.kspace.looks_like_kspace` (complex data only).
        pixel_spacing_mm: two positive numbers ``(row, col)`` in mm, or None.
        trigger_times_ms: frame times in ms, shape ``(T,)`` or ``data.shape[:-2]``, or None.
        meta: extra metadata; ``format``, ``original_dtype`` and ``kspace_input`` are added.
    """
    data = np.asarray(data)
    meta = dict(meta or {})
    check_array(data, source)
    meta.setdefault("original_dtype", str(data.dtype))
    complex_data = np.iscomplexobj(data)
    if kspace and not complex_data:
        raise fail(source, f"holds k-space that is real-valued (dtype {data.dtype}); k-space must be complex")
    data = validation.cast_finite(data, np.complex64 if complex_data else np.float32, source)
    if kspace is None:
        kspace = complex_data and looks_like_kspace(data)
    if kspace:
        data = validation.cast_finite(ifft2c(data), np.complex64, source, "the image of its k-space")
    meta["format"] = fmt
    meta["kspace_input"] = bool(meta.get("kspace_input", False) or kspace)
    return Cine(
        data=data,
        pixel_spacing_mm=validation.check_spacing(pixel_spacing_mm, source),
        trigger_times_ms=_times(trigger_times_ms, data.shape, source),
        source=str(source),
        meta=meta,
    )


def _times(value, shape: tuple[int, ...], source) -> np.ndarray | None:
    if value is None:
        return None
    times = validation.cast_finite(value, np.float64, source, "the trigger times")
    if times.ndim == 2 and 1 in times.shape and len(shape) == 3:
        times = times.ravel()
    if times.shape not in {(shape[-3],), tuple(shape[:-2])}:
        raise fail(source, f"has trigger times of shape {times.shape}, which do not match {shape[-3]} frames")
    return times
