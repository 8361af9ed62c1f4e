"""Reconstruct long cines in overlapping time windows, so memory stays bounded.

A cine of ``T`` frames is cut into windows of ``window`` frames that start every
``window - overlap`` frames; the last window is moved back to end at frame ``T`` (it may then
overlap its neighbour by more than ``overlap``). Each window is reconstructed on its own and the
results are blended with linear cross-fade weights over the frames two windows share, so the
weights of overlapping windows sum to one and no seam shows. With ``T <= window`` there is a single
window and the result is exactly the whole-cine reconstruction; for a frame-local model (one that
treats frames independently) the blended result equals the whole-cine result at any ``T``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from napari_dynmri.recon.base import ReconCancelled

DEFAULT_WINDOW = 32
DEFAULT_OVERLAP = 8


def check_window(window: int, overlap: int) -> None:
    """Raise ``ValueError`` unless ``window >= 1`` and ``0 <= overlap < window``."""
    if window < 1:
        raise ValueError(f"window must be at least 1 frame, got {window}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be between 0 and window - 1 = {window - 1}, got {overlap}")


def window_starts(n_frames: int, window: int, overlap: int) -> list[int]:
    """First frame of every window, evenly spread from 0 to ``T - window``.

    There are as few windows as keep neighbours overlapping by at least ``overlap`` frames:
    ``ceil((T - overlap) / (window - overlap))``; one window when ``T <= window``.
    """
    check_window(window, overlap)
    if n_frames <= window:
        return [0]
    count = -(-(n_frames - overlap) // (window - overlap))
    return [int(round(s)) for s in np.linspace(0, n_frames - window, count)]


def window_weights(starts: list[int], length: int, n_frames: int) -> list[np.ndarray]:
    """Cross-fade weights ``(length,)`` for windows starting at ``starts`` in a cine of ``n_frames``.

    Over the ``o`` frames a window shares with the previous one its weight rises as
    ``1/(o+1), ..., o/(o+1)``; over those it shares with the next one it falls as
    ``o/(o+1), ..., 1/(o+1)``; elsewhere it is 1. Where only two windows meet the weights of a frame
    sum to one; :func:`windowed_apply` divides by the sum anyway, for frames in three windows.
    """
    length = min(length, n_frames)
    weights = []
    for i, start in enumerate(starts):
        weight = np.ones(length)
        if i > 0:
            shared = starts[i - 1] + length - start
            weight[:shared] = np.arange(1, shared + 1) / (shared + 1)
        if i < len(starts) - 1:
            shared = start + length - starts[i + 1]
            weight[length - shared:] *= np.arange(shared, 0, -1) / (shared + 1)
        weights.append(weight)
    return weights


def windowed_apply(
    reconstruct_window: Callable[[np.ndarray, np.ndarray], np.ndarray],
    kspace: np.ndarray,
    mask: np.ndarray,
    window: int = DEFAULT_WINDOW,
    overlap: int = DEFAULT_OVERLAP,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    image: np.ndarray | None = None,
) -> np.ndarray:
    """Apply ``reconstruct_window(kspace_w, mask_w) -> image_w`` window by window and blend.

    ``kspace``: complex (T, H, W), or (T, C, H, W) for coil data; ``mask``: bool (T, H, W); the callable
    gets their windows along T and returns ``(window, H, W)`` images (``(T, H, W)`` when ``T <= window``). With an ``image`` (T, H, W) (a
    start to refine) the callable gets its window as a third argument. ``progress(done, n_windows)`` is
    called after each window; ``should_stop()`` is polled before each and a True answer raises
    :class:`napari_dynmri.recon.base.ReconCancelled`. Returns complex64 (T, H, W).
    """
    n_frames = kspace.shape[0]
    starts = window_starts(n_frames, window, overlap)
    weights = window_weights(starts, window, n_frames)
    result = None
    total_weight = np.zeros(n_frames)
    for done, (start, weight) in enumerate(zip(starts, weights)):
        if should_stop is not None and should_stop():
            raise ReconCancelled("the reconstruction was cancelled")
        frames = slice(start, start + len(weight))
        extra = () if image is None else (image[frames],)
        window_image = reconstruct_window(kspace[frames], mask[frames], *extra)
        if len(starts) == 1:
            result = np.asarray(window_image, dtype=np.complex64)
        else:
            if result is None:
                result = np.zeros(mask.shape, dtype=np.complex64)
            result[frames] += (weight[:, None, None] * window_image).astype(np.complex64)
            total_weight[frames] += weight
        if progress is not None:
            progress(done + 1, len(starts))
    if len(starts) > 1:
        result /= total_weight[:, None, None].astype(np.float32)
    return result
