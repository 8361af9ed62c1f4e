"""Scan-specific self-supervised adaptation: lowers the held-out error, keeps DC exact, never worse, cancels."""

import numpy as np
import pytest
import torch

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.models import build_model
from napari_dynmri.physics import fft2c, make_mask, undersample
from napari_dynmri.recon import NetworkMethod, ReconCancelled
from napari_dynmri.recon.adapt import _crop_columns, adapt_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def scan():
    target = cardiac_phantom(8, 32, 48, seed=4)
    mask = make_mask("vd-random", target.shape, 4, center_lines=4, seed=4)
    kspace, _ = undersample(target, mask)
    return target, mask, kspace


def small_cascade():
    torch.manual_seed(0)
    return build_model("cascade", {"n_stages": 2, "block": "naive", "depth": 2, "channels": 8}).eval()


def test_adaptation_lowers_the_held_out_error_and_leaves_the_model_alone(scan):
    _, mask, kspace = scan
    model = small_cascade()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    result = adapt_model(model, kspace, mask, iterations=12, learning_rate=1e-3, crop=16, validate_every=3,
                         patience=10)
    assert result.steps == 12 and set(result.errors) == {0, 3, 6, 9, 12}
    assert result.best_step > 0 and result.errors[result.best_step] < 0.95 * result.errors[0]
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())
    adapted = result.model.state_dict()
    assert any(not torch.equal(before[name], adapted[name]) for name in before)


def test_divergent_adaptation_keeps_the_original_weights(scan):
    _, mask, kspace = scan
    model = small_cascade()
    result = adapt_model(model, kspace, mask, iterations=6, learning_rate=10.0, crop=16, validate_every=2,
                         patience=1)
    assert result.best_step == 0 and result.steps == 2  # stopped at the first validation that got worse
    original = model.state_dict()
    assert all(torch.equal(original[name], value) for name, value in result.model.state_dict().items())


def test_adapted_network_keeps_sampled_kspace_exact(scan):
    target, mask, kspace = scan
    method = NetworkMethod(small_cascade(), name="small", adapt=True, adapt_iterations=4)
    seen = []
    result = method.reconstruct(kspace, mask, progress=lambda done, total: seen.append((done, total)))
    np.testing.assert_allclose(fft2c(result.image)[mask], kspace[mask], atol=1e-4 * np.abs(kspace).max())
    assert seen[-1] == (5, 5)  # 4 adaptation steps, then one time window
    assert result.settings["adapt_steps"] == 4 and "adapted: 4 steps" in method.settings_summary(result.settings)


def test_adaptation_cancels_cleanly(scan):
    _, mask, kspace = scan
    method = NetworkMethod(small_cascade(), name="small", adapt=True, adapt_iterations=50)
    calls = []
    with pytest.raises(ReconCancelled):
        method.reconstruct(kspace, mask, progress=lambda done, total: calls.append(done),
                           should_stop=lambda: len(calls) >= 2)
    assert len(calls) == 2


def test_column_band_kspace_is_that_of_the_band_image(scan):
    target, mask, _ = scan
    k = torch.from_numpy(fft2c(target))
    band = _crop_columns(k, 10, 16).numpy()
    np.testing.assert_allclose(band, fft2c(target[..., 10:26]), atol=1e-5)
    masked = _crop_columns(k * torch.from_numpy(mask), 10, 16).numpy()
    np.testing.assert_allclose(masked, fft2c(target[..., 10:26]) * mask[..., :16], atol=1e-5)
