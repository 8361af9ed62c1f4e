import numpy as np
import pytest
import torch

from napari_dynmri.physics import (
    actual_acceleration,
    adjoint,
    center_rows,
    data_consistency,
    equispaced_mask,
    fft2c,
    forward,
    ifft2c,
    make_mask,
    undersample,
    uniform_random_mask,
    vd_random_mask,
)

RNG = np.random.default_rng(0)


def random_cine(shape=(5, 32, 24)):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(np.complex64)


@pytest.mark.parametrize("shape", [(4, 16, 16), (3, 15, 17), (2, 1, 7, 9)])
def test_fft_round_trip_and_parseval(shape):
    x = random_cine(shape)
    k = fft2c(x)
    np.testing.assert_allclose(ifft2c(k), x, atol=1e-5)
    np.testing.assert_allclose(np.sum(np.abs(k) ** 2), np.sum(np.abs(x) ** 2), rtol=1e-5)
    assert k.dtype == np.complex64


def test_fft_matches_the_written_convention():
    x = random_cine((3, 15, 18))
    expected = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    np.testing.assert_allclose(fft2c(x), expected, atol=1e-5)


@pytest.mark.parametrize("h,w", [(16, 16), (15, 17)])
def test_dc_component_at_centre(h, w):
    k = fft2c(np.ones((h, w), dtype=np.complex64))
    assert np.unravel_index(np.argmax(np.abs(k)), k.shape) == (h // 2, w // 2)
    np.testing.assert_allclose(abs(k[h // 2, w // 2]), np.sqrt(h * w), rtol=1e-5)


def test_torch_and_numpy_agree():
    x = random_cine((3, 15, 18))
    np.testing.assert_allclose(fft2c(torch.from_numpy(x)).numpy(), fft2c(x), atol=1e-5)
    np.testing.assert_allclose(ifft2c(torch.from_numpy(x)).numpy(), ifft2c(x), atol=1e-5)


def test_fft_rejects_1d():
    with pytest.raises(ValueError, match="at least 2 axes"):
        fft2c(np.zeros(4, dtype=np.complex64))


@pytest.mark.parametrize("generator", [vd_random_mask, uniform_random_mask])
@pytest.mark.parametrize("h,r", [(256, 8), (192, 4), (90, 6), (184, 12)])
def test_random_masks_sample_round_h_over_r_rows_per_frame(generator, h, r):
    mask = generator((6, h, 10), r, center_lines=8, seed=3)
    rows = mask[..., 0]
    assert mask.dtype == bool and mask.shape == (6, h, 10)
    assert (mask == mask[..., :1]).all(), "a Cartesian mask is constant along W"
    np.testing.assert_array_equal(rows.sum(axis=1), round(h / r))
    assert rows[:, h // 2 - 4: h // 2 + 4].all(), "the centre rows are always sampled"
    assert not (rows == rows[:1]).all(), "a new draw per frame"
    np.testing.assert_allclose(actual_acceleration(mask), h / round(h / r))


def test_vd_random_is_denser_near_the_centre():
    rows = vd_random_mask((400, 256, 1), 8, center_lines=8, seed=0)[..., 0]
    density = rows.mean(axis=0)
    near = np.r_[128 - 30: 128 - 4, 128 + 4: 128 + 30]
    far = np.r_[0:40, 216:256]
    assert density[near].mean() > 2 * density[far].mean()
    flat = uniform_random_mask((400, 256, 1), 8, center_lines=8, seed=0)[..., 0].mean(axis=0)
    assert abs(flat[near].mean() - flat[far].mean()) < 0.03


@pytest.mark.parametrize("kind", ["vd-random", "equispaced", "uniform-random"])
def test_masks_are_seeded(kind):
    a = make_mask(kind, (8, 64, 4), 4, seed=1)
    np.testing.assert_array_equal(a, make_mask(kind, (8, 64, 4), 4, seed=1))
    others = [make_mask(kind, (8, 64, 4), 4, seed=s) for s in range(2, 6)]
    assert any(not np.array_equal(a, b) for b in others)


def test_equispaced_every_r_th_row_plus_centre_with_shear():
    mask = equispaced_mask((4, 64, 3), 4, center_lines=6, seed=0)
    rows = mask[..., 0]
    centre = center_rows(64, 6)
    assert centre == slice(29, 35)
    assert rows[:, centre].all()
    outside = np.ones(64, bool)
    outside[centre] = False
    first = np.flatnonzero(rows[0] & outside)
    assert (np.diff(first) % 4 == 0).all()
    assert np.flatnonzero(rows[1] & outside)[0] % 4 == (first[0] + 1) % 4, "the lattice moves by one row per frame"
    unsheared = equispaced_mask((4, 64, 3), 4, center_lines=6, seed=0, shear=False)
    assert (unsheared == unsheared[:1]).all()


def test_mask_errors():
    with pytest.raises(ValueError, match="unknown mask type"):
        make_mask("radial", (2, 8, 8), 4)
    with pytest.raises(ValueError, match="acceleration"):
        make_mask("vd-random", (2, 8, 8), 0.5)
    with pytest.raises(ValueError, match="center_lines"):
        make_mask("vd-random", (2, 8, 8), 2, center_lines=9)
    with pytest.raises(ValueError, match="samples no"):
        actual_acceleration(np.zeros((2, 8, 8), bool))


def test_undersample_definition_and_noise():
    target = random_cine((4, 32, 20))
    mask = make_mask("vd-random", target.shape, 4, seed=0)
    kspace, zero_filled = undersample(target, mask)
    np.testing.assert_allclose(kspace, fft2c(target) * mask, atol=1e-6)
    np.testing.assert_allclose(zero_filled, ifft2c(kspace), atol=1e-6)
    assert kspace.dtype == zero_filled.dtype == np.complex64
    noisy, _ = undersample(target, mask, noise_sigma=0.1, seed=5)
    residual = (noisy - kspace)[mask]
    assert np.all(noisy[~mask] == 0)
    np.testing.assert_allclose(residual.std(), 0.1, rtol=0.1)
    np.testing.assert_array_equal(noisy, undersample(target, mask, noise_sigma=0.1, seed=5)[0])


def test_forward_adjoint_are_adjoint():
    x, y = random_cine((3, 16, 12)), random_cine((3, 16, 12))
    mask = make_mask("uniform-random", x.shape, 2, seed=0)
    lhs = np.vdot(forward(x, mask), y)
    rhs = np.vdot(x, adjoint(y, mask))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4)


def test_undersample_shape_mismatch():
    with pytest.raises(ValueError, match="disagree"):
        undersample(random_cine((4, 16, 16)), np.ones((4, 16, 8), bool))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_hard_data_consistency_is_exact_on_sampled_lines(backend):
    target, estimate = random_cine((4, 24, 16)), random_cine((4, 24, 16))
    mask = make_mask("vd-random", target.shape, 4, seed=2)
    k0, _ = undersample(target, mask)
    if backend == "torch":
        out = data_consistency(torch.from_numpy(estimate), torch.from_numpy(k0), torch.from_numpy(mask)).numpy()
    else:
        out = data_consistency(estimate, k0, mask)
    k = fft2c(out)
    np.testing.assert_allclose(k[mask], k0[mask], atol=1e-5)
    np.testing.assert_allclose(k[~mask], fft2c(estimate)[~mask], atol=1e-5)


def test_soft_data_consistency_formula():
    target, estimate = random_cine((2, 16, 16)), random_cine((2, 16, 16))
    mask = make_mask("uniform-random", target.shape, 2, seed=0)
    k0, _ = undersample(target, mask)
    v = 3.0
    k = fft2c(data_consistency(estimate, k0, mask, noise_level=v))
    expected = (fft2c(estimate) + v * k0) / (1 + v)
    np.testing.assert_allclose(k[mask], expected[mask], atol=1e-5)
    np.testing.assert_allclose(k[~mask], fft2c(estimate)[~mask], atol=1e-5)


def test_acquisition_is_a_checked_seeded_mask_function():
    from dataclasses import FrozenInstanceError

    from napari_dynmri.physics import DEFAULT_ACQUISITION, Acquisition

    assert DEFAULT_ACQUISITION == Acquisition()
    spec = Acquisition("equispaced", 4, center_lines=2, seed=3)
    np.testing.assert_array_equal(spec.mask((5, 32, 8)), make_mask("equispaced", (5, 32, 8), 4, 2, 3))
    np.testing.assert_array_equal(spec.mask((5, 32, 8), seed=7), make_mask("equispaced", (5, 32, 8), 4, 2, 7))
    assert spec.mask((5, 32, 8)).dtype == bool
    with pytest.raises(FrozenInstanceError):
        spec.seed = 1
    for options, message in [({"kind": "spiral"}, "unknown mask type 'spiral'"),
                             ({"acceleration": 0.5}, "acceleration must be"), ({"center_lines": -1}, "center lines"),
                             ({"seed": -1}, "the seed must be"), ({"noise": float("nan")}, "the noise sigma"),
                             ({"seed": True}, "the seed must be"), ({"acceleration": None}, "acceleration must be"),
                             ({"noise": "0.1"}, "the noise sigma"), ({"acceleration": 2000}, "between 1 and 1000")]:
        with pytest.raises(ValueError, match=message):
            Acquisition(**options)
    numpy_made = Acquisition("equispaced", np.int64(4), np.int32(2), np.int64(3), np.float32(0.5))
    assert numpy_made == Acquisition("equispaced", 4.0, 2, 3, 0.5)
    assert [type(getattr(numpy_made, f)) for f in ("acceleration", "center_lines", "seed", "noise")] == [
        float, int, int, float]  # plain numbers: meta and settings stay JSON


def test_acquisition_checks_the_rows_of_the_image_where_it_is_known():
    import warnings

    from napari_dynmri.physics import Acquisition
    from napari_dynmri.physics.acquisition import AccelerationWarning

    with pytest.raises(ValueError, match="the target: 16 centre lines leave none of the 16 rows"):
        Acquisition(center_lines=16).check_rows(16, "the target")
    with pytest.raises(ValueError, match="acceleration 20 without centre lines samples no row of 16"):
        Acquisition(acceleration=20, center_lines=0).check_rows(16)
    with pytest.warns(AccelerationWarning, match="the target: acceleration 30 cannot be reached on 32 rows"):
        Acquisition(acceleration=30).check_rows(32, "the target")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Acquisition(acceleration=4).check_rows(32)  # reachable: silent
