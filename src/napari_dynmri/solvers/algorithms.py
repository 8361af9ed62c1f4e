"""The compressed-sensing algorithms on a :class:`~napari_dynmri.solvers.operator.KtProblem`.

Each is a small object with ``step()`` and ``result()`` driven by :func:`napari_dynmri.solvers.run`.
Weights are floats or 1D tensors; a tensor of ``B`` weights solves ``B`` problems at once (with a
problem batch of ``B`` masks, e.g. folds, or one shared mask): the batch shape is the broadcast of
the problem's leading axes and the weights'. All start from the zero-filled image.

- :class:`XfSparsity`: ``min 0.5 ||A x - y||^2 + lam ||F_t x||_1`` by FISTA with unit steps
  (``A`` has norm at most 1; with one coil each gradient step is exact data consistency).
- :class:`LowRankSparse`: ``min 0.5 ||A (L + S) - y||^2 + lam_lowrank ||C(L)||_* + lam ||F_t S||_1``
  by joint FISTA with step 1/2 (Otazo et al., MRM 2015); ``lam_lowrank`` is relative to
  ``sigma_1`` of the zero-filled Casorati matrix.
- :class:`TemporalTV`: ``min 0.5 ||A x - y||^2 + lam sum |x[t+1] - x[t]|`` by ADMM on ``z = D x``
  with penalty ``rho`` (default ``RHO_PER_LAM * lam``). With one coil the x-update
  ``(A^H A + rho D^H D) x = ...`` is exact: ``D`` acts along time and commutes with ``F``, so in
  k-space it is one ``T x T`` system per sampled position, inverted once up front. With coil maps
  ``S`` mixes positions, so no such inverse exists: the x-update is ``CG_ITERATIONS`` conjugate-gradient
  iterations warm-started from the previous ``x`` (inexact ADMM), preconditioned by the exact
  single-coil inverse.

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
# Conjugate-gradient iterations of each multi-coil temporal-TV x-update, warm-started from the previous x
# and preconditioned by the exact single-coil inverse of the mask raised to PRECONDITIONER_FLOOR
# everywhere (coils see positions the mask leaves out, which the inverse of the bare mask, singular
# there, would never update). On an 8 x 48 x 48 phantom with 4 coils at R = 6 (lam 0.003, 100
# iterations) 3 such iterations give 31.9 dB, as 20 plain CG iterations do (31.8 dB; 3 plain: 30.0 dB).
# Solving the x-update more exactly does not help: 20 preconditioned iterations reach the same
# objective with 28.1 dB (the early-stopped path regularises, as for one coil, see recon/cs.py).
CG_ITERATIONS = 3
PRECONDITIONER_FLOOR = 0.2


def per_problem(value, device) -> torch.Tensor:
    """A weight (float or 1D sequence) as a float tensor that broadcasts over ``(B, T, H, W)``."""
    value = torch.as_tensor(value, dtype=torch.float32, device=device)
    return value.reshape(*value.shape, 1, 1, 1)


def _momentum(t: float) -> tuple[float, float]:
    t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
    return (t - 1.0) / t_next, t_next


def _start(problem: KtProblem, *weights):
    """The zero-filled start, expanded to the batch shape of the problem and the weights."""
    x = problem.zero_filled()
    batch = torch.broadcast_shapes(x.shape[:-3], *(w.shape[:-3] for w in weights))
    return x.expand(*batch, *x.shape[-3:]).clone()


class XfSparsity:
    """x-f sparsity by FISTA; see the module docstring."""

    def __init__(self, problem: KtProblem, lam):
        self.problem = problem
        self.lam = per_problem(lam, problem.y.device)
        self.unmeasured = (~problem.mask).to(torch.float32)
        self.x = _start(problem, self.lam)
        self.z, self.t = self.x, 1.0

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
        momentum, self.t = _momentum(self.t)
        self.z = torch.sub(self.x, previous).mul_(momentum).add_(self.x)

    def result(self):
        return self.x


class LowRankSparse:
    """Low rank plus x-f sparse by joint FISTA; see the module docstring. ``result()`` is ``L + S``."""

    def __init__(self, problem: KtProblem, lam, lam_lowrank):
        self.problem = problem
        device = problem.y.device
        self.lam = per_problem(lam, device)
        lam_lowrank = per_problem(lam_lowrank, device)
        self.lowrank = _start(problem, self.lam, lam_lowrank)
        self.sparse = torch.zeros_like(self.lowrank)
        sigma = largest_singular_value(self.lowrank).to(torch.float32)
        self.lowrank_threshold = 0.5 * lam_lowrank.reshape(lam_lowrank.shape[:-3]) * sigma
        self.z_lowrank, self.z_sparse, self.t = self.lowrank, self.sparse, 1.0

    def step(self) -> None:
        half_gradient = 0.5 * self.problem.adjoint(self.problem.residual(self.z_lowrank + self.z_sparse))
        previous_lowrank, previous_sparse = self.lowrank, self.sparse
        self.lowrank = singular_value_threshold(self.z_lowrank - half_gradient, self.lowrank_threshold)
        self.sparse = temporal_ifft(soft_threshold(temporal_fft(self.z_sparse - half_gradient), 0.5 * self.lam))
        momentum, self.t = _momentum(self.t)
        self.z_lowrank = self.lowrank + momentum * (self.lowrank - previous_lowrank)
        self.z_sparse = self.sparse + momentum * (self.sparse - previous_sparse)

    def parts(self):
        """``(L, S)``."""
        return self.lowrank, self.sparse

    def result(self):
        return self.lowrank + self.sparse


def x_update_inverses(mask: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """Inverses of ``diag(m) + rho L`` for every position's sampling pattern ``m`` over time, float32.

    ``mask``: bool layout mask ``(..., T, P, Q)`` (``(..., T, 1, H)`` for row masks), or float weights
    in [0, 1] of that shape (the multi-coil preconditioner's floored mask); ``rho``:
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


class TemporalTV:
    """Temporal TV by ADMM; see the module docstring.

    ``cg_iterations``: conjugate-gradient iterations per x-update of a multi-coil problem (unused
    with one coil, whose x-update is exact).
    """

    def __init__(self, problem: KtProblem, lam, rho=None, cg_iterations: int = CG_ITERATIONS):
        self.problem = problem
        device = problem.y.device
        self.lam = per_problem(lam, device)
        self.rho = per_problem(rho, device) if rho is not None else RHO_PER_LAM * self.lam
        if bool((self.rho <= 0).any()):
            raise ValueError("the ADMM penalty rho must be > 0")
        if cg_iterations < 1:
            raise ValueError(f"cg_iterations must be >= 1, got {cg_iterations}")
        self.cg_iterations = int(cg_iterations)
        if problem.coils:
            floor = PRECONDITIONER_FLOOR
            self.inverses = x_update_inverses(problem.mask.squeeze(-4).float() * (1 - floor) + floor, self.rho)
            self.zero_filled = problem.zero_filled()  # A^H y, the data part of every right-hand side
        else:
            self.inverses = x_update_inverses(problem.mask, self.rho)
        self.x = _start(problem, self.lam, self.rho)
        self.z = temporal_difference(self.x)
        self.u = torch.zeros_like(self.z)
        self.normal_x = self._x_update_normal(self.x) if problem.coils else None

    def step(self) -> None:
        problem = self.problem
        if problem.coils:
            rhs = self.zero_filled + self.rho * adjoint_difference(self.z - self.u)
            self.x, self.normal_x = conjugate_gradient(
                self._x_update_normal, rhs, self.x, self.normal_x, self.cg_iterations, self._preconditioner
            )
        else:
            rhs = problem.y + self.rho * problem.fft(adjoint_difference(self.z - self.u))
            self.x = problem.ifft(_solve_x(self.inverses, rhs))
        v = temporal_difference(self.x) + self.u
        self.z = soft_threshold(v, self.lam / self.rho)
        self.u = v - self.z

    def _x_update_normal(self, x):
        """``(A^H A + rho D^H D) x``, the x-update's system."""
        return self.problem.normal(x) + self.rho * adjoint_difference(temporal_difference(x))

    def _preconditioner(self, x):
        """The exact single-coil x-update of the floored mask (see ``PRECONDITIONER_FLOOR``)."""
        problem = self.problem
        return problem.ifft(_solve_x(self.inverses, problem.fft(x)))

    def result(self):
        return self.x


def conjugate_gradient(normal, rhs, x, normal_x, iterations: int, preconditioner=None):
    """``iterations`` (preconditioned) conjugate-gradient steps on ``normal(x) = rhs`` from ``x``, per problem of a batch.

    ``normal``: a Hermitian positive semi-definite operator on complex ``(..., T, P, Q)`` tensors
    that acts on each leading index alone; ``rhs``, ``x`` and ``normal_x = normal(x)`` (kept by the
    caller across warm-started solves: one application of ``normal`` fewer per solve) broadcast to
    that shape; ``preconditioner``: an approximate inverse of ``normal`` of the same kind, or None.
    Step sizes are per problem (sums over the last three axes), so a batch solves as its problems
    would one by one. Returns ``(x, normal(x))``.
    """

    def inner(a, b):
        return (a.conj() * b).real.sum(dim=(-3, -2, -1), keepdim=True)

    def precondition(r):
        return r if preconditioner is None else preconditioner(r)

    residual = rhs - normal_x
    preconditioned = precondition(residual)
    direction = preconditioned
    energy = inner(residual, preconditioned)
    for _ in range(iterations):
        image = normal(direction)
        # a converged problem (zero residual and direction) takes a zero step rather than dividing by 0
        step = energy / inner(direction, image).clamp(min=1e-30)
        x = x + step * direction
        normal_x = normal_x + step * image
        residual = residual - step * image
        preconditioned = precondition(residual)
        previous, energy = energy, inner(residual, preconditioned)
        direction = preconditioned + (energy / previous.clamp(min=1e-30)) * direction
    return x, normal_x


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
