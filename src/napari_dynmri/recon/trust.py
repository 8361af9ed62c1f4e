"""The trust map: where the measured lines do not determine the image.

The chosen candidate reconstructs the cine once per fold of the cross-validation, each time
without that fold's lines (:func:`napari_dynmri.recon.weight.kfold_masks`). Where the data pin the
image down, the fold reconstructions agree; where the prior fills in, they differ. Their spread
is the delete-a-group jackknife estimate of the standard deviation of the complex image,
``sqrt((K - 1) / K * sum_k |x_k - mean_k x_k|^2)``, in the units of the image, smoothed in-plane
by a Gaussian of ``SMOOTHING_PIXELS`` (the error is spatially coherent: on the pig sample with
cs-xf at R = 8 the Spearman correlation with ``|recon - target|`` is 0.52 for the magnitude spread,
0.56 for the complex spread, 0.59 smoothed). How well it predicts the real error is measured on
the stress sets (docs/benchmarks.md, "Trust map").
"""

from __future__ import annotations

import numpy as np

SMOOTHING_PIXELS = 1.0


def fold_spread(family, kspace: np.ndarray, mask: np.ndarray, factor: float, cross_validation,
                device: str = "cpu", should_stop=None, maps: np.ndarray | None = None) -> np.ndarray:
    """Per-pixel jackknife spread of ``family``'s fold reconstructions (smoothed): float32 ``(T, H, W)``.

    ``family``: a candidate of :func:`~napari_dynmri.recon.weight.cross_validate` (it has
    ``predict``); ``factor``: its weight factor; ``cross_validation``: the
    :class:`~napari_dynmri.recon.weight.CrossValidation` whose folds (count, seed) are used. All
    zeros when the mask has no lines to hold out. With coil ``maps`` ``(C, H, W)``, ``kspace`` is ``(C, T, H, W)``.
    """
    import torch
    from scipy.ndimage import gaussian_filter

    from napari_dynmri.recon.weight import kfold_masks
    from napari_dynmri.solvers.operator import KtProblem

    fit, _ = kfold_masks(mask, cross_validation.folds, cross_validation.seed)
    folds = fit.shape[0]
    if folds < 2:
        return np.zeros(mask.shape, dtype=np.float32)
    with torch.inference_mode():
        problem = KtProblem.from_kspace(kspace, mask, device=device, maps=maps)
        total = torch.zeros(np.shape(mask), dtype=torch.complex64, device=device)
        squares = torch.zeros(mask.shape, dtype=torch.float32, device=device)
        for k in range(folds):  # one fold at a time keeps the peak memory of a single solve
            images = problem.centred(family.predict(problem.restricted(fit[k:k + 1]), np.array([factor]), None,
                                                    should_stop))[0]
            total += images
            squares += images.abs() ** 2
        mean = total / folds
        variance = torch.clamp(squares / folds - mean.abs() ** 2, min=0.0) * (folds - 1)
        spread = torch.sqrt(variance).cpu().numpy()
    return gaussian_filter(spread, (0, SMOOTHING_PIXELS, SMOOTHING_PIXELS)).astype(np.float32)
