"""The compressed-sensing algorithms on a :class:`~napari_dynmri.solvers.operator.KtProblem`.

Each is a small object with ``step()`` and ``result()`` driven by :func:`napari_dynmri.solvers.run`.
Weights are floats or 1D tensors; a tensor of ``B`` weights solves ``B`` problems at once (with a
problem batch of ``B`` masks, e.g. folds, or one shared mask): the batch shape is the broadcast of
the problem's leading axes and the weights'. All start from the zero-filled image.

- :class:`XfSparsity`: ``min 0.5 ||A x - y||^2 + lam ||F_t x||_1`` by proximal gradient with unit
  steps (``A`` has norm at most 1; with one coil each gradient step is exact data consistency).
- :class:`LowRankSparse`: ``min 0.5 ||A (L + S) - y||^2 + lam_lowrank ||C(L)||_* + lam ||F_t S||_1``
  by joint proximal gradient with step 1/2 (Otazo et al., MRM 2015); ``lam_lowrank`` is relative to
  ``sigma_1`` of the zero-filled Casorati matrix.
- :class:`TemporalTV`: ``min 0.5 ||A x - y||^2 + lam sum |x[t+1] - x[t]|``. With one coil by ADMM on
  ``z = D x`` with penalty ``rho`` (default ``RHO_PER_LAM * lam``): ``D`` acts along time and commutes
  with ``F``, so the x-update ``(A^H A + rho D^H D) x = ...`` is one ``T x T`` system per sampled
  k-space position, inverted once up front. With coil maps ``S`` mixes positions and no such inverse
  exists: proximal gradient with unit steps instead, the prox of the TV term by ``TV_PROX_ITERATIONS``
  dual projected-gradient steps (Beck and Teboulle, IEEE TIP 2009) warm-started from the previous
  iteration's dual.

**Momentum** (FISTA) is on by default, except for x-f sparsity and temporal TV with coil maps
(``momentum`` overrides). With one coil every step is exact data consistency and momentum only speeds
the way to a well-posed solution. With coils the SENSE inverse at R = 8 is ill-conditioned, the
iterations are early-stopped (100 by default), and with unit steps momentum reaches the
noise-amplified directions sooner; L+S, whose joint step is 1/2, needs it to get as far.
Measured on the pig short-axis slice 10 (8 frames, 8 birdcage coils, noise 0.01, vd-random R = 8;
PSNR against the fully sampled SENSE combination, 100 iterations, weights as multiples of each
method's default): x-f sparsity 31.6 dB with momentum (the best of x1 and x3) against 34.3 dB
without (x3.2); temporal TV 31.1 dB (the best of x0.33, x1 and x3.3) against 34.9 dB (x1.1); L+S
34.3 dB with momentum (x10) against 32.2 dB without (the best of x1, x3.2 and x10). BART ``pics`` temporal TV on the
same data: 34.6 dB at its best weight. Cross-validation then tunes the
weight of the estimator as it is, iterations included.

The objectives and the defaults of the methods are in :mod:`napari_dynmri.recon.sparse` and
:mod:`napari_dynmri.recon.cs`.
"""

from __future__ import annotations

import numpy as np
import torch

from napari_dynmri.solvers.loop import run
from napari_dynmri.solvers.operator import KtProblem
from napari_dynmri.solvers.prox import (
    adjoint_difference,
    largest_singular_value,
    singular_value_threshold,
    soft_threshold,
    temporal_difference,
    temporal_fft,
    temporal_ifft,
)

RHO_PER_LAM = 500.0
# dual projected-gradient steps of the multi-coil temporal-TV prox, warm-started from the previous
# iteration's dual: the prox changes little from one outer iteration to the next
TV_PROX_ITERATIONS = 10


def per_problem(value, device) -> torch.Tensor:
    """A weight (float or 1D sequence) as a float tensor that broadcasts over ``(B, T, H, W)``."""
    value = torch.as_tensor(value, dtype=torch.float32, device=device)
    return value.reshape(*value.shape, 1, 1, 1)


class _Momentum:
    """FISTA's extrapolation ``z = x + (t_k - 1) / t_{k+1} (x - x_previous)``, or none (``z = x``).

    ``weight()`` advances ``t`` once per iteration; ``extrapolate`` applies that weight to each part.
    """

    def __init__(self, on: bool):
        self.on, self.t = on, 1.0

    def weight(self) -> float:
        if not self.on:
            return 0.0
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * self.t * self.t)) / 2.0
        weight, self.t = (self.t - 1.0) / t_next, t_next
        return weight

    def extrapolate(self, x, previous, weight: float):
        return torch.sub(x, previous).mul_(weight).add_(x) if self.on else x


def _momentum_for(problem: KtProblem, momentum: bool | None) -> _Momentum:
    """Momentum as asked, by default on for one coil and off with coil maps (see the module docstring)."""
    return _Momentum(not problem.coils if momentum is None else bool(momentum))


def _always_momentum(_problem: KtProblem, momentum: bool | None) -> _Momentum:
    """Momentum as asked, by default on."""
    return _Momentum(True if momentum is None else bool(momentum))


def _start(problem: KtProblem, *weights):
    """The zero-filled start, expanded to the batch shape of the problem and the weights."""
    x = problem.zero_filled()
    batch = torch.broadcast_shapes(x.shape[:-3], *(w.shape[:-3] for w in weights))
    return x.expand(*batch, *x.shape[-3:]).clone()


class XfSparsity:
    """x-f sparsity by proximal gradient; see the module docstring."""

    def __init__(self, problem: KtProblem, lam, momentum: bool | None = None):
        self.problem = problem
        self.lam = per_problem(lam, problem.y.device)
        self.unmeasured = (~problem.mask).to(torch.float32)
        self.x = _start(problem, self.lam)
        self.z, self.momentum = self.x, _momentum_for(problem, momentum)

    def step(self) -> None:
        # problem.consistent and soft_threshold, written in place (a sixth less time on 2 CPU cores)
        problem = self.problem
        if problem.coils:
            spectrum = temporal_fft(problem.consistent(self.z))
        else:
            k = problem.fft(self.z).mul_(self.unmeasured).add_(problem.y)  # y is zero where not measured
            spectrum = temporal_fft(problem.ifft(k))
        spectrum.mul_(spectrum.abs().clamp_(min=1e-12).reciprocal_().mul_(-self.lam).add_(1.0).clamp_(min=0.0))
        previous, self.x = self.x, temporal_ifft(spectrum)
        self.z = self.momentum.extrapolate(self.x, previous, self.momentum.weight())

    def result(self):
        return self.x


class LowRankSparse:
    """Low rank plus x-f sparse by joint proximal gradient; see the module docstring. ``result()`` is ``L + S``."""

    def __init__(self, problem: KtProblem, lam, lam_lowrank, momentum: bool | None = None):
        self.problem = problem
        device = problem.y.device
        self.lam = per_problem(lam, device)
        lam_lowrank = per_problem(lam_lowrank, device)
        self.lowrank = _start(problem, self.lam, lam_lowrank)
        self.sparse = torch.zeros_like(self.lowrank)
        sigma = largest_singular_value(self.lowrank).to(torch.float32)
        self.lowrank_threshold = 0.5 * lam_lowrank.reshape(lam_lowrank.shape[:-3]) * sigma
        self.z_lowrank, self.z_sparse = self.lowrank, self.sparse
        self.momentum = _always_momentum(problem, momentum)

    def step(self) -> None:
        half_gradient = 0.5 * self.problem.gradient(self.z_lowrank + self.z_sparse)
        previous_lowrank, previous_sparse = self.lowrank, self.sparse
        self.lowrank = singular_value_threshold(self.z_lowrank - half_gradient, self.lowrank_threshold)
        self.sparse = temporal_ifft(soft_threshold(temporal_fft(self.z_sparse - half_gradient), 0.5 * self.lam))
        weight = self.momentum.weight()  # one for both parts: the joint FISTA of Otazo et al.
        self.z_lowrank = self.momentum.extrapolate(self.lowrank, previous_lowrank, weight)
        self.z_sparse = self.momentum.extrapolate(self.sparse, previous_sparse, weight)

    def parts(self):
        """``(L, S)``."""
        return self.lowrank, self.sparse

    def result(self):
        return self.lowrank + self.sparse


def x_update_inverses(mask: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """Inverses of ``diag(m) + rho L`` for every position's sampling pattern ``m`` over time, float32.

    ``mask``: bool layout mask ``(..., T, P, Q)`` (``(..., T, 1, H)`` for row masks); ``rho``:
    ``(..., 1, 1, 1)`` broadcasting against it. Returns ``(..., P, Q, T, T)``. A position never
    sampled has a singular matrix (``L`` annihilates constants); the pseudo-inverse gives the
    minimum-norm solution, which keeps its temporal mean at zero, as zero filling does. Equal
    (pattern, rho) pairs are inverted once.
    """
    batch = torch.broadcast_shapes(mask.shape[:-3], rho.shape[:-3])
    n_frames = mask.shape[-3]
    patterns = torch.movedim(mask.expand(*batch, *mask.shape[-3:]), -3, -1)  # (..., P, Q, T)
    rhos = rho.reshape(*rho.shape[:-3], 1, 1).expand(*patterns.shape[:-1])
    keys = torch.cat([patterns.reshape(-1, n_frames).double(), rhos.reshape(-1, 1).double()], dim=1).cpu().numpy()
    unique, index = np.unique(keys, axis=0, return_inverse=True)
    eye = np.eye(n_frames)
    difference = np.roll(eye, -1, axis=0) - eye
    laplacian = difference.T @ difference
    systems = np.einsum("pt,ts->pts", unique[:, :n_frames], eye) + unique[:, n_frames, None, None] * laplacian
    # on the CPU in float64: GPU eigensolvers fail to converge on the near-singular systems of tiny rho
    inverses = torch.linalg.pinv(torch.from_numpy(systems), hermitian=True).to(torch.float32).to(mask.device)
    return inverses[torch.from_numpy(index.reshape(-1)).to(mask.device)].reshape(*patterns.shape, n_frames)


def _solve_x(inverses, rhs):
    """Apply the per-position inverses ``(..., P, Q, T, T)`` to complex layout k-space ``(..., T, R, S)``.

    Row masks (``P = 1``: one system per phase-encoding row, the last axis) use one batched
    ``(T x T) x (T x 2 R)`` product per row.
    """
    parts = torch.view_as_real(rhs)  # (..., T, R, S, 2)
    if inverses.shape[-4] == 1:
        *batch, n_frames, columns, n_rows, _ = parts.shape
        stacked = parts.permute(*range(len(batch)), -2, -4, -3, -1).reshape(*batch, n_rows, n_frames, 2 * columns)
        solved = (inverses.squeeze(-4) @ stacked).reshape(*batch, n_rows, n_frames, columns, 2)
        return torch.view_as_complex(solved.permute(*range(len(batch)), -3, -2, -4, -1).contiguous())
    solved = inverses @ torch.movedim(parts, -4, -2)  # (..., H, W, T, 2)
    return torch.view_as_complex(torch.movedim(solved, -2, -4).contiguous())


def temporal_tv_prox(v, lam, dual, iterations: int = TV_PROX_ITERATIONS):
    """Approximately ``argmin_x 0.5 ||x - v||^2 + lam sum |x[t+1] - x[t]|`` per pixel, and its dual.

    Dual projected gradient: ``x = v - D^H w``, ``w <- P(w + D x / 4)`` with ``P`` the projection of
    every complex entry onto the disc of radius ``lam`` (``1/4`` is ``1 / ||D||^2``). ``dual``: the
    start ``w`` (zeros, or the previous call's, warm), shaped as ``v``; it is updated in place (the
    circular differences are written into preallocated tensors: half the time of allocating ones on
    2 CPU cores). Returns ``(x, w)``.
    """
    x, step = torch.empty_like(v), torch.empty_like(v)

    def primal():  # x = v - D^H w = v + w[t] - w[t - 1]
        torch.add(v, dual, out=x)
        x[..., 1:, :, :].sub_(dual[..., :-1, :, :])
        x[..., :1, :, :].sub_(dual[..., -1:, :, :])

    for _ in range(iterations):
        primal()
        torch.sub(x[..., 1:, :, :], x[..., :-1, :, :], out=step[..., :-1, :, :])  # D x = x[t + 1] - x[t]
        torch.sub(x[..., :1, :, :], x[..., -1:, :, :], out=step[..., -1:, :, :])
        dual.add_(step, alpha=0.25)
        dual.mul_(dual.abs().clamp_(min=1e-12).reciprocal_().mul_(lam).clamp_(max=1.0))
    primal()
    return x, dual


class TemporalTV:
    """Temporal TV, by ADMM with one coil and by proximal gradient with coil maps; see the module docstring.

    ``rho``: the ADMM penalty (one coil only); ``momentum``: for the proximal gradient of coil data.
    """

    def __init__(self, problem: KtProblem, lam, rho=None, momentum: bool | None = None):
        self.problem = problem
        device = problem.y.device
        self.lam = per_problem(lam, device)
        self.rho = per_problem(rho, device) if rho is not None else RHO_PER_LAM * self.lam
        if bool((self.rho <= 0).any()):
            raise ValueError("the ADMM penalty rho must be > 0")
        self.x = _start(problem, self.lam, self.rho)
        if problem.coils:
            self.z, self.dual = self.x, torch.zeros_like(self.x)
            self.momentum = _momentum_for(problem, momentum)
        else:
            self.inverses = x_update_inverses(problem.mask, self.rho)
            self.z = temporal_difference(self.x)
            self.u = torch.zeros_like(self.z)

    def step(self) -> None:
        problem = self.problem
        if problem.coils:
            previous = self.x
            self.x, self.dual = temporal_tv_prox(problem.consistent(self.z), self.lam, self.dual)
            self.z = self.momentum.extrapolate(self.x, previous, self.momentum.weight())
            return
        rhs = problem.y + self.rho * problem.fft(adjoint_difference(self.z - self.u))
        self.x = problem.ifft(_solve_x(self.inverses, rhs))
        v = temporal_difference(self.x) + self.u
        self.z = soft_threshold(v, self.lam / self.rho)
        self.u = v - self.z

    def result(self):
        return self.x


# cs-xf's default weight (relative to max |zero-filled|; recon.sparse has how it was chosen)
XF_DEFAULT_LAM = 0.001


def xf_fista(kspace, mask, lam: float, iterations: int):
    """x-f sparsity on centred torch k-space ``(..., T, H, W)`` and a bool mask that broadcasts against it.

    Each leading index is its own problem, normalised by its own ``max |zero-filled|``; returns
    the centred complex image in the units of the k-space (the classical start of the cascades).
    """
    problem = KtProblem.from_kspace(kspace, mask, device=kspace.device)
    image, _ = run(XfSparsity(problem, lam), iterations)
    return problem.centred(image)
