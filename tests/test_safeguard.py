"""A refining network as one more candidate of cs-auto: taken only when the held-out lines prefer it."""

import numpy as np
import pytest
import torch

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.models import save_model
from napari_dynmri.models.registry import build_model
from napari_dynmri.physics import Acquisition, fft2c, ifft2c
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

    def refine(self, kspace, mask, start, progress=None, should_stop=None):
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
