"""x-t temporal profiles: a cine sampled along a line, frame by frame (what cardiac readers inspect)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates


def line_profile(cine: np.ndarray, start, end) -> np.ndarray:
    """Sample a real cine ``(T, H, W)`` along the segment ``start`` -> ``end`` (``(row, col)`` in pixels).

    One sample per pixel of length (at least 2), bilinear, edge values outside the image.
    Returns float32 ``(T, L)``: row ``t`` is frame ``t`` along the line.
    """
    cine = np.asarray(cine)
    if cine.ndim != 3 or np.iscomplexobj(cine):
        raise ValueError(f"an x-t profile needs a real cine (T, H, W), got {cine.dtype} {cine.shape}")
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    n_samples = max(int(np.ceil(np.hypot(*(end - start)))) + 1, 2)
    rows, cols = (np.linspace(start[i], end[i], n_samples) for i in range(2))
    profile = [map_coordinates(frame, [rows, cols], order=1, mode="nearest") for frame in cine]
    return np.stack(profile).astype(np.float32)
