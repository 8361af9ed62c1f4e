"""x-f sparsity and low-rank plus sparse CS: objectives, exact recovery, a numpy reference, invariances."""

import numpy as np
import pytest

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.metrics import psnr
from napari_dynmri.models.cascade import CASCADE_OPTIONS
from napari_dynmri.physics import fft2c, ifft2c, make_mask, undersample
from napari_dynmri.recon import ReconCancelled
from napari_dynmri.recon.sparse import (
    DEFAULT_ITERATIONS,
    XF_DEFAULT_LAM,
    lps_decompose,
    lps_objective,
    lps_reconstruct,
    xf_objective,
    xf_reconstruct,
)
from napari_dynmri.solvers.prox import singular_value_threshold

pytestmark = pytest.mark.usefixtures("one_thread")


def numpy_fista_xf(kspace, mask, lam, iterations):
    """The x-f sparsity problem solved the plain way: numpy, centred FFTs, FISTA with unit steps."""
    scale = np.abs(ifft2c(kspace)).max()
    y = kspace / scale
    x = ifft2c(y)
    z, t = x, 1.0
    for _ in range(iterations):
        gradient = ifft2c(fft2c(z) * mask - y)
        coefficients = np.fft.fft(z - gradient, axis=0, norm="ortho")
        magnitude = np.maximum(np.abs(coefficients), 1e-12)
        shrunk = coefficients * np.maximum(1 - lam / magnitude, 0)
        previous, x = x, np.fft.ifft(shrunk, axis=0, norm="ortho")
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        z = x + (t - 1) / t_next * (x - previous)
        t = t_next
    return x * scale


def test_xf_matches_a_numpy_fista_reference(cs_acquisition):
    target, mask, kspace, _ = cs_acquisition
    ours = xf_reconstruct(kspace, mask, lam=0.003, iterations=60)
    reference = numpy_fista_xf(kspace.astype(np.complex128), mask, 0.003, 60)
    assert abs(psnr(ours, target) - psnr(reference, target)) < 0.1
    np.testing.assert_allclose(ours, reference, atol=2e-4)


def test_xf_objective_decreases_and_beats_zero_filling(cs_acquisition):
    target, mask, kspace, zero_filled = cs_acquisition
    lam = 0.003
    weight = lam * np.abs(zero_filled).max()
    objectives = [xf_objective(xf_reconstruct(kspace, mask, lam, n), kspace, mask, weight) for n in (0, 5, 20, 80)]
    assert objectives[0] == pytest.approx(xf_objective(zero_filled, kspace, mask, weight), rel=1e-5)
    assert all(b < a for a, b in zip(objectives, objectives[1:])), objectives
    assert psnr(xf_reconstruct(kspace, mask, lam), target) > psnr(zero_filled, target) + 3.0


def test_lps_objective_decreases_and_beats_zero_filling(cs_acquisition):
    target, mask, kspace, zero_filled = cs_acquisition
    lam, lam_lowrank = 0.003, 0.003
    sigma = np.linalg.svd(zero_filled.reshape(8, -1), compute_uv=False)[0]
    weights = (lam * np.abs(zero_filled).max(), lam_lowrank * sigma)

    def objective(n):
        lowrank, sparse = lps_decompose(kspace, mask, lam, lam_lowrank, n)
        return lps_objective(lowrank, sparse, kspace, mask, *weights)

    objectives = [objective(n) for n in (0, 5, 20, 80)]
    assert all(b < a for a, b in zip(objectives, objectives[1:])), objectives
    assert psnr(lps_reconstruct(kspace, mask, lam, lam_lowrank), target) > psnr(zero_filled, target) + 3.0


def test_static_cine_is_recovered_from_undersampled_data():
    # A still cine has a single temporal frequency, and the k-t mask covers every row over time:
    # the x-f sparse solution is the original, which zero filling is far from.
    frame = cardiac_phantom(1, 32, 32, seed=3)[0]
    target = np.repeat(frame[None], 8, axis=0)
    mask = make_mask("equispaced", target.shape, 4, center_lines=4, seed=0)
    assert mask.any(axis=0).all()
    kspace, zero_filled = undersample(target, mask)
    assert np.abs(zero_filled - target).max() > 0.1
    assert np.abs(xf_reconstruct(kspace, mask, lam=1e-3, iterations=300) - target).max() < 5e-3
    assert np.abs(lps_reconstruct(kspace, mask, 1e-3, 1e-3, iterations=400) - target).max() < 5e-3


def test_low_rank_plus_sparse_series_is_recovered_when_fully_sampled():
    rng = np.random.default_rng(0)
    n_frames, size = 10, 24
    spatial = rng.standard_normal((2, size * size)) + 1j * rng.standard_normal((2, size * size))
    temporal = rng.standard_normal((n_frames, 2))
    lowrank = (temporal @ spatial).reshape(n_frames, size, size)
    sparse = np.zeros_like(lowrank)
    sparse[:, 5, 7] = 3.0 * np.exp(2j * np.pi * np.arange(n_frames) / n_frames)  # one x-f coefficient
    target = (lowrank + sparse).astype(np.complex64)
    full = np.ones(target.shape, dtype=bool)
    recovered = lps_reconstruct(fft2c(target), full, 1e-5, 1e-5, iterations=50)
    np.testing.assert_allclose(recovered, target, atol=1e-3 * np.abs(target).max())


def test_singular_value_threshold_shrinks_singular_values():
    import torch

    rng = np.random.default_rng(1)
    x = (rng.standard_normal((6, 5, 4)) + 1j * rng.standard_normal((6, 5, 4))).astype(np.complex64)
    singular = np.linalg.svd(x.reshape(6, -1), compute_uv=False)
    shrunk = singular_value_threshold(torch.from_numpy(x), float(singular[2])).numpy()
    after = np.linalg.svd(shrunk.reshape(6, -1), compute_uv=False)
    np.testing.assert_allclose(after[:2], singular[:2] - singular[2], rtol=1e-4)
    assert after[2:].max() < 1e-4 * singular[0]


@pytest.mark.parametrize("solver", [xf_reconstruct, lps_reconstruct])
def test_weight_is_scale_invariant(cs_acquisition, solver):
    _, mask, kspace, _ = cs_acquisition
    base = solver(kspace, mask, iterations=15)
    scaled = solver(kspace * 250.0, mask, iterations=15)
    np.testing.assert_allclose(scaled / 250.0, base, atol=1e-5)


@pytest.mark.parametrize("solver", [xf_reconstruct, lps_reconstruct])
def test_progress_cancel_and_bad_input(cs_acquisition, solver):
    _, mask, kspace, _ = cs_acquisition
    seen = []
    solver(kspace, mask, iterations=3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(ReconCancelled):
        solver(kspace, mask, iterations=3, should_stop=lambda: True)
    # zero iterations return the starting image, the zero-filled one
    np.testing.assert_allclose(solver(kspace, mask, iterations=0), ifft2c(kspace * mask), atol=1e-6)
    np.testing.assert_array_equal(solver(np.zeros_like(kspace), mask), 0)
    with pytest.raises(ValueError, match="does not match"):
        solver(kspace, mask[:, :-1])
    with pytest.raises(ValueError, match="lam"):
        solver(kspace, mask, -1.0)
    with pytest.raises(ValueError, match="lam"):
        solver(kspace, mask, float("nan"))


def test_the_cs_xf_cascade_start_uses_the_cs_xf_defaults():
    assert (CASCADE_OPTIONS["init_lam"], CASCADE_OPTIONS["init_iterations"]) == (XF_DEFAULT_LAM, DEFAULT_ITERATIONS)
