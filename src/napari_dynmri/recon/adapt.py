"""Scan-specific self-supervised adaptation of a network (``--adapt``): no ground truth, only the scan.

The network is fine-tuned on the one scan's own measured k-space, as in SSDU (Yaman et al., MRM
2020) and zero-shot ZS-SSL (Yaman et al., ICLR 2022):

- a seeded tenth of the measured outer lines is set aside for early stopping (the held-out lines
  of :mod:`napari_dynmri.recon.weight`), never seen by the network while it adapts;
- each step splits the remaining lines at random into a data-consistency set (60 %), which the
  network gets as its input, and a loss set (40 %), whose k-space the output must predict
  (normalised l1 + l2 loss on those samples);
- every ``validate_every`` steps the network, given all remaining lines, predicts the held-out
  lines (the importance-weighted error of :func:`~napari_dynmri.recon.weight.holdout_error`); the
  weights with the smallest error are kept, the unadapted ones included, so adapting cannot make
  that error worse, and it stops after ``patience`` validations without improvement.

Steps train on a random band of ``crop`` image columns: masks sample whole rows (phase encoding
along ``H``), so cropping columns commutes with the mask and the band's k-space is exactly that of
the band image, at a fraction of the cost. Validation uses the whole image. A cine longer than
``window`` frames adapts on its first ``window`` frames. The caller's model is never modified.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from napari_dynmri.recon.base import ReconCancelled
from napari_dynmri.recon.weight import holdout_error, holdout_masks, unsampled_weights
from napari_dynmri.recon.windowed import DEFAULT_WINDOW

DEFAULT_ADAPT_ITERATIONS = 20
DEFAULT_LEARNING_RATE = 1e-4
LOSS_FRACTION = 0.4
VALIDATE_EVERY = 5
PATIENCE = 2
CROP_COLUMNS = 64


@dataclass
class Adaptation:
    """An adapted copy of a network and what happened: ``errors`` maps step -> held-out error
    (step 0: the unadapted network); ``best_step`` is the step whose weights ``model`` holds
    (0: adapting did not help, ``model`` equals the input); ``steps`` is how many were run."""

    model: object
    errors: dict[int, float] = field(default_factory=dict)
    best_step: int = 0
    steps: int = 0

    def summary(self) -> dict:
        """JSON-ready record for ``settings``."""
        return {
            "adapt_steps": self.steps,
            "adapt_best_step": self.best_step,
            "adapt_holdout_error": {str(step): round(error, 6) for step, error in self.errors.items()},
        }


def _crop_columns(kspace, start: int, width: int):
    """The k-space ``(..., H, W)`` of image columns ``start:start + width`` (torch, centred layout)."""
    import torch

    hybrid = torch.fft.fftshift(torch.fft.ifft(torch.fft.ifftshift(kspace, dim=-1), dim=-1, norm="ortho"), dim=-1)
    band = hybrid[..., start:start + width]
    return torch.fft.fftshift(torch.fft.fft(torch.fft.ifftshift(band, dim=-1), dim=-1, norm="ortho"), dim=-1)


def _normalised_loss(predicted, measured):
    """``||p - m||_1 / ||m||_1 + ||p - m||_2 / ||m||_2`` over the loss samples (SSDU's loss)."""
    difference = predicted - measured
    return (difference.abs().sum() / measured.abs().sum().clamp_min(1e-12)
            + difference.abs().pow(2).sum().sqrt() / measured.abs().pow(2).sum().sqrt().clamp_min(1e-12))


def adapt_model(
    model,
    kspace: np.ndarray,
    mask: np.ndarray,
    iterations: int = DEFAULT_ADAPT_ITERATIONS,
    *,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    window: int = DEFAULT_WINDOW,
    crop: int = CROP_COLUMNS,
    validate_every: int = VALIDATE_EVERY,
    patience: int = PATIENCE,
    seed: int = 0,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Adaptation:
    """Fine-tune a copy of ``model`` on one scan, see the module docstring.

    ``model(zero_filled, kspace, mask)`` is a network of :mod:`napari_dynmri.models` (complex
    ``(B, T, H, W)`` in and out); ``kspace`` complex ``(T, H, W)`` (zero where not sampled) and
    ``mask`` bool ``(T, H, W)``. ``progress(done, iterations)`` after each step; ``should_stop()``
    polled before each (True raises :class:`~napari_dynmri.recon.base.ReconCancelled`).
    """
    import torch

    from napari_dynmri.physics.fft import fft2c, ifft2c

    if iterations < 0:
        raise ValueError(f"adapt iterations must be >= 0, got {iterations}")
    kspace, mask = np.asarray(kspace)[:window], np.asarray(mask, dtype=bool)[:window]
    fit, held = holdout_masks(mask, seed=seed)
    adapted = copy.deepcopy(model).to(device)
    result = Adaptation(adapted)
    if iterations == 0 or not held.any():
        return result
    weights = unsampled_weights(mask)
    fit_k = torch.from_numpy(np.ascontiguousarray(kspace * fit)).to(device)[None]
    fit_m = torch.from_numpy(np.ascontiguousarray(fit)).to(device)[None]
    rows_only = bool((mask == mask[..., :1]).all())
    width = mask.shape[-1] if not rows_only else min(crop, mask.shape[-1])

    def validation_error() -> float:
        adapted.eval()
        with torch.no_grad():
            image = adapted(ifft2c(fit_k), fit_k, fit_m)[0].cpu().numpy()
        return holdout_error(image, kspace, held, weights)

    best_state = copy.deepcopy(adapted.state_dict())
    result.errors[0] = best = validation_error()
    optimizer = torch.optim.Adam(adapted.parameters(), lr=learning_rate)
    rng = np.random.default_rng(seed)
    waited = 0
    for step in range(1, iterations + 1):
        if should_stop is not None and should_stop():
            raise ReconCancelled("the adaptation was cancelled")
        dc, loss_lines = holdout_masks(fit, fraction=LOSS_FRACTION, seed=int(rng.integers(2**31)))
        start = int(rng.integers(mask.shape[-1] - width + 1))
        k_band = _crop_columns(fit_k, start, width) if width < mask.shape[-1] else fit_k
        dc_t = torch.from_numpy(np.ascontiguousarray(dc[..., :width])).to(device)[None]
        loss_t = torch.from_numpy(np.ascontiguousarray(loss_lines[..., :width])).to(device)[None]
        k_dc = k_band * dc_t
        adapted.train()
        output = adapted(ifft2c(k_dc), k_dc, dc_t)
        loss = _normalised_loss(fft2c(output)[loss_t.expand_as(k_band)], k_band[loss_t.expand_as(k_band)])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        result.steps = step
        if step % validate_every == 0 or step == iterations:
            result.errors[step] = error = validation_error()
            if error < best:
                best, result.best_step, waited = error, step, 0
                best_state = copy.deepcopy(adapted.state_dict())
            else:
                waited += 1
                if waited >= patience:
                    break
        if progress is not None:
            progress(step, iterations)
    adapted.load_state_dict(best_state)
    adapted.eval()
    if progress is not None:
        progress(iterations, iterations)
    return result
