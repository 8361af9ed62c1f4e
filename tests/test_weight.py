"""Automatic regularisation weight: the held-out split, the weighted error, the choice, the methods' reports."""

import numpy as np
import pytest

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.physics import fft2c, ifft2c, make_mask, undersample
from napari_dynmri.recon import ReconCancelled, get_method
from napari_dynmri.recon.methods import AutoCompressedSensing, ReconMethod
from napari_dynmri.recon.weight import holdout_error, holdout_masks, select_on_held_out, unsampled_weights

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


def test_selection_finds_the_known_best_factor(acquisition):
    # a solver whose error at the held-out lines grows with |log(factor / 3)|: the answer is 3
    target, mask, kspace = acquisition
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(target.shape) + 1j * rng.standard_normal(target.shape)
    calls = []

    def solve(k, m, factor):
        calls.append((factor, m.sum()))
        assert not (k[~m] != 0).any()  # the held-out lines are removed from what the solver sees
        return target + 0.05 * abs(np.log(factor / 3)) * noise

    choice = select_on_held_out(solve, kspace, mask, candidates=(1, 3, 9, 27))
    assert choice.best == 3
    assert sorted(choice.errors, key=choice.errors.get)[0] == 3 and len(choice.errors) == 4
    assert all(count < mask.sum() for _, count in calls)
    with pytest.raises(ReconCancelled):
        select_on_held_out(solve, kspace, mask, should_stop=lambda: True)


@pytest.mark.parametrize("spec", ["cs-ttv", "cs-xf", "cs-lps"])
def test_methods_report_the_chosen_weight(acquisition, spec):
    _, mask, kspace = acquisition
    method = get_method(spec, device="cpu", iterations=10)
    method.reconstruct(kspace, mask)
    settings = method.settings
    assert settings["weight"] == "automatic"
    assert set(settings["holdout_error"]) == {"0.3333", "1", "3"}
    chosen = min(settings["holdout_error"], key=settings["holdout_error"].get)
    assert settings["lam"] == pytest.approx(method.default_weights["lam"] * float(chosen), rel=1e-3)
    assert "automatic" in method.settings_summary()
    fixed = get_method(spec, device="cpu", iterations=10, lam=0.02)
    image = fixed.reconstruct(kspace, mask)
    assert fixed.settings["lam"] == 0.02 and fixed.settings["weight"] == "fixed"
    assert image.shape == kspace.shape
    with pytest.raises(ValueError, match="lam"):
        get_method(spec, device="cpu", lam="strong")


def test_automatic_weight_beats_a_bad_fixed_weight(acquisition):
    # far from the default the fixed weight over-smooths; the automatic one stays near the default
    from napari_dynmri.metrics import psnr

    target, mask, kspace = acquisition
    auto = get_method("cs-xf", device="cpu", iterations=40).reconstruct(kspace, mask)
    too_strong = get_method("cs-xf", device="cpu", iterations=40, lam=0.3).reconstruct(kspace, mask)
    assert psnr(auto, target) > psnr(too_strong, target) + 1.0
    assert psnr(auto, target) > psnr(ifft2c(kspace), target) + 2.0
    assert np.abs(fft2c(auto)[mask] - kspace[mask]).max() < 0.05 * np.abs(kspace).max()


class _Fixed(ReconMethod):
    """A stand-in CS method returning a fixed image, recording the masks it was given."""

    def __init__(self, name, image):
        self.name, self.image, self.masks, self.settings = name, image, [], {}

    def reconstruct(self, kspace, mask, *, progress=None, should_stop=None):
        self.masks.append(mask.sum())
        self.settings = {"lam": 0.5}
        if progress is not None:
            progress(1, 1)
        return self.image


def test_cs_auto_chooses_the_method_that_predicts_held_out_lines(acquisition):
    target, mask, kspace = acquisition
    method = get_method("cs-auto", device="cpu")
    assert isinstance(method, AutoCompressedSensing)
    assert list(method.candidates) == ["cs-ttv", "cs-xf", "cs-lps"]
    blurred = ifft2c(fft2c(target) * np.hanning(target.shape[1])[None, :, None])
    method.candidates = {"blurred": _Fixed("blurred", blurred), "exact": _Fixed("exact", target),
                         "zero-filled": _Fixed("zero-filled", ifft2c(kspace))}
    seen = []
    image = method.reconstruct(kspace, mask, progress=lambda done, total: seen.append((done, total)))
    assert image is target
    assert method.settings["method"] == "exact" and method.settings["choice"] == "held-out lines"
    assert min(method.settings["holdout_error"], key=method.settings["holdout_error"].get) == "exact"
    assert method.candidates["exact"].masks[-1] == mask.sum()  # the final run sees every line
    assert method.candidates["blurred"].masks == [method.candidates["exact"].masks[0]] < [mask.sum()]
    assert seen[-1][0] == seen[-1][1]
    assert method.settings_summary() == "exact, lam 0.5"
    with pytest.raises(ReconCancelled):
        method.reconstruct(kspace, mask, should_stop=lambda: True)


def test_cs_auto_runs_the_real_methods(acquisition):
    from napari_dynmri.metrics import psnr

    target, mask, kspace = acquisition
    method = get_method("cs-auto", device="cpu", iterations=20)
    image = method.reconstruct(kspace, mask)
    assert method.settings["method"] in ("cs-ttv", "cs-xf", "cs-lps")
    assert set(method.settings["holdout_error"]) == {"cs-ttv", "cs-xf", "cs-lps"}
    assert psnr(image, target) > psnr(ifft2c(kspace), target) + 2.0
