"""Automatic choices per scan (a regularisation weight, a method), made on held-out measured lines.

The scan's own data tell how strongly to regularise: a random ``fraction`` of the measured
k-space lines outside the always-sampled centre is held out, the cine is reconstructed from the
remaining lines once per candidate weight (by the method's own procedure: same start, same
iterations), and the weight whose reconstruction predicts the held-out lines best wins; the final
reconstruction then uses all lines with it.

The error is importance-weighted: a held-out line in a row that the mask samples with probability
``p`` (the fraction of frames that sample it) stands for ``(1 - p) / p`` unsampled lines of that
row, so the weighted held-out error estimates the k-space error over all unsampled lines, which
is the image error (Parseval). Unweighted, the held-out lines over-represent the densely sampled
rows near the centre: on pig short-axis slices 2 and 10 (R = 8) an unweighted choice over
1/9..9 times the default picked ``cs-xf`` weights 3-9x above the best one, 0.5-1.2 dB lower. The
grid is narrow (3x either side of the method's default): the held-out error is a noisy estimate
(its differences between neighbouring weights are a few per cent), and a wide grid let noise pick
far-off weights. The same test
chooses between methods (``cs-auto``, :mod:`napari_dynmri.recon.methods`). No ground truth is
involved, so the choice follows the anatomy, noise and sampling of the scan at hand.

Lines are ``(frame, row)`` pairs when the mask samples whole rows (Cartesian phase encoding
along ``H``), single k-space samples otherwise; "always sampled" means sampled in every frame
(the centre rows of the project's masks). The split is seeded, so the choice is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Hashable, Sequence

import numpy as np

from napari_dynmri.recon.base import ReconCancelled

DEFAULT_HOLDOUT_FRACTION = 0.1
DEFAULT_HOLDOUT_SEED = 0
# Candidate weights: the method's default times these factors.
DEFAULT_FACTORS = (1 / 3, 1.0, 3.0)


@dataclass
class HeldOutChoice:
    """The chosen candidate and the held-out relative error of every candidate.

    ``best`` is None when there were no lines to hold out (then the caller's default applies).
    """

    best: Hashable | None
    errors: dict = field(default_factory=dict)


def holdout_masks(
    mask: np.ndarray, fraction: float = DEFAULT_HOLDOUT_FRACTION, seed: int = DEFAULT_HOLDOUT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``mask`` (bool ``(T, H, W)``) into disjoint ``(fit, held_out)`` masks whose union is ``mask``.

    ``held_out`` holds ``round(fraction * n)`` of the ``n`` measured lines that are not sampled
    in every frame (at least one when ``n > 0``); it is all False when there are none.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ValueError(f"mask must be (T, H, W), got shape {mask.shape}")
    if not 0 < fraction < 1:
        raise ValueError(f"the held-out fraction must be between 0 and 1, got {fraction}")
    rows_only = bool((mask == mask[..., :1]).all())
    lines = mask[..., 0] if rows_only else mask  # (T, H) or (T, H, W)
    always = lines.all(axis=0, keepdims=True)
    candidates = np.flatnonzero(lines & ~always)
    held_lines = np.zeros(lines.size, dtype=bool)
    if candidates.size:
        count = max(1, int(round(fraction * candidates.size)))
        rng = np.random.default_rng(seed)
        held_lines[rng.choice(candidates, size=count, replace=False)] = True
    held_lines = held_lines.reshape(lines.shape)
    held = np.broadcast_to(held_lines[..., None], mask.shape) if rows_only else held_lines
    held = np.ascontiguousarray(held)
    return mask & ~held, held


def unsampled_weights(mask: np.ndarray) -> np.ndarray:
    """``(1 - p) / p`` per k-space position (float ``(T, H, W)``), ``p`` the fraction of frames sampling it."""
    probability = np.asarray(mask, dtype=bool).mean(axis=0, keepdims=True)
    weights = np.where(probability > 0, (1 - probability) / np.maximum(probability, 1e-12), 0.0)
    return np.broadcast_to(weights, mask.shape)


def holdout_error(image: np.ndarray, kspace: np.ndarray, held_out: np.ndarray, weights: np.ndarray) -> float:
    """``sum_h w |F x - y|^2 / sum_h w |y|^2`` over held-out samples ``h``: how badly ``image`` predicts them."""
    from napari_dynmri.physics.fft import fft2c

    predicted = fft2c(np.asarray(image, dtype=np.complex64))[held_out]
    measured = np.asarray(kspace)[held_out]
    weights = np.asarray(weights)[held_out]
    reference = float(np.sum(weights * np.abs(measured) ** 2))
    return float(np.sum(weights * np.abs(predicted - measured) ** 2) / max(reference, 1e-30))


def select_on_held_out(
    solve: Callable[[np.ndarray, np.ndarray, Hashable], np.ndarray],
    kspace: np.ndarray,
    mask: np.ndarray,
    candidates: Sequence[Hashable] = DEFAULT_FACTORS,
    *,
    fraction: float = DEFAULT_HOLDOUT_FRACTION,
    seed: int = DEFAULT_HOLDOUT_SEED,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> HeldOutChoice:
    """The candidate whose reconstruction best predicts held-out lines.

    ``solve(kspace, mask, candidate)`` reconstructs complex ``(T, H, W)`` k-space with the
    candidate (e.g. a weight factor, a method name); it gets the k-space with the held-out lines
    removed and the fitting mask. ``progress(done, len(candidates))`` after each candidate;
    ``should_stop()`` polled before each (True raises :class:`~napari_dynmri.recon.base.ReconCancelled`).
    """
    kspace = np.asarray(kspace)
    fit, held = holdout_masks(mask, fraction, seed)
    if not held.any():
        return HeldOutChoice(None)
    fit_kspace = kspace * fit
    weights = unsampled_weights(mask)
    errors = {}
    for done, candidate in enumerate(candidates):
        if should_stop is not None and should_stop():
            raise ReconCancelled("the selection on held-out lines was cancelled")
        errors[candidate] = holdout_error(solve(fit_kspace, fit, candidate), kspace, held, weights)
        if progress is not None:
            progress(done + 1, len(candidates))
    return HeldOutChoice(min(errors, key=errors.get), errors)
