"""The safeguard: a refining network is used on a scan only when the scan's own held-out lines prefer it.

cs-auto's cross-validation (:mod:`napari_dynmri.recon.weight`) picks a classical candidate and its
weight. A network that refines a classical start (a cascade with ``init="given"``) is then one more
candidate, scored the same way on the first ``SAFEGUARD_FOLDS`` folds: for each fold the chosen
candidate reconstructs the cine without the fold's lines, the network refines that reconstruction
(with data consistency on the fold's lines only), and both predict the held-out lines. The network
is taken when its held-out error, summed over those folds and weighted as cs-auto weighs its
candidates, is below the classical one's: a paired comparison on the same lines, so the default is never knowingly made
worse by the network.

For row masks the comparison runs on the ``SAFEGUARD_COLUMNS`` central image columns: the classical
problem separates into columns after the readout transform, so its strip is exact, and the
strip's own 2D k-space (``fft2c`` of the strip of the zero-filled image) is zero on the rows that
were not measured, so the network's data consistency on it is exact too. That keeps the check to a
quarter of a 256-column image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_dynmri.physics.fft import fft2c, ifft2c
from napari_dynmri.physics.masks import is_row_mask
from napari_dynmri.recon.weight import SCORE_COILS, holdout_error, kfold_masks, scoring_coils, unsampled_weights

SAFEGUARD_FOLDS = 5
SAFEGUARD_COLUMNS = 64


@dataclass
class NetworkCheck:
    """How the network did against the classical candidate on the held-out lines of ``folds`` folds."""

    network: str
    folds: int
    columns: int
    error_classical: float
    error_network: float

    @property
    def chosen(self) -> bool:
        """True when the network predicts the held-out lines better than the classical candidate."""
        return self.error_network < self.error_classical

    def summary(self) -> dict:
        """JSON-ready record for ``settings["network"]``."""
        return {
            "name": self.network,
            "chosen": self.chosen,
            "folds": self.folds,
            "columns": self.columns,
            "error_classical": float(f"{self.error_classical:.6g}"),
            "error_network": float(f"{self.error_network:.6g}"),
        }


def _strip(width: int) -> slice:
    """The ``SAFEGUARD_COLUMNS`` central columns of ``width`` (all when it is narrower)."""
    if width <= SAFEGUARD_COLUMNS:
        return slice(None)
    start = (width - SAFEGUARD_COLUMNS) // 2
    return slice(start, start + SAFEGUARD_COLUMNS)


def _coil_images(image: np.ndarray, maps: np.ndarray | None) -> np.ndarray:
    """``(T, H, W)`` images as the coils see them, ``(C, T, H, W)`` (the image itself without maps)."""
    return image if maps is None else image[None] * maps[:, None]


def check_network(network, family, factor: float, kspace: np.ndarray, mask: np.ndarray, cross_validation,
                  device: str = "cpu", should_stop=None, maps: np.ndarray | None = None) -> NetworkCheck | None:
    """Score ``network`` (a refining :class:`~napari_dynmri.recon.methods.NetworkMethod`) against ``family``
    at weight ``factor`` (cs-auto's choice) on held-out lines; see the module docstring.

    ``kspace``: complex ``(T, H, W)``, or coil-first ``(C, T, H, W)`` with coil ``maps`` ``(C, H, W)`` (the
    held-out lines of every coil are scored, of the virtual coils of ``scoring_coils`` when there are more
    than ``SCORE_COILS``); ``mask``: bool ``(T, H, W)``; ``cross_validation``: the
    :class:`~napari_dynmri.recon.weight.CrossValidation` whose folds are used. None when the mask
    has no lines to hold out.
    """
    import torch

    from napari_dynmri.solvers.operator import KtProblem

    fit, held = kfold_masks(mask, cross_validation.folds, cross_validation.seed)
    folds = min(SAFEGUARD_FOLDS, fit.shape[0])
    if fit.shape[0] < 2:
        return None
    columns = _strip(mask.shape[-1]) if is_row_mask(mask) else slice(None)
    if maps is not None and maps.shape[0] > SCORE_COILS:  # scored as cs-auto's candidates are
        kspace, maps = scoring_coils(kspace, mask, maps)
    with torch.inference_mode():
        problem = KtProblem.from_kspace(kspace, mask, device=device, columns=None if columns == slice(None) else columns,
                                        maps=maps)
        starts = family.predict(problem.restricted(fit[:folds]), np.full(folds, factor), None, should_stop)
        starts = problem.centred(starts).cpu().numpy()  # (folds, T, H, W')
    measured = fft2c(ifft2c(kspace)[..., columns])  # the strip's k-space from every measured line (per coil)
    strip_maps = None if maps is None else np.ascontiguousarray(maps[..., columns])
    # weighted as cs-auto's candidates are (recon.weight: importance, unweighted for coil data)
    importance = unsampled_weights(mask)[..., columns] if maps is None else np.ones(mask[..., columns].shape)
    weights = np.broadcast_to(importance, measured.shape)
    errors = {"classical": 0.0, "network": 0.0}
    for k in range(folds):
        fold_mask = np.ascontiguousarray(fit[k][..., columns])
        fold_kspace = fft2c(ifft2c(kspace * fit[k])[..., columns]) * fold_mask
        if maps is not None:
            fold_kspace = np.moveaxis(fold_kspace, 0, 1)  # (T, C, H, W'), as the network takes it
        refined = network.refine(fold_kspace, fold_mask, starts[k], should_stop=should_stop, maps=strip_maps)
        held_k = np.broadcast_to(held[k][..., columns], measured.shape)
        errors["classical"] += holdout_error(_coil_images(starts[k], strip_maps), measured, held_k, weights)
        errors["network"] += holdout_error(_coil_images(refined, strip_maps), measured, held_k, weights)
    return NetworkCheck(network.name, folds, measured.shape[-1], errors["classical"] / folds,
                        errors["network"] / folds)
