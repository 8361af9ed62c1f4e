"""A refining network as one more candidate of cs-auto, taken only when the held-out lines prefer it; on coil data too."""

import numpy as np
import pytest
import torch

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.metrics import psnr
from napari_dynmri.models import save_model
from napari_dynmri.models.registry import build_model
from napari_dynmri.physics import Acquisition, data_consistency, fft2c, ifft2c, make_mask, sense_data_consistency
from napari_dynmri.physics.coils import birdcage_maps
from napari_dynmri.recon import get_method
from napari_dynmri.recon.methods import CS_METHODS, AutoCompressedSensing
from napari_dynmri.recon.safeguard import SAFEGUARD_COLUMNS, _strip, check_network
from napari_dynmri.recon.weight import CrossValidation
from napari_dynmri.simulation import simulate
from napari_dynmri.training import config_from_dict, train

TINY = {"n_stages": 1, "block": "naive", "channels": 4, "depth": 2}


@pytest.fixture(scope="module")
def case():
    """An 8 x 32 x 96 phantom at R = 4: wider than the safeguard's strip, so the strip path runs."""
    return simulate(cardiac_phantom(8, 32, 96, seed=4), Acquisition("vd-random", 4, 4, 0))


class FakeNetwork:
    """A refining network that returns the truth (``oracle``), its start, or its start spoilt by noise."""

    refines = True

    def __init__(self, target, behaviour):
        self.target, self.behaviour, self.name, self.calls = target, behaviour, behaviour, 0

    def refine(self, kspace, mask, start, progress=None, should_stop=None, maps=None):
        self.calls += 1
        if self.behaviour == "oracle":
            width = start.shape[-1]
            return self.target if width == self.target.shape[-1] else self.target[..., _strip(self.target.shape[-1])]
        if self.behaviour == "noisy":
            return start + 0.05 * np.random.default_rng(0).standard_normal(start.shape)
        return start


def test_the_strip_of_a_row_masked_image_has_k_space_only_on_measured_rows(case):
    strip = _strip(case.mask.shape[-1])
    assert case.mask.shape[-1] > SAFEGUARD_COLUMNS
    kspace = fft2c(ifft2c(case.kspace)[..., strip])
    unmeasured = ~case.mask[..., strip]
    assert np.abs(kspace[unmeasured]).max() < 1e-5 * np.abs(kspace).max()


@pytest.mark.parametrize("behaviour, chosen", [("oracle", True), ("identity", False), ("noisy", False)])
def test_the_network_is_taken_only_when_it_predicts_held_out_lines_better(case, behaviour, chosen):
    network = FakeNetwork(case.target, behaviour)
    check = check_network(network, CS_METHODS["cs-xf"](device="cpu"), 1.0, case.kspace, case.mask,
                          CrossValidation(iterations=20))
    assert check.chosen is chosen and check.folds == network.calls == 5 and check.columns == SAFEGUARD_COLUMNS
    if behaviour == "identity":
        assert check.error_network == pytest.approx(check.error_classical)


def test_cs_auto_refines_its_choice_only_when_the_check_says_so(case):
    cross_validation = CrossValidation(iterations=20)
    plain = AutoCompressedSensing(iterations=20, cross_validation=cross_validation)
    classical = plain.reconstruct(case.kspace, case.mask).image
    for behaviour, chosen in (("oracle", True), ("noisy", False)):
        method = AutoCompressedSensing(iterations=20, cross_validation=cross_validation,
                                       network=FakeNetwork(case.target, behaviour))
        result = method.reconstruct(case.kspace, case.mask)
        record = result.settings["network"]
        assert record["chosen"] is chosen and record["name"] == behaviour
        np.testing.assert_allclose(result.image, case.target if chosen else classical, atol=1e-6)
        assert ("refined by" in method.settings_summary(result.settings)) is chosen


@pytest.mark.parametrize("block", ["naive", "complex", "fast"])
def test_an_identity_start_cascade_returns_its_start_made_data_consistent(case, block):
    model = build_model("cascade", {**TINY, "block": block, "init": "given", "identity_start": True})
    start = torch.from_numpy(ifft2c(case.kspace) + 0.1)[None]  # not consistent with the measurements
    kspace, mask = torch.from_numpy(case.kspace)[None], torch.from_numpy(case.mask)[None]
    with torch.no_grad():
        out = model(start, kspace, mask).numpy()[0]
    expected = ifft2c(np.where(case.mask, case.kspace, fft2c(start.numpy()[0])))
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_a_refining_checkpoint_starts_from_cs_auto_and_is_refused_where_it_cannot_work(tmp_path, case):
    refiner = save_model(build_model("cascade", {**TINY, "init": "given"}), tmp_path / "refiner")
    plain = save_model(build_model("cascade", TINY), tmp_path / "plain")
    network = get_method(str(refiner), device="cpu")
    assert network.refines and network.start.name == "cs-auto"
    result = network.reconstruct(case.kspace, case.mask)
    assert result.image.shape == case.target.shape and result.settings["start"]["method"] in CS_METHODS.keys() | {
        "view-sharing"}
    assert network.settings_summary(result.settings).startswith(f"refining {result.settings['start']['method']}")
    auto = get_method("cs-auto", device="cpu", network=str(refiner), iterations=10)
    record = auto.reconstruct(case.kspace, case.mask).settings["network"]
    assert set(record) == {"name", "chosen", "folds", "columns", "error_classical", "error_network"}
    with pytest.raises(ValueError, match="does not refine a classical start"):
        get_method("cs-auto", device="cpu", network=str(plain))
    with pytest.raises(ValueError, match="scan adaptation is not available"):
        get_method(str(refiner), device="cpu", adapt=True)


def test_a_refining_cascade_trains_on_classical_starts(tmp_path):
    config = config_from_dict({
        "model": {"name": "cascade", **TINY, "init": "given"},
        "data": {"train": "phantom:8:8x32x32", "crop": [24, 24], "frames": 4, "start": "classical",
                 "variety": {"noise": [0.0, 0.01], "smooth_phase": 0.5}},
        "mask": {"accelerations": [4], "center_lines": 4},
        "iterations": 2, "batch_size": 1, "output": str(tmp_path / "run"), "val_every": 0,
        "checkpoint_every": 0, "num_threads": 1, "evaluate_test": False,
    })
    folder = train(config)
    assert get_method(str(folder), device="cpu").refines


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine: the GPU path runs where one is")
def test_the_refining_network_and_its_check_run_on_the_gpu_as_on_the_cpu(tmp_path, case):
    refiner = save_model(build_model("cascade", {**TINY, "init": "given"}), tmp_path / "refiner")
    images, settings = {}, {}
    for device in ("cpu", "cuda"):
        result = get_method("cs-auto", device=device, network=str(refiner), iterations=10).reconstruct(
            case.kspace, case.mask)
        images[device], settings[device] = result.image, result.settings
    assert settings["cuda"]["method"] == settings["cpu"]["method"]
    assert settings["cuda"]["network"]["chosen"] == settings["cpu"]["network"]["chosen"]
    np.testing.assert_allclose(images["cuda"], images["cpu"], atol=1e-3 * np.abs(images["cpu"]).max())


# networks on multi-coil data: the SENSE data-consistency step, refining cascades, cs-auto's check on coils


@pytest.fixture(scope="module")
def coils():
    """``(target, kspace (T, C, H, W), mask, maps)``: a phantom seen by 4 birdcage coils, R = 4, 96 columns."""
    target = cardiac_phantom(8, 32, 96, seed=3)
    maps = birdcage_maps(4, target.shape[1:]).astype(np.complex64)
    mask = make_mask("vd-random", target.shape, 4, center_lines=4, seed=3)
    kspace = (fft2c(target[:, None] * maps[None]) * mask[:, None]).astype(np.complex64)
    return target.astype(np.complex64), kspace, mask, maps


def sense_one(kspace, maps):
    return (ifft2c(kspace) * maps[None].conj()).sum(axis=1)


@pytest.mark.parametrize("noise_level", [None, 0.5])
def test_sense_dc_of_one_coil_of_ones_is_the_single_coil_dc(coils, noise_level):
    target, _, mask, _ = coils
    rng = np.random.default_rng(0)
    estimate = (target + 0.1 * rng.standard_normal(target.shape)).astype(np.complex64)
    k0 = fft2c(target) * mask
    ones = np.ones((1, *target.shape[1:]), dtype=np.complex64)
    expected = data_consistency(estimate, k0, mask, noise_level)
    np.testing.assert_allclose(sense_data_consistency(estimate, k0[:, None], mask, ones, noise_level), expected,
                               atol=1e-5)
    as_torch = sense_data_consistency(torch.from_numpy(estimate), torch.from_numpy(k0[:, None]),
                                      torch.from_numpy(mask), torch.from_numpy(ones), noise_level)
    np.testing.assert_allclose(as_torch.numpy(), expected, atol=1e-5)


def test_sense_dc_keeps_a_consistent_image_and_lowers_the_residual(coils):
    target, kspace, mask, maps = coils
    np.testing.assert_allclose(sense_data_consistency(target, kspace, mask, maps), target, atol=1e-5)
    start = sense_one(kspace, maps)

    def residual(x):
        return np.linalg.norm((fft2c(x[:, None] * maps[None]) - kspace) * mask[:, None])

    assert residual(sense_data_consistency(start, kspace, mask, maps)) < 0.9 * residual(start)
    with pytest.raises(ValueError, match="do not match"):
        sense_data_consistency(start, kspace[:, :3], mask, maps)


def test_an_identity_start_cascade_on_coils_returns_its_start_after_one_sense_step(coils):
    _, kspace, mask, maps = coils
    model = build_model("cascade", {**TINY, "init": "given", "identity_start": True})
    start = sense_one(kspace, maps) + 0.1
    with torch.no_grad():
        out = model(torch.from_numpy(start)[None], torch.from_numpy(kspace)[None], torch.from_numpy(mask)[None],
                    torch.from_numpy(maps)).numpy()[0]
    np.testing.assert_allclose(out, sense_data_consistency(start, kspace, mask, maps), atol=1e-5)
    with pytest.raises(ValueError, match="kspace must be complex of shape"):
        model(torch.from_numpy(start)[None], torch.from_numpy(kspace[:, 0])[None], torch.from_numpy(mask)[None],
              torch.from_numpy(maps))


def test_refining_networks_run_on_coil_data_and_others_are_refused(tmp_path, coils):
    target, kspace, mask, maps = coils
    refiner = save_model(build_model("cascade", {**TINY, "init": "given", "identity_start": True}), tmp_path / "r")
    result = get_method(str(refiner), device="cpu").reconstruct(kspace, mask, maps=maps)
    assert result.image.shape == target.shape
    assert psnr(result.image, target) > psnr(sense_one(kspace, maps), target) + 2.0
    plain = save_model(build_model("cascade", TINY), tmp_path / "plain")
    with pytest.raises(ValueError, match="only networks that refine a classical start run on multi-coil data"):
        get_method(str(plain), device="cpu").reconstruct(kspace, mask, maps=maps)


@pytest.mark.parametrize("behaviour, chosen", [("oracle", True), ("noisy", False)])
def test_cs_auto_weighs_a_refiner_on_the_held_out_lines_of_every_coil(coils, behaviour, chosen):
    target, kspace, mask, maps = coils
    method = AutoCompressedSensing(iterations=20, cross_validation=CrossValidation(iterations=20),
                                   network=FakeNetwork(target, behaviour))
    result = method.reconstruct(kspace, mask, maps=maps)
    assert result.settings["network"]["chosen"] is chosen
    if chosen:
        np.testing.assert_allclose(result.image, target, atol=1e-6)
