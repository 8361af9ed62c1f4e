"""x-f sparsity (``cs-xf``) and low-rank plus sparse (``cs-lps``) compressed sensing of a cine.

Both solve a regularised least-squares problem for measured k-space ``y`` (complex ``(T, H, W)``,
zero where not sampled), mask ``M`` and the centred orthonormal per-frame 2D FFT ``F``::

    cs-xf:   minimise_x    0.5 ||M F x - y||^2 + lam ||F_t x||_1
    cs-lps:  minimise_L,S  0.5 ||M F (L + S) - y||^2 + lam_lowrank ||C(L)||_* + lam ||F_t S||_1

``F_t`` is the orthonormal FFT over time (a heart beat is periodic, so its motion is sparse in
temporal frequency), ``C(L)`` the Casorati matrix of ``L`` (pixels x frames, its nuclear norm the
sum of singular values; Otazo et al., MRM 2015) and ``||.||_1`` the sum of complex moduli.

Scale invariance: the k-space is divided by ``s = max |F^H y|`` (the zero-filled magnitude
maximum) before solving and the result multiplied by ``s``, so ``lam`` is a weight relative to
image brightness; ``lam_lowrank`` is relative to the largest singular value of the zero-filled
Casorati matrix (a problem with weights ``lam * s`` and ``lam_lowrank * sigma_1(C(F^H y))`` in
the units of ``y``).

Solver: FISTA (Beck and Teboulle, 2009) from the zero-filled image
(:mod:`napari_dynmri.solvers.algorithms`, shared with networks that start from x-f sparsity). ``M F`` has norm 1, so
``cs-xf`` takes unit steps, and the gradient step is exact data consistency: the sampled
k-space of the current image is replaced by ``y``. ``cs-lps`` is a joint proximal gradient on
``(L, S)`` with step 1/2 (the Lipschitz constant of the joint data term is 2), starting from
``L`` = zero-filled and ``S = 0``. FISTA decreases the objective in the long run, not at every
step; the iteration count is part of each method's default, as for ``cs-ttv``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from napari_dynmri.recon.base import check_recon_inputs
from napari_dynmri.solvers.algorithms import XF_DEFAULT_LAM

# Weights measured on pig short-axis slices 2 and 10 (R = 8 vd-random, 8 centre lines): cs-xf 43.40 /
# 37.04 dB at 0.001 (43.49 / 36.64 at 0.0003, 42.76 / 36.29 at 0.003; XF_DEFAULT_LAM lives with its
# solver, which the cascades' x-f start also uses); cs-lps 44.27 / 37.47 dB at 0.001 / 0.001. The
# automatic weight (recon.weight) scales them per scan.
LPS_DEFAULT_LAM = 0.001
LPS_DEFAULT_LAM_LOWRANK = 0.001
DEFAULT_ITERATIONS = 100


def xf_objective(image, kspace, mask, lam: float) -> float:
    """``0.5 ||M F x - y||^2 + lam ||F_t x||_1`` in the units of ``kspace`` (``lam`` in those units).

    ``image``, ``kspace``: complex ``(T, H, W)``; ``mask``: bool ``(T, H, W)``. For a result of
    :func:`xf_reconstruct` with weight ``lam`` the weight in k-space units is ``lam * max |ifft2c(kspace)|``.
    """
    from napari_dynmri.physics.undersample import forward

    kspace, mask = check_recon_inputs(kspace, mask)
    image = np.asarray(image, dtype=np.complex128)
    residual = forward(image, mask) - kspace * mask
    sparse = np.fft.fft(image, axis=0, norm="ortho")
    return float(0.5 * np.sum(np.abs(residual) ** 2) + lam * np.sum(np.abs(sparse)))


def lps_objective(lowrank, sparse, kspace, mask, lam: float, lam_lowrank: float) -> float:
    """``0.5 ||M F (L + S) - y||^2 + lam_lowrank ||C(L)||_* + lam ||F_t S||_1`` in the units of ``kspace``."""
    from napari_dynmri.physics.undersample import forward

    kspace, mask = check_recon_inputs(kspace, mask)
    lowrank = np.asarray(lowrank, dtype=np.complex128)
    sparse = np.asarray(sparse, dtype=np.complex128)
    residual = forward(lowrank + sparse, mask) - kspace * mask
    nuclear = np.linalg.svd(lowrank.reshape(lowrank.shape[0], -1), compute_uv=False).sum()
    l1 = np.abs(np.fft.fft(sparse, axis=0, norm="ortho")).sum()
    return float(0.5 * np.sum(np.abs(residual) ** 2) + lam_lowrank * nuclear + lam * l1)


def _check(lam: float, iterations: int, name: str = "lam") -> None:
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {lam}")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")


def _solve(algorithm: str, kspace, mask, iterations, progress, should_stop, device, **weights):
    """Run a solver of :mod:`napari_dynmri.solvers.algorithms`; returns the problem and the finished solver."""
    from napari_dynmri.solvers import algorithms
    from napari_dynmri.solvers.loop import run
    from napari_dynmri.solvers.operator import KtProblem

    kspace, mask = check_recon_inputs(kspace, mask)
    problem = KtProblem.from_kspace(kspace, mask, device=device)
    solver = getattr(algorithms, algorithm)(problem, **weights)
    run(solver, iterations, progress, should_stop)
    return problem, solver


def xf_reconstruct(
    kspace: np.ndarray,
    mask: np.ndarray,
    lam: float = XF_DEFAULT_LAM,
    iterations: int = DEFAULT_ITERATIONS,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    device: str = "cpu",
) -> np.ndarray:
    """x-f sparsity compressed sensing (FISTA) of an undersampled single-coil cine.

    Args:
        kspace: complex (T, H, W), centred k-space, zero where not sampled (any scale).
        mask: bool (T, H, W), True where sampled.
        lam: weight of ``||F_t x||_1`` relative to ``max |zero-filled|`` (see the module docstring).
        iterations: FISTA iterations.
        progress: called as ``progress(done, iterations)`` after each iteration.
        should_stop: polled before each iteration; True raises :class:`~napari_dynmri.recon.base.ReconCancelled`.
        device: torch device the solver runs on.

    Returns:
        complex64 (T, H, W) image in the units of ``ifft2c(kspace)``.
    """
    import torch

    _check(lam, iterations)
    with torch.inference_mode():
        problem, solver = _solve("XfSparsity", kspace, mask, iterations, progress, should_stop, device, lam=lam)
        return problem.image(solver.result())


def lps_decompose(
    kspace: np.ndarray,
    mask: np.ndarray,
    lam: float = LPS_DEFAULT_LAM,
    lam_lowrank: float = LPS_DEFAULT_LAM_LOWRANK,
    iterations: int = DEFAULT_ITERATIONS,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Low-rank plus sparse compressed sensing (joint FISTA): the parts ``(L, S)``, complex64 ``(T, H, W)`` each.

    ``lam`` weighs ``||F_t S||_1`` relative to ``max |zero-filled|``; ``lam_lowrank`` weighs
    ``||C(L)||_*`` relative to the largest singular value of the zero-filled Casorati matrix.
    The other parameters are those of :func:`xf_reconstruct`; the image is ``L + S``
    (:func:`lps_reconstruct`).
    """
    import torch

    _check(lam, iterations)
    _check(lam_lowrank, iterations, "lam_lowrank")
    with torch.inference_mode():
        problem, solver = _solve("LowRankSparse", kspace, mask, iterations, progress, should_stop, device,
                                 lam=lam, lam_lowrank=lam_lowrank)
        return tuple(problem.image(part) for part in solver.parts())


def lps_reconstruct(kspace: np.ndarray, mask: np.ndarray, *args, **kwargs) -> np.ndarray:
    """The image ``L + S`` of :func:`lps_decompose` (same parameters), complex64 ``(T, H, W)``."""
    lowrank, sparse = lps_decompose(kspace, mask, *args, **kwargs)
    return lowrank + sparse
