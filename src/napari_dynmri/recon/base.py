"""What every reconstruction method shares: the input check, the cancel exception, the callback types."""

from __future__ import annotations

from typing import Callable

import numpy as np

from napari_dynmri.solvers.loop import ReconCancelled
from napari_dynmri.validation import check_kspace, check_mask

__all__ = ["Progress", "ReconCancelled", "ShouldStop", "check_recon_inputs"]

Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]


def check_recon_inputs(kspace, mask, source="the acquisition") -> tuple[np.ndarray, np.ndarray]:
    """``kspace`` as finite complex64 ``(T, H, W)`` and ``mask`` as bool of the same shape.

    Refused with a ``ValueError`` naming ``source`` (:mod:`napari_dynmri.validation`): real or
    integer k-space, NaN or infinite samples (also after the cast to complex64), images under
    8 x 8 pixels, a mask of another shape, with values other than 0/1, or sampling nothing.
    """
    kspace = check_kspace(kspace, source)
    return kspace, check_mask(mask, kspace.shape, source)
