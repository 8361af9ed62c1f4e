"""Automatic regularisation weight: the single held-out split (scan adaptation), the weighted error, the methods' reports."""

import numpy as np
import pytest

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.physics import fft2c, ifft2c, make_mask, undersample
from napari_dynmri.recon import get_method
from napari_dynmri.recon.weight import holdout_error, holdout_masks, unsampled_weights

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def acquisition():
    target = cardiac_phantom(10, 64, 48, seed=2)
    mask = make_mask("vd-random", target.shape, 4, center_lines=8, seed=2)
    kspace, _ = undersample(target, mask)
    return target, mask, kspace


def test_holdout_split_holds_out_measured_outer_lines(acquisition):
    _, mask, _ = acquisition
    fit, held = holdout_masks(mask, fraction=0.1, seed=3)
    assert not (fit & held).any() and np.array_equal(fit | held, mask)
    rows = held[..., 0]
    assert np.array_equal(held, np.broadcast_to(rows[..., None], held.shape))  # whole lines
    always = mask[..., 0].all(axis=0)
    assert not rows[:, always].any()  # the centre stays in the fit
    candidates = (mask[..., 0] & ~always).sum()
    assert rows.sum() == round(0.1 * candidates)
    again_fit, again_held = holdout_masks(mask, fraction=0.1, seed=3)
    assert np.array_equal(again_held, held)
    assert not np.array_equal(holdout_masks(mask, fraction=0.1, seed=4)[1], held)
    # a mask measuring only lines sampled in every frame has nothing to hold out
    full = np.ones_like(mask)
    assert not holdout_masks(full)[1].any()
    with pytest.raises(ValueError, match="fraction"):
        holdout_masks(mask, fraction=1.0)


def test_unsampled_weights_and_holdout_error(acquisition):
    target, mask, kspace = acquisition
    weights = unsampled_weights(mask)
    probability = mask[..., 0].mean(axis=0)
    row = int(np.flatnonzero((probability > 0) & (probability < 1))[0])
    assert weights[0, row, 0] == pytest.approx((1 - probability[row]) / probability[row])
    assert weights[:, probability == 1].max() == 0
    _, held = holdout_masks(mask)
    assert holdout_error(target, kspace, held, weights) == pytest.approx(0, abs=1e-10)
    assert holdout_error(np.zeros_like(target), kspace, held, weights) == pytest.approx(1)


@pytest.mark.parametrize("spec", ["cs-ttv", "cs-xf", "cs-lps"])
def test_methods_report_the_chosen_weight(acquisition, spec):
    _, mask, kspace = acquisition
    method = get_method(spec, device="cpu", iterations=10)
    settings = method.reconstruct(kspace, mask).settings
    assert settings["weight"] == "cross-validated"
    scores = settings["cross_validation"]["scores"]
    weighed = set(scores) | set(settings["cross_validation"]["screened_out"])  # screened: first half of the folds
    assert {f"{spec} x0.1", f"{spec} x1", f"{spec} x10"} <= weighed
    chosen = min(scores, key=lambda label: scores[label]["importance"])
    assert settings["cross_validation"]["chosen"] == chosen
    factor = float(chosen.split(" x")[1])
    assert settings["lam"] == pytest.approx(method.default_weights["lam"] * factor, rel=2e-3)
    assert "cross-validated" in method.settings_summary(settings)
    fixed = get_method(spec, device="cpu", iterations=10, lam=0.02).reconstruct(kspace, mask)
    assert fixed.settings["lam"] == 0.02 and fixed.settings["weight"] == "fixed"
    assert fixed.image.shape == kspace.shape
    with pytest.raises(ValueError, match="lam"):
        get_method(spec, device="cpu", lam="strong")


def test_automatic_weight_beats_a_bad_fixed_weight(acquisition):
    # far from the default the fixed weight over-smooths; the automatic one stays near the default
    from napari_dynmri.metrics import psnr

    target, mask, kspace = acquisition
    auto = get_method("cs-xf", device="cpu", iterations=40).reconstruct(kspace, mask).image
    too_strong = get_method("cs-xf", device="cpu", iterations=40, lam=0.3).reconstruct(kspace, mask).image
    assert psnr(auto, target) > psnr(too_strong, target) + 1.0
    assert psnr(auto, target) > psnr(ifft2c(kspace), target) + 2.0
    assert np.abs(fft2c(auto)[mask] - kspace[mask]).max() < 0.05 * np.abs(kspace).max()
