"""Multi-coil (SENSE) reconstruction: the k-t operator with coil maps, the methods and cs-auto on it."""

import numpy as np
import pytest
import torch

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.metrics import psnr
from napari_dynmri.physics import fft2c, ifft2c, make_mask
from napari_dynmri.physics.coils import birdcage_maps
from napari_dynmri.recon import get_method
from napari_dynmri.solvers.algorithms import LowRankSparse, TemporalTV, XfSparsity, temporal_tv_prox
from napari_dynmri.solvers.loop import run
from napari_dynmri.solvers.operator import KtProblem
from napari_dynmri.solvers.prox import temporal_difference

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def multicoil():
    """``(target, kspace (T, C, H, W), mask, maps)``: a phantom seen by 4 birdcage coils, R = 6."""
    target = cardiac_phantom(8, 48, 48, seed=5)
    maps = birdcage_maps(4, target.shape[1:])
    mask = make_mask("vd-random", target.shape, 6, center_lines=6, seed=5)
    kspace = fft2c(target[:, None] * maps[None]) * mask[:, None]
    return target, kspace.astype(np.complex64), mask, maps


def test_sense_operator_is_adjoint_and_contracting(multicoil):
    _, kspace, mask, maps = multicoil
    for columns in (None, np.arange(0, 48, 5)):
        with torch.inference_mode():
            problem = KtProblem.from_kspace(np.moveaxis(kspace, 1, 0), mask, columns=columns, maps=maps)
            assert problem.coils and problem.y.shape[:2] == (4, 8)
            x = torch.randn_like(problem.zero_filled())
            k = torch.randn_like(problem.y)
            lhs = torch.vdot(problem.forward(x).flatten(), k.flatten())
            rhs = torch.vdot(x.flatten(), problem.adjoint(k).flatten())
            assert abs(lhs - rhs) < 1e-3 * abs(lhs)
            # normalised maps: ||A x|| <= ||x||, so unit gradient steps descend
            assert torch.linalg.vector_norm(problem.forward(x)) <= torch.linalg.vector_norm(x) * (1 + 1e-5)


@pytest.mark.parametrize("algorithm", [XfSparsity, LowRankSparse])
def test_one_coil_of_ones_is_the_single_coil_problem(multicoil, algorithm):
    target, _, mask, _ = multicoil
    kspace = fft2c(target) * mask
    ones = np.ones((1, *target.shape[1:]), dtype=np.complex64)
    weights = (0.003,) if algorithm is XfSparsity else (0.003, 0.01)
    with torch.inference_mode():
        single = KtProblem.from_kspace(kspace, mask)
        coil = KtProblem.from_kspace(kspace[None], mask, maps=ones)
        # the same iteration (momentum as given) on the SENSE operator of one coil of ones
        expected = single.image(run(algorithm(single, *weights, momentum=False), 15)[0])
        image = coil.image(run(algorithm(coil, *weights, momentum=False), 15)[0])
    np.testing.assert_allclose(image, expected, atol=1e-4 * np.abs(expected).max())


def test_momentum_defaults_off_for_coil_data_except_low_rank(multicoil):
    _, kspace, mask, maps = multicoil
    with torch.inference_mode():
        coil = KtProblem.from_kspace(np.moveaxis(kspace, 1, 0), mask, maps=maps)
        single = KtProblem.from_kspace(kspace[:, 0], mask)
        assert not XfSparsity(coil, 0.003).momentum.on and not TemporalTV(coil, 0.003).momentum.on
        assert XfSparsity(single, 0.003).momentum.on and LowRankSparse(coil, 0.003, 0.01).momentum.on
        assert XfSparsity(coil, 0.003, momentum=True).momentum.on


def test_temporal_tv_prox_known_answers():
    rng = np.random.default_rng(1)
    v = torch.from_numpy((rng.standard_normal((6, 5, 4)) + 1j * rng.standard_normal((6, 5, 4))).astype(np.complex64))
    unchanged, _ = temporal_tv_prox(v, 0.0, torch.zeros_like(v))
    np.testing.assert_allclose(unchanged.numpy(), v.numpy(), atol=1e-6)
    # a weight far above every difference makes every pixel constant over time: its temporal mean
    flat, _ = temporal_tv_prox(v, 100.0, torch.zeros_like(v), iterations=2000)
    np.testing.assert_allclose(flat.numpy(), np.broadcast_to(v.mean(0).numpy(), v.shape), atol=1e-3)
    # in between, it lowers the prox objective below that of both ends
    lam = 0.3
    middle, _ = temporal_tv_prox(v, lam, torch.zeros_like(v), iterations=500)

    def objective(x):
        return float(0.5 * (x - v).abs().square().sum() + lam * temporal_difference(x).abs().sum())

    assert objective(middle) < min(objective(v), objective(flat))


@pytest.mark.parametrize("spec", ["zero-filled", "view-sharing", "cs-xf", "cs-lps"])
def test_multicoil_methods_recover_the_image(multicoil, spec):
    target, kspace, mask, maps = multicoil
    options = {"lam": 0.003, "iterations": 30} if spec.startswith("cs-") else {}
    image = get_method(spec, device="cpu", **options).reconstruct(kspace, mask, maps=maps).image
    assert image.shape == target.shape and image.dtype == np.complex64
    combined = (ifft2c(kspace) * maps[None].conj()).sum(axis=1)  # SENSE-1 of the zero-filled coil images
    floor = psnr(combined, target)
    if spec == "zero-filled":
        np.testing.assert_allclose(image, combined, atol=1e-5)
    else:
        assert psnr(image, target) > floor + 2.0


def ttv_objective(problem, x, lam):
    """``0.5 ||A x - y||^2 + lam sum |D x|`` of a (normalised) problem, per problem of a batch."""
    data = 0.5 * problem.residual(x).abs().square().sum(dim=(-4, -3, -2, -1))
    return (data + lam * temporal_difference(x).abs().sum(dim=(-3, -2, -1))).numpy()


def test_multicoil_temporal_tv_descends_and_recovers_the_image(multicoil):
    target, kspace, mask, maps = multicoil
    with torch.inference_mode():
        problem = KtProblem.from_kspace(np.moveaxis(kspace, 1, 0), mask, maps=maps)
        objectives = [ttv_objective(problem, run(TemporalTV(problem, 0.003), n)[0], 0.003) for n in (0, 10, 40)]
    assert objectives[0] > objectives[1] > objectives[2]
    image = get_method("cs-ttv", device="cpu", lam=0.003, iterations=40).reconstruct(kspace, mask, maps=maps).image
    assert psnr(image, target) > psnr((ifft2c(kspace) * maps[None].conj()).sum(axis=1), target) + 2.0


def test_multicoil_temporal_tv_batch_solves_as_one_by_one(multicoil):
    _, kspace, mask, maps = multicoil
    lams = [0.001, 0.01]
    rng = np.random.default_rng(0)
    folds = mask[None] & (rng.random((2, *mask.shape[:2], 1)) < 0.8)  # two folds of the measured lines
    with torch.inference_mode():
        problem = KtProblem.from_kspace(np.moveaxis(kspace, 1, 0), mask, maps=maps)
        batch = problem.restricted(folds)
        together, _ = run(TemporalTV(batch, lams), 15)
        for index, lam in enumerate(lams):
            alone = problem.restricted(folds[index : index + 1])
            one, _ = run(TemporalTV(alone, lam), 15)
            np.testing.assert_allclose(together[index].numpy(), one[0].numpy(), atol=1e-5)


def test_cs_auto_on_coils_weighs_every_method(multicoil):
    target, kspace, mask, maps = multicoil
    result = get_method("cs-auto", device="cpu", iterations=20, uncertainty=True).reconstruct(kspace, mask, maps=maps)
    scores = result.settings["cross_validation"]["scores"]
    weighed = set(scores) | set(result.settings["cross_validation"]["screened_out"])
    assert {label.split(" ")[0] for label in weighed} == {"cs-xf", "cs-lps", "cs-ttv", "view-sharing"}
    # coil data are scored unweighted, single-coil data with importance weights (recon.weight)
    assert result.settings["cross_validation"]["weighting"] == "uniform"
    single = get_method("cs-auto", device="cpu", iterations=20, network="none").reconstruct(kspace[:, 0], mask)
    assert single.settings["cross_validation"]["weighting"] == "importance"
    assert result.uncertainty.shape == target.shape and result.coil_maps is maps and result.kspace.shape == kspace.shape
    assert psnr(result.image, target) > psnr((ifft2c(kspace) * maps[None].conj()).sum(axis=1), target) + 2.0
    with pytest.raises(ValueError, match="coil maps"):
        get_method("cs-xf", device="cpu", lam=0.003).reconstruct(kspace, mask, maps=maps[:3])


def test_raw_scans_with_many_coils_are_compressed(tmp_path):
    from napari_dynmri.data.samples import VIRTUAL_COILS, raw_acquisition
    from napari_dynmri.physics import Acquisition
    from napari_dynmri.simulation_coils import simulate_multicoil

    path = tmp_path / "many.h5"
    simulate_multicoil(cardiac_phantom(4, 32, 32, seed=1), VIRTUAL_COILS + 4).write_ismrmrd(path)
    acquisition = raw_acquisition(path, Acquisition("vd-random", 4.0, 4, 0))
    assert acquisition["kspace"].shape == (4, VIRTUAL_COILS, 32, 32)
    assert acquisition["maps"].shape == (VIRTUAL_COILS, 32, 32)
    assert acquisition["meta"]["coils"] == VIRTUAL_COILS + 4 and acquisition["meta"]["compression_energy_kept"] > 0.99
    image = get_method("cs-xf", device="cpu", lam=0.003, iterations=20).reconstruct(
        acquisition["kspace"], acquisition["mask"], maps=acquisition["maps"]).image
    assert psnr(image, acquisition["target"]) > psnr(acquisition["zero_filled"], acquisition["target"]) + 2.0


def test_coil_data_are_scored_on_virtual_coils_that_keep_the_sense_model():
    from napari_dynmri.recon.weight import SCORE_COILS, scoring_coils

    target = cardiac_phantom(6, 32, 32, seed=2)
    maps = birdcage_maps(SCORE_COILS + 2, target.shape[1:])
    mask = make_mask("vd-random", target.shape, 4, center_lines=4, seed=2)
    kspace = (fft2c(target[:, None] * maps[None]) * mask[:, None]).astype(np.complex64)  # (T, C, H, W)
    virtual, virtual_maps = scoring_coils(np.ascontiguousarray(np.moveaxis(kspace, 1, 0)), mask, maps)
    assert virtual.shape == (SCORE_COILS, *target.shape) and virtual_maps.shape == (SCORE_COILS, *target.shape[1:])
    # the compressed data are the compressed maps' k-space of the same image: the SENSE model holds
    predicted = fft2c(target[None] * virtual_maps[:, None]) * mask[None]
    np.testing.assert_allclose(predicted, virtual, atol=1e-4 * np.abs(virtual).max())
    sensitivity = (np.abs(maps) ** 2).sum(0)
    assert ((np.abs(virtual_maps) ** 2).sum(0) <= sensitivity + 1e-5).all()
    result = get_method("cs-auto", device="cpu", iterations=10, network="none").reconstruct(kspace, mask, maps=maps)
    assert result.settings["cross_validation"]["chosen"] is not None and result.image.shape == target.shape
