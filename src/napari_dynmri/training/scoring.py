"""How a training run scores its network: on the validation sequences while it trains, on the test ones at the end.

The network is scored as ``dynmri eval`` scores a method (:func:`napari_dynmri.evaluation.evaluate_methods`
on full-size sequences with fixed masks), so the numbers in a model card and in ``dynmri eval`` agree.
"""

from __future__ import annotations

import numpy as np

from napari_dynmri.evaluation import evaluate_methods
from napari_dynmri.recon import NetworkMethod, XFSparsityMethod, ZeroFilled
from napari_dynmri.training.config import TrainConfig


def evaluate_model(model, sequences, config: TrainConfig, device, zero_filled: bool = False) -> dict:
    """Metrics of ``model`` on full-size sequences with fixed masks (``config.mask.acquisition(R)`` at each
    acceleration R of the config, seed ``mask.seed + index``).

    Scored by :func:`napari_dynmri.evaluation.evaluate_methods` with the network applied as
    :class:`napari_dynmri.recon.NetworkMethod` (in time windows), as ``dynmri eval`` scores it.

    Args:
        sequences: ``[(name, cine), ...]``, complex ``(T, H, W)``.
        zero_filled: score the zero-filled images instead of the model.

    Returns:
        ``{"psnr", "ssim"}`` means over sequences and accelerations and ``"per_acceleration"``:
        ``{"R4": {"psnr", "ssim"}, ...}``.
    """
    # a refining network is validated from the cs-xf start at its default weight: cs-auto's choice,
    # its start in use, costs ~45 solves a cine
    method = (
        ZeroFilled()
        if zero_filled
        else NetworkMethod(model, "model", device=str(device),
                           start=XFSparsityMethod(lam=XFSparsityMethod.default_weights["lam"], device=str(device)))
    )
    per, every = {}, []
    for acceleration in config.mask.accelerations:
        rows = evaluate_methods({method.name: method}, sequences, config.mask.acquisition(acceleration))[method.name]
        per[f"R{acceleration:g}"] = {
            "psnr": float(np.mean([row["psnr"] for row in rows])),
            "ssim": float(np.mean([row["ssim"] for row in rows])),
        }
        every += rows
    return {
        "psnr": float(np.mean([row["psnr"] for row in every])),
        "ssim": float(np.mean([row["ssim"] for row in every])),
        "per_acceleration": per,
    }
