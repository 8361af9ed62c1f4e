"""Temporal-TV compressed sensing: objective, accuracy against zero filling, exactness, invariances."""

import numpy as np
import pytest

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.metrics import psnr
from napari_dynmri.physics import fft2c, make_mask, undersample
from napari_dynmri.recon import ReconCancelled
from napari_dynmri.recon.cs import temporal_difference, ttv_objective, ttv_reconstruct

pytestmark = pytest.mark.usefixtures("one_thread")


def test_temporal_difference_is_circular():
    x = np.arange(4.0)[:, None, None] * np.ones((1, 2, 2))
    np.testing.assert_array_equal(temporal_difference(x)[:, 0, 0], [1, 1, 1, -3])


def test_objective_decreases_over_iterations(cs_acquisition):
    _, mask, kspace, zero_filled = cs_acquisition
    lam = 0.01
    weight = lam * np.abs(zero_filled).max()  # the weight in the units of the k-space

    def objectives(**options):
        return [
            ttv_objective(ttv_reconstruct(kspace, mask, lam=lam, iterations=n, **options), kspace, mask, weight)
            for n in (0, 3, 10, 40, 120)
        ]

    default = objectives()
    assert default[0] == pytest.approx(ttv_objective(zero_filled, kspace, mask, weight), rel=1e-5)
    assert all(b < a for a, b in zip(default, default[1:])), default
    # with a moderate penalty ADMM converges: iterations 40 to 120 gain under 2 %, and the
    # default (large, early-stopped) penalty ends above that minimum
    moderate = objectives(rho=30 * lam)
    assert all(b < a for a, b in zip(moderate, moderate[1:])), moderate
    assert moderate[-2] - moderate[-1] < 0.02 * moderate[-1]
    assert default[-1] > moderate[-1]


def test_beats_zero_filling(cs_acquisition):
    target, mask, kspace, zero_filled = cs_acquisition
    image = ttv_reconstruct(kspace, mask)
    assert image.dtype == np.complex64 and image.shape == target.shape
    assert psnr(image, target) > psnr(zero_filled, target) + 3.0


def test_small_weight_keeps_the_measured_data(cs_acquisition):
    _, mask, kspace, _ = cs_acquisition
    image = ttv_reconstruct(kspace, mask, lam=1e-6, iterations=50)
    residual = np.linalg.norm(fft2c(image)[mask] - kspace[mask]) / np.linalg.norm(kspace[mask])
    assert residual < 1e-3


def test_static_cine_is_recovered_exactly():
    # A cine without motion has zero temporal TV, and the k-t mask covers every row over time,
    # so the original is the only image with zero objective: the solver must find it.
    frame = cardiac_phantom(1, 32, 32, seed=3)[0]
    target = np.repeat(frame[None], 8, axis=0)
    mask = make_mask("equispaced", target.shape, 4, center_lines=4, seed=0)
    assert mask.any(axis=0).all()
    kspace, zero_filled = undersample(target, mask)
    image = ttv_reconstruct(kspace, mask, lam=0.01, iterations=200)
    assert np.abs(image - target).max() < 1e-3
    assert np.abs(zero_filled - target).max() > 0.1


def test_fully_sampled_small_weight_returns_the_target(cs_acquisition):
    target = cs_acquisition[0]
    full = np.ones(target.shape, dtype=bool)
    image = ttv_reconstruct(fft2c(target), full, lam=1e-5, iterations=20)
    np.testing.assert_allclose(image, target, atol=1e-3)


def test_weight_is_scale_invariant(cs_acquisition):
    _, mask, kspace, _ = cs_acquisition
    base = ttv_reconstruct(kspace, mask, iterations=20)
    scaled = ttv_reconstruct(kspace * 250.0, mask, iterations=20)
    np.testing.assert_allclose(scaled / 250.0, base, atol=1e-5)


def test_pixelwise_mask_uses_the_general_solver(cs_acquisition):
    target, _, _, _ = cs_acquisition
    rng = np.random.default_rng(0)
    mask = rng.random(target.shape) < 0.3
    mask[:, 20:28, 20:28] = True
    kspace, zero_filled = undersample(target, mask)
    image = ttv_reconstruct(kspace, mask, iterations=60)
    assert psnr(image, target) > psnr(zero_filled, target) + 3.0
    # a position never sampled in any frame stays at zero mean over time (the minimum-norm choice)
    mask[:, 0, 0] = False
    kspace = kspace * mask
    k_image = fft2c(ttv_reconstruct(kspace, mask, iterations=10))
    assert abs(k_image[:, 0, 0].mean()) < 1e-6


def test_cancel_and_progress(cs_acquisition):
    _, mask, kspace, _ = cs_acquisition
    seen = []
    ttv_reconstruct(kspace, mask, iterations=4, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with pytest.raises(ReconCancelled):
        ttv_reconstruct(kspace, mask, iterations=4, should_stop=lambda: True)


def test_zero_kspace_and_bad_input(cs_acquisition):
    _, mask, kspace, _ = cs_acquisition
    np.testing.assert_array_equal(ttv_reconstruct(np.zeros_like(kspace), mask), 0)
    with pytest.raises(ValueError, match="does not match"):
        ttv_reconstruct(kspace, mask[:, :-1])
    with pytest.raises(ValueError, match="lam"):
        ttv_reconstruct(kspace, mask, lam=-1.0)
    with pytest.raises(ValueError, match="rho"):
        ttv_reconstruct(kspace, mask, rho=0.0)
