"""What every reconstruction method shares: the input check, the cancel exception, the callback types."""

from __future__ import annotations

from typing import Callable

import numpy as np

Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]


class ReconCancelled(Exception):
    """A reconstruction stopped early because its ``should_stop()`` callback returned True."""


def check_recon_inputs(kspace, mask) -> tuple[np.ndarray, np.ndarray]:
    """``kspace`` as complex64 and ``mask`` as bool, both ``(T, H, W)``; other shapes raise ``ValueError``."""
    kspace = np.asarray(kspace)
    mask = np.asarray(mask)
    if kspace.ndim != 3:
        raise ValueError(f"k-space must be a cine (T, H, W), got shape {kspace.shape}")
    if mask.shape != kspace.shape:
        raise ValueError(f"mask shape {mask.shape} does not match k-space shape {kspace.shape}")
    return kspace.astype(np.complex64, copy=False), mask.astype(bool, copy=False)
